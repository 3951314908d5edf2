//! Small things of a first hour with `aim`: the data folder's lock leaves no stale pid behind.

mod common;
mod daemon_harness;

use daemon_harness::{Env, WAIT};

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
