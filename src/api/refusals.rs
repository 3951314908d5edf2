//! Refused requests as audit records, in one place: the socket's refusals (role, user) and the
//! writer's (already decided, already cancelled, unknown) name their action and subject the
//! same way. A flood of refusals must not become a flood of writes on the single writer's
//! path: the first few of a user's minute are written one by one, the rest counted into one
//! summary written when the minute is over.

use super::{ApiError, Request};
use crate::daemon::writer::StaffAction;
use crate::filing::model::LicenseNumber;
use crate::store::{Actor, AuditAction, AuditEvent, Outcome, Ruling};
use chrono::{DateTime, Utc};
use std::collections::HashMap;

/// Refusals of one user written to the audit log one by one in a minute; beyond them the
/// minute's refusals are counted and written as one summary when the minute is over.
pub const REFUSALS_IN_FULL: u32 = 5;

/// What a refused request was about, as the audit log names it.
pub struct Target {
    pub action: AuditAction,
    /// A license, handles, a mail id, a file's ack; at most 200 characters.
    pub subject: String,
    /// Licenses the record is also found under.
    pub licenses: Vec<LicenseNumber>,
}

impl Target {
    /// A request refused before it was parsed (its fields as written).
    pub fn of_request(req: &Request) -> Target {
        let action = match req {
            Request::LicenseCancel { .. } => AuditAction::Cancel,
            Request::ReviewApprove { .. } => AuditAction::Approve,
            Request::ReviewReject { .. } => AuditAction::Reject,
            Request::MailRetry { .. } => AuditAction::RetryMail,
            Request::MonitorPublish { .. } => AuditAction::Publish,
            Request::Resend { .. } => AuditAction::Resend,
            _ => AuditAction::Read,
        };
        let subject = match req {
            Request::LicenseCancel { license, .. } => license.clone(),
            Request::ReviewApprove { handles } | Request::ReviewReject { handles, .. } => {
                handles.join(" ")
            }
            Request::MailRetry { id } => format!("mail {id}"),
            Request::Resend {
                sender,
                sha256,
                seq,
            } => format!("{sender} {sha256} ack {seq}"),
            other => other.name().to_owned(),
        };
        // A refused cancellation is findable from its license too.
        let licenses = match req {
            Request::LicenseCancel { license, .. } => {
                LicenseNumber::parse(license.trim()).into_iter().collect()
            }
            _ => Vec::new(),
        };
        Target::new(action, subject, licenses)
    }

    /// A staff action the writer refused.
    pub fn of_action(action: &StaffAction) -> Target {
        match action {
            StaffAction::Cancel { license, .. } => {
                Target::new(AuditAction::Cancel, license.to_string(), vec![*license])
            }
            StaffAction::Decide { handles, ruling } => Target::new(
                match ruling {
                    Ruling::Approve => AuditAction::Approve,
                    Ruling::Reject { .. } => AuditAction::Reject,
                },
                handles
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(" "),
                Vec::new(),
            ),
            StaffAction::RetryMail { id } => {
                Target::new(AuditAction::RetryMail, format!("mail {id}"), Vec::new())
            }
            StaffAction::Resend { sender, sha, seq } => Target::new(
                AuditAction::Resend,
                format!("{sender} {} ack {seq}", hex::encode(sha)),
                Vec::new(),
            ),
        }
    }

    fn new(action: AuditAction, subject: String, licenses: Vec<LicenseNumber>) -> Target {
        Target {
            action,
            subject: subject.chars().take(200).collect(),
            licenses,
        }
    }

    /// The audit record of `user`'s request about this, refused with `e` at `at`.
    pub fn refused(&self, user: &str, e: &ApiError, at: DateTime<Utc>) -> AuditEvent {
        AuditEvent {
            at,
            actor: Actor::Staff(user.to_owned()),
            action: self.action,
            subject: self.subject.clone(),
            outcome: Outcome::Refused,
            detail: e.message.clone(),
        }
    }
}

/// One user's refusals in one minute.
#[derive(Default)]
struct Minute {
    minute: i64,
    written: u32,
    counted: u32,
    last: String,
}

impl Minute {
    /// The summary of what was counted and not written one by one.
    fn summary(&self, user: &str, at: DateTime<Utc>) -> Option<AuditEvent> {
        (self.counted > 0).then(|| {
            let from = DateTime::from_timestamp(self.minute * 60, 0).unwrap_or_default();
            AuditEvent {
                at,
                actor: Actor::Staff(user.to_owned()),
                action: AuditAction::Read,
                subject: "refused requests".into(),
                outcome: Outcome::Refused,
                detail: format!(
                    "{} more requests refused in the minute from {} (after {REFUSALS_IN_FULL} recorded one by one); the last: {}",
                    self.counted,
                    from.format("%Y-%m-%d %H:%MZ"),
                    self.last
                ),
            }
        })
    }
}

/// What to write for one refusal: the record itself (the first few of a minute), and the
/// summary of the user's previous minute when that minute is over.
pub struct ToWrite {
    pub record: Option<AuditEvent>,
    pub summary: Option<AuditEvent>,
}

/// Refusals per user in the current minute.
#[derive(Default)]
pub struct Refusals {
    users: std::sync::Mutex<HashMap<String, Minute>>,
}

impl Refusals {
    /// Count `user`'s refused request; say what is to be written now.
    pub fn refused(&self, user: &str, req: &Request, e: &ApiError, at: DateTime<Utc>) -> ToWrite {
        let minute = at.timestamp() / 60;
        let mut m = self.users.lock().unwrap_or_else(|p| p.into_inner());
        let w = m.entry(user.to_owned()).or_default();
        let mut summary = None;
        if w.minute != minute {
            summary = w.summary(user, at);
            *w = Minute {
                minute,
                ..Minute::default()
            };
        }
        if w.written < REFUSALS_IN_FULL {
            w.written += 1;
            ToWrite {
                record: Some(Target::of_request(req).refused(user, e, at)),
                summary,
            }
        } else {
            w.counted += 1;
            w.last = format!("{}: {}", req.name(), e.message);
            ToWrite {
                record: None,
                summary,
            }
        }
    }

    /// The summaries of minutes that are over at `at` (all of them when `all`).
    pub fn settle(&self, at: DateTime<Utc>, all: bool) -> Vec<AuditEvent> {
        let minute = at.timestamp() / 60;
        let mut m = self.users.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = Vec::new();
        m.retain(|user, w| {
            if all || w.minute != minute {
                out.extend(w.summary(user, at));
                false
            } else {
                true
            }
        });
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn the_first_refusals_of_a_minute_are_written_the_rest_summed_up() {
        let r = Refusals::default();
        let at = Utc.with_ymd_and_hms(2026, 12, 1, 9, 30, 0).unwrap();
        let req = Request::LicenseCancel {
            license: "AIM-2026-0000017-4".into(),
            reason: "x".into(),
        };
        let e = ApiError::refused("not a supervisor");
        for _ in 0..REFUSALS_IN_FULL {
            let w = r.refused("bob", &req, &e, at);
            let rec = w.record.expect("written one by one");
            assert_eq!(rec.action, AuditAction::Cancel);
            assert_eq!(rec.subject, "AIM-2026-0000017-4");
            assert!(w.summary.is_none());
        }
        assert!(r.refused("bob", &req, &e, at).record.is_none());
        assert!(r.settle(at, false).is_empty(), "the minute is not over");
        let later = at + chrono::Duration::minutes(1);
        let s = r.settle(later, false);
        assert_eq!(s.len(), 1);
        assert!(
            s[0].detail.starts_with("1 more requests refused"),
            "{}",
            s[0].detail
        );
        assert_eq!(s[0].at, later);
    }

    #[test]
    fn the_socket_and_the_writer_name_a_refusal_alike() {
        let n = LicenseNumber::parse("AIM-2026-0000017-4").expect("license");
        let by_socket = Target::of_request(&Request::LicenseCancel {
            license: n.to_string(),
            reason: "x".into(),
        });
        let by_writer = Target::of_action(&StaffAction::Cancel {
            license: n,
            reason: "x".into(),
        });
        assert_eq!(by_socket.subject, by_writer.subject);
        assert_eq!(by_socket.action, by_writer.action);
        assert_eq!(by_socket.licenses, by_writer.licenses);
        let sha = [7u8; 32];
        let by_socket = Target::of_request(&Request::Resend {
            sender: "ACME".into(),
            sha256: hex::encode(sha),
            seq: 2,
        });
        let by_writer = Target::of_action(&StaffAction::Resend {
            sender: "ACME".into(),
            sha,
            seq: 2,
        });
        assert_eq!(by_socket.subject, by_writer.subject);
    }
}
