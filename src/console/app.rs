//! The console's state: everything render draws, nothing it fetches. Changed only by
//! [`super::update::update`].

use crate::api::views::{
    AuditView, FilingRow, HeldView, HelloView, LicenseView, MailView, ReceiptView, StatusView,
};
use crate::monitor::{Row, StaffRow};
use crate::store::{BrowseFilter, BrowseRow, RejectedFile, Rejections, Sort};
use chrono::{DateTime, Utc};
use std::collections::{BTreeSet, VecDeque};

/// The screens, in `Tab` order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Screen {
    Dashboard,
    Browser,
    Detail,
    Rejections,
    Mail,
    Review,
    Monitor,
}

impl Screen {
    pub const ALL: [Screen; 7] = [
        Screen::Dashboard,
        Screen::Browser,
        Screen::Detail,
        Screen::Rejections,
        Screen::Mail,
        Screen::Review,
        Screen::Monitor,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Screen::Dashboard => "Dashboard",
            Screen::Browser => "Filings & licenses",
            Screen::Detail => "Detail",
            Screen::Rejections => "Rejections",
            Screen::Mail => "Mail",
            Screen::Review => "Review",
            Screen::Monitor => "Monitor",
        }
    }

    pub fn index(self) -> usize {
        Screen::ALL.iter().position(|s| *s == self).unwrap_or(0)
    }

    /// The tab's title when the terminal is narrow.
    pub fn short(self) -> &'static str {
        match self {
            Screen::Dashboard => "Dash",
            Screen::Browser => "Licenses",
            Screen::Detail => "Detail",
            Screen::Rejections => "Rejects",
            Screen::Mail => "Mail",
            Screen::Review => "Review",
            Screen::Monitor => "Monitor",
        }
    }

    pub fn next(self) -> Screen {
        let i = Screen::ALL.iter().position(|s| *s == self).unwrap_or(0);
        Screen::ALL[(i + 1) % Screen::ALL.len()]
    }

    pub fn prev(self) -> Screen {
        let i = Screen::ALL.iter().position(|s| *s == self).unwrap_or(0);
        Screen::ALL[(i + Screen::ALL.len() - 1) % Screen::ALL.len()]
    }
}

/// The connection to the daemon, as the status bar tells it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Link {
    /// Not connected yet; why the last try failed, once one has.
    Connecting(Option<String>),
    Up,
    /// Lost (why); reconnecting by itself.
    Lost(String),
}

/// Roles in the order of what they allow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum RoleLevel {
    None,
    Viewer,
    Reviewer,
    Supervisor,
}

impl RoleLevel {
    pub fn of(role: Option<crate::config::Role>) -> RoleLevel {
        use crate::config::Role;
        match role {
            Some(Role::Viewer) => RoleLevel::Viewer,
            Some(Role::Reviewer) => RoleLevel::Reviewer,
            Some(Role::Supervisor) => RoleLevel::Supervisor,
            None => RoleLevel::None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            RoleLevel::None => "none",
            RoleLevel::Viewer => "viewer",
            RoleLevel::Reviewer => "reviewer",
            RoleLevel::Supervisor => "supervisor",
        }
    }
}

/// A staff action waiting for its confirmation (and perhaps a reason typed in).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pending {
    Cancel {
        license: String,
    },
    Resend {
        sender: String,
        sha256: String,
        seq: u32,
        ack: String,
    },
    Retry {
        id: u64,
        ack: String,
    },
    Approve {
        handles: Vec<String>,
    },
    Reject {
        handles: Vec<String>,
    },
    /// Publish the public monitor now (spec 7.2).
    Publish,
}

impl Pending {
    /// The role the daemon will ask for.
    pub fn needs(&self) -> RoleLevel {
        match self {
            Pending::Approve { .. } | Pending::Reject { .. } => RoleLevel::Reviewer,
            _ => RoleLevel::Supervisor,
        }
    }

    pub fn needs_reason(&self) -> bool {
        matches!(self, Pending::Cancel { .. } | Pending::Reject { .. })
    }

    /// What it does, in words, for the confirmation.
    pub fn describe(&self) -> String {
        match self {
            Pending::Cancel { license } => format!("Cancel license {license}"),
            Pending::Resend { ack, .. } => format!("Mail ack {ack} again to the filer"),
            Pending::Retry { id, ack } => format!("Queue dead letter {id} ({ack}) again"),
            Pending::Approve { handles } => format!("Approve {}", some(handles)),
            Pending::Reject { handles } => format!("Reject {}", some(handles)),
            Pending::Publish => {
                "Publish the public monitor now: a new publication of the website, seen by the public at once".into()
            }
        }
    }
}

/// A few handles by name, the rest counted: `DEMO:7:A1, DEMO:7:A2 and 288 more (290)`.
fn some(handles: &[String]) -> String {
    if handles.len() <= 3 {
        return handles.join(", ");
    }
    format!(
        "{} and {} more ({} applications)",
        handles[..2].join(", "),
        handles.len() - 2,
        handles.len()
    )
}

/// What covers the screen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Modal {
    Help,
    /// A reason being typed for a pending action.
    Reason {
        action: Pending,
        text: String,
    },
    Confirm {
        action: Pending,
        reason: Option<String>,
    },
    /// The outcome of an action, or a message, until a key is pressed.
    Message {
        title: String,
        text: String,
        error: bool,
    },
}

#[derive(Clone, Debug, Default)]
pub struct Dashboard {
    pub status: Option<StatusView>,
    /// Newest first.
    pub recent: VecDeque<FilingRow>,
    /// Files per interval (oldest first), from successive status counts.
    pub throughput: VecDeque<u64>,
    pub last_files: Option<u64>,
}

/// The license browser: a window of rows around the selection, paged from the daemon.
#[derive(Clone, Debug, Default)]
pub struct Browser {
    pub query: String,
    pub editing: bool,
    pub filter: BrowseFilter,
    pub query_error: Option<String>,
    pub sort: Sort,
    pub desc: bool,
    /// Rows of the window, in display order.
    pub rows: Vec<BrowseRow>,
    /// Position of `rows[0]`, where known.
    pub start: Option<u64>,
    pub selected: usize,
    /// Rows scrolled past the top of the table.
    pub offset: usize,
    pub total: Option<u64>,
    pub total_exact: bool,
    /// Nothing before `rows[0]` / after the last row.
    pub at_top: bool,
    pub at_bottom: bool,
    /// Where the walk goes on past the last row / before the first (a bounded scan that
    /// stopped early), when not at the rows' own cursors.
    pub next_after: Option<String>,
    pub prev_before: Option<String>,
    /// The generation of the query: replies to older ones are dropped.
    pub generation: u64,
    /// A page request in flight (forward, backward).
    pub loading: Option<bool>,
    /// Rows the selection still has to move (down positive) because the keys went past the
    /// loaded window while its next page was on the way: applied when the page arrives, so
    /// no keypress is lost.
    pub owed: i64,
    /// The search changed while a page was on its way: the new query goes when that page
    /// comes back (typing never queues a query a keystroke behind the daemon).
    pub requery_waiting: bool,
    pub plan: String,
    /// How long the newest page took, for the status line.
    pub last_ms: Option<u128>,
    /// The license to keep selected when the window is read again.
    pub keep: Option<String>,
}

impl Browser {
    pub fn selected_row(&self) -> Option<&BrowseRow> {
        self.rows.get(self.selected)
    }

    /// "row 1,234 of 1,000,000".
    pub fn position(&self) -> String {
        let row = self
            .start
            .map(|s| group(s + self.selected as u64 + 1))
            .unwrap_or_else(|| "?".into());
        let total = match (self.total, self.total_exact) {
            (Some(t), true) => group(t),
            (Some(t), false) => format!("at least {}", group(t)),
            (None, _) => "?".into(),
        };
        if self.rows.is_empty() {
            format!("no rows of {total}")
        } else {
            format!("row {row} of {total}")
        }
    }
}

/// Thousands grouped with commas: 1,000,000.
pub fn group(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[derive(Clone, Debug, Default)]
pub struct Detail {
    pub license: Option<LicenseView>,
    pub audit: Vec<AuditView>,
    pub receipt: Option<ReceiptView>,
    /// What is being loaded, for the screen.
    pub loading: Option<String>,
    pub error: Option<String>,
    pub scroll: u16,
    /// Where `Esc` goes.
    pub back: Option<Screen>,
}

/// Which list of the rejections screen has the focus.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RejFocus {
    #[default]
    Codes,
    Senders,
    Files,
}

/// Whose files the rejections screen lists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FilesOf {
    Code(String),
    Sender(String),
}

impl std::fmt::Display for FilesOf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FilesOf::Code(c) => write!(f, "code {c}"),
            FilesOf::Sender(s) => write!(f, "sender {s}"),
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct RejectionsState {
    pub days: u32,
    pub data: Option<Rejections>,
    pub focus: RejFocus,
    pub code_sel: usize,
    pub sender_sel: usize,
    /// The drill-down: what it lists, and the files.
    pub files_of: Option<FilesOf>,
    pub files: Vec<RejectedFile>,
    pub file_sel: usize,
}

#[derive(Clone, Debug, Default)]
pub struct MailState {
    pub data: Option<MailView>,
    pub selected: usize,
}

#[derive(Clone, Debug, Default)]
pub struct ReviewState {
    pub held: Vec<HeldView>,
    pub selected: usize,
    /// Handles marked with Space (or all shown with `A`).
    pub marked: BTreeSet<String>,
    pub loaded: bool,
    /// Words every row shown matches (a code, a country, an HTS start, a sender…).
    pub filter: String,
    pub filtering: bool,
}

#[derive(Clone, Debug, Default)]
pub struct MonitorState {
    /// Every month's staff rows (the daemon answers them in one request).
    pub rows: Vec<StaffRow>,
    pub public: Vec<Row>,
    pub months: Vec<String>,
    pub month: usize,
    pub dimension: usize,
    pub selected: usize,
    /// Show what the public export shows instead.
    pub public_preview: bool,
    pub loaded: bool,
}

impl MonitorState {
    pub fn month_name(&self) -> Option<&str> {
        self.months.get(self.month).map(String::as_str)
    }

    pub fn dimension_name(&self) -> &'static str {
        crate::store::DIMENSIONS[self.dimension % crate::store::DIMENSIONS.len()]
    }

    /// The staff rows of the month and dimension shown, by metric tons, largest first.
    pub fn shown(&self) -> Vec<&StaffRow> {
        let Some(m) = self.month_name() else {
            return Vec::new();
        };
        let dim = self.dimension_name();
        let mut v: Vec<&StaffRow> = self
            .rows
            .iter()
            .filter(|r| r.month == m && r.dimension == dim)
            .collect();
        v.sort_by(|a, b| {
            tons(&b.metric_tons)
                .total_cmp(&tons(&a.metric_tons))
                .then(a.key.cmp(&b.key))
        });
        v
    }

    /// The public rows of the month and dimension, exactly as the export has them: published
    /// rows by their metric tons, largest first, then the `(D)` rows by key. Nothing of a
    /// withheld figure orders them (spec 7.1).
    pub fn shown_public(&self) -> Vec<&Row> {
        let Some(m) = self.month_name() else {
            return Vec::new();
        };
        let dim = self.dimension_name();
        let mut v: Vec<&Row> = self
            .public
            .iter()
            .filter(|r| r.month == m && r.dimension == dim)
            .collect();
        v.sort_by(|a, b| {
            a.is_suppressed()
                .cmp(&b.is_suppressed())
                .then_with(|| tons(&b.metric_tons).total_cmp(&tons(&a.metric_tons)))
                .then(a.key.cmp(&b.key))
        });
        v
    }

    /// How many rows the table shows (the selection moves within them).
    pub fn row_count(&self) -> usize {
        if self.public_preview {
            self.shown_public().len()
        } else {
            self.shown().len()
        }
    }

    /// The selected key of the table shown.
    pub fn selected_key(&self) -> Option<String> {
        if self.public_preview {
            self.shown_public()
                .get(self.selected)
                .map(|r| r.key.clone())
        } else {
            self.shown().get(self.selected).map(|r| r.key.clone())
        }
    }

    /// The public preview's trend of the selected key: published metric tons by month, `None`
    /// for a withheld month (a gap), 0 for a month without licenses of that key.
    pub fn trend_public(&self) -> Vec<(String, Option<f64>)> {
        let Some(key) = self.selected_key() else {
            return Vec::new();
        };
        let dim = self.dimension_name();
        let upto = (self.month + 1).min(self.months.len());
        let from = upto.saturating_sub(12);
        self.months[from..upto]
            .iter()
            .map(|m| {
                let t = match self
                    .public
                    .iter()
                    .find(|r| &r.month == m && r.dimension == dim && r.key == key)
                {
                    Some(r) if r.is_suppressed() => None,
                    Some(r) => Some(tons(&r.metric_tons)),
                    None => Some(0.0),
                };
                (m.clone(), t)
            })
            .collect()
    }

    /// Metric tons of the selected key over the 12 months up to the one shown.
    pub fn trend(&self) -> Vec<(String, f64)> {
        let shown = self.shown();
        let Some(key) = shown.get(self.selected).map(|r| r.key.clone()) else {
            return Vec::new();
        };
        let dim = self.dimension_name();
        let upto = self.month + 1;
        let from = upto.saturating_sub(12);
        self.months[from..upto]
            .iter()
            .map(|m| {
                let t = self
                    .rows
                    .iter()
                    .find(|r| &r.month == m && r.dimension == dim && r.key == key)
                    .map_or(0.0, |r| tons(&r.metric_tons));
                (m.clone(), t)
            })
            .collect()
    }
}

/// A decimal of the monitor as a number for charts (never for figures shown as text).
pub fn tons(s: &str) -> f64 {
    s.parse().unwrap_or(0.0)
}

/// Everything the console shows.
#[derive(Clone, Debug)]
pub struct App {
    pub screen: Screen,
    pub modal: Option<Modal>,
    pub link: Link,
    pub hello: Option<HelloView>,
    /// "you (bob) are supervisor in this first-run session: not on the staff list".
    pub first_run_note: Option<String>,
    /// How this console came to be (attached to a running daemon, or running its own).
    pub mode_note: Option<String>,
    pub dashboard: Dashboard,
    /// The selected recent filing.
    pub recent_sel: usize,
    pub browser: Browser,
    pub detail: Detail,
    pub rejections: RejectionsState,
    pub mail: MailState,
    pub review: ReviewState,
    pub monitor: MonitorState,
    /// Rows of the terminal (for page sizes).
    pub height: u16,
    pub width: u16,
    /// The last line of feedback at the bottom, and the tick it was said at.
    pub flash: Option<String>,
    pub flash_tick: u64,
    /// Times in UTC instead of the local time zone.
    pub utc: bool,
    pub zone: Zone,
    /// Screens whose data changed since they were read, by [`Screen::index`].
    pub stale: [bool; 7],
    pub quit: bool,
    /// Ticks seen (one a second).
    pub ticks: u64,
}

impl App {
    pub fn new(height: u16, width: u16) -> App {
        App {
            screen: Screen::Dashboard,
            modal: None,
            link: Link::Connecting(None),
            hello: None,
            first_run_note: None,
            mode_note: None,
            dashboard: Dashboard::default(),
            recent_sel: 0,
            browser: Browser::default(),
            detail: Detail::default(),
            rejections: RejectionsState {
                days: 7,
                ..RejectionsState::default()
            },
            mail: MailState::default(),
            review: ReviewState::default(),
            monitor: MonitorState::default(),
            height,
            width,
            flash: None,
            flash_tick: 0,
            utc: false,
            zone: Zone::Utc,
            stale: [false; 7],
            quit: false,
            ticks: 0,
        }
    }

    pub fn role(&self) -> RoleLevel {
        self.hello
            .as_ref()
            .map_or(RoleLevel::None, |h| RoleLevel::of(h.role))
    }

    pub fn user(&self) -> &str {
        self.hello.as_ref().map_or("?", |h| h.user.as_str())
    }

    /// Why a key needing `need` is disabled for this user, if it is.
    pub fn disabled_why(&self, need: RoleLevel) -> Option<String> {
        (self.role() < need).then(|| {
            format!(
                "needs {}; you ({}) are {}",
                need.name(),
                self.user(),
                self.role().name()
            )
        })
    }

    /// Table rows that fit on the screen (for paging).
    pub fn page_rows(&self) -> usize {
        usize::from(self.height.saturating_sub(10)).max(3)
    }

    /// Lines inside the body's box (tabs, status line, footer and borders taken off).
    pub fn body_rows(&self) -> u16 {
        self.height.saturating_sub(5).max(1)
    }

    /// A status message at the bottom, until a key or a few seconds pass.
    pub fn say(&mut self, text: String) {
        self.flash = Some(text);
        self.flash_tick = self.ticks;
    }

    pub fn mark_stale(&mut self, s: Screen) {
        self.stale[s.index()] = true;
    }

    /// Whether `s` was stale (it is not any more: the caller reads it again).
    pub fn take_stale(&mut self, s: Screen) -> bool {
        std::mem::take(&mut self.stale[s.index()])
    }

    /// A time as staff read it: local (or UTC with `t`), to the second.
    pub fn time(&self, t: DateTime<Utc>) -> String {
        self.time_fmt(t, "%Y-%m-%d %H:%M:%S")
    }

    pub fn time_fmt(&self, t: DateTime<Utc>, fmt: &str) -> String {
        if self.utc {
            return t.format(fmt).to_string();
        }
        match self.zone {
            Zone::Utc => t.format(fmt).to_string(),
            Zone::Fixed(o) => t.with_timezone(&o).format(fmt).to_string(),
            Zone::Local => t.with_timezone(&chrono::Local).format(fmt).to_string(),
        }
    }

    /// The zone times are shown in, for labels: `UTC` or `local UTC+01:00`.
    pub fn zone_name(&self) -> String {
        let offset = match (self.utc, self.zone) {
            (true, _) | (false, Zone::Utc) => return "UTC".into(),
            (false, Zone::Fixed(o)) => o,
            (false, Zone::Local) => *chrono::Local::now().offset(),
        };
        if offset.local_minus_utc() == 0 {
            "local = UTC".into()
        } else {
            format!("local UTC{offset}")
        }
    }
}

/// The staff member's time zone: the process's (`TZ`, else /etc/localtime), or a fixed one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Zone {
    Utc,
    Fixed(chrono::FixedOffset),
    Local,
}

/// The lists a click can select a row of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListArea {
    Recent,
    Browser,
    Review,
    Mail,
    Rejections(RejFocus),
    Monitor,
}

impl App {
    /// The selected row of a list, as a click compares it.
    pub fn selected_index(&self, a: ListArea) -> Option<usize> {
        Some(match a {
            ListArea::Recent => self.recent_selected(),
            ListArea::Browser => self.browser.selected,
            ListArea::Review => self.review.selected,
            ListArea::Mail => self.mail.selected,
            ListArea::Rejections(f) => {
                if self.rejections.focus != f {
                    return None;
                }
                match f {
                    RejFocus::Codes => self.rejections.code_sel,
                    RejFocus::Senders => self.rejections.sender_sel,
                    RejFocus::Files => self.rejections.file_sel,
                }
            }
            ListArea::Monitor => self.monitor.selected,
        })
    }
}
