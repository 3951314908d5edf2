//! Faults with the real `aim daemon`: an outbox or a data disk that fills up (small tmpfs
//! mounts; root only), an SMTP server that never answers, a partner folder removed or replaced,
//! thousands of files at once. Each ends with every file answered exactly once.
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
use std::fs;
use std::path::Path;
use std::time::Duration;

fn count_lines(text: &str, needle: &str) -> usize {
    text.lines().filter(|l| l.contains(needle)).count()
}

fn status(env: &Env) -> serde_json::Value {
    let o = env.aim(&["status", "--json"]);
    assert!(o.status.success(), "{:?}", out_text(&o));
    json_of(&o)
}

/// Every ack in `outbox` is accepted; the licenses they issued, in all and distinct.
fn licenses_in(outbox: &Path) -> (usize, usize) {
    let mut issued = Vec::new();
    for a in acks(outbox) {
        let ack = read_ack(&fs::read(outbox.join(&a)).unwrap());
        assert_eq!(ack.status, "accepted", "{a}");
        issued.extend(ack.apps.iter().filter_map(|x| x.license.clone()));
    }
    let n = issued.len();
    issued.sort();
    issued.dedup();
    (n, issued.len())
}

#[test]
fn a_full_outbox_pauses_intake_once_and_every_file_is_answered_once_space_returns() {
    if !is_root() {
        eprintln!("skipped: mounting a tmpfs needs root");
        return;
    }
    let env = Env::new();
    env.add_staff("viewer");
    let disk = Tmpfs::mount(&env.outbox, "1m");
    let mut d = env.start_ready();
    let filler = disk.fill(8);
    let staging = env.dir.path().join("staging");
    generate(&env, 40, 3, 7, &staging);
    for e in fs::read_dir(&staging).unwrap().flatten() {
        fs::rename(e.path(), env.inbox_of(ACME).join(e.file_name())).unwrap();
    }
    let p = d.stderr_path.clone();
    d.wait_for("intake to pause", WAIT, || {
        fs::read_to_string(&p)
            .ok()
            .filter(|s| s.contains("intake paused"))
            .map(|_| ())
    });
    let s = status(&env);
    let problems = s["problems"].as_array().unwrap();
    assert!(
        problems
            .iter()
            .any(|x| x.as_str().unwrap().contains("intake paused")),
        "{s}"
    );
    // A while full: the pause is said once, not once a try.
    std::thread::sleep(Duration::from_secs(5));
    fs::remove_file(filler).unwrap();
    let outbox = env.outbox_of(ACME);
    d.wait_for(
        "every file to be answered",
        Duration::from_secs(120),
        || {
            (acks(&outbox).len() == 40 && fs::read_dir(env.inbox_of(ACME)).unwrap().count() == 0)
                .then_some(())
        },
    );
    // The resume is logged after the batch's last flush, a moment after its acks appear.
    let p = d.stderr_path.clone();
    d.wait_for("the resume to be logged", WAIT, || {
        fs::read_to_string(&p)
            .ok()
            .filter(|s| s.contains("intake resumed"))
            .map(|_| ())
    });
    let log = d.stderr();
    assert_eq!(count_lines(&log, "intake paused"), 1, "{log}");
    assert_eq!(count_lines(&log, "intake resumed"), 1, "{log}");
    assert!(
        log.lines().count() < 400,
        "a quiet log while paused: {} lines",
        log.lines().count()
    );
    // Exactly once: 40 acks, 120 distinct licenses, no leftover temporary files.
    let (n, distinct) = licenses_in(&outbox);
    assert_eq!((n, distinct), (120, 120));
    assert!(
        fs::read_dir(&outbox)
            .unwrap()
            .flatten()
            .all(|e| !e.file_name().to_string_lossy().starts_with('.'))
    );
    let s = status(&env);
    assert!(s["problems"].as_array().unwrap().is_empty(), "{s}");
    assert_eq!(s["licenses_on_record"], 120);
}

#[test]
fn a_full_data_disk_pauses_intake_keeps_the_daemon_up_and_resumes_by_itself() {
    if !is_root() {
        eprintln!("skipped: mounting a tmpfs needs root");
        return;
    }
    let env = Env::new();
    env.add_staff("viewer");
    let disk = Tmpfs::mount(&env.data, "16m");
    let mut d = env.start_ready();
    // One file before: its license must still be readable while the disk is full.
    drop_file(
        &env.inbox_of(ACME),
        "before.xml",
        valid_with_control("4001"),
    );
    let first = read_ack(&d.wait_ack(&env.outbox_of(ACME), "before.ack.xml"));
    let license = first.apps[0].license.clone().unwrap();
    let filler = disk.fill(64);
    let staging = env.dir.path().join("staging");
    generate(&env, 30, 20, 8, &staging);
    for e in fs::read_dir(&staging).unwrap().flatten() {
        fs::rename(e.path(), env.inbox_of(ACME).join(e.file_name())).unwrap();
    }
    let p = d.stderr_path.clone();
    d.wait_for("intake to pause", Duration::from_secs(60), || {
        fs::read_to_string(&p)
            .ok()
            .filter(|s| s.contains("intake paused"))
            .map(|_| ())
    });
    d.assert_alive();
    // Staff reads go on.
    let o = env.aim(&["license", "show", &license, "--json"]);
    assert!(o.status.success(), "{:?}", out_text(&o));
    let s = status(&env);
    assert!(
        s["problems"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x.as_str().unwrap().contains("data disk")),
        "{s}"
    );
    fs::remove_file(filler).unwrap();
    let outbox = env.outbox_of(ACME);
    d.wait_for(
        "every file to be answered",
        Duration::from_secs(180),
        || {
            (acks(&outbox).len() == 31 && fs::read_dir(env.inbox_of(ACME)).unwrap().count() == 0)
                .then_some(())
        },
    );
    let (n, distinct) = licenses_in(&outbox);
    assert_eq!((n, distinct), (601, 601), "nothing lost, nothing doubled");
    let s = status(&env);
    assert_eq!(s["licenses_on_record"], 601);
    assert!(s["problems"].as_array().unwrap().is_empty(), "{s}");
    let log = d.stderr();
    assert_eq!(count_lines(&log, "intake paused"), 1, "{log}");
}

#[test]
fn an_smtp_server_that_never_answers_neither_stops_intake_nor_delays_shutdown() {
    let env = Env::new();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // Accept and hold every connection, saying nothing.
    let held = std::thread::spawn(move || {
        let mut conns = Vec::new();
        for c in listener.incoming().take(8) {
            match c {
                Ok(c) => conns.push(c),
                Err(_) => break,
            }
        }
        std::thread::sleep(Duration::from_secs(600));
        drop(conns);
    });
    env.append_config(&format!(
        "[mail]\ntransport = \"smtp\"\nsmtp_host = \"127.0.0.1\"\nsmtp_port = {port}\n[[staff]]\nuser = \"{}\"\nrole = \"viewer\"\n",
        current_user()
    ));
    let mut d = env.start_ready();
    for i in 0..3 {
        let name = format!("m{i}.xml");
        drop_file(
            &env.inbox_of(ACME),
            &name,
            valid_with_control(&format!("{}", 5000 + i)),
        );
        d.wait_ack(&env.outbox_of(ACME), &ack_name(&name));
    }
    std::thread::sleep(Duration::from_millis(500));
    let t = std::time::Instant::now();
    d.signal(rustix::process::Signal::TERM);
    let st = d.wait_exit(Duration::from_secs(10));
    assert!(st.success(), "{st}");
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "stopped in {:?}",
        t.elapsed()
    );
    // The messages are still queued for the next start.
    let _d = env.start_ready();
    let s = status(&env);
    assert_eq!(
        s["mail_queued"].as_u64().unwrap() + s["mail_retrying"].as_u64().unwrap(),
        3,
        "{s}"
    );
    drop(held);
}

#[test]
fn a_partner_folder_removed_or_replaced_is_made_anew_watched_and_its_files_answered() {
    let env = Env::new();
    let mut d = env.start_ready();
    let inbox = env.inbox_of(ACME);
    fs::remove_dir_all(&inbox).unwrap();
    d.wait_for("the inbox folder to be made anew", WAIT, || {
        inbox.is_dir().then_some(())
    });
    drop_file(&inbox, "after-removal.xml", valid_with_control("6001"));
    d.wait_ack(&env.outbox_of(ACME), "after-removal.ack.xml");
    // Replaced: moved away and a new folder made in its place.
    fs::rename(&inbox, env.dir.path().join("old-inbox")).unwrap();
    fs::create_dir(&inbox).unwrap();
    drop_file(&inbox, "after-replace.xml", valid_with_control("6002"));
    d.wait_ack(&env.outbox_of(ACME), "after-replace.ack.xml");
    // The outbox removed: made anew when the next ack is written.
    fs::remove_dir_all(env.outbox_of(ACME)).unwrap();
    drop_file(&inbox, "after-outbox.xml", valid_with_control("6003"));
    d.wait_ack(&env.outbox_of(ACME), "after-outbox.ack.xml");
    let log = d.stderr();
    assert!(log.contains("the inbox folder vanished"), "{log}");
    assert!(
        log.contains("the inbox folder was replaced") || log.contains("vanished"),
        "{log}"
    );
    assert!(log.contains("the outbox folder vanished"), "{log}");
}

#[test]
fn thousands_of_files_at_once_are_each_answered_once() {
    let env = Env::new();
    let mut d = env.start_ready();
    let staging = env.dir.path().join("staging");
    generate(&env, 4000, 1, 9, &staging);
    let inbox = env.inbox_of(ACME);
    for e in fs::read_dir(&staging).unwrap().flatten() {
        fs::rename(e.path(), inbox.join(e.file_name())).unwrap();
    }
    let outbox = env.outbox_of(ACME);
    d.wait_for("4000 acks", Duration::from_secs(300), || {
        (acks(&outbox).len() >= 4000).then_some(())
    });
    std::thread::sleep(Duration::from_secs(RESCAN_SECS + 1));
    assert_eq!(acks(&outbox).len(), 4000, "one ack each, never a second");
    assert_eq!(fs::read_dir(&inbox).unwrap().count(), 0);
}

#[test]
fn a_mail_worker_that_cannot_run_is_a_problem_in_status_not_a_quiet_death() {
    let env = Env::new();
    env.append_config(&format!(
        "[mail]\ntransport = \"smtp\"\nsmtp_user = \"aim\"\nsmtp_password_env = \"AIM_TEST_NO_SUCH_PASSWORD\"\n[[staff]]\nuser = \"{}\"\nrole = \"viewer\"\n",
        current_user()
    ));
    let mut d = env.start_ready();
    drop_file(&env.inbox_of(ACME), "m.xml", valid_with_control("7001"));
    d.wait_ack(&env.outbox_of(ACME), "m.ack.xml");
    let s = status(&env);
    let problems: Vec<&str> = s["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert!(
        problems
            .iter()
            .any(|p| p.contains("mail is not sent") && p.contains("AIM_TEST_NO_SUCH_PASSWORD")),
        "{problems:?}"
    );
    assert_eq!(s["mail_queued"], 1, "queued, not lost");
    assert!(d.stderr().contains("mail is not sent"));
}
