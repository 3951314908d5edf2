//! Deciding held applications (spec section 6): each is approved (a license issued or
//! corrected) or rejected (R590), the decision recorded and audited, and each file answered
//! with one follow-up ack, mailed.

use crate::filing::ack::{AckApp, Issuance};
use crate::filing::codes::{Code, Issue};
use crate::filing::model::{Action, LicenseNumber};
use crate::filing::rules::{AppStatus, AppVerdict};
use crate::store::StoreError;
use crate::store::change::{Tx, TxResult};
use crate::store::records::*;
use crate::store::review::{self, DecidedApp, FollowUpAck, Ruling};
use chrono::{DateTime, Utc};

/// Who decides, when, and how the follow-up acks are addressed and named.
pub(in crate::store) struct Reviewer<'r> {
    pub by: &'r Actor,
    pub at: DateTime<Utc>,
    pub mail_to: &'r dyn Fn(&str) -> Vec<String>,
    pub name_taken: &'r dyn Fn(&str, &str) -> bool,
}

/// One application ruled on: its entry in the follow-up ack, the decision and its license.
struct Ruled {
    entry: AckApp,
    decision: Decision,
    license: Option<LicenseNumber>,
}

/// Decide held applications (already looked up and checked), file by file in the order of
/// each file's first application in `items`, in the caller's unit of change.
pub(in crate::store) fn decide(
    tx: &mut Tx<'_>,
    items: &[(Vec<u8>, PendingApp)],
    ruling: &Ruling,
    who: &Reviewer<'_>,
) -> TxResult<(Vec<DecidedApp>, Vec<FollowUpAck>)> {
    let mut decided = Vec::new();
    let mut acks = Vec::new();
    for (sender, receipt_hex) in files_in_order(items) {
        let (rk, mut receipt) = review::held_receipt(tx, sender, receipt_hex)?;
        let mut entries = Vec::new();
        for (key, held) in items
            .iter()
            .filter(|(_, a)| a.sender == sender && a.receipt == receipt_hex)
        {
            let ruled = match ruling {
                Ruling::Approve => approve(tx, held, who)?,
                Ruling::Reject { reason } => reject(&held.verdict, reason),
            };
            if let Some(s) = receipt.apps.get_mut(held.verdict.position) {
                s.status = ruled.entry.status;
                s.license = ruled.license;
            }
            let handle = held.handle();
            record(tx, key, &handle, &ruled, who)?;
            entries.push(ruled.entry);
            decided.push(DecidedApp {
                handle,
                decision: ruled.decision,
            });
        }
        let fu = review::push_followup(
            tx,
            &rk,
            &mut receipt,
            entries,
            who.by,
            who.at,
            who.name_taken,
        )?;
        tx.enqueue_mail(
            sender,
            &(who.mail_to)(sender),
            &fu.ack_name,
            &fu.ack,
            who.at,
        )?;
        acks.push(fu);
    }
    Ok((decided, acks))
}

/// The files the items belong to (sender, receipt), in the order of their first item.
fn files_in_order(items: &[(Vec<u8>, PendingApp)]) -> Vec<(&str, &str)> {
    let mut files: Vec<(&str, &str)> = Vec::new();
    for (_, app) in items {
        let f = (app.sender.as_str(), app.receipt.as_str());
        if !files.contains(&f) {
            files.push(f);
        }
    }
    files
}

/// Approve: a correction of the license it names, else a new license.
fn approve(tx: &mut Tx<'_>, held: &PendingApp, who: &Reviewer<'_>) -> TxResult<Ruled> {
    let v = &held.verdict;
    let data = v
        .data
        .as_ref()
        .ok_or_else(|| StoreError::Invalid(format!("{} has no data", held.handle())))?;
    let event = LicenseEvent {
        at: who.at,
        action: LicenseAction::Issued,
        by: who.by.clone(),
        receipt: held.receipt.clone(),
        app_id: v.id.clone(),
        reason: None,
    };
    let (lic, status) = match (v.action, v.license) {
        (Some(Action::Correct), Some(n)) => (
            tx.correct(
                n,
                data,
                LicenseEvent {
                    action: LicenseAction::Corrected,
                    ..event
                },
            )?,
            AppStatus::Corrected,
        ),
        _ => (
            tx.issue(&held.sender, data, who.at.date_naive(), event)?,
            AppStatus::Issued,
        ),
    };
    let shown = AppVerdict {
        status,
        ..v.clone()
    };
    Ok(Ruled {
        entry: AckApp::new(
            &shown,
            Issuance {
                number: Some(lic.number),
                validity: Some((lic.valid_from, lic.valid_through)),
            },
        ),
        decision: Decision::Approved {
            license: lic.number,
        },
        license: Some(lic.number),
    })
}

/// Reject with the reviewer's reason, answered as R590.
fn reject(v: &AppVerdict, reason: &str) -> Ruled {
    Ruled {
        entry: AckApp {
            id: v.id.clone(),
            status: AppStatus::Rejected,
            issuance: Issuance::default(),
            errors: vec![Issue {
                code: Code::R590,
                path: format!("Application[{}]", v.id.as_deref().unwrap_or("")),
                position: None,
                message: reason.to_owned(),
            }],
            warnings: Vec::new(),
            products: Vec::new(),
        },
        decision: Decision::Rejected {
            reason: reason.to_owned(),
        },
        license: None,
    }
}

/// The decision leaves the review queue for good, with an audit event.
fn record(
    tx: &mut Tx<'_>,
    key: &[u8],
    handle: &str,
    ruled: &Ruled,
    who: &Reviewer<'_>,
) -> TxResult<()> {
    tx.decide(
        key,
        &Decided {
            handle: handle.to_owned(),
            by: who.by.clone(),
            at: who.at,
            decision: ruled.decision.clone(),
        },
    )?;
    let (action, detail) = match &ruled.decision {
        Decision::Approved { license } => {
            (AuditAction::Approve, format!("approved: license {license}"))
        }
        Decision::Rejected { reason } => {
            (AuditAction::Reject, format!("rejected (R590): {reason}"))
        }
    };
    tx.audit(
        &AuditEvent {
            at: who.at,
            actor: who.by.clone(),
            action,
            subject: handle.to_owned(),
            outcome: Outcome::Done,
            detail,
        },
        ruled.license.as_slice(),
    )
}
