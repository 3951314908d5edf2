//! The mail worker: every ack becomes one message to the partner's registered addresses, a
//! plain-text summary with the ack XML attached. The queue lives in the store (written in the
//! same unit of change as the receipt), so an SMTP outage never stops intake and a crash loses
//! nothing. Failures back off exponentially up to a ceiling; permanent rejections (5xx) and
//! messages older than the give-up time become dead letters with the last error kept.

use crate::clock::Clock;
use crate::config::{Mail as MailConfig, SmtpTls, Transport};
use crate::daemon::writer::Writer;
use crate::filing::codes::sanitize;
use crate::health::Health;
use crate::store::{MailJob, MailState, SharedStore, StoreError};
use chrono::{DateTime, Utc};
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart, header::ContentType};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use quick_xml::events::Event;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// What a message could not do.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("{0}")]
    Build(String),
    /// The server refused for good (5xx): never retried.
    #[error("permanent: {0}")]
    Permanent(String),
    #[error("{0}")]
    Transient(String),
}

/// The facts of an ack a person reads in the summary.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub sender: String,
    pub control_number: String,
    pub file_name: String,
    pub status: String,
    pub ack_sequence: String,
    pub file_errors: Vec<String>,
    pub apps: Vec<AppLine>,
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct AppLine {
    pub id: String,
    pub status: String,
    pub license: String,
    pub valid_from: String,
    pub valid_through: String,
    pub issues: Vec<String>,
}

/// Read an ack (our own format) back into the facts for the summary.
#[allow(clippy::too_many_lines)] // one pass of the ack reader: each XML event in its arm
pub fn summarize(ack: &[u8]) -> Summary {
    let mut s = Summary::default();
    let Ok(text) = std::str::from_utf8(ack) else {
        return s;
    };
    let mut r = quick_xml::Reader::from_str(text);
    let mut path: Vec<String> = Vec::new();
    let mut current_issue: Option<String> = None;
    let mut buf = String::new();
    loop {
        match r.read_event() {
            Ok(Event::Start(e)) => {
                let name = e.local_name().as_ref().to_owned();
                let attr = |k: &str| {
                    e.attributes()
                        .flatten()
                        .find(|a| a.key.as_ref() == k)
                        .and_then(|a| {
                            a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                                .ok()
                                .map(|v| v.into_owned())
                        })
                        .unwrap_or_default()
                };
                match name.as_str() {
                    "Application" => s.apps.push(AppLine {
                        id: attr("id"),
                        status: attr("status"),
                        ..Default::default()
                    }),
                    "Error" | "Warning" => {
                        let mut line = format!("{} {}", name.to_lowercase(), attr("code"));
                        let p = attr("path");
                        if !p.is_empty() {
                            line.push_str(&format!(" at {p}"));
                        }
                        let l = attr("line");
                        if !l.is_empty() {
                            line.push_str(&format!(" (line {l}, column {})", attr("column")));
                        }
                        current_issue = Some(line);
                    }
                    _ => {}
                }
                buf.clear();
                path.push(name);
            }
            Ok(Event::Text(t)) => buf.push_str(&t.xml10_content()),
            Ok(Event::GeneralRef(r)) => {
                let c = match &*r {
                    "amp" => Some('&'),
                    "lt" => Some('<'),
                    "gt" => Some('>'),
                    "quot" => Some('"'),
                    "apos" => Some('\''),
                    _ => r.resolve_char_ref().ok().flatten(),
                };
                buf.extend(c);
            }
            Ok(Event::End(_)) => {
                let v = std::mem::take(&mut buf);
                let leaf = path.last().map(String::as_str).unwrap_or("");
                let in_app = path.iter().any(|p| p == "Application");
                match leaf {
                    "Error" | "Warning" => {
                        if let Some(i) = current_issue.take() {
                            let line = if v.is_empty() { i } else { format!("{i}: {v}") };
                            match s.apps.last_mut().filter(|_| in_app) {
                                Some(a) => a.issues.push(line),
                                None => s.file_errors.push(line),
                            }
                        }
                    }
                    "SenderId" => s.sender = v,
                    "ControlNumber" => s.control_number = v,
                    "FileName" => s.file_name = v,
                    "Status" => s.status = v,
                    "AckSequence" => s.ack_sequence = v,
                    "LicenseNumber" | "ValidFrom" | "ValidThrough" => {
                        if let Some(a) = s.apps.last_mut() {
                            match leaf {
                                "LicenseNumber" => a.license = v,
                                "ValidFrom" => a.valid_from = v,
                                _ => a.valid_through = v,
                            }
                        }
                    }
                    _ => {}
                }
                path.pop();
            }
            Ok(Event::Eof) | Err(_) => break,
            _ => {}
        }
    }
    s
}

/// The subject: control number and outcome, nothing unescaped from the filing. A file
/// rejected before its control number could be read is named by its file and partner instead.
pub fn subject(s: &Summary) -> String {
    let kind = if s.ack_sequence.is_empty() || s.ack_sequence == "1" {
        "acknowledgement".to_string()
    } else {
        format!("follow-up acknowledgement {}", s.ack_sequence)
    };
    let what = if !s.control_number.is_empty() {
        format!("control number {}", s.control_number)
    } else {
        let mut w = format!("file {}", crate::filing::codes::quote(&s.file_name));
        if !s.sender.is_empty() {
            w.push_str(&format!(" from {}", s.sender));
        }
        w
    };
    sanitize(&format!("AIM {kind}: {what} {}", s.status))
}

/// The most application paragraphs a mail body holds; the ack attached lists them all.
pub const MAX_BODY_APPS: usize = 1000;
/// The most error and warning lines a mail body holds in all, and for one application.
pub const MAX_BODY_ISSUES: usize = 200;
pub const MAX_BODY_APP_ISSUES: usize = 20;

/// The plain-text body: a bounded summary (at most [`MAX_BODY_APPS`] applications and
/// [`MAX_BODY_ISSUES`] issue lines, each cut to 400 characters; what is left out is counted
/// and found in the attached ack), with CRLF line endings, so that the transport has no line
/// ending to convert (lettre's conversion of a large body costs time quadratic in its size).
pub fn body(s: &Summary) -> String {
    use std::fmt::Write;
    let mut b = String::new();
    let count = |st: &str| s.apps.iter().filter(|a| a.status == st).count();
    let _ = writeln!(b, "AIM license filing acknowledgement");
    let _ = writeln!(b);
    let _ = writeln!(b, "Sender:          {}", cut_line(&s.sender));
    let control = if s.control_number.is_empty() {
        "(not readable from the file)"
    } else {
        &s.control_number
    };
    let _ = writeln!(b, "Control number:  {}", cut_line(control));
    let _ = writeln!(b, "File:            {}", cut_line(&s.file_name));
    let _ = writeln!(b, "Outcome:         {}", s.status);
    let _ = writeln!(
        b,
        "Applications:    {} (issued {}, corrected {}, cancelled {}, pending review {}, rejected {})",
        s.apps.len(),
        count("issued"),
        count("corrected"),
        count("cancelled"),
        count("pending-review"),
        count("rejected")
    );
    for e in s.file_errors.iter().take(MAX_BODY_APP_ISSUES) {
        let _ = writeln!(b, "\nThe file was rejected: {}", cut_line(e));
    }
    let mut issues_left = MAX_BODY_ISSUES;
    let (mut apps_out, mut issues_out) = (0usize, 0usize);
    for (n, a) in s.apps.iter().enumerate() {
        if n >= MAX_BODY_APPS {
            apps_out = s.apps.len() - n;
            issues_out += s.apps[n..].iter().map(|a| a.issues.len()).sum::<usize>();
            break;
        }
        let _ = writeln!(b);
        let id = if a.id.is_empty() { "(no id)" } else { &a.id };
        let _ = write!(b, "Application {}: {}", cut_line(id), a.status);
        if !a.license.is_empty() {
            let _ = write!(b, ", license {}", a.license);
        }
        if !a.valid_from.is_empty() {
            let _ = write!(b, ", valid {} through {}", a.valid_from, a.valid_through);
        }
        let _ = writeln!(b);
        let shown = a.issues.len().min(MAX_BODY_APP_ISSUES).min(issues_left);
        for i in &a.issues[..shown] {
            let _ = writeln!(b, "  {}", cut_line(i));
        }
        issues_left -= shown;
        if shown < a.issues.len() {
            let more = a.issues.len() - shown;
            issues_out += more;
            let _ = writeln!(b, "  ... and {more} more: see the attached acknowledgement");
        }
    }
    if apps_out > 0 {
        let _ = writeln!(
            b,
            "\n... and {apps_out} more applications: see the attached acknowledgement"
        );
    }
    if issues_out > 0 || apps_out > 0 {
        let _ = writeln!(
            b,
            "\nThis summary lists at most {MAX_BODY_APPS} applications and {MAX_BODY_ISSUES} errors and warnings ({issues_out} not shown here)."
        );
    }
    let _ = writeln!(
        b,
        "\nThe acknowledgement XML is attached; it is the same file as in your outbox folder."
    );
    crlf(&sanitize_body(&b))
}

/// A line of the body at most 400 characters long.
fn cut_line(s: &str) -> std::borrow::Cow<'_, str> {
    const MAX: usize = 400;
    match s.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}...", &s[..i]).into(),
        None => s.into(),
    }
}

/// LF line ends as CRLF, in one pass.
fn crlf(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + s.len() / 32);
    for (i, line) in s.split('\n').enumerate() {
        if i > 0 {
            o.push_str("\r\n");
        }
        o.push_str(line);
    }
    o
}

/// Keep line breaks, drop every other control character.
fn sanitize_body(s: &str) -> String {
    s.chars()
        .filter(|&c| c == '\n' || !crate::filing::codes::is_control(c))
        .collect()
}

/// Build the message of a job that carries its ack bytes.
#[cfg(test)]
pub fn build(cfg: &MailConfig, job: &MailJob) -> Result<Message, MailError> {
    build_with(cfg, job, &job.ack)
}

/// Build the message of a job with its ack bytes (`Store::mail_ack`).
pub fn build_with(cfg: &MailConfig, job: &MailJob, ack: &[u8]) -> Result<Message, MailError> {
    let mut s = summarize(ack);
    // A file rejected before its SenderId could be read: the inbox it arrived in says who.
    if s.sender.is_empty() {
        s.sender = job.sender.clone();
    }
    let from: Mailbox = cfg
        .from
        .parse()
        .map_err(|e| MailError::Permanent(format!("mail.from: {e}")))?;
    let mut m = Message::builder().from(from).subject(subject(&s));
    for to in &job.to {
        let mb: Mailbox = to
            .parse()
            .map_err(|e| MailError::Permanent(format!("recipient {to}: {e}")))?;
        m = m.to(mb);
    }
    let attachment = Attachment::new(job.ack_name.clone()).body(
        ack.to_vec(),
        ContentType::parse("application/xml").map_err(|e| MailError::Build(e.to_string()))?,
    );
    m.multipart(
        MultiPart::mixed()
            .singlepart(SinglePart::plain(body(&s)))
            .singlepart(attachment),
    )
    .map_err(|e| MailError::Permanent(format!("cannot build the message: {e}")))
}

enum Sender {
    /// The transport, and what of ours must never appear in a stored error text (see `scrub`).
    Smtp(AsyncSmtpTransport<Tokio1Executor>, Vec<String>),
    File(AsyncFileTransport<Tokio1Executor>),
}

/// Standard base64 with padding: how SMTP AUTH sends credentials (only to find them again).
fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for c in bytes.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(A[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// What of the credentials we sent a server could echo back, in every form we sent it.
fn secrets_of(user: &str, password: &str) -> Vec<String> {
    let mut v: Vec<String> = [
        password.to_owned(),
        base64(password.as_bytes()),
        base64(format!("\0{user}\0{password}").as_bytes()),
        base64(format!("{user}\0{user}\0{password}").as_bytes()),
    ]
    .into_iter()
    // Unpadded too: the padded form is the unpadded one and `=`.
    .map(|s| s.trim_end_matches('=').to_owned())
    .filter(|s| s.len() >= 4)
    .collect();
    // Longest first, so a longer form is not left half replaced by a shorter one.
    v.sort_by_key(|s| std::cmp::Reverse(s.len()));
    v
}

/// The configuration sends an SMTP password in plain text. Said by the daemon as it starts,
/// before intake runs: the mail worker builds its sender later, on a thread of its own.
pub fn plaintext_login_warning(cfg: &MailConfig) -> Option<String> {
    (matches!(cfg.transport, Transport::Smtp)
        && !cfg.smtp_user.is_empty()
        && cfg.smtp_tls == SmtpTls::None)
        .then(|| {
            format!(
                "PLAINTEXT SMTP LOGIN: mail.smtp_tls = \"none\" with mail.smtp_user {:?} sends the password unencrypted to {}:{}, readable by anyone on the way; set mail.smtp_tls = \"starttls\" or \"tls\"",
                sanitize(&cfg.smtp_user),
                sanitize(&cfg.smtp_host),
                cfg.smtp_port
            )
        })
}

/// An SMTP error as it is stored for staff and logged: a server's reply may quote what we
/// sent (an `AUTH` line with our credentials); none of that is kept. Control characters go,
/// and the text is cut to 300 characters.
pub fn scrub(text: &str, secrets: &[String]) -> String {
    let mut t = sanitize(text);
    for s in secrets {
        t = t.replace(s.as_str(), "[redacted]");
    }
    if t.chars().count() > 300 {
        t = t.chars().take(300).collect::<String>() + "…";
    }
    t
}

impl Sender {
    fn new(cfg: &MailConfig, mail_dir: PathBuf) -> Result<Sender, String> {
        match cfg.transport {
            Transport::File => {
                std::fs::create_dir_all(&mail_dir)
                    .map_err(|e| format!("cannot create {}: {e}", mail_dir.display()))?;
                Ok(Sender::File(AsyncFileTransport::new(mail_dir)))
            }
            Transport::Smtp => {
                let b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&cfg.smtp_host);
                let b = match cfg.smtp_tls {
                    SmtpTls::None => b,
                    // STARTTLS is required, never optional: no silent fall-back to plain text.
                    SmtpTls::Starttls => b.tls(Tls::Required(tls_parameters(cfg)?)),
                    SmtpTls::Tls => b.tls(Tls::Wrapper(tls_parameters(cfg)?)),
                };
                let mut b = b.port(cfg.smtp_port).timeout(Some(Duration::from_secs(30)));
                let mut secrets = Vec::new();
                if !cfg.smtp_user.is_empty() {
                    let password = std::env::var(&cfg.smtp_password_env).map_err(|_| {
                        format!(
                            "mail.smtp_user is set but the environment variable {} (mail.smtp_password_env) holds no password",
                            cfg.smtp_password_env
                        )
                    })?;
                    secrets = secrets_of(&cfg.smtp_user, &password);
                    b = b.credentials(Credentials::new(cfg.smtp_user.clone(), password));
                }
                Ok(Sender::Smtp(b.build(), secrets))
            }
        }
    }

    async fn send(&self, m: Message) -> Result<(), MailError> {
        match self {
            Sender::Smtp(t, secrets) => t.send(m).await.map(|_| ()).map_err(|e| {
                let text = scrub(&e.to_string(), secrets);
                if e.is_permanent() {
                    MailError::Permanent(text)
                } else {
                    MailError::Transient(text)
                }
            }),
            Sender::File(t) => t
                .send(m)
                .await
                .map(|_| ())
                .map_err(|e| MailError::Transient(e.to_string())),
        }
    }
}

/// TLS towards the relay: rustls with the public web roots, plus `mail.smtp_ca_file` if set.
fn tls_parameters(cfg: &MailConfig) -> Result<TlsParameters, String> {
    let mut b = TlsParameters::builder(cfg.smtp_host.clone());
    if !cfg.smtp_ca_file.is_empty() {
        let pem = std::fs::read(&cfg.smtp_ca_file)
            .map_err(|e| format!("mail.smtp_ca_file {}: {e}", cfg.smtp_ca_file))?;
        let cert = Certificate::from_pem(&pem)
            .map_err(|e| format!("mail.smtp_ca_file {}: {e}", cfg.smtp_ca_file))?;
        b = b.add_root_certificate(cert);
    }
    b.build().map_err(|e| format!("mail TLS settings: {e}"))
}

/// Delay before retry number `attempts` (1-based): doubling from the initial delay, capped.
pub fn backoff(cfg: &MailConfig, attempts: u32) -> Duration {
    let exp = attempts.saturating_sub(1).min(30);
    let secs = cfg
        .retry_initial_secs
        .saturating_mul(1u64 << exp)
        .min(cfg.retry_max_secs);
    Duration::from_secs(secs)
}

/// The new state of a job after one delivery attempt at `now`.
pub fn after_attempt(
    cfg: &MailConfig,
    mut job: MailJob,
    result: Result<(), MailError>,
    now: DateTime<Utc>,
) -> MailJob {
    job.attempts += 1;
    match result {
        Ok(()) => {
            job.state = MailState::Sent;
            job.sent_at = Some(now);
            job.last_error = None;
        }
        Err(MailError::Permanent(e)) => {
            job.state = MailState::Dead;
            job.last_error = Some(e);
        }
        Err(MailError::Transient(e)) | Err(MailError::Build(e)) => {
            let next = now + backoff(cfg, job.attempts);
            let give_up = job.created_at + Duration::from_secs(cfg.give_up_secs);
            job.last_error = Some(e);
            if next > give_up {
                job.state = MailState::Dead;
            } else {
                job.state = MailState::Retrying;
                job.next_attempt = next;
            }
        }
    }
    job
}

/// At most this many jobs are taken from the queue at once.
const BATCH: usize = 64;

/// The jobs due now by the daemon's clock, earliest first.
fn due_now(store: &SharedStore, clock: &dyn Clock) -> Result<Vec<MailJob>, StoreError> {
    store.get()?.due_mail(clock.now(), BATCH)
}

/// Wait `d`, or less if the daemon stops: answers whether it may go on.
async fn pause(stop: &crate::daemon::Shutdown, d: Duration) -> bool {
    tokio::select! {
        () = tokio::time::sleep(d) => true,
        () = stop.cancelled() => false,
    }
}

/// Run the worker until `stop` is cancelled. Never blocks intake: it only reads the queue.
/// Delivery outcomes are recorded through the pipeline's writer (the one writer of the store);
/// a worker that cannot run says so in the daemon's health, shown by `aim status`. Time is the
/// daemon's `clock`: when a job is due and when it was tried.
#[allow(clippy::too_many_lines)] // the worker's loop: read due jobs, send, record, back off
pub async fn run(
    cfg: MailConfig,
    mail_dir: PathBuf,
    store: Arc<SharedStore>,
    writer: Writer,
    health: Arc<Health>,
    clock: Arc<dyn Clock>,
    stop: crate::daemon::Shutdown,
) {
    let sender = match Sender::new(&cfg, mail_dir) {
        Ok(s) => s,
        Err(e) => {
            let msg = format!(
                "mail is not sent: {e}; messages stay queued until the configuration is fixed and the daemon restarted"
            );
            tracing::error!("{msg}");
            health.set_problem("mail", msg);
            return;
        }
    };
    // Consecutive failures to read or record the queue (a full data disk): backs off.
    let mut failing: u64 = 0;
    while !stop.is_cancelled() {
        let due = match due_now(&store, clock.as_ref()) {
            Ok(d) => {
                if failing > 0 {
                    tracing::info!("the mail queue can be read again");
                    failing = 0;
                }
                d
            }
            Err(e) => {
                // Said once, then quietly retried less often (the daemon reports the cause).
                if failing == 0 {
                    tracing::error!("cannot read the mail queue: {e}; retrying");
                }
                failing += 1;
                pause(&stop, Duration::from_secs(failing.min(30))).await;
                continue;
            }
        };
        if due.is_empty() {
            // Idle: look again soon, at once on stop.
            pause(&stop, Duration::from_millis(200)).await;
            continue;
        }
        for job in due {
            if stop.is_cancelled() {
                break;
            }
            let old_due = job.next_attempt;
            let ack = store
                .get()
                .and_then(|db| db.mail_ack(&job))
                .map_err(|e| match e {
                    crate::store::StoreError::Invalid(m) => MailError::Permanent(m),
                    e => MailError::Transient(format!("cannot read the ack from the store: {e}")),
                });
            let result = match ack.and_then(|ack| build_with(&cfg, &job, &ack)) {
                // A server that accepts and never answers must not hold up shutdown: on stop
                // the message is left queued (sent again at the next start).
                Ok(m) => tokio::select! {
                    r = sender.send(m) => r,
                    () = stop.cancelled() => {
                        tracing::info!(id = job.id, ack = %sanitize(&job.ack_name), "stopping: the message in flight stays queued");
                        return;
                    }
                },
                Err(e) => Err(e),
            };
            let failed = result.as_ref().err().map(ToString::to_string);
            let job = after_attempt(&cfg, job, result, clock.now());
            // The outcome is told once it is recorded: what the log says, status says too.
            if let Err(e) = writer.settle_mail(old_due, job.clone()).await {
                if failing == 0 {
                    tracing::error!(id = job.id, "cannot record the mail state: {e}; retrying");
                }
                failing += 1;
                pause(&stop, Duration::from_secs(failing.min(30))).await;
                break;
            }
            match (job.state, &failed) {
                (MailState::Sent, _) => {
                    tracing::info!(id = job.id, sender = %job.sender, ack = %sanitize(&job.ack_name), to = %job.to.join(","), "mail delivered")
                }
                (MailState::Dead, Some(e)) => {
                    tracing::error!(id = job.id, sender = %job.sender, ack = %sanitize(&job.ack_name), attempts = job.attempts, "mail given up (dead letter): {e}")
                }
                (_, Some(e)) => {
                    tracing::warn!(id = job.id, sender = %job.sender, ack = %sanitize(&job.ack_name), attempts = job.attempts, next = %job.next_attempt, "mail delivery failed, will retry: {e}")
                }
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACK: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<LicenseAck xmlns="urn:aim:ack:1" version="1.0">
  <Interchange>
    <SenderId>ACMEBRK</SenderId>
    <ControlNumber>000000105</ControlNumber>
    <FileName>partial-two-apps.xml</FileName>
    <Sha256>00</Sha256>
    <ReceivedAt>2026-11-28T00:00:00.000Z</ReceivedAt>
    <AckSequence>1</AckSequence>
    <Status>partial</Status>
  </Interchange>
  <Application id="A1" status="issued">
    <LicenseNumber>AIM-2026-0000017-4</LicenseNumber>
    <ValidFrom>2026-11-28</ValidFrom>
    <ValidThrough>2027-02-11</ValidThrough>
  </Application>
  <Application id="A2" status="rejected">
    <Error code="A301" path="Application[A2]/Product[1]/Hts" line="57" column="12">HTS 7208.10.1500 is not an aluminum product covered by AIM</Error>
  </Application>
</LicenseAck>
"#;

    #[test]
    fn summary_lists_licenses_and_errors() {
        let s = summarize(ACK.as_bytes());
        assert_eq!(s.control_number, "000000105");
        assert_eq!(s.status, "partial");
        assert_eq!(s.apps.len(), 2);
        assert_eq!(s.apps[0].license, "AIM-2026-0000017-4");
        let b = body(&s);
        assert!(b.contains("Application A1: issued, license AIM-2026-0000017-4, valid 2026-11-28 through 2027-02-11"), "{b}");
        assert!(b.contains("error A301 at Application[A2]/Product[1]/Hts (line 57, column 12): HTS 7208.10.1500"), "{b}");
        assert!(
            b.contains("issued 1, corrected 0, cancelled 0, pending review 0, rejected 1"),
            "{b}"
        );
        assert_eq!(
            subject(&s),
            "AIM acknowledgement: control number 000000105 partial"
        );
    }

    #[test]
    fn base64_as_smtp_auth_sends_it() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"\0user\0pass"), "AHVzZXIAcGFzcw==");
        let s = secrets_of("user", "pass");
        let t = scrub("535 5.7.8 bad AUTH PLAIN AHVzZXIAcGFzcw== (pass)", &s);
        assert!(!t.contains("AHVzZXIAcGFzcw") && !t.contains("pass)"), "{t}");
    }

    #[test]
    fn a_huge_ack_gets_a_bounded_crlf_body() {
        let apps: Vec<AppLine> = (0..3000)
            .map(|n| AppLine {
                id: format!("A{n}"),
                status: "rejected".into(),
                issues: (0..150)
                    .map(|k| {
                        format!(
                            "error A101 at Application[A{n}]/X (line {k}, column 1): {}",
                            "x".repeat(600)
                        )
                    })
                    .collect(),
                ..Default::default()
            })
            .collect();
        let s = Summary {
            sender: "ACMEBRK".into(),
            control_number: "1".into(),
            file_name: "x.xml".into(),
            status: "rejected".into(),
            apps,
            ..Default::default()
        };
        let b = body(&s);
        // Lines end in CRLF only.
        assert!(!b.replace("\r\n", "").contains('\n') && !b.replace("\r\n", "").contains('\r'));
        let lines: Vec<&str> = b.split("\r\n").collect();
        assert!(
            lines.iter().all(|l| l.chars().count() <= 420),
            "a long line"
        );
        let issue_lines = lines.iter().filter(|l| l.starts_with("  error ")).count();
        assert_eq!(issue_lines, MAX_BODY_ISSUES);
        let app_lines = lines
            .iter()
            .filter(|l| l.starts_with("Application "))
            .count();
        assert_eq!(app_lines, MAX_BODY_APPS);
        assert!(
            b.contains("  ... and 130 more: see the attached acknowledgement"),
            "{}",
            &b[..2000]
        );
        assert!(b.contains("... and 2000 more applications: see the attached acknowledgement"));
        assert!(
            b.contains("(449800 not shown here)"),
            "{}",
            &b[b.len() - 600..]
        );
        assert!(b.len() < 300 * 1024, "{} bytes", b.len());
        // The message keeps the body as it is: nothing for the transport to convert.
        let j = MailJob {
            ack: ACK.as_bytes().to_vec(),
            ..job()
        };
        let m = build_with(&MailConfig::default(), &j, ACK.as_bytes()).unwrap();
        let raw = String::from_utf8(m.formatted()).unwrap();
        assert!(!raw.replace("\r\n", "").contains('\n'));
    }

    #[test]
    fn subject_has_no_control_characters() {
        let s = Summary {
            control_number: "1\r\nBcc: x@y.z".into(),
            status: "rejected".into(),
            ..Default::default()
        };
        assert!(!subject(&s).contains('\n') && !subject(&s).contains('\r'));
    }

    fn job() -> MailJob {
        let t = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        MailJob {
            id: 1,
            sender: "ACMEBRK".into(),
            to: vec!["a@b.example".into()],
            ack_name: "x.ack.xml".into(),
            ack: ACK.as_bytes().to_vec(),
            ack_of: None,
            created_at: t,
            attempts: 0,
            next_attempt: t,
            state: MailState::Queued,
            last_error: None,
            sent_at: None,
        }
    }

    #[test]
    fn retries_back_off_to_the_ceiling_then_give_up() {
        let cfg = MailConfig {
            retry_initial_secs: 10,
            retry_max_secs: 60,
            give_up_secs: 200,
            ..MailConfig::default()
        };
        assert_eq!(backoff(&cfg, 1), Duration::from_secs(10));
        assert_eq!(backoff(&cfg, 2), Duration::from_secs(20));
        assert_eq!(backoff(&cfg, 3), Duration::from_secs(40));
        assert_eq!(backoff(&cfg, 4), Duration::from_secs(60));
        assert_eq!(backoff(&cfg, 40), Duration::from_secs(60));
        let mut j = job();
        let mut now = j.created_at;
        let mut attempts = 0;
        while j.state != MailState::Dead {
            j = after_attempt(
                &cfg,
                j,
                Err(MailError::Transient("connection refused".into())),
                now,
            );
            now = j.next_attempt;
            attempts += 1;
            assert!(attempts < 20);
        }
        assert_eq!(j.last_error.as_deref(), Some("connection refused"));
        assert!(attempts >= 4);
    }

    #[test]
    fn permanent_rejection_is_dead_at_once() {
        let cfg = MailConfig::default();
        let j = after_attempt(
            &cfg,
            job(),
            Err(MailError::Permanent("550 no such user".into())),
            Utc::now(),
        );
        assert_eq!(j.state, MailState::Dead);
        assert_eq!(j.attempts, 1);
    }

    /// An ack of a file rejected at file level, before its Interchange could be read.
    const FILE_ACK: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<LicenseAck xmlns="urn:aim:ack:1" version="1.0">
  <Interchange>
    <FileName>notes.txt</FileName>
    <Sha256>00</Sha256>
    <ReceivedAt>2026-11-28T00:00:00.000Z</ReceivedAt>
    <AckSequence>1</AckSequence>
    <Status>rejected</Status>
    <Error code="F011">file name "notes.txt" does not end in .xml; only .xml files are filings</Error>
  </Interchange>
</LicenseAck>
"#;

    #[test]
    fn a_file_level_rejection_names_the_partner_and_the_file() {
        let j = MailJob {
            ack: FILE_ACK.as_bytes().to_vec(),
            ack_name: "notes.ack.xml".into(),
            ..job()
        };
        let m = build(&MailConfig::default(), &j).unwrap();
        let raw = String::from_utf8(m.formatted()).unwrap();
        assert!(
            raw.contains("Subject: AIM acknowledgement: file \"notes.txt\" from ACMEBRK rejected"),
            "{raw}"
        );
        assert!(!raw.contains("(unreadable)"), "{raw}");
        let mut s = summarize(FILE_ACK.as_bytes());
        s.sender = j.sender.clone();
        let b = body(&s);
        assert!(b.contains("Sender:          ACMEBRK\r\n"), "{b}");
        assert!(
            b.contains("Control number:  (not readable from the file)\r\n"),
            "{b}"
        );
        assert!(b.contains("File:            notes.txt\r\n"), "{b}");
        assert!(b.contains("The file was rejected: error F011"), "{b}");
        // A file name with control characters and of any length stays one short header.
        let s = Summary {
            file_name: format!("a\r\nBcc: x@y.z{}", "x".repeat(300)),
            sender: "ACMEBRK".into(),
            status: "rejected".into(),
            ..Default::default()
        };
        let subj = subject(&s);
        assert!(
            !subj.chars().any(crate::filing::codes::is_control),
            "{subj}"
        );
        assert!(subj.len() < 120, "{subj}");
    }

    #[test]
    fn message_has_recipients_and_attachment() {
        let m = build(&MailConfig::default(), &job()).unwrap();
        let raw = String::from_utf8(m.formatted()).unwrap();
        assert!(raw.contains("To: a@b.example"), "{raw}");
        assert!(raw.contains("Subject: AIM acknowledgement: control number 000000105 partial"));
        assert!(raw.contains("filename=\"x.ack.xml\""), "{raw}");
    }

    /// The worker's due check asks the daemon's clock, not the system's: a job due in 2000
    /// waits while the clock says 1999, and one due in 2100 goes once the clock says so.
    #[test]
    fn the_due_check_uses_the_daemons_clock() {
        let d = tempfile::tempdir().unwrap();
        let store = SharedStore::open(d.path()).unwrap();
        let t = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().to_utc();
        for (name, due) in [
            ("old.ack.xml", "2000-01-01T00:00:00Z"),
            ("far.ack.xml", "2100-01-01T00:00:00Z"),
        ] {
            store
                .get()
                .unwrap()
                .transact(|tx| {
                    tx.enqueue_mail(
                        "ACMEBRK",
                        &["ops@acme.example".into()],
                        name,
                        b"<a/>",
                        t(due),
                    )
                })
                .unwrap();
        }
        let clock = crate::clock::FixedClock::at(t("1999-12-31T23:59:59Z"));
        let names = |clock: &crate::clock::FixedClock| -> Vec<String> {
            due_now(&store, clock)
                .unwrap()
                .into_iter()
                .map(|j| j.ack_name)
                .collect()
        };
        assert!(names(&clock).is_empty(), "nothing is due in 1999");
        clock.set(t("2000-01-01T00:00:00Z"));
        assert_eq!(names(&clock), ["old.ack.xml"]);
        clock.set(t("2100-01-01T00:00:00Z"));
        assert_eq!(names(&clock), ["old.ack.xml", "far.ack.xml"]);
    }

    /// A worker backing off (the queue cannot be read) stops as soon as the daemon does,
    /// not when its pause ends: the second pause lasts 2 s, the stop comes 1.2 s in.
    #[test]
    fn a_pause_ends_when_the_daemon_stops() {
        let d = tempfile::tempdir().unwrap();
        let store = Arc::new(SharedStore::open(&d.path().join("db")).unwrap());
        // A store let go of answers no read: the worker backs off, 1 s, then 2 s.
        store.abandon();
        let cfg = crate::config::Config::parse(crate::config::BUILT_IN, "built-in").unwrap();
        let (writer, _rx) = Writer::new(Box::new(|| {}));
        let stop = crate::daemon::Shutdown::new();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let stopped_after = rt.block_on(async {
            let worker = tokio::spawn(run(
                cfg.mail.clone(),
                d.path().join("mail"),
                store,
                writer,
                Arc::new(Health::default()),
                Arc::new(crate::clock::SystemClock),
                stop.clone(),
            ));
            tokio::time::sleep(Duration::from_millis(1200)).await;
            stop.cancel();
            let at = std::time::Instant::now();
            tokio::time::timeout(Duration::from_secs(5), worker)
                .await
                .expect("the worker stops")
                .unwrap();
            at.elapsed()
        });
        assert!(
            stopped_after < Duration::from_millis(500),
            "stopped {stopped_after:?} after the stop, not at once"
        );
    }
}
