//! One reading of the daemon's health for every watcher: `GET /healthz` (critical or not) and
//! `aim status --check` (ok, warning, critical: the exit codes monitoring plugins use).

use crate::api::views::StatusView;
use crate::health::Health;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Intake runs and the mail worker lives; no mail waits for a retry, no dead letter.
    Ok = 0,
    /// Mail is being retried, or given up (dead letters): partners may lack an ack mail.
    Warning = 1,
    /// Something keeps intake or mail from running: intake paused, the mail worker down.
    Critical = 2,
}

impl Level {
    pub fn name(self) -> &'static str {
        match self {
            Level::Ok => "OK",
            Level::Warning => "WARNING",
            Level::Critical => "CRITICAL",
        }
    }
}

/// The level and the reasons for it, most severe first.
pub struct Assessment {
    pub level: Level,
    pub reasons: Vec<String>,
}

/// Critical for any health problem (each keeps intake or mail from running); a warning for
/// mail waiting for a retry or given up.
pub fn assess(problems: &[String], mail_retrying: u64, mail_dead: u64) -> Assessment {
    let mut reasons: Vec<String> = problems.to_vec();
    let mut level = if problems.is_empty() {
        Level::Ok
    } else {
        Level::Critical
    };
    if mail_retrying > 0 {
        reasons.push(format!(
            "{mail_retrying} mail message{} waiting to be retried",
            if mail_retrying == 1 { "" } else { "s" }
        ));
        level = level.max(Level::Warning);
    }
    if mail_dead > 0 {
        reasons.push(format!(
            "{mail_dead} dead letter{} (mail given up; the console's mail view lists them and queues one again)",
            if mail_dead == 1 { "" } else { "s" }
        ));
        level = level.max(Level::Warning);
    }
    Assessment { level, reasons }
}

pub fn assess_status(s: &StatusView) -> Assessment {
    assess(&s.problems, s.mail_retrying, s.mail_dead)
}

/// `GET /healthz`: 200 `{"status":"ok"}` while intake runs and the mail worker lives, else 503
/// with `{"status":"paused"|"degraded","problems":[…]}` (the same problems as `aim status`).
pub fn healthz(health: &Health) -> (u16, serde_json::Value) {
    let problems = health.problems();
    if problems.is_empty() {
        return (200, serde_json::json!({"status": "ok"}));
    }
    let status = if health.has_problem(super::INTAKE) {
        "paused"
    } else {
        "degraded"
    };
    (
        503,
        serde_json::json!({"status": status, "problems": problems}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels() {
        assert_eq!(assess(&[], 0, 0).level, Level::Ok);
        assert_eq!(assess(&[], 1, 0).level, Level::Warning);
        let a = assess(&[], 0, 2);
        assert_eq!(a.level, Level::Warning);
        assert!(
            a.reasons[0].starts_with("2 dead letters"),
            "{:?}",
            a.reasons
        );
        let a = assess(&["intake paused".into()], 3, 1);
        assert_eq!(a.level, Level::Critical);
        assert_eq!(a.reasons.len(), 3);
        assert_eq!(a.reasons[0], "intake paused");
    }

    #[test]
    fn healthz_says_paused_or_degraded() {
        let h = Health::default();
        assert_eq!(healthz(&h), (200, serde_json::json!({"status": "ok"})));
        h.set_problem(super::super::MAIL, "mail is not sent".into());
        let (code, v) = healthz(&h);
        assert_eq!(code, 503);
        assert_eq!(v["status"], "degraded");
        h.set_problem(super::super::INTAKE, "intake paused".into());
        assert_eq!(healthz(&h).1["status"], "paused");
        assert_eq!(healthz(&h).1["problems"].as_array().unwrap().len(), 2);
    }
}
