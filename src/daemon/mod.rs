//! `aim daemon`: watches the inboxes, judges each filing, commits it to the store, writes the
//! ack and archives the input, in the order of effects that makes a crash at any point lose
//! nothing and duplicate nothing (docs/architecture.md):
//!
//! 1. read the file (never following links), SHA-256; 2. judge it in memory;
//! 3. one store unit of change per file (the journal), one flush per batch (group commit);
//! 4. write the ack atomically; 5. move the input into the archive; 6. mark the receipt done.
//!
//! At start, unfinished receipts are completed from their stored ack bytes before any new file.

pub mod publisher;
pub mod staff;
pub mod writer;

use crate::api::Event;
use crate::api::views::FilingRow;
use crate::clock::Clock;
use crate::config::Config;
use crate::filing::{self, ack::FileFacts, rules};
use crate::health::Health;
use crate::intake::{self, Content, Inbox, Intake, Ready};
use crate::store::{Delivery, NewFiling, SharedStore, Store, StoreLedger};
use sha2::{Digest, Sha256};
use std::collections::{BTreeSet, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use writer::{Command, Writer};

/// Files taken into one group commit at most.
const BATCH: usize = 256;
/// Input bytes taken into one group commit at most (beyond its first file).
const BATCH_BYTES: u64 = 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error(
        "another aim daemon is already running on the data folder {data} (pid {pid}); stop it first, or give this one another `data` folder"
    )]
    AlreadyRunning { data: String, pid: String },
    #[error("cannot prepare {what} {path}: {source}")]
    Folder {
        what: &'static str,
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The store failed under the daemon and the disk has room again: start afresh (the
    /// process executes itself anew; recovery at start finishes what was unfinished).
    #[error("{0}: start aim again (it finishes what is unfinished)")]
    Restart(String),
}

/// Counters for the status line and tests.
#[derive(Default)]
pub struct Stats {
    pub files: AtomicU64,
    pub applications: AtomicU64,
    pub licenses: AtomicU64,
    pub rejected_files: AtomicU64,
}

/// The data folder's layout.
pub struct DataDir {
    pub root: PathBuf,
}

impl DataDir {
    pub fn db(&self) -> PathBuf {
        self.root.join("db")
    }
    pub fn archive(&self) -> PathBuf {
        self.root.join("archive")
    }
    /// `claimed/<ID>/`: files taken out of a partner's inbox, being read (docs/architecture.md).
    pub fn claimed(&self) -> PathBuf {
        self.root.join("claimed")
    }
    pub fn logs(&self) -> PathBuf {
        self.root.join("log")
    }
    pub fn mail(&self) -> PathBuf {
        self.root.join("mail")
    }
    pub fn lock(&self) -> PathBuf {
        self.root.join("aim.lock")
    }
    pub fn socket(&self) -> PathBuf {
        self.root.join(crate::api::SOCKET)
    }
}

/// Holds the data folder's exclusive lock for the daemon's lifetime. Dropped (a clean exit),
/// it empties the file first, so no stale pid is left behind.
pub struct DataLock {
    file: std::fs::File,
}

impl Drop for DataLock {
    fn drop(&mut self) {
        let _ = self.file.set_len(0);
    }
}

/// Take the data folder's lock, or say which process holds it.
pub fn lock_data(data: &DataDir) -> Result<DataLock, DaemonError> {
    use std::io::{Seek, Write};
    std::fs::create_dir_all(&data.root).map_err(|source| DaemonError::Folder {
        what: "data folder",
        path: data.root.display().to_string(),
        source,
    })?;
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(data.lock())?;
    if rustix::fs::flock(&f, rustix::fs::FlockOperation::NonBlockingLockExclusive).is_err() {
        let pid = std::fs::read_to_string(data.lock())
            .unwrap_or_default()
            .trim()
            .to_owned();
        return Err(DaemonError::AlreadyRunning {
            data: data.root.display().to_string(),
            pid: if pid.is_empty() {
                "unknown".into()
            } else {
                pid
            },
        });
    }
    f.set_len(0)?;
    f.seek(std::io::SeekFrom::Start(0))?;
    writeln!(f, "{}", std::process::id())?;
    Ok(DataLock { file: f })
}

/// New files and folders in the data folder take its group (the setgid bit on a folder the
/// daemon owns; where that is not allowed, e.g. systemd's `RestrictSUIDSGID=`, they take the
/// daemon's group, which the deployment makes the same).
fn group_from_data_folder(root: &std::path::Path) {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let Ok(m) = std::fs::metadata(root) else {
        return;
    };
    if m.uid() == rustix::process::geteuid().as_raw() && m.mode() & 0o2000 == 0 {
        let mode = (m.mode() & 0o7777) | 0o2000;
        if let Err(e) = std::fs::set_permissions(root, std::fs::Permissions::from_mode(mode)) {
            tracing::debug!("cannot set the setgid bit on the data folder: {e}");
        }
    }
}

/// An archived input keeps the mode its uploader gave it: take away what is more than
/// rw-r----- (where the daemon owns the file; else the archive folder's rwxr-x--- guards it).
fn restrict_archived(path: &std::path::Path) {
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

/// What recovery finds under an unfinished delivery's file name.
enum Presence {
    /// Nothing: the input was archived (so its ack was written) or removed by the partner.
    Gone,
    /// The delivery's own input.
    Same,
    /// Another file that arrived since under the same name.
    Other,
}

/// One file taken through steps 1–3, waiting for the group flush.
struct Staged {
    ready: Ready,
    sha: [u8; 32],
    delivery: usize,
    ack_name: String,
    ack: Vec<u8>,
    archive: String,
    started: Instant,
    received_at: chrono::DateTime<chrono::Utc>,
    status: String,
    apps: usize,
    licenses: usize,
    /// The outcome of each application judged (none for a re-delivery), for the metrics.
    outcomes: Vec<rules::AppStatus>,
}

/// Why intake waits, and when it tries again: 2 s, doubling to a minute.
struct Pause {
    kind: PauseKind,
    why: String,
    since: Instant,
    next: Instant,
    delay: Duration,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PauseKind {
    /// Acks or archive moves fail: the outbox or archive is full or unwritable.
    Outbox,
    /// The database cannot write (the data disk is full): it is opened anew before resuming.
    DataDisk,
}

/// Free space the data disk needs before the database is opened again after it was full.
const MIN_FREE_DATA: u64 = 4 * 1024 * 1024;

/// Bytes an unprivileged process may still write on `dir`'s file system.
fn free_bytes(dir: &std::path::Path) -> Option<u64> {
    rustix::fs::statvfs(dir)
        .ok()
        .map(|s| s.f_bavail.saturating_mul(s.f_frsize))
}

const PAUSE_FIRST: Duration = Duration::from_secs(2);
const PAUSE_MAX: Duration = Duration::from_secs(60);

pub struct Daemon {
    cfg: Config,
    data: DataDir,
    store: Arc<SharedStore>,
    intake: Intake,
    settings: rules::RuleSettings,
    pub stats: Arc<Stats>,
    archive_seq: u64,
    /// Intake waits while acks or archive moves fail (an outbox or archive full or unwritable).
    pause: Option<Pause>,
    clock: Arc<dyn Clock>,
    health: Arc<Health>,
    events: tokio::sync::broadcast::Sender<Event>,
    writer: Writer,
    commands: std::sync::mpsc::Receiver<Command>,
    /// systemd notifications, watchdog and metrics (spec 8, "Running as a service").
    service: Arc<crate::service::Service>,
}

impl Daemon {
    /// Prepare folders, open the store (the caller holds the data lock) and start watching.
    pub fn new(
        cfg: Config,
        store: Arc<SharedStore>,
        clock: Arc<dyn Clock>,
    ) -> Result<Daemon, DaemonError> {
        let data = DataDir {
            root: cfg.data.clone(),
        };
        for (what, p) in [
            ("archive folder", data.archive()),
            ("inbox folder", cfg.inbox.clone()),
            ("outbox folder", cfg.outbox.clone()),
        ] {
            std::fs::create_dir_all(&p).map_err(|source| DaemonError::Folder {
                what,
                path: p.display().to_string(),
                source,
            })?;
        }
        let inboxes: Vec<Inbox> = cfg
            .partners
            .iter()
            .map(|p| Inbox {
                partner: p.id.clone(),
                dir: cfg.partner_inbox(p),
                outbox: cfg.partner_outbox(p),
                emails: p.emails.clone(),
                claimed: PathBuf::new(),
            })
            .collect();
        let intake = Intake::new(
            inboxes,
            cfg.inbox.clone(),
            &data.claimed(),
            Duration::from_millis(cfg.intake.settle_ms),
        )?;
        let settings = cfg.rule_settings();
        let (writer, commands) = Writer::new(intake.waker());
        let (events, _) = tokio::sync::broadcast::channel(1024);
        // The dashboard's newest filings, as the store kept them: a restart does not empty it.
        let health = Arc::new(Health::default());
        health.fill_recent(
            store
                .get()?
                .recent_filed(crate::health::RECENT)?
                .into_iter()
                .map(FilingRow::from)
                .collect(),
        );
        Ok(Daemon {
            cfg,
            data,
            store,
            intake,
            settings,
            stats: Arc::new(Stats::default()),
            archive_seq: 0,
            pause: None,
            clock,
            health,
            events,
            writer,
            commands,
            service: Arc::new(crate::service::Service::from_env()),
        })
    }

    pub fn service(&self) -> Arc<crate::service::Service> {
        Arc::clone(&self.service)
    }

    pub fn shared_store(&self) -> Arc<SharedStore> {
        Arc::clone(&self.store)
    }

    /// The store for one step of the writer's work: refused once it failed (a failed sled
    /// `Db` is never written or flushed again; see `SharedStore::fail`).
    fn db(&self) -> Result<Arc<Store>, crate::store::StoreError> {
        self.store.writable()
    }

    /// The writer's queue: every change to the store from outside the intake loop.
    pub fn writer(&self) -> Writer {
        self.writer.clone()
    }

    pub fn health(&self) -> Arc<Health> {
        Arc::clone(&self.health)
    }

    pub fn events(&self) -> tokio::sync::broadcast::Sender<Event> {
        self.events.clone()
    }

    /// Apply the commands waiting in the writer's queue, in order.
    fn apply_commands(&mut self) -> Result<(), DaemonError> {
        while let Ok(c) = self.commands.try_recv() {
            self.apply(c)?;
        }
        Ok(())
    }

    /// Run until `stop` is set; the file in hand (the batch) is finished first.
    pub fn run(&mut self, stop: &AtomicBool) -> Result<(), DaemonError> {
        match self.recover() {
            Ok(None) => {}
            Ok(Some(why)) => self.hold_up(why),
            Err(DaemonError::Store(e)) if e.is_io() => self.data_disk_full(&e),
            Err(e) => return Err(e),
        }
        self.intake.scan();
        let rescan = Duration::from_secs(self.cfg.intake.rescan_secs);
        let mut last_scan = Instant::now();
        tracing::info!(
            partners = self.intake.inboxes.len(),
            watching = self.intake.watching(),
            "intake started"
        );
        self.service.ready(&self.health);
        while !stop.load(Ordering::SeqCst) {
            // A full turn: the watchdog is petted only from here.
            self.service.turn(&self.health);
            // Staff actions and mail outcomes between group commits: the one writer.
            self.apply_commands()?;
            if self
                .pause
                .as_ref()
                .is_some_and(|p| Instant::now() >= p.next)
            {
                self.try_resume()?;
            }
            if self.pause.is_some() {
                // No new file is read until the unfinished ones are answered.
                self.intake.wait(Duration::from_millis(200));
                continue;
            }
            // The rescan is the backstop for lost events: due even under steady load.
            if last_scan.elapsed() >= rescan {
                self.intake.scan();
                last_scan = Instant::now();
            }
            let ready = self.intake.take_ready(BATCH, BATCH_BYTES);
            if !ready.is_empty() {
                match self.process_batch(ready, stop) {
                    Ok(()) => {}
                    // Nothing of the batch was acked: its files stay claimed and are read
                    // again once the database is writable.
                    Err(DaemonError::Store(e)) if e.is_io() => self.data_disk_full(&e),
                    Err(e) => return Err(e),
                }
                continue;
            }
            let wait = if self.intake.settling() {
                Duration::from_millis(self.cfg.intake.settle_ms.clamp(10, 100))
            } else {
                Duration::from_millis(200)
            };
            self.intake.wait(wait);
        }
        if self.store.has_failed() {
            // Nothing more can be written; a flush could wait for ever.
            tracing::info!(
                "stopped (the database had failed: the next start finishes what is unfinished)"
            );
            return Ok(());
        }
        self.apply_commands()?;
        self.db()?.flush()?;
        tracing::info!("stopped");
        Ok(())
    }

    /// Finish every delivery a crash (or a failed write) left half done, from the stored ack
    /// bytes. `Some(why)` when something could not be finished yet.
    fn recover(&mut self) -> Result<Option<String>, DaemonError> {
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
                    Ok(_) => self.identify(&src, &r, &sha),
                };
                // The ack is written before the input moves: an archived input had its ack.
                // A different file under the same name is new: only the old ack is written,
                // and normal intake judges the new file.
                let archived =
                    std::fs::symlink_metadata(self.data.archive().join(&d.archive)).is_ok();
                let finished = match in_inbox {
                    Presence::Same => intake::write_ack(&inbox.outbox, &d.ack_name, &r.ack)
                        .and_then(|()| intake::archive(&src, &self.data.archive(), &d.archive))
                        .map(|()| restrict_archived(&self.data.archive().join(&d.archive))),
                    Presence::Gone | Presence::Other if archived => Ok(()),
                    // Input gone but never archived: the partner removed it first; its ack
                    // may not exist yet (an identical one already there counts as written).
                    Presence::Gone | Presence::Other => {
                        intake::write_ack(&inbox.outbox, &d.ack_name, &r.ack)
                    }
                };
                if let Err(e) = finished {
                    let why = format!(
                        "cannot finish {} of {}: {e}",
                        filing::codes::sanitize(&d.file_name),
                        r.sender
                    );
                    tracing::debug!("{why}");
                    unfinished.get_or_insert(why);
                    continue;
                }
                self.db()?.mark_done(&r.sender, &sha, i)?;
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
                    .file_answered(r.status.as_str(), &outcomes, took);
                tracing::info!(sender = %r.sender, file = %filing::codes::sanitize(&d.file_name), ack = %filing::codes::sanitize(&d.ack_name), "unfinished delivery completed");
            }
            // Follow-up acks committed before a crash: written now from their stored bytes.
            for f in r.followups.iter().filter(|f| !f.done) {
                if let Err(e) = intake::write_ack(&inbox.outbox, &f.ack_name, &f.ack) {
                    let why = format!(
                        "cannot write the follow-up ack {} of {}: {e}",
                        filing::codes::sanitize(&f.ack_name),
                        r.sender
                    );
                    tracing::debug!("{why}");
                    unfinished.get_or_insert(why);
                    continue;
                }
                self.db()?.mark_followup_done(&r.sender, &sha, f.seq)?;
                tracing::info!(sender = %r.sender, ack = %filing::codes::sanitize(&f.ack_name), "unfinished follow-up ack written");
            }
        }
        self.db()?.flush()?;
        Ok(unfinished)
    }

    /// Whether the file now under an unfinished delivery's name is that delivery's input.
    fn identify(
        &self,
        path: &std::path::Path,
        r: &crate::store::Receipt,
        sha: &[u8; 32],
    ) -> Presence {
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

    fn archive_rel(&mut self, sender: &str, name: &str) -> String {
        self.archive_seq += 1;
        let now = self.clock.now();
        // Unique per delivery: time and a counter; the name is kept for people.
        let safe = intake::archive_file_name(name);
        format!(
            "{}/{sender}/{}-{:06}-{safe}",
            now.format("%Y-%m-%d"),
            now.format("%H%M%S%3f"),
            self.archive_seq % 1_000_000
        )
    }

    fn process_batch(&mut self, ready: Vec<Ready>, stop: &AtomicBool) -> Result<(), DaemonError> {
        let mut staged = Vec::with_capacity(ready.len());
        let mut reserved: HashSet<String> = HashSet::new();
        for r in ready {
            if stop.load(Ordering::SeqCst) && !staged.is_empty() {
                break;
            }
            match self.stage(r, &mut reserved) {
                Ok(Some(s)) => staged.push(s),
                Ok(None) => {}
                Err(e) => return Err(e),
            }
        }
        if staged.is_empty() {
            return Ok(());
        }
        // Group commit: no ack before its flush.
        self.db()?.flush()?;
        // Steps 4-6 for the whole batch, each folder synced once. A failure here (outbox
        // gone, disk full) loses nothing: the receipt stays unfinished and recovery completes
        // it from the stored ack bytes.
        let mut acks = Vec::with_capacity(staged.len());
        for s in staged {
            let outbox = self.intake.inboxes[s.ready.inbox].outbox.clone();
            match intake::stage_ack(&outbox, &s.ack_name, &s.ack) {
                Ok(tmp) => acks.push((s, tmp)),
                Err(e) => self.deferred(&s, &e),
            }
        }
        let outboxes: BTreeSet<PathBuf> = acks
            .iter()
            .map(|(s, _)| self.intake.inboxes[s.ready.inbox].outbox.clone())
            .collect();
        for dir in &outboxes {
            if let Err(e) = intake::sync_data(dir) {
                tracing::error!(outbox = %dir.display(), "cannot sync: {e}");
            }
        }
        let mut published = Vec::with_capacity(acks.len());
        for (s, tmp) in acks {
            let outbox = &self.intake.inboxes[s.ready.inbox].outbox;
            match intake::publish_ack(outbox, &tmp, &s.ack_name, &s.ack) {
                Ok(()) => published.push(s),
                Err(e) => self.deferred(&s, &e),
            }
        }
        for dir in &outboxes {
            if let Err(e) = intake::sync_dir(dir) {
                tracing::error!(outbox = %dir.display(), "cannot sync: {e}");
            }
        }
        let mut archived = Vec::with_capacity(published.len());
        let mut dirs: BTreeSet<PathBuf> = BTreeSet::new();
        for s in published {
            match intake::archive_move(&s.ready.path, &self.data.archive(), &s.archive) {
                Ok(dir) => {
                    restrict_archived(&self.data.archive().join(&s.archive));
                    dirs.insert(dir);
                    if let Some(p) = s.ready.path.parent() {
                        dirs.insert(p.to_path_buf());
                    }
                    archived.push(s);
                }
                // Its ack is written; a vanished input is said, never a pause for everyone.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    tracing::warn!(sender = %self.intake.inboxes[s.ready.inbox].partner, file = %filing::codes::sanitize(&s.ready.name), "the input vanished before it was archived; its ack is written");
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
        let done: Vec<(&str, [u8; 32], usize)> = archived
            .iter()
            .map(|s| {
                let p = self.intake.inboxes[s.ready.inbox].partner.as_str();
                (p, s.sha, s.delivery)
            })
            .collect();
        self.db()?.mark_all_done(&done)?;
        for s in archived {
            self.service
                .metrics
                .file_answered(&s.status, &s.outcomes, s.started.elapsed());
            let inbox = &self.intake.inboxes[s.ready.inbox];
            self.stats.files.fetch_add(1, Ordering::Relaxed);
            self.stats
                .applications
                .fetch_add(s.apps as u64, Ordering::Relaxed);
            self.stats
                .licenses
                .fetch_add(s.licenses as u64, Ordering::Relaxed);
            if s.status == "rejected" {
                self.stats.rejected_files.fetch_add(1, Ordering::Relaxed);
            }
            tracing::info!(
                sender = %inbox.partner,
                file = %filing::codes::sanitize(&s.ready.name),
                status = %s.status,
                applications = s.apps,
                licenses = s.licenses,
                ack = %filing::codes::sanitize(&s.ack_name),
                ms = s.started.elapsed().as_millis() as u64,
                "filing processed"
            );
            let row = FilingRow {
                at: s.received_at,
                sender: inbox.partner.clone(),
                file_name: s.ready.name.clone(),
                file_sha256: hex::encode(s.sha),
                status: s.status.clone(),
                applications: s.apps as u64,
                licenses: s.licenses as u64,
                ack_name: s.ack_name.clone(),
            };
            self.health.push_filing(row.clone());
            let _ = self.events.send(Event::Filing(row));
        }
        Ok(())
    }

    fn deferred(&mut self, s: &Staged, e: &std::io::Error) {
        let why = format!(
            "cannot write the ack or archive the file ({}, {}): {e}",
            self.intake.inboxes[s.ready.inbox].partner,
            filing::codes::sanitize(&s.ready.name)
        );
        tracing::debug!("{why}");
        self.hold_up(why);
    }

    /// Pause intake (once: later failures only extend it). Said once in the log, and shown by
    /// `aim status` and the console until intake resumes.
    fn hold_up(&mut self, why: String) {
        self.pause_for(PauseKind::Outbox, why);
    }

    /// The database could not write: intake and staff changes wait; staff reads go on from
    /// the failed store, which is never written again. Once the disk has room the daemon
    /// starts afresh (`try_resume`).
    fn data_disk_full(&mut self, e: &crate::store::StoreError) {
        self.store.fail();
        let why = format!(
            "the database cannot write ({e}): free space on the data disk ({})",
            self.data.root.display()
        );
        match self.pause.as_mut() {
            // An outbox pause that meets a full data disk becomes a data-disk pause.
            Some(p) if p.kind == PauseKind::Outbox => {
                p.kind = PauseKind::DataDisk;
                tracing::error!("intake paused: {why}");
                self.health
                    .set_problem("intake", format!("intake paused: {why}"));
            }
            Some(_) => {}
            None => self.pause_for(PauseKind::DataDisk, why),
        }
    }

    fn data_disk_paused(&self) -> bool {
        self.pause
            .as_ref()
            .is_some_and(|p| p.kind == PauseKind::DataDisk)
    }

    fn pause_for(&mut self, kind: PauseKind, why: String) {
        if self.pause.is_some() {
            return;
        }
        let now = Instant::now();
        tracing::error!(
            "intake paused: {why}; every file stays safe and is answered once this is fixed; trying again in {} s, then less often (at most every {} s)",
            PAUSE_FIRST.as_secs(),
            PAUSE_MAX.as_secs()
        );
        let problem = format!(
            "intake paused since {}: {why}",
            self.clock.now().format("%Y-%m-%dT%H:%M:%SZ")
        );
        self.health.set_problem("intake", problem);
        let _ = self.events.send(Event::Health {
            problems: self.health.problems(),
        });
        self.pause = Some(Pause {
            kind,
            why,
            since: now,
            next: now + PAUSE_FIRST,
            delay: PAUSE_FIRST,
        });
    }

    /// Finish what is unfinished; resume intake when all of it is done, else back off.
    fn try_resume(&mut self) -> Result<(), DaemonError> {
        if self.data_disk_paused() {
            // Until there is room, the failed store keeps answering staff reads.
            let free = free_bytes(&self.data.root);
            if free.is_some_and(|f| f < MIN_FREE_DATA) {
                return self.backoff(&format!(
                    "{} bytes free on the data disk, less than {MIN_FREE_DATA}",
                    free.unwrap_or(0)
                ));
            }
            // sled writes nothing after an I/O error until it is opened again, and closing
            // it may wait for ever: start afresh instead (crash-only).
            return Err(DaemonError::Restart(format!(
                "the database failed ({}) and the data disk has room again",
                self.pause.as_ref().map(|p| p.why.as_str()).unwrap_or("")
            )));
        }
        let outcome = match self.recover() {
            Ok(o) => o,
            Err(DaemonError::Store(e)) if e.is_io() => {
                self.store.fail();
                if let Some(p) = self.pause.as_mut() {
                    p.kind = PauseKind::DataDisk;
                }
                Some(format!("the database cannot write: {e}"))
            }
            Err(e) => return Err(e),
        };
        match outcome {
            None => {
                if let Some(p) = self.pause.take() {
                    tracing::info!(
                        "intake resumed after {} s (was: {})",
                        p.since.elapsed().as_secs(),
                        p.why
                    );
                }
                self.health.clear_problem("intake");
                let _ = self.events.send(Event::Health {
                    problems: self.health.problems(),
                });
            }
            Some(why) => return self.backoff(&why),
        }
        // Files read while the database could not write were never answered: read them again.
        self.intake.scan();
        Ok(())
    }

    fn backoff(&mut self, why: &str) -> Result<(), DaemonError> {
        if let Some(p) = self.pause.as_mut() {
            p.delay = (p.delay * 2).min(PAUSE_MAX);
            p.next = Instant::now() + p.delay;
            tracing::debug!("still paused: {why}; next try in {} s", p.delay.as_secs());
        }
        Ok(())
    }

    /// Steps 1–3 for one file. `None` when the file vanished before it could be read.
    fn stage(
        &mut self,
        r: Ready,
        reserved: &mut HashSet<String>,
    ) -> Result<Option<Staged>, DaemonError> {
        let started = Instant::now();
        let received_at = self.clock.now();
        let filing_day = received_at.date_naive();
        let inbox = self.intake.inboxes[r.inbox].clone();
        let mut r = r;
        // Claimed first: the bytes judged are the bytes archived, whatever the partner does to
        // its inbox meanwhile.
        if !r.claimed {
            match intake::claim(&r.path, &inbox.claimed) {
                Ok(intake::Claim::Claimed(p)) => {
                    r.path = p;
                    r.claimed = true;
                }
                Ok(intake::Claim::Vanished) => return Ok(None),
                Ok(intake::Claim::Busy) => {
                    tracing::info!(sender = %inbox.partner, file = %filing::codes::sanitize(&r.name), "a file of this name is still being finished: this one is read after it");
                    self.intake.again(&r);
                    return Ok(None);
                }
                Err(e) => {
                    tracing::error!(sender = %inbox.partner, file = %filing::codes::sanitize(&r.name), "cannot claim: {}; will retry at the next scan", filing::codes::sanitize(&e.to_string()));
                    return Ok(None);
                }
            }
        }
        let content = match intake::read_file(&r.path, self.cfg.intake.max_file_bytes) {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                tracing::warn!(sender = %inbox.partner, file = %filing::codes::sanitize(&r.name), "the claimed file vanished before it was read");
                return Ok(None);
            }
            Err(e) => {
                tracing::error!(file = %filing::codes::sanitize(&r.name), "cannot read: {e}; will retry at the next scan");
                return Ok(None);
            }
        };
        let sha: [u8; 32] = match &content {
            // Never read: identify this arrival by its code, name and time.
            Content::NotRegular { .. } => arrival_id("F012", &r.name, received_at),
            Content::TooLarge { .. } => arrival_id("F006", &r.name, received_at),
            Content::Bytes(b) => Sha256::digest(b).into(),
        };

        // Known bytes from this sender: finish an interrupted delivery, or answer a
        // re-delivery with the original ack.
        if let Some(rec) = self.db()?.receipt(&inbox.partner, &sha)? {
            let ack_name;
            let delivery;
            let archive;
            match rec
                .deliveries
                .iter()
                .enumerate()
                .rev()
                .find(|(_, d)| !d.done && d.file_name == r.name)
            {
                Some((i, d)) => {
                    ack_name = d.ack_name.clone();
                    archive = d.archive.clone();
                    delivery = i;
                }
                None => {
                    ack_name = intake::free_ack_name(&inbox.outbox, &r.name, reserved);
                    archive = self.archive_rel(&inbox.partner, &r.name);
                    let d = Delivery {
                        file_name: r.name.clone(),
                        ack_name: ack_name.clone(),
                        received_at,
                        archive: archive.clone(),
                        done: false,
                    };
                    delivery = self
                        .db()?
                        .add_delivery(&inbox.partner, &sha, d, &inbox.emails)?
                        .1;
                }
            }
            reserved.insert(ack_name.clone());
            return Ok(Some(Staged {
                ready: r,
                sha,
                delivery,
                ack_name,
                ack: rec.ack,
                archive,
                started,
                received_at,
                status: format!("{} (duplicate)", rec.status.as_str()),
                apps: rec.apps.len(),
                licenses: 0,
                outcomes: Vec::new(),
            }));
        }

        let input = match &content {
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
        let ack_name = intake::free_ack_name(&inbox.outbox, &r.name, reserved);
        reserved.insert(ack_name.clone());
        let archive = self.archive_rel(&inbox.partner, &r.name);
        let committed = self.db()?.commit(&NewFiling {
            sender: &inbox.partner,
            facts: FileFacts {
                file_name: &r.name,
                sha256: sha,
                received_at,
            },
            filing_day,
            verdict: &verdict,
            ack_name: &ack_name,
            archive: &archive,
            mail_to: &inbox.emails,
        })?;
        Ok(Some(Staged {
            ready: r,
            sha,
            delivery: 0,
            ack_name,
            ack: committed.ack,
            archive,
            started,
            received_at,
            status: verdict.status_str().to_owned(),
            apps: verdict.apps.len(),
            licenses: committed.issued.len(),
            outcomes: verdict.apps.iter().map(|a| a.status).collect(),
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

/// Set up logging to stderr and to `<data>/log/aim.log.<day>`. The guard must live as long as
/// the program logs.
pub fn init_logging(
    data: &DataDir,
    stderr: bool,
) -> Option<tracing_appender::non_blocking::WorkerGuard> {
    use tracing_subscriber::prelude::*;
    let filter = || {
        tracing_subscriber::EnvFilter::try_from_env("AIM_LOG")
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"))
    };
    let (file_layer, guard) = match std::fs::create_dir_all(data.logs()) {
        Ok(()) => {
            let appender = tracing_appender::rolling::daily(data.logs(), "aim.log");
            // A bounded line buffer (the default pre-allocates 4 MB for 128k lines).
            let (w, g) = tracing_appender::non_blocking::NonBlockingBuilder::default()
                .buffered_lines_limit(8192)
                .finish(appender);
            (
                Some(
                    tracing_subscriber::fmt::layer()
                        .with_writer(w)
                        .with_ansi(false)
                        .with_filter(filter()),
                ),
                Some(g),
            )
        }
        Err(e) => {
            eprintln!(
                "aim: cannot create the log folder {}: {e}; logging to stderr only",
                data.logs().display()
            );
            (None, None)
        }
    };
    let stderr_layer = stderr.then(|| {
        tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .with_filter(filter())
    });
    let _ = tracing_subscriber::registry()
        .with(file_layer)
        .with(stderr_layer)
        .try_init();
    guard
}

/// A daemon ready to run: the data folder locked, the store open, the socket bound. Made on
/// the caller's thread so that `aim` alone can attach to a daemon already running instead.
pub struct Prepared {
    cfg: Config,
    data: DataDir,
    daemon: Daemon,
    listener: std::os::unix::net::UnixListener,
    /// `[metrics] listen`, bound; `None` when metrics are off.
    metrics: Option<std::net::TcpListener>,
    _lock: DataLock,
    _log: Option<tracing_appender::non_blocking::WorkerGuard>,
}

/// Lock, log (`stderr_log`: also to stderr), open the store, bind the control socket.
pub fn prepare(cfg: Config, stderr_log: bool) -> Result<Prepared, DaemonError> {
    let data = DataDir {
        root: cfg.data.clone(),
    };
    // Whatever umask the daemon was started with, what it creates (database, archive, mail,
    // logs, acks) is at most rw-r----- and its folders rwxr-x---.
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o027));
    let lock = lock_data(&data)?;
    group_from_data_folder(&data.root);
    let log = init_logging(&data, stderr_log);
    let store = Arc::new(SharedStore::open(&data.db())?);
    let daemon = Daemon::new(cfg.clone(), store, Arc::new(crate::clock::SystemClock))?;
    let sock = data.socket();
    let listener = crate::api::server::bind(&sock, &cfg.staff_group).map_err(|source| {
        DaemonError::Folder {
            what: "control socket",
            path: sock.display().to_string(),
            source,
        }
    })?;
    let addr = cfg.metrics.address();
    let metrics = crate::service::http::bind(addr).map_err(|source| DaemonError::Folder {
        what: "the metrics address ([metrics] listen)",
        path: addr.map(|a| a.to_string()).unwrap_or_default(),
        source,
    })?;
    Ok(Prepared {
        cfg,
        data,
        daemon,
        listener,
        metrics,
        _lock: lock,
        _log: log,
    })
}

impl Prepared {
    pub fn stats(&self) -> Arc<Stats> {
        Arc::clone(&self.daemon.stats)
    }

    /// Run until `stop` is set: intake and the writer on this thread, mail and the control
    /// socket on their own.
    pub fn run(mut self, stop: Arc<AtomicBool>) -> Result<(), DaemonError> {
        let cfg = &self.cfg;
        tracing::info!(data = %self.data.root.display(), inbox = %cfg.inbox.display(), outbox = %cfg.outbox.display(), "aim daemon starting");
        let token = tokio_util::sync::CancellationToken::new();
        // The mail worker runs on its own thread: intake never waits for mail.
        let mail_worker = {
            let (mcfg, dir, store, writer, health, stop) = (
                cfg.mail.clone(),
                self.data.mail(),
                self.daemon.shared_store(),
                self.daemon.writer(),
                self.daemon.health(),
                Arc::clone(&stop),
            );
            let alive = crate::service::Service::mail_alive(health.clone(), stop.clone());
            std::thread::Builder::new()
                .name("mail".into())
                .spawn(move || {
                    let _alive = alive;
                    // Intake first: on a busy machine the mail thread yields the CPU (Linux
                    // takes a nice value per thread). Failure only means equal priority.
                    let _ =
                        rustix::process::setpriority_process(Some(rustix::thread::gettid()), 10);
                    match tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                    {
                        Ok(rt) => {
                            rt.block_on(crate::mail::run(mcfg, dir, store, writer, health, stop))
                        }
                        Err(e) => {
                            let msg =
                                format!("mail is not sent: cannot start the mail worker: {e}");
                            tracing::error!("{msg}");
                            health.set_problem("mail", msg);
                        }
                    }
                })?
        };
        let api = {
            let cx = Arc::new(crate::api::server::Context {
                store: self.daemon.shared_store(),
                cfg: cfg.clone(),
                writer: self.daemon.writer(),
                events: self.daemon.events(),
                health: self.daemon.health(),
                started_at: self.daemon.clock.now(),
                refusals: Default::default(),
                clock: Arc::clone(&self.daemon.clock),
            });
            let (listener, token, stop) = (self.listener, token.clone(), Arc::clone(&stop));
            std::thread::Builder::new()
                .name("control".into())
                .spawn(move || {
                    let rt = match tokio::runtime::Builder::new_multi_thread()
                        .worker_threads(2)
                        .enable_all()
                        .build()
                    {
                        Ok(rt) => rt,
                        Err(e) => {
                            tracing::error!("cannot start the control socket: {e}");
                            return;
                        }
                    };
                    rt.block_on(async move {
                        let listener = match tokio::net::UnixListener::from_std(listener) {
                            Ok(l) => l,
                            Err(e) => {
                                tracing::error!("cannot serve the control socket: {e}");
                                return;
                            }
                        };
                        let watch = token.clone();
                        tokio::spawn(async move {
                            while !stop.load(Ordering::SeqCst) {
                                tokio::time::sleep(Duration::from_millis(100)).await;
                            }
                            watch.cancel();
                        });
                        crate::api::server::serve(listener, cx, token).await;
                    });
                })?
        };
        // The weekly publication reads the store on a thread of its own, never in intake's way.
        let publisher = cfg.monitor.schedule().map(|_| {
            let mut p = publisher::Publisher::new(
                cfg.monitor.clone(),
                self.daemon.shared_store(),
                Arc::clone(&self.daemon.clock),
            );
            let stop = Arc::clone(&stop);
            std::thread::Builder::new()
                .name("publisher".into())
                .spawn(move || p.run(&stop))
        });
        let service = self.daemon.service();
        let notify = service.watch_stop(Arc::clone(&stop))?;
        let metrics = match self.metrics.take() {
            Some(l) => Some(crate::service::http::spawn(
                l,
                crate::service::http::Context {
                    service,
                    store: self.daemon.shared_store(),
                    health: self.daemon.health(),
                },
                Arc::clone(&stop),
            )?),
            None => None,
        };
        let result = self.daemon.run(&stop);
        stop.store(true, Ordering::SeqCst);
        token.cancel();
        let failed = self.daemon.store.has_failed();
        // The socket's last words (summaries of counted refusals) reach the writer's queue
        // before it is applied for the last time.
        join_within(api, Duration::from_secs(3));
        // The mail worker records its last outcome through the writer: keep serving the queue
        // until it is done (a few seconds at most), then let go of the queue.
        let deadline = Instant::now() + Duration::from_secs(5);
        while result.is_ok() && !failed && !mail_worker.is_finished() && Instant::now() < deadline {
            if self.daemon.apply_commands().is_err() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        if result.is_ok() && !failed {
            let _ = self.daemon.apply_commands();
            if let Ok(db) = self.daemon.db() {
                let _ = db.flush();
            }
        }
        if failed {
            // Never drop a failed sled `Db`: its `Drop` flushes and may wait for ever.
            self.daemon.store.abandon();
        }
        drop(self.daemon);
        // Bounded: a thread stuck in a failed store must not keep the daemon from stopping
        // (or from starting afresh); the process ends it.
        join_within(mail_worker, Duration::from_secs(3));
        if let Some(Ok(p)) = publisher {
            join_within(p, Duration::from_secs(2));
        }
        join_within(notify, Duration::from_secs(1));
        if let Some(m) = metrics {
            join_within(m, Duration::from_secs(2));
        }
        let _ = std::fs::remove_file(self.data.socket());
        result
    }
}

/// Join `h` if it ends within `wait`; otherwise leave it (the process ends it).
fn join_within(h: std::thread::JoinHandle<()>, wait: Duration) {
    let deadline = Instant::now() + wait;
    while !h.is_finished() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    if h.is_finished() {
        let _ = h.join();
    }
}

/// After SIGTERM or SIGINT the daemon has this long to stop by itself (spec section 8: within
/// 10 s whatever it is doing); then it exits 0 at once, as after a crash: what is unfinished
/// (a file in hand, a unit of change half applied, mail in flight) is finished at the next start.
pub const STOP_DEADLINE: Duration = Duration::from_secs(8);

/// Catch SIGTERM and SIGINT in `stop`: the daemon then finishes the file in hand and exits.
/// Whatever holds it up (a huge file, a hung disk), it exits 0 within [`STOP_DEADLINE`].
pub fn stop_on_signals() -> std::io::Result<Arc<AtomicBool>> {
    let stop = Arc::new(AtomicBool::new(false));
    let signalled = Arc::clone(SIGNALLED.get_or_init(Arc::default));
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(sig, Arc::clone(&stop))?;
        signal_hook::flag::register(sig, Arc::clone(&signalled))?;
    }
    std::thread::Builder::new()
        .name("stop-deadline".into())
        .spawn(move || {
            while !signalled.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(50));
            }
            std::thread::sleep(STOP_DEADLINE);
            let msg = format!(
                "did not stop within {} s of the signal: exiting now; what is unfinished is finished at the next start",
                STOP_DEADLINE.as_secs()
            );
            tracing::warn!("{msg}");
            eprintln!("aim: {msg}");
            std::process::exit(0);
        })?;
    Ok(stop)
}

/// Set by SIGTERM and SIGINT only (`stop` is also set when the daemon stops for another reason).
static SIGNALLED: std::sync::OnceLock<Arc<AtomicBool>> = std::sync::OnceLock::new();

fn signalled() -> bool {
    SIGNALLED.get().is_some_and(|s| s.load(Ordering::SeqCst))
}

/// Start this program afresh in this process (same PID, same arguments): the crash-only way
/// out of a failed store. Returns only when that is impossible.
fn restart_self(why: &str) -> DaemonError {
    use std::os::unix::process::CommandExt;
    let mut args = std::env::args_os();
    let arg0 = args.next().unwrap_or_else(|| "aim".into());
    eprintln!("aim: {why}: starting afresh");
    let e = std::process::Command::new("/proc/self/exe")
        .arg0(arg0)
        .args(args)
        .exec();
    DaemonError::Io(std::io::Error::other(format!(
        "{why}, but cannot start afresh ({e}): exiting for the service manager to restart the daemon"
    )))
}

/// Everything `aim daemon` does: lock, log, open, recover, run until SIGTERM/SIGINT.
/// `status_line` prints a one-line summary for a person in a terminal.
pub fn serve(cfg: Config, status_line: bool) -> Result<(), DaemonError> {
    // Signals first: a SIGTERM during start-up (recovery, a long scan) ends the daemon cleanly
    // at the next file boundary instead of killing it mid-way.
    let stop = stop_on_signals()?;
    let prepared = prepare(cfg.clone(), !status_line)?;
    let status = status_line.then(|| {
        let stats = prepared.stats();
        let stop = Arc::clone(&stop);
        let partners: Vec<String> = cfg.partners.iter().map(|p| format!("{} → {}", p.id, cfg.partner_inbox(p).display())).collect();
        eprintln!(
            "AIM licensing daemon running. Data: {}. Drop filings into: {}. Acks appear under {}. Ctrl-C stops.",
            cfg.data.display(),
            partners.join(", "),
            cfg.outbox.display()
        );
        std::thread::spawn(move || status_loop(&stats, &stop))
    });
    let result = prepared.run(Arc::clone(&stop));
    stop.store(true, Ordering::SeqCst);
    if let Some(h) = status {
        let _ = h.join();
        eprintln!();
    }
    let result = match result {
        // Asked to stop meanwhile: stop; the next start recovers.
        Err(DaemonError::Restart(_)) if signalled() => Ok(()),
        Err(DaemonError::Restart(why)) => Err(restart_self(&why)),
        r => r,
    };
    if result.is_ok() && (status_line || std::io::IsTerminal::is_terminal(&std::io::stderr())) {
        eprintln!("aim: stopped cleanly");
    }
    result
}

fn status_loop(stats: &Stats, stop: &AtomicBool) {
    use std::io::Write;
    while !stop.load(Ordering::SeqCst) {
        eprint!(
            "\r\x1b[2Kfiles {}  applications {}  licenses issued {}  rejected files {}",
            stats.files.load(Ordering::Relaxed),
            stats.applications.load(Ordering::Relaxed),
            stats.licenses.load(Ordering::Relaxed),
            stats.rejected_files.load(Ordering::Relaxed)
        );
        let _ = std::io::stderr().flush();
        std::thread::sleep(Duration::from_millis(500));
    }
}
