//! Small things of a first hour with `aim`: the data folder's lock leaves no stale pid behind,
//! a clean stop says so, `aim gen` says what it wrote, wrong dates and numbers on the command
//! line say what is expected.
#![allow(
    clippy::unwrap_used,
    clippy::too_many_lines,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)] // Test code: a panic is the failure report, a scenario reads top to bottom.

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

/// The control numbers of the filings in `dir`.
fn control_numbers(dir: &std::path::Path) -> std::collections::BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| {
            let t = std::fs::read_to_string(e.path()).unwrap();
            let i = t.find("<ControlNumber>").unwrap() + 15;
            t[i..i + t[i..].find('<').unwrap()].to_owned()
        })
        .collect()
}

#[test]
fn gen_says_what_it_wrote_and_where() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("inbox/DEMO");
    let readme_line = [
        "gen",
        "--sender",
        "DEMO",
        "--count",
        "4",
        "--apps-per-file",
        "3",
        "--out",
    ];
    let a = aim().args(readme_line).arg(&out).assert().success();
    let stderr = String::from_utf8(a.get_output().stderr.clone()).unwrap();
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(
        lines[0],
        format!(
            "wrote 4 filings (12 applications) for DEMO into {}",
            out.display()
        )
    );
    // Without --seed the seed comes from the clock, and is said.
    let seed = lines[1]
        .strip_prefix("seed ")
        .and_then(|r| r.split_once(' '))
        .map(|(n, _)| n.to_owned())
        .unwrap_or_else(|| panic!("{stderr}"));
    assert!(
        lines[1].ends_with(&format!(
            "(from the clock; --seed {seed} writes the same files again)"
        )),
        "{stderr}"
    );
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 4);
    let first = control_numbers(&out);
    // The README's line again: new filings, none a duplicate of the first run's.
    aim().args(readme_line).arg(&out).assert().success();
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 8);
    let both = control_numbers(&out);
    assert_eq!(both.len(), 8, "new control numbers: {both:?}");
    assert!(first.is_subset(&both));
    // The printed seed writes the first run's files again, byte for byte.
    let again = dir.path().join("again");
    aim()
        .args(&readme_line[..7])
        .args(["--seed", &seed, "--out"])
        .arg(&again)
        .assert()
        .success();
    assert_eq!(control_numbers(&again), first);
    let a = aim()
        .args([
            "gen", "--sender", "DEMO", "--count", "1", "--seed", "1", "--out",
        ])
        .arg(&out)
        .assert()
        .success();
    let stderr = String::from_utf8(a.get_output().stderr.clone()).unwrap();
    assert_eq!(
        stderr,
        format!(
            "wrote 1 filing (1 application) for DEMO into {}\n",
            out.display()
        ),
        "a given seed is not repeated back"
    );
}

/// A staff command run from a folder without `config/aim.toml` says which configuration it
/// used and that no file was found there.
#[test]
fn a_staff_command_from_the_wrong_folder_says_no_config_was_found_there() {
    let dir = tempfile::tempdir().unwrap();
    let o = aim().current_dir(dir.path()).arg("status").assert().code(2);
    let stderr = String::from_utf8(o.get_output().stderr.clone()).unwrap();
    assert!(
        stderr.contains(&format!(
            "no file config/aim.toml was found in {}",
            dir.path().display()
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("the built-in defaults were used"),
        "{stderr}"
    );
    assert!(stderr.contains("give --config with its path"), "{stderr}");
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

/// The built-in defaults live in the code (editing `config/aim.toml` does not rebuild the
/// binary) and are the shipped file's configuration.
#[test]
fn the_built_in_defaults_are_the_shipped_config() {
    let shipped =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/aim.toml")).unwrap();
    let from_file = aim::config::Config::parse(&shipped, "config/aim.toml").unwrap();
    let built_in = aim::config::Config::parse(aim::config::BUILT_IN, "built-in").unwrap();
    assert_eq!(format!("{from_file:?}"), format!("{built_in:?}"));
    let src = include_str!("../src/config.rs");
    assert!(
        !src.contains(&format!("{}!(\"../config/aim.toml\")", "include_str")),
        "the shipped file is not compiled in"
    );
}
