//! Start and stop: the data folder's lock, logging, signals, and the threads around the loop
//! (mail, control socket, publisher, systemd notifications, metrics), all stopped by one
//! [`Shutdown`] token.

use super::{Daemon, DaemonError, Shutdown, Stats, pause, publisher};
use crate::config::Config;
use crate::store::SharedStore;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// The data folder's layout.
pub struct DataDir {
    pub root: PathBuf,
}

impl DataDir {
    pub fn db(&self) -> PathBuf {
        self.root.join("db")
    }
    pub fn archive(&self) -> PathBuf {
        self.root.join("archive")
    }
    /// `claimed/<ID>/`: files taken out of a partner's inbox, being read (docs/architecture.md).
    pub fn claimed(&self) -> PathBuf {
        self.root.join("claimed")
    }
    pub fn logs(&self) -> PathBuf {
        self.root.join("log")
    }
    pub fn mail(&self) -> PathBuf {
        self.root.join("mail")
    }
    pub fn lock(&self) -> PathBuf {
        self.root.join("aim.lock")
    }
    /// Whether a daemon holds this data folder's lock (false when the lock cannot be read).
    pub fn held_by_a_daemon(&self) -> bool {
        let Ok(f) = std::fs::File::open(self.lock()) else {
            return false;
        };
        matches!(
            rustix::fs::flock(&f, rustix::fs::FlockOperation::NonBlockingLockShared),
            Err(rustix::io::Errno::WOULDBLOCK)
        )
    }
    pub fn socket(&self) -> PathBuf {
        self.root.join(crate::api::SOCKET)
    }
}

/// Holds the data folder's exclusive lock for the daemon's lifetime. Dropped (a clean exit),
/// it empties the file first, so no stale pid is left behind.
pub struct DataLock {
    file: std::fs::File,
}

impl Drop for DataLock {
    fn drop(&mut self) {
        let _ = self.file.set_len(0);
    }
}

/// Take the data folder's lock, or say which process holds it.
pub fn lock_data(data: &DataDir) -> Result<DataLock, DaemonError> {
    use std::io::{Seek, Write};
    std::fs::create_dir_all(&data.root).map_err(|source| DaemonError::Folder {
        what: "data folder",
        path: data.root.display().to_string(),
        source,
    })?;
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(data.lock())?;
    if !take_lock(&f) {
        let pid = std::fs::read_to_string(data.lock())
            .unwrap_or_default()
            .trim()
            .to_owned();
        return Err(DaemonError::AlreadyRunning {
            data: data.root.display().to_string(),
            pid: if pid.is_empty() {
                "unknown".into()
            } else {
                pid
            },
        });
    }
    // The pid only names the holder for the message above; the lock is the `flock`. On a full
    // data disk it cannot be written, and the daemon starts (and waits for room) all the same.
    let written = f
        .set_len(0)
        .and_then(|()| f.seek(std::io::SeekFrom::Start(0)))
        .and_then(|_| writeln!(f, "{}", std::process::id()));
    if let Err(e) = written {
        eprintln!(
            "aim: cannot write the process id into {} ({e}); the lock is held all the same",
            data.lock().display()
        );
    }
    Ok(DataLock { file: f })
}

/// The exclusive `flock`, tried for up to a second: a staff command that finds no socket holds
/// a shared lock for a moment to tell a daemon starting from none
/// ([`DataDir::held_by_a_daemon`]), and a daemon starting in that moment must not take it
/// for another daemon.
fn take_lock(f: &std::fs::File) -> bool {
    for _ in 0..20 {
        if rustix::fs::flock(f, rustix::fs::FlockOperation::NonBlockingLockExclusive).is_ok() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    false
}

/// New files and folders in the data folder take its group (the setgid bit on a folder the
/// daemon owns; where that is not allowed, e.g. systemd's `RestrictSUIDSGID=`, they take the
/// daemon's group, which the deployment makes the same).
fn group_from_data_folder(root: &std::path::Path) {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let Ok(m) = std::fs::metadata(root) else {
        return;
    };
    if m.uid() == rustix::process::geteuid().as_raw() && m.mode() & 0o2000 == 0 {
        let mode = (m.mode() & 0o7777) | 0o2000;
        if let Err(e) = std::fs::set_permissions(root, std::fs::Permissions::from_mode(mode)) {
            tracing::debug!("cannot set the setgid bit on the data folder: {e}");
        }
    }
}

/// Set up logging to stderr and to `<data>/log/aim.log.<day>`. The guard must live as long as
/// the program logs.
pub fn init_logging(
    data: &DataDir,
    stderr: bool,
) -> Option<tracing_appender::non_blocking::WorkerGuard> {
    use tracing_subscriber::prelude::*;
    let filter = || {
        tracing_subscriber::EnvFilter::try_from_env("AIM_LOG")
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"))
    };
    let (file_layer, guard) = match std::fs::create_dir_all(data.logs()) {
        Ok(()) => {
            let appender = tracing_appender::rolling::daily(data.logs(), "aim.log");
            // A bounded line buffer (the default pre-allocates 4 MB for 128k lines).
            let (w, g) = tracing_appender::non_blocking::NonBlockingBuilder::default()
                .buffered_lines_limit(8192)
                .finish(appender);
            (
                Some(
                    tracing_subscriber::fmt::layer()
                        .with_writer(w)
                        .with_ansi(false)
                        .with_filter(filter()),
                ),
                Some(g),
            )
        }
        Err(e) => {
            eprintln!(
                "aim: cannot create the log folder {}: {e}; logging to stderr only",
                data.logs().display()
            );
            (None, None)
        }
    };
    let stderr_layer = stderr.then(|| {
        tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .with_filter(filter())
    });
    let _ = tracing_subscriber::registry()
        .with(file_layer)
        .with(stderr_layer)
        .try_init();
    guard
}

/// A daemon ready to run: the data folder locked, the store open, the socket bound. Made on
/// the caller's thread so that `aim` alone can attach to a daemon already running instead.
pub struct Prepared {
    cfg: Config,
    data: DataDir,
    daemon: Daemon,
    listener: std::os::unix::net::UnixListener,
    /// `[metrics] listen`, bound; `None` when metrics are off.
    metrics: Option<std::net::TcpListener>,
    _lock: DataLock,
    _log: Option<tracing_appender::non_blocking::WorkerGuard>,
}

/// Lock, log (`stderr_log`: also to stderr), open the store, bind the control socket.
/// `room`: the daemon's stop token when it may wait for room on a full data disk before the
/// database opens (`aim daemon`); `aim` alone, with a person in front of it, says why and ends.
pub fn prepare(
    cfg: Config,
    stderr_log: bool,
    room: Option<&Shutdown>,
) -> Result<Prepared, DaemonError> {
    let data = DataDir {
        root: cfg.data.clone(),
    };
    // Whatever umask the daemon was started with, what it creates (database, archive, mail,
    // logs, acks) is at most rw-r----- and its folders rwxr-x---.
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o027));
    let lock = lock_data(&data)?;
    group_from_data_folder(&data.root);
    let log = init_logging(&data, stderr_log);
    let store = open_store(&data, room)?;
    let daemon = Daemon::new(cfg.clone(), store, Arc::new(crate::clock::SystemClock))?;
    let sock = data.socket();
    let listener = crate::api::server::bind(&sock, &cfg.staff_group).map_err(|source| {
        DaemonError::Folder {
            what: "control socket",
            path: sock.display().to_string(),
            source,
        }
    })?;
    let addr = cfg.metrics.address();
    let metrics = crate::service::http::bind(addr).map_err(|source| DaemonError::Folder {
        what: "the metrics address ([metrics] listen)",
        path: addr.map(|a| a.to_string()).unwrap_or_default(),
        source,
    })?;
    Ok(Prepared {
        cfg,
        data,
        daemon,
        listener,
        metrics,
        _lock: lock,
        _log: log,
    })
}

/// The database opens only with room for it ([`pause::MIN_FREE_DATA`], as a group commit needs):
/// sled writes at open, and more when a journal left by a crash is applied or a big file cut
/// short is rolled back. Without room `aim daemon` (`room`: its stop token) waits, as a running
/// daemon waits; `aim` alone, with a person in front of it, says why and ends.
fn open_store(data: &DataDir, room: Option<&Shutdown>) -> Result<Arc<SharedStore>, DaemonError> {
    let wait = |why: String, wanted: u64| match room {
        None => Err(DaemonError::NoRoom(why)),
        Some(stop) if pause::wait_for_room_at_start(&data.root, &why, wanted, stop) => Ok(()),
        Some(_) => Err(DaemonError::Stopped),
    };
    if let Some(why) = pause::short_of_room(&data.root) {
        wait(why, pause::MIN_FREE_DATA)?;
    }
    match SharedStore::open(&data.db()) {
        Ok(s) => Ok(Arc::new(s)),
        // Even with the floor free, recovery may need more. Crash-only, as when the database
        // fails under a running daemon: once the disk has gained room, start afresh.
        Err(e) if pause::out_of_room(&e) => {
            let why = format!(
                "the database cannot open ({e}): free space on the data disk ({})",
                data.root.display()
            );
            let had = pause::free_bytes(&data.root).unwrap_or(0);
            wait(why, had + pause::MIN_FREE_DATA)?;
            Err(DaemonError::Restart(format!(
                "the database could not open ({e}) and the data disk has room again"
            )))
        }
        Err(e) => Err(e.into()),
    }
}

impl Prepared {
    pub fn stats(&self) -> Arc<Stats> {
        Arc::clone(&self.daemon.stats)
    }

    /// Run until `stop` is cancelled: intake and the writer on this thread, mail and the
    /// control socket on their own. `stop` is cancelled when this returns, whatever the reason.
    pub fn run(mut self, stop: Shutdown) -> Result<(), DaemonError> {
        let cfg = &self.cfg;
        tracing::info!(data = %self.data.root.display(), inbox = %cfg.inbox.display(), outbox = %cfg.outbox.display(), "aim daemon starting");
        if let Some(warning) = crate::mail::plaintext_login_warning(&cfg.mail) {
            tracing::warn!("{warning}");
        }
        let mail_worker = spawn_mail(cfg, &self.data, &self.daemon, &stop)?;
        let api = spawn_control(cfg, self.listener, &self.daemon, &stop)?;
        // The weekly publication reads the store on a thread of its own, never in intake's way.
        let publisher = cfg.monitor.schedule().map(|_| {
            let mut p = publisher::Publisher::new(
                cfg.monitor.clone(),
                self.daemon.shared_store(),
                self.daemon.clock(),
            );
            let stop = stop.clone();
            std::thread::Builder::new()
                .name("publisher".into())
                .spawn(move || p.run(&stop))
        });
        let service = self.daemon.service();
        let notify = service.watch_stop(stop.clone())?;
        let metrics = match self.metrics.take() {
            Some(l) => Some(crate::service::http::spawn(
                l,
                crate::service::http::Context {
                    service,
                    store: self.daemon.shared_store(),
                    health: self.daemon.health(),
                },
                stop.clone(),
            )?),
            None => None,
        };
        let result = self.daemon.run(&stop);
        stop.cancel();
        let mut threads = Vec::new();
        if let Some(Ok(p)) = publisher {
            threads.push((p, Duration::from_secs(2)));
        }
        threads.push((notify, Duration::from_secs(1)));
        if let Some(m) = metrics {
            threads.push((m, Duration::from_secs(2)));
        }
        stop_threads(self.daemon, result.is_ok(), api, mail_worker, threads);
        let _ = std::fs::remove_file(self.data.socket());
        result
    }
}

/// The mail worker on its own thread, at nice 10: intake never waits for mail.
fn spawn_mail(
    cfg: &Config,
    data: &DataDir,
    daemon: &Daemon,
    stop: &Shutdown,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    let (mcfg, dir, store, writer, health, clock, stop) = (
        cfg.mail.clone(),
        data.mail(),
        daemon.shared_store(),
        daemon.writer(),
        daemon.health(),
        daemon.clock(),
        stop.clone(),
    );
    let alive = crate::service::Service::mail_alive(health.clone(), stop.clone());
    std::thread::Builder::new()
        .name("mail".into())
        .spawn(move || {
            let _alive = alive;
            // Intake first: on a busy machine the mail thread yields the CPU (Linux takes a
            // nice value per thread). Failure only means equal priority.
            let _ = rustix::process::setpriority_process(Some(rustix::thread::gettid()), 10);
            match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt.block_on(crate::mail::run(
                    mcfg, dir, store, writer, health, clock, stop,
                )),
                Err(e) => {
                    let msg = format!("mail is not sent: cannot start the mail worker: {e}");
                    tracing::error!("{msg}");
                    health.set_problem("mail", msg);
                }
            }
        })
}

/// The control socket on its own runtime (two workers), served until `stop` is cancelled.
fn spawn_control(
    cfg: &Config,
    listener: std::os::unix::net::UnixListener,
    daemon: &Daemon,
    stop: &Shutdown,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    let clock = daemon.clock();
    let cx = Arc::new(crate::api::server::Context {
        store: daemon.shared_store(),
        cfg: cfg.clone(),
        writer: daemon.writer(),
        events: daemon.events(),
        health: daemon.health(),
        started_at: clock.now(),
        refusals: Default::default(),
        clock,
    });
    let stop = stop.clone();
    std::thread::Builder::new()
        .name("control".into())
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    tracing::error!("cannot start the control socket: {e}");
                    return;
                }
            };
            rt.block_on(async move {
                match tokio::net::UnixListener::from_std(listener) {
                    Ok(l) => crate::api::server::serve(l, cx, stop).await,
                    Err(e) => tracing::error!("cannot serve the control socket: {e}"),
                }
            });
        })
}

/// After the loop: the socket's last words and the mail worker's last outcome reach the
/// writer, the store is flushed (never a failed one), and every thread is joined within its
/// bound (a thread stuck in a failed store must not keep the daemon from stopping or from
/// starting afresh; the process ends it).
fn stop_threads(
    mut daemon: Daemon,
    ran_ok: bool,
    api: std::thread::JoinHandle<()>,
    mail: std::thread::JoinHandle<()>,
    threads: Vec<(std::thread::JoinHandle<()>, Duration)>,
) {
    let failed = daemon.store.has_failed();
    // The socket's last words (summaries of counted refusals) reach the writer's queue
    // before it is applied for the last time.
    join_within(api, Duration::from_secs(3));
    // The mail worker records its last outcome through the writer: keep serving the queue
    // until it is done (a few seconds at most), then let go of the queue.
    let deadline = Instant::now() + Duration::from_secs(5);
    while ran_ok && !failed && !mail.is_finished() && Instant::now() < deadline {
        if daemon.apply_commands().is_err() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    if ran_ok && !failed {
        let _ = daemon.apply_commands();
        if let Ok(db) = daemon.db() {
            let _ = db.flush();
        }
    }
    if failed {
        // Never drop a failed sled `Db`: its `Drop` flushes and may wait for ever.
        daemon.store.abandon();
    }
    drop(daemon);
    join_within(mail, Duration::from_secs(3));
    for (h, wait) in threads {
        join_within(h, wait);
    }
}

/// Join `h` if it ends within `wait`; otherwise leave it (the process ends it).
fn join_within(h: std::thread::JoinHandle<()>, wait: Duration) {
    let deadline = Instant::now() + wait;
    while !h.is_finished() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    if h.is_finished() {
        let _ = h.join();
    }
}

/// After SIGTERM or SIGINT the daemon has this long to stop by itself (spec section 8: within
/// 10 s whatever it is doing); then it exits 0 at once, as after a crash: what is unfinished
/// (a file in hand, a unit of change half applied, mail in flight) is finished at the next start.
pub const STOP_DEADLINE: Duration = Duration::from_secs(8);

/// SIGTERM and SIGINT cancel the returned token: the daemon then finishes the file in hand and
/// exits. Whatever holds it up (a huge file, a hung disk), it exits 0 within [`STOP_DEADLINE`].
/// With `hangup` (`aim` alone, whose console is the terminal), SIGHUP too: a closed terminal
/// stops both as `q` would, instead of killing the process with its socket and lock left
/// behind. `aim daemon` leaves SIGHUP as it finds it (`nohup` sets it ignored).
pub fn stop_on_signals(hangup: bool) -> std::io::Result<Shutdown> {
    let stop = Shutdown::new();
    let mut wanted = vec![signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT];
    if hangup {
        wanted.push(signal_hook::consts::SIGHUP);
    }
    let mut signals = signal_hook::iterator::Signals::new(wanted)?;
    let token = stop.clone();
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            let Some(signal) = signals.forever().next() else {
                return;
            };
            if signal == signal_hook::consts::SIGHUP {
                tracing::info!("the terminal closed (SIGHUP): stopping as `q` would");
            }
            SIGNALLED.store(true, Ordering::SeqCst);
            token.cancel();
            std::thread::sleep(STOP_DEADLINE);
            let msg = format!(
                "did not stop within {} s of the signal: exiting now; what is unfinished is finished at the next start",
                STOP_DEADLINE.as_secs()
            );
            tracing::warn!("{msg}");
            eprintln!("aim: {msg}");
            std::process::exit(0);
        })?;
    Ok(stop)
}

/// Set by the stop signals only (the token is also cancelled when the daemon stops for
/// another reason).
static SIGNALLED: AtomicBool = AtomicBool::new(false);

fn signalled() -> bool {
    SIGNALLED.load(Ordering::SeqCst)
}

/// Start this program afresh in this process (same PID, same arguments): the crash-only way
/// out of a failed store. Returns only when that is impossible.
fn restart_self(why: &str) -> DaemonError {
    use std::os::unix::process::CommandExt;
    let mut args = std::env::args_os();
    let arg0 = args.next().unwrap_or_else(|| "aim".into());
    eprintln!("aim: {why}: starting afresh");
    let e = std::process::Command::new("/proc/self/exe")
        .arg0(arg0)
        .args(args)
        .exec();
    DaemonError::Io(std::io::Error::other(format!(
        "{why}, but cannot start afresh ({e}): exiting for the service manager to restart the daemon"
    )))
}

/// Everything `aim daemon` does: lock, log, open, recover, run until SIGTERM/SIGINT.
/// `status_line` prints a one-line summary for a person in a terminal.
pub fn serve(cfg: Config, status_line: bool) -> Result<(), DaemonError> {
    // Signals first: a SIGTERM during start-up (recovery, a long scan) ends the daemon cleanly
    // at the next file boundary instead of killing it mid-way.
    let stop = stop_on_signals(false)?;
    let prepared = match prepare(cfg.clone(), !status_line, Some(&stop)) {
        Ok(p) => p,
        Err(e) => return ended(e),
    };
    let status = status_line.then(|| {
        let stats = prepared.stats();
        let stop = stop.clone();
        let partners: Vec<String> = cfg.partners.iter().map(|p| format!("{} → {}", p.id, cfg.partner_inbox(p).display())).collect();
        eprintln!(
            "AIM licensing daemon running. Data: {}. Drop filings into: {}. Acks appear under {}. Ctrl-C stops.",
            cfg.data.display(),
            partners.join(", "),
            cfg.outbox.display()
        );
        std::thread::spawn(move || status_loop(&stats, &stop))
    });
    let result = prepared.run(stop.clone());
    stop.cancel();
    if let Some(h) = status {
        let _ = h.join();
        eprintln!();
    }
    let result = result.or_else(ended);
    if result.is_ok() && (status_line || std::io::IsTerminal::is_terminal(&std::io::stderr())) {
        eprintln!("aim: stopped cleanly");
    }
    result
}

/// How the daemon ends on `e`, at start or after running: a stop asked for meanwhile is a
/// clean end (the next start recovers); a store to open anew starts this program afresh.
fn ended(e: DaemonError) -> Result<(), DaemonError> {
    match e {
        DaemonError::Stopped => Ok(()),
        DaemonError::Restart(_) if signalled() => Ok(()),
        DaemonError::Restart(why) => Err(restart_self(&why)),
        e => Err(e),
    }
}

fn status_loop(stats: &Stats, stop: &Shutdown) {
    use std::io::Write;
    while !stop.is_cancelled() {
        eprint!(
            "\r\x1b[2Kfiles {}  applications {}  licenses issued {}  rejected files {}",
            stats.files.load(Ordering::Relaxed),
            stats.applications.load(Ordering::Relaxed),
            stats.licenses.load(Ordering::Relaxed),
            stats.rejected_files.load(Ordering::Relaxed)
        );
        let _ = std::io::stderr().flush();
        std::thread::sleep(Duration::from_millis(500));
    }
}
