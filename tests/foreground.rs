//! `aim` with no subcommand, in a real terminal (tmux): the daemon in the foreground with its
//! status line, counting what it does, and Ctrl-C ending it cleanly with a last line and no
//! stale pid in the lock file.

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

#[test]
fn foreground_status_line_counts_and_ctrl_c_stops() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("aim.toml"),
        "[intake]\nsettle_ms = 100\n[[partner]]\nid = \"DEMO\"\nname = \"Demo\"\nemails = [\"d@demo.example\"]\n",
    )
    .unwrap();
    let tmux = Tmux {
        socket: format!("aim-test-{}", std::process::id()),
    };
    let cmd = format!(
        "cd {} && {} --config aim.toml; echo EXIT=$?; sleep 30",
        d.display(),
        env!("CARGO_BIN_EXE_aim")
    );
    tmux.run(&[
        "new-session",
        "-d",
        "-s",
        "aim",
        "-x",
        "200",
        "-y",
        "20",
        &cmd,
    ]);
    tmux.wait_for("the banner", |s| s.contains("AIM licensing daemon running"));
    tmux.wait_for("the status line", |s| s.contains("files 0  applications 0"));

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
            "--out",
        ])
        .arg(&out)
        .status()
        .unwrap();
    assert!(generated.success());
    for e in std::fs::read_dir(&out).unwrap().flatten() {
        std::fs::rename(e.path(), d.join("inbox/DEMO").join(e.file_name())).unwrap();
    }
    let s = tmux.wait_for("the counts", |s| {
        s.contains("files 3  applications 6  licenses issued 6")
    });
    assert!(s.contains("DEMO → inbox/DEMO"), "{s}");
    assert_eq!(std::fs::read_dir(d.join("outbox/DEMO")).unwrap().count(), 3);
    assert!(
        d.join("var/log").read_dir().unwrap().next().is_some(),
        "logs go to <data>/log"
    );

    let lock = d.join("var/aim.lock");
    assert!(
        !std::fs::read_to_string(&lock).unwrap().trim().is_empty(),
        "the running daemon's pid is in aim.lock"
    );
    tmux.run(&["send-keys", "-t", "aim", "C-c"]);
    let s = tmux.wait_for("a clean exit", |s| s.contains("EXIT=0"));
    // A last line says it stopped, and no stale pid is left in the lock file.
    let before: Vec<&str> = s
        .lines()
        .take_while(|l| !l.contains("EXIT=0"))
        .filter(|l| !l.trim().is_empty())
        .collect();
    let last = before.last().copied().unwrap_or_default();
    assert_eq!(last.trim(), "aim: stopped cleanly", "{s}");
    assert_eq!(std::fs::read_to_string(&lock).unwrap(), "");
}
