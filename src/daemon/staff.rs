//! The writer's side of staff actions: checks against the store, one commit and flush, then
//! the follow-up ack written to the partner's outbox (spec sections 6 and 9). The order of
//! effects is a filing's: a kill after the flush leaves the ack to recovery, never half a
//! decision.

use super::writer::{Command, StaffAction, StaffReply};
use super::{Daemon, DaemonError};
use crate::api::refusals::Target;
use crate::api::views::{CancelView, DecisionView, Reply};
use crate::api::{ApiError, ErrorKind, Event};
use crate::filing::model::LicenseNumber;
use crate::intake;
use crate::store::{
    Actor, Decision, FollowUpAck, Handle, HeldLookup, LicenseAction, LicenseStatus, PendingApp,
    Ruling, StoreError,
};
use std::collections::HashSet;
use std::path::PathBuf;

fn failed(e: StoreError) -> ApiError {
    ApiError::failed(format!(
        "the store could not do it: {e}; nothing was changed"
    ))
}

impl Daemon {
    /// Apply one command of the writer's queue. Only damage to the store stops the daemon.
    pub(super) fn apply(&mut self, c: Command) -> Result<(), DaemonError> {
        match c {
            Command::Audit(e, done) => {
                // A refused cancellation is findable from its license too.
                let license = crate::filing::model::LicenseNumber::parse(&e.subject);
                if let Err(err) = self.db().and_then(|db| {
                    db.record_audit(&e, license.as_slice())
                        .and_then(|()| db.flush())
                }) {
                    tracing::error!("cannot record an audit event: {err}");
                    if err.is_corruption() {
                        return Err(err.into());
                    }
                }
                if let Some(done) = done {
                    let _ = done.send(());
                }
            }
            Command::SettleMail { old_due, job, done } => {
                let r = self.db().and_then(|db| db.settle_mail(old_due, &job));
                if r.is_ok() {
                    let _ = self.events.send(Event::Mail {
                        id: job.id,
                        state: job.state,
                    });
                }
                let corrupt = matches!(&r, Err(e) if e.is_corruption());
                let _ = done.send(r.map_err(|e| e.to_string()));
                if corrupt {
                    return Err(DaemonError::Store(StoreError::Invalid(
                        "the mail queue is damaged".into(),
                    )));
                }
            }
            Command::Staff {
                user,
                action,
                reply,
            } => {
                let what = match &action {
                    StaffAction::Cancel { .. } => "cancellation",
                    StaffAction::Decide { .. } => "review decision",
                    StaffAction::RetryMail { .. } => "mail retry",
                    StaffAction::Resend { .. } => "re-send",
                };
                let r = if self.data_disk_paused() {
                    Err(ApiError::failed(
                        "the data disk is full: intake and staff changes wait until there is space again (`aim status` says when); nothing was changed",
                    ))
                } else {
                    self.staff(&user, action)
                };
                if let Err(e) = &r {
                    tracing::info!(user = %user, "{what} not done: {}", e.message);
                } else {
                    let _ = self.events.send(Event::Changed { what: what.into() });
                }
                let _ = reply.send(r);
            }
        }
        Ok(())
    }

    fn staff(&mut self, user: &str, action: StaffAction) -> StaffReply {
        let by = Actor::Staff(user.to_owned());
        let r = match action.clone() {
            StaffAction::Cancel { license, reason } => self.cancel(&by, license, &reason),
            StaffAction::Decide { handles, ruling } => self.decide(&by, &handles, &ruling),
            StaffAction::RetryMail { id } => {
                let at = self.clock.now();
                match self.db().map_err(failed)?.retry_dead(id, &by, at) {
                    Ok(job) => self
                        .db()
                        .map_err(failed)?
                        .flush()
                        .map_err(failed)
                        .map(|()| Reply::Done {
                            message: format!(
                                "mail {id} ({} to {}) queued again",
                                job.ack_name,
                                job.to.join(", ")
                            ),
                        }),
                    Err(StoreError::Invalid(m)) => Err(ApiError::not_found(m)),
                    Err(e) => Err(failed(e)),
                }
            }
            StaffAction::Resend { sender, sha, seq } => {
                let to = self.mail_to(&sender);
                if to.is_empty() {
                    return Err(ApiError::refused(format!(
                        "partner {sender} has no registered e-mail address to send to"
                    )));
                }
                let at = self.clock.now();
                match self
                    .db()
                    .map_err(failed)?
                    .resend_ack(&sender, &sha, seq, &to, &by, at)
                {
                    Ok(name) => self
                        .db()
                        .map_err(failed)?
                        .flush()
                        .map_err(failed)
                        .map(|()| Reply::Done {
                            message: format!("{name} queued for mail to {}", to.join(", ")),
                        }),
                    Err(StoreError::Invalid(m)) => Err(ApiError::not_found(m)),
                    Err(e) => Err(failed(e)),
                }
            }
        };
        if let Err(e) = &r
            && matches!(e.kind, ErrorKind::Refused | ErrorKind::NotFound)
        {
            self.audit_refusal(user, &action, e);
        }
        r
    }

    /// Recorded at once: the writer is the one that writes the audit log.
    fn audit_refusal(&mut self, user: &str, action: &StaffAction, e: &ApiError) {
        let target = Target::of_action(action);
        let ev = target.refused(user, e, self.clock.now());
        if let Err(err) = self.db().and_then(|db| {
            db.record_audit(&ev, &target.licenses)
                .and_then(|()| db.flush())
        }) {
            tracing::error!("cannot record a refusal in the audit log: {err}");
        }
    }

    fn outbox_of(&self, sender: &str) -> Option<PathBuf> {
        self.intake
            .inboxes
            .iter()
            .find(|i| i.partner == sender)
            .map(|i| i.outbox.clone())
    }

    fn mail_to(&self, sender: &str) -> Vec<String> {
        self.cfg
            .partner(sender)
            .map(|p| p.emails.clone())
            .unwrap_or_default()
    }

    /// Whether `name` is taken in the partner's outbox (or the partner is gone).
    fn name_taken(&self, sender: &str, name: &str) -> bool {
        match self.outbox_of(sender) {
            Some(dir) => std::fs::symlink_metadata(dir.join(name)).is_ok(),
            None => false,
        }
    }

    /// Step 4–6 of a follow-up: write the ack, then mark it done. A failure leaves it to
    /// recovery (it is committed): the staff action is done either way.
    fn deliver(&mut self, fu: &FollowUpAck) {
        let Some(outbox) = self.outbox_of(&fu.sender) else {
            return;
        };
        match intake::write_ack(&outbox, &fu.ack_name, &fu.ack)
            .map_err(|e| e.to_string())
            .and_then(|()| {
                self.db()
                    .and_then(|db| db.mark_followup_done(&fu.sender, &fu.sha, fu.seq))
                    .map_err(|e| e.to_string())
            }) {
            Ok(()) => {
                tracing::info!(sender = %fu.sender, ack = %crate::filing::codes::sanitize(&fu.ack_name), "follow-up ack written")
            }
            Err(e) => self.hold_up(format!(
                "cannot write the follow-up ack {} of {}: {e}",
                crate::filing::codes::sanitize(&fu.ack_name),
                fu.sender
            )),
        }
    }

    fn cancel(&mut self, by: &Actor, n: LicenseNumber, reason: &str) -> StaffReply {
        let lic = self
            .db()
            .map_err(failed)?
            .license(n)
            .map_err(failed)?
            .ok_or_else(|| ApiError::not_found(format!("license {n} is not on record")))?;
        if lic.status == LicenseStatus::Cancelled {
            let when = lic
                .history
                .iter()
                .rev()
                .find(|e| e.action == LicenseAction::Cancelled)
                .map(|e| format!(" by {} at {}", e.by, e.at.format("%Y-%m-%dT%H:%M:%SZ")))
                .unwrap_or_default();
            return Err(ApiError::refused(format!(
                "license {n} was already cancelled{when}"
            )));
        }
        if self.outbox_of(&lic.sender).is_none() {
            return Err(ApiError::refused(format!(
                "license {n} belongs to {}, which is no longer a registered partner: its follow-up ack would have nowhere to go",
                lic.sender
            )));
        }
        let at = self.clock.now();
        let to = self.mail_to(&lic.sender);
        let taken = |s: &str, name: &str| self.name_taken(s, name);
        let fu = self
            .db()
            .map_err(failed)?
            .staff_cancel(n, reason, by, at, &to, &taken)
            .map_err(failed)?;
        self.db().map_err(failed)?.flush().map_err(failed)?;
        self.deliver(&fu);
        tracing::info!(user = %by, license = %n, ack = %crate::filing::codes::sanitize(&fu.ack_name), "license cancelled by staff");
        Ok(Reply::Cancelled(CancelView {
            license: n.to_string(),
            status: "cancelled".into(),
            ack_name: fu.ack_name,
            ack_sequence: fu.seq,
        }))
    }

    /// The held applications `handles` name, every one of them decidable, or why not (all or
    /// nothing: a request that cannot be done whole changes nothing, so that the reviewer can
    /// correct it and send it again).
    fn decidable(
        &self,
        handles: &[Handle],
        ruling: &Ruling,
    ) -> Result<Vec<(Vec<u8>, PendingApp)>, ApiError> {
        let mut items: Vec<(Vec<u8>, PendingApp)> = Vec::new();
        let mut refused = Vec::new();
        let mut missing = Vec::new();
        let mut seen = HashSet::new();
        for h in handles {
            if !seen.insert(h.clone()) {
                continue;
            }
            match self
                .db()
                .map_err(failed)?
                .lookup_handle(h)
                .map_err(failed)?
            {
                HeldLookup::Held { key, app } => {
                    if let (Ruling::Approve, Some(n)) = (ruling, app.verdict.license)
                        && let Some(l) = self.db().map_err(failed)?.license(n).map_err(failed)?
                        && l.status == LicenseStatus::Cancelled
                    {
                        refused.push(format!(
                            "{h} corrects license {n}, which was cancelled since: reject it instead"
                        ));
                        continue;
                    }
                    if self.outbox_of(&app.sender).is_none() {
                        refused.push(format!(
                            "{h} is from {}, no longer a registered partner",
                            app.sender
                        ));
                        continue;
                    }
                    items.push((key, *app));
                }
                HeldLookup::Decided(d) => {
                    let what = match &d.decision {
                        Decision::Approved { license } => format!("approved (license {license})"),
                        Decision::Rejected { .. } => "rejected".into(),
                    };
                    refused.push(format!(
                        "{h} was already {what} by {} at {}",
                        d.by,
                        d.at.format("%Y-%m-%dT%H:%M:%SZ")
                    ));
                }
                HeldLookup::Unknown => {
                    missing.push(format!("{h} is not an application held for review"))
                }
            }
        }
        if !refused.is_empty() || !missing.is_empty() {
            let kind = if refused.is_empty() {
                ErrorKind::NotFound
            } else {
                ErrorKind::Refused
            };
            refused.extend(missing);
            let note = if items.is_empty() {
                ""
            } else {
                "; nothing was decided"
            };
            return Err(ApiError::new(kind, format!("{}{note}", refused.join("; "))));
        }
        Ok(items)
    }

    fn decide(&mut self, by: &Actor, handles: &[Handle], ruling: &Ruling) -> StaffReply {
        let items = self.decidable(handles, ruling)?;
        let at = self.clock.now();
        let mail = |s: &str| self.mail_to(s);
        let taken = |s: &str, name: &str| self.name_taken(s, name);
        let (decided, acks) = self
            .db()
            .map_err(failed)?
            .decide(&items, ruling, by, at, &mail, &taken)
            .map_err(failed)?;
        self.db().map_err(failed)?.flush().map_err(failed)?;
        for fu in &acks {
            self.deliver(fu);
        }
        let views = decided
            .into_iter()
            .map(|d| {
                let ack = items
                    .iter()
                    .find(|(_, a)| a.handle() == d.handle)
                    .and_then(|(_, a)| {
                        acks.iter()
                            .find(|f| f.sender == a.sender && hex::encode(f.sha) == a.receipt)
                    });
                let (decision, license, reason) = match d.decision {
                    Decision::Approved { license } => ("approved", Some(license.to_string()), None),
                    Decision::Rejected { reason } => ("rejected", None, Some(reason)),
                };
                tracing::info!(user = %by, handle = %d.handle, decision, "review decision");
                DecisionView {
                    handle: d.handle,
                    decision: decision.into(),
                    license,
                    reason,
                    ack_name: ack.map(|f| f.ack_name.clone()).unwrap_or_default(),
                    ack_sequence: ack.map_or(0, |f| f.seq),
                }
            })
            .collect();
        Ok(Reply::Decided(views))
    }
}
