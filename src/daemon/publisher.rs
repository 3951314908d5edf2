//! The daemon's own publication of the monitor (spec 7.2): weekly at `publish_weekday`
//! `publish_time_utc`, and at start when the latest scheduled one was missed, judged from the
//! newest vintage in `publish_dir`. It runs on its own thread and only reads the store, so
//! intake never waits for it; its time comes from the daemon's [`Clock`]. Its publications go
//! to the daemon's log (the audit log records what staff do; a staff publication is audited by
//! the control socket).

use crate::clock::Clock;
use crate::config;
use crate::publish::{self, Published};
use crate::store::SharedStore;
use chrono::{DateTime, Duration, Utc};
use std::sync::Arc;

/// After a failed publication, the next try waits this long.
const RETRY: Duration = Duration::minutes(10);

pub struct Publisher {
    cfg: config::Monitor,
    store: Arc<SharedStore>,
    clock: Arc<dyn Clock>,
    retry_at: Option<DateTime<Utc>>,
}

impl Publisher {
    pub fn new(cfg: config::Monitor, store: Arc<SharedStore>, clock: Arc<dyn Clock>) -> Publisher {
        Publisher {
            cfg,
            store,
            clock,
            retry_at: None,
        }
    }

    /// Look at the clock once and publish if due: the publication made, if any.
    pub fn tick(&mut self) -> Option<Result<Published, String>> {
        let now = self.clock.now();
        if self.retry_at.is_some_and(|r| now < r) {
            return None;
        }
        let dir = &self.cfg.publish_dir;
        // Read each time: a publication staff made meanwhile counts.
        let newest = match publish::newest(dir) {
            Ok(n) => n,
            Err(e) => return Some(self.failed(now, e.to_string())),
        };
        if !publish::due(now, self.cfg.schedule(), newest) {
            return None;
        }
        let done = self
            .store
            .get()
            .and_then(|s| s.cells(""))
            .map_err(|e| e.to_string())
            .and_then(|cells| {
                publish::publish(
                    &cells,
                    now,
                    dir,
                    self.cfg.keep_publications,
                    &publish::cadence(self.cfg.schedule()),
                )
                .map_err(|e| e.to_string())
            });
        match done {
            Ok(p) => {
                self.retry_at = None;
                tracing::info!(vintage = %p.vintage, dir = %p.dir, files = p.files, removed = ?p.removed, "monitor published on schedule");
                Some(Ok(p))
            }
            Err(e) => Some(self.failed(now, e)),
        }
    }

    fn failed(&mut self, now: DateTime<Utc>, e: String) -> Result<Published, String> {
        tracing::error!("the monitor was not published: {e}; trying again in 10 minutes");
        self.retry_at = Some(now + RETRY);
        Err(e)
    }

    /// Until `stop` is cancelled: a look at the clock every second.
    pub fn run(&mut self, stop: &crate::daemon::Shutdown) {
        while !stop.is_cancelled() {
            self.tick();
            for _ in 0..10 {
                if stop.is_cancelled() {
                    return;
                }
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::FixedClock;
    use chrono::TimeZone;

    fn at(d: u32, h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, d, h, m, 0).unwrap()
    }

    #[test]
    fn publishes_at_the_weekly_time_and_catches_up_at_start_by_the_injected_clock() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Arc::new(SharedStore::open(&tmp.path().join("db")).unwrap());
        let cfg = config::Monitor {
            publish_dir: tmp.path().join("public"),
            publish_weekday: "monday".into(),
            publish_time_utc: "06:00".into(),
            keep_publications: 2,
        };
        // Never published: the first look publishes at once.
        let clock = Arc::new(FixedClock::at(at(2, 9, 30)));
        let mut p = Publisher::new(cfg.clone(), Arc::clone(&store), clock.clone());
        let first = p.tick().unwrap().unwrap();
        assert_eq!(first.vintage, "2026-12-02T09-30-00Z");
        assert!(p.tick().is_none(), "caught up: nothing more until Monday");
        // Down over Monday 2026-12-07 06:00: published when it looks again.
        let mut late = Publisher::new(cfg.clone(), Arc::clone(&store), clock.clone());
        clock.set(at(8, 11, 15));
        assert_eq!(
            late.tick().unwrap().unwrap().vintage,
            "2026-12-08T11-15-00Z"
        );
        std::fs::remove_dir_all(cfg.publish_dir.join("2026-12-08T11-15-00Z")).unwrap();
        clock.set(at(7, 5, 59));
        assert!(p.tick().is_none());
        clock.set(at(7, 6, 0));
        assert_eq!(p.tick().unwrap().unwrap().vintage, "2026-12-07T06-00-00Z");
        clock.set(at(7, 6, 1));
        assert!(p.tick().is_none());
        assert_eq!(
            std::fs::read_link(cfg.publish_dir.join("current")).unwrap(),
            std::path::PathBuf::from("2026-12-07T06-00-00Z")
        );
    }

    #[test]
    fn a_failed_publication_is_retried_later() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Arc::new(SharedStore::open(&tmp.path().join("db")).unwrap());
        // A file where the folder should be: publishing cannot create it.
        let blocked = tmp.path().join("public");
        std::fs::write(&blocked, b"not a folder").unwrap();
        let cfg = config::Monitor {
            publish_dir: blocked,
            ..config::Monitor::default()
        };
        let clock = Arc::new(FixedClock::at(at(7, 7, 0)));
        let mut p = Publisher::new(cfg, store, clock.clone());
        assert!(p.tick().unwrap().is_err());
        clock.set(at(7, 7, 5));
        assert!(p.tick().is_none(), "waits before trying again");
        clock.set(at(7, 7, 10));
        assert!(p.tick().unwrap().is_err());
    }
}
