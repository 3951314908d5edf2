//! The metric families of spec section 8, with the Prometheus project's own Rust client.
//!
//! Counters (`aim_files_total`, `aim_applications_total`, `aim_file_seconds`) count what this
//! process answered: they start at 0 with the process, which Prometheus' `rate()` and
//! `increase()` take as a reset. Gauges (`aim_licenses_on_record`, `aim_mail_messages`) are
//! read from the store at each scrape; `aim_intake_paused` follows the daemon's health.
//!
//! Every label value is one of the fixed strings below: never a partner id, a file name or
//! anything else a filer chooses.

use crate::filing::rules::AppStatus;
use crate::health::Health;
use crate::store::{FileStatus, SharedStore};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::time::Duration;

/// The ack statuses a file can get.
pub const FILE_STATUSES: [&str; 3] = ["accepted", "partial", "rejected"];
/// The mail queue's states, disjoint: waiting for a first attempt, waiting to be tried again,
/// given up (dead letters).
pub const MAIL_STATES: [&str; 3] = ["queued", "retrying", "dead"];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabel {
    status: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabel {
    state: &'static str,
}

const APP_STATUSES: [AppStatus; 5] = [
    AppStatus::Issued,
    AppStatus::Corrected,
    AppStatus::Cancelled,
    AppStatus::PendingReview,
    AppStatus::Rejected,
];

pub struct Metrics {
    registry: Registry,
    files: Family<StatusLabel, Counter>,
    applications: Family<StatusLabel, Counter>,
    licenses: Gauge,
    mail: Family<StateLabel, Gauge>,
    paused: Gauge,
    file_seconds: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let files = Family::<StatusLabel, Counter>::default();
        let applications = Family::<StatusLabel, Counter>::default();
        let mail = Family::<StateLabel, Gauge>::default();
        // Every series exists from the start, at 0: an alert on "> 0" or on a rate needs it.
        for status in FILE_STATUSES {
            let _ = files.get_or_create(&StatusLabel { status });
        }
        for a in APP_STATUSES {
            let _ = applications.get_or_create(&StatusLabel { status: a.as_str() });
        }
        for state in MAIL_STATES {
            let _ = mail.get_or_create(&StateLabel { state });
        }
        let licenses = Gauge::default();
        let paused = Gauge::default();
        // 10 ms to about 82 s: a small file takes milliseconds, the largest allowed seconds.
        let file_seconds = Histogram::new(exponential_buckets(0.01, 2.0, 14));
        let mut registry = Registry::default();
        registry.register(
            "aim_files",
            "Files answered since the daemon started, by the status of their ack (counted once each delivery's ack is written and its file archived)",
            files.clone(),
        );
        registry.register(
            "aim_applications",
            "Applications judged since the daemon started, by outcome",
            applications.clone(),
        );
        registry.register(
            "aim_licenses_on_record",
            "Licenses on record (issued and not cancelled)",
            licenses.clone(),
        );
        registry.register(
            "aim_mail_messages",
            "Acknowledgement mails not yet delivered, by state (dead = given up)",
            mail.clone(),
        );
        registry.register(
            "aim_intake_paused",
            "1 while intake waits (an outbox or data disk full or unwritable), else 0",
            paused.clone(),
        );
        registry.register(
            "aim_file_seconds",
            "Seconds from picking a file up to writing its ack",
            file_seconds.clone(),
        );
        Metrics {
            registry,
            files,
            applications,
            licenses,
            mail,
            paused,
            file_seconds,
        }
    }

    /// One file's ack was written. `status` is the ack's status ("accepted", "partial",
    /// "rejected", a duplicate's " (duplicate)" suffix ignored); `apps` the outcomes of the
    /// applications judged for it (none for a re-delivery answered with its original ack).
    /// A file answered (a duplicate counts under the status of its original ack).
    pub fn file_answered(&self, status: FileStatus, apps: &[AppStatus], took: Duration) {
        self.files
            .get_or_create(&StatusLabel {
                status: status.as_str(),
            })
            .inc();
        for a in apps {
            self.applications
                .get_or_create(&StatusLabel { status: a.as_str() })
                .inc();
        }
        self.file_seconds.observe(took.as_secs_f64());
    }

    pub fn set_paused(&self, paused: bool) {
        self.paused.set(i64::from(paused));
    }

    /// Read the gauges from the store and health. A store that cannot be read (the data
    /// disk full, the database being opened again) leaves the last values.
    pub fn refresh(&self, store: &SharedStore, health: &Health) {
        self.set_paused(health.has_problem(super::INTAKE));
        let Ok(db) = store.get() else { return };
        if let Ok(n) = db.licenses_on_record() {
            self.licenses.set(i64::try_from(n).unwrap_or(i64::MAX));
        }
        if let Ok(m) = db.mail_counts() {
            for (state, n) in MAIL_STATES.into_iter().zip([m.queued, m.retrying, m.dead]) {
                self.mail
                    .get_or_create(&StateLabel { state })
                    .set(i64::try_from(n).unwrap_or(i64::MAX));
            }
        }
    }

    /// The text exposition (OpenMetrics text, which Prometheus reads).
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut s = String::with_capacity(4096);
        prometheus_client::encoding::text::encode(&mut s, &self.registry)?;
        Ok(s)
    }
}

/// `Content-Type` of [`Metrics::encode`]'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[cfg(test)]
mod tests {
    use super::*;

    fn line<'a>(text: &'a str, start: &str) -> &'a str {
        text.lines()
            .find(|l| l.starts_with(start))
            .unwrap_or_else(|| panic!("no line {start} in\n{text}"))
    }

    #[test]
    fn families_exist_at_zero_and_count() {
        let m = Metrics::new();
        let t = m.encode().unwrap();
        assert_eq!(
            line(&t, "aim_files_total{status=\"partial\"}"),
            "aim_files_total{status=\"partial\"} 0"
        );
        assert!(t.contains("aim_mail_messages{state=\"dead\"} 0"), "{t}");
        assert!(t.contains("aim_intake_paused 0"), "{t}");
        m.file_answered(
            FileStatus::Partial,
            &[AppStatus::Issued, AppStatus::Rejected],
            Duration::from_millis(30),
        );
        m.file_answered(FileStatus::Accepted, &[], Duration::from_millis(5));
        m.set_paused(true);
        let t = m.encode().unwrap();
        assert!(t.contains("aim_files_total{status=\"partial\"} 1"), "{t}");
        assert!(t.contains("aim_files_total{status=\"accepted\"} 1"), "{t}");
        assert!(
            t.contains("aim_applications_total{status=\"issued\"} 1"),
            "{t}"
        );
        assert!(
            t.contains("aim_applications_total{status=\"pending-review\"} 0"),
            "{t}"
        );
        assert!(t.contains("aim_file_seconds_count 2"), "{t}");
        assert!(t.contains("aim_file_seconds_bucket{le=\"0.01\"} 1"), "{t}");
        assert!(t.contains("aim_intake_paused 1"), "{t}");
    }
}
