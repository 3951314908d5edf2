//! Intake: which files in the partners' inboxes are ready to be read, and the file system
//! effects around them (no-follow reads, atomic ack writes, archive moves).
//!
//! Readiness: a file is ready when inotify reports it closed after writing or moved in; a file
//! seen only by a scan (startup, periodic rescan, lost events) is ready once its size and
//! modification time have stayed the same for the settle time. A file the watcher saw being
//! written is never read before its close event.

use crate::filing::codes::sanitize;
use crate::filing::is_in_progress_name;
use notify::event::{AccessKind, AccessMode, CreateKind, EventKind, ModifyKind, RenameMode};
use notify::{RecursiveMode, Watcher};
use rustix::fs::{FileType, Mode, OFlags};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::time::{Duration, Instant, SystemTime};

type WatchEvent = notify::Result<notify::Event>;

/// A partner's folders.
#[derive(Clone, Debug)]
pub(crate) struct Inbox {
    pub partner: String,
    pub dir: PathBuf,
    pub outbox: PathBuf,
    pub emails: Vec<String>,
    /// Where this partner's files are claimed before they are read (set by [`Intake::new`]):
    /// out of the partner's reach, on the inbox's file system. See [`claimed_folder`].
    pub claimed: PathBuf,
}

/// The claimed folder inside an inbox, used only where `<data>/claimed/<ID>` is on another
/// file system than the partner's inbox: hidden (a dot-name intake ignores) and mode 0700,
/// owned by the daemon, so the partner can neither list nor change what is in it.
pub(crate) const CLAIMED_IN_INBOX: &str = ".aim-claimed";

#[derive(Debug)]
struct Candidate {
    inbox: usize,
    size: u64,
    mtime: Option<SystemTime>,
    stable_since: Instant,
    /// The watcher saw it being written: wait for the close event.
    writing: bool,
    /// Created, and no open seen yet: a file created to be written is opened in the same
    /// call (an open event follows at once); one made by a hard link (OpenSSH's sftp-server
    /// renames so: link, then unlink) never is, and is read once it has settled.
    awaiting_open: bool,
    /// Already in the claimed folder (left there by a crash): read from there.
    claimed: bool,
    /// A close-after-write or moved-in event arrived, or it is not a regular file.
    ready: bool,
}

/// A file to process.
#[derive(Clone, Debug)]
pub(crate) struct Ready {
    pub path: PathBuf,
    pub name: String,
    pub inbox: usize,
    /// `path` is in the partner's claimed folder already.
    pub claimed: bool,
}

pub(crate) struct Intake {
    pub inboxes: Vec<Inbox>,
    inbox_root: PathBuf,
    by_dir: HashMap<PathBuf, usize>,
    /// Each inbox's resolved path: candidates are keyed by resolved paths.
    canon: Vec<PathBuf>,
    candidates: HashMap<PathBuf, Candidate>,
    settle: Duration,
    events: Option<(
        notify::RecommendedWatcher,
        Receiver<notify::Result<notify::Event>>,
    )>,
    /// Sends into the watcher's channel: wakes [`Intake::wait`] for work that is not a file.
    wake: Option<Sender<notify::Result<notify::Event>>>,
    /// Each inbox folder's identity (device, inode) when last watched: a folder removed or
    /// replaced under the daemon is noticed at the next scan and watched again.
    ids: Vec<Option<(u64, u64)>>,
    reported: HashSet<PathBuf>,
}

impl Intake {
    /// Create the partners' folders and start watching them. A watcher that cannot start
    /// (inotify limits) leaves intake on scans alone, with a clear warning.
    pub(crate) fn new(
        mut inboxes: Vec<Inbox>,
        inbox_root: PathBuf,
        claimed_root: &Path,
        settle: Duration,
    ) -> std::io::Result<Intake> {
        for i in &mut inboxes {
            std::fs::create_dir_all(&i.dir).map_err(|e| {
                std::io::Error::new(
                    e.kind(),
                    format!("cannot create inbox {}: {e}", i.dir.display()),
                )
            })?;
            std::fs::create_dir_all(&i.outbox).map_err(|e| {
                std::io::Error::new(
                    e.kind(),
                    format!("cannot create outbox {}: {e}", i.outbox.display()),
                )
            })?;
            i.claimed = claimed_folder(&i.dir, &claimed_root.join(&i.partner)).map_err(|e| {
                std::io::Error::new(
                    e.kind(),
                    format!(
                        "cannot prepare the claimed folder of {} (beside {}): {e}",
                        i.partner,
                        i.dir.display()
                    ),
                )
            })?;
        }
        let canon: Vec<PathBuf> = inboxes
            .iter()
            .map(|i| std::fs::canonicalize(&i.dir).unwrap_or_else(|_| i.dir.clone()))
            .collect();
        let by_dir = canon
            .iter()
            .cloned()
            .enumerate()
            .map(|(n, d)| (d, n))
            .collect();
        let mut intake = Intake {
            inboxes,
            inbox_root,
            by_dir,
            canon,
            candidates: HashMap::new(),
            settle,
            events: None,
            wake: None,
            ids: Vec::new(),
            reported: HashSet::new(),
        };
        intake.ids = intake.inboxes.iter().map(|i| folder_id(&i.dir)).collect();
        match intake.start_watcher() {
            Ok((w, rx, tx)) => {
                intake.events = Some((w, rx));
                intake.wake = Some(tx);
            }
            Err(e) => tracing::warn!(
                "file watcher unavailable ({e}); relying on rescans with the settle time. On Linux, raise fs.inotify.max_user_watches / max_user_instances"
            ),
        }
        Ok(intake)
    }

    fn start_watcher(
        &self,
    ) -> notify::Result<(
        notify::RecommendedWatcher,
        Receiver<WatchEvent>,
        Sender<WatchEvent>,
    )> {
        let (tx, rx) = channel();
        let wake = tx.clone();
        let mut w = notify::recommended_watcher(move |ev| {
            let _ = tx.send(ev);
        })?;
        for i in &self.inboxes {
            w.watch(&i.dir, RecursiveMode::NonRecursive)?;
        }
        Ok((w, rx, wake))
    }

    /// A partner's inbox folder removed or replaced while running: made anew where it is gone
    /// (the daemon owns the inbox tree), watched again either way, and said once.
    fn check_folders(&mut self) {
        for n in 0..self.inboxes.len() {
            let dir = self.inboxes[n].dir.clone();
            let shown = sanitize(&dir.display().to_string());
            let partner = self.inboxes[n].partner.clone();
            let mut id = folder_id(&dir);
            if id.is_none() {
                match std::fs::create_dir_all(&dir) {
                    Ok(()) => {
                        tracing::warn!(partner = %partner, inbox = %shown, "the inbox folder vanished: made it anew and watching it again");
                        id = folder_id(&dir);
                    }
                    Err(e) => {
                        if self.ids[n].is_some() {
                            tracing::error!(partner = %partner, inbox = %shown, "the inbox folder vanished and cannot be made anew: {e}");
                        }
                        self.ids[n] = None;
                        continue;
                    }
                }
            } else if self.ids[n].is_some() && id != self.ids[n] {
                tracing::warn!(partner = %partner, inbox = %shown, "the inbox folder was replaced: watching the new one");
            }
            if id != self.ids[n] {
                self.ids[n] = id;
                let canon = std::fs::canonicalize(&dir).unwrap_or_else(|_| dir.clone());
                self.by_dir.retain(|_, v| *v != n);
                self.by_dir.insert(canon.clone(), n);
                self.canon[n] = canon;
                if let Some((w, _)) = self.events.as_mut() {
                    let _ = w.unwatch(&dir);
                    if let Err(e) = w.watch(&dir, RecursiveMode::NonRecursive) {
                        tracing::warn!(inbox = %shown, "cannot watch the inbox folder ({e}); relying on rescans");
                    }
                }
            }
        }
    }

    fn inbox_of(&self, path: &Path) -> Option<usize> {
        let dir = path.parent()?;
        self.by_dir.get(dir).copied().or_else(|| {
            std::fs::canonicalize(dir)
                .ok()
                .and_then(|d| self.by_dir.get(&d).copied())
        })
    }

    /// Files a crash left claimed: read from where they are, at once (part of [`Intake::scan`]).
    fn scan_claimed(&mut self, now: Instant, present: &mut HashSet<PathBuf>) {
        for (n, ib) in self.inboxes.iter().enumerate() {
            let Ok(rd) = std::fs::read_dir(&ib.claimed) else {
                continue;
            };
            for e in rd.flatten() {
                if is_probe(&file_name_text(&e.file_name())) {
                    remove_probe(&e);
                    continue;
                }
                let path = ib.claimed.join(e.file_name());
                present.insert(path.clone());
                self.candidates.entry(path).or_insert(Candidate {
                    inbox: n,
                    size: 0,
                    mtime: None,
                    stable_since: now,
                    writing: false,
                    awaiting_open: false,
                    claimed: true,
                    ready: true,
                });
            }
        }
    }

    /// Full scan of every inbox (startup and periodic backstop). Reports folders in the inbox
    /// root that belong to no registered partner, once each.
    pub(crate) fn scan(&mut self) {
        self.check_folders();
        let now = Instant::now();
        let mut present = HashSet::new();
        for (n, ib) in self.inboxes.iter().enumerate() {
            let Ok(rd) = std::fs::read_dir(&ib.dir) else {
                tracing::warn!(inbox = %sanitize(&ib.dir.display().to_string()), "cannot read inbox folder");
                continue;
            };
            for e in rd.flatten() {
                let name = file_name_text(&e.file_name());
                if is_probe(&name) {
                    remove_probe(&e);
                    continue;
                }
                if is_in_progress_name(&name) {
                    continue;
                }
                let path = self.canon[n].join(e.file_name());
                present.insert(path.clone());
                let Ok(meta) = std::fs::symlink_metadata(&path) else {
                    continue;
                };
                let mtime = meta.modified().ok();
                match self.candidates.get_mut(&path) {
                    Some(c) => {
                        if c.size != meta.len() || c.mtime != mtime {
                            c.size = meta.len();
                            c.mtime = mtime;
                            c.stable_since = now;
                        }
                    }
                    None => {
                        self.candidates.insert(
                            path,
                            Candidate {
                                inbox: n,
                                size: meta.len(),
                                mtime,
                                stable_since: now,
                                writing: false,
                                awaiting_open: false,
                                claimed: false,
                                ready: !meta.file_type().is_file(),
                            },
                        );
                    }
                }
            }
        }
        self.scan_claimed(now, &mut present);
        self.candidates.retain(|p, _| present.contains(p));
        if let Ok(rd) = std::fs::read_dir(&self.inbox_root) {
            for e in rd.flatten() {
                let p = canonical_dir_join(&self.inbox_root, &e.file_name());
                let known =
                    self.by_dir.contains_key(&p) || self.inboxes.iter().any(|i| i.dir == e.path());
                // Dot-folders (the claimed folders beside inboxes) are the daemon's own.
                let hidden = e.file_name().as_encoded_bytes().starts_with(b".");
                if !known && !hidden && e.path().is_dir() && self.reported.insert(p.clone()) {
                    tracing::warn!(folder = %sanitize(&p.display().to_string()), "inbox folder of no registered partner: its files are left alone; register the partner or remove the folder");
                }
            }
        }
    }

    /// A function that makes [`Intake::wait`] return at once (work arrived that is not a
    /// file). Without a watcher, `wait` only sleeps its short timeout anyway.
    pub(crate) fn waker(&self) -> Box<dyn Fn() + Send + Sync> {
        match &self.wake {
            Some(tx) => {
                let tx = std::sync::Mutex::new(tx.clone());
                Box::new(move || {
                    let tx = tx.lock().unwrap_or_else(|p| p.into_inner());
                    let _ = tx.send(Ok(notify::Event::new(EventKind::Other)));
                })
            }
            None => Box::new(|| {}),
        }
    }

    /// Take in watcher events for up to `timeout`.
    pub(crate) fn wait(&mut self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let ev = match &self.events {
                Some((_, rx)) => match rx.recv_timeout(left) {
                    Ok(ev) => ev,
                    Err(RecvTimeoutError::Timeout) => return,
                    Err(RecvTimeoutError::Disconnected) => {
                        self.events = None;
                        return;
                    }
                },
                None => {
                    std::thread::sleep(left);
                    return;
                }
            };
            let mut woken = is_wake(&ev);
            self.event(ev);
            // Drain what is already queued without waiting, then return to process.
            while let Some(ev) = self.events.as_ref().and_then(|(_, rx)| rx.try_recv().ok()) {
                woken |= is_wake(&ev);
                self.event(ev);
            }
            if woken || self.candidates.values().any(|c| c.ready) || Instant::now() >= deadline {
                return;
            }
        }
    }

    #[allow(clippy::too_many_lines)] // one arm per kind of watcher event
    fn event(&mut self, ev: notify::Result<notify::Event>) {
        let ev = match ev {
            Ok(ev) => ev,
            Err(e) => {
                tracing::warn!(
                    "file watcher error: {}; rescanning",
                    sanitize(&e.to_string())
                );
                self.lost_events();
                return;
            }
        };
        if ev.need_rescan() {
            tracing::warn!("file watcher lost events; rescanning");
            self.lost_events();
            return;
        }
        let now = Instant::now();
        let (ready, writing) = match ev.kind {
            EventKind::Access(AccessKind::Close(AccessMode::Write)) => (true, false),
            EventKind::Modify(ModifyKind::Name(RenameMode::To | RenameMode::Both)) => (true, false),
            EventKind::Modify(ModifyKind::Data(_)) => (false, true),
            // Created: settles unless its creator's open follows (see `awaiting_open`).
            EventKind::Create(CreateKind::File) => (false, false),
            EventKind::Access(AccessKind::Open(_)) => {
                // Only the open that follows a file's creation says it is being written.
                if let Some(path) = ev.paths.last()
                    && let Some(inbox) = self.inbox_of(path)
                {
                    let path = self.canon[inbox].join(path.file_name().unwrap_or_default());
                    if let Some(c) = self.candidates.get_mut(&path)
                        && c.awaiting_open
                    {
                        c.awaiting_open = false;
                        c.writing = true;
                        c.stable_since = now;
                    }
                }
                return;
            }
            // Anything created that is not a plain file (link, FIFO, folder) is answered at once.
            EventKind::Create(_) => (false, false),
            _ => return,
        };
        let Some(path) = ev.paths.last() else { return };
        let Some(name) = path.file_name().map(file_name_text) else {
            return;
        };
        if is_in_progress_name(&name) {
            return;
        }
        let Some(inbox) = self.inbox_of(path) else {
            return;
        };
        let path = self.canon[inbox].join(path.file_name().unwrap_or_default());
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            self.candidates.remove(&path);
            return;
        };
        let regular = meta.file_type().is_file();
        let created = matches!(ev.kind, EventKind::Create(_));
        // A hard link made into the inbox is complete at once and never gets a close event.
        let linked_in = regular && created && std::os::unix::fs::MetadataExt::nlink(&meta) > 1;
        let c = self.candidates.entry(path).or_insert(Candidate {
            inbox,
            size: meta.len(),
            mtime: meta.modified().ok(),
            stable_since: now,
            writing: false,
            awaiting_open: false,
            claimed: false,
            ready: false,
        });
        if ready || !regular || linked_in {
            c.ready = true;
            c.writing = false;
            c.awaiting_open = false;
        } else if writing {
            c.writing = true;
            c.awaiting_open = false;
            c.stable_since = now;
        } else if created {
            // A new name: wait for its creator's open, else let it settle.
            c.writing = false;
            c.awaiting_open = true;
            c.stable_since = now;
        }
    }

    /// After lost events, close events may be gone too: fall back on the settle time.
    fn lost_events(&mut self) {
        for c in self.candidates.values_mut() {
            c.writing = false;
        }
        self.scan();
    }

    /// Files ready now, oldest first: at most `max` files and, beyond the first, at most
    /// `max_bytes` in all (a batch's memory stays bounded).
    pub(crate) fn take_ready(&mut self, max: usize, max_bytes: u64) -> Vec<Ready> {
        let now = Instant::now();
        let mut ready: Vec<(Instant, PathBuf)> = self
            .candidates
            .iter()
            .filter(|(_, c)| {
                c.ready || (!c.writing && now.duration_since(c.stable_since) >= self.settle)
            })
            .map(|(p, c)| (c.stable_since, p.clone()))
            .collect();
        ready.sort();
        ready.truncate(max);
        let mut total = 0u64;
        let mut keep = 0;
        for (_, p) in &ready {
            total += self.candidates.get(p).map_or(0, |c| c.size);
            if keep > 0 && total > max_bytes {
                break;
            }
            keep += 1;
        }
        ready.truncate(keep);
        ready
            .into_iter()
            .filter_map(|(_, p)| {
                let c = self.candidates.remove(&p)?;
                let name = file_name_text(p.file_name()?);
                Some(Ready {
                    path: p,
                    name,
                    inbox: c.inbox,
                    claimed: c.claimed,
                })
            })
            .collect()
    }

    /// Offer a file taken by [`Intake::take_ready`] again once the settle time has passed
    /// (its name was still taken in the claimed folder).
    pub(crate) fn again(&mut self, r: &Ready) {
        self.candidates.entry(r.path.clone()).or_insert(Candidate {
            inbox: r.inbox,
            size: 0,
            mtime: None,
            stable_since: Instant::now(),
            writing: false,
            awaiting_open: false,
            claimed: r.claimed,
            ready: false,
        });
    }

    /// Whether files wait for their settle time (so the caller polls sooner).
    pub(crate) fn settling(&self) -> bool {
        self.candidates.values().any(|c| !c.writing && !c.ready)
    }

    pub(crate) fn watching(&self) -> bool {
        self.events.is_some()
    }
}

fn canonical_dir_join(dir: &Path, name: &std::ffi::OsStr) -> PathBuf {
    std::fs::canonicalize(dir)
        .unwrap_or_else(|_| dir.to_path_buf())
        .join(name)
}

/// What reading a picked-up file gave.
pub enum Content {
    Bytes(Vec<u8>),
    /// Larger than allowed (by `fstat` before reading, or found growing past the limit while
    /// read): nothing more of it is read.
    TooLarge {
        size: u64,
    },
    /// Not a regular file (F012); never opened for reading.
    NotRegular {
        kind: &'static str,
    },
}

fn kind_of(ft: FileType) -> &'static str {
    match ft {
        FileType::Symlink => "symbolic link",
        FileType::Directory => "folder",
        FileType::Fifo => "FIFO",
        FileType::Socket => "socket",
        FileType::CharacterDevice | FileType::BlockDevice => "device",
        _ => "special file",
    }
}

/// Open a picked-up entry without following a symbolic link or blocking on a FIFO, and say
/// what it is from `fstat` on the open descriptor: nothing of it is read yet.
pub fn open_entry(path: &Path) -> std::io::Result<Result<(std::fs::File, u64), &'static str>> {
    let fd = match rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC | OFlags::NOCTTY,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(rustix::io::Errno::LOOP) => return Ok(Err("symbolic link")),
        Err(e) => {
            // A FIFO/socket/device may refuse to open: decide from lstat.
            if let Ok(st) = rustix::fs::lstat(path) {
                let ft = FileType::from_raw_mode(st.st_mode);
                if ft != FileType::RegularFile {
                    return Ok(Err(kind_of(ft)));
                }
            }
            return Err(e.into());
        }
    };
    let st = rustix::fs::fstat(&fd)?;
    let ft = FileType::from_raw_mode(st.st_mode);
    if ft != FileType::RegularFile {
        return Ok(Err(kind_of(ft)));
    }
    Ok(Ok((
        std::fs::File::from(fd),
        u64::try_from(st.st_size).unwrap_or(u64::MAX),
    )))
}

/// Read a file without following a symbolic link or blocking on a FIFO. Its type and size
/// come from `fstat` on the open descriptor before a byte is read: an oversized file (a
/// sparse one of gigabytes included) is answered without reading it, and at most `max + 1`
/// bytes are ever read, so a file that grows while it is read costs no more.
pub fn read_file(path: &Path, max: u64) -> std::io::Result<Content> {
    let (file, size) = match open_entry(path)? {
        Ok(f) => f,
        Err(kind) => return Ok(Content::NotRegular { kind }),
    };
    read_open(file, size, max)
}

/// [`read_file`] on an entry already opened by [`open_entry`].
pub fn read_open(mut file: std::fs::File, size: u64, max: u64) -> std::io::Result<Content> {
    if size > max {
        return Ok(Content::TooLarge { size });
    }
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    (&mut file).take(max + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Ok(Content::TooLarge {
            size: bytes.len() as u64,
        });
    }
    Ok(Content::Bytes(bytes))
}

/// A file name as text: as it is when it is UTF-8, otherwise read as Latin-1 (each byte the
/// character U+00XX), so that no two byte names collapse into the same U+FFFD text and the
/// name stays readable. The real `OsStr` is still what opens and moves the file.
pub fn file_name_text(name: &std::ffi::OsStr) -> String {
    use std::os::unix::ffi::OsStrExt;
    match name.to_str() {
        Some(s) => s.to_owned(),
        None => name.as_bytes().iter().map(|&b| char::from(b)).collect(),
    }
}

/// The path in `dir` of a file whose name was read by [`file_name_text`]: the UTF-8 name when
/// such an entry exists, otherwise the Latin-1 bytes the text came from (when it can have).
pub(crate) fn name_in(dir: &Path, name: &str) -> PathBuf {
    use std::os::unix::ffi::OsStrExt;
    let utf8 = dir.join(name);
    if name.is_ascii() || std::fs::symlink_metadata(&utf8).is_ok() {
        return utf8;
    }
    let latin1: Option<Vec<u8>> = name.chars().map(|c| u8::try_from(c).ok()).collect();
    match latin1 {
        Some(b) => dir.join(std::ffi::OsStr::from_bytes(&b)),
        None => utf8,
    }
}

fn folder_id(dir: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(dir)
        .ok()
        .filter(|m| m.is_dir())
        .map(|m| (m.dev(), m.ino()))
}

fn is_wake(ev: &notify::Result<notify::Event>) -> bool {
    matches!(ev, Ok(e) if e.kind == EventKind::Other && e.paths.is_empty())
}

/// `<stem>` of a file name: without its final extension.
pub(crate) fn stem(name: &str) -> &str {
    match name.rfind('.') {
        Some(i) if i > 0 => &name[..i],
        _ => name,
    }
}

/// The longest stem an ack name keeps, in bytes: `<stem>.<n>.ack.xml` then fits the 255 bytes
/// of a file name for any n below 100000.
pub(crate) const MAX_ACK_STEM_BYTES: usize = 240;

/// The longest name kept in an archive entry's name, in bytes (the entry adds a time and a
/// counter in front).
pub(crate) const MAX_ARCHIVE_NAME_BYTES: usize = 200;

/// The longest file name most file systems allow, in bytes.
const NAME_MAX: usize = 255;

/// A control character of a file name: U+0000–U+001F (tab included) and U+007F–U+009F.
fn is_name_control(c: char) -> bool {
    c == '\t' || crate::filing::codes::is_control(c)
}

/// `s` cut at a character boundary to at most `max` bytes.
fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The stem of an ack name (spec section 1): each control character (U+0000–U+001F, tab
/// included, and U+007F–U+009F) becomes `_`, and the
/// stem is cut at a character boundary to at most [`MAX_ACK_STEM_BYTES`].
pub(crate) fn ack_stem(file_name: &str) -> String {
    let safe: String = stem(file_name)
        .chars()
        .map(|c| if is_name_control(c) { '_' } else { c })
        .collect();
    cut(&safe, MAX_ACK_STEM_BYTES).to_owned()
}

/// The `n`th ack name of `file_name` (1-based): `<stem>.ack.xml`, `<stem>.2.ack.xml`, …
pub(crate) fn ack_file_name(file_name: &str, n: u64) -> String {
    let s = ack_stem(file_name);
    if n == 1 {
        format!("{s}.ack.xml")
    } else {
        format!("{s}.{n}.ack.xml")
    }
}

/// The file name part of an archive entry: control characters and `/` become `_`, cut at a
/// character boundary to at most [`MAX_ARCHIVE_NAME_BYTES`], so the entry always fits.
pub(crate) fn archive_file_name(name: &str) -> String {
    let safe: String = name
        .chars()
        .map(|c| {
            if c == '/' || is_name_control(c) {
                '_'
            } else {
                c
            }
        })
        .collect();
    cut(&safe, MAX_ARCHIVE_NAME_BYTES).to_owned()
}

/// The first free ack name for `file_name` in `outbox`: `<stem>.ack.xml`, `<stem>.2.ack.xml`, …
/// `reserved` holds names chosen in this batch but not yet written.
fn free_ack_name(outbox: &Path, file_name: &str, reserved: &HashSet<String>) -> String {
    let mut n = 1u64;
    loop {
        let name = ack_file_name(file_name, n);
        if !reserved.contains(&name) && std::fs::symlink_metadata(outbox.join(&name)).is_err() {
            return name;
        }
        n += 1;
    }
}

/// Where one delivery's answer goes, decided at once: its ack's name in the partner's outbox
/// and its input's entry in the archive (both stored in the receipt before either is made).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Placement {
    pub ack_name: String,
    /// Relative to the archive folder: `<day>/<sender>/<time>-<counter>-<name>`.
    pub archive: String,
}

/// Decides [`Placement`]s: an ack name free in the outbox and not taken earlier in the same
/// batch (whose acks are not written yet), an archive entry unique by time and a counter.
#[derive(Debug, Default)]
pub(crate) struct Placer {
    reserved: HashSet<String>,
    seq: u64,
}

impl Placer {
    /// A new batch: the names of the last one are written, or kept in the store for recovery.
    pub(crate) fn next_batch(&mut self) {
        self.reserved.clear();
    }

    /// A placement decided earlier (a delivery being finished) is taken in this batch too.
    pub(crate) fn keep(&mut self, p: &Placement) {
        self.reserved.insert(p.ack_name.clone());
    }

    /// The placement of a new delivery of `file_name` from `inbox`, received `now`.
    pub(crate) fn place(
        &mut self,
        inbox: &Inbox,
        file_name: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Placement {
        let ack_name = free_ack_name(&inbox.outbox, file_name, &self.reserved);
        self.reserved.insert(ack_name.clone());
        self.seq += 1;
        // Unique per delivery: time and a counter; the name is kept for people.
        let archive = format!(
            "{}/{}/{}-{:06}-{}",
            now.format("%Y-%m-%d"),
            inbox.partner,
            now.format("%H%M%S%3f"),
            self.seq % 1_000_000,
            archive_file_name(file_name)
        );
        Placement { ack_name, archive }
    }
}

/// The hidden temporary name an ack is staged under: `.<name>.tmp`, or, where that would not
/// fit a file name, `.<hash of name>.ack.tmp`. The same for the same name (recovery reuses
/// a leftover).
fn staging_name(name: &str) -> String {
    let plain = format!(".{name}.tmp");
    if plain.len() <= NAME_MAX {
        plain
    } else {
        format!(
            ".{}.ack.tmp",
            hex::encode(&Sha256::digest(name.as_bytes())[..16])
        )
    }
}

/// Write an ack atomically and durably: hidden temporary file, fsync, rename without
/// replacing, fsync the folder. An ack already there with the same bytes counts as written.
pub(crate) fn write_ack(outbox: &Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = stage_ack(outbox, name, bytes)?;
    std::fs::File::open(outbox.join(&tmp))?.sync_all()?;
    publish_ack(outbox, &tmp, name, bytes)?;
    sync_dir(outbox)
}

/// Write an ack's bytes under a hidden temporary name (not yet durable: see [`sync_data`]).
pub(crate) fn stage_ack(outbox: &Path, name: &str, bytes: &[u8]) -> std::io::Result<String> {
    // No pid in the name: after a crash, recovery rewrites the same ack and reuses the leftover.
    let tmp = staging_name(name);
    let open = || {
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(outbox.join(&tmp))
    };
    let mut f = match open() {
        // The partner's outbox folder was removed: the daemon owns it, so it is made anew.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(outbox)?;
            tracing::warn!(outbox = %sanitize(&outbox.display().to_string()), "the outbox folder vanished: made it anew");
            open()?
        }
        r => r?,
    };
    f.write_all(bytes)?;
    Ok(tmp)
}

/// Make every staged file on `dir`'s file system durable at once (one `syncfs` for a batch
/// instead of one `fsync` per file).
pub(crate) fn sync_data(dir: &Path) -> std::io::Result<()> {
    let d = std::fs::File::open(dir)?;
    rustix::fs::syncfs(&d)?;
    Ok(())
}

/// Give a staged ack its name, never replacing a file. The same bytes already under that name
/// count as published (recovery); different bytes are an error and are left alone.
pub(crate) fn publish_ack(
    outbox: &Path,
    tmp: &str,
    name: &str,
    bytes: &[u8],
) -> std::io::Result<()> {
    let dir = std::fs::File::open(outbox)?;
    match rustix::fs::renameat_with(&dir, tmp, &dir, name, rustix::fs::RenameFlags::NOREPLACE) {
        Ok(()) => Ok(()),
        Err(rustix::io::Errno::EXIST) => {
            let _ = std::fs::remove_file(outbox.join(tmp));
            if std::fs::read(outbox.join(name))? != bytes {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::AlreadyExists,
                    format!(
                        "{} already holds a different ack",
                        sanitize(&outbox.join(name).display().to_string())
                    ),
                ));
            }
            Ok(())
        }
        Err(e) => {
            let _ = std::fs::remove_file(outbox.join(tmp));
            Err(e.into())
        }
    }
}

/// Prepare a partner's claimed folder, the first of these on the inbox's file system (a claim
/// is a rename, so it must stay on one file system): `preferred` (`<data>/claimed/<ID>`);
/// `<parent of the inbox>/.aim-claimed/<ID>`, where the daemon may make it; else
/// [`CLAIMED_IN_INBOX`] inside the inbox. Each is a folder of the daemon's own, mode 0700.
pub(crate) fn claimed_folder(inbox: &Path, preferred: &Path) -> std::io::Result<PathBuf> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    std::fs::create_dir_all(preferred)?;
    std::fs::set_permissions(preferred, std::fs::Permissions::from_mode(0o700))?;
    if renames_between(inbox, preferred) {
        return std::fs::canonicalize(preferred);
    }
    let _ = std::fs::remove_dir(preferred);
    // Beside the inbox (`<parent>/.aim-claimed/<ID>`), where the daemon may write there: the
    // inbox root of the default layout. An SFTP chroot's root is not the daemon's.
    if let (Some(parent), Some(id)) = (inbox.parent(), preferred.file_name()) {
        let me = rustix::process::geteuid().as_raw();
        // Made now or before, a folder of the daemon's own (never a planted link).
        let ours = |p: &Path| {
            let _ = std::fs::create_dir(p);
            std::fs::symlink_metadata(p).is_ok_and(|m| m.is_dir() && m.uid() == me)
                && std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o700)).is_ok()
        };
        let beside = parent.join(CLAIMED_IN_INBOX);
        let dir = beside.join(id);
        if ours(&beside) && ours(&dir) && renames_between(inbox, &dir) {
            return std::fs::canonicalize(&dir);
        }
    }
    claimed_folder_in_inbox(inbox)
}

/// The start of the probe files' names (see [`renames_between`]).
const PROBE: &str = ".aim-claim-probe-";

/// Whether a file can be renamed from `a` to `b`: the same file system and the same mount (a
/// bind mount, such as each of systemd's `ReadWritePaths=`, refuses a rename across it with
/// `EXDEV` even on one disk). Tried with a hidden probe file, which intake ignores in an inbox
/// and a claimed folder alike. A kill between its steps leaves it behind: intake's scans
/// remove it (`remove_probe`).
fn renames_between(a: &Path, b: &Path) -> bool {
    let name = format!("{PROBE}{}", std::process::id());
    let (in_b, in_a) = (b.join(&name), a.join(&name));
    if std::fs::write(&in_b, b"").is_err() {
        return false;
    }
    let ok = std::fs::rename(&in_b, &in_a).is_ok();
    let _ = std::fs::remove_file(if ok { &in_a } else { &in_b });
    ok
}

/// Remove a probe file a killed run left behind, found by a scan (never a folder, never
/// followed). Probes are made only while intake is being set up, before any scan.
fn remove_probe(e: &std::fs::DirEntry) {
    if e.file_type().is_ok_and(|t| !t.is_dir()) && std::fs::remove_file(e.path()).is_ok() {
        tracing::info!(file = %sanitize(&e.path().display().to_string()), "removed a probe file an earlier run left behind");
    }
}

/// A probe file's name ([`renames_between`]): the daemon's own, never a filing.
fn is_probe(name: &str) -> bool {
    name.starts_with(PROBE)
}

/// [`CLAIMED_IN_INBOX`] of `inbox`, made (or checked) as the daemon's own, mode 0700.
fn claimed_folder_in_inbox(inbox: &Path) -> std::io::Result<PathBuf> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let inside = inbox.join(CLAIMED_IN_INBOX);
    let me = rustix::process::geteuid().as_raw();
    match std::fs::symlink_metadata(&inside) {
        Ok(m) if m.is_dir() && m.uid() == me => {}
        Ok(m) => {
            // Not the daemon's own folder (planted by someone with access to the inbox): put
            // aside, never used.
            let aside = inbox.join(format!(
                "{CLAIMED_IN_INBOX}.untrusted-{}",
                SystemTime::now()
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos())
            ));
            tracing::warn!(
                folder = %sanitize(&inside.display().to_string()),
                "the claimed folder is a {} not owned by the daemon: moved aside as {}",
                if m.is_dir() { "folder" } else { "file" },
                sanitize(&aside.display().to_string())
            );
            std::fs::rename(&inside, &aside)?;
            std::fs::create_dir(&inside)?;
        }
        Err(_) => std::fs::create_dir(&inside)?,
    }
    std::fs::set_permissions(&inside, std::fs::Permissions::from_mode(0o700))?;
    std::fs::canonicalize(&inside)
}

/// What claiming a file did.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Claim {
    /// Now at this path in the claimed folder.
    Claimed(PathBuf),
    /// Gone before it could be claimed (logged): nothing to answer.
    Vanished,
    /// The name is still taken in the claimed folder by a file being finished: this one is
    /// claimed once that one is archived.
    Busy,
}

/// Take a file out of the partner's reach before it is read: rename it from the inbox into
/// the partner's claimed folder (same file system, never replacing). From then on the
/// partner can neither swap nor remove it, and a file it puts under the same name in the
/// inbox is a new file.
pub(crate) fn claim(path: &Path, claimed: &Path) -> std::io::Result<Claim> {
    let (Some(name), Some(src_dir)) = (path.file_name(), path.parent()) else {
        return Ok(Claim::Vanished);
    };
    let from = std::fs::File::open(src_dir)?;
    let to = std::fs::File::open(claimed)?;
    match rustix::fs::renameat_with(&from, name, &to, name, rustix::fs::RenameFlags::NOREPLACE) {
        Ok(()) => Ok(Claim::Claimed(claimed.join(name))),
        Err(rustix::io::Errno::NOENT) => {
            tracing::info!(file = %sanitize(&path.display().to_string()), "the file vanished before it was claimed: nothing to answer");
            Ok(Claim::Vanished)
        }
        Err(rustix::io::Errno::EXIST) => Ok(Claim::Busy),
        Err(e) => Err(e.into()),
    }
}

/// fsync a folder, making the renames in it durable.
pub(crate) fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

/// Move a picked-up input (of any file type: it is never followed) into the archive, durably.
pub(crate) fn archive(src: &Path, archive_root: &Path, rel: &str) -> std::io::Result<()> {
    let dir = archive_move(src, archive_root, rel)?;
    sync_dir(&dir)?;
    if let Some(p) = src.parent() {
        let _ = sync_dir(p);
    }
    Ok(())
}

/// Move an input into the archive; returns the archive folder to sync. Across file systems:
/// copy (links stay links), make durable, then remove the original.
pub(crate) fn archive_move(src: &Path, archive_root: &Path, rel: &str) -> std::io::Result<PathBuf> {
    let mut dst = archive_root.join(rel);
    let dir = dst.parent().unwrap_or(archive_root).to_path_buf();
    std::fs::create_dir_all(&dir)?;
    // Never replace an archived input.
    let mut n = 1;
    while std::fs::symlink_metadata(&dst).is_ok() {
        dst = archive_root.join(format!("{rel}.{n}"));
        n += 1;
    }
    match std::fs::rename(src, &dst) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(rustix::io::Errno::XDEV.raw_os_error()) => {
            copy_tree(src, &dst)?;
            let meta = std::fs::symlink_metadata(src)?;
            if meta.is_dir() {
                std::fs::remove_dir_all(src)?;
            } else {
                std::fs::remove_file(src)?;
            }
        }
        Err(e) => return Err(e),
    }
    Ok(dir)
}

/// Copy without following links: files (fsynced), folders recursively, links as links; other
/// special files become empty placeholders (their content cannot be read without opening them).
fn copy_tree(src: &Path, dst: &Path) -> std::io::Result<()> {
    let meta = std::fs::symlink_metadata(src)?;
    let ft = meta.file_type();
    if ft.is_file() {
        std::fs::copy(src, dst)?;
        std::fs::File::open(dst)?.sync_all()?;
    } else if ft.is_symlink() {
        std::os::unix::fs::symlink(std::fs::read_link(src)?, dst)?;
    } else if ft.is_dir() {
        std::fs::create_dir_all(dst)?;
        for e in std::fs::read_dir(src)? {
            let e = e?;
            copy_tree(&e.path(), &dst.join(e.file_name()))?;
        }
        sync_dir(dst)?;
    } else {
        std::fs::write(dst, b"")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stems() {
        assert_eq!(stem("batch-42.xml"), "batch-42");
        assert_eq!(stem("a.b.xml"), "a.b");
        assert_eq!(stem("notes.txt"), "notes");
        assert_eq!(stem("noext"), "noext");
    }

    #[test]
    fn ack_names_replace_control_characters() {
        assert_eq!(
            ack_file_name("line\n\x1b[31mred.xml", 1),
            "line__[31mred.ack.xml"
        );
        assert_eq!(
            ack_file_name("a\tb\u{7f}c\u{85}d\u{9f}.xml", 2),
            "a_b_c_d_.2.ack.xml"
        );
        // Only the stem is kept, so a control character in the extension is gone with it.
        assert_eq!(ack_file_name("x.\x07ml", 1), "x.ack.xml");
        // Not control characters: kept as they are.
        assert_eq!(ack_file_name("café \u{a0}ü.xml", 1), "café \u{a0}ü.ack.xml");
    }

    #[test]
    fn ack_stems_are_cut_to_240_bytes_at_a_character_boundary() {
        // 1 + 2×125 = 251 bytes of stem: 240 would split an 'é', so 239 are kept.
        let name = format!("a{}.xml", "é".repeat(125));
        assert_eq!(name.len(), 255);
        let s = ack_stem(&name);
        assert_eq!(s, format!("a{}", "é".repeat(119)));
        assert_eq!(s.len(), 239);
        // ASCII: exactly 240 bytes.
        let s = ack_stem(&format!("{}.xml", "x".repeat(300)));
        assert_eq!(s.len(), MAX_ACK_STEM_BYTES);
        // A 4-byte character across the limit.
        let s = ack_stem(&format!("{}🦀🦀.xml", "y".repeat(238)));
        assert_eq!(s, "y".repeat(238));
        // Every ack name and its hidden staging name fit a file name.
        let long = format!("{}.xml", "z".repeat(251));
        for n in [1, 2, 10, 99_999] {
            let a = ack_file_name(&long, n);
            assert!(a.len() <= NAME_MAX, "{n}: {}", a.len());
            assert!(staging_name(&a).len() <= NAME_MAX, "{n}");
            assert!(staging_name(&a).starts_with('.'));
        }
        assert_ne!(
            staging_name(&ack_file_name(&long, 10)),
            staging_name(&ack_file_name(&long, 11))
        );
        assert_eq!(staging_name("x.ack.xml"), ".x.ack.xml.tmp");
    }

    #[test]
    fn long_ack_names_are_written_and_numbered() {
        let d = tempfile::tempdir().unwrap();
        let long = format!("{}.xml", "z".repeat(251));
        let mut r = HashSet::new();
        for n in 1..=11u64 {
            let a = free_ack_name(d.path(), &long, &r);
            assert_eq!(a, ack_file_name(&long, n));
            write_ack(d.path(), &a, b"ack").unwrap();
            r.insert(a);
        }
        // Nothing left behind under a staging name.
        let hidden = std::fs::read_dir(d.path())
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
            .count();
        assert_eq!(hidden, 0);
    }

    #[test]
    fn names_that_are_not_utf8_are_read_as_latin1() {
        use std::os::unix::ffi::OsStrExt;
        let raw = std::ffi::OsStr::from_bytes(b"caf\xe9-\x85.xml");
        let text = file_name_text(raw);
        assert_eq!(text, "café-\u{85}.xml");
        assert!(!text.contains('\u{FFFD}'));
        // U+0085 is a C1 control: `_` in the ack name.
        assert_eq!(ack_file_name(&text, 1), "café-_.ack.xml");
        // UTF-8 names are taken as they are.
        assert_eq!(file_name_text(std::ffi::OsStr::new("café.xml")), "café.xml");
        // Two byte names never collapse into one text.
        let other = file_name_text(std::ffi::OsStr::from_bytes(b"caf\xe8-\x85.xml"));
        assert_ne!(text, other);
        // Back from the text to the entry: the Latin-1 bytes, unless a UTF-8 entry exists.
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join(raw), b"x").unwrap();
        assert_eq!(name_in(d.path(), &text), d.path().join(raw));
        std::fs::write(d.path().join("é.xml"), b"y").unwrap();
        assert_eq!(name_in(d.path(), "é.xml"), d.path().join("é.xml"));
        assert_eq!(name_in(d.path(), "plain.xml"), d.path().join("plain.xml"));
    }

    #[test]
    fn archive_names_are_safe_and_short() {
        assert_eq!(archive_file_name("a/b\n\x1bc.xml"), "a_b__c.xml");
        let long = format!("{}.xml", "é".repeat(150));
        let a = archive_file_name(&long);
        assert!(a.len() <= MAX_ARCHIVE_NAME_BYTES);
        assert_eq!(a, "é".repeat(100));
        let a = archive_file_name(&format!("x{}", "é".repeat(150)));
        assert_eq!(a.len(), 199);
    }

    #[test]
    fn ack_names_never_collide() {
        let d = tempfile::tempdir().unwrap();
        let mut r = HashSet::new();
        let a = free_ack_name(d.path(), "x.xml", &r);
        assert_eq!(a, "x.ack.xml");
        write_ack(d.path(), &a, b"one").unwrap();
        let b = free_ack_name(d.path(), "x.xml", &r);
        assert_eq!(b, "x.2.ack.xml");
        r.insert(b.clone());
        assert_eq!(free_ack_name(d.path(), "x.xml", &r), "x.3.ack.xml");
        // Same bytes again: already written. Different bytes: refused, never overwritten.
        write_ack(d.path(), &a, b"one").unwrap();
        assert!(write_ack(d.path(), &a, b"two").is_err());
        assert_eq!(std::fs::read(d.path().join(&a)).unwrap(), b"one");
    }

    #[test]
    fn a_placement_decides_the_ack_and_the_archive_name_together() {
        use chrono::TimeZone;
        let d = tempfile::tempdir().unwrap();
        let inbox = Inbox {
            partner: "ACME".into(),
            dir: d.path().join("in"),
            outbox: d.path().to_path_buf(),
            emails: vec![],
            claimed: PathBuf::new(),
        };
        let at = chrono::Utc.with_ymd_and_hms(2026, 12, 1, 9, 30, 5).unwrap();
        let mut p = Placer::default();
        let a = p.place(&inbox, "x\n.xml", at);
        assert_eq!(a.ack_name, "x_.ack.xml");
        assert_eq!(a.archive, "2026-12-01/ACME/093005000-000001-x_.xml");
        // The same name again in the same batch: the next ack name, the next archive entry.
        let b = p.place(&inbox, "x\n.xml", at);
        assert_eq!(b.ack_name, "x_.2.ack.xml");
        assert_eq!(b.archive, "2026-12-01/ACME/093005000-000002-x_.xml");
        // A new batch: names not written are free again; a kept one stays taken.
        p.next_batch();
        p.keep(&b);
        assert_eq!(p.place(&inbox, "x\n.xml", at).ack_name, "x_.ack.xml");
        assert_eq!(p.place(&inbox, "x\n.xml", at).ack_name, "x_.3.ack.xml");
    }

    #[test]
    fn claimed_folders_and_claims() {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let d = tempfile::tempdir().unwrap();
        let inbox = d.path().join("inbox");
        std::fs::create_dir(&inbox).unwrap();
        // Same file system: outside the inbox, mode 0700.
        let c = claimed_folder(&inbox, &d.path().join("var/claimed/X")).unwrap();
        assert!(c.ends_with("var/claimed/X"));
        assert_eq!(std::fs::metadata(&c).unwrap().mode() & 0o777, 0o700);
        // The fallback inside the inbox: a planted link is moved aside, never followed.
        let elsewhere = d.path().join("elsewhere");
        std::fs::create_dir(&elsewhere).unwrap();
        std::os::unix::fs::symlink(&elsewhere, inbox.join(CLAIMED_IN_INBOX)).unwrap();
        let inside = claimed_folder_in_inbox(&inbox).unwrap();
        let m = std::fs::symlink_metadata(&inside).unwrap();
        assert!(m.is_dir() && m.permissions().mode() & 0o777 == 0o700);
        assert!(
            std::fs::read_dir(&inbox)
                .unwrap()
                .flatten()
                .any(|e| e.file_name().to_string_lossy().contains(".untrusted-"))
        );
        // A claim moves the entry; the name free again in the inbox is for a new file.
        std::fs::write(inbox.join("a.xml"), b"one").unwrap();
        let Claim::Claimed(p) = claim(&inbox.join("a.xml"), &c).unwrap() else {
            panic!("not claimed")
        };
        assert_eq!(std::fs::read(&p).unwrap(), b"one");
        assert!(!inbox.join("a.xml").exists());
        // A name still taken in the claimed folder: left in the inbox, nothing replaced.
        std::fs::write(inbox.join("a.xml"), b"two").unwrap();
        assert_eq!(claim(&inbox.join("a.xml"), &c).unwrap(), Claim::Busy);
        assert_eq!(std::fs::read(&p).unwrap(), b"one");
        assert_eq!(std::fs::read(inbox.join("a.xml")).unwrap(), b"two");
        // Gone before it was claimed: nothing to do.
        assert_eq!(claim(&inbox.join("gone.xml"), &c).unwrap(), Claim::Vanished);
    }

    #[test]
    fn nothing_past_the_limit_is_read_of_a_file_that_grows() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("grow.xml");
        std::fs::write(&p, vec![b'a'; 100]).unwrap();
        let Ok((file, size)) = open_entry(&p).unwrap() else {
            panic!("a regular file")
        };
        assert_eq!(size, 100);
        // It grows (sparse, 1 GiB) after fstat and before the read.
        std::fs::OpenOptions::new()
            .write(true)
            .open(&p)
            .unwrap()
            .set_len(1 << 30)
            .unwrap();
        assert!(matches!(
            read_open(file, size, 200).unwrap(),
            Content::TooLarge { size: 201 }
        ));
    }

    #[test]
    fn symlinks_and_fifos_are_not_read() {
        let d = tempfile::tempdir().unwrap();
        let target = d.path().join("secret");
        std::fs::write(&target, b"x").unwrap();
        let link = d.path().join("link.xml");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(matches!(
            read_file(&link, 100).unwrap(),
            Content::NotRegular {
                kind: "symbolic link"
            }
        ));
        let fifo = d.path().join("pipe.xml");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &fifo,
            FileType::Fifo,
            Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        assert!(matches!(
            read_file(&fifo, 100).unwrap(),
            Content::NotRegular { kind: "FIFO" }
        ));
        let big = d.path().join("big.xml");
        std::fs::write(&big, vec![b'a'; 200]).unwrap();
        assert!(matches!(
            read_file(&big, 100).unwrap(),
            Content::TooLarge { size: 200 }
        ));
    }
}
