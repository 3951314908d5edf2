//! The console in a real terminal (tmux) against a running `aim daemon`: filings arrive live,
//! one license is searched, opened and cancelled by a supervisor; a viewer is refused (and the
//! refusal is in `aim audit`); the console says it lost the daemon while it restarts, and
//! comes back by itself.
#![allow(
    clippy::unwrap_used,
    clippy::too_many_lines,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)] // Test code: a panic is the failure report, a scenario reads top to bottom.

mod common;
mod daemon_harness;

use common::read_ack;
use daemon_harness::*;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::process::Command;
use std::time::{Duration, Instant};

struct Tmux {
    socket: String,
}

impl Tmux {
    fn start(cmd: &str, size: (u16, u16)) -> Tmux {
        let t = Tmux {
            socket: format!("aim-console-{}-{}", std::process::id(), rand_suffix()),
        };
        t.run(&[
            "new-session",
            "-d",
            "-s",
            "aim",
            "-x",
            &size.0.to_string(),
            "-y",
            &size.1.to_string(),
            cmd,
        ]);
        t
    }

    fn run(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.socket])
            .args(args)
            .output()
            .expect("tmux must be installed (apt-get install tmux)");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn keys(&self, keys: &[&str]) {
        for k in keys {
            self.run(&["send-keys", "-t", "aim", k]);
            std::thread::sleep(Duration::from_millis(60));
        }
    }

    /// Type text literally.
    fn text(&self, s: &str) {
        self.run(&["send-keys", "-t", "aim", "-l", s]);
        std::thread::sleep(Duration::from_millis(200));
    }

    fn screen(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", "aim"])
    }

    fn wait_for(&self, what: &str, cond: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let s = self.screen();
            if cond(&s) {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; screen:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        self.run(&["kill-server"]);
    }
}

fn rand_suffix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() as u64)
        .unwrap_or(0)
}

fn with_staff(env: &Env, role: &str) {
    let mut c = std::fs::read_to_string(&env.config).unwrap();
    c.push_str(&format!("[[staff]]\nuser = \"root\"\nrole = \"{role}\"\n"));
    std::fs::write(&env.config, c).unwrap();
}

fn gen_into(env: &Env, count: &str) {
    gen_files(env, count, "2");
}

/// `aim gen` of `count` files of `apps` applications for ACME, straight into its inbox.
fn gen_files(env: &Env, count: &str, apps: &str) {
    let ok = Command::new(aim_bin())
        .args([
            "gen",
            "--sender",
            ACME,
            "--count",
            count,
            "--apps-per-file",
            apps,
            "--seed",
            "1",
            "--out",
        ])
        .arg(env.inbox_of(ACME))
        .status()
        .unwrap();
    assert!(ok.success());
}

/// The first license number in the outbox's acks.
fn a_license(d: &mut Daemon, env: &Env) -> String {
    d.wait_for("a license in an ack", WAIT, || {
        for e in std::fs::read_dir(env.outbox_of(ACME)).ok()?.flatten() {
            let s = std::fs::read_to_string(e.path()).ok()?;
            if let Some(i) = s.find("<LicenseNumber>") {
                return Some(s[i + 15..i + 15 + 18].to_owned());
            }
        }
        None
    })
}

fn console(env: &Env, size: (u16, u16)) -> Tmux {
    console_in_zone(env, size, "UTC")
}

/// The console with `TZ=zone` (a POSIX zone such as `XXX-1` needs no time zone database).
fn console_in_zone(env: &Env, size: (u16, u16), zone: &str) -> Tmux {
    Tmux::start(
        &format!(
            "cd {} && TZ={zone} {} console --config {}; echo EXIT=$?; sleep 30",
            env.dir.path().display(),
            aim_bin(),
            env.config.display()
        ),
        size,
    )
}

/// A decimal with its thousands grouped, as the console shows amounts.
fn grouped(s: &str) -> String {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    let mut out = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if frac.is_empty() {
        out
    } else {
        format!("{out}.{frac}")
    }
}

/// The screen's line that holds `what`.
fn line_with<'a>(screen: &'a str, what: &str) -> &'a str {
    screen.lines().find(|l| l.contains(what)).unwrap_or("")
}

/// The list's row of license `lic` (not the search box that names it).
fn row_of<'a>(screen: &'a str, lic: &str) -> &'a str {
    screen
        .lines()
        .find(|l| l.contains(lic) && l.contains(ACME))
        .unwrap_or("")
}

#[test]
fn a_supervisor_sees_filings_live_searches_opens_and_cancels() {
    let env = Env::new();
    with_staff(&env, "supervisor");
    let mut d = env.start_ready();
    // A plain 80×24 terminal.
    let t = console(&env, (80, 24));
    t.wait_for("the connection", |s| {
        s.contains("daemon connected") && s.contains("root (supervisor)")
    });
    gen_into(&env, "3");
    // Names cut in the middle keep their end: the three files of the batch differ.
    t.wait_for("the filings, live", |s| {
        ["1-000001.xml", "1-000002.xml", "1-000003.xml"]
            .iter()
            .all(|n| s.matches(n).count() == 1)
    });
    let lic = a_license(&mut d, &env);
    let show = Command::new(aim_bin())
        .args(["license", "show", "--json", "--config"])
        .arg(&env.config)
        .arg(&lic)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&show.stdout).unwrap();
    let value = grouped(v["total_value_usd"].as_str().unwrap());
    t.keys(&["/"]);
    t.text(&lic);
    t.keys(&["Enter"]);
    // The whole license number and the whole value, grouped, in its row.
    let s = t.wait_for("the one license", |s| {
        s.contains("row 1 of 1") && row_of(s, &lic).contains(&value)
    });
    assert!(row_of(&s, &lic).contains("issued"), "{s}");
    t.keys(&["Enter"]);
    t.wait_for("its detail", |s| {
        s.contains(&format!("License {lic}")) && line_with(s, "status").contains("issued")
    });
    t.keys(&["c"]);
    t.text("entered twice by mistake");
    t.keys(&["Enter", "y"]);
    t.wait_for("the outcome", |s| {
        s.contains(&format!("License {lic} is cancelled"))
    });
    let show = Command::new(aim_bin())
        .args(["license", "show", "--json", "--config"])
        .arg(&env.config)
        .arg(&lic)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&show.stdout).unwrap();
    assert_eq!(v["status"], "cancelled", "{v}");
    // Any key closes the outcome; Esc goes back to the list, whose row says cancelled
    // without a new search.
    t.keys(&["Escape"]);
    t.wait_for("the detail, read again", |s| {
        line_with(s, "status").contains("cancelled")
    });
    t.keys(&["Escape"]);
    t.wait_for("the row, cancelled", |s| {
        s.contains("row 1 of 1") && row_of(s, &lic).contains("cancelled")
    });
    // The list to a CSV file: the console says where; the file holds the search's rows.
    t.keys(&["Escape"]);
    t.wait_for("every license listed", |s| s.contains("row 1 of 6"));
    t.keys(&["e"]);
    t.wait_for("the export's path", |s| s.contains("exported 6 rows to "));
    let csv = std::fs::read_dir(env.dir.path())
        .unwrap()
        .flatten()
        .find(|e| e.file_name().to_string_lossy().starts_with("aim-licenses-"))
        .expect("the CSV file in the console's folder");
    let text = std::fs::read_to_string(csv.path()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 7, "{text}");
    assert!(
        lines[0].starts_with("license,status,sender,importer"),
        "{text}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with(&format!("{lic},cancelled,{ACME},"))),
        "{text}"
    );
    t.keys(&["q"]);
    t.wait_for("a clean exit", |s| s.contains("EXIT=0"));
}

#[test]
fn a_viewer_is_refused_and_the_console_outlives_a_daemon_restart() {
    let env = Env::new();
    with_staff(&env, "viewer");
    let mut d = env.start_ready();
    gen_into(&env, "1");
    let lic = a_license(&mut d, &env);
    let t = console_in_zone(&env, (160, 45), "XXX-1");
    t.wait_for("the connection", |s| s.contains("root (viewer)"));
    // Times in the staff member's zone, labelled; t for UTC.
    t.wait_for("local times", |s| s.contains("times local UTC+01:00"));
    t.keys(&["t"]);
    t.wait_for("UTC times", |s| s.contains("times UTC"));
    t.keys(&["/"]);
    t.text(&lic);
    t.keys(&["Enter"]);
    t.wait_for("the license", |s| s.contains("row 1 of 1"));
    t.keys(&["c"]);
    t.wait_for("the disabled note", |s| {
        s.contains("the daemon will refuse it")
    });
    t.text("not mine to cancel");
    t.keys(&["Enter", "y"]);
    t.wait_for("the refusal", |s| {
        s.contains("Refused") && s.contains("viewer")
    });
    let audit = Command::new(aim_bin())
        .args(["audit", "--json", "--config"])
        .arg(&env.config)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&audit.stdout).unwrap();
    let refused =
        v.as_array().unwrap().iter().any(|e| {
            e["outcome"] == "refused" && e["actor"] == "root" && e["subject"] == lic.as_str()
        });
    assert!(refused, "{v}");
    t.keys(&["Escape"]);
    drop(d);
    t.wait_for("the lost daemon", |s| s.contains("lost the daemon"));
    let _d = env.start_ready();
    t.wait_for("the reconnection", |s| s.contains("daemon connected"));
    t.keys(&["q"]);
    t.wait_for("a clean exit", |s| s.contains("EXIT=0"));
}

/// Started before its daemon, the console says why it is not connected (not only that it is
/// connecting), keeps trying, and connects when the daemon comes.
#[test]
fn the_console_says_why_it_waits_for_its_daemon_and_connects_when_it_comes() {
    let env = Env::new();
    with_staff(&env, "viewer");
    let t = console(&env, (80, 24));
    t.wait_for("the reason", |s| {
        s.contains("✖ no aim daemon is running on")
    });
    let _d = env.start_ready();
    let s = t.wait_for("the connection", |s| s.contains("daemon connected"));
    assert!(!s.contains("no aim daemon is running"), "{s}");
    t.keys(&["q"]);
    t.wait_for("a clean exit", |s| s.contains("EXIT=0"));
}

/// One request on the control socket, as the console makes it: the answer's `ok.data`.
fn ask(env: &Env, request: serde_json::Value) -> serde_json::Value {
    let mut s = UnixStream::connect(env.data.join("aim.sock")).expect("connect to the socket");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut line = serde_json::json!({"v": 1, "id": 1});
    for (k, v) in request.as_object().unwrap() {
        line[k] = v.clone();
    }
    writeln!(s, "{line}").unwrap();
    let mut answer = String::new();
    BufReader::new(s).read_line(&mut answer).unwrap();
    let v: serde_json::Value = serde_json::from_str(&answer).unwrap();
    assert!(v["error"].is_null(), "{v}");
    v["ok"]["data"].clone()
}

/// A file whose A1 is issued and whose A2 is held (cast in CN, on the watch list), with the
/// control number `001000007`: after A1's cancellation and A2's rejection the file reads as
/// it stands (not as the first ack answered it), and the held handle shows the control number
/// as filed while a handle typed with the plain number (spec section 9) or as filed decides.
#[test]
fn a_file_reads_as_it_stands_and_handles_show_the_control_number_as_filed() {
    let env = Env::new();
    env.append_config(&format!(
        "[review]\nwatch_countries = [\"CN\"]\n[[staff]]\nuser = \"{}\"\nrole = \"supervisor\"\n",
        current_user()
    ));
    let mut d = env.start_ready();
    let a2 = replace_elem(&new_app("A2"), "MostRecentCast", "CN");
    let bytes = filing(ACME, "001000007", &[new_app("A1"), a2]);
    drop_file(&env.inbox_of(ACME), "two.xml", &bytes);
    let ack = read_ack(&d.wait_ack(&env.outbox_of(ACME), "two.ack.xml"));
    assert_eq!(ack.apps[1].status, "pending-review", "{:?}", ack.apps);
    let lic = ack.apps[0].license.clone().expect("A1 issued");

    let held = json_of(&env.aim(&["review", "list", "--json"]));
    assert_eq!(held[0]["handle"], format!("{ACME}:1000007:A2"));
    assert_eq!(held[0]["handle_as_filed"], format!("{ACME}:001000007:A2"));

    let o = env.aim(&["license", "cancel", &lic, "--reason", "entered twice"]);
    assert!(o.status.success(), "{:?}", out_text(&o));
    let as_filed = format!("{ACME}:001000007:A2");
    let o = env.aim(&["review", "reject", &as_filed, "--reason", "not ours"]);
    assert!(o.status.success(), "{:?}", out_text(&o));

    let r = ask(
        &env,
        serde_json::json!({"op": "receipt", "sender": ACME, "sha256": sha256_hex(bytes.as_bytes())}),
    );
    assert_eq!(r["control_text"], "001000007", "{r}");
    let apps = r["applications"].as_array().unwrap();
    assert_eq!(
        (&apps[0]["id"], &apps[0]["status"]),
        (&"A1".into(), &"cancelled".into()),
        "{r}"
    );
    assert_eq!(
        (&apps[1]["id"], &apps[1]["status"]),
        (&"A2".into(), &"rejected".into()),
        "{r}"
    );
}

/// One definition of a rejected file (docs/format.md): its ack says rejected, by a file-level
/// error or because every application was rejected. `aim status` and the console's
/// Rejections screen count the same files; the mail screen lists the messages sent.
#[test]
fn rejected_files_are_counted_alike_everywhere_and_sent_mail_is_listed() {
    let env = Env::new();
    env.add_staff("viewer");
    let mut d = env.start_ready();
    let bad = replace_elem(&new_app("A1"), "Hts", "7208.10.1500");
    let files = [
        (
            "all-rejected.xml",
            filing(ACME, "11", std::slice::from_ref(&bad)),
        ),
        ("broken.xml", "<LicenseFiling".to_owned()),
        ("good.xml", valid_with_control("12")),
        (
            "partial.xml",
            filing(ACME, "13", &[new_app("A1"), bad.replace("A1", "A2")]),
        ),
    ];
    for (name, body) in &files {
        drop_file(&env.inbox_of(ACME), name, body);
        d.wait_ack(&env.outbox_of(ACME), &ack_name(name));
    }
    let status = json_of(&env.aim(&["status", "--json"]));
    assert_eq!(status["files_today"], 4, "{status}");
    assert_eq!(status["files_rejected_today"], 2, "{status}");
    let (text, _) = out_text(&env.aim(&["status"]));
    assert!(text.contains("rejected files      2"), "{text}");
    let score = ask(&env, serde_json::json!({"op": "rejections", "days": 1}));
    let rejected: u64 = score["by_sender"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["files_rejected"].as_u64().unwrap())
        .sum();
    assert_eq!(rejected, 2, "{score}");

    let mail = d.wait_for("the mail sent", WAIT, || {
        let m = ask(&env, serde_json::json!({"op": "mail"}));
        (m["sent"].as_array()?.len() == 4).then_some(m)
    });
    let first = &mail["sent"][0];
    assert_eq!(first["state"], "sent", "{mail}");
    assert_eq!(first["attempts"], 1, "{mail}");
    assert!(first["sent_at"].is_string(), "{mail}");
}

/// `aim` alone whose daemon stops for good (here: the database failed on a full data disk and
/// the disk has room again, which a daemon under a service manager answers by starting
/// afresh): the console ends by itself, says why and what to do, and exits 1 for a wrapper.
#[test]
fn aim_alone_ends_with_its_daemon_saying_why_and_exits_1() {
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!("skipped: mounting a tmpfs needs root");
        return;
    }
    let env = Env::new();
    with_staff(&env, "viewer");
    let disk = Tmpfs::mount(&env.data, "16m");
    let t = Tmux::start(
        &format!(
            "cd {} && TZ=UTC {} --config {}; echo EXIT=$?; sleep 60",
            env.dir.path().display(),
            aim_bin(),
            env.config.display()
        ),
        (160, 45),
    );
    t.wait_for("the daemon", |s| s.contains("daemon connected"));
    // Room for a group commit to start (4 MiB), not for a file of 3,000 applications: the
    // database fails under it.
    disk.fill(4608);
    gen_files(&env, "1", "3000");
    t.wait_for("intake paused", |s| s.contains("paused"));
    // The system's words for the failure, not a debug form.
    let (out, err) = out_text(&env.aim(&["status"]));
    assert!(
        out.contains("I/O error: No space left on device") && !out.contains("StorageFull"),
        "{out}{err}"
    );
    disk.resize("256m");
    let s = t.wait_for("the end of aim", |s| s.contains("EXIT="));
    assert!(s.contains("EXIT=1"), "{s}");
    // The terminal wraps the message where its width ends: read it as one line.
    let said = s.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        said.contains("aim: the daemon stopped, and the console with it:")
            && said.contains("start aim again"),
        "{s}"
    );
}
