//! Running as a service (spec section 8, "Running as a service"): what systemd and a monitoring
//! system see of the daemon.
//!
//! - [`notify`]: `READY=1`, `STATUS=`, `STOPPING=1` and watchdog pets over `NOTIFY_SOCKET`;
//! - [`metrics`]: the Prometheus families, counted by the intake loop, gauges read at scrape;
//! - [`http`]: `GET /metrics` and `GET /healthz` on `[metrics] listen`;
//! - [`level`]: ok / warning / critical, shared by `/healthz` and `aim status --check`.
//!
//! The daemon owns one [`Service`] and calls [`Service::turn`] once per turn of its main loop:
//! a loop that stops turning stops petting the watchdog, and systemd restarts the daemon.

pub mod http;
pub mod level;
pub mod metrics;
pub mod notify;

use crate::daemon::Shutdown;
use crate::health::Health;
use std::sync::Arc;
use std::time::Duration;

/// The health problem key the daemon sets while intake waits (see `daemon::pause_for`).
pub const INTAKE: &str = "intake";
/// The health problem key for mail that cannot be sent at all (the worker is down).
pub const MAIL: &str = "mail";

/// What the daemon shows of itself to systemd and to monitoring.
pub struct Service {
    pub notifier: notify::Notifier,
    pub metrics: metrics::Metrics,
    stall: stall::Hook,
}

impl Default for Service {
    fn default() -> Self {
        Service::from_env()
    }
}

impl Service {
    /// Notifications go to `NOTIFY_SOCKET` when systemd set it (nothing is sent otherwise).
    pub fn from_env() -> Service {
        Service {
            notifier: notify::Notifier::from_env(),
            metrics: metrics::Metrics::new(),
            stall: stall::Hook::from_env(),
        }
    }

    /// Intake runs (recovery and the first scan are done): `READY=1` and the status line.
    /// Sent again after a re-execution of the daemon, which systemd allows.
    pub fn ready(&self, health: &Health) {
        self.notifier.ready(&status_line(health));
        self.metrics.set_paused(health.has_problem(INTAKE));
    }

    /// One full turn of the main loop: pet the watchdog when due, say a changed status.
    pub fn turn(&self, health: &Health) {
        self.stall.hold();
        self.notifier.turn(&status_line(health));
        self.metrics.set_paused(health.has_problem(INTAKE));
    }

    /// Send `STOPPING=1` as soon as `stop` is cancelled, whatever the main loop is doing.
    pub fn watch_stop(
        self: &Arc<Self>,
        stop: Shutdown,
    ) -> std::io::Result<std::thread::JoinHandle<()>> {
        let me = Arc::clone(self);
        std::thread::Builder::new()
            .name("notify".into())
            .spawn(move || {
                while !stop.is_cancelled() {
                    std::thread::sleep(Duration::from_millis(50));
                }
                me.notifier.stopping();
            })
    }

    /// A guard for the mail worker's thread: when it ends before the daemon stops (it could
    /// not start, or it panicked), health says that mail is not sent.
    pub fn mail_alive(health: Arc<Health>, stop: Shutdown) -> MailAlive {
        MailAlive { health, stop }
    }
}

/// See [`Service::mail_alive`].
pub struct MailAlive {
    health: Arc<Health>,
    stop: Shutdown,
}

impl Drop for MailAlive {
    fn drop(&mut self) {
        if self.stop.is_cancelled() || self.health.has_problem(MAIL) {
            return;
        }
        let msg = "mail is not sent: the mail worker stopped; messages stay queued until the daemon is restarted";
        tracing::error!("{msg}");
        self.health.set_problem(MAIL, msg.to_owned());
    }
}

/// The `STATUS=` line: running, or paused and why, and any other problem.
pub fn status_line(health: &Health) -> String {
    let problems = health.problems();
    let mut s = if health.has_problem(INTAKE) {
        String::new()
    } else {
        "running: intake watches the inboxes".to_owned()
    };
    for p in problems {
        if !s.is_empty() {
            s.push_str("; ");
        }
        s.push_str(&p);
    }
    // One line, of a length systemctl shows whole.
    let mut s: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if s.len() > 480 {
        let mut end = 477;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push_str("...");
    }
    s
}

/// A test-only stall of the main loop, to prove that a stuck loop stops the watchdog pets.
///
/// Only in debug builds (the ones `cargo test` runs): with `AIM_TEST_STALL_FILE=<path>` set,
/// the loop stands still at the start of a turn for as long as `<path>` exists. Release builds
/// do not contain it, so no environment can stall a production daemon.
mod stall {
    pub struct Hook {
        #[cfg(debug_assertions)]
        path: Option<std::path::PathBuf>,
    }

    impl Hook {
        pub fn from_env() -> Hook {
            Hook {
                #[cfg(debug_assertions)]
                path: std::env::var_os("AIM_TEST_STALL_FILE").map(Into::into),
            }
        }

        pub fn hold(&self) {
            #[cfg(debug_assertions)]
            if let Some(p) = &self.path {
                while p.exists() {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_says_running_or_paused_and_why() {
        let h = Health::default();
        assert_eq!(status_line(&h), "running: intake watches the inboxes");
        h.set_problem(INTAKE, "intake paused since X: the outbox is full".into());
        assert_eq!(status_line(&h), "intake paused since X: the outbox is full");
        h.clear_problem(INTAKE);
        h.set_problem(MAIL, "mail is not sent:\nbad".into());
        assert_eq!(
            status_line(&h),
            "running: intake watches the inboxes; mail is not sent: bad"
        );
    }

    #[test]
    fn a_long_status_is_cut_on_a_character() {
        let h = Health::default();
        h.set_problem(INTAKE, "é".repeat(400));
        let s = status_line(&h);
        assert!(s.len() <= 480 && s.ends_with("..."), "{}", s.len());
    }

    #[test]
    fn the_mail_guard_reports_a_worker_gone_but_not_a_stop() {
        let h = Arc::new(Health::default());
        let stop = Shutdown::new();
        drop(Service::mail_alive(Arc::clone(&h), stop.clone()));
        assert!(h.problems()[0].contains("mail worker stopped"));
        let h = Arc::new(Health::default());
        stop.cancel();
        drop(Service::mail_alive(Arc::clone(&h), stop));
        assert!(h.problems().is_empty());
    }
}
