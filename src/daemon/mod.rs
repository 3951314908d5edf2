//! `aim daemon`: watches the inboxes, judges each filing, commits it to the store, writes the
//! ack and archives the input, in the order of effects that makes a crash at any point lose
//! nothing and duplicate nothing (docs/architecture.md):
//!
//! 1. read the file (never following links), SHA-256; 2. judge it in memory;
//! 3. one store unit of change per file (the journal), one flush per batch (group commit);
//! 4. write the ack atomically; 5. move the input into the archive; 6. mark the receipt done.
//!
//! At start, unfinished receipts are completed from their stored ack bytes before any new file.
//!
//! The rooms:
//! - [`startup`]: data folder lock, logging, signals, the threads around the loop (`serve`);
//! - [`run`]: the loop, one turn at a time (staff commands, pause, rescan, a batch);
//! - [`batch`]: a group commit as a pipeline of named steps (stage → flush → acks → archive
//!   → done → announce);
//! - [`recovery`]: unfinished deliveries and follow-up acks completed from stored bytes;
//! - [`pause`]: intake paused while acks cannot be written or the data disk is full;
//! - [`staff`] and [`writer`]: the single writer's queue and the staff actions it applies;
//! - [`publisher`]: the weekly monitor publication on its own thread.

mod batch;
mod pause;
pub(crate) mod publisher;
mod recovery;
mod run;
pub(crate) mod staff;
mod startup;
pub(crate) mod writer;

// What the binary's other rooms and the integration tests use; the rest is the daemon's own.
pub use startup::{DataDir, DataLock, lock_data};
pub(crate) use startup::{prepare, serve, stop_on_signals};

use crate::api::Event;
use crate::clock::Clock;
use crate::config::Config;
use crate::filing::rules;
use crate::health::Health;
use crate::intake::{Intake, Placer};
use crate::store::SharedStore;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use writer::{Command, Writer};

/// The one stop signal of every thread of the daemon: SIGTERM/SIGINT, `q` in the console, or
/// the daemon ending for another reason cancel it.
pub(crate) type Shutdown = tokio_util::sync::CancellationToken;

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
    /// The database cannot open for want of room, and nobody waits for it (`aim` alone).
    #[error("{0}, then start aim again (it finishes what is unfinished)")]
    NoRoom(String),
    /// Stopped (SIGTERM, SIGINT) before the daemon started, while it waited for room.
    #[error("stopped before the daemon started")]
    Stopped,
}

/// Counters for the status line and tests.
#[derive(Default)]
pub(crate) struct Stats {
    pub files: AtomicU64,
    pub applications: AtomicU64,
    pub licenses: AtomicU64,
    pub rejected_files: AtomicU64,
}

/// The intake loop and the single writer. Its state is shared by the rooms above; each adds
/// its own `impl Daemon` block.
pub(crate) struct Daemon {
    cfg: Config,
    data: DataDir,
    store: Arc<SharedStore>,
    intake: Intake,
    /// Ack and archive names of new deliveries.
    placer: Placer,
    settings: rules::RuleSettings,
    pub stats: Arc<Stats>,
    /// Intake waits while acks or archive moves fail (an outbox or archive full or unwritable).
    pause: Option<pause::Pause>,
    clock: Arc<dyn Clock>,
    health: Arc<Health>,
    events: tokio::sync::broadcast::Sender<Event>,
    writer: Writer,
    commands: std::sync::mpsc::Receiver<Command>,
    /// systemd notifications, watchdog and metrics (spec 8, "Running as a service").
    service: Arc<crate::service::Service>,
}
