//! What covers the screen: the help, a reason being typed, a confirmation, a message.

use super::{edit_line, request_of, send};
use crate::console::app::*;
use crate::console::update::{Action, Tag};
use crossterm::event::{KeyCode, KeyEvent};

pub fn key(app: &mut App, m: Modal, k: KeyEvent) -> Vec<Action> {
    match m {
        Modal::Help => match k.code {
            KeyCode::Char('q') => {
                app.quit = true;
                vec![Action::Quit]
            }
            KeyCode::Esc | KeyCode::Char('?') | KeyCode::Enter => Vec::new(),
            _ => {
                app.modal = Some(Modal::Help);
                Vec::new()
            }
        },
        // Enter, Esc or Space only close it; any other key closes it and does what it does
        // (a `4` after a decision's outcome goes to the Rejections screen, not nowhere).
        Modal::Message { .. } => match k.code {
            KeyCode::Esc | KeyCode::Enter | KeyCode::Char(' ') => Vec::new(),
            _ => crate::console::update::key(app, k),
        },
        Modal::Reason { action, mut text } => match k.code {
            KeyCode::Esc => {
                app.say("not done".to_string());
                Vec::new()
            }
            KeyCode::Enter => {
                if text.trim().is_empty() {
                    app.modal = Some(Modal::Reason { action, text });
                    app.say("type a reason first: the filer reads it".to_string());
                } else {
                    app.modal = Some(Modal::Confirm {
                        action,
                        reason: Some(text.trim().to_owned()),
                    });
                }
                Vec::new()
            }
            _ => {
                edit_line(&mut text, k);
                app.modal = Some(Modal::Reason { action, text });
                Vec::new()
            }
        },
        Modal::Confirm { action, reason } => match k.code {
            KeyCode::Char('y') | KeyCode::Char('Y') => {
                app.say(format!("{}…", action.describe()));
                vec![send(Tag::Action, request_of(&action, reason))]
            }
            KeyCode::Char('n') | KeyCode::Char('N') | KeyCode::Esc => {
                app.say("not done".to_string());
                Vec::new()
            }
            _ => {
                app.modal = Some(Modal::Confirm { action, reason });
                Vec::new()
            }
        },
    }
}
