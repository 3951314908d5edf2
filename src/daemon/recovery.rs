//! Recovery: every delivery a crash (or a failed write) left half done is completed from the
//! ack bytes stored with its receipt, at start and before intake resumes after a pause.

use super::{Daemon, DaemonError};
use crate::filing::{self, rules};
use crate::intake::{self, Content, Inbox};
use crate::store::Receipt;
use sha2::{Digest, Sha256};

/// What recovery finds under an unfinished delivery's file name.
enum Presence {
    /// Nothing: the input was archived (so its ack was written) or removed by the partner.
    Gone,
    /// The delivery's own input.
    Same,
    /// Another file that arrived since under the same name.
    Other,
}

/// An archived input keeps the mode its uploader gave it: take away what is more than
/// rw-r----- (where the daemon owns the file; else the archive folder's rwxr-x--- guards it).
pub(super) fn restrict_archived(path: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(m) = std::fs::symlink_metadata(path)
        && m.is_file()
        && m.permissions().mode() & 0o137 != 0
    {
        let _ = std::fs::set_permissions(
            path,
            std::fs::Permissions::from_mode(m.permissions().mode() & 0o640),
        );
    }
}

impl Daemon {
    /// Finish every delivery a crash (or a failed write) left half done, from the stored ack
    /// bytes. `Some(why)` when something could not be finished yet.
    pub(super) fn recover(&mut self) -> Result<Option<String>, DaemonError> {
        let mut unfinished: Option<String> = None;
        for r in self.db()?.unfinished()? {
            let Some(inbox) = self
                .intake
                .inboxes
                .iter()
                .find(|i| i.partner == r.sender)
                .cloned()
            else {
                tracing::warn!(sender = %r.sender, "unfinished receipt of a partner no longer registered; left as it is");
                continue;
            };
            let sha = crate::store::sha_from_hex(&r.sha256)?;
            let deliveries = self.finish_deliveries(&inbox, &r, &sha)?;
            let followups = self.finish_followups(&inbox, &r, &sha)?;
            if let Some(why) = deliveries.or(followups) {
                unfinished.get_or_insert(why);
            }
        }
        self.db()?.flush()?;
        Ok(unfinished)
    }

    /// The receipt's unfinished deliveries: ack written, input archived, marked done.
    fn finish_deliveries(
        &mut self,
        inbox: &Inbox,
        r: &Receipt,
        sha: &[u8; 32],
    ) -> Result<Option<String>, DaemonError> {
        let mut unfinished = None;
        for (i, d) in r.deliveries.iter().enumerate().filter(|(_, d)| !d.done) {
            // Claimed before it was read; an input of an older version may still lie in
            // the inbox, where a file of the same name may also be a new one.
            let claimed = intake::name_in(&inbox.claimed, &d.file_name);
            let src = if std::fs::symlink_metadata(&claimed).is_ok() {
                claimed
            } else {
                intake::name_in(&inbox.dir, &d.file_name)
            };
            let in_inbox = match std::fs::symlink_metadata(&src) {
                Err(_) => Presence::Gone,
                Ok(_) => self.identify(&src, r, sha),
            };
            // The ack is written before the input moves: an archived input had its ack.
            // A different file under the same name is new: only the old ack is written,
            // and normal intake judges the new file.
            let archive = self.data.archive();
            let archived = std::fs::symlink_metadata(archive.join(&d.archive)).is_ok();
            let finished = match in_inbox {
                Presence::Same => intake::write_ack(&inbox.outbox, &d.ack_name, &r.ack)
                    .and_then(|()| intake::archive(&src, &archive, &d.archive))
                    .map(|()| restrict_archived(&archive.join(&d.archive))),
                Presence::Gone | Presence::Other if archived => Ok(()),
                // Input gone but never archived: the partner removed it first; its ack
                // may not exist yet (an identical one already there counts as written).
                Presence::Gone | Presence::Other => {
                    intake::write_ack(&inbox.outbox, &d.ack_name, &r.ack)
                }
            };
            if let Err(e) = finished {
                not_finished(
                    &mut unfinished,
                    format!(
                        "cannot finish {} of {}: {e}",
                        filing::codes::sanitize(&d.file_name),
                        r.sender
                    ),
                );
                continue;
            }
            self.db()?.mark_done(&r.sender, sha, i)?;
            // Counted once, when done; the first delivery is the one whose apps were judged.
            let outcomes: Vec<rules::AppStatus> = match i {
                0 => r.apps.iter().map(|a| a.status).collect(),
                _ => Vec::new(),
            };
            let took = (self.clock.now() - d.received_at)
                .to_std()
                .unwrap_or_default();
            self.service
                .metrics
                .file_answered(r.status, &outcomes, took);
            tracing::info!(sender = %r.sender, file = %filing::codes::sanitize(&d.file_name), ack = %filing::codes::sanitize(&d.ack_name), "unfinished delivery completed");
        }
        Ok(unfinished)
    }

    /// Follow-up acks committed before a crash: written now from their stored bytes.
    fn finish_followups(
        &mut self,
        inbox: &Inbox,
        r: &Receipt,
        sha: &[u8; 32],
    ) -> Result<Option<String>, DaemonError> {
        let mut unfinished = None;
        for f in r.followups.iter().filter(|f| !f.done) {
            if let Err(e) = intake::write_ack(&inbox.outbox, &f.ack_name, &f.ack) {
                not_finished(
                    &mut unfinished,
                    format!(
                        "cannot write the follow-up ack {} of {}: {e}",
                        filing::codes::sanitize(&f.ack_name),
                        r.sender
                    ),
                );
                continue;
            }
            self.db()?.mark_followup_done(&r.sender, sha, f.seq)?;
            tracing::info!(sender = %r.sender, ack = %filing::codes::sanitize(&f.ack_name), "unfinished follow-up ack written");
        }
        Ok(unfinished)
    }

    /// Whether the file now under an unfinished delivery's name is that delivery's input.
    fn identify(&self, path: &std::path::Path, r: &Receipt, sha: &[u8; 32]) -> Presence {
        let same = match intake::read_file(path, self.cfg.intake.max_file_bytes) {
            Ok(Content::Bytes(b)) => <[u8; 32]>::from(Sha256::digest(&b)) == *sha,
            Ok(Content::TooLarge { .. }) => r.file_error.as_deref() == Some("F006"),
            Ok(Content::NotRegular { .. }) => r.file_error.as_deref() == Some("F012"),
            Err(_) => false,
        };
        if same {
            Presence::Same
        } else {
            Presence::Other
        }
    }
}

/// A step recovery could not finish: said in the debug log; the first one is kept, to say why
/// intake stays paused.
fn not_finished(unfinished: &mut Option<String>, why: String) {
    tracing::debug!("{why}");
    unfinished.get_or_insert(why);
}
