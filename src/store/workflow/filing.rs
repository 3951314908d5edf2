//! Committing a judged file: settle each application, answer with the first ack, keep the
//! receipt, and record what the file did (dashboard, rejections, mail, day counts, audit).

use crate::filing::ack::{Ack, Issuance};
use crate::filing::model::LicenseNumber;
use crate::filing::rules::{AppStatus, AppVerdict, FileStatus};
use crate::store::change::{Tx, TxResult};
use crate::store::receipts::{self, Committed, NewFiling};
use crate::store::records::*;
use crate::store::{StoreError, keys};

/// The file being committed, as every step names it.
pub(in crate::store) struct File<'f> {
    f: &'f NewFiling<'f>,
    sha_hex: String,
    /// The receipt's key.
    rk: Vec<u8>,
}

impl<'f> File<'f> {
    pub(in crate::store) fn new(f: &'f NewFiling<'f>) -> File<'f> {
        File {
            f,
            sha_hex: hex::encode(f.facts.sha256),
            rk: keys::receipt(f.sender, &f.facts.sha256),
        }
    }
}

/// What settling the applications gave: one issuance each, in order, and the licenses
/// issued and otherwise touched.
#[derive(Default)]
pub(in crate::store) struct Settled {
    issuance: Vec<Issuance>,
    issued: Vec<LicenseNumber>,
    touched: Vec<LicenseNumber>,
}

/// Commit a judged file: the steps in order, in the caller's unit of change.
pub(in crate::store) fn commit(tx: &mut Tx<'_>, f: &NewFiling<'_>) -> TxResult<Committed> {
    let file = File::new(f);
    let mut settled = Settled::default();
    settle_all(tx, &file, &f.verdict.apps, &mut settled)?;
    conclude(tx, &file, settled)
}

/// Settle `apps`, the file's applications in order (all of them, or the next slice).
pub(in crate::store) fn settle_all(
    tx: &mut Tx<'_>,
    file: &File<'_>,
    apps: &[AppVerdict],
    settled: &mut Settled,
) -> TxResult<()> {
    for app in apps {
        let iss = settle(tx, file, app, settled)?;
        settled.issuance.push(iss);
    }
    Ok(())
}

/// Once every application is settled: the ack, the receipt and what the file did.
pub(in crate::store) fn conclude(
    tx: &mut Tx<'_>,
    file: &File<'_>,
    mut settled: Settled,
) -> TxResult<Committed> {
    let f = file.f;
    let ack = Ack::first(f.verdict, &f.facts, &settled.issuance).render();
    if f.verdict.reached_applications()
        && let Some(n) = f.verdict.control_value
    {
        receipts::claim_control(tx, f.sender, n, &f.facts.sha256)?;
    }
    let status = f.verdict.status();
    receipts::put_first(tx, &file.rk, &receipt(file, status, &settled), &ack)?;
    list_filed(tx, file, status, &settled)?;
    tx.note_rejections(
        f.sender,
        f.filing_day,
        f.facts.received_at,
        f.facts.file_name,
        &f.facts.sha256,
        f.verdict,
    )?;
    tx.enqueue_first_ack_mail(
        f.sender,
        f.mail_to,
        f.ack_name,
        &file.sha_hex,
        f.facts.received_at,
    )?;
    count_file(tx, f, status);
    audit_receipt(tx, file, status, &mut settled)?;
    Ok(Committed {
        ack,
        issued: settled.issued,
    })
}

/// One application's effect: a license issued, corrected or cancelled, a hold, or a
/// rejection counted. Its issuance is what the ack states.
fn settle(
    tx: &mut Tx<'_>,
    file: &File<'_>,
    app: &AppVerdict,
    settled: &mut Settled,
) -> TxResult<Issuance> {
    let f = file.f;
    let event = |action| LicenseEvent {
        at: f.facts.received_at,
        action,
        by: Actor::Daemon,
        receipt: file.sha_hex.clone(),
        app_id: app.id.clone(),
        reason: app.reason.clone(),
    };
    let lic = match (app.status, &app.data, app.license) {
        (AppStatus::Issued, Some(data), _) => {
            let lic = tx.issue(f.sender, data, f.filing_day, event(LicenseAction::Issued))?;
            settled.issued.push(lic.number);
            lic
        }
        (AppStatus::Corrected, Some(data), Some(n)) => {
            settled.touched.push(n);
            tx.correct(n, data, event(LicenseAction::Corrected))?
        }
        (AppStatus::Cancelled, _, Some(n)) => {
            settled.touched.push(n);
            tx.cancel(n, event(LicenseAction::Cancelled))?
        }
        (AppStatus::PendingReview, _, _) => {
            hold(tx, file, app)?;
            return Ok(Issuance::default());
        }
        (AppStatus::Rejected, _, _) => {
            tx.count(f.filing_day, |s| s.rejected += 1);
            return Ok(Issuance::default());
        }
        // A verdict without the data its status needs is the rules' bug: refuse to commit it
        // rather than answer the filer wrongly.
        (status, _, _) => {
            return Err(StoreError::Invalid(format!(
                "application {:?} is {} without the data it needs",
                app.id,
                status.as_str()
            )));
        }
    };
    Ok(Issuance {
        number: Some(lic.number),
        validity: Some((lic.valid_from, lic.valid_through)),
    })
}

/// Hold an application for review, with an audit event naming the reasons.
fn hold(tx: &mut Tx<'_>, file: &File<'_>, app: &AppVerdict) -> TxResult<()> {
    let f = file.f;
    let held = PendingApp {
        sender: f.sender.to_owned(),
        receipt: file.sha_hex.clone(),
        file_name: f.facts.file_name.to_owned(),
        received_at: f.facts.received_at,
        control_number: f.verdict.control_value,
        verdict: app.clone(),
    };
    tx.hold(&keys::hold(&file.rk, app.position), &held, f.filing_day)?;
    let codes: Vec<&str> = app.held_for.iter().map(|h| h.code.as_str()).collect();
    tx.audit(
        &AuditEvent {
            at: f.facts.received_at,
            actor: Actor::Daemon,
            action: AuditAction::Hold,
            subject: held.handle(),
            outcome: Outcome::Done,
            detail: format!(
                "held for review ({}) from {}",
                codes.join(", "),
                f.facts.file_name
            ),
        },
        &[],
    )
}

/// The receipt of the file, with its first delivery still to finish. The ack bytes are kept
/// beside it, not in it (rewriting the receipt never copies them).
fn receipt(file: &File<'_>, status: FileStatus, settled: &Settled) -> Receipt {
    let f = file.f;
    let v = f.verdict;
    Receipt {
        sender: f.sender.to_owned(),
        sha256: file.sha_hex.clone(),
        control_number: v.control_value,
        sender_id: v.sender_id.clone(),
        control_text: v.control_number.clone(),
        status,
        file_error: v.file_error.as_ref().map(|e| e.code.to_string()),
        ack: Vec::new(),
        apps: v
            .apps
            .iter()
            .zip(&settled.issuance)
            .map(|(a, i)| AppSummary {
                id: a.id.clone(),
                status: a.status,
                license: i.number,
            })
            .collect(),
        deliveries: vec![Delivery {
            file_name: f.facts.file_name.to_owned(),
            ack_name: f.ack_name.to_owned(),
            received_at: f.facts.received_at,
            archive: f.archive.to_owned(),
            done: false,
        }],
        followups: Vec::new(),
    }
}

/// The dashboard's line for the file.
fn list_filed(
    tx: &mut Tx<'_>,
    file: &File<'_>,
    status: FileStatus,
    settled: &Settled,
) -> TxResult<()> {
    let f = file.f;
    tx.filed(Filed {
        id: 0,
        at: f.facts.received_at,
        sender: f.sender.to_owned(),
        file_name: f.facts.file_name.to_owned(),
        sha256: file.sha_hex.clone(),
        status: status.as_str().to_owned(),
        applications: f.verdict.apps.len() as u64,
        licenses: settled.issued.len() as u64,
        held: f.verdict.held() as u64,
        ack_name: f.ack_name.to_owned(),
    })
}

/// The day's counts of files and applications.
fn count_file(tx: &mut Tx<'_>, f: &NewFiling<'_>, status: FileStatus) {
    tx.count(f.filing_day, |s| {
        s.files += 1;
        s.applications += f.verdict.apps.len() as u64;
        // A rejected file: its ack says rejected (a file-level error, or every application
        // rejected), the one definition of docs/format.md.
        if status == FileStatus::Rejected {
            s.files_rejected += 1;
        }
    });
}

/// One event for the file, naming every license it touched (a 1,000-application file is one
/// event, findable from each of its licenses).
fn audit_receipt(
    tx: &mut Tx<'_>,
    file: &File<'_>,
    status: FileStatus,
    settled: &mut Settled,
) -> TxResult<()> {
    let f = file.f;
    let mut detail = format!(
        "{} from {}: {} ({} applications)",
        f.facts.file_name,
        f.sender,
        status.as_str(),
        f.verdict.apps.len()
    );
    if !settled.issued.is_empty() {
        let list: Vec<String> = settled.issued.iter().map(ToString::to_string).collect();
        detail.push_str(&format!("; issued {}", list.join(", ")));
    }
    for (label, action) in [
        ("corrected", AppStatus::Corrected),
        ("cancelled", AppStatus::Cancelled),
    ] {
        let list: Vec<String> = f
            .verdict
            .apps
            .iter()
            .filter(|a| a.status == action)
            .filter_map(|a| a.license.map(|n| n.to_string()))
            .collect();
        if !list.is_empty() {
            detail.push_str(&format!("; {label} {}", list.join(", ")));
        }
    }
    // Corrected and cancelled first, then issued: the order the event has always listed them.
    let mut licenses = std::mem::take(&mut settled.touched);
    licenses.extend_from_slice(&settled.issued);
    tx.audit(
        &AuditEvent {
            at: f.facts.received_at,
            actor: Actor::Daemon,
            action: AuditAction::Receive,
            subject: f.facts.file_name.to_owned(),
            outcome: Outcome::Done,
            detail,
        },
        &licenses,
    )
}
