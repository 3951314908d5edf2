//! The daemon as a service (spec section 8, "Running as a service"), through the real binary:
//! systemd's notification socket (a datagram socket of the test's own as `NOTIFY_SOCKET`),
//! the watchdog and a stalled loop, `GET /metrics` and `GET /healthz` through a real HTTP
//! client, and `aim status --check`.
#![allow(
    clippy::unwrap_used,
    clippy::too_many_lines,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)] // Test code: a panic is the failure report, a scenario reads top to bottom.

mod common;
mod daemon_harness;

use daemon_harness::*;
use std::ffi::OsStr;
use std::fs;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the daemon sent to its `NOTIFY_SOCKET`: each line with the time it arrived.
#[derive(Clone)]
struct Notes(Arc<Mutex<Vec<(Instant, String)>>>);

impl Notes {
    /// Bind `dir/notify.sock` and collect every datagram on a thread.
    fn listen(dir: &Path) -> (Notes, PathBuf) {
        let path = dir.join("notify.sock");
        let sock = UnixDatagram::bind(&path).expect("bind the notify socket");
        let notes = Notes(Arc::new(Mutex::new(Vec::new())));
        let n = notes.clone();
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 4096];
            while let Ok(len) = sock.recv(&mut buf) {
                let at = Instant::now();
                let text = String::from_utf8_lossy(&buf[..len]).into_owned();
                let mut g = n.0.lock().unwrap();
                for line in text.lines() {
                    g.push((at, line.to_owned()));
                }
            }
        });
        (notes, path)
    }

    fn all(&self) -> Vec<(Instant, String)> {
        self.0.lock().unwrap().clone()
    }

    fn count(&self, line: &str) -> usize {
        self.all().iter().filter(|(_, l)| l == line).count()
    }

    /// Times of the watchdog pets.
    fn pets(&self) -> Vec<Instant> {
        self.all()
            .into_iter()
            .filter(|(_, l)| l == "WATCHDOG=1")
            .map(|(t, _)| t)
            .collect()
    }

    fn statuses(&self) -> Vec<String> {
        self.all()
            .into_iter()
            .filter_map(|(_, l)| l.strip_prefix("STATUS=").map(str::to_owned))
            .collect()
    }

    /// Wait (on the daemon's behalf) for a line that satisfies `f`.
    fn wait(&self, d: &mut Daemon, what: &str, f: impl Fn(&str) -> bool) {
        d.wait_for(what, WAIT, || {
            self.all().iter().any(|(_, l)| f(l)).then_some(())
        });
    }
}

fn notify_vars<'a>(sock: &'a Path, watchdog_usec: &'a str) -> Vec<(&'a str, &'a OsStr)> {
    vec![
        ("NOTIFY_SOCKET", sock.as_os_str()),
        ("WATCHDOG_USEC", OsStr::new(watchdog_usec)),
    ]
}

/// The longest gap between consecutive pets, and how many there were, within [from, to].
fn pet_gaps(pets: &[Instant], from: Instant, to: Instant) -> (Duration, usize) {
    let inside: Vec<Instant> = pets
        .iter()
        .copied()
        .filter(|t| *t >= from && *t <= to)
        .collect();
    let mut edges = vec![from];
    edges.extend(&inside);
    edges.push(to);
    let gap = edges
        .windows(2)
        .map(|w| w[1] - w[0])
        .max()
        .unwrap_or_default();
    (gap, inside.len())
}

#[test]
fn systemd_hears_ready_regular_watchdog_pets_and_stopping_on_sigterm() {
    let env = Env::new();
    let (notes, sock) = Notes::listen(env.dir.path());
    // A 2 s watchdog: pets at least twice per interval, i.e. never more than 1 s apart.
    let mut d = env.start_with_env(&notify_vars(&sock, "2000000"));
    notes.wait(&mut d, "READY=1", |l| l == "READY=1");
    assert!(
        d.stderr().contains("intake started"),
        "READY before intake runs"
    );
    assert_eq!(
        notes.statuses().first().map(String::as_str),
        Some("running: intake watches the inboxes")
    );
    let from = Instant::now();
    std::thread::sleep(Duration::from_secs(5));
    let to = Instant::now();
    let (gap, n) = pet_gaps(&notes.pets(), from, to);
    assert!(n >= 5, "{n} pets in 5 s with a 2 s watchdog");
    assert!(gap <= Duration::from_millis(1000), "a gap of {gap:?}");
    // Work between turns does not stop the pets: files are answered meanwhile.
    drop_file(
        &env.inbox_of(ACME),
        "a.xml",
        valid_with_control("000000901"),
    );
    d.wait_ack(&env.outbox_of(ACME), "a.ack.xml");

    d.signal(rustix::process::Signal::TERM);
    let st = d.wait_exit(Duration::from_secs(10));
    assert!(st.success(), "{st}");
    assert_eq!(notes.count("READY=1"), 1);
    assert_eq!(notes.count("STOPPING=1"), 1, "{:?}", notes.all());
    assert!(
        notes
            .statuses()
            .last()
            .is_some_and(|s| s.starts_with("stopping")),
        "{:?}",
        notes.statuses()
    );
}

#[test]
fn a_stalled_main_loop_stops_the_watchdog_pets_until_it_turns_again() {
    let env = Env::new();
    let (notes, sock) = Notes::listen(env.dir.path());
    let stall = env.dir.path().join("stall");
    let mut vars = notify_vars(&sock, "1000000");
    vars.push(("AIM_TEST_STALL_FILE", stall.as_os_str()));
    let mut d = env.start_with_env(&vars);
    notes.wait(&mut d, "READY=1", |l| l == "READY=1");
    let before = notes.pets().len();
    d.wait_for("pets", WAIT, || {
        (notes.pets().len() >= before + 2).then_some(())
    });

    fs::write(&stall, b"").unwrap();
    // A turn in flight finishes; from then on the loop stands still.
    std::thread::sleep(Duration::from_millis(500));
    let stalled_at = notes.pets().len();
    std::thread::sleep(Duration::from_secs(3));
    d.assert_alive();
    assert_eq!(
        notes.pets().len(),
        stalled_at,
        "pets while the loop stood still for three watchdog intervals"
    );

    fs::remove_file(&stall).unwrap();
    let resumed = Instant::now();
    d.wait_for("pets again", Duration::from_secs(5), || {
        (notes.pets().len() > stalled_at).then_some(())
    });
    assert!(resumed.elapsed() < Duration::from_secs(2));
}

/// Metrics on an ephemeral loopback port; the address the daemon bound is read from its log.
fn with_metrics(env: &Env) {
    let c = fs::read_to_string(&env.config).unwrap();
    fs::write(
        &env.config,
        c.replacen(
            "[intake]",
            "[metrics]\nlisten = \"127.0.0.1:0\"\n[intake]",
            1,
        ),
    )
    .unwrap();
}

fn metrics_address(d: &mut Daemon) -> String {
    let p = d.stderr_path.clone();
    d.wait_for("the metrics address in the log", WAIT, || {
        let log = fs::read_to_string(&p).ok()?;
        let line = log
            .lines()
            .find(|l| l.contains("metrics and health served"))?;
        let a = line.split("address=").nth(1)?.split_whitespace().next()?;
        Some(a.to_owned())
    })
}

/// A real HTTP client: status and body of `GET http://addr/path` (errors are answers too).
fn get(addr: &str, path: &str) -> (u16, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into();
    let mut r = agent
        .get(&format!("http://{addr}{path}"))
        .call()
        .unwrap_or_else(|e| panic!("GET {path}: {e}"));
    let code = r.status().as_u16();
    (code, r.body_mut().read_to_string().expect("body"))
}

/// The value of the sample `name` (with its labels, exactly as written) in the text format.
fn sample(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no sample {name} in\n{text}"))
        .trim()
        .parse()
        .expect("a number")
}

fn check(env: &Env) -> (i32, String) {
    let o = env.aim(&["status", "--check"]);
    let (out, err) = out_text(&o);
    (o.status.code().expect("exit code"), format!("{out}{err}"))
}

#[test]
fn metrics_count_accepted_partial_and_rejected_files_as_their_acks_are_written() {
    let env = Env::new();
    with_metrics(&env);
    let mut d = env.start_ready();
    let addr = metrics_address(&mut d);
    let (code, body) = get(&addr, "/metrics");
    assert_eq!(code, 200);
    assert_eq!(sample(&body, "aim_files_total{status=\"accepted\"}"), 0.0);

    let files: Vec<(&str, Vec<u8>)> = vec![
        ("one.xml", valid_with_control("000000801").into_bytes()),
        ("two.xml", valid_with_control("000000802").into_bytes()),
        ("partial.xml", sample_file("ACMEBRK/partial-two-apps.xml")),
        ("hts.xml", sample_file("ACMEBRK/bad-hts-scope.xml")),
        (
            "broken.xml",
            sample_file("ACMEBRK/file-not-well-formed.xml"),
        ),
    ];
    let inbox = env.inbox_of(ACME);
    for (name, bytes) in &files {
        drop_file(&inbox, name, bytes);
    }
    // What the acks say, counted by the test from the acks themselves.
    let mut want_files = std::collections::BTreeMap::<String, f64>::new();
    let mut want_apps = std::collections::BTreeMap::<String, f64>::new();
    for (name, _) in &files {
        let ack = parse_ack(&d.wait_ack(&env.outbox_of(ACME), &ack_name(name)));
        *want_files.entry(ack.status.clone()).or_default() += 1.0;
        for a in &ack.apps {
            *want_apps.entry(a.status.clone()).or_default() += 1.0;
        }
    }
    assert_eq!(want_files.len(), 3, "{want_files:?}");
    // The same file again: answered with its original ack, counted as a file, no application.
    drop_file(&inbox, "one-again.xml", &files[0].1);
    d.wait_ack(&env.outbox_of(ACME), "one-again.ack.xml");
    *want_files.get_mut("accepted").unwrap() += 1.0;

    let (code, body) = get(&addr, "/metrics");
    assert_eq!(code, 200);
    for status in ["accepted", "partial", "rejected"] {
        assert_eq!(
            sample(&body, &format!("aim_files_total{{status=\"{status}\"}}")),
            want_files.get(status).copied().unwrap_or(0.0),
            "{status}\n{body}"
        );
    }
    for status in ["issued", "rejected", "pending-review"] {
        assert_eq!(
            sample(
                &body,
                &format!("aim_applications_total{{status=\"{status}\"}}")
            ),
            want_apps.get(status).copied().unwrap_or(0.0),
            "{status}\n{body}"
        );
    }
    assert_eq!(sample(&body, "aim_file_seconds_count"), 6.0, "{body}");
    assert!(sample(&body, "aim_file_seconds_sum") > 0.0);
    assert_eq!(
        sample(&body, "aim_licenses_on_record"),
        want_apps["issued"],
        "{body}"
    );
    assert_eq!(sample(&body, "aim_intake_paused"), 0.0);
    assert!(
        body.contains("aim_mail_messages{state=\"dead\"} 0"),
        "{body}"
    );
    // Labels carry nothing a filer chose.
    for secret in [ACME, "one", "partial.xml", "broken", "000000801"] {
        assert!(!body.contains(secret), "{secret} in\n{body}");
    }

    assert_eq!(
        get(&addr, "/healthz"),
        (200, "{\"status\":\"ok\"}\n".into())
    );
    assert_eq!(get(&addr, "/").0, 404);
    assert_eq!(get(&addr, "/metrics/../healthz?x=1").0, 404);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let r = agent
        .post(&format!("http://{addr}/metrics"))
        .send("x")
        .unwrap();
    assert_eq!(r.status().as_u16(), 405);
}

fn sample_file(rel: &str) -> Vec<u8> {
    daemon_harness::sample(rel)
}

#[test]
fn the_metrics_server_refuses_oversized_heads_and_answers_again_after_many_idle_connections() {
    use std::io::{Read, Write};
    let env = Env::new();
    with_metrics(&env);
    let mut d = env.start_ready();
    let addr = metrics_address(&mut d);
    // A request head beyond 8 KiB: refused, not read on and on.
    let mut s = std::net::TcpStream::connect(&addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let head = format!(
        "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(20_000)
    );
    let _ = s.write_all(head.as_bytes());
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 431"),
        "{answer}"
    );
    // More idle connections than the server serves at once: they are closed or time out,
    // and the server answers again.
    let idle: Vec<std::net::TcpStream> = (0..40)
        .filter_map(|_| std::net::TcpStream::connect(&addr).ok())
        .collect();
    let deadline = Instant::now() + Duration::from_secs(20);
    let ok = loop {
        if let Ok(mut s) = std::net::TcpStream::connect(&addr) {
            s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
            let _ = s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
            let mut a = String::new();
            let _ = s.read_to_string(&mut a);
            if a.starts_with("HTTP/1.1 200") {
                break true;
            }
        }
        if Instant::now() > deadline {
            break false;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    drop(idle);
    assert!(ok, "no answer while idle connections were held");
    d.assert_alive();
}

#[test]
fn a_full_outbox_shows_as_paused_everywhere_and_as_ok_once_space_returns() {
    if !is_root() {
        eprintln!("skipped: mounting a tmpfs needs root");
        return;
    }
    let env = Env::new();
    env.add_staff("viewer");
    with_metrics(&env);
    let disk = Tmpfs::mount(&env.outbox, "1m");
    let (notes, sock) = Notes::listen(env.dir.path());
    let mut d = env.start_with_env(&notify_vars(&sock, "2000000"));
    d.wait_ready();
    let addr = metrics_address(&mut d);
    assert_eq!(get(&addr, "/healthz").0, 200);
    assert_eq!(
        check(&env),
        (0, "AIM OK: intake running, mail worker running\n".into())
    );

    let filler = disk.fill(8);
    let inbox = env.inbox_of(ACME);
    for i in 0..20 {
        drop_file(
            &inbox,
            &format!("f{i}.xml"),
            valid_with_control(&format!("{:09}", 700 + i)),
        );
    }
    notes.wait(&mut d, "a STATUS saying paused", |l| {
        l.starts_with("STATUS=intake paused")
    });
    let (code, body) = get(&addr, "/healthz");
    assert_eq!(code, 503, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["status"], "paused");
    let problems = v["problems"].as_array().unwrap();
    assert!(
        problems
            .iter()
            .any(|p| p.as_str().unwrap().contains("intake paused")),
        "{v}"
    );
    let (_, m) = get(&addr, "/metrics");
    assert_eq!(sample(&m, "aim_intake_paused"), 1.0, "{m}");

    // `aim status` shows the same problems; --check says critical.
    let (code, text) = check(&env);
    assert_eq!(code, 2, "{text}");
    assert!(text.starts_with("AIM CRITICAL: intake paused"), "{text}");
    let status = json_of(&env.aim(&["status", "--json"]));
    assert_eq!(&status["problems"], &v["problems"], "{status}");
    let o = env.aim(&["status"]);
    let (out, _) = out_text(&o);
    assert!(out.contains("Intake                 paused"), "{out}");

    // Watchdog pets go on while paused: the loop turns, it only does not read files.
    let n = notes.pets().len();
    d.wait_for("pets while paused", WAIT, || {
        (notes.pets().len() >= n + 2).then_some(())
    });

    fs::remove_file(filler).unwrap();
    d.wait_for("healthz 200 again", Duration::from_secs(120), || {
        (get(&addr, "/healthz").0 == 200).then_some(())
    });
    let (_, m) = get(&addr, "/metrics");
    assert_eq!(sample(&m, "aim_intake_paused"), 0.0, "{m}");
    assert_eq!(check(&env).0, 0);
    notes.wait(&mut d, "a STATUS saying running", |l| {
        l == "STATUS=running: intake watches the inboxes"
    });
    d.wait_for("every file answered", Duration::from_secs(60), || {
        (visible_files(&env.outbox_of(ACME)).len() == 20).then_some(())
    });
    let (_, m) = get(&addr, "/metrics");
    assert_eq!(sample(&m, "aim_files_total{status=\"accepted\"}"), 20.0);
}

#[test]
fn status_check_warns_while_mail_is_retried_and_is_critical_without_a_daemon() {
    let env = Env::new();
    env.add_staff("viewer");
    // Nothing listens on this port: every delivery fails and is retried.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    env.append_config(&format!(
        "[mail]\ntransport = \"smtp\"\nsmtp_host = \"127.0.0.1\"\nsmtp_port = {port}\n"
    ));
    let (code, text) = check(&env);
    assert_eq!(code, 2, "no daemon: {text}");
    assert!(
        text.starts_with("AIM CRITICAL: cannot ask the daemon"),
        "{text}"
    );

    let mut d = env.start_ready();
    drop_file(
        &env.inbox_of(ACME),
        "m.xml",
        valid_with_control("000000601"),
    );
    d.wait_ack(&env.outbox_of(ACME), "m.ack.xml");
    let text = d.wait_for("a warning for the retried mail", WAIT, || {
        let (code, text) = check(&env);
        (code == 1).then_some(text)
    });
    assert_eq!(
        text, "AIM WARNING: 1 mail message waiting to be retried\n",
        "{text}"
    );
    let o = env.aim(&["status", "--check", "--json"]);
    assert_eq!(o.status.code(), Some(1));
    let v = json_of(&o);
    assert_eq!(v["level"], "warning");
}

#[test]
fn a_mail_worker_that_cannot_run_is_critical_in_healthz_and_status_check() {
    let env = Env::new();
    env.add_staff("viewer");
    with_metrics(&env);
    // A user without a password: the worker cannot start, intake runs on.
    env.append_config(
        "[mail]\ntransport = \"smtp\"\nsmtp_user = \"aim\"\nsmtp_password_env = \"AIM_TEST_NO_SUCH_PASSWORD\"\n",
    );
    let mut d = env.start_ready();
    let addr = metrics_address(&mut d);
    let (code, body) = d.wait_for("healthz 503", WAIT, || {
        let r = get(&addr, "/healthz");
        (r.0 == 503).then_some(r)
    });
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!((code, &v["status"]), (503, &serde_json::json!("degraded")));
    assert!(
        v["problems"][0]
            .as_str()
            .unwrap()
            .starts_with("mail is not sent"),
        "{v}"
    );
    let (code, text) = check(&env);
    assert_eq!(code, 2, "{text}");
    assert!(text.starts_with("AIM CRITICAL: mail is not sent"), "{text}");
    let (_, m) = get(&addr, "/metrics");
    assert_eq!(sample(&m, "aim_intake_paused"), 0.0);
}
