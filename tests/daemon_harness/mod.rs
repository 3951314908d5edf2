//! The real `aim` binary run as a daemon in a temporary folder, for the end-to-end tests
//! (`tests/daemon.rs`, `tests/crash.rs`): configuration, a guard that kills the daemon on drop,
//! atomic drops into an inbox, bounded polling for acks, and readers for acks and the archive.
//!
//! Needs `mod common;` beside it in the test crate (for the strict XML reader and the ack
//! summary, which `Ack`, `AckApp` and `parse_ack` here name).
#![allow(dead_code)]

use crate::common::{AckAppSummary, AckSummary, Elem, parse_xml, read_ack, samples_dir};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

pub const ACME: &str = "ACMEBRK";
pub const OTHER: &str = "OTHERBRK";
pub const SETTLE_MS: u64 = 200;
pub const RESCAN_SECS: u64 = 2;
/// The bound on waiting for an ordinary ack.
pub const WAIT: Duration = Duration::from_secs(30);

/// The path of the `aim` binary built for these tests.
pub fn aim_bin() -> &'static str {
    env!("CARGO_BIN_EXE_aim")
}

/// A temporary installation: config, inbox, outbox and data folder.
pub struct Env {
    pub dir: tempfile::TempDir,
    pub inbox: PathBuf,
    pub outbox: PathBuf,
    pub data: PathBuf,
    pub config: PathBuf,
    starts: std::cell::Cell<usize>,
}

impl Env {
    pub fn new() -> Env {
        let dir = tempfile::Builder::new()
            .prefix("aim-e2e-")
            .tempdir()
            .expect("temporary folder");
        let root = dir.path().to_path_buf();
        let (inbox, outbox, data) = (root.join("inbox"), root.join("outbox"), root.join("var"));
        let config = root.join("aim.toml");
        let text = format!(
            r#"inbox = "{}"
outbox = "{}"
data = "{}"
[intake]
settle_ms = {SETTLE_MS}
rescan_secs = {RESCAN_SECS}
[[partner]]
id = "{ACME}"
name = "Acme"
emails = ["filings@acme.example"]
[[partner]]
id = "{OTHER}"
name = "Other"
emails = ["x@other.example"]
"#,
            inbox.display(),
            outbox.display(),
            data.display()
        );
        fs::write(&config, text).expect("write config");
        Env {
            dir,
            inbox,
            outbox,
            data,
            config,
            starts: std::cell::Cell::new(0),
        }
    }

    pub fn inbox_of(&self, partner: &str) -> PathBuf {
        self.inbox.join(partner)
    }

    pub fn outbox_of(&self, partner: &str) -> PathBuf {
        self.outbox.join(partner)
    }

    pub fn archive(&self) -> PathBuf {
        self.data.join("archive")
    }

    /// Start `aim daemon` (stderr kept in a file of the temporary folder).
    pub fn start(&self) -> Daemon {
        self.start_with(|_| {})
    }

    /// [`Env::start`] with these variables added to the daemon's environment.
    pub fn start_with_env(&self, vars: &[(&str, &std::ffi::OsStr)]) -> Daemon {
        self.start_with(|c| {
            c.envs(vars.iter().copied());
        })
    }

    /// Start `aim daemon` with `adjust` applied to its command first (environment, a wrapper).
    pub fn start_with(&self, adjust: impl FnOnce(&mut Command)) -> Daemon {
        let n = self.starts.get() + 1;
        self.starts.set(n);
        let stderr_path = self.dir.path().join(format!("daemon-{n}.stderr"));
        let stderr = fs::File::create(&stderr_path).expect("stderr file");
        let mut cmd = Command::new(aim_bin());
        cmd.arg("daemon")
            .arg("--config")
            .arg(&self.config)
            .current_dir(self.dir.path())
            .env("NO_COLOR", "1")
            .env_remove("AIM_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr);
        adjust(&mut cmd);
        let child = cmd.spawn().expect("start aim daemon");
        Daemon {
            child: Some(child),
            stderr_path,
            started: Instant::now(),
        }
    }

    /// Start the daemon and wait until it watches its inboxes.
    pub fn start_ready(&self) -> Daemon {
        let mut d = self.start();
        d.wait_ready();
        d
    }
}

/// A running daemon; killed (SIGKILL) and reaped when dropped.
pub struct Daemon {
    child: Option<Child>,
    pub stderr_path: PathBuf,
    pub started: Instant,
}

impl Daemon {
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("daemon running").id()
    }

    pub fn stderr(&self) -> String {
        fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    fn stderr_tail(&self) -> String {
        let s = self.stderr();
        let lines: Vec<&str> = s.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// Panics (with the daemon's stderr) when the daemon has exited.
    pub fn assert_alive(&mut self) {
        let child = self.child.as_mut().expect("daemon running");
        if let Some(st) = child.try_wait().expect("try_wait") {
            self.child = None;
            panic!(
                "the daemon exited unexpectedly ({st}); its stderr:\n{}\n{}",
                self.stderr_tail(),
                self.disk_space()
            );
        }
    }

    /// `df` of the test's folder: a daemon that ended on "No space left" says whose disk filled.
    fn disk_space(&self) -> String {
        let dir = self.stderr_path.parent().unwrap_or(Path::new("/"));
        Command::new("df")
            .args(["-h", "--output=source,size,avail,target"])
            .arg(dir)
            .output()
            .map(|o| {
                format!(
                    "free space where the test writes:\n{}",
                    String::from_utf8_lossy(&o.stdout)
                )
            })
            .unwrap_or_default()
    }

    /// Poll `f` every 25 ms until it gives a value, for at most `timeout`; the daemon must stay
    /// up meanwhile. Panics with `what` and the daemon's stderr on timeout.
    pub fn wait_for<T>(
        &mut self,
        what: &str,
        timeout: Duration,
        mut f: impl FnMut() -> Option<T>,
    ) -> T {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(v) = f() {
                return v;
            }
            self.assert_alive();
            if Instant::now() >= deadline {
                panic!(
                    "timed out after {timeout:?} waiting for {what}; daemon stderr:\n{}",
                    self.stderr_tail()
                );
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// Wait until the daemon logs that intake started (its watcher is set up, the lock held).
    pub fn wait_ready(&mut self) {
        let p = self.stderr_path.clone();
        self.wait_for("the daemon to start its intake", WAIT, || {
            fs::read_to_string(&p)
                .ok()
                .filter(|s| s.contains("intake started"))
                .map(|_| ())
        });
    }

    /// Wait for the ack `name` in `outbox` and return its bytes.
    pub fn wait_ack(&mut self, outbox: &Path, name: &str) -> Vec<u8> {
        let p = outbox.join(name);
        self.wait_for(&format!("ack {}", p.display()), WAIT, || fs::read(&p).ok())
    }

    /// Wait until `path` no longer exists (not even as a dangling link).
    pub fn wait_gone(&mut self, path: &Path) {
        self.wait_for(
            &format!("{} to leave the inbox", path.display()),
            WAIT,
            || fs::symlink_metadata(path).is_err().then_some(()),
        );
    }

    pub fn signal(&self, sig: rustix::process::Signal) {
        let pid = rustix::process::Pid::from_child(self.child.as_ref().expect("daemon running"));
        rustix::process::kill_process(pid, sig).expect("send a signal to the daemon");
    }

    /// SIGKILL and reap.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Wait (bounded) for the daemon to exit by itself.
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        let child = self.child.as_mut().expect("daemon running");
        loop {
            if let Some(st) = child.try_wait().expect("try_wait") {
                self.child = None;
                return st;
            }
            if Instant::now() >= deadline {
                let tail = self.stderr_tail();
                self.kill();
                panic!("the daemon did not exit within {timeout:?}; stderr:\n{tail}");
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Write `bytes` as `dir/name` atomically: a hidden temporary name, then a rename.
pub fn drop_file(dir: &Path, name: &str, bytes: impl AsRef<[u8]>) {
    fs::create_dir_all(dir).expect("create inbox folder");
    let tmp = dir.join(format!(".{name}.tmp"));
    fs::write(&tmp, bytes).expect("write temporary file");
    fs::rename(&tmp, dir.join(name)).expect("rename into place");
}

/// `<stem>` of a file name, as the ack name is built from it.
pub fn stem(name: &str) -> &str {
    match name.rfind('.') {
        Some(i) if i > 0 => &name[..i],
        _ => name,
    }
}

/// `<stem>.ack.xml`
pub fn ack_name(file: &str) -> String {
    format!("{}.ack.xml", stem(file))
}

/// Days between the samples' filing day and today (UTC).
pub fn day_shift() -> i64 {
    let filing: chrono::NaiveDate = "2026-11-28".parse().expect("date");
    (chrono::Utc::now().date_naive() - filing).num_days()
}

/// Shift every valid `YYYY-MM-DD` (not part of a longer run of digits) by `days`; invalid
/// dates such as 2026-02-30 stay as they are. Works on bytes: non-UTF-8 samples survive.
pub fn shift_dates(bytes: &[u8], days: i64) -> Vec<u8> {
    let is_digit = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_digit());
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if i + 10 <= bytes.len() {
            let w = &bytes[i..i + 10];
            let shape = w.iter().enumerate().all(|(k, b)| {
                if k == 4 || k == 7 {
                    *b == b'-'
                } else {
                    b.is_ascii_digit()
                }
            });
            let bounded = (i == 0 || !is_digit(bytes.get(i - 1))) && !is_digit(bytes.get(i + 10));
            if shape && bounded {
                let s = std::str::from_utf8(w).expect("ASCII");
                if let Ok(d) = s.parse::<chrono::NaiveDate>() {
                    let shifted = d + chrono::Duration::days(days);
                    out.extend_from_slice(shifted.format("%Y-%m-%d").to_string().as_bytes());
                    i += 10;
                    continue;
                }
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

/// A sample file's bytes with its dates moved to today.
pub fn sample(rel: &str) -> Vec<u8> {
    let p = samples_dir().join(rel);
    let bytes = fs::read(&p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()));
    shift_dates(&bytes, day_shift())
}

/// valid-single.xml (dates moved to today) as text.
pub fn valid_single() -> String {
    String::from_utf8(sample("ACMEBRK/valid-single.xml")).expect("UTF-8 sample")
}

/// Replace the text of the first `<tag>…</tag>`.
pub fn replace_elem(xml: &str, tag: &str, value: &str) -> String {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let a = xml
        .find(&open)
        .unwrap_or_else(|| panic!("no <{tag}> in the template"))
        + open.len();
    let b = a + xml[a..].find(&close).expect("closing tag");
    format!("{}{value}{}", &xml[..a], &xml[b..])
}

/// valid-single.xml with another control number.
pub fn valid_with_control(control: &str) -> String {
    replace_elem(&valid_single(), "ControlNumber", control)
}

/// The `new` application of valid-single.xml (with its indentation and final line break),
/// given the id `id`.
pub fn new_app(id: &str) -> String {
    let t = valid_single();
    let a = t.find("  <Application ").expect("application");
    let end = "</Application>\n";
    let b = a + t[a..].find(end).expect("end of application") + end.len();
    t[a..b].replacen(
        r#"<Application id="A1" action="new">"#,
        &format!(r#"<Application id="{id}" action="new">"#),
        1,
    )
}

/// A correction of `license`: the full replacement data, with another importer.
pub fn correct_app(id: &str, license: &str, importer: &str) -> String {
    let app = new_app(id).replacen(
        r#"action="new">"#,
        &format!(r#"action="correct" license="{license}">"#),
        1,
    );
    replace_elem(&app, "Importer", importer)
}

pub fn cancel_app(id: &str, license: &str) -> String {
    format!(
        "  <Application id=\"{id}\" action=\"cancel\" license=\"{license}\">\n    <Reason>Shipment cancelled by importer</Reason>\n  </Application>\n"
    )
}

/// A whole filing of `sender` with `control` holding `apps`.
pub fn filing(sender: &str, control: &str, apps: &[String]) -> String {
    let t = valid_single();
    let head = &t[..t.find("  <Application ").expect("application")];
    let head = replace_elem(head, "SenderId", sender);
    let head = replace_elem(&head, "ControlNumber", control);
    format!("{head}{}</LicenseFiling>\n", apps.concat())
}

/// Check digit of a license number over the 11 digits `YYYYNNNNNNN` (spec section 2).
pub fn license_check(year: u16, seq: u32) -> u8 {
    let digits = format!("{year:04}{seq:07}");
    let sum: u32 = digits
        .bytes()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 0 {
                d
            } else if d * 2 > 9 {
                d * 2 - 9
            } else {
                d * 2
            }
        })
        .sum();
    ((10 - sum % 10) % 10) as u8
}

pub fn license_number(year: u16, seq: u32) -> String {
    format!("AIM-{year:04}-{seq:07}-{}", license_check(year, seq))
}

/// One application of an ack: the shared summary of `tests/common`.
pub type AckApp = AckAppSummary;

/// An ack, read strictly: the shared summary of `tests/common`.
pub type Ack = AckSummary;

/// Read an ack strictly (the shared reader of `tests/common`).
pub fn parse_ack(bytes: &[u8]) -> Ack {
    read_ack(bytes)
}

/// Any text-bearing parse of an ack, for ad-hoc checks.
pub fn ack_root(bytes: &[u8]) -> Elem {
    parse_xml(bytes).expect("ack is XML")
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Visible regular files of a folder (name → bytes); a missing folder is empty.
pub fn visible_files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let Ok(rd) = fs::read_dir(dir) else {
        return out;
    };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        if e.file_type().is_ok_and(|t| t.is_file())
            && let Ok(b) = fs::read(e.path())
        {
            out.insert(name, b);
        }
    }
    out
}

/// Every entry name of a folder (hidden ones too); a missing folder is empty.
pub fn entry_names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// All regular files under `dir`, recursively (never following links): path → bytes.
pub fn tree_files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(rd) = fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            let Ok(meta) = fs::symlink_metadata(e.path()) else {
                continue;
            };
            if meta.is_dir() {
                todo.push(e.path());
            } else if meta.is_file()
                && let Ok(b) = fs::read(e.path())
            {
                out.push((e.path(), b));
            }
        }
    }
    out
}

/// How many regular files under the archive hold each SHA-256.
pub fn archived(env: &Env) -> HashMap<String, usize> {
    let mut m = HashMap::new();
    for (_, b) in tree_files(&env.archive()) {
        *m.entry(sha256_hex(&b)).or_insert(0) += 1;
    }
    m
}

impl Env {
    /// Add tables (`[[staff]]`, `[review]`) at the end of the configuration.
    pub fn append_config(&self, text: &str) {
        let mut c = fs::read_to_string(&self.config).expect("read config");
        c.push('\n');
        c.push_str(text);
        fs::write(&self.config, c).expect("write config");
    }

    /// Add top-level keys (`staff_group = …`) at the start of the configuration.
    pub fn prepend_config(&self, text: &str) {
        let c = fs::read_to_string(&self.config).expect("read config");
        fs::write(&self.config, format!("{text}\n{c}")).expect("write config");
    }

    /// Run `aim ARGS --config <this config>` to its end.
    pub fn aim(&self, args: &[&str]) -> std::process::Output {
        Command::new(aim_bin())
            .args(args)
            .arg("--config")
            .arg(&self.config)
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .output()
            .expect("run aim")
    }

    /// The `.eml` files the file mail transport wrote, as text.
    pub fn mails(&self) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(self.data.join("mail"))
            .map(|rd| {
                rd.flatten()
                    .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
                    .filter_map(|e| fs::read_to_string(e.path()).ok())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }
}

/// Text of a command's stdout and stderr, for assertions and messages.
pub fn out_text(o: &std::process::Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// The Unix user the tests run as.
pub fn current_user() -> String {
    nix::unistd::User::from_uid(nix::unistd::Uid::effective())
        .ok()
        .flatten()
        .map(|u| u.name)
        .expect("the test user has a name")
}

/// A `--json` command's stdout as JSON (panics with both outputs when it is not).
pub fn json_of(o: &std::process::Output) -> serde_json::Value {
    let (out, err) = out_text(o);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}\nstderr: {err}"))
}

impl Env {
    /// Put the test user on the staff list with `role`.
    pub fn add_staff(&self, role: &str) {
        self.append_config(&format!(
            "[[staff]]\nuser = \"{}\"\nrole = \"{role}\"\n",
            current_user()
        ));
    }
}

/// Whether the tests run as root (tmpfs mounts need it).
pub fn is_root() -> bool {
    nix::unistd::Uid::effective().is_root()
}

/// A small tmpfs mounted over a folder, unmounted (lazily) on drop.
pub struct Tmpfs(pub PathBuf);

impl Tmpfs {
    pub fn mount(at: &Path, size: &str) -> Tmpfs {
        fs::create_dir_all(at).unwrap();
        let st = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .status()
            .expect("mount");
        assert!(st.success(), "mount a tmpfs at {}", at.display());
        Tmpfs(at.to_path_buf())
    }

    /// Grow (or shrink) it in place, under whoever uses it.
    pub fn resize(&self, size: &str) {
        let st = Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.0)
            .status()
            .expect("mount -o remount");
        assert!(
            st.success(),
            "remount {} with size {size}",
            self.0.display()
        );
    }

    /// Fill it up, leaving about `leave_kib` KiB (a filler file of its own each time: filling
    /// again adds to what the earlier fillers took).
    pub fn fill(&self, leave_kib: u64) -> PathBuf {
        let s = rustix::fs::statvfs(&self.0).unwrap();
        let free_kib = s.f_bavail * s.f_frsize / 1024;
        let filler = (0..)
            .map(|i| self.0.join(format!("filler-{i}")))
            .find(|p| !p.exists())
            .expect("a free filler name");
        let mut f = fs::File::create(&filler).unwrap();
        let chunk = vec![0u8; 1024];
        for _ in 0..free_kib.saturating_sub(leave_kib) {
            if std::io::Write::write_all(&mut f, &chunk).is_err() {
                break;
            }
        }
        filler
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// `aim gen` for ACME: `count` files of `apps` applications into `into`.
pub fn generate(env: &Env, count: usize, apps: usize, seed: u64, into: &Path) {
    let o = Command::new(aim_bin())
        .args(["gen", "--sender", ACME, "--count"])
        .arg(count.to_string())
        .arg("--apps-per-file")
        .arg(apps.to_string())
        .arg("--seed")
        .arg(seed.to_string())
        .arg("--out")
        .arg(into)
        .current_dir(env.dir.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// The first acks (`*.ack.xml`) in `dir`, sorted.
pub fn acks(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".ack.xml"))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}
