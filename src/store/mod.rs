//! The daemon's database over sled, one module per concern:
//!
//! - `receipts`: what intake commits for each file, deliveries, crash recovery's view;
//! - `change`: the one unit of change (issue, correct, cancel, hold, decide, mail, audit) that
//!   intake and every staff action use alike;
//! - `queries`: licenses and the day's counters; `aggregates`: the monitor's cells;
//! - `review`: holds, decisions and follow-up acks; `mail_queue`; `audit`;
//! - `unit_values`: the W310 window; `ledger`: the store's answers for the rules;
//! - `browse`: the console's browser: the filter language (`query`), a pure `plan` and its
//!   budgeted `walk` over the trees; `rejections`: the scorecard of rejections;
//! - `journal`: how a unit of change reaches the trees whole (a redo journal); `trees`: the
//!   trees, listed once, and their numbers in the journal;
//! - `groups`: licenses stored as runs of consecutive numbers, later changes as shadows;
//!   `layout`: the layout mark (a newer one is refused) and the upgrade from layout 2 at open;
//! - `keys`: every key, in one place; `codec`: value encoding; `records`: the stored types.
//!
//! Only the daemon opens the store (sled is single-process), and only the daemon's pipeline
//! writes it; everything else reaches it through the daemon's control socket.

mod aggregates;
mod audit;
mod browse;
mod change;
mod codec;
mod groups;
mod journal;
mod keys;
mod layout;
mod ledger;
mod mail_queue;
mod postings;
mod queries;
mod receipts;
mod records;
mod rejections;
mod review;
mod trees;
mod unit_values;
mod workflow;

pub use aggregates::{CellKey, DIMENSIONS, StoredCell, cells_of};
pub use browse::{
    BrowseFilter, BrowsePage, BrowseQuery, BrowseRow, Sort, StatusFilter, parse_query,
};
pub use change::validity;
pub use codec::sha_from_hex;
pub use ledger::StoreLedger;
pub use receipts::{Committed, NewFiling};
pub use records::*;
pub use rejections::{CodeCount, RejectedFile, Rejections, SenderCount, SenderDay};
pub use review::{DecidedApp, FollowUpAck, Handle, HeldLookup, Ruling, followup_name};

use change::{Tx, TxResult};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;
use trees::Trees;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {}", sled_text(.0))]
    Sled(#[from] sled::Error),
    #[error(
        "stored value under {key} cannot be read: {message}; the database is damaged: restore it from a backup (docs/deploy.md)"
    )]
    Decode { key: String, message: String },
    #[error("license numbers for {0} are used up")]
    SequenceExhausted(u16),
    #[error("{0}")]
    Invalid(String),
    /// The database was written by a newer release: this one must not read or write it.
    #[error(
        "the database in {dir} has store layout {found}, newer than this release of aim knows (layout {known}): run the release that wrote it (or a newer one), or restore a backup made before that release opened it (docs/deploy.md)"
    )]
    NewerLayout { dir: String, found: u64, known: u64 },
    /// A unit of change was journaled but not applied in full (the disk failed under it):
    /// the database must be opened anew, which finishes it from the journal.
    #[error("{0}; the database will be opened anew to finish it")]
    Unsettled(String),
}

/// sled shows an I/O error by its debug form (`Os { code: 28, kind: StorageFull, … }`): staff
/// read the system's own words instead.
fn sled_text(e: &sled::Error) -> String {
    match e {
        sled::Error::Io(io) => {
            let text = io.to_string();
            // sled wraps the system's error in its debug form; its `message` is the
            // system's own words.
            let words = match io.raw_os_error() {
                Some(code) => std::io::Error::from_raw_os_error(code).to_string(),
                None => text
                    .split_once("message: \"")
                    .and_then(|(_, rest)| rest.split_once('"'))
                    .map_or(text.clone(), |(m, _)| m.to_owned()),
            };
            format!("I/O error: {words}")
        }
        other => other.to_string(),
    }
}

impl StoreError {
    /// Damage to stored data: the daemon must stop rather than go on guessing.
    pub fn is_corruption(&self) -> bool {
        matches!(self, StoreError::Decode { .. })
    }

    /// The database could not write (a full or failing disk): sled writes nothing more until
    /// it is opened anew, which the daemon does by starting afresh ([`SharedStore::fail`]).
    pub fn is_io(&self) -> bool {
        matches!(
            self,
            StoreError::Sled(sled::Error::Io(_)) | StoreError::Unsettled(_)
        )
    }
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// The writer's state of the journal.
#[derive(Default)]
struct Writing {
    /// The next journal entry's number (entries are removed once applied, and the journal is
    /// empty after opening, so numbering starts again at 0).
    next_entry: u64,
    /// A unit was journaled but not applied: nothing more is written until the store is
    /// opened anew.
    unsettled: bool,
}

pub struct Store {
    db: sled::Db,
    trees: Trees<sled::Tree>,
    journal: sled::Tree,
    /// Held for each unit of change, so units run one at a time even if a second thread ever
    /// writes: the overlays read the trees, so two units at once could each miss the other's.
    writing: Mutex<Writing>,
    windows: Mutex<HashMap<String, unit_values::Window>>,
    /// Files of more applications than this are committed in slices of this many.
    slice_apps: usize,
}

/// Applications of one slice of a big file (`journal::Part`): a unit of change of 1,000
/// applications holds about 4 MiB of writes.
const SLICE_APPS: usize = 1_000;

/// sled writes a snapshot as `snap.<lsn>.generating`, fsyncs it and only then renames it; a
/// kill in between leaves a partial file that sled would take for the newest snapshot and
/// refuse to open ("Read corrupted data"). Such a leftover is never needed: remove it.
fn remove_partial_snapshots(dir: &Path) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        if name.starts_with("snap.") && name.ends_with(".generating") {
            match std::fs::remove_file(e.path()) {
                Ok(()) => {
                    tracing::warn!(file = %e.path().display(), "removed a snapshot left half written by a crash")
                }
                Err(err) => {
                    tracing::error!(file = %e.path().display(), "cannot remove a half-written snapshot: {err}")
                }
            }
        }
    }
}

impl Store {
    /// Open (or create) the database in `dir`.
    pub fn open(dir: &Path) -> Result<Store> {
        remove_partial_snapshots(dir);
        let config = sled::Config::new()
            .path(dir)
            .cache_capacity(16 * 1024 * 1024)
            .flush_every_ms(None);
        // sled's I/O threads may hold the database file's lock for a moment after the last
        // handle is dropped (a write still on its way): opening again at once, as a reopen
        // after a full disk does, waits for that rather than failing. Another process holding
        // it is told apart by the data folder's own lock long before this.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
        let db = loop {
            match config.open() {
                Err(sled::Error::Io(e))
                    if e.to_string().contains("could not acquire lock")
                        && std::time::Instant::now() < deadline =>
                {
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
                r => break r?,
            }
        };
        // Before anything is read or replayed: a newer layout is not this release's to touch.
        // A database created just now is of this release's layout: nothing to upgrade.
        let layout = if db.was_recovered() {
            Store::check_layout(&db.open_tree(trees::TreeId::Meta.name())?, dir)?
        } else {
            layout::STORE_LAYOUT
        };
        let store = Store {
            trees: Trees::try_new(|id| db.open_tree(id.name()))?,
            journal: db.open_tree("journal")?,
            writing: Mutex::new(Writing::default()),
            windows: Mutex::new(HashMap::new()),
            slice_apps: SLICE_APPS,
            db,
        };
        let (applied, dropped) = journal::replay(&store.journal, &store.trees)?;
        if applied + dropped > 0 {
            tracing::warn!(
                applied,
                dropped,
                "finished the changes a crash interrupted (applied), dropped those it cut short"
            );
            store.flush()?;
        }
        let undone = journal::roll_back(&store.journal, &store.trees)?;
        if undone > 0 {
            tracing::warn!(
                slices = undone,
                "undid the slices of a file a crash cut short; it is judged again from its claimed copy"
            );
            store.flush()?;
        }
        if layout < 3 {
            store.upgrade_to_v3()?;
        }
        if layout < 4 {
            store.upgrade_to_v4()?;
        }
        if layout < 5 {
            store.upgrade_to_v5()?;
        }
        store.upgrade_cells()?;
        store.count_mail_once()?;
        store.mark_layout()?;
        // A damaged counter must stop the daemon at once, never restart numbering at 0.
        store.license_sequence()?;
        store.licenses_on_record()?;
        Ok(store)
    }

    /// Make everything written so far durable.
    pub fn flush(&self) -> Result<()> {
        self.db.flush()?;
        Ok(())
    }

    /// Run one unit of change: all of it is written or none (through the journal, see
    /// `journal`). Not yet durable: the caller flushes (intake once per group commit, staff
    /// actions at once). Only the daemon's writer calls this, one unit at a time.
    pub(crate) fn transact<T>(&self, f: impl FnOnce(&mut Tx<'_>) -> TxResult<T>) -> Result<T> {
        self.transact_part(journal::Part::Whole, f)
    }

    /// Undo the slices of a file whose commit failed before its end (`journal::roll_back`).
    /// If that fails too, the store takes no more writes until it is opened again, which
    /// undoes them.
    fn undo_slices(&self) {
        let mut writing = self.writing.lock().unwrap_or_else(|p| p.into_inner());
        match journal::roll_back(&self.journal, &self.trees) {
            Ok(n) => tracing::warn!(slices = n, "undid the slices of a file whose commit failed"),
            Err(e) => {
                tracing::error!("cannot undo the slices of a file whose commit failed: {e}");
                writing.unsettled = true;
            }
        }
        // The W310 windows may hold unit values of licenses just undone.
        self.windows
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    /// Commit files of more than `n` applications in slices of `n` (tests).
    #[cfg(test)]
    pub(crate) fn slice_at(&mut self, n: usize) {
        self.slice_apps = n;
    }

    /// [`Store::transact`] for one part of a file committed in slices (`journal::Part`).
    pub(crate) fn transact_part<T>(
        &self,
        part: journal::Part,
        f: impl FnOnce(&mut Tx<'_>) -> TxResult<T>,
    ) -> Result<T> {
        let mut writing = self.writing.lock().unwrap_or_else(|p| p.into_inner());
        if writing.unsettled {
            return Err(StoreError::Unsettled(
                "an earlier change was journaled but not applied".into(),
            ));
        }
        let overlays = self.trees.map(|_, t| journal::TxTree::new(t));
        let (out, touched) = {
            let mut tx = Tx::new(&overlays, &self.db);
            let out = f(&mut tx)?;
            (out, tx.finish()?)
        };
        let entry = writing.next_entry;
        writing.next_entry += 1;
        if let Err(e) = journal::commit(&self.journal, entry, &self.trees, &overlays, part) {
            writing.unsettled = matches!(e, StoreError::Unsettled(_));
            return Err(e);
        }
        self.update_windows(&touched);
        Ok(out)
    }
}

#[cfg(test)]
mod postings_tests;
#[cfg(test)]
mod slices_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod unit_values_tests;

/// The store as the daemon's parts share it: readers take the current [`Store`] for each
/// request. After an I/O error (a full or failing disk) sled writes nothing more, and dropping
/// its `Db` flushes and may wait for ever on a buffer that never becomes stable: so the failed
/// store is only ever read, never written, flushed or dropped ([`SharedStore::fail`]), and the
/// daemon starts afresh (docs/architecture.md, "Running as a service").
pub struct SharedStore {
    current: std::sync::RwLock<Option<std::sync::Arc<Store>>>,
    failed: std::sync::atomic::AtomicBool,
}

impl SharedStore {
    pub fn open(dir: &Path) -> Result<SharedStore> {
        Ok(SharedStore {
            current: std::sync::RwLock::new(Some(std::sync::Arc::new(Store::open(dir)?))),
            failed: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// The open store, for reading (a failed store still answers reads).
    pub fn get(&self) -> Result<std::sync::Arc<Store>> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .ok_or_else(|| {
                StoreError::Invalid("the database is closed: the daemon is restarting".into())
            })
    }

    /// The open store, for writing: refused once it failed.
    pub fn writable(&self) -> Result<std::sync::Arc<Store>> {
        if self.has_failed() {
            return Err(StoreError::Unsettled(
                "the database stopped writing after a disk error".into(),
            ));
        }
        self.get()
    }

    /// Mark the store failed: from now on it is only read, never written or flushed.
    pub fn fail(&self) {
        self.failed.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn has_failed(&self) -> bool {
        self.failed.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Let go of a failed store without dropping it: its last handle is leaked, so sled's
    /// `Drop` (a flush that may never end) never runs. The process is about to exit or
    /// re-execute itself; the operating system closes the files.
    pub fn abandon(&self) {
        let old = self
            .current
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(old) = old {
            std::mem::forget(old);
        }
    }
}
