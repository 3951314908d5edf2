//! The dashboard: today's counts, throughput, health, and the filings as they arrive.

use super::{move_in, send};
use crate::api::Request;
use crate::api::views::{FilingRow, StatusView};
use crate::console::app::*;
use crate::console::keys::Cmd;
use crate::console::update::{Action, Tag};

const RECENT_KEPT: usize = 200;
/// Points of the throughput chart (one a status answer, every 2 s): four minutes.
pub const THROUGHPUT_KEPT: usize = 120;

pub fn enter(_app: &mut App) -> Vec<Action> {
    Vec::new()
}

pub fn refresh() -> Vec<Action> {
    vec![
        send(Tag::Status, Request::Status),
        send(Tag::Recent, Request::Recent { limit: 50 }),
    ]
}

pub fn key(app: &mut App, cmd: Cmd) -> Vec<Action> {
    match cmd {
        Cmd::Refresh => refresh(),
        Cmd::Open => match app.dashboard.recent.get(app.recent_selected()) {
            Some(r) => {
                let (sender, sha) = (r.sender.clone(), r.file_sha256.clone());
                super::detail::open_receipt(app, sender, sha, Screen::Dashboard)
            }
            None => Vec::new(),
        },
        cmd => {
            let len = app.dashboard.recent.len();
            let mut sel = app.recent_selected();
            if move_in(&mut sel, len, cmd, 10) {
                app.recent_sel = sel;
            }
            Vec::new()
        }
    }
}

/// A status answer: the counts, and one more point of the chart.
pub fn status(app: &mut App, s: StatusView) {
    let d = &mut app.dashboard;
    if let Some(last) = d.last_files {
        // A new day starts the count at zero again: that step is the new day's files.
        let step = if s.files_today >= last {
            s.files_today - last
        } else {
            s.files_today
        };
        d.throughput.push_back(step);
        while d.throughput.len() > THROUGHPUT_KEPT {
            d.throughput.pop_front();
        }
    }
    d.last_files = Some(s.files_today);
    d.status = Some(s);
}

pub fn recent(app: &mut App, rows: Vec<FilingRow>) {
    app.dashboard.recent = rows.into_iter().collect();
}

/// A file answered, live.
pub fn filing(app: &mut App, row: FilingRow) {
    app.dashboard.recent.push_front(row);
    app.dashboard.recent.truncate(RECENT_KEPT);
    if app.recent_sel > 0 {
        // Keep the same filing selected as the list grows above it.
        app.recent_sel += 1;
    }
}

impl App {
    pub fn recent_selected(&self) -> usize {
        self.recent_sel
            .min(self.dashboard.recent.len().saturating_sub(1))
    }
}
