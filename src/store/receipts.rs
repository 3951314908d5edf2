//! Receipts and deliveries: what intake commits for each file, and the crash-recovery view of
//! what is not finished yet.

use super::change::{Tx, TxResult};
use super::codec::{dec, dec_sha, enc};
use super::records::*;
use super::{Result, Store, StoreError, keys};
use crate::filing::ack::FileFacts;
use crate::filing::model::LicenseNumber;
use crate::filing::rules::Verdict;
use chrono::NaiveDate;

/// A new file to commit: its verdict and facts, where its ack goes and who gets mail.
pub struct NewFiling<'a> {
    pub sender: &'a str,
    pub facts: FileFacts<'a>,
    pub filing_day: NaiveDate,
    pub verdict: &'a Verdict,
    pub ack_name: &'a str,
    pub archive: &'a str,
    pub mail_to: &'a [String],
}

/// The result of committing a file.
#[derive(Debug)]
pub struct Committed {
    pub ack: Vec<u8>,
    pub issued: Vec<LicenseNumber>,
}

impl Store {
    pub fn receipt(&self, sender: &str, sha: &[u8; 32]) -> Result<Option<Receipt>> {
        let k = keys::receipt(sender, sha);
        match self.trees.receipts.get(&k)? {
            Some(v) => Ok(Some(self.with_ack(&k, dec(&k, &v)?)?)),
            None => Ok(None),
        }
    }

    /// A receipt with its first ack's bytes, which are kept once beside it
    /// ([`keys::receipt_ack`]); a receipt of an older version holds them itself.
    fn with_ack(&self, k: &[u8], mut r: Receipt) -> Result<Receipt> {
        if r.ack.is_empty() {
            let ak = keys::receipt_ack(k);
            r.ack = self
                .trees
                .receipts
                .get(&ak)?
                .ok_or_else(|| StoreError::Decode {
                    key: keys::show(&ak),
                    message: "the receipt's ack is missing".into(),
                })?
                .to_vec();
        }
        Ok(r)
    }

    /// The newest answered files, newest first (at most [`keys::FILED_SLOTS`] are kept): what
    /// the dashboard lists, filled again after a restart.
    pub fn recent_filed(&self, limit: usize) -> Result<Vec<Filed>> {
        let mut out = Vec::new();
        for kv in self.trees.index.scan_prefix(keys::FILED_PREFIX) {
            let (k, v) = kv?;
            out.push(dec::<Filed>(&k, &v)?);
        }
        out.sort_by_key(|f| std::cmp::Reverse(f.id));
        out.truncate(limit);
        Ok(out)
    }

    pub fn control_owner(&self, sender: &str, n: u32) -> Result<Option<[u8; 32]>> {
        let k = keys::control(sender, n);
        self.trees
            .controls
            .get(&k)?
            .map(|v| dec_sha(&k, &v))
            .transpose()
    }

    /// Receipts with a delivery or follow-up not yet finished: crash recovery.
    pub fn unfinished(&self) -> Result<Vec<Receipt>> {
        let mut out = Vec::new();
        for kv in self.trees.index.scan_prefix([keys::UNDONE, 0]) {
            let (k, _) = kv?;
            let rk = &k[2..];
            match self.trees.receipts.get(rk)? {
                Some(v) => out.push(self.with_ack(rk, dec(rk, &v)?)?),
                None => {
                    return Err(StoreError::Decode {
                        key: keys::show(&k),
                        message: "an unfinished mark names no receipt".into(),
                    });
                }
            }
        }
        Ok(out)
    }

    /// Record that a delivery is finished: its ack is written and its input archived.
    pub fn mark_done(&self, sender: &str, sha: &[u8; 32], delivery: usize) -> Result<()> {
        self.mark_all_done(&[(sender, *sha, delivery)])
    }

    /// [`Store::mark_done`] for every delivery of a group commit in one unit of change: one
    /// journal entry for the batch instead of one a file.
    pub fn mark_all_done(&self, done: &[(&str, [u8; 32], usize)]) -> Result<()> {
        if done.is_empty() {
            return Ok(());
        }
        self.transact(|tx| {
            for (sender, sha, delivery) in done {
                finish_in(tx, &keys::receipt(sender, sha), |r| {
                    if let Some(d) = r.deliveries.get_mut(*delivery) {
                        d.done = true;
                    }
                })?;
            }
            Ok(())
        })
    }

    /// Record that a follow-up ack is written.
    pub fn mark_followup_done(&self, sender: &str, sha: &[u8; 32], seq: u32) -> Result<()> {
        self.finish_step(sender, sha, |r| {
            if let Some(f) = r.followups.iter_mut().find(|f| f.seq == seq) {
                f.done = true;
            }
        })
    }

    fn finish_step(&self, sender: &str, sha: &[u8; 32], f: impl Fn(&mut Receipt)) -> Result<()> {
        let k = keys::receipt(sender, sha);
        self.transact(|tx| finish_in(tx, &k, f))
    }

    /// Record another delivery of an already received file (identical bytes): it gets the
    /// original ack again under its own ack name.
    pub fn add_delivery(
        &self,
        sender: &str,
        sha: &[u8; 32],
        d: Delivery,
        mail_to: &[String],
    ) -> Result<(Receipt, usize)> {
        let k = keys::receipt(sender, sha);
        self.transact(|tx| {
            let v = tx.receipts.get(&k)?.ok_or_else(|| StoreError::Decode {
                key: keys::show(&k),
                message: "receipt vanished".into(),
            })?;
            let mut r: Receipt = dec(&k, &v)?;
            r.deliveries.push(d.clone());
            tx.receipts.insert(k.as_slice(), enc(&r))?;
            tx.index.insert(keys::undone(&k), &[])?;
            tx.count(d.received_at.date_naive(), |s| s.files += 1);
            tx.audit(
                &AuditEvent {
                    at: d.received_at,
                    actor: Actor::Daemon,
                    action: AuditAction::Duplicate,
                    subject: d.file_name.clone(),
                    outcome: Outcome::Done,
                    detail: format!(
                        "{sender} re-delivered {} (identical bytes); original ack sent again as {}",
                        d.file_name, d.ack_name
                    ),
                },
                &[],
            )?;
            tx.enqueue_first_ack_mail(sender, mail_to, &d.ack_name, &r.sha256, d.received_at)?;
            tx.filed(Filed {
                id: 0,
                at: d.received_at,
                sender: sender.to_owned(),
                file_name: d.file_name.clone(),
                sha256: r.sha256.clone(),
                status: format!("{} (duplicate)", r.status.as_str()),
                applications: r.apps.len() as u64,
                licenses: 0,
                held: 0,
                ack_name: d.ack_name.clone(),
            })?;
            let n = r.deliveries.len() - 1;
            Ok((r, n))
        })
    }

    /// Commit a judged file in one unit of change: license numbers, licenses and indexes,
    /// aggregates, unit-value history, holds, control number, receipt with the ack bytes,
    /// mail job and audit events (the steps are in `workflow::filing`). A file of more than
    /// 1,000 applications (`SLICE_APPS`) is committed in slices, all or nothing all the same
    /// (`journal::Part`). Not yet durable: call [`Store::flush`].
    pub fn commit(&self, f: &NewFiling<'_>) -> Result<Committed> {
        if f.verdict.apps.len() <= self.slice_apps {
            return self.transact(|tx| super::workflow::filing::commit(tx, f));
        }
        self.commit_in_slices(f)
    }

    /// A big file a slice of applications at a time, so that what a unit of change holds
    /// follows the slice, not the file; then its last unit (the ack, the receipt, what the
    /// file did), which ends it. A slice or last unit that fails before it was journaled
    /// whole is undone at once; one that fails after (the store then refuses writes until it
    /// is opened again) is finished by replay and undone, or concluded, at the next open.
    fn commit_in_slices(&self, f: &NewFiling<'_>) -> Result<Committed> {
        use super::journal::Part;
        use super::workflow::filing::{File, Settled, conclude, settle_all};
        let file = File::new(f);
        let mut settled = Settled::default();
        let mut result = Ok(());
        for (n, apps) in (0u32..).zip(f.verdict.apps.chunks(self.slice_apps)) {
            result = self.transact_part(Part::Slice(n), |tx| {
                settle_all(tx, &file, apps, &mut settled)
            });
            if result.is_err() {
                break;
            }
        }
        let result =
            result.and_then(|()| self.transact_part(Part::Last, |tx| conclude(tx, &file, settled)));
        if let Err(e) = &result
            && !matches!(e, StoreError::Unsettled(_))
        {
            self.undo_slices();
        }
        result
    }
}

/// The control number is the file's from now on (F005 for any other file that reuses it).
pub(super) fn claim_control(tx: &mut Tx<'_>, sender: &str, n: u32, sha: &[u8; 32]) -> TxResult<()> {
    tx.controls.insert(keys::control(sender, n), sha)?;
    Ok(())
}

/// Keep a new file's receipt and, once beside it, its first ack; mark it unfinished until
/// its delivery is done.
pub(super) fn put_first(tx: &mut Tx<'_>, rk: &[u8], receipt: &Receipt, ack: &[u8]) -> TxResult<()> {
    tx.receipts.insert(rk, enc(receipt))?;
    tx.receipts.insert(keys::receipt_ack(rk).as_slice(), ack)?;
    tx.index.insert(keys::undone(rk), &[])?;
    Ok(())
}

/// One step of a receipt finished (`f`); when nothing of it is left, its unfinished mark goes.
fn finish_in(tx: &mut Tx<'_>, k: &[u8], f: impl Fn(&mut Receipt)) -> TxResult<()> {
    if let Some(mut r) = Tx::get::<Receipt>(tx.receipts, k)? {
        f(&mut r);
        if r.finished() {
            tx.index.remove(keys::undone(k))?;
        }
        tx.receipts.insert(k, enc(&r))?;
    }
    Ok(())
}
