//! The client side of the control socket, in one place: connect (with messages that say what
//! to do when there is no daemon or no permission), request, the live event stream, and
//! reconnecting. Used by the staff commands and by the console.

use super::views::Reply;
use super::{ApiError, Event, PROTOCOL, Request, RequestLine, ResponseLine};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio::net::unix::OwnedWriteHalf;
use tokio::sync::{Mutex, mpsc, oneshot};

/// Why a request got no answer from the daemon.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// No daemon listens on the socket.
    #[error(
        "no aim daemon is running on {socket} ({why}): start it with `aim daemon --config {config}` (or `systemctl start aim`), or run `aim --config {config}` for the daemon and the console in one"
    )]
    NoDaemon {
        socket: String,
        config: String,
        why: String,
    },
    /// A daemon holds the data folder's lock but does not listen yet: it is starting.
    #[error(
        "the aim daemon on {data} is starting and does not answer yet (it recovers what was unfinished, or waits for room on a full data disk): see `systemctl status aim` or its log under {data}/log, and try again"
    )]
    Starting { data: String },
    /// The socket's permissions keep this user out.
    #[error(
        "{user} may not open the control socket {socket}: it belongs to group {group} (mode 0660); ask an administrator to add you to that group (`usermod -aG {group} {user}`), then log in again"
    )]
    NoPermission {
        socket: String,
        group: String,
        user: String,
    },
    #[error("cannot reach the daemon on {socket}: {why}")]
    Other { socket: String, why: String },
    /// The connection broke (the daemon stopped or restarted).
    #[error("lost the connection to the daemon: {0}")]
    Lost(String),
    /// The daemon answered with a refusal or an error.
    #[error("{0}")]
    Api(ApiError),
}

impl ClientError {
    /// The exit code of the staff commands (spec section 9): 1 refused or not found, 2 could
    /// not run.
    pub fn exit_code(&self) -> u8 {
        match self {
            ClientError::Api(e) => match e.kind {
                super::ErrorKind::Refused | super::ErrorKind::NotFound => 1,
                super::ErrorKind::Invalid | super::ErrorKind::Failed => 2,
            },
            _ => 2,
        }
    }
}

fn current_user() -> String {
    let uid = nix::unistd::Uid::effective();
    match nix::unistd::User::from_uid(uid) {
        Ok(Some(u)) => u.name,
        _ => format!("uid {uid}"),
    }
}

fn group_of(path: &Path) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let gid = std::fs::metadata(path).ok()?.gid();
    Some(
        match nix::unistd::Group::from_gid(nix::unistd::Gid::from_raw(gid)) {
            Ok(Some(g)) => g.name,
            _ => format!("gid {gid}"),
        },
    )
}

/// Turn a connect failure into what the person must do.
pub fn connect_error(socket: &Path, config: &Path, e: &std::io::Error) -> ClientError {
    let s = socket.display().to_string();
    if matches!(
        e.kind(),
        std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
    ) && let Some(data) = socket.parent()
    {
        let data = crate::daemon::DataDir {
            root: data.to_path_buf(),
        };
        if data.held_by_a_daemon() {
            return ClientError::Starting {
                data: data.root.display().to_string(),
            };
        }
    }
    match e.kind() {
        std::io::ErrorKind::NotFound => ClientError::NoDaemon {
            socket: s,
            config: config.display().to_string(),
            why: match no_config_here(config) {
                Some(note) => format!("no socket there; {note}"),
                None => "no socket there".into(),
            },
        },
        std::io::ErrorKind::ConnectionRefused => ClientError::NoDaemon {
            socket: s,
            config: config.display().to_string(),
            why: "the socket is left from a daemon that stopped".into(),
        },
        std::io::ErrorKind::PermissionDenied => match group_of(socket) {
            Some(group) => ClientError::NoPermission {
                socket: s,
                group,
                user: current_user(),
            },
            None => ClientError::Other {
                socket: s,
                why: format!("{e}: check that you may enter the data folder"),
            },
        },
        _ => ClientError::Other {
            socket: s,
            why: e.to_string(),
        },
    }
}

/// When `config` does not exist (a command run from another folder), which configuration was
/// used instead, and what to do.
fn no_config_here(config: &Path) -> Option<String> {
    if config.exists() {
        return None;
    }
    let here = std::env::current_dir()
        .map(|d| d.display().to_string())
        .unwrap_or_else(|_| "this folder".into());
    Some(format!(
        "no file {} was found in {here}, so the built-in defaults were used (data folder var/ here): run the command from the folder that holds {}, or give --config with its path",
        config.display(),
        config.display()
    ))
}

type Pending = Arc<std::sync::Mutex<HashMap<u64, oneshot::Sender<ResponseLine>>>>;

/// One connection to the daemon.
pub struct Client {
    writer: Mutex<OwnedWriteHalf>,
    pending: Pending,
    next_id: AtomicU64,
    events: Mutex<mpsc::Receiver<Event>>,
    reader: tokio::task::JoinHandle<()>,
}

impl Drop for Client {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

impl Client {
    /// Connect to the socket of the daemon that runs on `config`'s data folder.
    pub async fn connect(socket: &Path, config: &Path) -> Result<Client, ClientError> {
        let stream = UnixStream::connect(socket)
            .await
            .map_err(|e| connect_error(socket, config, &e))?;
        let (rd, wr) = stream.into_split();
        let pending: Pending = Arc::default();
        let (ev_tx, ev_rx) = mpsc::channel(1024);
        let reader = {
            let pending = Arc::clone(&pending);
            tokio::spawn(async move {
                let mut lines = BufReader::new(rd).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    let Ok(r) = serde_json::from_str::<ResponseLine>(&line) else {
                        continue;
                    };
                    if let Some(ev) = r.event.clone() {
                        // A console that does not keep up loses events, never the connection.
                        let _ = ev_tx.try_send(ev);
                        continue;
                    }
                    let waiter = r.id.and_then(|id| {
                        pending
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .remove(&id)
                    });
                    match waiter {
                        Some(w) => {
                            let _ = w.send(r);
                        }
                        // An answer without an id (a refused connection, a malformed
                        // request): give it to the oldest request waiting.
                        None => {
                            let mut p = pending.lock().unwrap_or_else(|p| p.into_inner());
                            if let Some(&id) = p.keys().min()
                                && let Some(w) = p.remove(&id)
                            {
                                let _ = w.send(r);
                            }
                        }
                    }
                }
                // Dropping the waiters tells every request the connection is gone.
                pending.lock().unwrap_or_else(|p| p.into_inner()).clear();
            })
        };
        Ok(Client {
            writer: Mutex::new(wr),
            pending,
            next_id: AtomicU64::new(1),
            events: Mutex::new(ev_rx),
            reader,
        })
    }

    /// Send a request and wait for its answer.
    pub async fn request(&self, request: Request) -> Result<Reply, ClientError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, tx);
        let mut line = serde_json::to_string(&RequestLine {
            v: PROTOCOL,
            id,
            request,
        })
        .map_err(|e| ClientError::Lost(e.to_string()))?;
        line.push('\n');
        {
            let mut w = self.writer.lock().await;
            w.write_all(line.as_bytes())
                .await
                .map_err(|e| ClientError::Lost(e.to_string()))?;
        }
        let r = rx
            .await
            .map_err(|_| ClientError::Lost("the daemon closed the connection".into()))?;
        match (r.ok, r.error) {
            (Some(reply), _) => Ok(reply),
            (None, Some(e)) => Err(ClientError::Api(e)),
            (None, None) => Err(ClientError::Lost("an empty answer".into())),
        }
    }

    /// The next live event (after [`Request::Subscribe`]); `None` when the connection is gone.
    pub async fn next_event(&self) -> Option<Event> {
        self.events.lock().await.recv().await
    }
}

/// Where the socket of a configuration's daemon is.
pub fn socket_of(cfg: &crate::config::Config) -> PathBuf {
    cfg.data.join(super::SOCKET)
}

/// Connect, retrying every `every` until `give_up` has passed (a daemon restarting).
/// `failed` hears each failed try (to say why the wait goes on).
pub async fn reconnect(
    socket: &Path,
    config: &Path,
    every: Duration,
    give_up: Duration,
    mut failed: impl FnMut(&ClientError),
) -> Result<Client, ClientError> {
    let start = tokio::time::Instant::now();
    loop {
        match Client::connect(socket, config).await {
            Ok(c) => return Ok(c),
            Err(e @ ClientError::NoPermission { .. }) => return Err(e),
            Err(e) if start.elapsed() >= give_up => return Err(e),
            Err(e) => {
                failed(&e);
                tokio::time::sleep(every).await;
            }
        }
    }
}

/// Run one request on a fresh connection, for the staff commands (blocking).
pub fn one_request(
    cfg: &crate::config::Config,
    config_path: &Path,
    request: Request,
) -> Result<Reply, ClientError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| ClientError::Other {
            socket: socket_of(cfg).display().to_string(),
            why: e.to_string(),
        })?;
    rt.block_on(async {
        let c = Client::connect(&socket_of(cfg), config_path).await?;
        c.request(request).await
    })
}
