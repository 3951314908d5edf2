//! Review holds and decisions (spec section 6), and the follow-up acknowledgements that answer
//! staff actions. Checks are made before the unit of change: the pipeline's single writer is the
//! only one changing the store, so what was checked still holds when it commits.

use super::change::{Tx, TxResult};
use super::codec::{dec, enc, sha_from_hex};
use super::records::*;
use super::{Result, Store, StoreError, keys};
use crate::filing::ack::{Ack, AckApp, Issuance};
use crate::filing::model::LicenseNumber;
use crate::filing::rules::AppStatus;
use chrono::{DateTime, Utc};

/// `<SenderId>:<ControlNumber>:<Application id>`, the control number compared as a number.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Handle {
    pub sender: String,
    pub control: u32,
    pub app_id: String,
}

impl Handle {
    pub fn parse(s: &str) -> Option<Handle> {
        let mut parts = s.split(':');
        let (sender, control, app_id) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some()
            || !(2..=15).contains(&sender.len())
            || !sender
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
            || control.is_empty()
            || control.len() > 9
            || !control.bytes().all(|b| b.is_ascii_digit())
            || app_id.is_empty()
            || app_id.len() > 35
        {
            return None;
        }
        Some(Handle {
            sender: sender.to_owned(),
            control: control.parse().ok()?,
            app_id: app_id.to_owned(),
        })
    }
}

impl std::fmt::Display for Handle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.sender, self.control, self.app_id)
    }
}

fn matches(h: &Handle, app: &PendingApp) -> bool {
    app.sender == h.sender
        && app.control_number == Some(h.control)
        && app.verdict.id.as_deref() == Some(h.app_id.as_str())
}

/// Where a handle stands.
pub enum HeldLookup {
    Held { key: Vec<u8>, app: Box<PendingApp> },
    Decided(Decided),
    Unknown,
}

/// What a reviewer decides for a set of held applications.
#[derive(Clone, Debug)]
pub enum Ruling {
    Approve,
    Reject { reason: String },
}

/// A follow-up ack committed and waiting to be written to the partner's outbox.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FollowUpAck {
    pub sender: String,
    pub sha: [u8; 32],
    pub seq: u32,
    pub ack_name: String,
    pub ack: Vec<u8>,
}

/// The name of a follow-up ack: `<stem>.ack-<seq>.xml`, the stem being that of the file's
/// first ack (`x.ack.xml` → `x`, `x.2.ack.xml` → `x.2`, so two files of the same name never
/// share follow-up names).
pub fn followup_name(first_ack_name: &str, seq: u32) -> String {
    let stem = first_ack_name
        .strip_suffix(".ack.xml")
        .unwrap_or(first_ack_name);
    format!("{stem}.ack-{seq}.xml")
}

/// What a decided application became.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecidedApp {
    pub handle: String,
    pub decision: Decision,
}

impl Store {
    /// Applications held for review, oldest first.
    pub fn held(&self) -> Result<Vec<PendingApp>> {
        let mut v: Vec<PendingApp> = self
            .trees
            .holds
            .iter()
            .map(|kv| {
                let (k, v) = kv?;
                dec(&k, &v)
            })
            .collect::<Result<_>>()?;
        v.sort_by(|a, b| {
            (a.received_at, &a.sender, a.verdict.position).cmp(&(
                b.received_at,
                &b.sender,
                b.verdict.position,
            ))
        });
        Ok(v)
    }

    pub fn held_count(&self) -> usize {
        self.trees.holds.len()
    }

    pub fn lookup_handle(&self, h: &Handle) -> Result<HeldLookup> {
        for kv in self.trees.holds.iter() {
            let (k, v) = kv?;
            let app: PendingApp = dec(&k, &v)?;
            if matches(h, &app) {
                return Ok(HeldLookup::Held {
                    key: k.to_vec(),
                    app: Box::new(app),
                });
            }
        }
        let canonical = h.to_string();
        for kv in self.trees.decisions.iter() {
            let (k, v) = kv?;
            let d: Decided = dec(&k, &v)?;
            if d.handle == canonical {
                return Ok(HeldLookup::Decided(d));
            }
        }
        Ok(HeldLookup::Unknown)
    }

    /// Decide held applications (already looked up and checked): issue or reject each, one
    /// follow-up ack per file with the next `AckSequence`, mail, audit; one unit of change.
    pub fn decide(
        &self,
        items: &[(Vec<u8>, PendingApp)],
        ruling: &Ruling,
        by: &Actor,
        at: DateTime<Utc>,
        mail_to: &dyn Fn(&str) -> Vec<String>,
        name_taken: &dyn Fn(&str, &str) -> bool,
    ) -> Result<(Vec<DecidedApp>, Vec<FollowUpAck>)> {
        let who = super::workflow::decision::Reviewer {
            by,
            at,
            mail_to,
            name_taken,
        };
        self.transact(|tx| super::workflow::decision::decide(tx, items, ruling, &who))
    }

    /// A supervisor's cancellation of a license, answered to the filer with a follow-up ack on
    /// the file that issued it.
    pub fn staff_cancel(
        &self,
        n: LicenseNumber,
        reason: &str,
        by: &Actor,
        at: DateTime<Utc>,
        mail_to: &[String],
        name_taken: &dyn Fn(&str, &str) -> bool,
    ) -> Result<FollowUpAck> {
        let lic = self
            .license(n)?
            .ok_or_else(|| StoreError::Invalid(format!("license {n} is not on record")))?;
        let origin = lic
            .issuing_event()
            .cloned()
            .ok_or_else(|| StoreError::Invalid(format!("license {n} has no issuing event")))?;
        let sha = sha_from_hex(&origin.receipt)?;
        let rk = keys::receipt(&lic.sender, &sha);
        self.transact(|tx| {
            let mut receipt: Receipt = Tx::get(tx.receipts, &rk)?.ok_or_else(|| {
                StoreError::Invalid(format!("the file that issued {n} is not on record"))
            })?;
            let lic = tx.cancel(
                n,
                LicenseEvent {
                    at,
                    action: LicenseAction::Cancelled,
                    by: by.clone(),
                    receipt: origin.receipt.clone(),
                    app_id: origin.app_id.clone(),
                    reason: Some(reason.to_owned()),
                },
            )?;
            let entry = AckApp {
                id: origin.app_id.clone(),
                status: AppStatus::Cancelled,
                issuance: Issuance {
                    number: Some(n),
                    validity: Some((lic.valid_from, lic.valid_through)),
                },
                errors: Vec::new(),
                warnings: Vec::new(),
                products: Vec::new(),
            };
            let fu = push_followup(tx, &rk, &mut receipt, vec![entry], by, at, name_taken)?;
            tx.enqueue_mail(&lic.sender, mail_to, &fu.ack_name, &fu.ack, at)?;
            tx.audit(
                &AuditEvent {
                    at,
                    actor: by.clone(),
                    action: AuditAction::Cancel,
                    subject: n.to_string(),
                    outcome: Outcome::Done,
                    detail: format!("cancelled by staff: {reason}; answered as {}", fu.ack_name),
                },
                &[n],
            )?;
            Ok(fu)
        })
    }
}

/// The receipt of a file with held applications, and its key.
pub(super) fn held_receipt(
    tx: &mut Tx<'_>,
    sender: &str,
    receipt_hex: &str,
) -> TxResult<(Vec<u8>, Receipt)> {
    let rk = keys::receipt(sender, &sha_from_hex(receipt_hex)?);
    let receipt = Tx::get(tx.receipts, &rk)?.ok_or_else(|| {
        StoreError::Invalid(format!(
            "held application's file {receipt_hex} of {sender} is not on record"
        ))
    })?;
    Ok((rk, receipt))
}

/// Add a follow-up ack of `apps` to the receipt, marked unfinished until it is written.
pub(super) fn push_followup(
    tx: &mut Tx<'_>,
    rk: &[u8],
    receipt: &mut Receipt,
    apps: Vec<AckApp>,
    by: &Actor,
    at: DateTime<Utc>,
    name_taken: &dyn Fn(&str, &str) -> bool,
) -> TxResult<FollowUpAck> {
    let seq = receipt.next_ack_sequence();
    let first = receipt.deliveries.first().ok_or_else(|| {
        StoreError::Invalid(format!("receipt {} has no delivery", receipt.sha256))
    })?;
    let mut ack_name = followup_name(&first.ack_name, seq);
    // Never overwrite: a name left by an earlier file of the same name gets a counter.
    let mut k = 2;
    while name_taken(&receipt.sender, &ack_name) {
        let stem = first
            .ack_name
            .strip_suffix(".ack.xml")
            .unwrap_or(&first.ack_name);
        ack_name = format!("{stem}.{k}.ack-{seq}.xml");
        k += 1;
    }
    let ack = Ack {
        sender_id: receipt.sender_id.clone(),
        control_number: receipt.control_text.clone(),
        file_name: first.file_name.clone(),
        sha256_hex: receipt.sha256.clone(),
        received_at: at,
        ack_sequence: seq,
        status: FileStatus::of(apps.iter().map(|a| a.status))
            .as_str()
            .to_owned(),
        file_errors: Vec::new(),
        apps,
    }
    .render();
    receipt.followups.push(FollowUp {
        seq,
        ack_name: ack_name.clone(),
        ack: ack.clone(),
        at,
        by: by.clone(),
        done: false,
    });
    tx.receipts.insert(rk, enc(&*receipt))?;
    tx.index.insert(keys::undone(rk), &[])?;
    Ok(FollowUpAck {
        sender: receipt.sender.clone(),
        sha: sha_from_hex(&receipt.sha256)?,
        seq,
        ack_name,
        ack,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles() {
        let h = Handle::parse("ACMEBRK:000042:A1").unwrap();
        assert_eq!(h.control, 42);
        assert_eq!(h.to_string(), "ACMEBRK:42:A1");
        for bad in [
            "",
            "ACMEBRK",
            "ACMEBRK:42",
            "acme:42:A1",
            "ACMEBRK:x:A1",
            "A:1:A1",
            "ACMEBRK:1:A1:x",
            "ACMEBRK:1234567890:A1",
        ] {
            assert!(Handle::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn followup_names() {
        assert_eq!(followup_name("batch-42.ack.xml", 2), "batch-42.ack-2.xml");
        assert_eq!(
            followup_name("batch-42.2.ack.xml", 3),
            "batch-42.2.ack-3.xml"
        );
    }
}
