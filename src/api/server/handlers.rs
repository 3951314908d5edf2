//! Requests by kind: reads answered from the store on the blocking pool (sled reads never run
//! on the async workers), staff changes handed to the single writer, and the monitor's
//! publication (a long read and file writes, also off the workers, then audited).

use super::super::ApiError;
use super::super::Request;
use super::super::views::{self, Reply};
use super::Context;
use super::connection::Peer;
use crate::config::Role;
use crate::daemon::writer::StaffAction;
use crate::store::{self, Actor, AuditAction, AuditEvent, Outcome, Store};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// How long a write request may wait for the pipeline (it may be finishing a large file).
const WRITER_WAIT: Duration = Duration::from_secs(120);

/// Answer an authorized request.
pub(super) async fn dispatch(
    cx: &Arc<Context>,
    peer: &Peer,
    req: Request,
) -> Result<Reply, ApiError> {
    match req {
        Request::MonitorPublish { out } => monitor_publish(cx, &peer.user, out).await,
        Request::LicenseCancel { .. }
        | Request::ReviewApprove { .. }
        | Request::ReviewReject { .. }
        | Request::MailRetry { .. }
        | Request::Resend { .. } => {
            // The writer audits its own refusals (already decided, already cancelled).
            let action = staff_action(req)?;
            cx.writer.staff(&peer.user, action, WRITER_WAIT).await
        }
        read => {
            let (cx, user, role) = (Arc::clone(cx), peer.user.clone(), peer.role);
            tokio::task::spawn_blocking(move || answer_read(&cx, &user, role, read))
                .await
                .map_err(|e| ApiError::failed(format!("the read stopped: {e}")))?
        }
    }
}

/// A change request, its fields checked, as the writer takes it.
fn staff_action(req: Request) -> Result<StaffAction, ApiError> {
    Ok(match req {
        Request::LicenseCancel { license, reason } => StaffAction::Cancel {
            license: parse_license(&license)?,
            reason: reason_text(&reason)?,
        },
        Request::ReviewApprove { handles } => StaffAction::Decide {
            handles: parse_handles(&handles)?,
            ruling: store::Ruling::Approve,
        },
        Request::ReviewReject { handles, reason } => {
            let handles = parse_handles(&handles)?;
            StaffAction::Decide {
                handles,
                ruling: store::Ruling::Reject {
                    reason: reason_text(&reason)?,
                },
            }
        }
        Request::MailRetry { id } => StaffAction::RetryMail { id },
        Request::Resend {
            sender,
            sha256,
            seq,
        } => StaffAction::Resend {
            sha: parse_sha(&sha256)?,
            sender,
            seq,
        },
        other => {
            return Err(ApiError::failed(format!(
                "{} is not a change the writer makes",
                other.name()
            )));
        }
    })
}

fn db(cx: &Context) -> Result<Arc<Store>, ApiError> {
    cx.store.get().map_err(store_err)
}

fn store_err(e: store::StoreError) -> ApiError {
    ApiError::failed(format!("the store could not answer: {e}"))
}

/// A read: runs on the blocking pool.
fn answer_read(
    cx: &Context,
    user: &str,
    role: Option<Role>,
    req: Request,
) -> Result<Reply, ApiError> {
    match req {
        Request::Hello => Ok(Reply::Hello(views::HelloView {
            user: user.to_owned(),
            role,
            version: env!("CARGO_PKG_VERSION").to_owned(),
            data: cx.cfg.data.display().to_string(),
        })),
        Request::Subscribe => Ok(Reply::Subscribed),
        Request::Status => status(cx).map(Reply::Status),
        Request::Recent { limit } => Ok(Reply::Filings(cx.health.recent(limit.min(200)))),
        Request::LicenseShow { license } => {
            let n = parse_license(&license)?;
            match db(cx)?.license(n).map_err(store_err)? {
                Some(l) => Ok(Reply::License(Box::new(views::LicenseView::of(&l)))),
                None => Err(ApiError::not_found(format!("license {n} is not on record"))),
            }
        }
        Request::Audit { license, limit } => {
            let limit = limit.clamp(1, 10_000);
            let events = match license {
                Some(l) => db(cx)?.audit_of_license(parse_license(&l)?, limit),
                None => db(cx)?.audit_tail(limit),
            }
            .map_err(store_err)?;
            Ok(Reply::Audit(
                events.iter().map(views::AuditView::of).collect(),
            ))
        }
        Request::ReviewList => {
            let db = db(cx)?;
            let held = db.held().map_err(store_err)?;
            Ok(Reply::Held(
                views::held_as_filed(&held, &db).map_err(store_err)?,
            ))
        }
        Request::MonitorExport { month } => monitor_cells(cx, month.as_deref())
            .map(|c| Reply::Monitor(crate::monitor::public_rows(&c, month.as_deref()))),
        Request::MonitorCells { month } => monitor_cells(cx, month.as_deref())
            .map(|c| Reply::Cells(crate::monitor::staff_rows(&c, month.as_deref()))),
        Request::Mail => mail(cx).map(Reply::Mail),
        Request::Browse(q) => {
            let senders: Vec<String> = cx.cfg.partners.iter().map(|p| p.id.clone()).collect();
            db(cx)?
                .browse(&q, &senders)
                .map(Reply::Page)
                .map_err(store_err)
        }
        Request::Receipt { sender, sha256 } => receipt(cx, &sender, &sha256),
        Request::Rejections { days } => {
            let through = cx.clock.now().date_naive();
            let from = through - chrono::Days::new(u64::from(days.clamp(1, 366)) - 1);
            db(cx)?
                .rejections(from, through)
                .map(Reply::Rejections)
                .map_err(store_err)
        }
        Request::RejectedFiles {
            sender,
            code,
            limit,
        } => db(cx)?
            .rejected_files(
                sender.as_deref(),
                code.as_deref(),
                limit.clamp(1, 500),
                50_000,
            )
            .map(Reply::RejectedFiles)
            .map_err(store_err),
        other => Err(ApiError::failed(format!("{} is not a read", other.name()))),
    }
}

fn mail(cx: &Context) -> Result<views::MailView, ApiError> {
    let db = db(cx)?;
    let of = |jobs: Vec<store::MailJob>| jobs.iter().map(views::MailJobView::of).collect();
    Ok(views::MailView {
        waiting: of(db.queued_mail(500).map_err(store_err)?),
        dead: of(db.dead_letters().map_err(store_err)?),
        sent: of(db.sent_mail(300).map_err(store_err)?),
    })
}

fn receipt(cx: &Context, sender: &str, sha256: &str) -> Result<Reply, ApiError> {
    let sha = parse_sha(sha256)?;
    let db = db(cx)?;
    let r = db
        .receipt(sender, &sha)
        .map_err(store_err)?
        .ok_or_else(|| ApiError::not_found(format!("no file {sha256} of {sender} is on record")))?;
    let mut names: Vec<String> = r.deliveries.iter().map(|d| d.ack_name.clone()).collect();
    names.extend(r.followups.iter().map(|f| f.ack_name.clone()));
    let mail = db.mail_of_acks(sender, &names).map_err(store_err)?;
    let mut view = views::ReceiptView::of(&r, &mail);
    view.as_they_stand(&db).map_err(store_err)?;
    Ok(Reply::Receipt(Box::new(view)))
}

fn status(cx: &Context) -> Result<views::StatusView, ApiError> {
    let day = cx.clock.now().date_naive();
    let db = db(cx)?;
    let d = db.day_stats(day).map_err(store_err)?;
    let m = db.mail_counts().map_err(store_err)?;
    Ok(views::StatusView {
        day,
        files_today: d.files,
        files_rejected_today: d.files_rejected,
        applications_today: d.applications,
        licenses_issued_today: d.licenses_issued,
        rejected_today: d.rejected,
        held_today: d.held,
        pending_review: db.held_count() as u64,
        licenses_on_record: db.licenses_on_record().map_err(store_err)?,
        mail_queued: m.queued as u64,
        mail_retrying: m.retrying as u64,
        mail_dead: m.dead as u64,
        intake_paused: cx.health.has_problem(crate::service::INTAKE),
        problems: cx.health.problems(),
        last_errors: cx.health.last_errors(),
        started_at: cx.started_at,
        version: env!("CARGO_PKG_VERSION").to_owned(),
    })
}

/// Publish the monitor off the async workers (it reads the whole store and writes files),
/// then audit it.
async fn monitor_publish(cx: &Context, user: &str, out: Option<String>) -> Result<Reply, ApiError> {
    let dir = match out {
        Some(o) if !Path::new(&o).is_absolute() => {
            return Err(ApiError::invalid(format!(
                "--out {o:?} must be an absolute folder when the daemon publishes"
            )));
        }
        Some(o) => std::path::PathBuf::from(o),
        None => cx.cfg.monitor.publish_dir.clone(),
    };
    let (store, mcfg, at) = (db(cx)?, cx.cfg.monitor.clone(), cx.clock.now());
    let d = dir.clone();
    let done = tokio::task::spawn_blocking(move || {
        let cells = store.cells("").map_err(|e| e.to_string())?;
        crate::publish::publish(
            &cells,
            at,
            &d,
            mcfg.keep_publications,
            &crate::publish::cadence(mcfg.schedule()),
        )
        .map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| ApiError::failed(format!("publishing stopped: {e}")))?;
    let (outcome, detail) = match &done {
        Ok(p) => (Outcome::Done, format!("{} files", p.files)),
        Err(e) => (Outcome::Failed, e.clone()),
    };
    cx.writer
        .audit(
            AuditEvent {
                at,
                actor: Actor::Staff(user.to_owned()),
                action: AuditAction::Publish,
                subject: dir
                    .join(crate::publish::vintage_name(at))
                    .display()
                    .to_string(),
                outcome,
                detail,
            },
            Duration::from_secs(5),
        )
        .await;
    done.map(Reply::Published)
        .map_err(|e| ApiError::failed(format!("the monitor was not published: {e}")))
}

fn monitor_cells(cx: &Context, month: Option<&str>) -> Result<Vec<store::StoredCell>, ApiError> {
    if let Some(m) = month
        && !crate::monitor::is_month(m)
    {
        return Err(ApiError::invalid(format!("month {m:?} is not YYYY-MM")));
    }
    db(cx)?.cells(month.unwrap_or("")).map_err(store_err)
}

/// A file's SHA-256 as a request names it: 64 hex digits.
fn parse_sha(s: &str) -> Result<[u8; 32], ApiError> {
    store::sha_from_hex(s).map_err(|_| ApiError::invalid(format!("{s:?} is not a SHA-256 in hex")))
}

fn parse_license(s: &str) -> Result<crate::filing::model::LicenseNumber, ApiError> {
    crate::filing::model::LicenseNumber::parse(s.trim()).ok_or_else(|| {
        ApiError::invalid(format!(
            "{s:?} is not a license number: AIM-YYYY-NNNNNNN-C with a correct check digit"
        ))
    })
}

fn parse_handles(hs: &[String]) -> Result<Vec<store::Handle>, ApiError> {
    if hs.is_empty() {
        return Err(ApiError::invalid(
            "name at least one HANDLE (SENDER:CONTROL:APPLICATION)",
        ));
    }
    hs.iter()
        .map(|h| {
            store::Handle::parse(h.trim()).ok_or_else(|| {
                ApiError::invalid(format!(
                    "{h:?} is not a handle: SENDER:CONTROL:APPLICATION, e.g. ACMEBRK:42:A1"
                ))
            })
        })
        .collect()
}

/// A reason a filer can read: 1–200 characters, no control characters.
fn reason_text(s: &str) -> Result<String, ApiError> {
    let t = s.trim();
    let n = t.chars().count();
    if n == 0 || n > 200 {
        return Err(ApiError::invalid(format!(
            "the reason must be 1 to 200 characters (it has {n}): say what the filer should do"
        )));
    }
    if t.chars().any(crate::filing::codes::is_control) {
        return Err(ApiError::invalid(
            "the reason must not hold control characters (line breaks included)",
        ));
    }
    Ok(t.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons() {
        assert!(reason_text("  ").is_err());
        assert!(reason_text(&"x".repeat(201)).is_err());
        assert!(reason_text("a\nb").is_err());
        assert_eq!(
            reason_text(" smelt country unverified ").unwrap(),
            "smelt country unverified"
        );
    }
}
