//! Rejections by error code and by sender, and the files of the one chosen.

use super::{move_in, send};
use crate::api::Request;
use crate::console::app::*;
use crate::console::keys::Cmd;
use crate::console::update::{Action, Tag};
use crate::store::{RejectedFile, Rejections};

pub fn enter(app: &mut App) -> Vec<Action> {
    let mut v = vec![request(app)];
    v.extend(files_request(app));
    v
}

pub fn request(app: &App) -> Action {
    send(
        Tag::Rejections,
        Request::Rejections {
            days: app.rejections.days.max(1),
        },
    )
}

/// The drill-down's files again, when one is open.
fn files_request(app: &App) -> Option<Action> {
    let r = &app.rejections;
    let (sender, code) = match r.files_of.as_ref()? {
        FilesOf::Code(c) => (None, Some(c.clone())),
        FilesOf::Sender(s) => (Some(s.clone()), None),
    };
    Some(send(
        Tag::RejectedFiles,
        Request::RejectedFiles {
            sender,
            code,
            limit: 200,
        },
    ))
}

pub fn key(app: &mut App, cmd: Cmd) -> Vec<Action> {
    let r = &mut app.rejections;
    match cmd {
        Cmd::Period => {
            r.days = match r.days {
                1 => 7,
                7 => 30,
                _ => 1,
            };
            vec![request(app)]
        }
        Cmd::Refresh => enter(app),
        Cmd::Left => {
            r.focus = match r.focus {
                RejFocus::Files => RejFocus::Senders,
                _ => RejFocus::Codes,
            };
            Vec::new()
        }
        Cmd::Right => {
            r.focus = match r.focus {
                RejFocus::Codes => RejFocus::Senders,
                _ if r.files_of.is_some() => RejFocus::Files,
                f => f,
            };
            Vec::new()
        }
        Cmd::Back => {
            if r.files_of.is_some() {
                r.files_of = None;
                r.files.clear();
                r.focus = RejFocus::Codes;
            }
            Vec::new()
        }
        Cmd::Open => {
            let Some(data) = &r.data else {
                return Vec::new();
            };
            let of = match r.focus {
                RejFocus::Codes => data
                    .by_code
                    .get(r.code_sel)
                    .map(|c| FilesOf::Code(c.code.clone())),
                RejFocus::Senders => data
                    .by_sender
                    .get(r.sender_sel)
                    .map(|s| FilesOf::Sender(s.sender.clone())),
                RejFocus::Files => {
                    return match r.files.get(r.file_sel) {
                        Some(f) => {
                            let (s, sha) = (f.sender.clone(), f.sha256.clone());
                            super::detail::open_receipt(app, s, sha, Screen::Rejections)
                        }
                        None => Vec::new(),
                    };
                }
            };
            match of {
                Some(of) => {
                    r.files_of = Some(of);
                    r.focus = RejFocus::Files;
                    r.file_sel = 0;
                    files_request(app).into_iter().collect()
                }
                None => Vec::new(),
            }
        }
        cmd => {
            select_in(r, cmd, None);
            Vec::new()
        }
    }
}

/// Move (or with `at`, put) the selection of the focused list.
pub fn select_in(r: &mut RejectionsState, cmd: Cmd, at: Option<usize>) {
    let (sel, len) = match r.focus {
        RejFocus::Codes => (
            &mut r.code_sel,
            r.data.as_ref().map_or(0, |d| d.by_code.len()),
        ),
        RejFocus::Senders => (
            &mut r.sender_sel,
            r.data.as_ref().map_or(0, |d| d.by_sender.len()),
        ),
        RejFocus::Files => (&mut r.file_sel, r.files.len()),
    };
    match at {
        Some(i) if i < len => *sel = i,
        Some(_) => {}
        None => {
            move_in(sel, len, cmd, 10);
        }
    }
}

pub fn data(app: &mut App, r: Rejections) {
    let rs = &mut app.rejections;
    rs.code_sel = rs.code_sel.min(r.by_code.len().saturating_sub(1));
    rs.sender_sel = rs.sender_sel.min(r.by_sender.len().saturating_sub(1));
    rs.data = Some(r);
}

pub fn files(app: &mut App, f: Vec<RejectedFile>) {
    let rs = &mut app.rejections;
    rs.file_sel = rs.file_sel.min(f.len().saturating_sub(1));
    rs.files = f;
}

/// A file answered or a decision taken: the counts are read again if shown.
pub fn changed(app: &mut App) -> Vec<Action> {
    if app.screen == Screen::Rejections && app.link == Link::Up {
        return enter(app);
    }
    Vec::new()
}
