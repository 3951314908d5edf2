//! What the server answers, as the commands print it with `--json` (spec section 9): decimals
//! as strings, times RFC 3339 UTC. Built from store records by plain functions.

use crate::config::Role;
use crate::filing::model::{EntryType, Manufacturers, Product, fixed};
use crate::store::{
    self, AuditAction, AuditEvent, FileStatus, License, LicenseAction, MailJob, Outcome, PendingApp,
};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// Every answer, tagged by kind.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "data", rename_all = "snake_case")]
pub enum Reply {
    Hello(HelloView),
    Status(StatusView),
    License(Box<LicenseView>),
    Cancelled(CancelView),
    Audit(Vec<AuditView>),
    Held(Vec<HeldView>),
    Decided(Vec<DecisionView>),
    Monitor(Vec<crate::monitor::Row>),
    Cells(Vec<crate::monitor::StaffRow>),
    Published(crate::publish::Published),
    Filings(Vec<FilingRow>),
    Mail(MailView),
    /// A done action that has nothing more to show.
    Done {
        message: String,
    },
    Subscribed,
    Page(crate::store::BrowsePage),
    Receipt(Box<ReceiptView>),
    Rejections(crate::store::Rejections),
    RejectedFiles(Vec<crate::store::RejectedFile>),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HelloView {
    pub user: String,
    /// `viewer`, `reviewer`, `supervisor`, or `none` for a user not on the staff list.
    #[serde(with = "role_wire")]
    pub role: Option<Role>,
    pub version: String,
    pub data: String,
}

/// A role on the wire: its name, `none` for a user not on the staff list.
mod role_wire {
    use crate::config::Role;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(r: &Option<Role>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(crate::api::server::role_name(*r))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Role>, D::Error> {
        match String::deserialize(d)?.as_str() {
            "viewer" => Ok(Some(Role::Viewer)),
            "reviewer" => Ok(Some(Role::Reviewer)),
            "supervisor" => Ok(Some(Role::Supervisor)),
            "none" => Ok(None),
            other => Err(serde::de::Error::custom(format!("unknown role {other:?}"))),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusView {
    /// The UTC day the `_today` counts are for.
    pub day: NaiveDate,
    pub files_today: u64,
    pub files_rejected_today: u64,
    pub applications_today: u64,
    pub licenses_issued_today: u64,
    /// Applications rejected today (by the rules or by a reviewer).
    pub rejected_today: u64,
    pub held_today: u64,
    pub pending_review: u64,
    pub licenses_on_record: u64,
    pub mail_queued: u64,
    pub mail_retrying: u64,
    pub mail_dead: u64,
    /// Intake is paused (the outbox or the data disk cannot be written): files wait, safe.
    /// Absent in replies of older daemons: read as running.
    #[serde(default)]
    pub intake_paused: bool,
    /// What keeps intake or mail from running as it should, in words; empty when healthy.
    pub problems: Vec<String>,
    /// The newest errors the daemon logged, newest first.
    pub last_errors: Vec<String>,
    pub started_at: DateTime<Utc>,
    pub version: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductView {
    pub line: u16,
    /// Ten digits, without dots.
    pub hts: String,
    pub description: String,
    pub category: String,
    pub largest_smelt: String,
    pub second_largest_smelt: String,
    pub most_recent_cast: String,
    pub quantity_kg: String,
    pub value_usd: String,
    pub unit_value_usd_per_mt: String,
}

impl ProductView {
    pub fn of(p: &Product) -> ProductView {
        ProductView {
            line: p.line,
            hts: p.hts.digits().to_owned(),
            description: p.description.clone(),
            category: p.category().name().to_owned(),
            largest_smelt: p.largest_smelt.key().to_owned(),
            second_largest_smelt: p.second_smelt.key().to_owned(),
            most_recent_cast: p.cast.as_str().to_owned(),
            quantity_kg: fixed(p.quantity.0, 3),
            value_usd: fixed(p.value.0, 2),
            unit_value_usd_per_mt: fixed(p.unit_value(), 2),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryView {
    pub at: DateTime<Utc>,
    /// `issued`, `corrected`, `cancelled`.
    pub action: LicenseAction,
    /// `daemon` for a filing, or the staff user.
    pub by: String,
    pub file_sha256: String,
    pub application: Option<String>,
    pub reason: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LicenseView {
    pub license: String,
    /// `issued`, `corrected` or `cancelled`.
    pub status: String,
    pub sender: String,
    pub importer: String,
    pub exporter: String,
    pub manufacturers: Vec<String>,
    pub entry_type: String,
    pub entry_number: Option<String>,
    pub country_of_origin: String,
    pub country_of_exportation: String,
    pub expected_export_date: NaiveDate,
    pub expected_import_date: NaiveDate,
    pub port_of_entry: String,
    pub filer_company: String,
    pub filer_contact: String,
    pub filer_email: String,
    pub valid_from: NaiveDate,
    pub valid_through: NaiveDate,
    pub total_value_usd: String,
    pub products: Vec<ProductView>,
    pub history: Vec<HistoryView>,
}

impl LicenseView {
    pub fn of(l: &License) -> LicenseView {
        let d = &l.data;
        LicenseView {
            license: l.number.to_string(),
            status: l.status_name().to_owned(),
            sender: l.sender.clone(),
            importer: d.importer.clone(),
            exporter: d.exporter.clone(),
            manufacturers: match &d.manufacturers {
                Manufacturers::Named(v) => v.clone(),
                Manufacturers::Unknown => vec!["UNKNOWN".into()],
            },
            entry_type: match d.entry_type {
                EntryType::Consumption => "consumption".into(),
                EntryType::Ftz => "ftz".into(),
            },
            entry_number: d.entry_number.as_ref().map(ToString::to_string),
            country_of_origin: d.origin.as_str().to_owned(),
            country_of_exportation: d.export_country.as_str().to_owned(),
            expected_export_date: d.export_date,
            expected_import_date: d.import_date,
            port_of_entry: d.port.clone(),
            filer_company: d.filer.company.clone(),
            filer_contact: d.filer.contact_name.clone(),
            filer_email: d.filer.email.clone(),
            valid_from: l.valid_from,
            valid_through: l.valid_through,
            total_value_usd: fixed(d.total_value(), 2),
            products: d.products.iter().map(ProductView::of).collect(),
            history: l
                .history
                .iter()
                .map(|e| HistoryView {
                    at: e.at,
                    action: e.action,
                    by: e.by.name().to_owned(),
                    file_sha256: e.receipt.clone(),
                    application: e.app_id.clone(),
                    reason: e.reason.clone(),
                })
                .collect(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CancelView {
    pub license: String,
    pub status: String,
    /// The follow-up ack that answered the filer.
    pub ack_name: String,
    pub ack_sequence: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditView {
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: AuditAction,
    pub subject: String,
    pub outcome: Outcome,
    pub detail: String,
}

impl AuditView {
    pub fn of(e: &AuditEvent) -> AuditView {
        AuditView {
            at: e.at,
            actor: e.actor.name().to_owned(),
            action: e.action,
            subject: e.subject.clone(),
            outcome: e.outcome,
            detail: e.detail.clone(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReasonView {
    pub code: String,
    pub path: String,
    pub detail: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldView {
    /// `<SenderId>:<ControlNumber>:<Application id>`, the control number as a plain number
    /// (spec section 9): what a decision names.
    pub handle: String,
    /// The same with the control number as filed (`DEMO:001000007:A2`), for the screen.
    #[serde(default)]
    pub handle_as_filed: String,
    pub sender: String,
    pub control_number: Option<u32>,
    pub application: Option<String>,
    /// `new` or `correct`.
    pub action: String,
    /// The license a held correction would replace.
    pub license: Option<String>,
    pub file_name: String,
    pub file_sha256: String,
    pub received_at: DateTime<Utc>,
    /// The R codes, in order, each once.
    pub reasons: Vec<String>,
    pub details: Vec<ReasonView>,
    pub importer: Option<String>,
    pub country_of_origin: Option<String>,
    pub expected_import_date: Option<NaiveDate>,
    pub products: Vec<ProductView>,
}

impl HeldView {
    /// The handle as the screen shows it: with the control number as filed.
    pub fn shown_handle(&self) -> &str {
        if self.handle_as_filed.is_empty() {
            &self.handle
        } else {
            &self.handle_as_filed
        }
    }

    pub fn of(p: &PendingApp) -> HeldView {
        let v = &p.verdict;
        let mut reasons: Vec<String> = Vec::new();
        for h in &v.held_for {
            let c = h.code.as_str().to_owned();
            if !reasons.contains(&c) {
                reasons.push(c);
            }
        }
        let products = v
            .data
            .as_ref()
            .map(|d| d.products.iter().map(ProductView::of).collect())
            .unwrap_or_default();
        HeldView {
            handle: p.handle(),
            handle_as_filed: p.handle(),
            sender: p.sender.clone(),
            control_number: p.control_number,
            application: v.id.clone(),
            action: v.action.map_or("new", |a| a.as_str()).to_owned(),
            license: v.license.map(|n| n.to_string()),
            file_name: p.file_name.clone(),
            file_sha256: p.receipt.clone(),
            received_at: p.received_at,
            reasons,
            details: v
                .held_for
                .iter()
                .map(|h| ReasonView {
                    code: h.code.as_str().to_owned(),
                    path: h.path.clone(),
                    detail: h.detail.clone(),
                })
                .collect(),
            importer: v.data.as_ref().map(|d| d.importer.clone()),
            country_of_origin: v.data.as_ref().map(|d| d.origin.as_str().to_owned()),
            expected_import_date: v.data.as_ref().map(|d| d.import_date),
            products,
        }
    }
}

/// The held applications with their handles as filed: each file's control number as it was
/// written, read once a file.
pub fn held_as_filed(
    held: &[PendingApp],
    db: &store::Store,
) -> Result<Vec<HeldView>, store::StoreError> {
    let mut texts: std::collections::HashMap<String, Option<String>> = Default::default();
    let mut out = Vec::with_capacity(held.len());
    for p in held {
        let mut v = HeldView::of(p);
        if !texts.contains_key(&p.receipt) {
            let text = match store::sha_from_hex(&p.receipt) {
                Ok(sha) => db.receipt(&p.sender, &sha)?.and_then(|r| r.control_text),
                Err(_) => None,
            };
            texts.insert(p.receipt.clone(), text);
        }
        if let Some(Some(t)) = texts.get(&p.receipt) {
            v.handle_as_filed = format!(
                "{}:{}:{}",
                p.sender,
                t,
                p.verdict.id.as_deref().unwrap_or("")
            );
        }
        out.push(v);
    }
    Ok(out)
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecisionView {
    pub handle: String,
    /// `approved` or `rejected`.
    pub decision: String,
    pub license: Option<String>,
    pub reason: Option<String>,
    /// The follow-up ack that answered the file.
    pub ack_name: String,
    pub ack_sequence: u32,
}

/// One answered file, as the dashboard lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilingRow {
    pub at: DateTime<Utc>,
    pub sender: String,
    pub file_name: String,
    pub file_sha256: String,
    /// `accepted`, `partial`, `rejected`, with ` (duplicate)` for identical bytes again.
    pub status: String,
    pub applications: u64,
    pub licenses: u64,
    /// Applications held for review (0 from older daemons).
    #[serde(default)]
    pub held: u64,
    pub ack_name: String,
}

impl FilingRow {
    /// The outcome as the dashboard says it: `accepted, 1 held` when applications wait for a
    /// reviewer (the ack says accepted or partial either way).
    pub fn outcome(&self) -> String {
        if self.held > 0 {
            format!("{}, {} held", self.status, self.held)
        } else {
            self.status.clone()
        }
    }
}

impl From<store::Filed> for FilingRow {
    fn from(f: store::Filed) -> FilingRow {
        FilingRow {
            at: f.at,
            sender: f.sender,
            file_name: f.file_name,
            file_sha256: f.sha256,
            status: f.status,
            applications: f.applications,
            licenses: f.licenses,
            held: f.held,
            ack_name: f.ack_name,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailJobView {
    pub id: u64,
    pub sender: String,
    pub to: Vec<String>,
    pub ack_name: String,
    /// `queued`, `retrying`, `sent`, `dead`.
    pub state: store::MailState,
    pub attempts: u32,
    pub created_at: DateTime<Utc>,
    pub next_attempt: DateTime<Utc>,
    pub last_error: Option<String>,
    /// When it was delivered (sent messages).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_at: Option<DateTime<Utc>>,
}

impl MailJobView {
    pub fn of(j: &MailJob) -> MailJobView {
        MailJobView {
            id: j.id,
            sender: j.sender.clone(),
            to: j.to.clone(),
            ack_name: j.ack_name.clone(),
            state: j.state,
            attempts: j.attempts,
            created_at: j.created_at,
            next_attempt: j.next_attempt,
            last_error: j.last_error.clone(),
            sent_at: j.sent_at,
        }
    }

    /// `sent after 1 attempt`, `dead after 5 attempts`, `queued, not tried yet`.
    pub fn state_words(&self) -> String {
        match self.attempts {
            0 => format!("{}, not tried yet", self.state.as_str()),
            1 => format!("{} after 1 attempt", self.state.as_str()),
            n => format!("{} after {n} attempts", self.state.as_str()),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailView {
    pub waiting: Vec<MailJobView>,
    pub dead: Vec<MailJobView>,
    /// Messages delivered, newest first (the latest few hundred).
    #[serde(default)]
    pub sent: Vec<MailJobView>,
}

/// One error or warning of an ack, as the ack states it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AckIssueView {
    /// `error` or `warning`.
    pub kind: String,
    /// The application's id, none for a file-level error.
    pub application: Option<String>,
    pub code: String,
    pub path: String,
    pub line: Option<u32>,
    pub column: Option<u32>,
    pub message: String,
}

/// One ack of a file: the first (sequence 1) or a follow-up, with its mail.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AckView {
    pub seq: u32,
    pub name: String,
    pub at: DateTime<Utc>,
    pub by: String,
    pub written: bool,
    pub xml: String,
    pub issues: Vec<AckIssueView>,
    /// Its mail messages: `queued`, `retrying`, `sent`, `dead` with the last error.
    pub mail: Vec<MailJobView>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryView {
    pub file_name: String,
    pub ack_name: String,
    pub received_at: DateTime<Utc>,
    pub archive: String,
    pub done: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppSummaryView {
    pub id: Option<String>,
    pub status: String,
    pub license: Option<String>,
}

/// A received file (`Request::Receipt`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptView {
    pub sender: String,
    pub sha256: String,
    pub control_number: Option<u32>,
    /// The control number as filed (`001000007`), which staff screens show.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub control_text: Option<String>,
    pub status: FileStatus,
    pub file_error: Option<String>,
    pub deliveries: Vec<DeliveryView>,
    pub applications: Vec<AppSummaryView>,
    pub acks: Vec<AckView>,
}

impl ReceiptView {
    pub fn of(r: &store::Receipt, mail: &[MailJob]) -> ReceiptView {
        let first_at = r
            .deliveries
            .first()
            .map(|d| d.received_at)
            .unwrap_or_default();
        let mail_of = |name: &str| -> Vec<MailJobView> {
            mail.iter()
                .filter(|j| j.ack_name == name)
                .map(MailJobView::of)
                .collect()
        };
        let mut acks = Vec::new();
        for d in &r.deliveries {
            let xml = String::from_utf8_lossy(&r.ack).into_owned();
            acks.push(AckView {
                seq: 1,
                name: d.ack_name.clone(),
                at: d.received_at,
                by: "daemon".into(),
                written: d.done,
                issues: ack_issues(&xml),
                xml,
                mail: mail_of(&d.ack_name),
            });
        }
        for f in &r.followups {
            let xml = String::from_utf8_lossy(&f.ack).into_owned();
            acks.push(AckView {
                seq: f.seq,
                name: f.ack_name.clone(),
                at: f.at,
                by: f.by.name().to_owned(),
                written: f.done,
                issues: ack_issues(&xml),
                xml,
                mail: mail_of(&f.ack_name),
            });
        }
        let _ = first_at;
        ReceiptView {
            sender: r.sender.clone(),
            sha256: r.sha256.clone(),
            control_number: r.control_number,
            control_text: r.control_text.clone(),
            status: r.status,
            file_error: r.file_error.clone(),
            deliveries: r
                .deliveries
                .iter()
                .map(|d| DeliveryView {
                    file_name: d.file_name.clone(),
                    ack_name: d.ack_name.clone(),
                    received_at: d.received_at,
                    archive: d.archive.clone(),
                    done: d.done,
                })
                .collect(),
            applications: r
                .apps
                .iter()
                .map(|a| AppSummaryView {
                    id: a.id.clone(),
                    status: a.status.as_str().to_owned(),
                    license: a.license.map(|n| n.to_string()),
                })
                .collect(),
            acks,
        }
    }
}

impl ReceiptView {
    /// Each application as it stands now rather than as the first ack answered it: a license
    /// cancelled or corrected since, a held application decided since.
    pub fn as_they_stand(&mut self, db: &store::Store) -> Result<(), store::StoreError> {
        for a in &mut self.applications {
            if let Some(n) = a
                .license
                .as_deref()
                .and_then(crate::filing::model::LicenseNumber::parse)
                && let Some(l) = db.license(n)?
            {
                a.status = l.status_name().to_owned();
                continue;
            }
            if a.status == crate::filing::rules::AppStatus::PendingReview.as_str()
                && let (Some(control), Some(id)) = (self.control_number, a.id.clone())
            {
                let h = store::Handle {
                    sender: self.sender.clone(),
                    control,
                    app_id: id,
                };
                if let store::HeldLookup::Decided(d) = db.lookup_handle(&h)? {
                    match d.decision {
                        store::Decision::Approved { license } => {
                            a.status = "issued".into();
                            a.license = Some(license.to_string());
                        }
                        store::Decision::Rejected { .. } => a.status = "rejected".into(),
                    }
                }
            }
        }
        Ok(())
    }
}

/// The `Error` and `Warning` elements of an ack (spec section 4), with their application.
/// The acks are the daemon's own documents: a part it cannot read is left out.
#[allow(clippy::too_many_lines)] // one pass of the ack reader: each XML event in its arm
pub fn ack_issues(xml: &str) -> Vec<AckIssueView> {
    use quick_xml::events::Event as X;
    fn local(q: &str) -> &str {
        q.rsplit(':').next().unwrap_or(q)
    }
    fn entity(name: &str) -> Option<char> {
        match name {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => {
                let n = if let Some(h) = name.strip_prefix("#x") {
                    u32::from_str_radix(h, 16).ok()
                } else {
                    name.strip_prefix('#').and_then(|d| d.parse().ok())
                };
                n.and_then(char::from_u32)
            }
        }
    }
    fn unescape(raw: &str) -> String {
        let mut out = String::new();
        let mut rest = raw;
        while let Some(i) = rest.find('&') {
            out.push_str(&rest[..i]);
            match rest[i..].find(';') {
                Some(end) => {
                    if let Some(c) = entity(&rest[i + 1..i + end]) {
                        out.push(c);
                    }
                    rest = &rest[i + end + 1..];
                }
                None => {
                    rest = "";
                }
            }
        }
        out.push_str(rest);
        out
    }
    let mut r = quick_xml::Reader::from_str(xml);
    let mut out = Vec::new();
    let mut app: Option<String> = None;
    let mut open: Option<AckIssueView> = None;
    loop {
        match r.read_event() {
            Ok(X::Start(e)) | Ok(X::Empty(e)) => {
                let name = local(e.name().0).to_owned();
                let attrs: Vec<(String, String)> = e
                    .attributes()
                    .flatten()
                    .map(|a| (local(a.key.0).to_owned(), unescape(&a.value)))
                    .collect();
                let attr = |k: &str| attrs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
                match name.as_str() {
                    "Application" => app = attr("id"),
                    "Error" | "Warning" => {
                        open = Some(AckIssueView {
                            kind: if name == "Error" { "error" } else { "warning" }.into(),
                            application: app.clone(),
                            code: attr("code").unwrap_or_default(),
                            path: attr("path").unwrap_or_default(),
                            line: attr("line").and_then(|v| v.parse().ok()),
                            column: attr("column").and_then(|v| v.parse().ok()),
                            message: String::new(),
                        });
                    }
                    _ => {}
                }
            }
            Ok(X::Text(t)) => {
                if let Some(i) = open.as_mut() {
                    i.message.push_str(&t.xml10_content());
                }
            }
            Ok(X::GeneralRef(g)) => {
                let name: &str = &g;
                if let Some(i) = open.as_mut()
                    && let Some(c) = entity(name)
                {
                    i.message.push(c);
                }
            }
            Ok(X::End(e)) => match local(e.name().0) {
                "Error" | "Warning" => {
                    if let Some(i) = open.take() {
                        out.push(i);
                    }
                }
                "Application" => app = None,
                _ => {}
            },
            Ok(X::Eof) | Err(_) => break,
            _ => {}
        }
    }
    out
}
