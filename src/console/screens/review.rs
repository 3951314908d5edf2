//! Review: the held applications, oldest first; a filter, marks (one, all shown), approve
//! and reject with a reason.

use super::{ask, edit_line, move_in, send};
use crate::api::Request;
use crate::api::views::HeldView;
use crate::console::app::*;
use crate::console::keys::Cmd;
use crate::console::update::{Action, Tag};
use crossterm::event::{KeyCode, KeyEvent};

/// Handles one decision takes: a request stays well inside the socket's 64 KiB (a handle
/// is at most 61 characters).
pub const MAX_DECIDE: usize = 500;

pub fn enter(_app: &mut App) -> Vec<Action> {
    vec![send(Tag::Held, Request::ReviewList)]
}

/// The marked handles, or the selected one.
fn targets(app: &App) -> Vec<String> {
    if !app.review.marked.is_empty() {
        return app.review.marked.iter().cloned().collect();
    }
    app.review
        .selected_held()
        .map(|h| vec![h.handle.clone()])
        .unwrap_or_default()
}

/// Typing the filter.
pub fn filter_key(app: &mut App, k: KeyEvent) -> Vec<Action> {
    match k.code {
        KeyCode::Enter | KeyCode::Esc | KeyCode::Tab => app.review.filtering = false,
        _ => {
            if edit_line(&mut app.review.filter, k) {
                app.review.selected = 0;
            }
        }
    }
    Vec::new()
}

#[allow(clippy::too_many_lines)] // one arm per command of the screen, each short
pub fn key(app: &mut App, cmd: Cmd) -> Vec<Action> {
    match cmd {
        Cmd::Refresh => enter(app),
        Cmd::Filter => {
            app.review.filtering = true;
            Vec::new()
        }
        Cmd::Mark => {
            if let Some(h) = app.review.selected_held() {
                let h = h.handle.clone();
                if !app.review.marked.remove(&h) {
                    if app.review.marked.len() >= MAX_DECIDE {
                        app.say(format!(
                            "{MAX_DECIDE} marked, the most one decision takes: decide them first"
                        ));
                        return Vec::new();
                    }
                    app.review.marked.insert(h);
                }
                let len = app.review.shown().len();
                move_in(&mut app.review.selected, len, Cmd::Down, 1);
            }
            Vec::new()
        }
        Cmd::MarkAll => {
            let shown: Vec<String> = app
                .review
                .shown()
                .iter()
                .map(|h| h.handle.clone())
                .collect();
            let r = &mut app.review;
            if !shown.is_empty() && shown.iter().all(|h| r.marked.contains(h)) {
                r.marked.clear();
                app.say("every mark removed".to_string());
                return Vec::new();
            }
            let room = MAX_DECIDE.saturating_sub(r.marked.len());
            let unmarked: Vec<String> = shown
                .iter()
                .filter(|h| !r.marked.contains(*h))
                .cloned()
                .collect();
            let left = unmarked.len().saturating_sub(room);
            r.marked.extend(unmarked.into_iter().take(room));
            let n = r.marked.len();
            app.say(if left > 0 {
                format!(
                    "{n} marked, the most one decision takes ({left} more shown): a approves, x rejects, then A again"
                )
            } else {
                format!("{n} marked: a approves them, x rejects them, Esc unmarks")
            });
            Vec::new()
        }
        Cmd::Approve => {
            let handles = targets(app);
            if handles.is_empty() {
                return Vec::new();
            }
            ask(app, Pending::Approve { handles })
        }
        Cmd::Reject => {
            let handles = targets(app);
            if handles.is_empty() {
                return Vec::new();
            }
            ask(app, Pending::Reject { handles })
        }
        Cmd::Back => {
            app.review.marked.clear();
            app.review.filter.clear();
            Vec::new()
        }
        Cmd::Open => match app.review.selected_held() {
            Some(h) => {
                let (s, sha) = (h.sender.clone(), h.file_sha256.clone());
                super::detail::open_receipt(app, s, sha, Screen::Review)
            }
            None => Vec::new(),
        },
        cmd => {
            let (len, page) = (app.review.shown().len(), app.page_rows());
            move_in(&mut app.review.selected, len, cmd, page);
            Vec::new()
        }
    }
}

pub fn held(app: &mut App, h: Vec<HeldView>) {
    let rv = &mut app.review;
    let keep = rv.selected_held().map(|x| x.handle.clone());
    rv.marked.retain(|m| h.iter().any(|x| &x.handle == m));
    rv.held = h;
    rv.loaded = true;
    let shown = rv.shown();
    rv.selected = keep
        .and_then(|k| shown.iter().position(|x| x.handle == k))
        .unwrap_or(rv.selected)
        .min(shown.len().saturating_sub(1));
}

/// A decision (anyone's) or a file with holds: the queue is read again.
pub fn changed(app: &mut App) -> Vec<Action> {
    if app.link == Link::Up {
        return enter(app);
    }
    Vec::new()
}

impl ReviewState {
    /// The held applications the filter lets through, oldest first.
    pub fn shown(&self) -> Vec<&HeldView> {
        let words: Vec<String> = self
            .filter
            .split_whitespace()
            .map(str::to_uppercase)
            .collect();
        self.held
            .iter()
            .filter(|h| words.iter().all(|w| matches(h, w)))
            .collect()
    }

    pub fn selected_held(&self) -> Option<&HeldView> {
        self.shown().get(self.selected).copied()
    }
}

/// Whether a held application matches one word of the filter: a code (R501), a country (of
/// origin, or a product's smelt or cast), the start of an HTS, a sender, a handle or a file
/// name.
fn matches(h: &HeldView, w: &str) -> bool {
    h.reasons.iter().any(|r| r.eq_ignore_ascii_case(w))
        || h.country_of_origin
            .as_deref()
            .is_some_and(|c| c.eq_ignore_ascii_case(w))
        || h.products.iter().any(|p| {
            [
                &p.largest_smelt,
                &p.second_largest_smelt,
                &p.most_recent_cast,
            ]
            .iter()
            .any(|c| c.eq_ignore_ascii_case(w))
        })
        || h.products.iter().any(|p| p.hts.starts_with(w))
        || h.sender.eq_ignore_ascii_case(w)
        || h.shown_handle().to_uppercase().contains(w)
        || h.handle.to_uppercase().contains(w)
        || h.file_name.to_uppercase().contains(w)
        || h.importer
            .as_deref()
            .is_some_and(|i| i.to_uppercase().contains(w))
}
