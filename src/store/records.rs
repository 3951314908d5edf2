//! The records the store keeps, as they are encoded (see `codec`).

use super::codec::utf8_bytes;
use crate::filing::model::{LicenseData, LicenseNumber};
use crate::filing::rules::{AppStatus, AppVerdict};
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One arrival of a file: the first, or an identical re-delivery.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    pub file_name: String,
    pub ack_name: String,
    pub received_at: DateTime<Utc>,
    /// Archive path relative to `<data>/archive`.
    pub archive: String,
    pub done: bool,
}

/// A follow-up acknowledgement of a file (a review decision or a staff cancellation).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FollowUp {
    pub seq: u32,
    pub ack_name: String,
    #[serde(with = "utf8_bytes")]
    pub ack: Vec<u8>,
    pub at: DateTime<Utc>,
    pub by: Actor,
    /// Written to the outbox.
    pub done: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppSummary {
    pub id: Option<String>,
    pub status: AppStatus,
    pub license: Option<LicenseNumber>,
}

/// The outcome of a file: decided from the verdict by the rules; stored in receipts under
/// the same names as always.
pub use crate::filing::rules::FileStatus;

/// What was received from a sender, and the exact acks it got.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    pub sender: String,
    pub sha256: String,
    pub control_number: Option<u32>,
    /// `SenderId` and `ControlNumber` as written, echoed by follow-up acks.
    pub sender_id: Option<String>,
    pub control_text: Option<String>,
    pub status: FileStatus,
    pub file_error: Option<String>,
    #[serde(with = "utf8_bytes")]
    pub ack: Vec<u8>,
    pub apps: Vec<AppSummary>,
    pub deliveries: Vec<Delivery>,
    pub followups: Vec<FollowUp>,
}

impl Receipt {
    /// The next `AckSequence` of this file.
    pub fn next_ack_sequence(&self) -> u32 {
        2 + u32::try_from(self.followups.len()).unwrap_or(u32::MAX - 2)
    }

    pub fn finished(&self) -> bool {
        self.deliveries.iter().all(|d| d.done) && self.followups.iter().all(|f| f.done)
    }
}

/// Who did something: the daemon on its own (intake), or a staff user.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Actor {
    Daemon,
    Staff(String),
}

impl Actor {
    /// `daemon`, or the staff user's name.
    pub fn name(&self) -> &str {
        match self {
            Actor::Daemon => "daemon",
            Actor::Staff(u) => u,
        }
    }
}

impl std::fmt::Display for Actor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LicenseStatus {
    Active,
    Cancelled,
}

/// What happened to a license.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LicenseAction {
    Issued,
    Corrected,
    Cancelled,
}

impl LicenseAction {
    pub fn as_str(self) -> &'static str {
        match self {
            LicenseAction::Issued => "issued",
            LicenseAction::Corrected => "corrected",
            LicenseAction::Cancelled => "cancelled",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LicenseEvent {
    pub at: DateTime<Utc>,
    pub action: LicenseAction,
    pub by: Actor,
    /// The file that asked for it (its SHA-256), and the application in it.
    pub receipt: String,
    pub app_id: Option<String>,
    pub reason: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct License {
    pub number: LicenseNumber,
    pub sender: String,
    pub status: LicenseStatus,
    pub valid_from: NaiveDate,
    pub valid_through: NaiveDate,
    pub data: LicenseData,
    pub history: Vec<LicenseEvent>,
}

impl License {
    /// `issued`, `corrected` or `cancelled` (spec section 9).
    pub fn status_name(&self) -> &'static str {
        if self.status == LicenseStatus::Cancelled {
            "cancelled"
        } else if self
            .history
            .iter()
            .any(|e| e.action == LicenseAction::Corrected)
        {
            "corrected"
        } else {
            "issued"
        }
    }

    /// The event that issued it: its file and application.
    pub fn issuing_event(&self) -> Option<&LicenseEvent> {
        self.history
            .iter()
            .find(|e| e.action == LicenseAction::Issued)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MailState {
    Queued,
    Retrying,
    Sent,
    Dead,
}

impl MailState {
    pub fn as_str(self) -> &'static str {
        match self {
            MailState::Queued => "queued",
            MailState::Retrying => "retrying",
            MailState::Sent => "sent",
            MailState::Dead => "dead",
        }
    }
}

/// One message waiting for (or done with) delivery.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailJob {
    pub id: u64,
    pub sender: String,
    pub to: Vec<String>,
    pub ack_name: String,
    /// The ack file's exact bytes: attached as they are, and the summary is read from them.
    /// Empty when `ack_of` names the receipt that holds them (a file's first ack is kept
    /// once, in its receipt, not again in each mail job).
    #[serde(with = "utf8_bytes")]
    pub ack: Vec<u8>,
    /// The SHA-256 (hex) of the file whose receipt (of `sender`) holds this job's ack: its
    /// first ack.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ack_of: Option<String>,
    pub created_at: DateTime<Utc>,
    pub attempts: u32,
    pub next_attempt: DateTime<Utc>,
    pub state: MailState,
    pub last_error: Option<String>,
    pub sent_at: Option<DateTime<Utc>>,
}

/// The mail queue at a glance.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailCounts {
    pub queued: usize,
    pub retrying: usize,
    pub dead: usize,
}

/// What an audit event records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    /// A file was received and answered.
    Receive,
    /// Identical bytes again: the original ack sent again.
    Duplicate,
    Correct,
    Cancel,
    Hold,
    Approve,
    Reject,
    /// An ack mailed again on a supervisor's request.
    Resend,
    /// A dead letter queued again.
    RetryMail,
    /// A read request of a staff user (only refusals of reads are recorded).
    Read,
    /// The public monitor published (by staff, or by the daemon on its schedule).
    Publish,
}

impl AuditAction {
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::Receive => "receive",
            AuditAction::Duplicate => "duplicate",
            AuditAction::Correct => "correct",
            AuditAction::Cancel => "cancel",
            AuditAction::Hold => "hold",
            AuditAction::Approve => "approve",
            AuditAction::Reject => "reject",
            AuditAction::Resend => "resend",
            AuditAction::RetryMail => "retry_mail",
            AuditAction::Read => "read",
            AuditAction::Publish => "publish",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Done,
    Refused,
    /// Tried and not done (a publication the disk refused).
    Failed,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Done => "done",
            Outcome::Refused => "refused",
            Outcome::Failed => "failed",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    pub at: DateTime<Utc>,
    pub actor: Actor,
    pub action: AuditAction,
    /// What it was about: a file, a license, a handle, a mail id.
    pub subject: String,
    pub outcome: Outcome,
    pub detail: String,
}

/// An answered file, as the dashboard lists it (the store keeps the newest).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filed {
    /// Orders the newest first; assigned when stored.
    pub id: u64,
    pub at: DateTime<Utc>,
    pub sender: String,
    pub file_name: String,
    pub sha256: String,
    /// `accepted`, `partial`, `rejected`, with ` (duplicate)` for identical bytes again.
    pub status: String,
    pub applications: u64,
    pub licenses: u64,
    /// Applications held for review (absent in records of older releases: none).
    #[serde(default)]
    pub held: u64,
    pub ack_name: String,
}

/// An application held for review, with everything needed to decide it later.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingApp {
    pub sender: String,
    pub receipt: String,
    pub file_name: String,
    pub received_at: DateTime<Utc>,
    pub control_number: Option<u32>,
    pub verdict: AppVerdict,
}

impl PendingApp {
    /// `<SenderId>:<ControlNumber>:<Application id>` (spec section 9).
    pub fn handle(&self) -> String {
        format!(
            "{}:{}:{}",
            self.sender,
            self.control_number
                .map_or_else(String::new, |n| n.to_string()),
            self.verdict.id.as_deref().unwrap_or("")
        )
    }
}

/// How a held application was decided.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    Approved { license: LicenseNumber },
    Rejected { reason: String },
}

/// A decided application: kept so that a second decision is refused with who and when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decided {
    pub handle: String,
    pub by: Actor,
    pub at: DateTime<Utc>,
    pub decision: Decision,
}

/// An aggregate cell of the monitor.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cell {
    pub licenses: i64,
    pub kg: Decimal,
    pub usd: Decimal,
    /// Licenses per partner (the `SenderId` that issued them) and importer (as filed, trimmed):
    /// what the suppression rule of spec 7.1 needs, kept here so that no query scans licenses.
    pub filers: BTreeMap<String, BTreeMap<String, i64>>,
}

impl Cell {
    /// The distinct importers of the cell.
    pub fn importers(&self) -> std::collections::BTreeSet<&str> {
        self.filers
            .values()
            .flat_map(|m| m.iter().filter(|(_, n)| **n > 0).map(|(i, _)| i.as_str()))
            .collect()
    }
}

/// One UTC day's intake, for `aim status` and the dashboard.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayStats {
    /// Files received (identical re-deliveries included).
    pub files: u64,
    /// Files whose first ack says rejected: a file-level error, or every application
    /// rejected (docs/format.md, "Rejected files").
    pub files_rejected: u64,
    pub applications: u64,
    pub licenses_issued: u64,
    /// Applications rejected (by the rules, or by a reviewer).
    pub rejected: u64,
    pub held: u64,
}
