//! The review workflow (spec section 6) and the public monitor (section 7) through the real
//! `aim daemon`: held applications, decisions answered in follow-up acks and mail, a second
//! decision refused, a SIGKILL at any moment of a decision, and `aim monitor export`.
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
use std::time::Duration;

/// A reviewing installation: CA on the watch list (valid-single.xml smelts and casts in CA).
fn reviewing(role: &str) -> Env {
    let env = Env::new();
    env.append_config(&format!(
        "[review]\nwatch_countries = [\"CA\"]\n[[staff]]\nuser = \"{}\"\nrole = \"{role}\"\n",
        current_user()
    ));
    env
}

fn hold(env: &Env, d: &mut Daemon, name: &str, control: &str) -> String {
    drop_file(&env.inbox_of(ACME), name, valid_with_control(control));
    let bytes = d.wait_ack(&env.outbox_of(ACME), &ack_name(name));
    let ack = read_ack(&bytes);
    assert_eq!(ack.status, "accepted");
    assert_eq!(ack.apps[0].status, "pending-review");
    assert!(ack.apps[0].license.is_none());
    // The filer learns nothing of why.
    let text = String::from_utf8_lossy(&bytes);
    assert!(!text.contains("R50") && !text.contains("watch"), "{text}");
    format!("{ACME}:{}:A1", control.trim_start_matches('0'))
}

#[test]
fn held_then_approved_gets_a_license_a_follow_up_ack_and_mail() {
    let env = reviewing("reviewer");
    let mut d = env.start_ready();
    let handle = hold(&env, &mut d, "held-1.xml", "000000901");
    let list = json_of(&env.aim(&["review", "list", "--json"]));
    let item = &list[0];
    assert_eq!(item["handle"], handle.as_str());
    assert_eq!(item["sender"], ACME);
    assert_eq!(item["file_name"], "held-1.xml");
    assert!(item["received_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(item["reasons"], serde_json::json!(["R501", "R502"]));
    let details = item["details"].as_array().unwrap();
    assert!(details.iter().any(|x| {
        x["detail"]
            .as_str()
            .unwrap()
            .contains("CA is on the watch list")
    }));
    let s = json_of(&env.aim(&["status", "--json"]));
    assert_eq!(s["pending_review"], 1);
    assert_eq!(s["licenses_on_record"], 0);
    let o = env.aim(&["review", "list"]);
    assert!(out_text(&o).0.contains(&handle), "{:?}", out_text(&o));

    let o = env.aim(&["review", "approve", &handle, "--json"]);
    assert!(o.status.success(), "{:?}", out_text(&o));
    let decided = json_of(&o);
    let license = decided[0]["license"].as_str().unwrap().to_owned();
    assert_eq!(decided[0]["ack_name"], "held-1.ack-2.xml");
    let ack = read_ack(&d.wait_ack(&env.outbox_of(ACME), "held-1.ack-2.xml"));
    assert_eq!(ack.status, "accepted");
    assert_eq!(
        ack.control.as_deref(),
        Some("000000901"),
        "echoes the original"
    );
    assert_eq!(ack.file_name.as_deref(), Some("held-1.xml"));
    assert_eq!(ack.apps.len(), 1);
    assert_eq!(ack.apps[0].status, "issued");
    assert_eq!(ack.apps[0].license.as_deref(), Some(license.as_str()));
    let ic = ack.root.child("Interchange").unwrap();
    assert_eq!(ic.child("AckSequence").unwrap().text.trim(), "2");
    d.wait_for("the follow-up's mail", WAIT, || {
        env.mails()
            .iter()
            .any(|m| m.contains("held-1.ack-2.xml"))
            .then_some(())
    });
    let l = json_of(&env.aim(&["license", "show", &license, "--json"]));
    assert_eq!(l["status"], "issued");
    assert_eq!(l["history"][0]["by"], current_user().as_str());
    assert!(
        json_of(&env.aim(&["review", "list", "--json"]))
            .as_array()
            .unwrap()
            .is_empty()
    );
    // A second decision is refused with who decided and when.
    let o = env.aim(&["review", "reject", &handle, "--reason", "late"]);
    let (_, err) = out_text(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "already approved (license {license}) by {}",
            current_user()
        )),
        "{err}"
    );
    // The monitor counts it now.
    let csv = String::from_utf8(env.aim(&["monitor", "export"]).stdout).unwrap();
    assert!(csv.contains(",origin,CA,(D),(D),(D),(D)"), "{csv}");
}

#[test]
fn held_then_rejected_answers_r590_with_the_reason() {
    let env = reviewing("supervisor");
    let mut d = env.start_ready();
    let h1 = hold(&env, &mut d, "r1.xml", "911");
    let h2 = hold(&env, &mut d, "r2.xml", "912");
    let reason = "smelt certificate missing: refile with the mill certificate";
    let o = env.aim(&["review", "reject", &h1, &h2, "--reason", reason]);
    assert!(o.status.success(), "{:?}", out_text(&o));
    for f in ["r1.ack-2.xml", "r2.ack-2.xml"] {
        let bytes = d.wait_ack(&env.outbox_of(ACME), f);
        let ack = read_ack(&bytes);
        assert_eq!(ack.status, "rejected");
        assert_eq!(ack.apps[0].errors, vec!["R590".to_string()]);
        let text = String::from_utf8(bytes).unwrap();
        assert!(
            text.contains(&format!(
                r#"<Error code="R590" path="Application[A1]">{reason}</Error>"#
            )),
            "{text}"
        );
    }
    let s = json_of(&env.aim(&["status", "--json"]));
    assert_eq!(s["pending_review"], 0);
    assert_eq!(s["licenses_on_record"], 0);
    assert_eq!(s["rejected_today"], 2);
}

#[test]
fn decisions_need_the_reviewer_role_and_unknown_handles_are_not_found() {
    let env = reviewing("viewer");
    let mut d = env.start_ready();
    let h = hold(&env, &mut d, "v.xml", "921");
    let o = env.aim(&["review", "approve", &h]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        out_text(&o).1.contains("needs the reviewer role"),
        "{:?}",
        out_text(&o)
    );
    let a = json_of(&env.aim(&["audit", "--json"]));
    assert!(
        a.as_array()
            .unwrap()
            .iter()
            .any(|e| e["outcome"] == "refused" && e["action"] == "approve")
    );
    let o = env.aim(&["review", "list", "--json"]);
    assert!(o.status.success(), "a viewer may list");
    let env2 = reviewing("reviewer");
    let _d2 = env2.start_ready();
    let o = env2.aim(&["review", "approve", "ACMEBRK:42:A1"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        out_text(&o)
            .1
            .contains("not an application held for review")
    );
    let o = env2.aim(&["review", "approve", "not-a-handle"]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "a malformed handle is a bad argument"
    );
}

/// SIGKILL the daemon at a random moment of a decision, many times: each application ends
/// either still held (no follow-up ack) or decided and answered once restarted, never half.
#[test]
fn a_kill_during_a_decision_leaves_it_whole_or_not_at_all() {
    let env = reviewing("reviewer");
    let mut decided = 0;
    let mut still_held = 0;
    for round in 0..12u64 {
        let mut d = env.start_ready();
        let name = format!("k{round}.xml");
        let handle = hold(&env, &mut d, &name, &format!("{}", 950 + round));
        let mut approve = std::process::Command::new(aim_bin())
            .args(["review", "approve", &handle, "--config"])
            .arg(&env.config)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(round * 7 % 40));
        d.kill();
        let _ = approve.wait();
        drop(d);
        let mut d = env.start_ready();
        let follow = env.outbox_of(ACME).join(format!("k{round}.ack-2.xml"));
        let list = json_of(&env.aim(&["review", "list", "--json"]));
        let held = list
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["handle"] == handle.as_str());
        if held {
            still_held += 1;
            assert!(!follow.exists(), "held, yet answered: {}", follow.display());
            let o = env.aim(&["review", "approve", &handle]);
            assert!(o.status.success(), "{:?}", out_text(&o));
        } else {
            decided += 1;
        }
        let ack = read_ack(&d.wait_ack(&env.outbox_of(ACME), &format!("k{round}.ack-2.xml")));
        assert_eq!(ack.apps[0].status, "issued");
        let license = ack.apps[0].license.clone().unwrap();
        let l = json_of(&env.aim(&["license", "show", &license, "--json"]));
        assert_eq!(l["status"], "issued");
        // Exactly one follow-up, never a second.
        let extra = env.outbox_of(ACME).join(format!("k{round}.ack-3.xml"));
        assert!(!extra.exists());
    }
    eprintln!("kills: {decided} after the commit, {still_held} before it");
    let _d = env.start_ready();
    let s = json_of(&env.aim(&["status", "--json"]));
    assert_eq!(s["licenses_on_record"], 12);
    assert_eq!(s["pending_review"], 0);
}

/// Importers 1, 2 and 3 for the same origin: suppressed below 3 distinct importers.
#[test]
fn monitor_export_suppresses_and_is_the_same_with_or_without_the_daemon() {
    let env = Env::new();
    env.add_staff("viewer");
    let mut d = env.start_ready();
    let importers = [
        "Alpha Metals",
        "Beta Metals",
        "Alpha Metals",
        "Gamma Metals",
    ];
    let mut exports = Vec::new();
    for (i, importer) in importers.iter().enumerate() {
        let xml = replace_elem(
            &valid_with_control(&format!("{}", 970 + i)),
            "Importer",
            importer,
        );
        let name = format!("m{i}.xml");
        drop_file(&env.inbox_of(ACME), &name, xml);
        d.wait_ack(&env.outbox_of(ACME), &ack_name(&name));
        exports.push(String::from_utf8(env.aim(&["monitor", "export"]).stdout).unwrap());
    }
    let month = &exports[0].lines().nth(1).unwrap()[..7];
    let origin = |csv: &str| {
        csv.lines()
            .find(|l| l.contains(",origin,CA,"))
            .unwrap()
            .to_owned()
    };
    assert_eq!(
        origin(&exports[0]),
        format!("{month},origin,CA,(D),(D),(D),(D)"),
        "1 importer"
    );
    assert_eq!(
        origin(&exports[1]),
        format!("{month},origin,CA,(D),(D),(D),(D)"),
        "2 importers"
    );
    assert_eq!(
        origin(&exports[2]),
        format!("{month},origin,CA,(D),(D),(D),(D)"),
        "3 licenses, 2 importers"
    );
    assert_eq!(
        origin(&exports[3]),
        format!("{month},origin,CA,4,50.000,165000.00,3300.00"),
        "3 importers"
    );
    let normalized = exports[3].replace(month, "MONTH");
    insta::assert_snapshot!("monitor_export_csv", normalized);
    let j = env.aim(&["monitor", "export", "--format", "json"]);
    let js = String::from_utf8(j.stdout).unwrap().replace(month, "MONTH");
    insta::assert_snapshot!("monitor_export_json", js);
    let only =
        String::from_utf8(env.aim(&["monitor", "export", "--month", "1999-01"]).stdout).unwrap();
    assert_eq!(
        only,
        "month,dimension,key,licenses,metric_tons,value_usd,unit_value_usd_per_mt\n"
    );
    let o = env.aim(&["monitor", "export", "--month", "2026-13"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(out_text(&o).1.contains("YYYY-MM"));
    // Without a daemon the store is read directly: the same rows.
    d.signal(rustix::process::Signal::TERM);
    d.wait_exit(WAIT);
    let offline = env.aim(&["monitor", "export"]);
    assert!(offline.status.success(), "{:?}", out_text(&offline));
    assert_eq!(String::from_utf8(offline.stdout).unwrap(), exports[3]);
    let offline_json = env.aim(&["monitor", "export", "--format", "json"]);
    assert_eq!(
        String::from_utf8(offline_json.stdout)
            .unwrap()
            .replace(month, "MONTH"),
        js
    );
}
