//! The control socket `<data>/aim.sock` (spec section 9): versioned JSON-lines messages shared
//! by the daemon's server and its clients (the `aim` staff commands and the console).
//!
//! A request is one line `{"v":1,"id":N,"op":"…",…}`; the answer is one line with the same
//! `id`, `{"v":1,"id":N,"ok":{…}}` or `{"v":1,"id":N,"error":{"kind":…,"message":…}}`. After
//! `subscribe`, the server also sends event lines `{"v":1,"event":{…}}`.

pub mod client;
pub mod refusals;
pub mod server;
pub mod views;

use serde::{Deserialize, Serialize};

/// The protocol version; a client speaking another is told so.
pub const PROTOCOL: u32 = 1;

/// Longest request line the server reads (a request is small; this bounds memory).
pub const MAX_REQUEST: usize = 64 * 1024;

/// The socket's file name inside the data folder.
pub const SOCKET: &str = "aim.sock";

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestLine {
    pub v: u32,
    pub id: u64,
    #[serde(flatten)]
    pub request: Request,
}

/// Everything a client may ask. Reads need `viewer`, decisions `reviewer`, cancellations,
/// re-sends and mail retries `supervisor` (see [`Request::needs`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    /// Who the server takes the caller for, and its role.
    Hello,
    Status,
    LicenseShow {
        license: String,
    },
    LicenseCancel {
        license: String,
        reason: String,
    },
    Audit {
        license: Option<String>,
        limit: usize,
    },
    ReviewList,
    ReviewApprove {
        handles: Vec<String>,
    },
    ReviewReject {
        handles: Vec<String>,
        reason: String,
    },
    /// The public monitor: suppressed cells shown as `(D)`.
    MonitorExport {
        month: Option<String>,
    },
    /// Staff's unsuppressed monitor (confidential on screen).
    MonitorCells {
        month: Option<String>,
    },
    /// Publish the public monitor now (spec 7.2): into `out` (an absolute folder), or
    /// `[monitor] publish_dir`.
    MonitorPublish {
        out: Option<String>,
    },
    /// The newest filings, newest first.
    Recent {
        limit: usize,
    },
    /// The mail queue: waiting and dead messages.
    Mail,
    MailRetry {
        id: u64,
    },
    Resend {
        sender: String,
        sha256: String,
        seq: u32,
    },
    /// Live events on this connection from now on.
    Subscribe,
    /// One page of the license browser (the console), never the whole store.
    Browse(Box<crate::store::BrowseQuery>),
    /// A received file: its acks (first and follow-ups), deliveries and applications.
    Receipt {
        sender: String,
        sha256: String,
    },
    /// The filers' scorecard of the last `days` days (today included).
    Rejections {
        days: u32,
    },
    /// Files with a rejection, newest first: of a sender, with a code.
    RejectedFiles {
        sender: Option<String>,
        code: Option<String>,
        limit: usize,
    },
}

/// What a request needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Need {
    /// Anyone who can reach the socket: the public monitor.
    Public,
    Viewer,
    Reviewer,
    Supervisor,
}

impl Request {
    pub fn needs(&self) -> Need {
        match self {
            Request::MonitorExport { .. } => Need::Public,
            Request::ReviewApprove { .. } | Request::ReviewReject { .. } => Need::Reviewer,
            Request::LicenseCancel { .. }
            | Request::MailRetry { .. }
            | Request::Resend { .. }
            | Request::MonitorPublish { .. } => Need::Supervisor,
            _ => Need::Viewer,
        }
    }

    /// A short name for messages and the audit log.
    pub fn name(&self) -> &'static str {
        match self {
            Request::Hello => "hello",
            Request::Status => "status",
            Request::LicenseShow { .. } => "license show",
            Request::LicenseCancel { .. } => "license cancel",
            Request::Audit { .. } => "audit",
            Request::ReviewList => "review list",
            Request::ReviewApprove { .. } => "review approve",
            Request::ReviewReject { .. } => "review reject",
            Request::MonitorExport { .. } => "monitor export",
            Request::MonitorCells { .. } => "monitor cells",
            Request::MonitorPublish { .. } => "monitor publish",
            Request::Recent { .. } => "recent filings",
            Request::Mail => "mail queue",
            Request::MailRetry { .. } => "mail retry",
            Request::Resend { .. } => "re-send ack",
            Request::Subscribe => "subscribe",
            Request::Browse(_) => "browse licenses",
            Request::Receipt { .. } => "receipt",
            Request::Rejections { .. } => "rejections",
            Request::RejectedFiles { .. } => "rejected files",
        }
    }
}

/// Why a request was not done. The kind decides the exit code of the commands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// Not allowed (role, user), or not possible in the current state (already decided).
    Refused,
    NotFound,
    /// A malformed request or argument.
    Invalid,
    /// The daemon could not do it (store error); try again.
    Failed,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    pub kind: ErrorKind,
    pub message: String,
}

impl ApiError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> ApiError {
        ApiError {
            kind,
            message: message.into(),
        }
    }
    pub fn refused(m: impl Into<String>) -> ApiError {
        ApiError::new(ErrorKind::Refused, m)
    }
    pub fn not_found(m: impl Into<String>) -> ApiError {
        ApiError::new(ErrorKind::NotFound, m)
    }
    pub fn invalid(m: impl Into<String>) -> ApiError {
        ApiError::new(ErrorKind::Invalid, m)
    }
    pub fn failed(m: impl Into<String>) -> ApiError {
        ApiError::new(ErrorKind::Failed, m)
    }
}

/// An answer line, or an event line.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResponseLine {
    pub v: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ok: Option<views::Reply>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<Event>,
}

/// What the daemon tells subscribers as it happens.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    /// A file was answered.
    Filing(views::FilingRow),
    /// Staff changed something (a decision, a cancellation, mail): views may be stale.
    Changed { what: String },
    /// A message's delivery was settled (sent, retrying, dead): mail views may be stale.
    Mail {
        id: u64,
        state: crate::store::MailState,
    },
    /// Intake health changed.
    Health { problems: Vec<String> },
    /// This connection missed events (it read too slowly): refresh.
    Lagged { missed: u64 },
}
