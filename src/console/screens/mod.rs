//! One module a screen, each with its key handling (commands from [`super::keys`]), the
//! requests it needs when shown, its replies and what a live event changes in it. Shared
//! here: moving in a list, asking for a staff action, the line editor, opening the detail.

pub mod browser;
pub mod dashboard;
pub mod detail;
pub mod mail;
pub mod modal;
pub mod monitor;
pub mod rejections;
pub mod review;

use super::app::*;
use super::keys::Cmd;
use super::update::{Action, Tag};
use crate::api::Request;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

pub(crate) fn send(tag: Tag, r: Request) -> Action {
    Action::Send(tag, r)
}

/// Up/Down/PgUp/PgDn/Home/End on a list of `len`; whether it is a movement.
pub(crate) fn move_in(sel: &mut usize, len: usize, cmd: Cmd, page: usize) -> bool {
    let last = len.saturating_sub(1);
    match cmd {
        Cmd::Up => *sel = sel.saturating_sub(1),
        Cmd::Down => *sel = (*sel + 1).min(last),
        Cmd::PageUp => *sel = sel.saturating_sub(page),
        Cmd::PageDown => *sel = (*sel + page).min(last),
        Cmd::Home => *sel = 0,
        Cmd::End => *sel = last,
        _ => return false,
    }
    true
}

/// The requests a screen needs when it is shown.
pub(crate) fn enter(app: &mut App) -> Vec<Action> {
    if app.link != Link::Up {
        return Vec::new();
    }
    match app.screen {
        Screen::Dashboard => dashboard::enter(app),
        Screen::Browser => browser::enter(app),
        Screen::Detail => detail::enter(app),
        Screen::Rejections => rejections::enter(app),
        Screen::Mail => mail::enter(app),
        Screen::Review => review::enter(app),
        Screen::Monitor => monitor::enter(app),
    }
}

pub(crate) fn go(app: &mut App, s: Screen) -> Vec<Action> {
    app.screen = s;
    if app.take_stale(s) {
        return refresh(app);
    }
    enter(app)
}

/// What the shown screen shows, read again (it changed, or `r`).
pub(crate) fn refresh(app: &mut App) -> Vec<Action> {
    if app.link != Link::Up {
        return Vec::new();
    }
    match app.screen {
        Screen::Dashboard => dashboard::refresh(),
        Screen::Browser if app.browser.loading.is_none() => vec![browser::refresh(app)],
        Screen::Browser => {
            // A page is on its way: read again when it is back.
            app.mark_stale(Screen::Browser);
            Vec::new()
        }
        Screen::Detail => detail::reload(app),
        _ => enter(app),
    }
}

/// One key in a line of text (the search box, a reason, a filter): characters, Backspace,
/// and the shell's Ctrl+U (clear) and Ctrl+W (the last word). Other Ctrl and Alt keys type
/// nothing. Whether the text changed.
pub(crate) fn edit_line(text: &mut String, k: KeyEvent) -> bool {
    let before = text.len();
    let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
    let alt = k.modifiers.contains(KeyModifiers::ALT);
    match k.code {
        KeyCode::Backspace => {
            text.pop();
        }
        KeyCode::Char('u') if ctrl => text.clear(),
        KeyCode::Char('w') if ctrl => {
            let kept = text.trim_end().rfind(' ').map_or(0, |i| i + 1);
            text.truncate(kept);
        }
        KeyCode::Char(c) if !ctrl && !alt && !c.is_control() && text.chars().count() < 200 => {
            text.push(c)
        }
        _ => {}
    }
    text.len() != before
}

pub(crate) fn request_of(a: &Pending, reason: Option<String>) -> Request {
    let reason = reason.unwrap_or_default();
    match a.clone() {
        Pending::Cancel { license } => Request::LicenseCancel { license, reason },
        Pending::Resend {
            sender,
            sha256,
            seq,
            ..
        } => Request::Resend {
            sender,
            sha256,
            seq,
        },
        Pending::Retry { id, .. } => Request::MailRetry { id },
        Pending::Approve { handles } => Request::ReviewApprove { handles },
        Pending::Reject { handles } => Request::ReviewReject { handles, reason },
        Pending::Publish => Request::MonitorPublish { out: None },
    }
}

/// Ask for an action: a reason first where it needs one, then a confirmation. A role that
/// may not do it is told so on the prompt; the daemon decides (and audits the refusal).
pub(crate) fn ask(app: &mut App, action: Pending) -> Vec<Action> {
    if let Some(why) = app.disabled_why(action.needs()) {
        app.say(format!(
            "{}: {why}; the daemon will refuse it",
            action.describe()
        ));
    }
    app.modal = Some(if action.needs_reason() {
        Modal::Reason {
            action,
            text: String::new(),
        }
    } else {
        Modal::Confirm {
            action,
            reason: None,
        }
    });
    Vec::new()
}

/// Put the selection of list `area` on `index` (a click); the browser may ask for a page.
pub(crate) fn select(app: &mut App, area: ListArea, index: usize) -> Vec<Action> {
    match area {
        ListArea::Recent => {
            if index < app.dashboard.recent.len() {
                app.recent_sel = index;
            }
        }
        ListArea::Browser => return browser::select(app, index),
        ListArea::Review => {
            if index < app.review.shown().len() {
                app.review.selected = index;
            }
        }
        ListArea::Mail => {
            if index < mail::rows(app).len() {
                app.mail.selected = index;
            }
        }
        ListArea::Rejections(f) => {
            app.rejections.focus = f;
            rejections::select_in(&mut app.rejections, Cmd::Home, Some(index));
        }
        ListArea::Monitor => {
            if index < app.monitor.row_count() {
                app.monitor.selected = index;
            }
        }
    }
    Vec::new()
}
