//! Small things of a first hour with `aim`: the data folder's lock leaves no stale pid behind,
//! a clean stop says so, `aim gen` says what it wrote, wrong dates and numbers on the command
//! line say what is expected.

mod common;
mod daemon_harness;

use assert_cmd::Command;
use daemon_harness::{Env, WAIT};

fn aim() -> Command {
    let mut c = Command::cargo_bin("aim").expect("the aim binary");
    c.current_dir(std::env::temp_dir());
    c
}

#[test]
fn the_lock_holds_the_pid_while_held_and_is_emptied_when_released() {
    let dir = tempfile::tempdir().unwrap();
    let data = aim::daemon::DataDir {
        root: dir.path().join("var"),
    };
    let lock = aim::daemon::lock_data(&data).unwrap();
    let pid = std::process::id().to_string();
    assert_eq!(std::fs::read_to_string(data.lock()).unwrap().trim(), pid);
    // Held: a second taker is told who holds it.
    match aim::daemon::lock_data(&data) {
        Err(aim::daemon::DaemonError::AlreadyRunning { pid: p, .. }) => assert_eq!(p, pid),
        Err(e) => panic!("another error: {e}"),
        Ok(_) => panic!("the lock was taken twice"),
    }
    drop(lock);
    assert_eq!(std::fs::read_to_string(data.lock()).unwrap(), "");
    // Free again.
    let again = aim::daemon::lock_data(&data).unwrap();
    assert_eq!(std::fs::read_to_string(data.lock()).unwrap().trim(), pid);
    drop(again);
}

#[test]
fn a_clean_daemon_stop_leaves_no_stale_pid() {
    let env = Env::new();
    let mut d = env.start_ready();
    let lock = env.data.join("aim.lock");
    assert_eq!(
        std::fs::read_to_string(&lock).unwrap().trim(),
        d.pid().to_string()
    );
    d.signal(rustix::process::Signal::TERM);
    assert!(d.wait_exit(WAIT).success());
    assert_eq!(std::fs::read_to_string(&lock).unwrap(), "");
    let stderr = d.stderr();
    let last = stderr.lines().last().unwrap_or_default();
    assert!(last.ends_with("stopped"), "the last log line: {stderr}");
}

#[test]
fn gen_says_what_it_wrote_and_where() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("inbox/DEMO");
    let a = aim()
        .args([
            "gen",
            "--sender",
            "DEMO",
            "--count",
            "4",
            "--apps-per-file",
            "3",
            "--out",
        ])
        .arg(&out)
        .assert()
        .success();
    let stderr = String::from_utf8(a.get_output().stderr.clone()).unwrap();
    assert_eq!(
        stderr,
        format!(
            "wrote 4 filings (12 applications) for DEMO into {}\n",
            out.display()
        )
    );
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 4);
    let a = aim()
        .args(["gen", "--sender", "DEMO", "--count", "1", "--out"])
        .arg(&out)
        .assert()
        .success();
    let stderr = String::from_utf8(a.get_output().stderr.clone()).unwrap();
    assert!(
        stderr.starts_with("wrote 1 filing (1 application) for DEMO into "),
        "{stderr}"
    );
}

#[test]
fn wrong_values_say_what_is_expected() {
    for (args, expected) in [
        (
            &["validate", "--today", "28-11-2026", "x.xml"][..],
            "invalid value '28-11-2026' for '--today <YYYY-MM-DD>': expected a date as YYYY-MM-DD",
        ),
        (
            &["validate", "--today", "2026-02-30", "x.xml"],
            "no such day in the calendar: expected a date as YYYY-MM-DD",
        ),
        (
            &["validate", "--today", "2026-1-5", "x.xml"],
            "expected a date as YYYY-MM-DD",
        ),
        (
            &[
                "gen", "--sender", "DEMO", "--count", "1", "--today", "tomorrow",
            ],
            "expected a date as YYYY-MM-DD",
        ),
        (
            &["gen", "--sender", "DEMO", "--count", "many"],
            "invalid value 'many' for '--count <N>': expected a whole number",
        ),
        (
            &[
                "gen",
                "--sender",
                "DEMO",
                "--count",
                "1",
                "--apps-per-file",
                "0",
            ],
            "expected a whole number from 1 to 100000",
        ),
        (
            &["gen", "--sender", "DEMO", "--count", "1", "--seed", "1.5"],
            "expected a whole number",
        ),
    ] {
        let a = aim().args(args).assert().code(2);
        let stderr = String::from_utf8(a.get_output().stderr.clone()).unwrap();
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        for leak in [
            "trailing input",
            "input contains invalid characters",
            "invalid digit",
        ] {
            assert!(!stderr.contains(leak), "{args:?}: {stderr}");
        }
    }
}

#[test]
fn the_console_without_a_terminal_says_what_to_run_instead() {
    let dir = tempfile::tempdir().unwrap();
    for (args, says) in [(&["console"][..], "aim status"), (&[][..], "aim daemon")] {
        let out = aim()
            .current_dir(dir.path())
            .args(args)
            .write_stdin("")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains("needs a terminal") && err.contains(says),
            "{args:?}: {err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
    // Nothing was started: no data folder appeared.
    assert!(!dir.path().join("var").exists());
}
