//! One partner (or one local user) must never stop the service for the others; the real
//! `aim daemon` tried as a hostile user, a careless partner and an operator would:
//!
//! - a flood of refused requests on the control socket, and users off the staff list filling
//!   its connection slots;
//! - a full data disk that is then grown under the daemon (a tmpfs remounted larger);
//! - SIGTERM in every state (a full disk, a huge file in hand) ends it within 10 s, exit 0;
//! - output pipes that close, files readable by the world, a password echoed from the
//!   configuration, bidirectional controls on a terminal, plaintext SMTP logins and SMTP
//!   error texts that quote what was sent.
//!
//! Mounting a tmpfs and running clients as other users need root (CI runs as root); without it
//! those tests say so and pass.
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
use serde_json::Value;
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Move every file of `from` into ACME's inbox (renames: each appears whole).
fn move_into_inbox(env: &Env, from: &Path) {
    fs::create_dir_all(env.inbox_of(ACME)).unwrap();
    for e in fs::read_dir(from).unwrap().flatten() {
        fs::rename(e.path(), env.inbox_of(ACME).join(e.file_name())).unwrap();
    }
}

/// The licenses issued in the acks of `outbox`: in all and distinct.
fn licenses_in(outbox: &Path) -> (usize, usize) {
    let mut issued = Vec::new();
    for a in acks(outbox) {
        let ack = read_ack(&fs::read(outbox.join(&a)).unwrap());
        issued.extend(ack.apps.iter().filter_map(|x| x.license.clone()));
    }
    let n = issued.len();
    issued.sort();
    issued.dedup();
    (n, issued.len())
}

fn status(env: &Env) -> Value {
    let o = env.aim(&["status", "--json"]);
    assert!(o.status.success(), "{:?}", out_text(&o));
    json_of(&o)
}

fn wait_log(d: &mut Daemon, what: &str, timeout: Duration) {
    let p = d.stderr_path.clone();
    d.wait_for(what, timeout, || {
        fs::read_to_string(&p)
            .ok()
            .filter(|s| s.contains(what))
            .map(|_| ())
    });
}

/// SIGTERM, and the daemon must be gone within 10 s with exit 0 (spec section 8).
fn sigterm_within_10_s(d: &mut Daemon, state: &str) -> Duration {
    let t = Instant::now();
    d.signal(rustix::process::Signal::TERM);
    let st = d.wait_exit(Duration::from_secs(15));
    let took = t.elapsed();
    assert!(st.success(), "{state}: exit {st}");
    assert!(
        took < Duration::from_secs(10),
        "{state}: stopped after {took:?}"
    );
    took
}

/// Bytes of every file under `dir`.
fn bytes_under(dir: &Path) -> u64 {
    let mut n = 0;
    for e in fs::read_dir(dir).into_iter().flatten().flatten() {
        let Ok(m) = fs::symlink_metadata(e.path()) else {
            continue;
        };
        if m.is_dir() {
            n += bytes_under(&e.path());
        } else {
            n += m.len();
        }
    }
    n
}

fn connect(env: &Env) -> UnixStream {
    let s = UnixStream::connect(env.data.join("aim.sock")).expect("connect to the socket");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s
}

// ---------------------------------------------------------------------------------------
// 5. The control socket: a flood of refused requests, and its connection slots.

#[test]
fn a_flood_of_refused_requests_is_capped_counted_and_does_not_hold_up_intake() {
    let env = Env::new();
    // The test user is in the socket's group but not on the staff list.
    env.append_config("[[staff]]\nuser = \"nobody-here\"\nrole = \"supervisor\"\n");
    let mut d = env.start_ready();
    drop_file(
        &env.inbox_of(ACME),
        "before.xml",
        valid_with_control("9001"),
    );
    d.wait_ack(&env.outbox_of(ACME), "before.ack.xml");
    let before = bytes_under(&env.data);

    // 16 connections for 5 s: half send cancellations with 60 KB license fields (once audited
    // whole), half small refused requests.
    let big = format!(
        "{{\"v\":1,\"id\":1,\"op\":\"license_cancel\",\"reason\":\"x\",\"license\":\"{}\"}}\n",
        "7".repeat(60 * 1024)
    );
    let small = "{\"v\":1,\"id\":2,\"op\":\"status\"}\n".to_owned();
    let until = Instant::now() + Duration::from_secs(5);
    let flood: Vec<_> = (0..16)
        .map(|i| {
            let line = if i % 2 == 0 {
                big.clone()
            } else {
                small.clone()
            };
            let mut s = connect(&env);
            std::thread::spawn(move || {
                let mut r = BufReader::new(s.try_clone().unwrap());
                let (mut sent, mut answer) = (0u64, String::new());
                let mut messages = std::collections::BTreeSet::new();
                while Instant::now() < until {
                    if s.write_all(line.as_bytes()).is_err() {
                        break;
                    }
                    answer.clear();
                    if r.read_line(&mut answer).unwrap_or(0) == 0 {
                        break;
                    }
                    sent += 1;
                    let v: Value =
                        serde_json::from_str(&answer).unwrap_or_else(|e| panic!("{e}: {answer}"));
                    let m = v["error"]["message"].as_str().unwrap_or("(no error)");
                    messages.insert(m.chars().take(120).collect::<String>());
                }
                (sent, messages)
            })
        })
        .collect();
    // A filing during the flood is answered as if nothing happened.
    std::thread::sleep(Duration::from_secs(1));
    let t = Instant::now();
    drop_file(
        &env.inbox_of(ACME),
        "during.xml",
        valid_with_control("9002"),
    );
    d.wait_ack(&env.outbox_of(ACME), "during.ack.xml");
    let filing_took = t.elapsed();
    let mut sent = 0;
    for (i, h) in flood.into_iter().enumerate() {
        let (n, messages) = h.join().unwrap();
        sent += n;
        // Every answer is a refusal; a field beyond its cap is told so.
        let expected = if i % 2 == 0 {
            "the field license has 61440 bytes, more than the 32"
        } else {
            "not on the staff list"
        };
        assert!(
            messages.iter().any(|m| m.contains(expected)),
            "{expected}: {messages:?}"
        );
        assert!(
            messages
                .iter()
                .all(|m| m.contains(expected) || m.contains("too many requests")),
            "{messages:?}"
        );
    }
    let grown = bytes_under(&env.data).saturating_sub(before);
    eprintln!(
        "{sent} refused requests in 5 s; the data folder grew {} KiB; a filing took {filing_took:?}",
        grown / 1024
    );
    assert!(sent > 100, "the flood was a flood: {sent}");
    assert!(
        grown < 8 * 1024 * 1024,
        "the data folder grew {grown} bytes under a flood of refusals"
    );
    assert!(
        filing_took < Duration::from_secs(5),
        "a filing waited {filing_took:?} behind the flood"
    );

    // Stopped, the minute's counted refusals are written as one summary; read them as staff.
    sigterm_within_10_s(&mut d, "after the flood");
    env.add_staff("supervisor");
    let _d = env.start_ready();
    let audit = json_of(&env.aim(&["audit", "--json", "--limit", "10000"]));
    let refused: Vec<&Value> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["outcome"] == "refused")
        .collect();
    // At most 5 a minute one by one, and a summary a minute (the flood may span two).
    assert!(
        (2..=14).contains(&refused.len()),
        "a few refusals one by one and a summary, not one record each: {}",
        refused.len()
    );
    let counted: u64 = refused
        .iter()
        .filter_map(|e| {
            let d = e["detail"].as_str()?;
            d.contains("more requests refused")
                .then(|| d.split(' ').next()?.parse::<u64>().ok())
                .flatten()
        })
        .sum();
    assert!(
        counted > 10 && counted <= sent,
        "the summaries count the refusals ({counted} of {sent} answers)"
    );
    for e in &refused {
        let line = e.to_string();
        assert!(
            line.len() < 2048,
            "an audit record holds a whole field: {line}"
        );
    }
}

/// A client run as `uid` (a user with no name, not on the staff list) that opens `n`
/// connections, holds them, and prints how many were refused at once.
fn hold_connections(env: &Env, uid: u32, n: usize) -> std::process::Child {
    use std::os::unix::process::CommandExt;
    let script = r#"
import socket, sys, time
path, n = sys.argv[1], int(sys.argv[2])
conns = []
for _ in range(n):
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    conns.append(s)
time.sleep(1.5)
refused = 0
for s in conns:
    s.settimeout(0.05)
    try:
        s.recv(4096)
        # An admitted connection is sent nothing until it asks; a refused one its reason.
        refused += 1
    except socket.timeout:
        pass
    except OSError:
        refused += 1
print(refused, flush=True)
time.sleep(120)
"#;
    Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(env.data.join("aim.sock"))
        .arg(n.to_string())
        .uid(uid)
        .gid(0)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("python3")
}

#[test]
fn four_users_off_the_staff_list_cannot_lock_a_supervisor_out() {
    if !is_root() {
        eprintln!("skipped: needs root to connect as other users");
        return;
    }
    let env = Env::new();
    env.add_staff("supervisor");
    let _d = env.start_ready();
    for p in [env.dir.path(), &env.data] {
        let m = fs::metadata(p).unwrap().permissions().mode();
        fs::set_permissions(p, fs::Permissions::from_mode(m | 0o050)).unwrap();
    }
    let mut users: Vec<std::process::Child> = (60_001..=60_004)
        .map(|uid| hold_connections(&env, uid, 40))
        .collect();
    let mut refused = 0;
    for u in &mut users {
        let mut line = String::new();
        BufReader::new(u.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        refused += line.trim().parse::<usize>().unwrap_or(0);
    }
    // Every connection beyond the pool of users off the staff list was turned away...
    assert_eq!(refused, 4 * 40 - 32, "connections refused of 160");
    // ...and a supervisor still gets in while they hold theirs.
    let o = env.aim(&["status", "--json"]);
    assert!(o.status.success(), "{:?}", out_text(&o));
    for u in &mut users {
        let _ = u.kill();
        let _ = u.wait();
    }
}

// ---------------------------------------------------------------------------------------
// 6 and 7. A full data disk, grown under the daemon; SIGTERM in every state.

/// A daemon on a 16 MiB data disk, one license issued, then the disk filled but for 4.5 MiB
/// (enough for a group commit to start) and 3 files of 2,000 applications dropped, whose
/// first commit outgrows it: the database fails under it. Returns once intake says it is
/// paused. (The daemon before the fix hung for ever here once the disk was grown, and
/// ignored SIGTERM.)
fn full_data_disk(env: &Env) -> (Tmpfs, Daemon, String) {
    env.add_staff("viewer");
    let disk = Tmpfs::mount(&env.data, "16m");
    let mut d = env.start_ready();
    drop_file(
        &env.inbox_of(ACME),
        "before.xml",
        valid_with_control("4001"),
    );
    let first = read_ack(&d.wait_ack(&env.outbox_of(ACME), "before.ack.xml"));
    let license = first.apps[0].license.clone().unwrap();
    disk.fill(4608);
    let staging = env.dir.path().join("staging");
    generate(env, 3, 2000, 8, &staging);
    move_into_inbox(env, &staging);
    wait_log(&mut d, "intake paused", Duration::from_secs(60));
    (disk, d, license)
}

/// Every file answered once: 4 acks, 6,001 licenses, none twice, status healthy.
fn all_answered(env: &Env, d: &mut Daemon) {
    let outbox = env.outbox_of(ACME);
    d.wait_for(
        "every file to be answered",
        Duration::from_secs(240),
        || {
            (acks(&outbox).len() == 4 && fs::read_dir(env.inbox_of(ACME)).unwrap().count() == 0)
                .then_some(())
        },
    );
    assert_eq!(
        licenses_in(&outbox),
        (6001, 6001),
        "nothing lost, nothing doubled"
    );
    let s = status(env);
    assert_eq!(s["licenses_on_record"], 6001);
    assert!(s["problems"].as_array().unwrap().is_empty(), "{s}");
}

#[test]
fn a_data_disk_grown_under_the_daemon_lets_it_resume_by_itself() {
    if !is_root() {
        eprintln!("skipped: mounting a tmpfs needs root");
        return;
    }
    let env = Env::new();
    let (disk, mut d, license) = full_data_disk(&env);
    let pid = d.pid();
    // While full: the daemon is up and answers staff reads at once: the license, or, where
    // the failed database would have to split a node to read it, a clear refusal.
    let o = env.aim(&["license", "show", &license, "--json"]);
    let (out, err) = out_text(&o);
    assert!(
        o.status.success()
            || err.contains(
                "the store could not answer: database error: I/O error: No space left on device"
            ),
        "{out}{err}"
    );
    d.assert_alive();
    // The volume is grown; nothing is deleted.
    disk.resize("256m");
    all_answered(&env, &mut d);
    // The same process (it started afresh in place, as under systemd).
    assert_eq!(d.pid(), pid);
    d.assert_alive();
    let log = d.stderr();
    assert!(log.contains("starting afresh"), "{log}");
    sigterm_within_10_s(&mut d, "after the disk was grown");
}

#[test]
fn sigterm_on_a_full_data_disk_stops_within_10_s_and_the_next_start_waits_for_room_then_finishes() {
    if !is_root() {
        eprintln!("skipped: mounting a tmpfs needs root");
        return;
    }
    let env = Env::new();
    let (disk, mut d, _) = full_data_disk(&env);
    std::thread::sleep(Duration::from_secs(3));
    let took = sigterm_within_10_s(&mut d, "a full data disk");
    eprintln!("stopped on a full disk in {took:?}");
    // The next start has a journal to apply or a file cut short to roll back, on a disk
    // still full: it waits with the database closed.
    disk.fill(0);
    let mut d = env.start();
    waits_for_room(&env, &mut d);
    // Room again: every file is answered once, by this daemon.
    disk.resize("256m");
    all_answered(&env, &mut d);
    sigterm_within_10_s(&mut d, "after the disk was grown");
}

/// Staff commands that find no socket look at the data folder's lock (a shared `flock`, for a
/// moment) to tell a daemon starting from none: a daemon starting in that moment must start.
#[test]
fn a_lock_looked_at_by_a_staff_command_as_the_daemon_starts_does_not_stop_it() {
    let env = Env::new();
    fs::create_dir_all(&env.data).unwrap();
    let lock = env.data.join("aim.lock");
    fs::write(&lock, b"").unwrap();
    // The look, held longer than a staff command holds it.
    let mut look = Command::new("flock")
        .arg("--shared")
        .arg(&lock)
        .args(["sleep", "0.3"])
        .spawn()
        .expect("flock(1), from util-linux");
    std::thread::sleep(Duration::from_millis(100));
    let mut d = env.start_ready();
    assert!(look.wait().unwrap().success());
    drop_file(&env.inbox_of(ACME), "after.xml", valid_with_control("4801"));
    d.wait_ack(&env.outbox_of(ACME), "after.ack.xml");
}

/// A daemon started on a full data disk says why and what to free, and waits with its
/// database closed.
fn waits_for_room(env: &Env, d: &mut Daemon) {
    wait_log(
        d,
        &format!(
            "free space on the data disk ({}); waiting for room (starting once 4.0 MiB are free)",
            env.data.display()
        ),
        Duration::from_secs(60),
    );
    std::thread::sleep(Duration::from_secs(2));
    d.assert_alive();
    assert!(
        !d.stderr().contains("intake started"),
        "the database stays closed until there is room"
    );
}

#[test]
fn a_daemon_started_on_a_full_data_disk_says_why_it_waits_and_resumes_by_itself() {
    if !is_root() {
        eprintln!("skipped: mounting a tmpfs needs root");
        return;
    }
    let env = Env::new();
    let disk = Tmpfs::mount(&env.data, "16m");
    let mut d = env.start_ready();
    sigterm_within_10_s(&mut d, "idle");
    disk.fill(0);
    drop_file(
        &env.inbox_of(ACME),
        "meanwhile.xml",
        valid_with_control("4601"),
    );
    let mut d = env.start();
    waits_for_room(&env, &mut d);
    assert!(
        acks(&env.outbox_of(ACME)).is_empty(),
        "nothing answered while full"
    );
    // Staff asking meanwhile are told it is starting, not that no daemon runs.
    let o = env.aim(&["status"]);
    let (_, err) = out_text(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!(
            "the aim daemon on {} is starting and does not answer yet",
            env.data.display()
        )),
        "{err}"
    );
    disk.resize("64m");
    d.wait_ack(&env.outbox_of(ACME), "meanwhile.ack.xml");
    sigterm_within_10_s(&mut d, "after the disk was grown");
}

/// One file of 20,000 applications (about 30 MB, under the size limit) dropped: the daemon
/// has it in hand (read, being judged or committed in slices).
fn a_huge_file_in_hand(env: &Env) -> Daemon {
    env.add_staff("viewer");
    let text = fs::read_to_string(&env.config)
        .unwrap()
        .replace("[intake]\n", "[intake]\nmax_applications = 100000\n");
    fs::write(&env.config, text).unwrap();
    let staging = env.dir.path().join("staging");
    generate(env, 1, 20_000, 3, &staging);
    let size: u64 = fs::read_dir(&staging)
        .unwrap()
        .flatten()
        .map(|e| e.metadata().unwrap().len())
        .sum();
    assert!(
        (20_000_000..33_554_432).contains(&size),
        "a huge file within the limit: {size} bytes"
    );
    let d = env.start_ready();
    move_into_inbox(env, &staging);
    std::thread::sleep(Duration::from_millis(1500));
    assert!(acks(&env.outbox_of(ACME)).is_empty(), "still in hand");
    d
}

/// The huge file's one ack: every application answered, and as many licenses on record as it
/// issued.
fn the_huge_file_answered_once(env: &Env, d: &mut Daemon) {
    let outbox = env.outbox_of(ACME);
    d.wait_for("the huge file's ack", Duration::from_secs(600), || {
        (acks(&outbox).len() == 1).then_some(())
    });
    let ack = read_ack(&fs::read(outbox.join(&acks(&outbox)[0])).unwrap());
    assert_eq!(ack.apps.len(), 20_000);
    let issued = ack.apps.iter().filter(|a| a.license.is_some()).count();
    assert_eq!(status(env)["licenses_on_record"], issued as u64);
}

#[test]
fn sigterm_with_a_huge_file_in_hand_stops_within_10_s_and_the_next_start_answers_it() {
    let env = Env::new();
    let mut d = a_huge_file_in_hand(&env);
    let took = sigterm_within_10_s(&mut d, "a huge file in hand");
    eprintln!("stopped with a 20,000-application file in hand in {took:?}");
    let mut d = env.start_ready();
    the_huge_file_answered_once(&env, &mut d);
}

#[test]
fn a_huge_file_killed_in_its_slices_on_a_full_data_disk_waits_for_room_then_is_answered_once() {
    if !is_root() {
        eprintln!("skipped: mounting a tmpfs needs root");
        return;
    }
    let env = Env::new();
    let disk = Tmpfs::mount(&env.data, "256m");
    // Killed once its first slices are seen: the next open applies what the journal holds and
    // rolls back the slices that reached the disk, which needs room.
    let mut d = a_huge_file_in_hand(&env);
    d.wait_for(
        "a slice of the file applied",
        Duration::from_secs(120),
        || (status(&env)["licenses_on_record"].as_u64() > Some(0)).then_some(()),
    );
    d.kill();
    disk.fill(0);
    // `aim` alone, with a person at its terminal: says why and what to do, exits 1.
    // (Under `timeout`: were the database opened, the console would wait for keys.)
    let alone = Command::new("timeout")
        .args(["60", "script", "-qefc"])
        .arg(format!("{} --config {}", aim_bin(), env.config.display()))
        .arg("/dev/null")
        .current_dir(env.dir.path())
        .env("NO_COLOR", "1")
        .output()
        .expect("script(1), from bsdutils");
    let said = String::from_utf8_lossy(&alone.stdout);
    assert_eq!(alone.status.code(), Some(1), "{said}");
    assert!(
        said.contains(
            "aim: the data disk is full (0.0 MiB free, opening the database needs 4.0 MiB)"
        ) && said.contains(&format!(
            "free space on the data disk ({})",
            env.data.display()
        )),
        "{said}"
    );
    // Under systemd: it says why it is not ready, and asks for more start time meanwhile.
    let notify = env.dir.path().join("notify.sock");
    let systemd = std::os::unix::net::UnixDatagram::bind(&notify).unwrap();
    systemd
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut d = env.start_with_env(&[("NOTIFY_SOCKET", notify.as_os_str())]);
    waits_for_room(&env, &mut d);
    let mut note = vec![0u8; 4096];
    let n = systemd.recv(&mut note).expect("a notification");
    let note = String::from_utf8_lossy(&note[..n]);
    assert!(
        note.contains("STATUS=waiting for room: the data disk is full")
            && note.contains("EXTEND_TIMEOUT_USEC=120000000")
            && !note.contains("READY=1"),
        "{note}"
    );
    disk.resize("512m");
    wait_log(
        &mut d,
        "free on the data disk: opening the database",
        Duration::from_secs(30),
    );
    d.wait_ready();
    // Whether the killed slices had reached the disk (then they are undone now) depends on
    // the moment of the kill; either way the file is judged again and answered once.
    eprintln!(
        "slices undone at the open: {}",
        d.stderr()
            .contains("undid the slices of a file a crash cut short")
    );
    the_huge_file_answered_once(&env, &mut d);
    sigterm_within_10_s(&mut d, "after the disk was grown");
}

#[test]
fn sigterm_while_the_store_hangs_stops_within_10_s_and_the_next_start_finishes() {
    let env = Env::new();
    let mut d = env.start_ready();
    sigterm_within_10_s(&mut d, "idle");
    // A read of the database that never returns, as on a hung disk: its configuration file
    // replaced by a FIFO that nobody writes.
    let conf = env.data.join("db").join("conf");
    let saved = fs::read(&conf).expect("sled's conf file");
    fs::remove_file(&conf).unwrap();
    let st = Command::new("mkfifo").arg(&conf).status().unwrap();
    assert!(st.success());
    drop_file(
        &env.inbox_of(ACME),
        "waiting.xml",
        valid_with_control("4501"),
    );
    let mut d = env.start();
    std::thread::sleep(Duration::from_secs(2));
    d.assert_alive();
    assert!(!d.stderr().contains("intake started"), "the store hangs");
    let took = sigterm_within_10_s(&mut d, "a hung store");
    eprintln!("stopped with a hung store in {took:?}");
    // The disk is back: the next start answers what waited.
    fs::remove_file(&conf).unwrap();
    fs::write(&conf, saved).unwrap();
    let mut d = env.start_ready();
    d.wait_ack(&env.outbox_of(ACME), "waiting.ack.xml");
}

// ---------------------------------------------------------------------------------------
// 8. Small things a careful agency would not ship.

/// Run `aim ARGS --config …` with standard output a pipe nobody reads.
fn aim_into_closed_pipe(env: &Env, args: &[&str]) -> std::process::Output {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let child = Command::new(aim_bin())
        .args(args)
        .arg("--config")
        .arg(&env.config)
        .current_dir(env.dir.path())
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn staff_commands_end_quietly_when_their_reader_goes_away() {
    let env = Env::new();
    env.add_staff("supervisor");
    let mut d = env.start_ready();
    drop_file(&env.inbox_of(ACME), "one.xml", valid_with_control("7001"));
    let ack = read_ack(&d.wait_ack(&env.outbox_of(ACME), "one.ack.xml"));
    let lic = ack.apps[0].license.clone().unwrap();
    let commands: Vec<Vec<&str>> = vec![
        vec!["status"],
        vec!["status", "--json"],
        vec!["license", "show", &lic],
        vec!["license", "show", &lic, "--json"],
        vec!["audit"],
        vec!["audit", "--json"],
        vec!["review", "list"],
        vec!["review", "list", "--json"],
        vec!["monitor", "export"],
        vec!["monitor", "export", "--format", "json"],
    ];
    let check = |args: &[&str]| {
        let o = aim_into_closed_pipe(&env, args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {err}");
        assert!(err.is_empty(), "{args:?} said: {err}");
    };
    for args in &commands {
        check(args);
    }
    // Without a daemon, the export reads the store itself: the same.
    sigterm_within_10_s(&mut d, "idle");
    check(&["monitor", "export"]);
    // `aim validate` in both formats: no panic, no complaint, the verdict as the exit code.
    let file = env.dir.path().join("v.xml");
    fs::write(&file, valid_with_control("7002")).unwrap();
    let file = file.to_str().unwrap();
    for format in ["text", "xml"] {
        let o = aim_into_closed_pipe(&env, &["validate", "--format", format, file, file]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(
            o.status.code(),
            Some(0),
            "validate --format {format}: {err}"
        );
        assert!(
            !err.contains("panicked") && !err.contains("cannot write"),
            "validate --format {format}: {err}"
        );
    }
}

#[test]
fn the_daemon_creates_its_files_0640_and_folders_0750_whatever_the_umask() {
    let env = Env::new();
    env.add_staff("viewer");
    let mut d = env.start_with(|c| {
        // The harshest umask there is.
        let program = c.get_program().to_owned();
        let args: Vec<_> = c.get_args().map(|a| a.to_owned()).collect();
        *c = {
            let mut w = Command::new("sh");
            w.arg("-c")
                .arg("umask 000; exec \"$@\"")
                .arg("sh")
                .arg(program)
                .args(args)
                .current_dir(env.dir.path())
                .env("NO_COLOR", "1")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(fs::File::create(env.dir.path().join("umask.stderr")).unwrap());
            w
        };
    });
    d.stderr_path = env.dir.path().join("umask.stderr");
    d.wait_ready();
    drop_file(&env.inbox_of(ACME), "one.xml", valid_with_control("7101"));
    d.wait_ack(&env.outbox_of(ACME), "one.ack.xml");
    let mail = env.data.join("mail");
    d.wait_for("the mail file", WAIT, || {
        fs::read_dir(&mail).ok()?.next().map(|_| ())
    });
    sigterm_within_10_s(&mut d, "idle");
    let group = fs::metadata(&env.data).unwrap().gid();
    let mut seen = (0, 0);
    let mut wrong = Vec::new();
    // The published monitor (`[monitor] publish_dir`, by default `var/public` inside the data
    // folder) is public by design, 0644/0755: tests/publish.rs checks it.
    let public = env.data.join("public");
    let mut stack = vec![env.data.clone()];
    while let Some(dir) = stack.pop() {
        for e in fs::read_dir(&dir).unwrap().flatten() {
            if e.path() == public {
                continue;
            }
            let m = fs::symlink_metadata(e.path()).unwrap();
            let mode = m.mode() & 0o7777;
            if m.is_dir() {
                seen.0 += 1;
                stack.push(e.path());
                if mode & 0o027 != 0 || m.gid() != group {
                    wrong.push(format!("{} {mode:o} gid {}", e.path().display(), m.gid()));
                }
            } else if m.file_type().is_file() {
                seen.1 += 1;
                if mode & 0o137 != 0 || m.gid() != group {
                    wrong.push(format!("{} {mode:o} gid {}", e.path().display(), m.gid()));
                }
            }
        }
    }
    assert!(
        seen.0 >= 4 && seen.1 >= 5,
        "database, archive, mail, log: {seen:?}"
    );
    assert!(
        wrong.is_empty(),
        "more than rw-r----- / rwxr-x---: {wrong:#?}"
    );
    let data_mode = fs::metadata(&env.data).unwrap().mode() & 0o777;
    assert_eq!(data_mode & 0o027, 0, "the data folder {data_mode:o}");
}

#[test]
fn a_password_in_the_configuration_is_never_echoed_and_its_place_is_named() {
    let env = Env::new();
    let secret = "hunter2-S3cret-XYZ";
    let original = fs::read_to_string(&env.config).unwrap();
    for (i, text) in [
        format!("{original}\n[mail]\nsmtp_password = \"{secret}\"\n"),
        format!("smtp_password = '{secret}'\n{original}"),
        format!("{original}\n[mail]\nsmtp_password = {secret}\n"),
        format!("{original}\n[mail]\npassword = \"{secret}\"\n"),
    ]
    .iter()
    .enumerate()
    {
        fs::write(&env.config, text).unwrap();
        for args in [&["status"][..], &["daemon"]] {
            let o = env.aim(args);
            let (out, err) = out_text(&o);
            assert_eq!(o.status.code(), Some(2), "case {i} {args:?}: {err}");
            assert!(
                !err.contains(secret) && !out.contains(secret),
                "case {i} {args:?} echoed the password: {err}"
            );
            assert!(
                err.contains("AIM_SMTP_PASSWORD") && err.contains("smtp_password_env"),
                "case {i} {args:?}: where the password belongs: {err}"
            );
            assert!(err.contains("line "), "case {i}: where the error is: {err}");
        }
    }
}

#[test]
fn license_show_and_review_list_print_no_bidirectional_controls() {
    let env = Env::new();
    env.add_staff("reviewer");
    let evil = "Northwind \u{202e}latem\u{2066} Inc";
    let mut d = env.start_ready();
    drop_file(
        &env.inbox_of(ACME),
        "bidi.xml",
        replace_elem(&valid_with_control("7201"), "Importer", evil),
    );
    let ack = read_ack(&d.wait_ack(&env.outbox_of(ACME), "bidi.ack.xml"));
    let lic = ack.apps[0]
        .license
        .clone()
        .unwrap_or_else(|| panic!("accepted: {:?}", ack.apps));
    sigterm_within_10_s(&mut d, "idle");
    env.append_config("[review]\nwatch_countries = [\"CA\"]\n");
    let mut d = env.start_ready();
    drop_file(
        &env.inbox_of(ACME),
        "held.xml",
        replace_elem(&valid_with_control("7202"), "Importer", evil),
    );
    d.wait_ack(&env.outbox_of(ACME), "held.ack.xml");
    for args in [&["license", "show", lic.as_str()][..], &["review", "list"]] {
        let o = env.aim(args);
        let (out, err) = out_text(&o);
        assert!(o.status.success(), "{args:?}: {err}");
        assert!(out.contains("Northwind ?latem? Inc"), "{args:?}: {out}");
        assert!(
            !out.contains(['\u{202e}', '\u{2066}']),
            "{args:?} printed bidirectional controls: {out:?}"
        );
    }
}

/// An SMTP server on loopback that offers AUTH and refuses it quoting the client's line.
fn echoing_smtp_server() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for c in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut w = c.try_clone().unwrap();
                let mut r = BufReader::new(c);
                let _ = w.write_all(b"220 echo ESMTP\r\n");
                let mut line = String::new();
                loop {
                    line.clear();
                    if r.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let l = line.trim_end();
                    let up = l.to_ascii_uppercase();
                    let answer = if up.starts_with("EHLO") {
                        "250-echo\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n".to_owned()
                    } else if up.starts_with("AUTH") {
                        format!("535 5.7.8 not accepted: {l}\r\n")
                    } else if up.starts_with("QUIT") {
                        let _ = w.write_all(b"221 bye\r\n");
                        return;
                    } else {
                        "250 ok\r\n".to_owned()
                    };
                    if w.write_all(answer.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    port
}

#[test]
fn a_plaintext_smtp_login_is_warned_about_and_stored_errors_never_quote_what_was_sent() {
    let env = Env::new();
    let port = echoing_smtp_server();
    let password = "S3cret-pw-QQ";
    env.append_config(&format!(
        "[mail]\ntransport = \"smtp\"\nsmtp_host = \"127.0.0.1\"\nsmtp_port = {port}\nsmtp_tls = \"none\"\nsmtp_user = \"aimuser\"\nsmtp_password_env = \"AIM_TEST_SMTP_PW\"\n"
    ));
    env.add_staff("viewer");
    let mut d = env.start_with(|c| {
        c.env("AIM_TEST_SMTP_PW", password);
    });
    d.wait_ready();
    let log = d.stderr();
    assert!(log.contains("PLAINTEXT SMTP LOGIN"), "{log}");
    drop_file(&env.inbox_of(ACME), "m.xml", valid_with_control("7301"));
    d.wait_ack(&env.outbox_of(ACME), "m.ack.xml");
    let errors = d.wait_for("the failed delivery", WAIT, || {
        let mut s = connect(&env);
        s.write_all(b"{\"v\":1,\"id\":1,\"op\":\"mail\"}\n").ok()?;
        let mut line = String::new();
        BufReader::new(s).read_line(&mut line).ok()?;
        let v: Value = serde_json::from_str(&line).ok()?;
        let data = &v["ok"]["data"];
        let errors: Vec<String> = ["waiting", "dead"]
            .iter()
            .flat_map(|k| data[*k].as_array().cloned().unwrap_or_default())
            .filter_map(|j| j["last_error"].as_str().map(str::to_owned))
            .collect();
        (!errors.is_empty()).then_some(errors)
    });
    // AUTH PLAIN sends base64("\0user\0password").
    let plain = "AGFpbXVzZXIAUzNjcmV0LXB3LVFR";
    for e in &errors {
        assert!(e.contains("535"), "{e}");
        assert!(
            !e.contains(password) && !e.contains(plain),
            "stored for staff: {e}"
        );
    }
    let mut log = String::new();
    fs::File::open(&d.stderr_path)
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
    assert!(!log.contains(password) && !log.contains(plain), "{log}");
}
