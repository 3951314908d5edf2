//! Events in, actions out: `update(&mut App, Msg) -> Vec<Action>`. Pure: no I/O, no clock;
//! the runner (`super::run`) turns actions into requests on the daemon and their answers
//! into messages.

use super::app::*;
use crate::api::views::{HelloView, Reply};
use crate::api::{Event, Request};
use crate::store::{BrowsePage, BrowseQuery, parse_query};
use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

/// What a reply is for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Tag {
    Status,
    Recent,
    /// A page of the browser's query `generation`: it replaces the window, or extends it
    /// forward or backward.
    Browse {
        generation: u64,
        kind: PageKind,
    },
    License,
    Audit,
    Receipt,
    Rejections,
    RejectedFiles,
    Mail,
    Held,
    MonitorCells,
    MonitorExport,
    /// A staff action's outcome.
    Action,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PageKind {
    /// From the top of the query.
    First,
    /// From its end (`End`).
    Last,
    Forward,
    Backward,
}

#[derive(Clone, Debug)]
pub enum Msg {
    Key(KeyEvent),
    Resize(u16, u16),
    /// One a second.
    Tick,
    /// Connected (again): who the daemon takes us for.
    Connected(HelloView),
    /// The connection is gone; the runner reconnects by itself.
    Lost(String),
    /// An answer: the reply, or the daemon's message; `ms` how long it took.
    Reply {
        tag: Tag,
        result: Result<Reply, String>,
        ms: u128,
    },
    Event(Event),
}

#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    Send(Tag, Request),
    Quit,
}

const RECENT_KEPT: usize = 200;
const THROUGHPUT_KEPT: usize = 120;

fn send(tag: Tag, r: Request) -> Action {
    Action::Send(tag, r)
}

pub fn update(app: &mut App, msg: Msg) -> Vec<Action> {
    match msg {
        Msg::Key(k) if k.kind != KeyEventKind::Release => key(app, k),
        Msg::Key(_) => Vec::new(),
        Msg::Resize(w, h) => {
            app.width = w;
            app.height = h;
            keep_visible(app);
            Vec::new()
        }
        Msg::Tick => tick(app),
        Msg::Connected(h) => {
            let again = matches!(app.link, Link::Lost(_));
            app.link = Link::Up;
            app.hello = Some(h);
            if again {
                app.flash = Some("reconnected to the daemon; views refreshed".into());
            }
            let mut v = vec![
                send(Tag::Status, Request::Status),
                send(Tag::Recent, Request::Recent { limit: 50 }),
                send(Tag::Held, Request::ReviewList),
            ];
            v.push(first_page(app));
            v.extend(enter_screen(app));
            v
        }
        Msg::Lost(why) => {
            app.link = Link::Lost(why);
            app.browser.loading = None;
            Vec::new()
        }
        Msg::Reply { tag, result, ms } => reply(app, tag, result, ms),
        Msg::Event(e) => event(app, e),
    }
}

fn tick(app: &mut App) -> Vec<Action> {
    app.ticks += 1;
    if app.link != Link::Up {
        return Vec::new();
    }
    let mut v = Vec::new();
    if app.ticks.is_multiple_of(2) {
        v.push(send(Tag::Status, Request::Status));
    }
    if app.ticks.is_multiple_of(10) {
        match app.screen {
            Screen::Mail => v.push(send(Tag::Mail, Request::Mail)),
            Screen::Review => v.push(send(Tag::Held, Request::ReviewList)),
            Screen::Rejections => v.push(rejections_request(app)),
            _ => {}
        }
    }
    v
}

fn event(app: &mut App, e: Event) -> Vec<Action> {
    match e {
        Event::Filing(row) => {
            app.dashboard.recent.push_front(row);
            app.dashboard.recent.truncate(RECENT_KEPT);
            // A browser resting at its top shows new licenses as they come.
            let b = &app.browser;
            if app.screen == Screen::Browser && b.at_top && b.selected == 0 && b.loading.is_none() {
                return vec![first_page(app)];
            }
            Vec::new()
        }
        Event::Changed { what } => {
            app.flash = Some(format!("changed: {what}"));
            let mut v = vec![send(Tag::Status, Request::Status)];
            match app.screen {
                Screen::Review => v.push(send(Tag::Held, Request::ReviewList)),
                Screen::Mail => v.push(send(Tag::Mail, Request::Mail)),
                _ => {}
            }
            v
        }
        Event::Health { problems } => {
            if let Some(s) = app.dashboard.status.as_mut() {
                s.problems = problems;
            }
            Vec::new()
        }
        Event::Lagged { missed } => {
            app.flash = Some(format!("missed {missed} live events: refreshed"));
            vec![send(Tag::Recent, Request::Recent { limit: 50 })]
        }
    }
}

/// The requests a screen needs when it is shown.
fn enter_screen(app: &mut App) -> Vec<Action> {
    if app.link != Link::Up {
        return Vec::new();
    }
    match app.screen {
        Screen::Browser if app.browser.at_top && app.browser.selected == 0 => {
            vec![first_page(app)]
        }
        Screen::Rejections => vec![rejections_request(app)],
        Screen::Mail => vec![send(Tag::Mail, Request::Mail)],
        Screen::Review => vec![send(Tag::Held, Request::ReviewList)],
        Screen::Monitor => vec![
            send(Tag::MonitorCells, Request::MonitorCells { month: None }),
            send(Tag::MonitorExport, Request::MonitorExport { month: None }),
        ],
        _ => Vec::new(),
    }
}

fn rejections_request(app: &App) -> Action {
    send(
        Tag::Rejections,
        Request::Rejections {
            days: app.rejections.days.max(1),
        },
    )
}

fn go(app: &mut App, s: Screen) -> Vec<Action> {
    app.screen = s;
    enter_screen(app)
}

fn key(app: &mut App, k: KeyEvent) -> Vec<Action> {
    let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
    if ctrl && k.code == KeyCode::Char('c') {
        app.quit = true;
        return vec![Action::Quit];
    }
    if let Some(m) = app.modal.take() {
        return modal_key(app, m, k);
    }
    if app.screen == Screen::Browser && app.browser.editing {
        return search_key(app, k);
    }
    match k.code {
        KeyCode::Char('q') => {
            app.quit = true;
            return vec![Action::Quit];
        }
        KeyCode::Char('?') => {
            app.modal = Some(Modal::Help);
            return Vec::new();
        }
        KeyCode::Tab => {
            let n = app.screen.next();
            return go(app, n);
        }
        KeyCode::BackTab => {
            let n = app.screen.prev();
            return go(app, n);
        }
        KeyCode::Char(c @ '1'..='7') => {
            let i = usize::from(c as u8 - b'1');
            return go(app, Screen::ALL[i]);
        }
        KeyCode::Char('/') => {
            app.screen = Screen::Browser;
            app.browser.editing = true;
            return Vec::new();
        }
        _ => {}
    }
    match app.screen {
        Screen::Dashboard => dashboard_key(app, k),
        Screen::Browser => browser_key(app, k),
        Screen::Detail => detail_key(app, k),
        Screen::Rejections => rejections_key(app, k),
        Screen::Mail => mail_key(app, k),
        Screen::Review => review_key(app, k),
        Screen::Monitor => monitor_key(app, k),
    }
}

/// Up/Down/PgUp/PgDn/Home/End on a list of `len`.
fn move_in(sel: &mut usize, len: usize, code: KeyCode, page: usize) -> bool {
    let before = *sel;
    let last = len.saturating_sub(1);
    match code {
        KeyCode::Up | KeyCode::Char('k') => *sel = sel.saturating_sub(1),
        KeyCode::Down | KeyCode::Char('j') => *sel = (*sel + 1).min(last),
        KeyCode::PageUp => *sel = sel.saturating_sub(page),
        KeyCode::PageDown => *sel = (*sel + page).min(last),
        KeyCode::Home => *sel = 0,
        KeyCode::End => *sel = last,
        _ => return false,
    }
    *sel != before || matches!(code, KeyCode::Home | KeyCode::End)
}

fn modal_key(app: &mut App, m: Modal, k: KeyEvent) -> Vec<Action> {
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
        Modal::Message { .. } => Vec::new(),
        Modal::Reason { action, mut text } => match k.code {
            KeyCode::Esc => {
                app.flash = Some("not done".into());
                Vec::new()
            }
            KeyCode::Enter => {
                if text.trim().is_empty() {
                    app.modal = Some(Modal::Reason { action, text });
                    app.flash = Some("type a reason first: the filer reads it".into());
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
                app.flash = Some(format!("{}…", action.describe()));
                vec![send(Tag::Action, request_of(&action, reason))]
            }
            KeyCode::Char('n') | KeyCode::Char('N') | KeyCode::Esc => {
                app.flash = Some("not done".into());
                Vec::new()
            }
            _ => {
                app.modal = Some(Modal::Confirm { action, reason });
                Vec::new()
            }
        },
    }
}

fn request_of(a: &Pending, reason: Option<String>) -> Request {
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
    }
}

/// Ask for an action: a reason first where it needs one, then a confirmation. A role that
/// may not do it is told so on the prompt; the daemon decides (and audits the refusal).
fn ask(app: &mut App, action: Pending) -> Vec<Action> {
    if let Some(why) = app.disabled_why(action.needs()) {
        app.flash = Some(format!(
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

// ---- dashboard

fn dashboard_key(app: &mut App, k: KeyEvent) -> Vec<Action> {
    match k.code {
        KeyCode::Char('r') => vec![
            send(Tag::Status, Request::Status),
            send(Tag::Recent, Request::Recent { limit: 50 }),
        ],
        KeyCode::Enter => match app.dashboard.recent.get(app.detail_sel_recent()) {
            Some(r) => {
                let (sender, sha) = (r.sender.clone(), r.file_sha256.clone());
                open_receipt(app, sender, sha, Screen::Dashboard)
            }
            None => Vec::new(),
        },
        code => {
            let len = app.dashboard.recent.len();
            let mut sel = app.detail_sel_recent();
            if move_in(&mut sel, len, code, 10) {
                app.recent_sel = sel;
            }
            Vec::new()
        }
    }
}

impl App {
    fn detail_sel_recent(&self) -> usize {
        self.recent_sel
            .min(self.dashboard.recent.len().saturating_sub(1))
    }
}

// ---- browser

fn query(app: &App, kind: PageKind, after: Option<String>, limit: usize) -> Action {
    let b = &app.browser;
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
            backward: matches!(kind, PageKind::Backward | PageKind::Last),
            offset: None,
            limit,
            count: matches!(kind, PageKind::First | PageKind::Last),
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

fn search_key(app: &mut App, k: KeyEvent) -> Vec<Action> {
    match k.code {
        KeyCode::Enter | KeyCode::Esc => {
            app.browser.editing = false;
            Vec::new()
        }
        KeyCode::Tab => {
            app.browser.editing = false;
            let n = app.screen.next();
            go(app, n)
        }
        _ if edit_line(&mut app.browser.query, k) => requery(app),
        _ => Vec::new(),
    }
}

/// One key in a line of text (the search box, a reason): characters, Backspace, and the
/// shell's Ctrl+U (clear) and Ctrl+W (the last word). Other Ctrl and Alt keys type nothing.
/// Whether the text changed.
fn edit_line(text: &mut String, k: KeyEvent) -> bool {
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

/// An answer to an older query: dropped; the query typed meanwhile goes now.
fn stale_browse_reply(app: &mut App) -> Vec<Action> {
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

fn browser_key(app: &mut App, k: KeyEvent) -> Vec<Action> {
    let page = app.page_rows();
    match k.code {
        KeyCode::Char('s') => {
            app.browser.sort = app.browser.sort.next();
            return vec![first_page(app)];
        }
        KeyCode::Char('o') => {
            app.browser.desc = !app.browser.desc;
            return vec![first_page(app)];
        }
        KeyCode::Esc => {
            if !app.browser.query.is_empty() {
                app.browser.query.clear();
                return requery(app);
            }
            return Vec::new();
        }
        KeyCode::Enter => {
            return match app.browser.selected_row() {
                Some(r) => {
                    let l = r.license.clone();
                    open_license(app, l, Screen::Browser)
                }
                None => Vec::new(),
            };
        }
        KeyCode::Char('c') => {
            return match app.browser.selected_row() {
                Some(r) => {
                    let license = r.license.clone();
                    ask(app, Pending::Cancel { license })
                }
                None => Vec::new(),
            };
        }
        KeyCode::Home if !app.browser.at_top => return vec![first_page(app)],
        KeyCode::End if !app.browser.at_bottom => {
            app.browser.generation += 1;
            app.browser.owed = 0;
            app.browser.loading = Some(false);
            return vec![query(app, PageKind::Last, None, window_rows(app))];
        }
        _ => {}
    }
    let step = match k.code {
        KeyCode::Down | KeyCode::Char('j') => 1,
        KeyCode::PageDown => page as i64,
        KeyCode::Up | KeyCode::Char('k') => -1,
        KeyCode::PageUp => -(page as i64),
        _ => 0,
    };
    let len = app.browser.rows.len();
    let before = app.browser.selected;
    let mut sel = before;
    let moved = move_in(&mut sel, len, k.code, page);
    // What the window could not give yet is owed, unless the data itself ends there.
    let short = step - (sel as i64 - before as i64);
    let b = &mut app.browser;
    let owes = more_beyond(b, short);
    if owes {
        let cap = 4 * page as i64;
        b.owed = (b.owed + short).clamp(-cap, cap);
    }
    if moved || owes {
        b.selected = sel;
        keep_visible(app);
        return extend(app);
    }
    Vec::new()
}

/// Move the selection by what the keys owed, now that a page arrived.
fn pay_owed(b: &mut crate::console::app::Browser) {
    if b.owed == 0 {
        return;
    }
    let last = b.rows.len().saturating_sub(1) as i64;
    let want = b.selected as i64 + b.owed;
    let got = want.clamp(0, last);
    let left = want - got;
    b.selected = got as usize;
    b.owed = if more_beyond(b, left) { left } else { 0 };
}

/// Whether rows lie beyond the window in the direction of `rows` (down positive) that a
/// page could still bring.
fn more_beyond(b: &crate::console::app::Browser, rows: i64) -> bool {
    (rows > 0 && !b.at_bottom) || (rows < 0 && !b.at_top)
}

/// Keep the selection on the screen.
fn keep_visible(app: &mut App) {
    let vis = app.page_rows();
    keep_visible_in(&mut app.browser, vis);
}

fn keep_visible_in(b: &mut crate::console::app::Browser, vis: usize) {
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

fn browse_reply(app: &mut App, kind: PageKind, p: BrowsePage, ms: u128) -> Vec<Action> {
    let page = app.page_rows();
    let keep = page * 8;
    let b = &mut app.browser;
    b.loading = None;
    b.last_ms = Some(ms);
    b.plan = p.plan.clone();
    let n = p.rows.len();
    match kind {
        PageKind::First | PageKind::Last => {
            if let Some(t) = p.total {
                b.total = Some(t);
                b.total_exact = p.total_exact;
            }
            b.rows = p.rows;
            b.offset = 0;
            if kind == PageKind::First {
                b.selected = 0;
                b.start = p.start.or(Some(0));
                b.at_top = true;
                b.at_bottom = p.at_end;
                b.next_after = p.resume.clone();
                b.prev_before = None;
            } else {
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

// ---- detail

fn open_license(app: &mut App, license: String, back: Screen) -> Vec<Action> {
    app.detail = Detail {
        loading: Some(format!("license {license}")),
        back: Some(back),
        ..Detail::default()
    };
    app.screen = Screen::Detail;
    vec![
        send(
            Tag::License,
            Request::LicenseShow {
                license: license.clone(),
            },
        ),
        send(
            Tag::Audit,
            Request::Audit {
                license: Some(license),
                limit: 50,
            },
        ),
    ]
}

fn open_receipt(app: &mut App, sender: String, sha256: String, back: Screen) -> Vec<Action> {
    app.detail = Detail {
        loading: Some(format!(
            "file {} of {sender}",
            &sha256[..sha256.len().min(12)]
        )),
        back: Some(back),
        ..Detail::default()
    };
    app.screen = Screen::Detail;
    vec![send(Tag::Receipt, Request::Receipt { sender, sha256 })]
}

fn detail_key(app: &mut App, k: KeyEvent) -> Vec<Action> {
    let page = app.page_rows() as u16;
    let d = &mut app.detail;
    match k.code {
        KeyCode::Esc => {
            let back = d.back.unwrap_or(Screen::Browser);
            go(app, back)
        }
        KeyCode::Up | KeyCode::Char('k') => {
            d.scroll = d.scroll.saturating_sub(1);
            Vec::new()
        }
        KeyCode::Down | KeyCode::Char('j') => {
            d.scroll = d.scroll.saturating_add(1);
            Vec::new()
        }
        KeyCode::PageUp => {
            d.scroll = d.scroll.saturating_sub(page);
            Vec::new()
        }
        KeyCode::PageDown => {
            d.scroll = d.scroll.saturating_add(page);
            Vec::new()
        }
        KeyCode::Home => {
            d.scroll = 0;
            Vec::new()
        }
        KeyCode::Char('c') => match &d.license {
            Some(l) => {
                let license = l.license.clone();
                ask(app, Pending::Cancel { license })
            }
            None => {
                app.flash = Some("c cancels a license: open one from Filings & licenses".into());
                Vec::new()
            }
        },
        KeyCode::Char('m') => match &d.receipt {
            Some(r) => match r.acks.iter().max_by_key(|a| a.seq) {
                Some(a) => {
                    let p = Pending::Resend {
                        sender: r.sender.clone(),
                        sha256: r.sha256.clone(),
                        seq: a.seq,
                        ack: a.name.clone(),
                    };
                    ask(app, p)
                }
                None => Vec::new(),
            },
            None => {
                app.flash = Some("no file loaded to mail an ack of".into());
                Vec::new()
            }
        },
        _ => Vec::new(),
    }
}

// ---- rejections

fn rejections_key(app: &mut App, k: KeyEvent) -> Vec<Action> {
    let r = &mut app.rejections;
    match k.code {
        KeyCode::Char('d') => {
            r.days = match r.days {
                1 => 7,
                7 => 30,
                _ => 1,
            };
            vec![rejections_request(app)]
        }
        KeyCode::Char('r') => vec![rejections_request(app)],
        KeyCode::Left | KeyCode::Char('h') => {
            r.focus = match r.focus {
                RejFocus::Files => RejFocus::Senders,
                _ => RejFocus::Codes,
            };
            Vec::new()
        }
        KeyCode::Right | KeyCode::Char('l') => {
            r.focus = match r.focus {
                RejFocus::Codes => RejFocus::Senders,
                _ if r.files_of.is_some() => RejFocus::Files,
                f => f,
            };
            Vec::new()
        }
        KeyCode::Esc => {
            if r.files_of.is_some() {
                r.files_of = None;
                r.files.clear();
                r.focus = RejFocus::Codes;
            }
            Vec::new()
        }
        KeyCode::Enter => {
            let Some(data) = &r.data else {
                return Vec::new();
            };
            match r.focus {
                RejFocus::Codes => match data.by_code.get(r.code_sel) {
                    Some(c) => {
                        r.files_of = Some(format!("code {}", c.code));
                        r.focus = RejFocus::Files;
                        r.file_sel = 0;
                        vec![send(
                            Tag::RejectedFiles,
                            Request::RejectedFiles {
                                sender: None,
                                code: Some(c.code.clone()),
                                limit: 200,
                            },
                        )]
                    }
                    None => Vec::new(),
                },
                RejFocus::Senders => match data.by_sender.get(r.sender_sel) {
                    Some(s) => {
                        r.files_of = Some(format!("sender {}", s.sender));
                        r.focus = RejFocus::Files;
                        r.file_sel = 0;
                        vec![send(
                            Tag::RejectedFiles,
                            Request::RejectedFiles {
                                sender: Some(s.sender.clone()),
                                code: None,
                                limit: 200,
                            },
                        )]
                    }
                    None => Vec::new(),
                },
                RejFocus::Files => match r.files.get(r.file_sel) {
                    Some(f) => {
                        let (s, sha) = (f.sender.clone(), f.sha256.clone());
                        open_receipt(app, s, sha, Screen::Rejections)
                    }
                    None => Vec::new(),
                },
            }
        }
        code => {
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
            move_in(sel, len, code, 10);
            Vec::new()
        }
    }
}

// ---- mail

fn mail_rows(app: &App) -> Vec<&crate::api::views::MailJobView> {
    app.mail
        .data
        .as_ref()
        .map(|m| m.waiting.iter().chain(&m.dead).collect())
        .unwrap_or_default()
}

fn mail_key(app: &mut App, k: KeyEvent) -> Vec<Action> {
    match k.code {
        KeyCode::Char('r') => vec![send(Tag::Mail, Request::Mail)],
        KeyCode::Char('R') => {
            let Some(j) = mail_rows(app).get(app.mail.selected).copied().cloned() else {
                return Vec::new();
            };
            if j.state != "dead" {
                app.flash = Some(format!(
                    "message {} is {}, not dead: it is retried by itself",
                    j.id, j.state
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
        KeyCode::Enter => {
            if let Some(j) = mail_rows(app).get(app.mail.selected) {
                let text = format!(
                    "message {} of {} to {}\nack {}\nstate {} after {} attempts\ncreated {}  next attempt {}\nlast SMTP error: {}",
                    j.id,
                    j.sender,
                    j.to.join(", "),
                    j.ack_name,
                    j.state,
                    j.attempts,
                    j.created_at.format("%Y-%m-%d %H:%M:%S"),
                    j.next_attempt.format("%Y-%m-%d %H:%M:%S"),
                    j.last_error.as_deref().unwrap_or("none")
                );
                app.modal = Some(Modal::Message {
                    title: "Mail message".into(),
                    text,
                    error: false,
                });
            }
            Vec::new()
        }
        code => {
            let len = mail_rows(app).len();
            move_in(&mut app.mail.selected, len, code, 10);
            Vec::new()
        }
    }
}

// ---- review

fn review_targets(app: &App) -> Vec<String> {
    if !app.review.marked.is_empty() {
        return app.review.marked.iter().cloned().collect();
    }
    app.review
        .held
        .get(app.review.selected)
        .map(|h| vec![h.handle.clone()])
        .unwrap_or_default()
}

fn review_key(app: &mut App, k: KeyEvent) -> Vec<Action> {
    match k.code {
        KeyCode::Char('r') => vec![send(Tag::Held, Request::ReviewList)],
        KeyCode::Char(' ') => {
            if let Some(h) = app.review.held.get(app.review.selected) {
                let h = h.handle.clone();
                if !app.review.marked.remove(&h) {
                    app.review.marked.insert(h);
                }
                let len = app.review.held.len();
                move_in(&mut app.review.selected, len, KeyCode::Down, 1);
            }
            Vec::new()
        }
        KeyCode::Char('a') => {
            let handles = review_targets(app);
            if handles.is_empty() {
                return Vec::new();
            }
            ask(app, Pending::Approve { handles })
        }
        KeyCode::Char('x') => {
            let handles = review_targets(app);
            if handles.is_empty() {
                return Vec::new();
            }
            ask(app, Pending::Reject { handles })
        }
        KeyCode::Esc => {
            app.review.marked.clear();
            Vec::new()
        }
        KeyCode::Enter => match app.review.held.get(app.review.selected) {
            Some(h) => {
                let (s, sha) = (h.sender.clone(), h.file_sha256.clone());
                open_receipt(app, s, sha, Screen::Review)
            }
            None => Vec::new(),
        },
        code => {
            let len = app.review.held.len();
            move_in(&mut app.review.selected, len, code, 10);
            Vec::new()
        }
    }
}

// ---- monitor

fn monitor_key(app: &mut App, k: KeyEvent) -> Vec<Action> {
    let m = &mut app.monitor;
    match k.code {
        KeyCode::Char('r') => enter_screen(app),
        KeyCode::Char('p') => {
            m.public_preview = !m.public_preview;
            Vec::new()
        }
        KeyCode::Char('d') => {
            m.dimension = (m.dimension + 1) % crate::store::DIMENSIONS.len();
            m.selected = 0;
            Vec::new()
        }
        KeyCode::Left | KeyCode::Char('h') => {
            m.month = m.month.saturating_sub(1);
            m.selected = 0;
            Vec::new()
        }
        KeyCode::Right | KeyCode::Char('l') => {
            m.month = (m.month + 1).min(m.months.len().saturating_sub(1));
            m.selected = 0;
            Vec::new()
        }
        KeyCode::Enter => {
            if let Some(r) = m.shown().get(m.selected) {
                app.flash = Some(format!(
                    "{} {}: the 12-month trend is beside the table",
                    r.dimension, r.key
                ));
            }
            Vec::new()
        }
        code => {
            let len = m.shown().len();
            move_in(&mut m.selected, len, code, 10);
            Vec::new()
        }
    }
}

// ---- replies

fn reply(app: &mut App, tag: Tag, result: Result<Reply, String>, ms: u128) -> Vec<Action> {
    let r = match result {
        Ok(r) => r,
        Err(e) => return failed(app, tag, e),
    };
    match (tag, r) {
        (Tag::Status, Reply::Status(s)) => {
            let d = &mut app.dashboard;
            if let Some(last) = d.last_files {
                let step = s.files_today.saturating_sub(last);
                d.throughput.push_back(step);
                while d.throughput.len() > THROUGHPUT_KEPT {
                    d.throughput.pop_front();
                }
            }
            d.last_files = Some(s.files_today);
            d.status = Some(s);
        }
        (Tag::Recent, Reply::Filings(rows)) => {
            app.dashboard.recent = rows.into_iter().collect();
        }
        (Tag::Browse { generation, kind }, Reply::Page(p)) => {
            if generation == app.browser.generation {
                return browse_reply(app, kind, p, ms);
            }
            return stale_browse_reply(app);
        }
        (Tag::License, Reply::License(l)) => {
            let issuing = l
                .history
                .iter()
                .find(|h| h.action == "issued")
                .map(|h| (l.sender.clone(), h.file_sha256.clone()));
            app.detail.license = Some(*l);
            app.detail.loading = None;
            if let Some((sender, sha256)) = issuing {
                return vec![send(Tag::Receipt, Request::Receipt { sender, sha256 })];
            }
        }
        (Tag::Audit, Reply::Audit(a)) => app.detail.audit = a,
        (Tag::Receipt, Reply::Receipt(r)) => {
            app.detail.receipt = Some(*r);
            app.detail.loading = None;
        }
        (Tag::Rejections, Reply::Rejections(r)) => {
            let rs = &mut app.rejections;
            rs.code_sel = rs.code_sel.min(r.by_code.len().saturating_sub(1));
            rs.sender_sel = rs.sender_sel.min(r.by_sender.len().saturating_sub(1));
            rs.data = Some(r);
        }
        (Tag::RejectedFiles, Reply::RejectedFiles(f)) => {
            app.rejections.files = f;
            app.rejections.file_sel = 0;
        }
        (Tag::Mail, Reply::Mail(m)) => {
            let len = m.waiting.len() + m.dead.len();
            app.mail.selected = app.mail.selected.min(len.saturating_sub(1));
            app.mail.data = Some(m);
        }
        (Tag::Held, Reply::Held(h)) => {
            let rv = &mut app.review;
            rv.marked.retain(|m| h.iter().any(|x| &x.handle == m));
            rv.selected = rv.selected.min(h.len().saturating_sub(1));
            rv.held = h;
            rv.loaded = true;
        }
        (Tag::MonitorCells, Reply::Cells(rows)) => {
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
        (Tag::MonitorExport, Reply::Monitor(rows)) => app.monitor.public = rows,
        (Tag::Action, r) => return action_done(app, r),
        (tag, other) => {
            app.flash = Some(format!("unexpected answer to {tag:?}: {}", kind_of(&other)));
        }
    }
    Vec::new()
}

fn kind_of(r: &Reply) -> &'static str {
    match r {
        Reply::Hello(_) => "hello",
        Reply::Status(_) => "status",
        Reply::Page(_) => "page",
        _ => "another kind",
    }
}

fn failed(app: &mut App, tag: Tag, e: String) -> Vec<Action> {
    match tag {
        Tag::Action => {
            app.modal = Some(Modal::Message {
                title: "Refused or failed".into(),
                text: e,
                error: true,
            });
        }
        Tag::License | Tag::Receipt => {
            app.detail.loading = None;
            app.detail.error = Some(e);
        }
        Tag::Browse { generation, .. } => {
            if generation == app.browser.generation {
                app.browser.loading = None;
                app.browser.query_error = Some(e);
            } else {
                return stale_browse_reply(app);
            }
        }
        _ => app.flash = Some(e),
    }
    Vec::new()
}

fn action_done(app: &mut App, r: Reply) -> Vec<Action> {
    let text = match &r {
        Reply::Cancelled(c) => format!(
            "License {} is {}.\nThe filer is answered by follow-up ack {} (sequence {}), mailed.",
            c.license, c.status, c.ack_name, c.ack_sequence
        ),
        Reply::Decided(ds) => ds
            .iter()
            .map(|d| {
                format!(
                    "{} {}{}; follow-up ack {}",
                    d.handle,
                    d.decision,
                    d.license
                        .as_ref()
                        .map(|l| format!(" as {l}"))
                        .unwrap_or_default(),
                    d.ack_name
                )
            })
            .collect::<Vec<_>>()
            .join("\n"),
        Reply::Done { message } => message.clone(),
        _ => "done".into(),
    };
    app.modal = Some(Modal::Message {
        title: "Done".into(),
        text,
        error: false,
    });
    app.review.marked.clear();
    let mut v = vec![send(Tag::Status, Request::Status)];
    match app.screen {
        Screen::Review => v.push(send(Tag::Held, Request::ReviewList)),
        Screen::Mail => v.push(send(Tag::Mail, Request::Mail)),
        Screen::Detail => {
            if let Some(l) = app.detail.license.as_ref().map(|l| l.license.clone()) {
                let back = app.detail.back.unwrap_or(Screen::Browser);
                v.extend(open_license(app, l, back));
            }
        }
        Screen::Browser => {
            // The cancelled row's status changed: the query again, from the top.
            v.push(first_page(app));
        }
        _ => {}
    }
    v
}
