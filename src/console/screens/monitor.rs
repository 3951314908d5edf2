//! The monitor for staff: a month and a dimension, the figures and charts, the public preview.

use super::{move_in, send};
use crate::api::Request;
use crate::console::app::*;
use crate::console::keys::Cmd;
use crate::console::update::{Action, Tag};
use crate::monitor::{Row, StaffRow};

pub fn enter(_app: &mut App) -> Vec<Action> {
    vec![
        send(Tag::MonitorCells, Request::MonitorCells { month: None }),
        send(Tag::MonitorExport, Request::MonitorExport { month: None }),
    ]
}

pub fn key(app: &mut App, cmd: Cmd) -> Vec<Action> {
    let m = &mut app.monitor;
    match cmd {
        Cmd::Refresh => enter(app),
        Cmd::Preview => {
            m.public_preview = !m.public_preview;
            m.selected = 0;
            Vec::new()
        }
        Cmd::Publish => super::ask(app, Pending::Publish),
        Cmd::Dimension => {
            m.dimension = (m.dimension + 1) % crate::store::DIMENSIONS.len();
            m.selected = 0;
            Vec::new()
        }
        Cmd::Left => {
            m.month = m.month.saturating_sub(1);
            m.selected = 0;
            Vec::new()
        }
        Cmd::Right => {
            m.month = (m.month + 1).min(m.months.len().saturating_sub(1));
            m.selected = 0;
            Vec::new()
        }
        cmd => {
            let len = m.row_count();
            move_in(&mut m.selected, len, cmd, 10);
            Vec::new()
        }
    }
}

pub fn cells(app: &mut App, rows: Vec<StaffRow>) {
    let m = &mut app.monitor;
    let mut months: Vec<String> = rows.iter().map(|r| r.month.clone()).collect();
    months.sort();
    months.dedup();
    let keep = m.month_name().map(str::to_owned);
    m.month = keep
        .and_then(|k| months.iter().position(|x| *x == k))
        .unwrap_or(months.len().saturating_sub(1));
    m.months = months;
    m.rows = rows;
    m.loaded = true;
}

pub fn public(app: &mut App, rows: Vec<Row>) {
    app.monitor.public = rows;
}

/// Licenses issued or cancelled: the figures are read again if shown.
pub fn changed(app: &mut App) -> Vec<Action> {
    if app.screen == Screen::Monitor && app.link == Link::Up {
        return enter(app);
    }
    Vec::new()
}
