//! The durable mail queue: jobs keyed by due time, sent ones kept slim, dead letters kept whole
//! for staff (retry, re-send). The writer keeps the queue's counts in `meta`, moved in the
//! same unit of change as the message, so a reader of the counts (status, `/healthz`,
//! `/metrics`, the console) reads one value and never waits for the writer.

use super::change::{Tx, TxResult};
use super::codec::{dec, enc};
use super::journal::TxTree;
use super::records::*;
use super::{Result, Store, StoreError, keys};
use chrono::{DateTime, Utc};
use serde::Deserialize;

/// How one unit of change moves the mail counts, summed and written once by `Tx::finish`.
#[derive(Default)]
pub(crate) struct MailDelta {
    queued: i64,
    retrying: i64,
    dead: i64,
}

impl MailDelta {
    /// A message left `from` for `to` (`None`: it was not, or is no longer, in a counted
    /// place; sent messages are not counted).
    pub(crate) fn moved(&mut self, from: Option<MailState>, to: Option<MailState>) {
        self.add(from, -1);
        self.add(to, 1);
    }

    fn add(&mut self, state: Option<MailState>, by: i64) {
        match state {
            Some(MailState::Queued) => self.queued += by,
            Some(MailState::Retrying) => self.retrying += by,
            Some(MailState::Dead) => self.dead += by,
            Some(MailState::Sent) | None => {}
        }
    }

    /// Add the moves to the stored counts. A count that would fall below zero is a damaged
    /// store, never clamped.
    pub(crate) fn apply(self, meta: &TxTree<'_>) -> TxResult<()> {
        if (self.queued, self.retrying, self.dead) == (0, 0, 0) {
            return Ok(());
        }
        let mut c: MailCounts = Tx::get(meta, keys::MAIL_COUNTS)?.unwrap_or_default();
        let moved = |now: usize, by: i64, what: &str| {
            i64::try_from(now)
                .ok()
                .and_then(|n| n.checked_add(by))
                .and_then(|n| usize::try_from(n).ok())
                .ok_or_else(|| {
                    StoreError::Invalid(format!(
                        "the count of {what} mail would fall below zero ({now} {by:+})"
                    ))
                })
        };
        c.queued = moved(c.queued, self.queued, "queued")?;
        c.retrying = moved(c.retrying, self.retrying, "retrying")?;
        c.dead = moved(c.dead, self.dead, "dead")?;
        meta.insert(keys::MAIL_COUNTS, enc(&c))?;
        Ok(())
    }
}

/// The state of a stored job, read without its ack.
#[derive(Deserialize)]
struct StateOf {
    state: MailState,
}

/// Where a job waiting under `key` stands (`None`: no job there).
fn waiting_state(mail: &TxTree<'_>, key: &[u8]) -> TxResult<Option<MailState>> {
    Ok(Tx::get::<StateOf>(mail, key)?.map(|j| j.state))
}

impl Store {
    /// The ack bytes of a mail job: its own, or those of the receipt it names.
    pub fn mail_ack(&self, job: &MailJob) -> Result<Vec<u8>> {
        let Some(sha_hex) = job.ack_of.as_deref().filter(|_| job.ack.is_empty()) else {
            return Ok(job.ack.clone());
        };
        let sha = super::codec::sha_from_hex(sha_hex)?;
        match self.receipt(&job.sender, &sha)? {
            Some(r) => Ok(r.ack),
            None => Err(StoreError::Invalid(format!(
                "mail {} names a receipt {sha_hex} of {} that is not on record",
                job.id, job.sender
            ))),
        }
    }

    /// Mail jobs due at `now`, earliest first, at most `limit`.
    pub fn due_mail(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<MailJob>> {
        let end = keys::mail(now, u64::MAX);
        self.trees
            .mail
            .range(..=end.as_slice())
            .take(limit)
            .map(|kv| {
                let (k, v) = kv?;
                dec(&k, &v)
            })
            .collect()
    }

    /// The time the next queued message is due, if any.
    pub fn next_mail_due(&self) -> Result<Option<DateTime<Utc>>> {
        Ok(self.trees.mail.first()?.and_then(|(k, _)| {
            let ms = u64::from_be_bytes(k[..8].try_into().ok()?);
            DateTime::from_timestamp_millis(i64::try_from(ms).ok()?)
        }))
    }

    /// Move a job to its next state: sent (kept as a slim record), dead (kept whole, with the
    /// last error), or queued again for `job.next_attempt`. Durable when this returns.
    pub fn settle_mail(&self, old_due: DateTime<Utc>, job: &MailJob) -> Result<()> {
        let old = keys::mail(old_due, job.id);
        self.transact(|tx| {
            let was = waiting_state(tx.mail, &old)?;
            tx.mail.remove(&old)?;
            let now = match job.state {
                MailState::Dead
                    if tx
                        .mail_done
                        .get(keys::mail_done(keys::DEAD, job.id))?
                        .is_some() =>
                {
                    None
                }
                s => Some(s),
            };
            tx.mail_moves.moved(was, now);
            match job.state {
                MailState::Queued | MailState::Retrying => {
                    tx.mail
                        .insert(&keys::mail(job.next_attempt, job.id), enc(job))?;
                }
                MailState::Sent => {
                    let slim = MailJob {
                        ack: Vec::new(),
                        ..job.clone()
                    };
                    tx.mail_done
                        .insert(&keys::mail_done(keys::SENT, job.id), enc(&slim))?;
                }
                MailState::Dead => {
                    tx.mail_done
                        .insert(&keys::mail_done(keys::DEAD, job.id), enc(job))?;
                }
            }
            Ok(())
        })?;
        self.flush()
    }

    /// Queued, retrying and dead messages (sent ones are not counted: they only grow): the
    /// writer's counts, read without waiting for it.
    pub fn mail_counts(&self) -> Result<MailCounts> {
        match self.trees.meta.get(keys::MAIL_COUNTS)? {
            Some(v) => dec(keys::MAIL_COUNTS, &v),
            None => Err(StoreError::Invalid(
                "the mail counts are not on record (they are counted when the store opens)".into(),
            )),
        }
    }

    /// Count the mail queue once, at open, when the store has no counts yet (every store
    /// written before the writer kept them): written in one unit of change. Nothing else
    /// writes while the store opens, so the count is exact. Answers whether it counted.
    pub(crate) fn count_mail_once(&self) -> Result<bool> {
        if self.trees.meta.get(keys::MAIL_COUNTS)?.is_some() {
            return Ok(false);
        }
        let c = self.count_mail_by_scan()?;
        self.transact(|tx| {
            tx.meta.insert(keys::MAIL_COUNTS, enc(&c))?;
            Ok(())
        })?;
        self.flush()?;
        if c.queued + c.retrying + c.dead > 0 {
            tracing::info!(
                queued = c.queued,
                retrying = c.retrying,
                dead = c.dead,
                "mail queue counted once; the counts are kept from now on"
            );
        }
        Ok(true)
    }

    /// The counts by reading every waiting message and every dead letter.
    pub(crate) fn count_mail_by_scan(&self) -> Result<MailCounts> {
        let mut c = MailCounts::default();
        for kv in self.trees.mail.iter() {
            let (k, v) = kv?;
            match dec::<StateOf>(&k, &v)?.state {
                MailState::Retrying => c.retrying += 1,
                _ => c.queued += 1,
            }
        }
        for kv in self.trees.mail_done.scan_prefix([keys::DEAD]) {
            kv?;
            c.dead += 1;
        }
        Ok(c)
    }

    /// Messages waiting (queued or retrying), earliest due first.
    pub fn queued_mail(&self, limit: usize) -> Result<Vec<MailJob>> {
        self.trees
            .mail
            .iter()
            .take(limit)
            .map(|kv| {
                let (k, v) = kv?;
                dec(&k, &v)
            })
            .collect()
    }

    /// Dead letters, oldest first.
    pub fn dead_letters(&self) -> Result<Vec<MailJob>> {
        self.trees
            .mail_done
            .scan_prefix([keys::DEAD])
            .map(|kv| {
                let (k, v) = kv?;
                dec(&k, &v)
            })
            .collect()
    }

    /// Messages delivered, newest first, at most `limit` (kept slim: without the ack).
    pub fn sent_mail(&self, limit: usize) -> Result<Vec<MailJob>> {
        self.trees
            .mail_done
            .scan_prefix([keys::SENT])
            .rev()
            .take(limit)
            .map(|kv| {
                let (k, v) = kv?;
                dec(&k, &v)
            })
            .collect()
    }

    /// Queue a dead letter again, due now, its attempts counted afresh.
    pub fn retry_dead(&self, id: u64, by: &Actor, at: DateTime<Utc>) -> Result<MailJob> {
        let dk = keys::mail_done(keys::DEAD, id);
        self.transact(|tx| {
            let mut job: MailJob = Tx::get(tx.mail_done, &dk)?
                .ok_or_else(|| StoreError::Invalid(format!("mail {id} is not a dead letter")))?;
            tx.mail_done.remove(&dk)?;
            tx.mail_moves
                .moved(Some(MailState::Dead), Some(MailState::Queued));
            job.state = MailState::Queued;
            job.attempts = 0;
            job.next_attempt = at;
            tx.mail.insert(&keys::mail(at, id), enc(&job))?;
            tx.audit(
                &AuditEvent {
                    at,
                    actor: by.clone(),
                    action: AuditAction::RetryMail,
                    subject: format!("mail {id}"),
                    outcome: Outcome::Done,
                    detail: format!(
                        "dead letter {} to {} queued again (last error: {})",
                        job.ack_name,
                        job.to.join(", "),
                        job.last_error.as_deref().unwrap_or("none")
                    ),
                },
                &[],
            )?;
            Ok(job)
        })
    }

    /// Mail an ack of a file again (its first ack, or follow-up `seq`) to the partner.
    pub fn resend_ack(
        &self,
        sender: &str,
        sha: &[u8; 32],
        seq: u32,
        to: &[String],
        by: &Actor,
        at: DateTime<Utc>,
    ) -> Result<String> {
        let r = self
            .receipt(sender, sha)?
            .ok_or_else(|| StoreError::Invalid("no such file on record".into()))?;
        let (name, ack) = if seq <= 1 {
            let d = r
                .deliveries
                .first()
                .ok_or_else(|| StoreError::Invalid("the file has no delivery".into()))?;
            (d.ack_name.clone(), Vec::new())
        } else {
            let f = r
                .followups
                .iter()
                .find(|f| f.seq == seq)
                .ok_or_else(|| StoreError::Invalid(format!("the file has no ack {seq}")))?;
            (f.ack_name.clone(), f.ack.clone())
        };
        self.transact(|tx| {
            if seq <= 1 {
                tx.enqueue_first_ack_mail(sender, to, &name, &r.sha256, at)?;
            } else {
                tx.enqueue_mail(sender, to, &name, &ack, at)?;
            }
            tx.audit(
                &AuditEvent {
                    at,
                    actor: by.clone(),
                    action: AuditAction::Resend,
                    subject: name.clone(),
                    outcome: Outcome::Done,
                    detail: format!("{name} of {sender} mailed again to {}", to.join(", ")),
                },
                &[],
            )?;
            Ok(())
        })?;
        Ok(name)
    }
}

/// Mail messages read at most for [`Store::mail_of_acks`], in each of queued, dead, sent.
pub const MAIL_SCAN_CAP: usize = 5_000;

impl Store {
    /// The mail messages of a sender's acks named `ack_names`: waiting and dead ones, and
    /// the newest [`MAIL_SCAN_CAP`] sent ones (older sent mail is not looked for).
    pub fn mail_of_acks(&self, sender: &str, ack_names: &[String]) -> Result<Vec<MailJob>> {
        let mut out = Vec::new();
        let wanted = |j: &MailJob| j.sender == sender && ack_names.contains(&j.ack_name);
        for kv in self.trees.mail.iter().take(MAIL_SCAN_CAP) {
            let (k, v) = kv?;
            let j: MailJob = dec(&k, &v)?;
            if wanted(&j) {
                out.push(j);
            }
        }
        for kind in [keys::DEAD, keys::SENT] {
            for kv in self
                .trees
                .mail_done
                .scan_prefix([kind])
                .rev()
                .take(MAIL_SCAN_CAP)
            {
                let (k, v) = kv?;
                // Sent messages are kept slim; one that does not read as a job is skipped.
                if let Ok(j) = dec::<MailJob>(&k, &v)
                    && wanted(&j)
                {
                    out.push(j);
                }
            }
        }
        out.sort_by_key(|j| j.id);
        Ok(out)
    }
}

#[cfg(test)]
#[path = "mail_queue_tests.rs"]
mod tests;
