//! What the daemon knows about its own state, shared with the control socket: problems that
//! keep intake or mail from running as they should (a full outbox disk, a mail configuration
//! that cannot be used), the newest errors, and the newest answered filings.

use crate::api::views::FilingRow;
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;

/// Newest filings kept for the dashboard.
pub const RECENT: usize = 200;
/// Newest errors kept for `aim status`.
const ERRORS: usize = 20;

#[derive(Default)]
struct Inner {
    problems: BTreeMap<String, String>,
    errors: VecDeque<(DateTime<Utc>, String)>,
    recent: VecDeque<FilingRow>,
}

#[derive(Default)]
pub struct Health {
    inner: Mutex<Inner>,
}

impl Health {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Set the problem under `key`; true when that changes what is shown.
    pub fn set_problem(&self, key: &str, message: String) -> bool {
        let mut g = self.lock();
        if g.problems.get(key) == Some(&message) {
            return false;
        }
        g.problems.insert(key.to_owned(), message);
        true
    }

    /// Clear the problem under `key`; true when there was one.
    pub fn clear_problem(&self, key: &str) -> bool {
        self.lock().problems.remove(key).is_some()
    }

    pub fn has_problem(&self, key: &str) -> bool {
        self.lock().problems.contains_key(key)
    }

    pub fn problems(&self) -> Vec<String> {
        self.lock().problems.values().cloned().collect()
    }

    pub fn record_error(&self, at: DateTime<Utc>, message: String) {
        let mut g = self.lock();
        if g.errors.len() == ERRORS {
            g.errors.pop_back();
        }
        g.errors.push_front((at, message));
    }

    /// The newest errors, newest first, each with its time.
    pub fn last_errors(&self) -> Vec<String> {
        self.lock()
            .errors
            .iter()
            .map(|(at, m)| format!("{} {m}", at.format("%Y-%m-%dT%H:%M:%SZ")))
            .collect()
    }

    pub fn push_filing(&self, row: FilingRow) {
        let mut g = self.lock();
        if g.recent.len() == RECENT {
            g.recent.pop_back();
        }
        g.recent.push_front(row);
    }

    /// Start the newest answered filings from these (newest first), as the store kept them.
    pub fn fill_recent(&self, rows: Vec<FilingRow>) {
        self.lock().recent = rows.into_iter().take(RECENT).collect();
    }

    /// The newest answered filings, newest first.
    pub fn recent(&self, limit: usize) -> Vec<FilingRow> {
        self.lock().recent.iter().take(limit).cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_change_once() {
        let h = Health::default();
        assert!(h.set_problem("outbox", "full".into()));
        assert!(!h.set_problem("outbox", "full".into()));
        assert_eq!(h.problems(), vec!["full".to_string()]);
        assert!(h.clear_problem("outbox"));
        assert!(!h.clear_problem("outbox"));
    }

    #[test]
    fn bounded() {
        let h = Health::default();
        for i in 0..50 {
            h.record_error(Utc::now(), format!("e{i}"));
        }
        let e = h.last_errors();
        assert_eq!(e.len(), ERRORS);
        assert!(e[0].ends_with("e49"));
    }
}
