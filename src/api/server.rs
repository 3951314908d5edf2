//! The daemon's side of the control socket. Each connection runs on its own task: it reads
//! bounded request lines, ties them to the peer's Unix user (`SO_PEERCRED`) and that user's
//! `[[staff]]` role, answers reads from the store directly and hands every write to the
//! pipeline's single writer. A slow, silent or hostile client only ever holds its own task.

use super::views::{self, Reply};
use super::{ApiError, Event, Need, PROTOCOL, Request, RequestLine, ResponseLine};
use crate::config::{Config, Role};
use crate::daemon::writer::{StaffAction, Writer};
use crate::health::Health;
use crate::store::{self, Actor, AuditAction, AuditEvent, Outcome, Store};
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{broadcast, mpsc};
use tokio_util::sync::CancellationToken;

/// Connections served at once, and per Unix user; more are told so and closed, so that one
/// user's runaway script cannot lock the others out. Users off the staff list (who may only
/// read the public monitor) share a pool of their own, and the last slots of the staff's pool
/// are kept for supervisors: no number of other users can lock a supervisor out.
const MAX_CONNECTIONS: usize = 128;
const MAX_PER_USER: usize = 32;
const MAX_OFF_LIST: usize = 32;
const SUPERVISOR_RESERVE: usize = 16;
/// Refusals of one user written to the audit log one by one in a minute; beyond them the
/// minute's refusals are counted and written as one summary when the minute is over.
const REFUSALS_IN_FULL: u32 = 5;
/// A connection that sends no complete request for this long is closed (subscribers too
/// get no exemption: the console sends a status request every few seconds).
const IDLE: Duration = Duration::from_secs(600);
/// A reply or event that cannot be written within this time closes the connection.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// Requests per second a connection may make on average, and the burst above it.
const RATE: f64 = 50.0;
const BURST: f64 = 200.0;
/// How long a write request may wait for the pipeline (it may be finishing a large file).
const WRITER_WAIT: Duration = Duration::from_secs(120);

/// What every connection shares.
pub struct Context {
    pub store: Arc<store::SharedStore>,
    pub cfg: Config,
    pub writer: Writer,
    pub events: broadcast::Sender<Event>,
    pub health: Arc<Health>,
    pub started_at: DateTime<Utc>,
    /// Refusals per user in the current minute (see [`REFUSALS_IN_FULL`]).
    pub refusals: std::sync::Mutex<HashMap<String, RefusalMinute>>,
    /// The daemon's clock: the time of a publication.
    pub clock: Arc<dyn crate::clock::Clock>,
}

/// One user's refusals in one minute.
#[derive(Default)]
pub struct RefusalMinute {
    minute: i64,
    written: u32,
    counted: u32,
    last: String,
}

impl RefusalMinute {
    /// The summary of what was counted and not written one by one.
    fn summary(&self, user: &str) -> Option<AuditEvent> {
        (self.counted > 0).then(|| {
            let from = DateTime::from_timestamp(self.minute * 60, 0).unwrap_or_default();
            AuditEvent {
                at: Utc::now(),
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

/// Write the summaries of minutes that are over (all of them when `all`).
fn settle_refusals(cx: &Context, all: bool) {
    let minute = Utc::now().timestamp() / 60;
    let done: Vec<AuditEvent> = {
        let mut m = cx.refusals.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = Vec::new();
        m.retain(|user, w| {
            if all || w.minute != minute {
                out.extend(w.summary(user));
                false
            } else {
                true
            }
        });
        out
    };
    for e in done {
        cx.writer.audit_later(e);
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
                    _ = stop.cancelled() => break,
                    _ = tokio::time::sleep(Duration::from_secs(5)) => settle_refusals(&cx, false),
                }
            }
            settle_refusals(&cx, true);
        })
    };
    loop {
        let stream = tokio::select! {
            _ = stop.cancelled() => break,
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
                    connection(stream, user, role, cx, stop).await;
                    slots
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .release(uid, role);
                });
            }
            Err(why) => {
                tokio::spawn(async move {
                    let mut s = stream;
                    let line = line_of(&error_line(
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

fn line_of(r: &ResponseLine) -> String {
    let mut s = serde_json::to_string(r).unwrap_or_else(|_| {
        r#"{"v":1,"error":{"kind":"failed","message":"unprintable answer"}}"#.into()
    });
    s.push('\n');
    s
}

fn error_line(id: Option<u64>, e: ApiError) -> ResponseLine {
    ResponseLine {
        v: PROTOCOL,
        id,
        ok: None,
        error: Some(e),
        event: None,
    }
}

fn ok_line(id: u64, r: Reply) -> ResponseLine {
    ResponseLine {
        v: PROTOCOL,
        id: Some(id),
        ok: Some(r),
        error: None,
        event: None,
    }
}

/// A token bucket: `RATE` a second, `BURST` at once.
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn take(&mut self) -> bool {
        let now = Instant::now();
        self.tokens = (self.tokens + now.duration_since(self.at).as_secs_f64() * RATE).min(BURST);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Read one request line of at most `MAX_REQUEST` bytes. `Ok(None)` at the end of input.
async fn read_request<R: tokio::io::AsyncBufRead + Unpin>(
    r: &mut R,
    buf: &mut Vec<u8>,
) -> Result<Option<()>, &'static str> {
    buf.clear();
    let mut limited = r.take(super::MAX_REQUEST as u64 + 1);
    match limited.read_until(b'\n', buf).await {
        Ok(0) => Ok(None),
        Ok(_) if buf.len() > super::MAX_REQUEST && !buf.ends_with(b"\n") => Err("too long"),
        Ok(_) if !buf.ends_with(b"\n") => Ok(None),
        Ok(_) => Ok(Some(())),
        Err(_) => Err("unreadable"),
    }
}

async fn connection(
    stream: UnixStream,
    user: String,
    role: Option<Role>,
    cx: Arc<Context>,
    stop: CancellationToken,
) {
    let (rd, mut wr) = stream.into_split();
    // Replies and events go through a bounded queue to one writer task: a client that does
    // not read is cut off when the queue is full or a write takes too long.
    let (out_tx, mut out_rx) = mpsc::channel::<String>(256);
    let writer = tokio::spawn(async move {
        while let Some(line) = out_rx.recv().await {
            match tokio::time::timeout(WRITE_TIMEOUT, wr.write_all(line.as_bytes())).await {
                Ok(Ok(())) => {}
                _ => return,
            }
        }
    });
    let mut rd = BufReader::new(rd);
    let mut buf = Vec::with_capacity(1024);
    let mut bucket = Bucket {
        tokens: BURST,
        at: Instant::now(),
    };
    let mut events: Option<broadcast::Receiver<Event>> = None;
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            ev = async {
                match events.as_mut() {
                    Some(rx) => rx.recv().await,
                    None => std::future::pending().await,
                }
            } => {
                let event = match ev {
                    Ok(e) => e,
                    Err(broadcast::error::RecvError::Lagged(n)) => Event::Lagged { missed: n },
                    Err(broadcast::error::RecvError::Closed) => break,
                };
                let line = line_of(&ResponseLine { v: PROTOCOL, id: None, ok: None, error: None, event: Some(event) });
                if out_tx.try_send(line).is_err() {
                    break;
                }
            }
            r = tokio::time::timeout(IDLE, read_request(&mut rd, &mut buf)) => {
                let answer = match r {
                    Err(_) | Ok(Ok(None)) => break,
                    Ok(Err(why)) => {
                        let _ = out_tx.try_send(line_of(&error_line(None, ApiError::invalid(format!(
                            "request {why}: a request is one JSON line of at most {} bytes; closing", super::MAX_REQUEST
                        )))));
                        break;
                    }
                    Ok(Ok(Some(()))) => {
                        if !bucket.take() {
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            error_line(None, ApiError::refused(format!("too many requests: at most {RATE} a second")))
                        } else {
                            match parse_request(&buf) {
                                Err(e) => error_line(None, e),
                                Ok(req) if req.v != PROTOCOL => error_line(Some(req.id), ApiError::invalid(format!(
                                    "this daemon speaks protocol {PROTOCOL}, the client {}: use the aim binary of the same version", req.v
                                ))),
                                Ok(req) => {
                                    if req.request == Request::Subscribe && authorize(&user, role, &req.request).is_ok() {
                                        events = Some(cx.events.subscribe());
                                    }
                                    match handle(&cx, &user, role, req.request).await {
                                        Ok(reply) => ok_line(req.id, reply),
                                        Err(e) => error_line(Some(req.id), e),
                                    }
                                }
                            }
                        }
                    }
                };
                if out_tx.send(line_of(&answer)).await.is_err() {
                    break;
                }
            }
        }
    }
    drop(out_tx);
    let _ = tokio::time::timeout(WRITE_TIMEOUT, writer).await;
}

/// The longest value a request's field may have, by the field's name (bytes); a request with
/// a longer one is refused before anything else is done with it (nor is it audited whole).
fn field_cap(name: &str) -> usize {
    match name {
        "license" | "sender" | "code" | "month" | "status" | "country" | "hts" | "entry" => 32,
        "sha256" | "handles" => 80,
        // A browse cursor is a stored key in hex (it may hold an importer's name).
        "after" => 4096,
        _ => 1024,
    }
}

/// Items a list in a request may have.
const MAX_ITEMS: usize = 1000;

fn check_fields(v: &serde_json::Value, name: &str) -> Result<(), String> {
    use serde_json::Value;
    match v {
        Value::String(s) if s.len() > field_cap(name) => Err(format!(
            "the field {name} has {} bytes, more than the {} it may have",
            s.len(),
            field_cap(name)
        )),
        Value::Array(a) if a.len() > MAX_ITEMS => Err(format!(
            "the field {name} has {} items, more than the {MAX_ITEMS} it may have",
            a.len()
        )),
        Value::Array(a) => a.iter().try_for_each(|x| check_fields(x, name)),
        Value::Object(o) => o.iter().try_for_each(|(k, x)| check_fields(x, k)),
        _ => Ok(()),
    }
}

/// One request line: JSON, every field within its cap, a known request.
fn parse_request(line: &[u8]) -> Result<RequestLine, ApiError> {
    let v: serde_json::Value = serde_json::from_slice(line)
        .map_err(|e| ApiError::invalid(format!("not a request: {e}")))?;
    check_fields(&v, "request")
        .map_err(|why| ApiError::invalid(format!("request refused: {why}")))?;
    serde_json::from_value(v).map_err(|e| ApiError::invalid(format!("not a request: {e}")))
}

impl Context {
    /// The store for one request.
    fn db(&self) -> Result<Arc<Store>, ApiError> {
        self.store.get().map_err(store_err)
    }
}

fn store_err(e: store::StoreError) -> ApiError {
    ApiError::failed(format!("the store could not answer: {e}"))
}

async fn audit_refusal(cx: &Context, user: &str, req: &Request, e: &ApiError) {
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
    let subject: String = subject.chars().take(200).collect();
    // A flood of refusals must not become a flood of writes: the first few of a user's minute
    // are written one by one, the rest counted into one summary (`settle_refusals`).
    let minute = Utc::now().timestamp() / 60;
    let (in_full, summary) = {
        let mut m = cx.refusals.lock().unwrap_or_else(|p| p.into_inner());
        let w = m.entry(user.to_owned()).or_default();
        let mut summary = None;
        if w.minute != minute {
            summary = w.summary(user);
            *w = RefusalMinute {
                minute,
                ..RefusalMinute::default()
            };
        }
        if w.written < REFUSALS_IN_FULL {
            w.written += 1;
            (true, summary)
        } else {
            w.counted += 1;
            w.last = format!("{}: {}", req.name(), e.message);
            (false, summary)
        }
    };
    if let Some(s) = summary {
        cx.writer.audit_later(s);
    }
    if !in_full {
        return;
    }
    cx.writer
        .audit(
            AuditEvent {
                at: Utc::now(),
                actor: Actor::Staff(user.to_owned()),
                action,
                subject,
                outcome: Outcome::Refused,
                detail: e.message.clone(),
            },
            Duration::from_secs(5),
        )
        .await;
}

async fn handle(
    cx: &Context,
    user: &str,
    role: Option<Role>,
    req: Request,
) -> Result<Reply, ApiError> {
    if let Err(e) = authorize(user, role, &req) {
        audit_refusal(cx, user, &req, &e).await;
        return Err(e);
    }
    // The writer audits its own refusals (already decided, already cancelled).
    let staff = |action: StaffAction| cx.writer.staff(user, action, WRITER_WAIT);
    match req {
        Request::Hello => Ok(Reply::Hello(views::HelloView {
            user: user.to_owned(),
            role,
            version: env!("CARGO_PKG_VERSION").to_owned(),
            data: cx.cfg.data.display().to_string(),
        })),
        Request::Status => status(cx).map(Reply::Status),
        Request::LicenseShow { license } => {
            let n = parse_license(&license)?;
            match cx.db()?.license(n).map_err(store_err)? {
                Some(l) => Ok(Reply::License(Box::new(views::LicenseView::of(&l)))),
                None => Err(ApiError::not_found(format!("license {n} is not on record"))),
            }
        }
        Request::Audit { license, limit } => {
            let limit = limit.clamp(1, 10_000);
            let events = match license {
                Some(l) => cx
                    .db()?
                    .audit_of_license(parse_license(&l)?, limit)
                    .map_err(store_err)?,
                None => cx.db()?.audit_tail(limit).map_err(store_err)?,
            };
            Ok(Reply::Audit(
                events.iter().map(views::AuditView::of).collect(),
            ))
        }
        Request::ReviewList => {
            let db = cx.db()?;
            let held = db.held().map_err(store_err)?;
            Ok(Reply::Held(
                views::held_as_filed(&held, &db).map_err(store_err)?,
            ))
        }
        Request::MonitorExport { month } => {
            let cells = monitor_cells(cx, month.as_deref())?;
            Ok(Reply::Monitor(crate::monitor::public_rows(
                &cells,
                month.as_deref(),
            )))
        }
        Request::MonitorCells { month } => {
            let cells = monitor_cells(cx, month.as_deref())?;
            Ok(Reply::Cells(crate::monitor::staff_rows(
                &cells,
                month.as_deref(),
            )))
        }
        Request::MonitorPublish { out } => monitor_publish(cx, user, out).await,
        Request::Recent { limit } => Ok(Reply::Filings(cx.health.recent(limit.min(200)))),
        Request::Mail => Ok(Reply::Mail(views::MailView {
            waiting: cx
                .db()?
                .queued_mail(500)
                .map_err(store_err)?
                .iter()
                .map(views::MailJobView::of)
                .collect(),
            dead: cx
                .db()?
                .dead_letters()
                .map_err(store_err)?
                .iter()
                .map(views::MailJobView::of)
                .collect(),
            sent: cx
                .db()?
                .sent_mail(300)
                .map_err(store_err)?
                .iter()
                .map(views::MailJobView::of)
                .collect(),
        })),
        Request::Subscribe => Ok(Reply::Subscribed),
        Request::Browse(q) => {
            let senders: Vec<String> = cx.cfg.partners.iter().map(|p| p.id.clone()).collect();
            let store = cx.db()?;
            // A page is bounded work, but off the connection tasks all the same.
            tokio::task::spawn_blocking(move || store.browse(&q, &senders))
                .await
                .map_err(|e| ApiError::failed(e.to_string()))?
                .map(Reply::Page)
                .map_err(store_err)
        }
        Request::Receipt { sender, sha256 } => {
            let sha = parse_sha(&sha256)?;
            let r = cx
                .db()?
                .receipt(&sender, &sha)
                .map_err(store_err)?
                .ok_or_else(|| {
                    ApiError::not_found(format!("no file {sha256} of {sender} is on record"))
                })?;
            let mut names: Vec<String> = r.deliveries.iter().map(|d| d.ack_name.clone()).collect();
            names.extend(r.followups.iter().map(|f| f.ack_name.clone()));
            let mail = cx.db()?.mail_of_acks(&sender, &names).map_err(store_err)?;
            let mut view = views::ReceiptView::of(&r, &mail);
            view.as_they_stand(&*cx.db()?).map_err(store_err)?;
            Ok(Reply::Receipt(Box::new(view)))
        }
        Request::Rejections { days } => {
            let through = Utc::now().date_naive();
            let from = through - chrono::Days::new(u64::from(days.clamp(1, 366)) - 1);
            cx.db()?
                .rejections(from, through)
                .map(Reply::Rejections)
                .map_err(store_err)
        }
        Request::RejectedFiles {
            sender,
            code,
            limit,
        } => cx
            .db()?
            .rejected_files(
                sender.as_deref(),
                code.as_deref(),
                limit.clamp(1, 500),
                50_000,
            )
            .map(Reply::RejectedFiles)
            .map_err(store_err),
        Request::LicenseCancel { license, reason } => {
            let n = parse_license(&license)?;
            let reason = reason_text(&reason)?;
            staff(StaffAction::Cancel { license: n, reason }).await
        }
        Request::ReviewApprove { handles } => {
            let handles = parse_handles(&handles)?;
            staff(StaffAction::Decide {
                handles,
                ruling: store::Ruling::Approve,
            })
            .await
        }
        Request::ReviewReject { handles, reason } => {
            let handles = parse_handles(&handles)?;
            let reason = reason_text(&reason)?;
            staff(StaffAction::Decide {
                handles,
                ruling: store::Ruling::Reject { reason },
            })
            .await
        }
        Request::MailRetry { id } => staff(StaffAction::RetryMail { id }).await,
        Request::Resend {
            sender,
            sha256,
            seq,
        } => {
            let sha = parse_sha(&sha256)?;
            staff(StaffAction::Resend { sender, sha, seq }).await
        }
    }
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
    let (store, mcfg, at) = (cx.db()?, cx.cfg.monitor.clone(), cx.clock.now());
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
    cx.db()?.cells(month.unwrap_or("")).map_err(store_err)
}

/// A file's SHA-256 as a request names it: 64 hex digits.
fn parse_sha(s: &str) -> Result<[u8; 32], ApiError> {
    store::sha_from_hex(s).map_err(|_| ApiError::invalid(format!("{s:?} is not a SHA-256 in hex")))
}

pub fn parse_license(s: &str) -> Result<crate::filing::model::LicenseNumber, ApiError> {
    crate::filing::model::LicenseNumber::parse(s.trim()).ok_or_else(|| {
        ApiError::invalid(format!(
            "{s:?} is not a license number: AIM-YYYY-NNNNNNN-C with a correct check digit"
        ))
    })
}

pub fn parse_handles(hs: &[String]) -> Result<Vec<store::Handle>, ApiError> {
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
pub fn reason_text(s: &str) -> Result<String, ApiError> {
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

fn status(cx: &Context) -> Result<views::StatusView, ApiError> {
    let now = Utc::now();
    let day = now.date_naive();
    let d = cx.db()?.day_stats(day).map_err(store_err)?;
    let m = cx.db()?.mail_counts().map_err(store_err)?;
    Ok(views::StatusView {
        day,
        files_today: d.files,
        files_rejected_today: d.files_rejected,
        applications_today: d.applications,
        licenses_issued_today: d.licenses_issued,
        rejected_today: d.rejected,
        held_today: d.held,
        pending_review: cx.db()?.held_count() as u64,
        licenses_on_record: cx.db()?.licenses_on_record().map_err(store_err)?,
        mail_queued: m.queued as u64,
        mail_retrying: m.retrying as u64,
        mail_dead: m.dead as u64,
        problems: cx.health.problems(),
        last_errors: cx.health.last_errors(),
        started_at: cx.started_at,
        version: env!("CARGO_PKG_VERSION").to_owned(),
    })
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
    fn reasons() {
        assert!(reason_text("  ").is_err());
        assert!(reason_text(&"x".repeat(201)).is_err());
        assert!(reason_text("a\nb").is_err());
        assert_eq!(
            reason_text(" smelt country unverified ").unwrap(),
            "smelt country unverified"
        );
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

    #[test]
    fn request_fields_are_capped_and_the_refusal_says_so() {
        let long = format!(
            r#"{{"v":1,"id":1,"op":"license_cancel","license":"{}","reason":"x"}}"#,
            "7".repeat(60_000)
        );
        let e = parse_request(long.as_bytes()).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Invalid);
        assert!(
            e.message
                .contains("the field license has 60000 bytes, more than the 32"),
            "{}",
            e.message
        );
        let many = format!(
            r#"{{"v":1,"id":1,"op":"review_approve","handles":[{}]}}"#,
            vec!["\"A:1:B\""; 1001].join(",")
        );
        assert!(
            parse_request(many.as_bytes())
                .unwrap_err()
                .message
                .contains("1001 items")
        );
        let ok = r#"{"v":1,"id":1,"op":"license_show","license":"AIM-2026-0000017-4"}"#;
        assert!(parse_request(ok.as_bytes()).is_ok());
    }

    #[test]
    fn bucket_limits_bursts() {
        let mut b = Bucket {
            tokens: 3.0,
            at: Instant::now(),
        };
        assert!(b.take() && b.take() && b.take());
        assert!(!b.take());
    }
}
