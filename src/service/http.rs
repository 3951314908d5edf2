//! `GET /metrics` and `GET /healthz` on `[metrics] listen` (hyper, HTTP/1.1), on that one
//! address, answering nothing else. Bounded: at most [`MAX_CONNECTIONS`] at once (more are
//! closed at once), request heads of at most 8 KiB read within 5 s, one request a connection,
//! 10 s a connection in all; request bodies are never read.

use super::Service;
use crate::health::Health;
use crate::store::SharedStore;
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

pub const MAX_CONNECTIONS: usize = 16;
/// hyper's smallest read buffer: a request head longer than this is refused (431).
const MAX_HEAD_BYTES: usize = 8192;
const HEAD_TIMEOUT: Duration = Duration::from_secs(5);
const CONNECTION_TIME: Duration = Duration::from_secs(10);
/// A store that does not answer within this (a hung disk) makes the scrape fail with 503.
const STORE_TIME: Duration = Duration::from_secs(5);

pub struct Context {
    pub service: Arc<Service>,
    pub store: Arc<SharedStore>,
    pub health: Arc<Health>,
}

/// Bind `[metrics] listen` before the daemon starts, so that a taken address stops the start
/// with a message. `None` when metrics are off.
pub fn bind(addr: Option<SocketAddr>) -> std::io::Result<Option<std::net::TcpListener>> {
    let Some(addr) = addr else { return Ok(None) };
    let l = std::net::TcpListener::bind(addr)?;
    l.set_nonblocking(true)?;
    Ok(Some(l))
}

/// Serve on a thread of its own until `stop` is cancelled.
pub fn spawn(
    listener: std::net::TcpListener,
    cx: Context,
    stop: crate::daemon::Shutdown,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("metrics".into())
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .max_blocking_threads(2)
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    tracing::error!("cannot serve metrics: {e}");
                    return;
                }
            };
            rt.block_on(async move {
                let listener = match tokio::net::TcpListener::from_std(listener) {
                    Ok(l) => l,
                    Err(e) => {
                        tracing::error!("cannot serve metrics: {e}");
                        return;
                    }
                };
                if let Ok(a) = listener.local_addr() {
                    tracing::info!(address = %a, "metrics and health served: GET /metrics, GET /healthz");
                }
                serve(listener, Arc::new(cx), stop).await;
            });
        })
}

async fn serve(listener: tokio::net::TcpListener, cx: Arc<Context>, stop: crate::daemon::Shutdown) {
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            () = stop.cancelled() => return,
        };
        let tcp = match accepted {
            Ok((tcp, _)) => tcp,
            Err(e) => {
                // Out of file descriptors and the like: wait instead of spinning.
                tracing::warn!("metrics: cannot accept a connection: {e}");
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        // All slots taken: close this one at once rather than queue it.
        let Ok(permit) = Arc::clone(&slots).try_acquire_owned() else {
            continue;
        };
        let cx = Arc::clone(&cx);
        tokio::spawn(async move {
            let _permit = permit;
            let service = hyper::service::service_fn(move |req| {
                let cx = Arc::clone(&cx);
                async move { Ok::<_, Infallible>(answer(&cx, &req).await) }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .keep_alive(false)
                .max_buf_size(MAX_HEAD_BYTES)
                .timer(TokioTimer::new())
                .header_read_timeout(HEAD_TIMEOUT)
                .serve_connection(TokioIo::new(tcp), service);
            let _ = tokio::time::timeout(CONNECTION_TIME, conn).await;
        });
    }
}

fn reply(code: StatusCode, content_type: &'static str, body: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = code;
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

const TEXT: &str = "text/plain; charset=utf-8";
const JSON: &str = "application/json";

async fn answer(cx: &Arc<Context>, req: &Request<Incoming>) -> Response<Full<Bytes>> {
    let path = req.uri().path();
    if path != "/metrics" && path != "/healthz" {
        return reply(
            StatusCode::NOT_FOUND,
            TEXT,
            "not found: this address serves GET /metrics and GET /healthz only\n".into(),
        );
    }
    if req.method() != Method::GET {
        let mut r = reply(
            StatusCode::METHOD_NOT_ALLOWED,
            TEXT,
            format!("{path} answers GET only\n"),
        );
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET"));
        return r;
    }
    if path == "/healthz" {
        let (code, body) = super::level::healthz(&cx.health);
        let code = StatusCode::from_u16(code).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
        return reply(code, JSON, format!("{body}\n"));
    }
    let work = {
        let cx = Arc::clone(cx);
        tokio::task::spawn_blocking(move || {
            cx.service.metrics.refresh(&cx.store, &cx.health);
            cx.service.metrics.encode()
        })
    };
    match tokio::time::timeout(STORE_TIME, work).await {
        Ok(Ok(Ok(text))) => reply(StatusCode::OK, super::metrics::CONTENT_TYPE, text),
        Ok(Ok(Err(_))) | Ok(Err(_)) => reply(
            StatusCode::INTERNAL_SERVER_ERROR,
            TEXT,
            "cannot encode the metrics; see the daemon's log\n".into(),
        ),
        Err(_) => reply(
            StatusCode::SERVICE_UNAVAILABLE,
            TEXT,
            format!(
                "the database did not answer within {} s\n",
                STORE_TIME.as_secs()
            ),
        ),
    }
}
