//! `aim` with no subcommand, in a real terminal (tmux): the daemon and the console in one
//! process; filings show up live, `q` ends both cleanly (exit 0, a last line, no stale pid in
//! the lock, the lock released so `aim daemon` starts on the same data afterwards), and the
//! first-run role is said on the dashboard.
#![allow(
    clippy::unwrap_used,
    clippy::too_many_lines,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)] // Test code: a panic is the failure report, a scenario reads top to bottom.

use std::process::Command;
use std::time::{Duration, Instant};

struct Tmux {
    socket: String,
}

impl Tmux {
    fn run(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.socket])
            .args(args)
            .output()
            .expect("tmux must be installed (apt-get install tmux)");
        String::from_utf8_lossy(&out.stdout).into_owned()
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

/// `aim` alone in a tmux session of its own (`size` columns and rows), on a config in `d` with
/// the partner DEMO and `extra` before it; `after` follows the command in the shell.
fn aim_alone_in_tmux(d: &std::path::Path, extra: &str, after: &str, size: (u16, u16)) -> Tmux {
    std::fs::write(
        d.join("aim.toml"),
        format!(
            "{extra}[[partner]]\nid = \"DEMO\"\nname = \"Demo\"\nemails = [\"d@demo.example\"]\n"
        ),
    )
    .unwrap();
    let tmux = Tmux {
        socket: format!("aim-test-{}-{}", std::process::id(), size.0),
    };
    // With nothing after it, `exec`: no shell in between, `aim` itself gets the hangup; else
    // the shell stays to say how `aim` ended.
    let exec = if after.is_empty() { "exec " } else { "" };
    let cmd = format!(
        "cd {} && {exec}{} --config aim.toml{after}",
        d.display(),
        env!("CARGO_BIN_EXE_aim")
    );
    let (x, y) = (size.0.to_string(), size.1.to_string());
    tmux.run(&["new-session", "-d", "-s", "aim", "-x", &x, "-y", &y, &cmd]);
    tmux
}

#[test]
fn aim_alone_runs_daemon_and_console_and_q_stops_both() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let tmux = aim_alone_in_tmux(
        d,
        "[intake]\nsettle_ms = 100\n[[staff]]\nuser = \"alice\"\nrole = \"supervisor\"\n",
        "; echo EXIT=$?; sleep 30",
        (160, 48),
    );
    let s = tmux.wait_for("the console", |s| {
        s.contains("daemon in this console; q stops both")
    });
    let me = nix::unistd::User::from_uid(nix::unistd::Uid::effective())
        .unwrap()
        .unwrap()
        .name;
    assert!(
        s.contains(&format!(
            "you ({me}) are supervisor in this first-run session: not on the staff list"
        )),
        "{s}"
    );

    let out = d.join("staging");
    let generated = Command::new(env!("CARGO_BIN_EXE_aim"))
        .args([
            "gen",
            "--sender",
            "DEMO",
            "--count",
            "3",
            "--apps-per-file",
            "2",
            "--seed",
            "1",
            "--out",
        ])
        .arg(&out)
        .status()
        .unwrap();
    assert!(generated.success());
    for e in std::fs::read_dir(&out).unwrap().flatten() {
        std::fs::rename(e.path(), d.join("inbox/DEMO").join(e.file_name())).unwrap();
    }
    tmux.wait_for("the filings", |s| s.matches("demo-1-00000").count() == 3);
    assert_eq!(std::fs::read_dir(d.join("outbox/DEMO")).unwrap().count(), 3);
    assert!(
        d.join("var/log").read_dir().unwrap().next().is_some(),
        "logs go to <data>/log"
    );
    let s = tmux.screen();
    assert!(!s.contains("INFO"), "no log line on the screen: {s}");

    let lock = d.join("var/aim.lock");
    assert!(!std::fs::read_to_string(&lock).unwrap().trim().is_empty());
    tmux.run(&["send-keys", "-t", "aim", "q"]);
    let s = tmux.wait_for("a clean exit", |s| s.contains("EXIT=0"));
    let before: Vec<&str> = s
        .lines()
        .take_while(|l| !l.contains("EXIT=0"))
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert_eq!(
        before.last().copied().unwrap_or_default().trim(),
        "aim: stopped cleanly",
        "{s}"
    );
    assert_eq!(std::fs::read_to_string(&lock).unwrap(), "");

    // The lock is released: a headless daemon starts on the same data.
    let mut daemon = Command::new(env!("CARGO_BIN_EXE_aim"))
        .args(["daemon", "--config", "aim.toml"])
        .current_dir(d)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !d.join("var/aim.sock").exists() {
        assert!(
            daemon.try_wait().unwrap().is_none(),
            "aim daemon exited: the lock was kept"
        );
        assert!(Instant::now() < deadline, "aim daemon did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let killed = Command::new("kill")
        .args(["-TERM", &daemon.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    assert!(daemon.wait().unwrap().success());
}

/// Closing the terminal (tmux's session killed: SIGHUP to `aim`) stops the daemon and the
/// console as `q` does: the lock emptied and the socket removed, nothing left for the next
/// start to clean up.
#[test]
fn closing_the_terminal_stops_aim_alone_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let tmux = aim_alone_in_tmux(d, "", "", (80, 24));
    tmux.wait_for("the console", |s| s.contains("daemon connected"));
    let lock = d.join("var/aim.lock");
    let socket = d.join("var/aim.sock");
    let pid = std::fs::read_to_string(&lock).unwrap().trim().to_owned();
    assert!(!pid.is_empty() && socket.exists());
    tmux.run(&["kill-session", "-t", "aim"]);
    let proc_dir = std::path::Path::new("/proc").join(&pid);
    let deadline = Instant::now() + Duration::from_secs(15);
    while proc_dir.exists() {
        assert!(
            Instant::now() < deadline,
            "aim {pid} still runs after SIGHUP"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let logs: String = std::fs::read_dir(d.join("var/log"))
        .unwrap()
        .flatten()
        .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
        .collect();
    assert_eq!(
        std::fs::read_to_string(&lock).unwrap(),
        "",
        "the lock is emptied as by a clean stop; the log:\n{logs}"
    );
    assert!(!socket.exists(), "the control socket is removed");
    assert!(logs.contains("the terminal closed (SIGHUP)"), "{logs}");
}
