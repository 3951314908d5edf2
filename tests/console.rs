//! The console in a real terminal (tmux) against a running `aim daemon`: filings arrive live,
//! one license is searched, opened and cancelled by a supervisor; a viewer is refused (and the
//! refusal is in `aim audit`); the console says it lost the daemon while it restarts, and
//! comes back by itself.

mod common;
mod daemon_harness;

use daemon_harness::*;
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
    let ok = Command::new(aim_bin())
        .args([
            "gen",
            "--sender",
            ACME,
            "--count",
            count,
            "--apps-per-file",
            "2",
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
    Tmux::start(
        &format!(
            "cd {} && {} console --config {}; echo EXIT=$?; sleep 30",
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
    t.wait_for("the filings, live", |s| {
        s.matches("acmebrk-1-00000").count() == 3
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
    let t = console(&env, (160, 45));
    t.wait_for("the connection", |s| s.contains("root (viewer)"));
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
