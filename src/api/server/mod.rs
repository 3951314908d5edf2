//! The daemon's side of the control socket. Each connection runs on its own task
//! ([`connection::Connection`]): it reads bounded request lines, ties them to the peer's Unix
//! user (`SO_PEERCRED`) and that user's `[[staff]]` role, answers reads from the store on the
//! blocking pool and hands every write to the pipeline's single writer ([`handlers`]). A slow,
//! silent or hostile client only ever holds its own task.

mod connection;
mod handlers;

use super::refusals::Refusals;
use super::{ApiError, Event, Need, Request};
use crate::config::{Config, Role};
use crate::daemon::writer::Writer;
use crate::health::Health;
use crate::store;
use chrono::{DateTime, Utc};
use connection::{Connection, Peer};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::UnixListener;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

/// Connections served at once, and per Unix user; more are told so and closed, so that one
/// user's runaway script cannot lock the others out. Users off the staff list (who may only
/// read the public monitor) share a pool of their own, and the last slots of the staff's pool
/// are kept for supervisors: no number of other users can lock a supervisor out.
const MAX_CONNECTIONS: usize = 128;
const MAX_PER_USER: usize = 32;
const MAX_OFF_LIST: usize = 32;
const SUPERVISOR_RESERVE: usize = 16;
/// A reply or event that cannot be written within this time closes the connection.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// What every connection shares.
pub struct Context {
    pub store: Arc<store::SharedStore>,
    pub cfg: Config,
    pub writer: Writer,
    pub events: broadcast::Sender<Event>,
    pub health: Arc<Health>,
    pub started_at: DateTime<Utc>,
    /// Refusals per user in the current minute (see [`crate::api::refusals`]).
    pub refusals: Refusals,
    /// The daemon's clock: every time the socket writes or reports.
    pub clock: Arc<dyn crate::clock::Clock>,
}

impl Context {
    /// Write the summaries of refusal minutes that are over (all of them when `all`).
    fn settle_refusals(&self, all: bool) {
        for e in self.refusals.settle(self.clock.now(), all) {
            self.writer.audit_later(e);
        }
    }
}

/// Who holds the connection slots.
#[derive(Default)]
struct Slots {
    staff: usize,
    off_list: usize,
    per_user: HashMap<u32, usize>,
}

impl Slots {
    /// Take a slot for `uid` with `role`, or say why not.
    fn admit(&mut self, uid: u32, role: Option<Role>) -> Result<(), String> {
        let mine = self.per_user.get(&uid).copied().unwrap_or(0);
        if mine >= MAX_PER_USER {
            return Err(format!(
                "this user has {MAX_PER_USER} connections open already"
            ));
        }
        match role {
            None if self.off_list >= MAX_OFF_LIST => {
                return Err(format!(
                    "users not on the staff list have {MAX_OFF_LIST} connections open already"
                ));
            }
            None => self.off_list += 1,
            Some(Role::Supervisor) if self.staff >= MAX_CONNECTIONS => {
                return Err(format!(
                    "the daemon serves {MAX_CONNECTIONS} staff connections at most"
                ));
            }
            Some(r)
                if r != Role::Supervisor && self.staff >= MAX_CONNECTIONS - SUPERVISOR_RESERVE =>
            {
                return Err(format!(
                    "the daemon serves {} staff connections at most (the last {SUPERVISOR_RESERVE} are kept for supervisors)",
                    MAX_CONNECTIONS - SUPERVISOR_RESERVE
                ));
            }
            Some(_) => self.staff += 1,
        }
        *self.per_user.entry(uid).or_default() += 1;
        Ok(())
    }

    fn release(&mut self, uid: u32, role: Option<Role>) {
        match role {
            None => self.off_list = self.off_list.saturating_sub(1),
            Some(_) => self.staff = self.staff.saturating_sub(1),
        }
        if let Some(n) = self.per_user.get_mut(&uid) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.per_user.remove(&uid);
            }
        }
    }
}

/// Create the socket: any leftover is stale (the caller holds the data folder's lock), mode
/// 0660, and the group `group` when one is configured.
pub fn bind(path: &Path, group: &str) -> std::io::Result<std::os::unix::net::UnixListener> {
    use std::os::unix::fs::PermissionsExt;
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let l = std::os::unix::net::UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))?;
    if !group.is_empty() {
        let g = nix::unistd::Group::from_name(group)
            .map_err(std::io::Error::other)?
            .ok_or_else(|| {
                std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    format!("staff_group {group:?} is not a group on this machine"),
                )
            })?;
        nix::unistd::chown(path, None, Some(g.gid)).map_err(|e| {
            std::io::Error::other(format!(
                "cannot give the socket to group {group}: {e} (the daemon's user must be a member)"
            ))
        })?;
    }
    l.set_nonblocking(true)?;
    Ok(l)
}

/// Serve until `stop` is cancelled.
pub async fn serve(listener: UnixListener, cx: Arc<Context>, stop: CancellationToken) {
    let slots: Arc<std::sync::Mutex<Slots>> = Arc::default();
    // A finished minute's counted refusals are written as one summary.
    let settle = {
        let (cx, stop) = (Arc::clone(&cx), stop.clone());
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = stop.cancelled() => break,
                    () = tokio::time::sleep(Duration::from_secs(5)) => cx.settle_refusals(false),
                }
            }
            cx.settle_refusals(true);
        })
    };
    loop {
        let stream = tokio::select! {
            () = stop.cancelled() => break,
            r = listener.accept() => match r {
                Ok((s, _)) => s,
                Err(e) => {
                    tracing::warn!("control socket: cannot accept: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let uid = stream.peer_cred().map(|c| c.uid()).unwrap_or(u32::MAX);
        let user = user_name(uid);
        let role = role_of(&cx.cfg, &user);
        let admitted = slots
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .admit(uid, role);
        match admitted {
            Ok(()) => {
                let (cx, stop, slots) = (Arc::clone(&cx), stop.clone(), Arc::clone(&slots));
                tokio::spawn(async move {
                    Connection::new(cx, Peer { user, role })
                        .run(stream, stop)
                        .await;
                    slots
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .release(uid, role);
                });
            }
            Err(why) => {
                tokio::spawn(async move {
                    let mut s = stream;
                    let line = connection::line_of(&connection::error_line(
                        None,
                        ApiError::refused(format!(
                            "{why}; close another console or script and try again"
                        )),
                    ));
                    let _ = tokio::time::timeout(WRITE_TIMEOUT, s.write_all(line.as_bytes())).await;
                });
            }
        }
    }
    let _ = settle.await;
}

/// A Unix user's name (or `uid N` where it has none).
fn user_name(uid: u32) -> String {
    match nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid)) {
        Ok(Some(u)) => u.name,
        _ => format!("uid {uid}"),
    }
}

fn role_of(cfg: &Config, user: &str) -> Option<Role> {
    cfg.staff.iter().find(|s| s.user == user).map(|s| s.role)
}

pub fn role_name(r: Option<Role>) -> &'static str {
    match r {
        Some(Role::Viewer) => "viewer",
        Some(Role::Reviewer) => "reviewer",
        Some(Role::Supervisor) => "supervisor",
        None => "none",
    }
}

/// Whether `role` may make a request that needs `need`; the refusal names who, what and why.
pub fn authorize(user: &str, role: Option<Role>, req: &Request) -> Result<(), ApiError> {
    let need = req.needs();
    let (ok, lacks) = match (need, role) {
        (Need::Public, _) => (true, ""),
        (_, None) => (false, ""),
        (Need::Viewer, Some(_)) => (true, ""),
        (Need::Reviewer, Some(r)) => (r >= Role::Reviewer, "reviewer"),
        (Need::Supervisor, Some(r)) => (r >= Role::Supervisor, "supervisor"),
    };
    if ok {
        return Ok(());
    }
    Err(ApiError::refused(match role {
        None => format!(
            "user {user} is not on the staff list, so may not use {}: ask a supervisor to add a [[staff]] entry for {user} to the daemon's configuration",
            req.name()
        ),
        Some(r) => format!(
            "user {user} has the role {}, which may not use {}: that needs the {lacks} role",
            role_name(Some(r)),
            req.name()
        ),
    }))
}

#[cfg(test)]
mod tests {
    use super::super::ErrorKind;
    use super::*;

    #[test]
    fn roles() {
        let cancel = Request::LicenseCancel {
            license: "x".into(),
            reason: "y".into(),
        };
        let approve = Request::ReviewApprove { handles: vec![] };
        assert!(authorize("a", Some(Role::Supervisor), &cancel).is_ok());
        let e = authorize("bob", Some(Role::Viewer), &cancel).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Refused);
        assert!(
            e.message.contains("bob")
                && e.message.contains("viewer")
                && e.message.contains("supervisor"),
            "{}",
            e.message
        );
        assert!(authorize("r", Some(Role::Reviewer), &approve).is_ok());
        assert!(authorize("r", Some(Role::Reviewer), &cancel).is_err());
        let e = authorize("eve", None, &Request::Status).unwrap_err();
        assert!(e.message.contains("eve") && e.message.contains("not on the staff list"));
        assert!(authorize("eve", None, &Request::MonitorExport { month: None }).is_ok());
    }

    #[test]
    fn slots_keep_room_for_supervisors() {
        let mut s = Slots::default();
        // Four users off the staff list share one pool.
        let off: usize = (1..=4)
            .map(|uid| (0..40).filter(|_| s.admit(uid, None).is_ok()).count())
            .sum();
        assert_eq!(off, MAX_OFF_LIST);
        // Viewers stop short of the supervisors' reserve.
        let viewers: usize = (10..=20)
            .map(|uid| {
                (0..40)
                    .filter(|_| s.admit(uid, Some(Role::Viewer)).is_ok())
                    .count()
            })
            .sum();
        assert_eq!(viewers, MAX_CONNECTIONS - SUPERVISOR_RESERVE);
        let e = s.admit(30, Some(Role::Reviewer)).unwrap_err();
        assert!(e.contains("kept for supervisors"), "{e}");
        assert!(s.admit(40, Some(Role::Supervisor)).is_ok());
        // Released slots are free again.
        s.release(10, Some(Role::Viewer));
        assert!(
            s.admit(30, Some(Role::Reviewer)).is_err(),
            "a supervisor holds one"
        );
        s.release(40, Some(Role::Supervisor));
        assert!(s.admit(30, Some(Role::Reviewer)).is_ok());
        assert!(s.admit(5, None).is_err());
    }
}
