//! The durable mail queue: jobs keyed by due time, sent ones kept slim, dead letters kept whole
//! for staff (retry, re-send).

use super::change::Tx;
use super::codec::{dec, enc};
use super::records::*;
use super::{Result, Store, StoreError, keys};
use chrono::{DateTime, Utc};

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
            tx.mail.remove(&old)?;
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

    /// Queued, retrying and dead messages (sent ones are not counted: they only grow).
    pub fn mail_counts(&self) -> Result<MailCounts> {
        // A sled iterator is no snapshot: a retry settled during the count moves its message
        // (removed, then written at a later key), so the count could meet it twice or miss it.
        // Counted while no unit of change runs, the count is exact; a writer stuck on a
        // failing disk must not hold it up, so after a short wait it counts anyway, each
        // message once, by its id, in the state it was last seen in.
        let _quiet = self.quiet_for(std::time::Duration::from_millis(200));
        let mut waiting: std::collections::HashMap<u64, MailState> = Default::default();
        for kv in self.trees.mail.iter() {
            let (k, v) = kv?;
            let j: MailJob = dec(&k, &v)?;
            waiting.insert(j.id, j.state);
        }
        let mut c = MailCounts::default();
        for kv in self.trees.mail_done.scan_prefix([keys::DEAD]) {
            let (k, _) = kv?;
            // Dead since it was seen waiting: counted as dead only.
            if let Some(id) = k.get(1..9).and_then(|b| <[u8; 8]>::try_from(b).ok()) {
                waiting.remove(&u64::from_be_bytes(id));
            }
            c.dead += 1;
        }
        for state in waiting.into_values() {
            match state {
                MailState::Retrying => c.retrying += 1,
                _ => c.queued += 1,
            }
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
