//! Mail: messages waiting (queued, retrying), dead letters with their last SMTP error, and
//! the history of messages sent.

use super::{ask, move_in, send};
use crate::api::Request;
use crate::api::views::{MailJobView, MailView};
use crate::console::app::*;
use crate::console::keys::Cmd;
use crate::console::update::{Action, Tag};
use crate::store::MailState;

pub fn enter(_app: &mut App) -> Vec<Action> {
    vec![send(Tag::Mail, Request::Mail)]
}

/// Every row in the order shown: waiting, dead, then sent (newest first).
pub fn rows(app: &App) -> Vec<&MailJobView> {
    app.mail
        .data
        .as_ref()
        .map(|m| m.waiting.iter().chain(&m.dead).chain(&m.sent).collect())
        .unwrap_or_default()
}

pub fn key(app: &mut App, cmd: Cmd) -> Vec<Action> {
    match cmd {
        Cmd::Refresh => enter(app),
        Cmd::Retry => {
            let Some(j) = rows(app).get(app.mail.selected).copied().cloned() else {
                return Vec::new();
            };
            if j.state != MailState::Dead {
                app.say(format!(
                    "message {} is {}, not dead: {}",
                    j.id,
                    j.state.as_str(),
                    if j.state == MailState::Sent {
                        "it was delivered (m on its file's detail mails the ack again)"
                    } else {
                        "it is retried by itself"
                    }
                ));
                return Vec::new();
            }
            ask(
                app,
                Pending::Retry {
                    id: j.id,
                    ack: j.ack_name,
                },
            )
        }
        Cmd::Open => {
            if let Some(j) = rows(app).get(app.mail.selected) {
                let text = describe(app, j);
                app.modal = Some(Modal::Message {
                    title: "Mail message".into(),
                    text,
                    error: false,
                });
            }
            Vec::new()
        }
        cmd => {
            let len = rows(app).len();
            move_in(&mut app.mail.selected, len, cmd, 10);
            Vec::new()
        }
    }
}

fn describe(app: &App, j: &MailJobView) -> String {
    let mut s = format!(
        "message {} of {} to {}\nack {}\n{}\ncreated {}",
        j.id,
        j.sender,
        j.to.join(", "),
        j.ack_name,
        j.state_words(),
        app.time(j.created_at),
    );
    match j.state {
        MailState::Sent => {
            if let Some(at) = j.sent_at {
                s.push_str(&format!("  sent {}", app.time(at)));
            }
        }
        MailState::Dead => {}
        _ => s.push_str(&format!("  next attempt {}", app.time(j.next_attempt))),
    }
    s.push_str(&format!(
        "\nlast SMTP error: {}",
        j.last_error.as_deref().unwrap_or("none")
    ));
    s
}

pub fn data(app: &mut App, m: MailView) {
    let len = m.waiting.len() + m.dead.len() + m.sent.len();
    app.mail.selected = app.mail.selected.min(len.saturating_sub(1));
    app.mail.data = Some(m);
}

/// A file answered or a staff action: the queue is read again if shown.
pub fn changed(app: &mut App) -> Vec<Action> {
    if app.screen == Screen::Mail && app.link == Link::Up {
        return enter(app);
    }
    Vec::new()
}
