//! The staff commands of spec section 9 against the real `aim daemon` over its control socket:
//! text and `--json`, roles and refusals (audited), the socket's group, no daemon, and clients
//! that misbehave without disturbing intake or other clients.
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
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

/// Drop valid-single.xml as `name` with `control`; wait for its ack; its license number.
fn issue(env: &Env, d: &mut Daemon, name: &str, control: &str) -> String {
    drop_file(&env.inbox_of(ACME), name, valid_with_control(control));
    let ack = read_ack(&d.wait_ack(&env.outbox_of(ACME), &ack_name(name)));
    assert_eq!(ack.status, "accepted", "{:?}", ack.apps);
    ack.apps[0].license.clone().expect("a license number")
}

#[test]
fn no_daemon_is_exit_2_saying_how_to_start_one() {
    let env = Env::new();
    for args in [
        &["status"][..],
        &["license", "show", "AIM-2026-0000017-4"],
        &["audit"],
        &["review", "list"],
    ] {
        let o = env.aim(args);
        let (_, err) = out_text(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("no aim daemon is running"), "{err}");
        assert!(err.contains("aim daemon --config"), "{err}");
    }
}

#[test]
fn status_license_and_audit_in_text_and_json() {
    let env = Env::new();
    env.add_staff("supervisor");
    let mut d = env.start_ready();
    let lic = issue(&env, &mut d, "one.xml", "501");

    let s = json_of(&env.aim(&["status", "--json"]));
    for k in [
        "files_today",
        "applications_today",
        "licenses_issued_today",
        "rejected_today",
        "pending_review",
        "licenses_on_record",
        "mail_queued",
        "mail_dead",
    ] {
        assert!(s[k].is_u64(), "{k} in {s}");
    }
    assert_eq!(s["files_today"], 1);
    assert_eq!(s["licenses_issued_today"], 1);
    assert_eq!(s["licenses_on_record"], 1);
    let o = env.aim(&["status"]);
    assert!(o.status.success());
    let (text, _) = out_text(&o);
    assert!(text.contains("licenses issued"), "{text}");
    assert!(text.contains("Licenses on record            1"), "{text}");

    let l = json_of(&env.aim(&["license", "show", &lic, "--json"]));
    assert_eq!(l["license"], lic.as_str());
    assert_eq!(l["status"], "issued");
    assert_eq!(l["sender"], ACME);
    assert_eq!(l["importer"], "Northwind Metals Inc");
    assert!(l["valid_from"].is_string() && l["valid_through"].is_string());
    let p = &l["products"][0];
    assert_eq!(p["line"], 1);
    assert_eq!(p["hts"], "7606123090");
    assert_eq!(p["quantity_kg"], "12500.000");
    assert_eq!(p["value_usd"], "41250.00");
    assert_eq!(l["history"][0]["action"], "issued");
    assert_eq!(l["history"][0]["by"], "daemon");
    assert!(l["history"][0]["at"].as_str().unwrap().ends_with('Z'));
    let o = env.aim(&["license", "show", &lic]);
    let (text, _) = out_text(&o);
    assert!(
        text.contains(&lic) && text.contains("Northwind Metals Inc"),
        "{text}"
    );
    // Figures read as on the console: thousands grouped (the JSON keeps plain decimals).
    assert!(
        text.contains("12,500.000 kg") && text.contains("USD 41,250.00"),
        "{text}"
    );

    let a = json_of(&env.aim(&["audit", "--json"]));
    let first = &a[0];
    for k in ["at", "actor", "action", "subject", "outcome"] {
        assert!(first[k].is_string(), "{k} in {first}");
    }
    assert_eq!(first["actor"], "daemon");
    assert_eq!(first["action"], "receive");
    let by_license = json_of(&env.aim(&["audit", "--license", &lic, "--json"]));
    assert_eq!(by_license.as_array().unwrap().len(), 1);
    let o = env.aim(&["audit", "--limit", "1"]);
    let (text, _) = out_text(&o);
    assert_eq!(text.lines().count(), 1, "{text}");

    // Not found and bad arguments.
    let o = env.aim(&["license", "show", "AIM-2026-0000017-4"]);
    assert_eq!(o.status.code(), Some(1), "{:?}", out_text(&o));
    assert!(out_text(&o).1.contains("not on record"));
    let o = env.aim(&["license", "show", "AIM-2026-0000017-5"]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "a bad check digit is a bad argument"
    );
    assert!(out_text(&o).1.contains("check digit"), "{:?}", out_text(&o));
}

#[test]
fn a_viewer_may_not_cancel_and_the_refusal_is_audited() {
    let env = Env::new();
    env.add_staff("viewer");
    let mut d = env.start_ready();
    let lic = issue(&env, &mut d, "v.xml", "601");
    let o = env.aim(&["license", "cancel", &lic, "--reason", "test"]);
    let (_, err) = out_text(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    let user = current_user();
    assert!(
        err.contains(&user) && err.contains("viewer") && err.contains("supervisor"),
        "{err}"
    );
    let a = json_of(&env.aim(&["audit", "--json"]));
    let refusal = a
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["outcome"] == "refused")
        .unwrap_or_else(|| panic!("no refusal in {a}"));
    assert_eq!(refusal["actor"], user.as_str());
    assert_eq!(refusal["action"], "cancel");
    assert_eq!(refusal["subject"], lic.as_str());
    let l = json_of(&env.aim(&["license", "show", &lic, "--json"]));
    assert_eq!(l["status"], "issued", "nothing changed");
}

#[test]
fn a_supervisor_cancels_and_the_filer_gets_a_follow_up_ack_and_mail() {
    let env = Env::new();
    env.add_staff("supervisor");
    let mut d = env.start_ready();
    let lic = issue(&env, &mut d, "batch-9.xml", "701");
    let o = env.aim(&[
        "license",
        "cancel",
        &lic,
        "--reason",
        "importer withdrew",
        "--json",
    ]);
    assert!(o.status.success(), "{:?}", out_text(&o));
    let c = json_of(&o);
    assert_eq!(c["ack_name"], "batch-9.ack-2.xml");
    let ack = read_ack(&d.wait_ack(&env.outbox_of(ACME), "batch-9.ack-2.xml"));
    assert_eq!(ack.status, "accepted");
    assert_eq!(ack.apps.len(), 1);
    assert_eq!(ack.apps[0].status, "cancelled");
    assert_eq!(ack.apps[0].license.as_deref(), Some(lic.as_str()));
    let seq = &ack
        .root
        .child("Interchange")
        .unwrap()
        .child("AckSequence")
        .unwrap()
        .text;
    assert_eq!(seq.trim(), "2");
    d.wait_for("the follow-up ack's mail", WAIT, || {
        env.mails()
            .iter()
            .any(|m| m.contains("batch-9.ack-2.xml"))
            .then_some(())
    });
    let l = json_of(&env.aim(&["license", "show", &lic, "--json"]));
    assert_eq!(l["status"], "cancelled");
    let hist = l["history"].as_array().unwrap();
    assert_eq!(hist.last().unwrap()["action"], "cancelled");
    assert_eq!(hist.last().unwrap()["reason"], "importer withdrew");
    let s = json_of(&env.aim(&["status", "--json"]));
    assert_eq!(s["licenses_on_record"], 0);
    // Cancelling again is refused, saying who did it and when.
    let o = env.aim(&["license", "cancel", &lic, "--reason", "again"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        out_text(&o).1.contains("already cancelled by"),
        "{:?}",
        out_text(&o)
    );
    // A filer's cancel of the same license is now A402.
    drop_file(
        &env.inbox_of(ACME),
        "c.xml",
        filing(ACME, "702", &[cancel_app("C1", &lic)]),
    );
    let ack = read_ack(&d.wait_ack(&env.outbox_of(ACME), "c.ack.xml"));
    assert_eq!(ack.apps[0].errors, vec!["A402".to_string()]);
    // A reason the filer could not read is a bad argument.
    let o = env.aim(&["license", "cancel", &lic, "--reason", ""]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn a_user_not_on_the_staff_list_is_refused_by_name() {
    let env = Env::new();
    env.append_config("[[staff]]\nuser = \"nobody-here\"\nrole = \"supervisor\"\n");
    let _d = env.start_ready();
    let o = env.aim(&["status"]);
    let (_, err) = out_text(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    let user = current_user();
    assert!(
        err.contains(&format!("user {user} is not on the staff list")),
        "{err}"
    );
    // The public monitor is not a staff action: anyone who reaches the socket may read it.
    let o = env.aim(&["monitor", "export"]);
    assert!(o.status.success(), "{:?}", out_text(&o));
}

/// Run `aim` as another Unix user (root only).
fn aim_as(env: &Env, user: &str, group: &str, args: &[&str]) -> std::process::Output {
    std::process::Command::new("setpriv")
        .args([
            &format!("--reuid={user}"),
            &format!("--regid={group}"),
            "--clear-groups",
            aim_bin(),
        ])
        .args(args)
        .arg("--config")
        .arg(&env.config)
        .current_dir("/")
        .output()
        .expect("setpriv")
}

fn open_to_all(env: &Env) {
    use std::os::unix::fs::PermissionsExt;
    for p in [env.dir.path(), &env.data] {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
}

#[test]
fn the_socket_is_0660_and_a_user_outside_its_group_is_told_which_group_to_join() {
    if !is_root() {
        eprintln!("skipped: needs root to run a client as another user");
        return;
    }
    let env = Env::new();
    env.append_config("[[staff]]\nuser = \"nobody\"\nrole = \"viewer\"\n");
    let _d = env.start_ready();
    open_to_all(&env);
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let m = std::fs::metadata(env.data.join("aim.sock")).unwrap();
    assert_eq!(m.permissions().mode() & 0o777, 0o660);
    let o = aim_as(&env, "nobody", "nogroup", &["status"]);
    let (_, err) = out_text(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    let group = nix::unistd::Group::from_gid(nix::unistd::Gid::from_raw(m.gid()))
        .unwrap()
        .unwrap()
        .name;
    assert!(
        err.contains(&format!("belongs to group {group}")) && err.contains("usermod -aG"),
        "{err}"
    );
}

#[test]
fn staff_group_lets_its_members_in_with_their_own_role() {
    if !is_root() {
        eprintln!("skipped: needs root to run a client as another user");
        return;
    }
    let env = Env::new();
    env.prepend_config("staff_group = \"nogroup\"");
    env.append_config("[[staff]]\nuser = \"nobody\"\nrole = \"viewer\"\n");
    let _d = env.start_ready();
    open_to_all(&env);
    let o = aim_as(&env, "nobody", "nogroup", &["status", "--json"]);
    assert!(o.status.success(), "{:?}", out_text(&o));
    let o = aim_as(
        &env,
        "nobody",
        "nogroup",
        &["license", "cancel", "AIM-2026-0000017-4", "--reason", "x"],
    );
    let (_, err) = out_text(&o);
    assert_eq!(o.status.code(), Some(1));
    assert!(err.contains("user nobody has the role viewer"), "{err}");
}

fn connect(env: &Env) -> UnixStream {
    let s = UnixStream::connect(env.data.join("aim.sock")).expect("connect to the socket");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

fn read_line(s: &mut UnixStream) -> String {
    let mut out = Vec::new();
    let mut b = [0u8; 1];
    while s.read(&mut b).map(|n| n == 1).unwrap_or(false) {
        if b[0] == b'\n' {
            break;
        }
        out.push(b[0]);
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn garbage_endless_lines_and_silence_disturb_neither_intake_nor_other_clients() {
    let env = Env::new();
    env.add_staff("viewer");
    let mut d = env.start_ready();
    // Garbage: answered with an error that says what a request is; the connection stays.
    let mut g = connect(&env);
    g.write_all(b"hello daemon\n").unwrap();
    let answer: Value = serde_json::from_str(&read_line(&mut g)).unwrap();
    assert_eq!(answer["error"]["kind"], "invalid", "{answer}");
    g.write_all(b"{\"v\":1,\"id\":7,\"op\":\"status\"}\n")
        .unwrap();
    let answer: Value = serde_json::from_str(&read_line(&mut g)).unwrap();
    assert_eq!(answer["id"], 7);
    assert!(answer["ok"]["data"]["files_today"].is_u64(), "{answer}");
    // A line without end: cut off after the limit, told why.
    let mut endless = connect(&env);
    let chunk = vec![b'x'; 64 * 1024];
    let mut refused = false;
    for _ in 0..64 {
        if endless.write_all(&chunk).is_err() {
            refused = true;
            break;
        }
    }
    let reply = read_line(&mut endless);
    assert!(refused || reply.contains("too long"), "{reply}");
    // Silent clients, many of them.
    let silent: Vec<UnixStream> = (0..20).map(|_| connect(&env)).collect();
    // Meanwhile intake and other clients go on.
    let lic = issue(&env, &mut d, "during.xml", "801");
    let o = env.aim(&["license", "show", &lic, "--json"]);
    assert!(o.status.success(), "{:?}", out_text(&o));
    // Too many connections of one user are refused with a reason, not hung.
    // All kept open, so that none frees its slot before the last one is counted.
    let mut more: Vec<UnixStream> = (0..20).map(|_| connect(&env)).collect();
    let last = more.last_mut().unwrap();
    // The refusal is written at once and the connection closed: no request is needed (and
    // writing one may meet a closed socket).
    let line = read_line(last);
    assert!(line.contains("connections open already"), "{line}");
    drop(silent);
    drop(more);
    // Once they are gone, the user may connect again.
    d.wait_for("a status once connections are free", WAIT, || {
        env.aim(&["status"]).status.success().then_some(())
    });
    // A client speaking another protocol version is told so.
    let mut v = connect(&env);
    v.write_all(b"{\"v\":9,\"id\":3,\"op\":\"status\"}\n")
        .unwrap();
    let answer: Value = serde_json::from_str(&read_line(&mut v)).unwrap();
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("protocol"),
        "{answer}"
    );
}

/// The dashboard's newest filings come back after a restart, in their order, a duplicate
/// marked as such: the daemon fills them from the store at start.
#[test]
fn newest_filings_survive_a_restart() {
    let env = Env::new();
    env.add_staff("viewer");
    let mut d = env.start_ready();
    issue(&env, &mut d, "first.xml", "9001");
    issue(&env, &mut d, "second.xml", "9002");
    // The same bytes again under another name: a duplicate, answered with the original ack.
    drop_file(&env.inbox_of(ACME), "again.xml", valid_with_control("9001"));
    d.wait_ack(&env.outbox_of(ACME), &ack_name("again.xml"));
    d.signal(rustix::process::Signal::TERM);
    assert_eq!(d.wait_exit(Duration::from_secs(10)).code(), Some(0));

    let _d = env.start_ready();
    let mut s = connect(&env);
    s.write_all(b"{\"v\":1,\"id\":1,\"op\":\"recent\",\"limit\":10}\n")
        .unwrap();
    let answer: Value = serde_json::from_str(&read_line(&mut s)).unwrap();
    let rows = answer["ok"]["data"]
        .as_array()
        .unwrap_or_else(|| panic!("{answer}"));
    let seen: Vec<(&str, &str, u64)> = rows
        .iter()
        .map(|r| {
            (
                r["file_name"].as_str().unwrap(),
                r["status"].as_str().unwrap(),
                r["licenses"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        vec![
            ("again.xml", "accepted (duplicate)", 0),
            ("second.xml", "accepted", 1),
            ("first.xml", "accepted", 1),
        ],
        "{answer}"
    );
    assert_eq!(rows[2]["sender"], ACME);
    assert_eq!(rows[2]["ack_name"], ack_name("first.xml").as_str());
}

/// A file whose application waits for a reviewer reads "accepted" in its ack; the dashboard's
/// newest filings say how many are held, live and after a restart.
#[test]
fn the_newest_filings_count_held_applications() {
    let env = Env::new();
    env.append_config("[review]\nwatch_countries = [\"CA\"]\n");
    env.add_staff("viewer");
    let recent = |env: &Env| -> Vec<(String, String, u64)> {
        let mut s = connect(env);
        s.write_all(b"{\"v\":1,\"id\":1,\"op\":\"recent\",\"limit\":10}\n")
            .unwrap();
        let answer: Value = serde_json::from_str(&read_line(&mut s)).unwrap();
        answer["ok"]["data"]
            .as_array()
            .unwrap_or_else(|| panic!("{answer}"))
            .iter()
            .map(|r| {
                (
                    r["file_name"].as_str().unwrap().to_owned(),
                    r["status"].as_str().unwrap().to_owned(),
                    r["held"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    let want = vec![("held.xml".to_owned(), "accepted".to_owned(), 1)];
    let mut d = env.start_ready();
    // valid-single.xml smelts and casts in CA, on the watch list: held.
    drop_file(&env.inbox_of(ACME), "held.xml", valid_with_control("9101"));
    d.wait_ack(&env.outbox_of(ACME), &ack_name("held.xml"));
    assert_eq!(recent(&env), want);
    d.signal(rustix::process::Signal::TERM);
    assert_eq!(d.wait_exit(Duration::from_secs(10)).code(), Some(0));
    let _d = env.start_ready();
    assert_eq!(recent(&env), want);
}

/// A subscriber hears when a message is settled (here sent by the file transport), so the
/// console's mail list and an open file's deliveries are read again without a key.
#[test]
fn subscribers_hear_when_a_message_is_sent() {
    use std::io::{BufRead, BufReader};
    let env = Env::new();
    env.add_staff("viewer");
    let mut d = env.start_ready();
    let mut s = UnixStream::connect(env.data.join("aim.sock")).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(b"{\"v\":1,\"id\":1,\"op\":\"subscribe\"}\n")
        .unwrap();
    let mut lines = BufReader::new(s.try_clone().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    assert!(first.contains("\"ok\""), "{first}");
    drop_file(&env.inbox_of(ACME), "m.xml", valid_with_control("7301"));
    d.wait_ack(&env.outbox_of(ACME), "m.ack.xml");
    // A read that times out ends the lines: no event came.
    let sent = lines.map_while(Result::ok).find(|l| {
        let v: Value = serde_json::from_str(l).unwrap();
        v["event"]["kind"] == "mail" && v["event"]["state"] == "sent"
    });
    assert!(sent.is_some(), "no mail event before the read timeout");
}
