//! Intake paused: while acks or archive moves fail (an outbox or archive full or unwritable),
//! or while the database cannot write (the data disk is full). Every file stays safe; intake
//! tries again after 2 s, doubling to a minute, and resumes once what is unfinished is done.
//! A failed database is never written again: once the disk has room the daemon starts afresh.
//!
//! Intake also pauses *before* the database fails: a group commit starts only with at least
//! [`MIN_FREE_DATA`] free on the data disk. A database that failed on a full disk may refuse
//! even reads (sled splits an over-full node on a read, which needs its log), so staff reads
//! go on for certain only when the disk never fills under the database.

use super::{Daemon, DaemonError};
use crate::api::Event;
use std::time::{Duration, Instant};

/// Why intake waits, and when it tries again.
pub(super) struct Pause {
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
    /// The data disk is (nearly) full: intake waits for room; a database that failed on it is
    /// opened anew before resuming.
    DataDisk,
}

/// Free space the data disk needs for a group commit to start, and before the database is
/// opened again after it was full.
pub(super) const MIN_FREE_DATA: u64 = 4 * 1024 * 1024;

const PAUSE_FIRST: Duration = Duration::from_secs(2);
const PAUSE_MAX: Duration = Duration::from_secs(60);

/// Bytes as staff read them: `3.2 MiB`.
pub(super) fn mib(bytes: u64) -> String {
    // Display only: a disk's free bytes fit an f64 well enough for one decimal.
    #[allow(clippy::cast_precision_loss, reason = "one decimal of MiB is shown")]
    let m = bytes as f64 / 1_048_576.0;
    format!("{m:.1} MiB")
}

/// Bytes an unprivileged process may still write on `dir`'s file system.
pub(super) fn free_bytes(dir: &std::path::Path) -> Option<u64> {
    rustix::fs::statvfs(dir)
        .ok()
        .map(|s| s.f_bavail.saturating_mul(s.f_frsize))
}

impl Daemon {
    /// Pause intake (once: later failures only extend it). Said once in the log, and shown by
    /// `aim status` and the console until intake resumes.
    pub(super) fn hold_up(&mut self, why: String) {
        self.pause_for(PauseKind::Outbox, why);
    }

    /// The database could not write: intake and staff changes wait; staff reads go on from
    /// the failed store, which is never written again. Once the disk has room the daemon
    /// starts afresh (`try_resume`).
    pub(super) fn data_disk_full(&mut self, e: &crate::store::StoreError) {
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

    /// Before a group commit: pause intake while the data disk has less than [`MIN_FREE_DATA`]
    /// free, before the database runs out of room under a unit of change (true: paused).
    pub(super) fn data_disk_low(&mut self) -> bool {
        let Some(free) = free_bytes(&self.data.root) else {
            return false;
        };
        if free >= MIN_FREE_DATA {
            return false;
        }
        let why = format!(
            "the data disk is nearly full ({} free, a group commit needs {}): free space on the data disk ({})",
            mib(free),
            mib(MIN_FREE_DATA),
            self.data.root.display()
        );
        self.pause_for(PauseKind::DataDisk, why);
        true
    }

    pub(super) fn data_disk_paused(&self) -> bool {
        self.pause
            .as_ref()
            .is_some_and(|p| p.kind == PauseKind::DataDisk)
    }

    /// Paused, and the time to try again has come.
    pub(super) fn resume_due(&self) -> bool {
        self.pause
            .as_ref()
            .is_some_and(|p| Instant::now() >= p.next)
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
    pub(super) fn try_resume(&mut self) -> Result<(), DaemonError> {
        if self.data_disk_paused() {
            // Until there is room, the failed store keeps answering staff reads.
            let free = free_bytes(&self.data.root);
            if free.is_some_and(|f| f < MIN_FREE_DATA) {
                self.backoff(&format!(
                    "{} free on the data disk, less than {}",
                    mib(free.unwrap_or(0)),
                    mib(MIN_FREE_DATA)
                ));
                return Ok(());
            }
            // sled writes nothing after an I/O error until it is opened again, and closing
            // it may wait for ever: start afresh instead (crash-only).
            if self.store.has_failed() {
                return Err(DaemonError::Restart(format!(
                    "the database failed ({}) and the data disk has room again",
                    self.pause.as_ref().map(|p| p.why.as_str()).unwrap_or("")
                )));
            }
            // Paused in time, the database never failed: resume as after any pause.
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
        if let Some(why) = outcome {
            self.backoff(&why);
            return Ok(());
        }
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
        // Files read while the database could not write were never answered: read them again.
        self.intake.scan();
        Ok(())
    }

    fn backoff(&mut self, why: &str) {
        if let Some(p) = self.pause.as_mut() {
            p.delay = (p.delay * 2).min(PAUSE_MAX);
            p.next = Instant::now() + p.delay;
            tracing::debug!("still paused: {why}; next try in {} s", p.delay.as_secs());
        }
    }
}

/// The database could not open for want of room (`ENOSPC`, `EDQUOT`): sled writes at open, and
/// more when a journal left by a crash is applied or a file cut short is rolled back.
pub(super) fn out_of_room(e: &crate::store::StoreError) -> bool {
    match e {
        crate::store::StoreError::Sled(sled::Error::Io(io)) => matches!(
            io.raw_os_error(),
            Some(code) if code == rustix::io::Errno::NOSPC.raw_os_error()
                || code == rustix::io::Errno::DQUOT.raw_os_error()
        ),
        _ => false,
    }
}

/// Why the database may not open yet: the data disk has less than [`MIN_FREE_DATA`] free.
pub(super) fn short_of_room(data: &std::path::Path) -> Option<String> {
    let free = free_bytes(data)?;
    (free < MIN_FREE_DATA).then(|| {
        format!(
            "the data disk is full ({} free, opening the database needs {}): free space on the data disk ({})",
            mib(free),
            mib(MIN_FREE_DATA),
            data.display()
        )
    })
}

/// At start, before the daemon is ready: wait until the data disk has `wanted` bytes free,
/// backing off as a paused intake does, saying `why` on stderr (the log) and in systemd's
/// `STATUS=`, and extending systemd's start timeout meanwhile. `false`: `stop` came first.
pub(super) fn wait_for_room_at_start(
    data: &std::path::Path,
    why: &str,
    wanted: u64,
    stop: &super::Shutdown,
) -> bool {
    tracing::error!(
        "{why}; waiting for room (starting once {} are free), trying again in {} s, then less often (at most every {} s)",
        mib(wanted),
        PAUSE_FIRST.as_secs(),
        PAUSE_MAX.as_secs()
    );
    let status = format!("waiting for room: {why}");
    let mut delay = PAUSE_FIRST;
    loop {
        crate::service::notify::waiting_to_start(&status, PAUSE_MAX * 2);
        let until = Instant::now() + delay;
        while Instant::now() < until {
            if stop.is_cancelled() {
                return false;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let free = free_bytes(data).unwrap_or(0);
        if free >= wanted {
            tracing::info!("{} free on the data disk: opening the database", mib(free));
            return true;
        }
        tracing::debug!(
            "still waiting for room: {} free of {}",
            mib(free),
            mib(wanted)
        );
        delay = (delay * 2).min(PAUSE_MAX);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_full_disk_or_quota_is_want_of_room() {
        let io = |code| {
            crate::store::StoreError::Sled(sled::Error::Io(std::io::Error::from_raw_os_error(code)))
        };
        assert!(out_of_room(&io(rustix::io::Errno::NOSPC.raw_os_error())));
        assert!(out_of_room(&io(rustix::io::Errno::DQUOT.raw_os_error())));
        // A failing disk is not waited for: the daemon says so and ends.
        assert!(!out_of_room(&io(rustix::io::Errno::IO.raw_os_error())));
        assert!(!out_of_room(&io(rustix::io::Errno::ACCESS.raw_os_error())));
    }

    #[test]
    fn free_space_is_said_in_mib() {
        assert_eq!(mib(MIN_FREE_DATA), "4.0 MiB");
        assert_eq!(mib(65_536), "0.1 MiB");
        assert_eq!(mib(0), "0.0 MiB");
    }
}
