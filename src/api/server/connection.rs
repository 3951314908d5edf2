//! One connection: a pipeline read → parse → authorize → dispatch for each request line, and
//! live events after `subscribe`. Replies and events go through a bounded queue to one writer
//! task: a client that does not read is cut off when the queue is full or a write takes too
//! long.

use super::super::views::Reply;
use super::super::{ApiError, Event, PROTOCOL, Request, RequestLine, ResponseLine};
use super::{Context, WRITE_TIMEOUT, authorize, handlers};
use crate::config::Role;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio::sync::{broadcast, mpsc};
use tokio_util::sync::CancellationToken;

/// A connection that sends no complete request for this long is closed (subscribers too
/// get no exemption: the console sends a status request every few seconds).
const IDLE: Duration = Duration::from_secs(600);
/// Requests per second a connection may make on average, and the burst above it.
const RATE: f64 = 50.0;
const BURST: f64 = 200.0;
/// Items a list in a request may have.
const MAX_ITEMS: usize = 1000;

/// Who is at the other end: the Unix user from `SO_PEERCRED` and its `[[staff]]` role.
pub struct Peer {
    pub user: String,
    pub role: Option<Role>,
}

/// One client's connection.
pub struct Connection {
    cx: Arc<Context>,
    peer: Peer,
    bucket: Bucket,
    /// Live events, after `subscribe`.
    events: Option<broadcast::Receiver<Event>>,
}

/// What one read from the client gave.
enum Read {
    Line,
    End,
    Bad(&'static str),
}

impl Connection {
    pub fn new(cx: Arc<Context>, peer: Peer) -> Connection {
        Connection {
            cx,
            peer,
            bucket: Bucket {
                tokens: BURST,
                at: Instant::now(),
            },
            events: None,
        }
    }

    /// Serve requests and events until the client leaves, idles, stops reading, or `stop`.
    pub async fn run(mut self, stream: UnixStream, stop: CancellationToken) {
        let (rd, mut wr) = stream.into_split();
        let (out, mut out_rx) = mpsc::channel::<String>(256);
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
        loop {
            tokio::select! {
                () = stop.cancelled() => break,
                ev = next_event(self.events.as_mut()) => {
                    let event = match ev {
                        Ok(e) => e,
                        Err(broadcast::error::RecvError::Lagged(n)) => Event::Lagged { missed: n },
                        Err(broadcast::error::RecvError::Closed) => break,
                    };
                    let line = line_of(&ResponseLine { v: PROTOCOL, id: None, ok: None, error: None, event: Some(event) });
                    if out.try_send(line).is_err() {
                        break;
                    }
                }
                r = tokio::time::timeout(IDLE, read_request(&mut rd, &mut buf)) => {
                    let answer = match r {
                        Err(_) | Ok(Read::End) => break,
                        Ok(Read::Bad(why)) => {
                            let _ = out.try_send(line_of(&error_line(None, ApiError::invalid(format!(
                                "request {why}: a request is one JSON line of at most {} bytes; closing", super::super::MAX_REQUEST
                            )))));
                            break;
                        }
                        Ok(Read::Line) => self.answer(&buf).await,
                    };
                    if out.send(line_of(&answer)).await.is_err() {
                        break;
                    }
                }
            }
        }
        drop(out);
        let _ = tokio::time::timeout(WRITE_TIMEOUT, writer).await;
    }

    /// One request line: parse → authorize → dispatch.
    async fn answer(&mut self, line: &[u8]) -> ResponseLine {
        let req = match self.parse(line).await {
            Ok(r) => r,
            Err(refusal) => return refusal,
        };
        if let Err(e) = self.authorize(&req.request).await {
            return error_line(Some(req.id), e);
        }
        if req.request == Request::Subscribe {
            self.events = Some(self.cx.events.subscribe());
        }
        match handlers::dispatch(&self.cx, &self.peer, req.request).await {
            Ok(reply) => ok_line(req.id, reply),
            Err(e) => error_line(Some(req.id), e),
        }
    }

    /// Within the rate, JSON, every field within its cap, a known request, our protocol.
    async fn parse(&mut self, line: &[u8]) -> Result<RequestLine, ResponseLine> {
        if !self.bucket.take() {
            tokio::time::sleep(Duration::from_millis(50)).await;
            return Err(error_line(
                None,
                ApiError::refused(format!("too many requests: at most {RATE} a second")),
            ));
        }
        let req = parse_request(line).map_err(|e| error_line(None, e))?;
        if req.v != PROTOCOL {
            return Err(error_line(
                Some(req.id),
                ApiError::invalid(format!(
                    "this daemon speaks protocol {PROTOCOL}, the client {}: use the aim binary of the same version",
                    req.v
                )),
            ));
        }
        Ok(req)
    }

    /// The peer's role allows the request; a refusal goes to the audit log (the first few of
    /// a minute one by one, the rest summed up: `crate::api::refusals`).
    async fn authorize(&self, req: &Request) -> Result<(), ApiError> {
        let Err(e) = authorize(&self.peer.user, self.peer.role, req) else {
            return Ok(());
        };
        let at = self.cx.clock.now();
        let w = self.cx.refusals.refused(&self.peer.user, req, &e, at);
        if let Some(s) = w.summary {
            self.cx.writer.audit_later(s);
        }
        if let Some(r) = w.record {
            self.cx.writer.audit(r, Duration::from_secs(5)).await;
        }
        Err(e)
    }
}

/// The next live event, or never when not subscribed.
async fn next_event(
    rx: Option<&mut broadcast::Receiver<Event>>,
) -> Result<Event, broadcast::error::RecvError> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

pub(super) fn line_of(r: &ResponseLine) -> String {
    let mut s = serde_json::to_string(r).unwrap_or_else(|_| {
        r#"{"v":1,"error":{"kind":"failed","message":"unprintable answer"}}"#.into()
    });
    s.push('\n');
    s
}

pub(super) fn error_line(id: Option<u64>, e: ApiError) -> ResponseLine {
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

/// Read one request line of at most `MAX_REQUEST` bytes into `buf`.
async fn read_request<R: tokio::io::AsyncBufRead + Unpin>(r: &mut R, buf: &mut Vec<u8>) -> Read {
    const MAX: usize = super::super::MAX_REQUEST;
    buf.clear();
    let mut limited = r.take(MAX as u64 + 1);
    match limited.read_until(b'\n', buf).await {
        Ok(0) => Read::End,
        Ok(_) if buf.len() > MAX && !buf.ends_with(b"\n") => Read::Bad("too long"),
        Ok(_) if !buf.ends_with(b"\n") => Read::End,
        Ok(_) => Read::Line,
        Err(_) => Read::Bad("unreadable"),
    }
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

#[cfg(test)]
mod tests {
    use super::super::super::ErrorKind;
    use super::*;

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
