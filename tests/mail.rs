//! E-mail end to end: the real daemon against a real SMTP server (Python's aiosmtpd, writing
//! a Maildir): recipients, subject, summary and attachment; an outage and recovery; a kill
//! with messages queued; a permanent 550 rejection.
#![allow(
    clippy::unwrap_used,
    clippy::too_many_lines,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)] // Test code: a panic is the failure report, a scenario reads top to bottom.

use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Kill(Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn smtp_server(port: u16, maildir: &Path, reject: &str) -> Kill {
    smtp_server_with(port, maildir, reject, &[])
}

/// The Python that runs the SMTP test server: `AIM_TEST_PYTHON` when set (it must have
/// aiosmtpd), otherwise the first of `/usr/bin/python3` (Debian's, with the `python3-aiosmtpd`
/// package) and `python3` on PATH that can import aiosmtpd. A pyenv or virtualenv `python3`
/// first on PATH is thus no obstacle, and neither is Debian's Python first on PATH.
fn test_python() -> PathBuf {
    static PICKED: std::sync::OnceLock<Result<PathBuf, String>> = std::sync::OnceLock::new();
    PICKED
        .get_or_init(|| {
            pick_python(
                std::env::var_os("AIM_TEST_PYTHON"),
                &[PathBuf::from("/usr/bin/python3"), PathBuf::from("python3")],
            )
        })
        .clone()
        .unwrap_or_else(|e| panic!("{e}"))
}

fn has_aiosmtpd(python: &Path) -> bool {
    Command::new(python)
        .args(["-c", "import aiosmtpd"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn pick_python(
    chosen: Option<std::ffi::OsString>,
    candidates: &[PathBuf],
) -> Result<PathBuf, String> {
    if let Some(p) = chosen {
        let p = PathBuf::from(p);
        return if has_aiosmtpd(&p) {
            Ok(p)
        } else {
            Err(format!(
                "AIM_TEST_PYTHON={} cannot import aiosmtpd: point it at a Python that has it, or unset it",
                p.display()
            ))
        };
    }
    candidates
        .iter()
        .find(|p| has_aiosmtpd(p))
        .cloned()
        .ok_or_else(|| {
            let tried: Vec<String> = candidates.iter().map(|p| p.display().to_string()).collect();
            format!(
                "no Python with aiosmtpd for the SMTP test server (tried {}): on Debian run \
                 `apt-get install python3-aiosmtpd`, or set AIM_TEST_PYTHON to a Python that has it",
                tried.join(", ")
            )
        })
}

#[test]
fn the_test_python_is_one_that_has_aiosmtpd() {
    // Stand-ins: `true -c 'import aiosmtpd'` succeeds, `false …` fails.
    let dir = tempfile::tempdir().unwrap();
    let with = PathBuf::from("/bin/true");
    let without = PathBuf::from("/bin/false");
    let missing = dir.path().join("no-such-python");
    // The first candidate that can import aiosmtpd wins; missing ones are skipped.
    assert_eq!(
        pick_python(None, &[missing.clone(), without.clone(), with.clone()]),
        Ok(with.clone())
    );
    // None has it: the message says how to install it the Debian way.
    let e = pick_python(None, &[missing.clone(), without.clone()]).unwrap_err();
    assert!(e.contains("apt-get install python3-aiosmtpd"), "{e}");
    assert!(e.contains(&without.display().to_string()), "{e}");
    // An explicit choice is taken as it is, or refused with its name.
    assert_eq!(
        pick_python(Some(with.clone().into()), std::slice::from_ref(&without)),
        Ok(with)
    );
    let e = pick_python(Some(without.clone().into()), &[]).unwrap_err();
    assert!(e.contains("AIM_TEST_PYTHON"), "{e}");
}

fn smtp_server_with(port: u16, maildir: &Path, reject: &str, extra: &[&str]) -> Kill {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/smtp_server.py");
    let python = test_python();
    let mut child = Command::new(&python)
        .arg(script)
        .args(["--port", &port.to_string(), "--maildir"])
        .arg(maildir)
        .args(["--reject", reject])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(maildir.with_extension("smtp.log")).unwrap())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", python.display()));
    let mut first = [0u8; 5];
    let ok = child
        .stdout
        .as_mut()
        .unwrap()
        .read_exact(&mut first)
        .is_ok()
        && &first == b"ready";
    assert!(
        ok,
        "the SMTP test server ({} tests/support/smtp_server.py) did not start; its stderr is in {}",
        python.display(),
        maildir.with_extension("smtp.log").display()
    );
    Kill(child)
}

struct Env {
    dir: tempfile::TempDir,
    config: PathBuf,
}

impl Env {
    fn new(smtp_port: u16, partner_email: &str) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let config = d.join("aim.toml");
        std::fs::write(
            &config,
            format!(
                r#"inbox = "{0}/inbox"
outbox = "{0}/outbox"
data = "{0}/var"
[intake]
settle_ms = 100
rescan_secs = 1
[mail]
transport = "smtp"
smtp_host = "127.0.0.1"
smtp_port = {smtp_port}
from = "AIM Licensing <aim@agency.example>"
retry_initial_secs = 1
retry_max_secs = 2
give_up_secs = 3600
[[partner]]
id = "ACMEBRK"
name = "Acme"
emails = ["{partner_email}", "second@acme.example"]
"#,
                d.display()
            ),
        )
        .unwrap();
        Env { dir, config }
    }

    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    /// Change `[mail]` settings: `key = value` lines replacing the shipped ones or added.
    fn mail_settings(&self, settings: &[(&str, &str)]) {
        let mut text = std::fs::read_to_string(&self.config).unwrap();
        for (k, v) in settings {
            let line = format!("{k} = {v}");
            match text.lines().find(|l| l.starts_with(&format!("{k} ="))) {
                Some(old) => text = text.replace(old, &line),
                None => text = text.replace("[mail]\n", &format!("[mail]\n{line}\n")),
            }
        }
        std::fs::write(&self.config, text).unwrap();
    }

    fn daemon(&self) -> Kill {
        self.daemon_with_env(&[])
    }

    fn daemon_with_env(&self, vars: &[(&str, &str)]) -> Kill {
        let child = Command::new(env!("CARGO_BIN_EXE_aim"))
            .envs(vars.iter().copied())
            .args(["daemon", "--config"])
            .arg(&self.config)
            .stderr(std::fs::File::create(self.path("daemon.log")).unwrap())
            .spawn()
            .unwrap();
        let k = Kill(child);
        wait_for(
            || self.path("inbox/ACMEBRK").is_dir(),
            "the daemon to create the inbox",
        );
        k
    }

    /// Drop a valid filing with this control number (dates moved to today).
    fn drop_filing(&self, name: &str, control: u32) {
        let samples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/samples/ACMEBRK");
        let text = std::fs::read_to_string(samples.join("valid-single.xml"))
            .expect("the shared samples must lie beside the repository (../shared/samples)");
        let today = chrono::Utc::now().date_naive();
        let text = text
            .replace(
                "<ControlNumber>000000101</ControlNumber>",
                &format!("<ControlNumber>{control}</ControlNumber>"),
            )
            .replace("2026-12-01", &(today + chrono::Days::new(3)).to_string())
            .replace("2026-12-05", &(today + chrono::Days::new(7)).to_string());
        let inbox = self.path("inbox/ACMEBRK");
        std::fs::write(inbox.join(format!(".{name}.tmp")), text).unwrap();
        std::fs::rename(inbox.join(format!(".{name}.tmp")), inbox.join(name)).unwrap();
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.path("daemon.log")).unwrap_or_default()
    }
}

fn wait_for(mut cond: impl FnMut() -> bool, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(40);
    while Instant::now() < deadline {
        if cond() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("timed out waiting for {what}");
}

/// The messages in a Maildir: (headers + body as text, raw).
fn messages(maildir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for sub in ["new", "cur"] {
        if let Ok(rd) = std::fs::read_dir(maildir.join(sub)) {
            for e in rd.flatten() {
                out.push(std::fs::read_to_string(e.path()).unwrap());
            }
        }
    }
    out
}

fn header<'a>(msg: &'a str, name: &str) -> Option<&'a str> {
    msg.lines()
        .take_while(|l| !l.is_empty())
        .find_map(|l| l.strip_prefix(&format!("{name}: ")))
}

/// The decoded attachment and the decoded text part of a message.
fn parts(msg: &str) -> (Vec<u8>, String) {
    let m = mailparse::parse_mail(msg.as_bytes()).expect("a MIME message");
    let mut attachment = None;
    let mut text = None;
    for p in &m.subparts {
        let cd = p.get_content_disposition();
        if cd.disposition == mailparse::DispositionType::Attachment {
            attachment = Some(p.get_body_raw().unwrap());
        } else if p.ctype.mimetype == "text/plain" {
            text = Some(p.get_body().unwrap());
        }
    }
    (
        attachment.expect("an attachment"),
        text.expect("a text part"),
    )
}

#[test]
fn acks_arrive_with_summary_and_attachment() {
    let port = free_port();
    let env = Env::new(port, "filings@acme.example");
    let maildir = env.path("maildir");
    let _smtp = smtp_server(port, &maildir, "");
    let _d = env.daemon();
    env.drop_filing("one.xml", 501);
    std::fs::write(env.path("inbox/ACMEBRK/notes.txt"), "not a filing").unwrap();
    wait_for(|| messages(&maildir).len() >= 2, "two messages");
    let msgs = messages(&maildir);
    let one = msgs
        .iter()
        .find(|m| m.contains("one.ack.xml"))
        .expect("the ack of one.xml");
    let to = header(one, "To").unwrap();
    assert!(
        to.contains("filings@acme.example") && to.contains("second@acme.example"),
        "{to}"
    );
    assert_eq!(
        header(one, "X-Envelope-To").unwrap(),
        "filings@acme.example, second@acme.example"
    );
    assert_eq!(
        header(one, "Subject").unwrap(),
        "AIM acknowledgement: control number 501 accepted"
    );
    let (attached, text) = parts(one);
    assert!(text.contains("Control number:  501"), "{text}");
    assert!(
        text.contains("Application A1: issued, license AIM-"),
        "{text}"
    );
    let ack = std::fs::read(env.path("outbox/ACMEBRK/one.ack.xml")).unwrap();
    assert_eq!(
        attached, ack,
        "the attachment is the ack file byte for byte"
    );

    let notes = msgs
        .iter()
        .find(|m| m.contains("notes.ack.xml"))
        .expect("the ack of notes.txt");
    // Rejected before its Interchange was read: the inbox names the partner, and the file
    // names itself.
    assert_eq!(
        header(notes, "Subject").unwrap(),
        "AIM acknowledgement: file \"notes.txt\" from ACMEBRK rejected"
    );
    let (_, notes_text) = parts(notes);
    assert!(
        notes_text.contains("The file was rejected: error F011"),
        "{notes_text}"
    );
    assert!(
        notes_text.contains("Sender:          ACMEBRK"),
        "{notes_text}"
    );
    assert!(
        notes_text.contains("File:            notes.txt"),
        "{notes_text}"
    );
    assert!(
        notes_text.contains("Control number:  (not readable from the file)"),
        "{notes_text}"
    );
    assert!(env.log().contains("mail delivered"));
}

#[test]
fn an_outage_delays_but_loses_nothing() {
    let port = free_port();
    let env = Env::new(port, "filings@acme.example");
    let maildir = env.path("maildir");
    let _d = env.daemon();
    for n in 0..5 {
        env.drop_filing(&format!("f{n}.xml"), 600 + n);
    }
    wait_for(
        || {
            std::fs::read_dir(env.path("outbox/ACMEBRK"))
                .unwrap()
                .count()
                == 5
        },
        "five acks while SMTP is down",
    );
    wait_for(
        || env.log().contains("will retry"),
        "a failed delivery to be retried",
    );
    let _smtp = smtp_server(port, &maildir, "");
    wait_for(
        || messages(&maildir).len() >= 5,
        "all five messages after the outage",
    );
    std::thread::sleep(Duration::from_secs(3));
    let msgs = messages(&maildir);
    assert_eq!(msgs.len(), 5, "every message exactly once");
    for n in 0..5 {
        assert_eq!(
            msgs.iter()
                .filter(|m| m.contains(&format!("f{n}.ack.xml")))
                .count(),
            1
        );
    }
}

#[test]
fn a_kill_with_messages_queued_loses_none_and_sends_none_twice() {
    let port = free_port();
    let env = Env::new(port, "filings@acme.example");
    let maildir = env.path("maildir");
    {
        let mut d = env.daemon();
        for n in 0..8 {
            env.drop_filing(&format!("k{n}.xml"), 700 + n);
        }
        wait_for(
            || {
                std::fs::read_dir(env.path("outbox/ACMEBRK"))
                    .unwrap()
                    .count()
                    == 8
            },
            "eight acks",
        );
        d.0.kill().unwrap();
        d.0.wait().unwrap();
    }
    let _smtp = smtp_server(port, &maildir, "");
    let _d = env.daemon();
    wait_for(
        || messages(&maildir).len() >= 8,
        "all eight messages after the restart",
    );
    std::thread::sleep(Duration::from_secs(2));
    let msgs = messages(&maildir);
    assert_eq!(msgs.len(), 8);
    for n in 0..8 {
        assert_eq!(
            msgs.iter()
                .filter(|m| m.contains(&format!("k{n}.ack.xml")))
                .count(),
            1
        );
    }
}

#[test]
fn a_permanent_rejection_becomes_a_dead_letter() {
    let port = free_port();
    let env = Env::new(port, "reject-me@acme.example");
    let maildir = env.path("maildir");
    let _smtp = smtp_server(port, &maildir, "reject-me");
    let _d = env.daemon();
    env.drop_filing("dead.xml", 801);
    wait_for(|| env.log().contains("dead letter"), "the dead letter");
    std::thread::sleep(Duration::from_secs(3));
    let attempts = std::fs::read_to_string(maildir.join("rcpt.log")).unwrap();
    assert_eq!(
        attempts.lines().filter(|l| l.contains("reject-me")).count(),
        1,
        "never retried: {attempts}"
    );
    assert!(messages(&maildir).is_empty());
    assert!(
        env.log().contains("550"),
        "the SMTP error is kept: {}",
        env.log()
    );
}

#[test]
fn a_dead_letter_makes_status_check_warn() {
    let port = free_port();
    let env = Env::new(port, "reject-me@acme.example");
    let user = nix::unistd::User::from_uid(nix::unistd::Uid::effective())
        .unwrap()
        .expect("the test user has a name")
        .name;
    let mut text = std::fs::read_to_string(&env.config).unwrap();
    text.push_str(&format!(
        "[[staff]]\nuser = \"{user}\"\nrole = \"viewer\"\n"
    ));
    std::fs::write(&env.config, text).unwrap();
    let maildir = env.path("maildir");
    let _smtp = smtp_server(port, &maildir, "reject-me");
    let _d = env.daemon();
    let check = || {
        let o = Command::new(env!("CARGO_BIN_EXE_aim"))
            .args(["status", "--check", "--config"])
            .arg(&env.config)
            .output()
            .unwrap();
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
        )
    };
    wait_for(|| check().0 == Some(0), "status --check ok before any mail");
    env.drop_filing("dead.xml", 802);
    wait_for(|| env.log().contains("dead letter"), "the dead letter");
    let (code, out) = check();
    assert_eq!(code, Some(1), "{out}");
    assert!(out.starts_with("AIM WARNING: 1 dead letter"), "{out}");
}

#[test]
fn the_file_transport_writes_one_eml_per_ack() {
    let env = Env::new(free_port(), "filings@acme.example");
    // The first-run default: no SMTP, messages as files under <data>/mail.
    let text = std::fs::read_to_string(&env.config).unwrap();
    std::fs::write(
        &env.config,
        text.replace("transport = \"smtp\"", "transport = \"file\""),
    )
    .unwrap();
    let _d = env.daemon();
    env.drop_filing("f.xml", 901);
    let mail_dir = env.path("var/mail");
    let emls = || -> Vec<PathBuf> {
        std::fs::read_dir(&mail_dir)
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "eml"))
                    .collect()
            })
            .unwrap_or_default()
    };
    wait_for(|| !emls().is_empty(), "an .eml file");
    std::thread::sleep(Duration::from_millis(500));
    let files = emls();
    assert_eq!(files.len(), 1);
    let msg = std::fs::read_to_string(&files[0]).unwrap();
    assert!(header(&msg, "To").unwrap().contains("filings@acme.example"));
    let (attached, text) = parts(&msg);
    assert_eq!(
        attached,
        std::fs::read(env.path("outbox/ACMEBRK/f.ack.xml")).unwrap()
    );
    assert!(text.contains("Outcome:         accepted"), "{text}");
}

/// A test CA and a relay certificate for 127.0.0.1 signed by it, made with the openssl
/// command-line tool (the program itself uses rustls). Returns (CA, relay cert, relay key).
fn certificate(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let p = |n: &str| dir.join(n);
    std::fs::write(
        p("relay.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    let run = |args: &[&str]| {
        let ok = Command::new("openssl")
            .current_dir(dir)
            .args(args)
            .stderr(Stdio::null())
            .status()
            .expect("the openssl command (package openssl) makes the test certificates")
            .success();
        assert!(ok, "openssl {args:?} failed");
    };
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=AIM test CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
    ]);
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        "relay.key",
        "-out",
        "relay.csr",
    ]);
    run(&[
        "x509",
        "-req",
        "-in",
        "relay.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "relay.ext",
        "-out",
        "relay.pem",
    ]);
    (p("ca.pem"), p("relay.pem"), p("relay.key"))
}

fn tls_delivery(mode: &str, flag: &str) {
    let port = free_port();
    let env = Env::new(port, "filings@acme.example");
    let maildir = env.path("maildir");
    let (ca, cert, key) = certificate(env.dir.path());
    let (cert_s, key_s) = (cert.to_str().unwrap(), key.to_str().unwrap());
    let _smtp = smtp_server_with(
        port,
        &maildir,
        "",
        &[flag, cert_s, key_s, "--auth", "aim:s3cret"],
    );
    env.mail_settings(&[
        ("smtp_tls", &format!("\"{mode}\"")),
        ("smtp_user", "\"aim\""),
        ("smtp_ca_file", &format!("\"{}\"", ca.display())),
    ]);
    let _d = env.daemon_with_env(&[("AIM_SMTP_PASSWORD", "s3cret")]);
    env.drop_filing("tls.xml", 950);
    wait_for(|| !messages(&maildir).is_empty(), "the message over TLS");
    let auth = std::fs::read_to_string(maildir.join("auth.log")).unwrap();
    assert_eq!(
        auth.trim(),
        "ok aim",
        "logged in once with the password from the environment"
    );
    let (attached, _) = parts(&messages(&maildir)[0]);
    assert_eq!(
        attached,
        std::fs::read(env.path("outbox/ACMEBRK/tls.ack.xml")).unwrap()
    );
}

#[test]
fn starttls_with_login() {
    tls_delivery("starttls", "--starttls");
}

#[test]
fn implicit_tls_with_login() {
    tls_delivery("tls", "--tls");
}

#[test]
fn an_untrusted_certificate_is_refused_and_retried() {
    let port = free_port();
    let env = Env::new(port, "filings@acme.example");
    let maildir = env.path("maildir");
    let (_, cert, key) = certificate(env.dir.path());
    let _smtp = smtp_server_with(
        port,
        &maildir,
        "",
        &["--starttls", cert.to_str().unwrap(), key.to_str().unwrap()],
    );
    // No smtp_ca_file: the self-signed relay is not trusted, nothing goes out in plain text.
    env.mail_settings(&[("smtp_tls", "\"starttls\"")]);
    let _d = env.daemon();
    env.drop_filing("untrusted.xml", 951);
    wait_for(
        || env.log().contains("will retry"),
        "a refused TLS handshake to be retried",
    );
    assert!(messages(&maildir).is_empty());
}
