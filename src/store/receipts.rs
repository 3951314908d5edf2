//! Receipts and deliveries: what intake commits for each file, and the crash-recovery view of
//! what is not finished yet.

use super::change::Tx;
use super::codec::{dec, dec_sha, enc};
use super::records::*;
use super::{Result, Store, StoreError, keys};
use crate::filing::ack::{Ack, FileFacts, Issuance};
use crate::filing::model::LicenseNumber;
use crate::filing::rules::{AppStatus, Verdict};
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
                ack_name: d.ack_name.clone(),
            })?;
            let n = r.deliveries.len() - 1;
            Ok((r, n))
        })
    }

    /// Commit a judged file in one unit of change: license numbers, licenses and indexes,
    /// aggregates, unit-value history, holds, control number, receipt with the ack bytes,
    /// mail job and audit events. Not yet durable: call [`Store::flush`].
    pub fn commit(&self, f: &NewFiling<'_>) -> Result<Committed> {
        let sha = f.facts.sha256;
        let sha_hex = hex::encode(sha);
        let rk = keys::receipt(f.sender, &sha);
        let at = f.facts.received_at;
        let day = f.filing_day;
        self.transact(|tx| {
            let mut issuance = Vec::with_capacity(f.verdict.apps.len());
            let mut issued = Vec::new();
            let mut touched_licenses = Vec::new();
            let event = |action, app: &crate::filing::rules::AppVerdict| LicenseEvent {
                at,
                action,
                by: Actor::Daemon,
                receipt: sha_hex.clone(),
                app_id: app.id.clone(),
                reason: app.reason.clone(),
            };
            for app in &f.verdict.apps {
                let iss = match (app.status, &app.data, app.license) {
                    (AppStatus::Issued, Some(data), _) => {
                        let lic =
                            tx.issue(f.sender, data, day, event(LicenseAction::Issued, app))?;
                        issued.push(lic.number);
                        Issuance {
                            number: Some(lic.number),
                            validity: Some((lic.valid_from, lic.valid_through)),
                        }
                    }
                    (AppStatus::Corrected, Some(data), Some(n)) => {
                        let lic = tx.correct(n, data, event(LicenseAction::Corrected, app))?;
                        touched_licenses.push(n);
                        Issuance {
                            number: Some(n),
                            validity: Some((lic.valid_from, lic.valid_through)),
                        }
                    }
                    (AppStatus::Cancelled, _, Some(n)) => {
                        let lic = tx.cancel(n, event(LicenseAction::Cancelled, app))?;
                        touched_licenses.push(n);
                        Issuance {
                            number: Some(n),
                            validity: Some((lic.valid_from, lic.valid_through)),
                        }
                    }
                    (AppStatus::PendingReview, _, _) => {
                        let held = PendingApp {
                            sender: f.sender.to_owned(),
                            receipt: sha_hex.clone(),
                            file_name: f.facts.file_name.to_owned(),
                            received_at: at,
                            control_number: f.verdict.control_value,
                            verdict: app.clone(),
                        };
                        tx.hold(&keys::hold(&rk, app.position), &held, day)?;
                        let codes: Vec<&str> =
                            app.held_for.iter().map(|h| h.code.as_str()).collect();
                        tx.audit(
                            &AuditEvent {
                                at,
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
                        )?;
                        Issuance::default()
                    }
                    (AppStatus::Rejected, _, _) => {
                        tx.count(day, |s| s.rejected += 1);
                        Issuance::default()
                    }
                    // A verdict without the data its status needs is the rules' bug: refuse
                    // to commit it rather than answer the filer wrongly.
                    (status, _, _) => {
                        return Err(StoreError::Invalid(format!(
                            "application {:?} is {} without the data it needs",
                            app.id,
                            status.as_str()
                        )));
                    }
                };
                issuance.push(iss);
            }
            let ack = Ack::first(f.verdict, &f.facts, &issuance);
            let ack_bytes = ack.render();
            if f.verdict.reached_applications()
                && let Some(n) = f.verdict.control_value
            {
                tx.controls.insert(keys::control(f.sender, n), &sha)?;
            }
            let status = FileStatus::of(f.verdict.apps.iter().map(|a| a.status));
            let status = if f.verdict.file_error.is_some() {
                FileStatus::Rejected
            } else {
                status
            };
            let receipt = Receipt {
                sender: f.sender.to_owned(),
                sha256: sha_hex.clone(),
                control_number: f.verdict.control_value,
                sender_id: f.verdict.sender_id.clone(),
                control_text: f.verdict.control_number.clone(),
                status,
                file_error: f.verdict.file_error.as_ref().map(|e| e.code.to_string()),
                // Kept once, beside the receipt: rewriting the receipt never copies it.
                ack: Vec::new(),
                apps: f
                    .verdict
                    .apps
                    .iter()
                    .zip(&issuance)
                    .map(|(a, i)| AppSummary {
                        id: a.id.clone(),
                        status: a.status,
                        license: i.number,
                    })
                    .collect(),
                deliveries: vec![Delivery {
                    file_name: f.facts.file_name.to_owned(),
                    ack_name: f.ack_name.to_owned(),
                    received_at: at,
                    archive: f.archive.to_owned(),
                    done: false,
                }],
                followups: Vec::new(),
            };
            tx.receipts.insert(rk.as_slice(), enc(&receipt))?;
            tx.receipts
                .insert(keys::receipt_ack(&rk).as_slice(), ack_bytes.clone())?;
            tx.index.insert(keys::undone(&rk), &[])?;
            tx.filed(Filed {
                id: 0,
                at,
                sender: f.sender.to_owned(),
                file_name: f.facts.file_name.to_owned(),
                sha256: sha_hex.clone(),
                status: status.as_str().to_owned(),
                applications: f.verdict.apps.len() as u64,
                licenses: issued.len() as u64,
                ack_name: f.ack_name.to_owned(),
            })?;
            tx.note_rejections(f.sender, day, at, f.facts.file_name, &sha, f.verdict)?;
            tx.enqueue_first_ack_mail(f.sender, f.mail_to, f.ack_name, &sha_hex, at)?;
            tx.count(day, |s| {
                s.files += 1;
                s.applications += f.verdict.apps.len() as u64;
                // A rejected file: its ack says rejected (a file-level error, or every
                // application rejected), the one definition of docs/format.md.
                if status == FileStatus::Rejected {
                    s.files_rejected += 1;
                }
            });
            // One event for the file, naming every license it touched (a 1,000-application
            // file is one event, findable from each of its licenses).
            let mut detail = format!(
                "{} from {}: {} ({} applications)",
                f.facts.file_name,
                f.sender,
                status.as_str(),
                f.verdict.apps.len()
            );
            if !issued.is_empty() {
                let list: Vec<String> = issued.iter().map(ToString::to_string).collect();
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
            touched_licenses.extend_from_slice(&issued);
            tx.audit(
                &AuditEvent {
                    at,
                    actor: Actor::Daemon,
                    action: AuditAction::Receive,
                    subject: f.facts.file_name.to_owned(),
                    outcome: Outcome::Done,
                    detail,
                },
                &touched_licenses,
            )?;
            Ok(Committed {
                ack: ack_bytes,
                issued,
            })
        })
    }
}

/// One step of a receipt finished (`f`); when nothing of it is left, its unfinished mark goes.
fn finish_in(tx: &mut Tx<'_>, k: &[u8], f: impl Fn(&mut Receipt)) -> super::change::TxResult<()> {
    if let Some(mut r) = Tx::get::<Receipt>(tx.receipts, k)? {
        f(&mut r);
        if r.finished() {
            tx.index.remove(keys::undone(k))?;
        }
        tx.receipts.insert(k, enc(&r))?;
    }
    Ok(())
}
