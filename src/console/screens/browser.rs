//! Filings & licenses: the search, a window of rows paged from the daemon around the
//! selection, sort and order, cancel, export.

use super::{ask, edit_line, move_in, send};
use crate::api::Request;
use crate::console::app::*;
use crate::console::keys::{self, Cmd};
use crate::console::update::{Action, PageKind, Tag};
use crate::store::{BrowsePage, BrowseQuery, Sort, parse_query};
use crossterm::event::KeyEvent;

pub fn enter(app: &mut App) -> Vec<Action> {
    if app.browser.at_top && app.browser.selected == 0 && app.browser.loading.is_none() {
        return vec![refresh(app)];
    }
    Vec::new()
}

fn query(app: &App, kind: PageKind, after: Option<String>, limit: usize) -> Action {
    let b = &app.browser;
    let offset = match kind {
        PageKind::Refresh if b.exact_positions() => b.start.filter(|s| *s > 0),
        _ => None,
    };
    send(
        Tag::Browse {
            generation: b.generation,
            kind,
        },
        Request::Browse(Box::new(BrowseQuery {
            filter: b.filter.clone(),
            sort: b.sort,
            desc: b.desc,
            after,
            backward: matches!(kind, PageKind::Backward | PageKind::Last | PageKind::Anchor),
            offset,
            limit,
            count: matches!(kind, PageKind::First | PageKind::Last | PageKind::Refresh),
        })),
    )
}

fn window_rows(app: &App) -> usize {
    app.page_rows() * 3
}

/// A new query from the top (a changed search, sort or order).
pub fn first_page(app: &mut App) -> Action {
    app.browser.generation += 1;
    app.browser.owed = 0;
    app.browser.requery_waiting = false;
    app.browser.loading = Some(true);
    query(app, PageKind::First, None, window_rows(app))
}

/// The same query again, for rows that changed (a live event, `r`): the window is read anew
/// where it is (by position where positions are exact; else from the row before its first,
/// found by a one-row walk back) and the selected license stays selected while it is still
/// in it.
pub fn refresh(app: &mut App) -> Action {
    let b = &mut app.browser;
    b.generation += 1;
    b.owed = 0;
    b.requery_waiting = false;
    b.loading = Some(true);
    b.keep = b.selected_row().map(|r| r.license.clone());
    if !b.at_top && !b.exact_positions() {
        let first = b.rows.first().map(|r| r.cursor.clone());
        if first.is_some() {
            return query(app, PageKind::Anchor, first, 1);
        }
    }
    query(app, PageKind::Refresh, None, window_rows(app))
}

/// Typing in the search box.
pub fn search_key(app: &mut App, k: KeyEvent) -> Vec<Action> {
    match keys::find(keys::SEARCH_EDIT, k.code) {
        Some(Cmd::Back) => {
            app.browser.editing = false;
            Vec::new()
        }
        Some(Cmd::NextScreen) => {
            app.browser.editing = false;
            let n = app.screen.next();
            super::go(app, n)
        }
        _ if edit_line(&mut app.browser.query, k) => requery(app),
        _ => Vec::new(),
    }
}

/// An answer to an older query: dropped; the query typed meanwhile goes now.
pub fn stale_reply(app: &mut App) -> Vec<Action> {
    if app.browser.requery_waiting && app.link == Link::Up {
        return vec![first_page(app)];
    }
    Vec::new()
}

/// Incremental search: every change of the text is a new query (a stale answer is dropped;
/// while one is on its way, only the newest text is asked for when it is back).
fn requery(app: &mut App) -> Vec<Action> {
    match parse_query(&app.browser.query) {
        Ok(f) => {
            app.browser.query_error = None;
            if f == app.browser.filter {
                return Vec::new();
            }
            app.browser.filter = f;
            if app.link != Link::Up {
                return Vec::new();
            }
            if app.browser.loading.is_some() {
                // The answer on its way is stale now; ask when it is back.
                app.browser.generation += 1;
                app.browser.requery_waiting = true;
                return Vec::new();
            }
            vec![first_page(app)]
        }
        Err(e) => {
            app.browser.query_error = Some(e);
            Vec::new()
        }
    }
}

pub fn key(app: &mut App, cmd: Cmd) -> Vec<Action> {
    let page = app.page_rows();
    match cmd {
        Cmd::Search => {
            app.browser.editing = true;
            return Vec::new();
        }
        Cmd::Sort => {
            app.browser.sort = app.browser.sort.next();
            return vec![first_page(app)];
        }
        Cmd::Reverse => {
            app.browser.desc = !app.browser.desc;
            return vec![first_page(app)];
        }
        Cmd::Refresh => return vec![refresh(app)],
        Cmd::Export => return export(app),
        Cmd::Back => {
            if !app.browser.query.is_empty() {
                app.browser.query.clear();
                return requery(app);
            }
            return Vec::new();
        }
        Cmd::Open => {
            return match app.browser.selected_row() {
                Some(r) => {
                    let l = r.license.clone();
                    super::detail::open_license(app, l, Screen::Browser)
                }
                None => Vec::new(),
            };
        }
        Cmd::Cancel => {
            return match app.browser.selected_row() {
                Some(r) => {
                    let license = r.license.clone();
                    ask(app, Pending::Cancel { license })
                }
                None => Vec::new(),
            };
        }
        Cmd::Home if !app.browser.at_top => return vec![first_page(app)],
        Cmd::End if !app.browser.at_bottom => {
            app.browser.generation += 1;
            app.browser.owed = 0;
            app.browser.loading = Some(false);
            return vec![query(app, PageKind::Last, None, window_rows(app))];
        }
        _ => {}
    }
    move_by(app, cmd, page)
}

/// Select the row at `index` of the window (a click).
pub fn select(app: &mut App, index: usize) -> Vec<Action> {
    if index < app.browser.rows.len() {
        app.browser.selected = index;
        keep_visible(app);
        return extend(app);
    }
    Vec::new()
}

fn move_by(app: &mut App, cmd: Cmd, page: usize) -> Vec<Action> {
    let step = match cmd {
        Cmd::Down => 1,
        Cmd::PageDown => signed(page),
        Cmd::Up => -1,
        Cmd::PageUp => -signed(page),
        _ => 0,
    };
    let len = app.browser.rows.len();
    let before = app.browser.selected;
    let mut sel = before;
    let moved = move_in(&mut sel, len, cmd, page) && (sel != before || step == 0);
    // What the window could not give yet is owed, unless the data itself ends there.
    let short = step - (signed(sel) - signed(before));
    let b = &mut app.browser;
    let owes = more_beyond(b, short);
    if owes {
        let cap = 4 * signed(page);
        b.owed = (b.owed + short).clamp(-cap, cap);
    }
    if moved || owes {
        b.selected = sel;
        keep_visible(app);
        return extend(app);
    }
    Vec::new()
}

/// A row count or position as a signed step (rows in a window are far fewer than `i64::MAX`).
fn signed(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Move the selection by what the keys owed, now that a page arrived.
fn pay_owed(b: &mut Browser) {
    if b.owed == 0 {
        return;
    }
    let last = signed(b.rows.len().saturating_sub(1));
    let want = signed(b.selected) + b.owed;
    let got = want.clamp(0, last);
    let left = want - got;
    b.selected = usize::try_from(got).unwrap_or(0);
    b.owed = if more_beyond(b, left) { left } else { 0 };
}

/// Whether rows lie beyond the window in the direction of `rows` (down positive) that a
/// page could still bring.
fn more_beyond(b: &Browser, rows: i64) -> bool {
    (rows > 0 && !b.at_bottom) || (rows < 0 && !b.at_top)
}

/// Keep the selection on the screen.
pub fn keep_visible(app: &mut App) {
    let vis = app.page_rows();
    keep_visible_in(&mut app.browser, vis);
}

fn keep_visible_in(b: &mut Browser, vis: usize) {
    if b.selected < b.offset {
        b.offset = b.selected;
    } else if b.selected >= b.offset + vis {
        b.offset = b.selected + 1 - vis;
    }
}

/// Load ahead of the selection when it nears either end of the window.
fn extend(app: &mut App) -> Vec<Action> {
    let page = app.page_rows();
    let b = &app.browser;
    if b.loading.is_some() || app.link != Link::Up {
        return Vec::new();
    }
    if !b.at_bottom && b.selected + page * 2 >= b.rows.len() {
        let after = b
            .next_after
            .clone()
            .or_else(|| b.rows.last().map(|r| r.cursor.clone()));
        app.browser.loading = Some(true);
        return vec![query(app, PageKind::Forward, after, page * 2)];
    }
    if !b.at_top && b.selected < page * 2 {
        let after = b
            .prev_before
            .clone()
            .or_else(|| b.rows.first().map(|r| r.cursor.clone()));
        app.browser.loading = Some(false);
        return vec![query(app, PageKind::Backward, after, page * 2)];
    }
    Vec::new()
}

#[allow(clippy::too_many_lines)] // one arm per kind of reply, each short
pub fn reply(app: &mut App, kind: PageKind, p: BrowsePage, ms: u128) -> Vec<Action> {
    let page = app.page_rows();
    let keep = page * 8;
    let b = &mut app.browser;
    b.loading = None;
    b.last_ms = Some(ms);
    b.plan = p.plan.clone();
    let n = p.rows.len();
    match kind {
        PageKind::Anchor => {
            // Read the window from just after the row before it (or, walking back having
            // stopped early, from where it stopped: nothing between matches); nothing before:
            // from the top.
            let after = p.rows.first().map(|r| r.cursor.clone()).or(p.resume);
            let b = &mut app.browser;
            b.loading = Some(true);
            if after.is_none() {
                b.start = Some(0);
                b.at_top = true;
            }
            let kind = if after.is_some() {
                PageKind::RefreshAfter
            } else {
                PageKind::Refresh
            };
            return vec![query(app, kind, after, window_rows(app))];
        }
        PageKind::RefreshAfter => {
            // Where the window was, read again; the position and top stay as they were.
            b.rows = p.rows;
            b.at_bottom = p.at_end;
            b.next_after = p.resume.clone();
            let kept = b.keep.take();
            b.selected = kept
                .and_then(|l| b.rows.iter().position(|r| r.license == l))
                .unwrap_or(b.selected)
                .min(n.saturating_sub(1));
        }
        PageKind::First | PageKind::Last | PageKind::Refresh => {
            if let Some(t) = p.total {
                b.total = Some(t);
                b.total_exact = p.total_exact;
            }
            b.rows = p.rows;
            if kind == PageKind::Last {
                b.offset = 0;
                b.selected = n.saturating_sub(1);
                b.start = p.start.or_else(|| {
                    b.total
                        .filter(|_| b.total_exact)
                        .map(|t| t.saturating_sub(n as u64))
                });
                b.at_bottom = true;
                b.at_top = p.at_end;
                b.prev_before = p.resume.clone();
                b.next_after = None;
            } else {
                b.start = p.start.or(Some(0));
                b.at_top = b.start == Some(0);
                b.at_bottom = p.at_end;
                b.next_after = p.resume.clone();
                b.prev_before = None;
                if kind == PageKind::First {
                    b.offset = 0;
                    b.selected = 0;
                } else {
                    // The same license selected again where it is still listed.
                    let kept = b.keep.take();
                    b.selected = kept
                        .and_then(|l| b.rows.iter().position(|r| r.license == l))
                        .unwrap_or(b.selected)
                        .min(n.saturating_sub(1));
                }
            }
        }
        PageKind::Forward => {
            b.rows.extend(p.rows);
            b.at_bottom = p.at_end;
            b.next_after = p.resume.clone();
            pay_owed(b);
            keep_visible_in(b, page);
            if b.rows.len() > keep {
                // Drop rows far above, never the visible ones.
                let cut = (b.rows.len() - page * 6).min(b.offset);
                b.rows.drain(..cut);
                b.selected -= cut;
                b.offset -= cut;
                b.start = b.start.map(|s| s + cut as u64);
                b.at_top = false;
                b.prev_before = None;
            }
        }
        PageKind::Backward => {
            let mut rows = p.rows;
            rows.append(&mut b.rows);
            b.rows = rows;
            b.selected += n;
            b.offset += n;
            b.start = b.start.map(|s| s.saturating_sub(n as u64));
            b.at_top = p.at_end;
            b.prev_before = p.resume.clone();
            if b.start.is_none() && b.at_top {
                b.start = Some(0);
            }
            pay_owed(b);
            keep_visible_in(b, page);
            if b.rows.len() > keep {
                // Drop rows far below, never the visible ones.
                b.rows.truncate((page * 6).max(b.offset + page));
                b.at_bottom = false;
                b.next_after = None;
                b.selected = b.selected.min(b.rows.len().saturating_sub(1));
            }
        }
    }
    if !matches!(kind, PageKind::Forward | PageKind::Backward) {
        app.browser.owed = 0;
    }
    keep_visible(app);
    // A sparse filter: go on until the window is full or the walk is done.
    let more_needed = n == 0 && (p.resume.is_some());
    if more_needed || matches!(kind, PageKind::Forward | PageKind::Backward) {
        return extend(app);
    }
    if p.resume.is_some() && app.browser.rows.len() < app.page_rows() {
        return extend(app);
    }
    Vec::new()
}

/// A license changed (a cancellation, a correction, anyone's): the rows are read again when
/// the list is shown, at once when it is shown now.
pub fn changed(app: &mut App) -> Vec<Action> {
    if app.screen == Screen::Browser && app.link == Link::Up && app.browser.loading.is_none() {
        return vec![refresh(app)];
    }
    app.mark_stale(Screen::Browser);
    Vec::new()
}

/// `e`: the whole query as CSV, written by the daemon's reader on this side (the console's
/// own user writes the file): asked for page by page, see [`crate::console::export`].
fn export(app: &mut App) -> Vec<Action> {
    if app.link != Link::Up {
        app.say("not connected to the daemon: the export needs it".to_string());
        return Vec::new();
    }
    app.say("exporting the list…".to_string());
    vec![Action::Export(BrowseQuery {
        filter: app.browser.filter.clone(),
        sort: app.browser.sort,
        desc: app.browser.desc,
        after: None,
        backward: false,
        offset: None,
        limit: 1000,
        count: false,
    })]
}

impl Browser {
    /// Positions are exact (no filter, number order): a window can be read again in place.
    pub fn exact_positions(&self) -> bool {
        self.filter.is_empty() && self.sort == Sort::Number
    }
}
