//! One group commit, as a pipeline of named steps:
//!
//! stage (claim, read, judge, one unit of change per file) → flush → write acks → archive
//! inputs → mark done → announce (metrics, log, health, live event).
//!
//! No ack is written before the flush. A failure after it (outbox gone, disk full) loses
//! nothing: the receipt stays unfinished and recovery completes it from the stored ack bytes.

use super::recovery::restrict_archived;
use super::{Daemon, DaemonError, Shutdown};
use crate::api::Event;
use crate::api::views::FilingRow;
use crate::filing::{self, ack::FileFacts, rules};
use crate::intake::{self, Content, Placement, Ready};
use crate::store::{Delivery, FileStatus, NewFiling, Receipt, StoreLedger};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::Instant;

/// Files taken into one group commit at most.
pub(super) const BATCH: usize = 256;
/// Input bytes taken into one group commit at most (beyond its first file).
pub(super) const BATCH_BYTES: u64 = 1024 * 1024;

/// How a file was answered: the status of its ack, and whether that ack is the one an earlier
/// identical file got (a re-delivery).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Answered {
    New(FileStatus),
    Duplicate(FileStatus),
}

impl Answered {
    /// The status of the ack sent.
    pub(crate) fn status(self) -> FileStatus {
        match self {
            Answered::New(s) | Answered::Duplicate(s) => s,
        }
    }

    /// A new file rejected as a whole (a duplicate is not counted again).
    fn rejected(self) -> bool {
        self == Answered::New(FileStatus::Rejected)
    }
}

/// As the log, the dashboard and live events say it: `partial`, `accepted (duplicate)`.
impl std::fmt::Display for Answered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Answered::New(s) => f.write_str(s.as_str()),
            Answered::Duplicate(s) => write!(f, "{} (duplicate)", s.as_str()),
        }
    }
}

/// One file taken through steps 1–3, waiting for the group flush.
struct Staged {
    ready: Ready,
    sha: [u8; 32],
    delivery: usize,
    place: Placement,
    ack: Vec<u8>,
    started: Instant,
    received_at: chrono::DateTime<chrono::Utc>,
    answered: Answered,
    apps: usize,
    licenses: usize,
    /// The outcome of each application judged (none for a re-delivery), for the metrics.
    outcomes: Vec<rules::AppStatus>,
    /// Applications held for a reviewer (none counted for a re-delivery).
    held: usize,
}

/// An ack written under its hidden temporary name, not yet in place.
struct AckStaged {
    file: Staged,
    tmp: String,
}

impl Daemon {
    /// The pipeline: stage → flush → write acks → archive → mark done → announce.
    pub(super) fn process_batch(
        &mut self,
        ready: Vec<Ready>,
        stop: &Shutdown,
    ) -> Result<(), DaemonError> {
        let staged = self.stage_all(ready, stop)?;
        if staged.is_empty() {
            return Ok(());
        }
        // Group commit: no ack before its flush.
        self.db()?.flush()?;
        let written = self.write_acks(staged);
        let archived = self.archive_inputs(written);
        self.mark_done(&archived)?;
        self.announce(archived);
        Ok(())
    }

    /// Steps 1–3 for each file; a stop asked for meanwhile ends the batch early (never before
    /// its first file).
    fn stage_all(
        &mut self,
        ready: Vec<Ready>,
        stop: &Shutdown,
    ) -> Result<Vec<Staged>, DaemonError> {
        self.placer.next_batch();
        let mut staged = Vec::with_capacity(ready.len());
        for r in ready {
            if stop.is_cancelled() && !staged.is_empty() {
                break;
            }
            if let Some(s) = self.stage(r)? {
                staged.push(s);
            }
        }
        Ok(staged)
    }

    /// Step 4, each outbox synced once: stage every ack, sync, rename into place, sync.
    fn write_acks(&mut self, staged: Vec<Staged>) -> Vec<Staged> {
        let mut acks = Vec::with_capacity(staged.len());
        for s in staged {
            let outbox = self.outbox(&s).clone();
            match intake::stage_ack(&outbox, &s.place.ack_name, &s.ack) {
                Ok(tmp) => acks.push(AckStaged { file: s, tmp }),
                Err(e) => self.deferred(&s, &e),
            }
        }
        let outboxes: BTreeSet<PathBuf> =
            acks.iter().map(|a| self.outbox(&a.file).clone()).collect();
        for dir in &outboxes {
            if let Err(e) = intake::sync_data(dir) {
                tracing::error!(outbox = %dir.display(), "cannot sync: {e}");
            }
        }
        let mut published = Vec::with_capacity(acks.len());
        for AckStaged { file: s, tmp } in acks {
            match intake::publish_ack(self.outbox(&s), &tmp, &s.place.ack_name, &s.ack) {
                Ok(()) => published.push(s),
                Err(e) => self.deferred(&s, &e),
            }
        }
        for dir in &outboxes {
            if let Err(e) = intake::sync_dir(dir) {
                tracing::error!(outbox = %dir.display(), "cannot sync: {e}");
            }
        }
        published
    }

    /// Step 5: every input whose ack is written moves into the archive; each folder synced once.
    fn archive_inputs(&mut self, published: Vec<Staged>) -> Vec<Staged> {
        let archive = self.data.archive();
        let mut archived = Vec::with_capacity(published.len());
        let mut dirs: BTreeSet<PathBuf> = BTreeSet::new();
        for s in published {
            match intake::archive_move(&s.ready.path, &archive, &s.place.archive) {
                Ok(dir) => {
                    restrict_archived(&archive.join(&s.place.archive));
                    dirs.insert(dir);
                    if let Some(p) = s.ready.path.parent() {
                        dirs.insert(p.to_path_buf());
                    }
                    archived.push(s);
                }
                // Its ack is written; a vanished input is said, never a pause for everyone.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    tracing::warn!(sender = %self.partner(&s), file = %filing::codes::sanitize(&s.ready.name), "the input vanished before it was archived; its ack is written");
                    archived.push(s);
                }
                Err(e) => self.deferred(&s, &e),
            }
        }
        for dir in &dirs {
            if let Err(e) = intake::sync_dir(dir) {
                tracing::error!(folder = %dir.display(), "cannot sync: {e}");
            }
        }
        archived
    }

    /// Step 6: the deliveries answered are marked done, in one unit of change.
    fn mark_done(&self, archived: &[Staged]) -> Result<(), DaemonError> {
        let done: Vec<(&str, [u8; 32], usize)> = archived
            .iter()
            .map(|s| (self.partner(s), s.sha, s.delivery))
            .collect();
        self.db()?.mark_all_done(&done)?;
        Ok(())
    }

    /// Metrics, counters, the log line, the dashboard's newest filings and the live event.
    fn announce(&self, archived: Vec<Staged>) {
        for s in archived {
            let took = s.started.elapsed();
            self.service
                .metrics
                .file_answered(s.answered.status(), &s.outcomes, took);
            self.stats.files.fetch_add(1, Ordering::Relaxed);
            self.stats
                .applications
                .fetch_add(s.apps as u64, Ordering::Relaxed);
            self.stats
                .licenses
                .fetch_add(s.licenses as u64, Ordering::Relaxed);
            if s.answered.rejected() {
                self.stats.rejected_files.fetch_add(1, Ordering::Relaxed);
            }
            let sender = self.partner(&s).to_owned();
            let held = s.held as u64;
            tracing::info!(
                sender = %sender,
                file = %filing::codes::sanitize(&s.ready.name),
                status = %s.answered,
                applications = s.apps,
                licenses = s.licenses,
                held,
                ack = %filing::codes::sanitize(&s.place.ack_name),
                ms = u64::try_from(took.as_millis()).unwrap_or(u64::MAX),
                "filing processed"
            );
            let row = FilingRow {
                at: s.received_at,
                sender,
                file_name: s.ready.name,
                file_sha256: hex::encode(s.sha),
                status: s.answered.to_string(),
                applications: s.apps as u64,
                licenses: s.licenses as u64,
                held,
                ack_name: s.place.ack_name,
            };
            self.health.push_filing(row.clone());
            let _ = self.events.send(Event::Filing(row));
        }
    }

    fn partner(&self, s: &Staged) -> &str {
        &self.intake.inboxes[s.ready.inbox].partner
    }

    fn outbox(&self, s: &Staged) -> &PathBuf {
        &self.intake.inboxes[s.ready.inbox].outbox
    }

    /// An ack or archive move failed: intake pauses; recovery finishes the delivery.
    fn deferred(&mut self, s: &Staged, e: &std::io::Error) {
        let why = format!(
            "cannot write the ack or archive the file ({}, {}): {e}",
            self.partner(s),
            filing::codes::sanitize(&s.ready.name)
        );
        tracing::debug!("{why}");
        self.hold_up(why);
    }

    /// Steps 1–3 for one file. `None` when the file vanished before it could be read, or is
    /// to be read later.
    fn stage(&mut self, r: Ready) -> Result<Option<Staged>, DaemonError> {
        let started = Instant::now();
        let received_at = self.clock.now();
        let Some((r, content)) = self.claim_and_read(r) else {
            return Ok(None);
        };
        let sha: [u8; 32] = match &content {
            // Never read: identify this arrival by its code, name and time.
            Content::NotRegular { .. } => arrival_id("F012", &r.name, received_at),
            Content::TooLarge { .. } => arrival_id("F006", &r.name, received_at),
            Content::Bytes(b) => Sha256::digest(b).into(),
        };
        let partner = self.intake.inboxes[r.inbox].partner.clone();
        // Known bytes from this sender: finish an interrupted delivery, or answer a
        // re-delivery with the original ack.
        if let Some(rec) = self.db()?.receipt(&partner, &sha)? {
            return self.redeliver(r, sha, rec, started, received_at).map(Some);
        }
        self.judge(r, sha, &content, started, received_at)
    }

    /// Step 1: claim the file out of the partner's reach, then read it. `None` when it is
    /// gone, or is to be read later (said in the log).
    fn claim_and_read(&mut self, mut r: Ready) -> Option<(Ready, Content)> {
        let inbox = &self.intake.inboxes[r.inbox];
        let (partner, claimed_dir) = (inbox.partner.clone(), inbox.claimed.clone());
        let file = filing::codes::sanitize(&r.name);
        // Claimed first: the bytes judged are the bytes archived, whatever the partner does
        // to its inbox meanwhile.
        if !r.claimed {
            match intake::claim(&r.path, &claimed_dir) {
                Ok(intake::Claim::Claimed(p)) => {
                    r.path = p;
                    r.claimed = true;
                }
                Ok(intake::Claim::Vanished) => return None,
                Ok(intake::Claim::Busy) => {
                    tracing::info!(sender = %partner, file = %file, "a file of this name is still being finished: this one is read after it");
                    self.intake.again(&r);
                    return None;
                }
                Err(e) => {
                    tracing::error!(sender = %partner, file = %file, "cannot claim: {}; will retry at the next scan", filing::codes::sanitize(&e.to_string()));
                    return None;
                }
            }
        }
        match intake::read_file(&r.path, self.cfg.intake.max_file_bytes) {
            Ok(c) => Some((r, c)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                tracing::warn!(sender = %partner, file = %file, "the claimed file vanished before it was read");
                None
            }
            Err(e) => {
                tracing::error!(file = %file, "cannot read: {e}; will retry at the next scan");
                None
            }
        }
    }

    /// Bytes this sender sent before: the stored ack again, under the unfinished delivery of
    /// the same name (a crash between commit and done) or a new one.
    fn redeliver(
        &mut self,
        r: Ready,
        sha: [u8; 32],
        rec: Receipt,
        started: Instant,
        received_at: chrono::DateTime<chrono::Utc>,
    ) -> Result<Staged, DaemonError> {
        let inbox = self.intake.inboxes[r.inbox].clone();
        let unfinished = rec
            .deliveries
            .iter()
            .enumerate()
            .rev()
            .find(|(_, d)| !d.done && d.file_name == r.name);
        let (delivery, place) = match unfinished {
            Some((i, d)) => {
                let place = Placement {
                    ack_name: d.ack_name.clone(),
                    archive: d.archive.clone(),
                };
                self.placer.keep(&place);
                (i, place)
            }
            None => {
                let place = self.placer.place(&inbox, &r.name, received_at);
                let d = Delivery {
                    file_name: r.name.clone(),
                    ack_name: place.ack_name.clone(),
                    received_at,
                    archive: place.archive.clone(),
                    done: false,
                };
                let added = self
                    .db()?
                    .add_delivery(&inbox.partner, &sha, d, &inbox.emails)?;
                (added.1, place)
            }
        };
        Ok(Staged {
            ready: r,
            sha,
            delivery,
            place,
            ack: rec.ack,
            started,
            received_at,
            answered: Answered::Duplicate(rec.status),
            apps: rec.apps.len(),
            licenses: 0,
            outcomes: Vec::new(),
            held: 0,
        })
    }

    /// Steps 2–3 for new bytes: judge in memory, then one unit of change with the ack bytes
    /// and the placement. `None` when the store could not answer the rules.
    fn judge(
        &mut self,
        r: Ready,
        sha: [u8; 32],
        content: &Content,
        started: Instant,
        received_at: chrono::DateTime<chrono::Utc>,
    ) -> Result<Option<Staged>, DaemonError> {
        let filing_day = received_at.date_naive();
        let inbox = self.intake.inboxes[r.inbox].clone();
        let input = match content {
            Content::NotRegular { kind } => filing::Input::NotRegular(kind),
            Content::TooLarge { size } => filing::Input::TooLarge(*size),
            Content::Bytes(bytes) => filing::Input::Bytes(bytes),
        };
        let registered = |id: &str| self.cfg.partner(id).is_some();
        let cx = rules::FileContext {
            inbox_sender: &inbox.partner,
            is_registered: &registered,
            filing_day,
            sha256: sha,
            settings: &self.settings,
        };
        let db = self.db()?;
        let verdict = filing::check_input(
            &r.name,
            input,
            self.cfg.intake.max_file_bytes,
            &cx,
            &mut StoreLedger::new(&db),
        );
        let verdict = match verdict {
            Ok(v) => v,
            // The store could not answer the rules: not the filer's fault, so no ack. The file
            // stays claimed and is judged again at the next rescan.
            Err(e) => {
                let msg = format!(
                    "cannot judge {} of {}: {e}; it stays claimed and is tried again at the next rescan",
                    filing::codes::sanitize(&r.name),
                    inbox.partner
                );
                tracing::error!("{msg}");
                self.health.record_error(received_at, msg);
                return Ok(None);
            }
        };
        let place = self.placer.place(&inbox, &r.name, received_at);
        let committed = db.commit(&NewFiling {
            sender: &inbox.partner,
            facts: FileFacts {
                file_name: &r.name,
                sha256: sha,
                received_at,
            },
            filing_day,
            verdict: &verdict,
            ack_name: &place.ack_name,
            archive: &place.archive,
            mail_to: &inbox.emails,
        })?;
        Ok(Some(Staged {
            ready: r,
            sha,
            delivery: 0,
            place,
            ack: committed.ack,
            started,
            received_at,
            answered: Answered::New(verdict.status()),
            apps: verdict.apps.len(),
            licenses: committed.issued.len(),
            outcomes: verdict.apps.iter().map(|a| a.status).collect(),
            held: verdict.held(),
        }))
    }
}

/// The identity of a file that is never read (F006, F012): its code, name and time of
/// receipt. Each such arrival is its own receipt (docs/format.md, "Intake").
fn arrival_id(code: &str, name: &str, at: chrono::DateTime<chrono::Utc>) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(code.as_bytes());
    h.update(b"\0");
    h.update(name.as_bytes());
    h.update(at.timestamp_nanos_opt().unwrap_or(0).to_be_bytes());
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_read_as_before() {
        assert_eq!(Answered::New(FileStatus::Partial).to_string(), "partial");
        assert_eq!(
            Answered::Duplicate(FileStatus::Accepted).to_string(),
            "accepted (duplicate)"
        );
        assert!(Answered::New(FileStatus::Rejected).rejected());
        assert!(!Answered::Duplicate(FileStatus::Rejected).rejected());
    }
}
