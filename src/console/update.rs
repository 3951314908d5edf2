//! Events in, actions out: `update(&mut App, Msg) -> Vec<Action>`. Pure: no I/O, no clock;
//! the runner (`super::run`) turns actions into requests on the daemon and their answers
//! into messages. This module only dispatches: a key through the keymap
//! ([`super::keys::lookup`]) to its screen, a reply by its tag, a live event to every screen
//! it may change ([`super::screens`]).

use super::app::*;
use super::keys::{self, Cmd};
use super::screens::{self, browser, dashboard, detail, mail, monitor, rejections, review, send};
use crate::api::views::{HelloView, Reply};
use crate::api::{Event, Request};
use crate::store::BrowseQuery;
use crossterm::event::{
    KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};

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
    /// The window read again where it is (rows changed): from the top, or at its position
    /// where positions are exact.
    Refresh,
    /// The row just before the window (one row, walking back), to read the window again from
    /// it where positions are not exact.
    Anchor,
    /// The window read again from after its anchor.
    RefreshAfter,
}

#[derive(Clone, Debug)]
pub enum Msg {
    Key(KeyEvent),
    Mouse(MouseEvent),
    Resize(u16, u16),
    /// One a second.
    Tick,
    /// Connected (again): who the daemon takes us for.
    Connected(HelloView),
    /// The connection is gone; the runner reconnects by itself.
    Lost(String),
    /// A try to connect failed (why): the runner tries again by itself.
    Waiting(String),
    /// An answer: the reply, or the daemon's message; `ms` how long it took.
    Reply {
        tag: Tag,
        result: Result<Reply, String>,
        ms: u128,
    },
    Event(Event),
    /// The list's export: the file written and its rows, or why not.
    Exported(Result<(String, u64), String>),
}

#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    Send(Tag, Request),
    /// Write every row of this query to a CSV file (the runner pages through it).
    Export(BrowseQuery),
    Quit,
}

/// Seconds a status message stays before the key hints come back.
pub const FLASH_SECONDS: u64 = 4;

pub fn update(app: &mut App, msg: Msg) -> Vec<Action> {
    match msg {
        Msg::Key(k) if k.kind != KeyEventKind::Release => key(app, k),
        Msg::Key(_) => Vec::new(),
        Msg::Mouse(m) => mouse(app, m),
        Msg::Resize(w, h) => {
            app.width = w;
            app.height = h;
            browser::keep_visible(app);
            Vec::new()
        }
        Msg::Tick => tick(app),
        Msg::Connected(h) => {
            let again = matches!(app.link, Link::Lost(_));
            app.link = Link::Up;
            app.hello = Some(h);
            if again {
                app.say("reconnected to the daemon; views refreshed".to_string());
            }
            let mut v = dashboard::refresh();
            v.push(send(Tag::Held, Request::ReviewList));
            v.push(browser::first_page(app));
            if app.screen != Screen::Browser {
                v.extend(screens::enter(app));
            }
            v
        }
        Msg::Lost(why) => {
            app.link = Link::Lost(why);
            app.browser.loading = None;
            Vec::new()
        }
        // What stands in the way now (no daemon, a daemon starting) replaces what was said.
        Msg::Waiting(why) => {
            match &mut app.link {
                Link::Connecting(w) => *w = Some(why),
                Link::Lost(w) => *w = why,
                Link::Up => {}
            }
            Vec::new()
        }
        Msg::Reply { tag, result, ms } => reply(app, tag, result, ms),
        Msg::Event(e) => event(app, e),
        Msg::Exported(r) => {
            match r {
                Ok((path, n)) => app.say(format!("exported {} rows to {path}", group(n))),
                Err(e) => {
                    app.modal = Some(Modal::Message {
                        title: "Export failed".into(),
                        text: e,
                        error: true,
                    })
                }
            }
            Vec::new()
        }
    }
}

fn tick(app: &mut App) -> Vec<Action> {
    app.ticks += 1;
    if app.flash.is_some() && app.ticks.saturating_sub(app.flash_tick) >= FLASH_SECONDS {
        app.flash = None;
    }
    if app.link != Link::Up {
        return Vec::new();
    }
    let mut v = Vec::new();
    if app.ticks.is_multiple_of(2) {
        v.push(send(Tag::Status, Request::Status));
    }
    if app.take_stale(app.screen) {
        // What live filings changed, read once a second at most.
        v.extend(screens::refresh(app));
    } else if app.ticks.is_multiple_of(10) {
        match app.screen {
            Screen::Mail | Screen::Review | Screen::Rejections => v.extend(screens::enter(app)),
            _ => {}
        }
    }
    v
}

/// A live event: every screen it may change is read again, the shown one at once (a staff
/// change) or at the next tick (filings, which come in bursts), the others when next shown.
fn event(app: &mut App, e: Event) -> Vec<Action> {
    match e {
        Event::Filing(row) => {
            dashboard::filing(app, row);
            // A filing may correct or cancel a license, or hold applications: what shows
            // licenses, files, mail and holds is read again.
            for s in [
                Screen::Browser,
                Screen::Detail,
                Screen::Rejections,
                Screen::Mail,
                Screen::Review,
                Screen::Monitor,
            ] {
                app.mark_stale(s);
            }
            // A browser resting at its top shows new licenses as they come.
            let b = &app.browser;
            if app.screen == Screen::Browser && b.at_top && b.selected == 0 && b.loading.is_none() {
                app.take_stale(Screen::Browser);
                return vec![browser::first_page(app)];
            }
            Vec::new()
        }
        Event::Changed { what } => {
            app.say(format!("changed by staff: {what}; views read again"));
            changed(app)
        }
        // Mail comes in bursts like filings: what shows it is read at the next tick.
        Event::Mail { .. } => {
            app.mark_stale(Screen::Mail);
            app.mark_stale(Screen::Detail);
            Vec::new()
        }
        Event::Health { problems } => {
            if let Some(s) = app.dashboard.status.as_mut() {
                s.problems = problems;
            }
            Vec::new()
        }
        Event::Lagged { missed } => {
            app.say(format!("missed {missed} live events: refreshed"));
            let mut v = dashboard::refresh();
            v.extend(changed(app));
            v
        }
    }
}

/// Something changed that any screen may show: the shown one now, the others when shown.
fn changed(app: &mut App) -> Vec<Action> {
    let mut v = vec![send(Tag::Status, Request::Status)];
    for s in Screen::ALL {
        app.mark_stale(s);
    }
    app.take_stale(app.screen);
    v.extend(browser::changed(app));
    v.extend(detail::changed(app));
    v.extend(review::changed(app));
    v.extend(mail::changed(app));
    v.extend(rejections::changed(app));
    v.extend(monitor::changed(app));
    v
}

pub(crate) fn key(app: &mut App, k: KeyEvent) -> Vec<Action> {
    let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
    if ctrl && k.code == KeyCode::Char('c') {
        app.quit = true;
        return vec![Action::Quit];
    }
    if let Some(m) = app.modal.take() {
        return screens::modal::key(app, m, k);
    }
    if app.screen == Screen::Browser && app.browser.editing {
        return browser::search_key(app, k);
    }
    if app.screen == Screen::Review && app.review.filtering {
        return review::filter_key(app, k);
    }
    let Some(cmd) = keys::lookup(app.screen, &k) else {
        return Vec::new();
    };
    // A key pressed is an answer to the status message: the hints come back.
    app.flash = None;
    match cmd {
        Cmd::Quit => {
            app.quit = true;
            vec![Action::Quit]
        }
        Cmd::Help => {
            app.modal = Some(Modal::Help);
            Vec::new()
        }
        Cmd::NextScreen => {
            let n = app.screen.next();
            screens::go(app, n)
        }
        Cmd::PrevScreen => {
            let n = app.screen.prev();
            screens::go(app, n)
        }
        Cmd::GoTo => match k.code {
            KeyCode::Char(c @ '1'..='7') => {
                let i = usize::from(c as u8 - b'1');
                screens::go(app, Screen::ALL[i])
            }
            _ => Vec::new(),
        },
        Cmd::Clock => {
            app.utc = !app.utc;
            app.say(if app.utc {
                "times in UTC".to_string()
            } else {
                format!("times in local time ({})", app.zone_name())
            });
            Vec::new()
        }
        Cmd::Search if app.screen != Screen::Browser => {
            // Straight to typing: the first character queries (rows changed meanwhile too).
            app.screen = Screen::Browser;
            app.browser.editing = true;
            app.take_stale(Screen::Browser);
            Vec::new()
        }
        cmd => screen_key(app, cmd),
    }
}

fn screen_key(app: &mut App, cmd: Cmd) -> Vec<Action> {
    match app.screen {
        Screen::Dashboard => dashboard::key(app, cmd),
        Screen::Browser => browser::key(app, cmd),
        Screen::Detail => detail::key(app, cmd),
        Screen::Rejections => rejections::key(app, cmd),
        Screen::Mail => mail::key(app, cmd),
        Screen::Review => review::key(app, cmd),
        Screen::Monitor => monitor::key(app, cmd),
    }
}

/// A click on a tab goes to its screen, on a row selects it (a second click opens it); the
/// wheel scrolls.
fn mouse(app: &mut App, m: MouseEvent) -> Vec<Action> {
    if app.modal.is_some() {
        return Vec::new();
    }
    match m.kind {
        MouseEventKind::ScrollDown => screen_key(app, Cmd::Down),
        MouseEventKind::ScrollUp => screen_key(app, Cmd::Up),
        MouseEventKind::Down(MouseButton::Left) => {
            if m.row == 0 {
                return match super::render::tab_at(app, m.column) {
                    Some(s) => screens::go(app, s),
                    None => Vec::new(),
                };
            }
            let Some((index, area)) = super::render::row_at(app, m.column, m.row) else {
                return Vec::new();
            };
            let again = app.selected_index(area) == Some(index);
            let v = screens::select(app, area, index);
            if again {
                return screen_key(app, Cmd::Open);
            }
            v
        }
        _ => Vec::new(),
    }
}

// ---- replies, each to its screen

fn reply(app: &mut App, tag: Tag, result: Result<Reply, String>, ms: u128) -> Vec<Action> {
    let r = match result {
        Ok(r) => r,
        Err(e) => return failed(app, tag, e),
    };
    match (tag, r) {
        (Tag::Status, Reply::Status(s)) => dashboard::status(app, s),
        (Tag::Recent, Reply::Filings(rows)) => dashboard::recent(app, rows),
        (Tag::Browse { generation, kind }, Reply::Page(p)) => {
            if generation == app.browser.generation {
                return browser::reply(app, kind, p, ms);
            }
            return browser::stale_reply(app);
        }
        (Tag::License, Reply::License(l)) => return detail::license(app, *l),
        (Tag::Audit, Reply::Audit(a)) => detail::audit(app, a),
        (Tag::Receipt, Reply::Receipt(r)) => detail::receipt(app, *r),
        (Tag::Rejections, Reply::Rejections(r)) => rejections::data(app, r),
        (Tag::RejectedFiles, Reply::RejectedFiles(f)) => rejections::files(app, f),
        (Tag::Mail, Reply::Mail(m)) => mail::data(app, m),
        (Tag::Held, Reply::Held(h)) => review::held(app, h),
        (Tag::MonitorCells, Reply::Cells(rows)) => monitor::cells(app, rows),
        (Tag::MonitorExport, Reply::Monitor(rows)) => monitor::public(app, rows),
        (Tag::Action, r) => return action_done(app, r),
        (tag, other) => {
            app.say(format!("unexpected answer to {tag:?}: {}", kind_of(&other)));
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
                return browser::stale_reply(app);
            }
        }
        _ => app.say(e),
    }
    Vec::new()
}

/// A staff action of this console done: its outcome shown, and every view read again (the
/// daemon's `changed` event does the same for the actions of others).
fn action_done(app: &mut App, r: Reply) -> Vec<Action> {
    let text = match &r {
        Reply::Cancelled(c) => format!(
            "License {} is {}.\nThe filer is answered by follow-up ack {} (sequence {}), mailed.",
            c.license, c.status, c.ack_name, c.ack_sequence
        ),
        Reply::Decided(ds) if ds.len() > 8 => {
            let approved = ds.iter().filter(|d| d.license.is_some()).count();
            let mut acks: Vec<&str> = ds.iter().map(|d| d.ack_name.as_str()).collect();
            acks.sort_unstable();
            acks.dedup();
            format!(
                "{} decided: {approved} approved (licenses issued), {} rejected.\nThe filers are answered by {} follow-up acks, mailed.",
                ds.len(),
                ds.len() - approved,
                acks.len()
            )
        }
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
        Reply::Published(p) => {
            let mut t = format!(
                "The monitor is published: {} ({} files); current points at it.",
                p.dir, p.files
            );
            if !p.removed.is_empty() {
                t.push_str(&format!(
                    "\nOlder publications removed: {}.",
                    p.removed.join(", ")
                ));
            }
            t
        }
        _ => "done".into(),
    };
    app.modal = Some(Modal::Message {
        title: "Done".into(),
        text,
        error: false,
    });
    app.review.marked.clear();
    changed(app)
}
