//! End to end through the real `aim daemon`: files dropped into the inboxes of a temporary
//! installation, acks read back from the outboxes, inputs looked up in the archive.
//!
//! Samples assume filing day 2026-11-28; the daemon runs on the real UTC date, so every valid
//! date of a sample is shifted by (today − 2026-11-28) before it is dropped.
#![allow(
    clippy::unwrap_used,
    clippy::too_many_lines,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)] // Test code: a panic is the failure report, a scenario reads top to bottom.

mod common;
mod daemon_harness;

use common::{compare_with_expected, samples_dir};
use daemon_harness::*;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Write;
use std::time::Duration;

/// A negative check ("nothing happens") needs time: at least two full rescans and the settle
/// time. This is a lower bound for the check to mean anything, not a claim about speed.
fn let_rescans_pass() {
    std::thread::sleep(
        Duration::from_secs(2 * RESCAN_SECS) + Duration::from_millis(SETTLE_MS + 500),
    );
}

#[test]
fn a_new_data_folder_starts_at_the_current_layout_without_upgrade_messages() {
    let env = Env::new();
    for start in 1..=2 {
        let mut d = env.start_ready();
        drop_file(
            &env.inbox_of(ACME),
            &format!("f{start}.xml"),
            valid_with_control(&format!("470{start}")),
        );
        d.wait_ack(&env.outbox_of(ACME), &format!("f{start}.ack.xml"));
        d.signal(rustix::process::Signal::TERM);
        assert!(d.wait_exit(Duration::from_secs(10)).success());
        let log = d.stderr();
        for noise in ["upgrade", "rebuilt", "counted once"] {
            assert!(!log.contains(noise), "start {start} says {noise:?}:\n{log}");
        }
    }
}

/// Case 1: Every case of expected.json through the inbox of the daemon.
#[test]
fn every_sample_end_to_end() {
    let env = Env::new();
    let mut d = env.start_ready();
    let text = fs::read_to_string(samples_dir().join("expected.json")).expect("expected.json");
    let json: Value = serde_json::from_str(&text).expect("expected.json is JSON");
    let cases = json["cases"].as_array().expect("cases").clone();
    assert!(cases.len() >= 30, "only {} cases", cases.len());

    // (partner, name, shifted bytes, case)
    let mut dropped = Vec::new();
    for case in &cases {
        let rel = case["file"].as_str().expect("case.file");
        let path = std::path::Path::new(rel);
        let partner = path
            .parent()
            .and_then(|p| p.to_str())
            .filter(|p| !p.is_empty())
            .unwrap_or(ACME)
            .to_owned();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let bytes = sample(rel);
        drop_file(&env.inbox_of(&partner), &name, &bytes);
        dropped.push((partner, name, bytes, case.clone()));
    }

    let mut failures = Vec::new();
    let mut in_progress = Vec::new();
    for (partner, name, bytes, case) in &dropped {
        if case["status"].as_str() == Some("none") {
            in_progress.push((partner.clone(), name.clone()));
            continue;
        }
        let raw = d.wait_ack(&env.outbox_of(partner), &ack_name(name));
        let ack = parse_ack(&raw);
        if ack.file_name.as_deref() != Some(name.as_str()) {
            failures.push(format!("{name}: FileName {:?}", ack.file_name));
        }
        if ack.sha256.as_deref() != Some(sha256_hex(bytes).as_str()) {
            failures.push(format!("{name}: Sha256 {:?}", ack.sha256));
        }
        // The daemon sees the store: store-only codes count, and LicenseNumbers are checked.
        for m in compare_with_expected(case, &ack, true) {
            failures.push(format!("{name}: {m}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(!in_progress.is_empty(), "expected.json lost its .part case");

    // Every picked-up file leaves the inbox; the in-progress upload stays.
    let partners: BTreeSet<String> = dropped.iter().map(|(p, ..)| p.clone()).collect();
    let stays: BTreeSet<String> = in_progress.iter().map(|(_, n)| n.clone()).collect();
    d.wait_for(
        "the inbox to hold only the in-progress upload",
        WAIT,
        || {
            partners
                .iter()
                .flat_map(|p| entry_names(&env.inbox_of(p)))
                .collect::<BTreeSet<_>>()
                .eq(&stays)
                .then_some(())
        },
    );
    let_rescans_pass();
    d.assert_alive();
    for (partner, name) in &in_progress {
        assert!(
            env.inbox_of(partner).join(name).is_file(),
            "{name} left the inbox"
        );
        assert!(
            !env.outbox_of(partner).join(ack_name(name)).exists(),
            "{name} got an ack"
        );
    }
    let acks: usize = partners
        .iter()
        .map(|p| visible_files(&env.outbox_of(p)).len())
        .sum();
    assert_eq!(acks, dropped.len() - in_progress.len(), "number of acks");

    // The original bytes of every picked-up file are in the archive.
    let archive = archived(&env);
    for (_, name, bytes, case) in &dropped {
        if case["status"].as_str() != Some("none") {
            assert_eq!(
                archive.get(&sha256_hex(bytes)),
                Some(&1),
                "{name}: its bytes are not in the archive exactly once"
            );
        }
    }
}

/// Case 2: Identical bytes again: the original ack, byte for byte; never a second license.
#[test]
fn redelivery_of_identical_bytes_gets_the_original_ack() {
    let env = Env::new();
    let mut d = env.start_ready();
    let (inbox, outbox) = (env.inbox_of(ACME), env.outbox_of(ACME));

    let x = valid_with_control("000000201");
    drop_file(&inbox, "x.xml", &x);
    let first = d.wait_ack(&outbox, "x.ack.xml");
    let ack = parse_ack(&first);
    assert_eq!(ack.status, "accepted", "{ack:#?}");
    assert_eq!(ack.issued().len(), 1);
    d.wait_gone(&inbox.join("x.xml"));

    // The same name, after the first was archived.
    drop_file(&inbox, "x.xml", &x);
    let again = d.wait_ack(&outbox, "x.2.ack.xml");
    assert_eq!(
        String::from_utf8_lossy(&again),
        String::from_utf8_lossy(&first),
        "re-delivery under the same name: not the original ack"
    );
    d.wait_gone(&inbox.join("x.xml"));

    // Another name.
    drop_file(&inbox, "y.xml", &x);
    let other = d.wait_ack(&outbox, "y.ack.xml");
    assert_eq!(
        String::from_utf8_lossy(&other),
        String::from_utf8_lossy(&first),
        "re-delivery under another name: not the original ack"
    );

    // Two identical new files at the same time.
    let z = valid_with_control("202");
    drop_file(&inbox, "z1.xml", &z);
    drop_file(&inbox, "z2.xml", &z);
    let z1 = d.wait_ack(&outbox, "z1.ack.xml");
    let z2 = d.wait_ack(&outbox, "z2.ack.xml");
    assert_eq!(
        String::from_utf8_lossy(&z1),
        String::from_utf8_lossy(&z2),
        "identical files at once got different acks"
    );

    d.wait_for("the inbox to empty", WAIT, || {
        entry_names(&inbox).is_empty().then_some(())
    });
    let acks = visible_files(&outbox);
    let names: Vec<&str> = acks.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "x.2.ack.xml",
            "x.ack.xml",
            "y.ack.xml",
            "z1.ack.xml",
            "z2.ack.xml"
        ]
    );
    let licenses: BTreeSet<String> = acks.values().flat_map(|b| parse_ack(b).issued()).collect();
    assert_eq!(licenses.len(), 2, "licenses issued: {licenses:?}");

    let archive = archived(&env);
    assert_eq!(archive.get(&sha256_hex(x.as_bytes())), Some(&3));
    assert_eq!(archive.get(&sha256_hex(z.as_bytes())), Some(&2));
}

/// Case 3: Control numbers: reuse with other content is F005; a file rejected at file level
/// does not use its number up, a file that reached its applications does; they compare as
/// numbers.
#[test]
fn control_numbers() {
    let env = Env::new();
    let mut d = env.start_ready();
    let (inbox, outbox) = (env.inbox_of(ACME), env.outbox_of(ACME));
    let step = |d: &mut Daemon, name: &str, xml: &str| -> Ack {
        drop_file(&inbox, name, xml);
        parse_ack(&d.wait_ack(&outbox, &ack_name(name)))
    };
    let other_importer = |xml: &str| replace_elem(xml, "Importer", "Southwind Alloys Corp");

    // Reuse with different content.
    let a = step(&mut d, "a.xml", &valid_with_control("000000301"));
    assert_eq!(a.status, "accepted", "{a:#?}");
    let b = step(
        &mut d,
        "b.xml",
        &other_importer(&valid_with_control("000000301")),
    );
    assert_eq!(b.status, "rejected", "{b:#?}");
    assert_eq!(b.file_codes, ["F005"], "{b:#?}");
    assert!(b.apps.is_empty(), "{b:#?}");

    // A file-level rejection (F002) leaves the number free.
    let wrong_ns = valid_with_control("000000302").replace("urn:aim:filing:1", "urn:aim:filing:2");
    let c = step(&mut d, "c.xml", &wrong_ns);
    assert_eq!(c.file_codes, ["F002"], "{c:#?}");
    let c2 = step(&mut d, "c2.xml", &valid_with_control("000000302"));
    assert_eq!(c2.status, "accepted", "{c2:#?}");
    assert!(c2.file_codes.is_empty(), "{c2:#?}");

    // So does F009 (no application).
    let empty = filing(ACME, "000000303", &[]);
    let e = step(&mut d, "e.xml", &empty);
    assert_eq!(e.file_codes, ["F009"], "{e:#?}");
    let e2 = step(&mut d, "e2.xml", &valid_with_control("303"));
    assert_eq!(e2.status, "accepted", "{e2:#?}");

    // A file whose every application was rejected still used its number.
    let bad_hts = replace_elem(&valid_with_control("000000304"), "Hts", "7208.10.1500");
    let f = step(&mut d, "f.xml", &bad_hts);
    assert_eq!(f.status, "rejected", "{f:#?}");
    assert!(f.file_codes.is_empty(), "{f:#?}");
    assert_eq!(f.app("A1").errors, ["A301"], "{f:#?}");
    let f2 = step(&mut d, "f2.xml", &valid_with_control("000000304"));
    assert_eq!(f2.file_codes, ["F005"], "{f2:#?}");

    // 42 and 000000042 are the same number.
    let g = step(&mut d, "g.xml", &valid_with_control("42"));
    assert_eq!(g.status, "accepted", "{g:#?}");
    let h = step(
        &mut d,
        "h.xml",
        &other_importer(&valid_with_control("000000042")),
    );
    assert_eq!(h.file_codes, ["F005"], "{h:#?}");
    let h2 = step(
        &mut d,
        "h2.xml",
        &replace_elem(&valid_with_control("0042"), "Importer", "Eastwind Metals"),
    );
    assert_eq!(h2.file_codes, ["F005"], "{h2:#?}");

    // The numbers are per sender: OTHERBRK may use 42.
    drop_file(
        &env.inbox_of(OTHER),
        "o.xml",
        filing(OTHER, "42", &[new_app("A1")]),
    );
    let o = parse_ack(&d.wait_ack(&env.outbox_of(OTHER), "o.ack.xml"));
    assert_eq!(o.status, "accepted", "{o:#?}");
}

/// Case 4: Correction and cancellation of licenses.
#[test]
fn correct_and_cancel() {
    let env = Env::new();
    let mut d = env.start_ready();
    let (inbox, outbox) = (env.inbox_of(ACME), env.outbox_of(ACME));
    let mut control = 400;
    let mut file = |d: &mut Daemon, partner: &str, apps: &[String]| -> Ack {
        control += 1;
        let name = format!("f{control}.xml");
        drop_file(
            &env.inbox_of(partner),
            &name,
            filing(partner, &control.to_string(), apps),
        );
        parse_ack(&d.wait_ack(&env.outbox_of(partner), &ack_name(&name)))
    };

    let issued = file(&mut d, ACME, &[new_app("A1"), new_app("A2"), new_app("A3")]);
    assert_eq!(issued.status, "accepted", "{issued:#?}");
    let lic = |id: &str| {
        let a = issued.app(id);
        assert_eq!(a.status, "issued", "{issued:#?}");
        a.clone()
    };
    let (l1, l2, l3) = (lic("A1"), lic("A2"), lic("A3"));
    let n1 = l1.license.clone().expect("LicenseNumber");
    let n2 = l2.license.clone().expect("LicenseNumber");
    let n3 = l3.license.clone().expect("LicenseNumber");
    assert!(
        n1 != n2 && n2 != n3 && n1 != n3,
        "one license each: {n1} {n2} {n3}"
    );
    for n in [&n1, &n2, &n3] {
        let digits: String = n.chars().filter(char::is_ascii_digit).collect();
        assert_eq!(digits.len(), 12, "{n}");
        let year: u16 = digits[..4].parse().unwrap();
        let seq: u32 = digits[4..11].parse().unwrap();
        assert_eq!(*n, license_number(year, seq), "bad check digit in {n}");
    }

    // Correct: same number and validity.
    let c = file(
        &mut d,
        ACME,
        &[correct_app("C1", &n1, "Southwind Alloys Corp")],
    );
    assert_eq!(c.status, "accepted", "{c:#?}");
    let ca = c.app("C1");
    assert_eq!(ca.status, "corrected", "{c:#?}");
    assert_eq!(ca.license.as_deref(), Some(n1.as_str()), "{c:#?}");
    assert_eq!(ca.valid_from, l1.valid_from, "{c:#?}");
    assert_eq!(ca.valid_through, l1.valid_through, "{c:#?}");

    // Cancel, then cancel again and correct: A402.
    let x = file(&mut d, ACME, &[cancel_app("X1", &n1)]);
    assert_eq!(x.status, "accepted", "{x:#?}");
    assert_eq!(x.app("X1").status, "cancelled", "{x:#?}");
    assert_eq!(x.app("X1").license.as_deref(), Some(n1.as_str()));
    let x2 = file(&mut d, ACME, &[cancel_app("X2", &n1)]);
    assert_eq!(x2.status, "rejected", "{x2:#?}");
    assert_eq!(x2.app("X2").errors, ["A402"], "{x2:#?}");
    let c2 = file(&mut d, ACME, &[correct_app("C2", &n1, "Late Corp")]);
    assert_eq!(c2.status, "rejected", "{c2:#?}");
    assert_eq!(c2.app("C2").errors, ["A402"], "{c2:#?}");

    // Another sender naming ACMEBRK's license: A401, and the license is untouched.
    let o = file(&mut d, OTHER, &[cancel_app("O1", &n2)]);
    assert_eq!(o.status, "rejected", "{o:#?}");
    assert_eq!(o.app("O1").errors, ["A401"], "{o:#?}");
    let o2 = file(&mut d, OTHER, &[correct_app("O2", &n2, "Hijack Inc")]);
    assert_eq!(o2.app("O2").errors, ["A401"], "{o2:#?}");
    let still = file(
        &mut d,
        ACME,
        &[correct_app("C3", &n2, "Northwind Metals Inc")],
    );
    assert_eq!(still.app("C3").status, "corrected", "{still:#?}");

    // A well-formed number never issued.
    let year: u16 = n1[4..8].parse().unwrap();
    let unknown = license_number(year, 9_999_998);
    let u = file(&mut d, ACME, &[cancel_app("U1", &unknown)]);
    assert_eq!(u.app("U1").errors, ["A401"], "{u:#?}");
    let u2 = file(&mut d, ACME, &[correct_app("U2", &unknown, "Nobody Ltd")]);
    assert_eq!(u2.app("U2").errors, ["A401"], "{u2:#?}");

    // Cancel then correct the same license in one file: the second is A402.
    let both = file(
        &mut d,
        ACME,
        &[
            cancel_app("B1", &n3),
            correct_app("B2", &n3, "Too Late LLC"),
        ],
    );
    assert_eq!(both.status, "partial", "{both:#?}");
    assert_eq!(both.app("B1").status, "cancelled", "{both:#?}");
    assert_eq!(both.app("B2").status, "rejected", "{both:#?}");
    assert_eq!(both.app("B2").errors, ["A402"], "{both:#?}");

    // Nothing above issued a license besides the three.
    let all: BTreeSet<String> = visible_files(&outbox)
        .values()
        .chain(visible_files(&env.outbox_of(OTHER)).values())
        .flat_map(|b| parse_ack(b).issued())
        .collect();
    assert_eq!(all, BTreeSet::from([n1, n2, n3]));
    d.wait_for("the inbox to empty", WAIT, || {
        entry_names(&inbox).is_empty().then_some(())
    });
}

/// Case 5: A file written slowly under its final name is read only once closed.
#[test]
fn slow_writer_is_not_read_early() {
    let env = Env::new();
    let mut d = env.start_ready();
    let (inbox, outbox) = (env.inbox_of(ACME), env.outbox_of(ACME));
    let bytes = valid_with_control("501").into_bytes();
    let half = bytes.len() / 2;
    let mut f = fs::File::create(inbox.join("slow.xml")).expect("create slow.xml");
    f.write_all(&bytes[..half]).expect("write");
    f.flush().expect("flush");
    // Far longer than settle_ms (200) and than a rescan (2 s).
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        !outbox.join("slow.ack.xml").exists(),
        "an ack for a file still being written"
    );
    f.write_all(&bytes[half..]).expect("write");
    drop(f);
    let ack = parse_ack(&d.wait_ack(&outbox, "slow.ack.xml"));
    assert_eq!(ack.status, "accepted", "{ack:#?}");
    assert!(ack.file_codes.is_empty(), "{ack:#?}");
    assert_eq!(
        ack.sha256.as_deref(),
        Some(sha256_hex(&bytes).as_str()),
        "read a partial file"
    );
    assert_eq!(visible_files(&outbox).len(), 1);
}

/// Case 6: 500 files at once.
#[test]
fn five_hundred_files_at_once() {
    const N: usize = 500;
    let env = Env::new();
    let mut d = env.start_ready();
    let (inbox, outbox) = (env.inbox_of(ACME), env.outbox_of(ACME));
    let staging = env.dir.path().join("staging");
    fs::create_dir_all(&staging).unwrap();
    let mut names = BTreeSet::new();
    for i in 0..N {
        let name = format!("bulk-{i:04}.xml");
        fs::write(
            staging.join(&name),
            valid_with_control(&format!("{}", 700_000 + i)),
        )
        .unwrap();
        names.insert(name);
    }
    for name in &names {
        fs::rename(staging.join(name), inbox.join(name)).unwrap();
    }
    d.wait_for(
        "500 acks and an empty inbox",
        Duration::from_secs(120),
        || (entry_names(&inbox).is_empty() && visible_files(&outbox).len() >= N).then_some(()),
    );
    let acks = visible_files(&outbox);
    assert_eq!(acks.len(), N, "exactly one ack per file");
    let mut licenses = BTreeSet::new();
    for name in &names {
        let raw = acks
            .get(&ack_name(name))
            .unwrap_or_else(|| panic!("no ack for {name}"));
        let ack = parse_ack(raw);
        assert_eq!(ack.status, "accepted", "{name}: {ack:#?}");
        assert_eq!(ack.file_name.as_deref(), Some(name.as_str()));
        licenses.extend(ack.issued());
    }
    assert_eq!(licenses.len(), N, "distinct license numbers");
    assert!(entry_names(&outbox).iter().all(|n| !n.starts_with('.')));
}

/// Case 7: Files already waiting when the daemon starts.
#[test]
fn files_present_before_start_are_processed() {
    let env = Env::new();
    let inbox = env.inbox_of(ACME);
    let mut want = BTreeMap::new();
    for (i, name) in ["early-1.xml", "early-2.xml", "early-3.xml"]
        .iter()
        .enumerate()
    {
        drop_file(&inbox, name, valid_with_control(&format!("{}", 800 + i)));
        want.insert(name.to_string(), "accepted");
    }
    drop_file(&inbox, "early-bad.xml", sample("ACMEBRK/bad-country.xml"));
    want.insert("early-bad.xml".into(), "rejected");
    drop_file(
        &env.inbox_of(OTHER),
        "other.xml",
        filing(OTHER, "1", &[new_app("A1")]),
    );

    let mut d = env.start();
    for (name, status) in &want {
        let ack = parse_ack(&d.wait_ack(&env.outbox_of(ACME), &ack_name(name)));
        assert_eq!(ack.status, *status, "{name}: {ack:#?}");
    }
    let other = parse_ack(&d.wait_ack(&env.outbox_of(OTHER), "other.ack.xml"));
    assert_eq!(other.status, "accepted", "{other:#?}");
    d.wait_for("the inboxes to empty", WAIT, || {
        (entry_names(&inbox).is_empty() && entry_names(&env.inbox_of(OTHER)).is_empty())
            .then_some(())
    });
}

/// Case 8: A symbolic link and a FIFO: F012, moved out, never followed or opened for reading.
#[test]
fn links_and_fifos_are_refused() {
    let env = Env::new();
    let mut d = env.start_ready();
    let (inbox, outbox) = (env.inbox_of(ACME), env.outbox_of(ACME));

    let outside = env.dir.path().join("outside");
    fs::create_dir_all(&outside).unwrap();
    let target = outside.join("secret.xml");
    let secret = valid_with_control("901");
    fs::write(&target, &secret).unwrap();
    std::os::unix::fs::symlink(&target, inbox.join("link.xml")).unwrap();
    let ack = parse_ack(&d.wait_ack(&outbox, "link.ack.xml"));
    assert_eq!(ack.status, "rejected", "{ack:#?}");
    assert_eq!(ack.file_codes, ["F012"], "{ack:#?}");
    assert!(ack.apps.is_empty());
    d.wait_gone(&inbox.join("link.xml"));
    assert_eq!(
        fs::read_to_string(&target).expect("the link's target is still there"),
        secret,
        "the link's target changed"
    );
    assert!(
        fs::symlink_metadata(&target).unwrap().is_file(),
        "the target was replaced"
    );

    // A FIFO, and right after it a valid file: the FIFO must not block intake.
    rustix::fs::mkfifoat(
        rustix::fs::CWD,
        inbox.join("pipe.xml"),
        rustix::fs::Mode::from_raw_mode(0o600),
    )
    .expect("mkfifo");
    drop_file(&inbox, "after.xml", valid_with_control("902"));
    let after = parse_ack(&d.wait_ack(&outbox, "after.ack.xml"));
    assert_eq!(after.status, "accepted", "{after:#?}");
    let pipe = parse_ack(&d.wait_ack(&outbox, "pipe.ack.xml"));
    assert_eq!(pipe.file_codes, ["F012"], "{pipe:#?}");
    d.wait_gone(&inbox.join("pipe.xml"));

    // The link's target was not read: it issued nothing, and its control number is free.
    drop_file(&inbox, "secret.xml", &secret);
    let s = parse_ack(&d.wait_ack(&outbox, "secret.ack.xml"));
    assert_eq!(s.status, "accepted", "{s:#?}");
}

/// Case 9: One daemon per data folder; SIGTERM stops it cleanly.
#[test]
fn second_daemon_refuses_and_sigterm_exits_zero() {
    let env = Env::new();
    let mut first = env.start_ready();
    let mut second = env.start();
    let st = second.wait_exit(WAIT);
    assert!(!st.success(), "a second daemon started: {st}");
    let err = second.stderr();
    assert!(
        err.contains("already running"),
        "the refusal does not say why:\n{err}"
    );

    // The first one is unharmed.
    let (inbox, outbox) = (env.inbox_of(ACME), env.outbox_of(ACME));
    drop_file(&inbox, "one.xml", valid_with_control("1001"));
    let ack = parse_ack(&first.wait_ack(&outbox, "one.ack.xml"));
    assert_eq!(ack.status, "accepted");

    // SIGTERM in the middle of a load: exit 0, nothing half done.
    let staging = env.dir.path().join("staging");
    fs::create_dir_all(&staging).unwrap();
    let names: Vec<String> = (0..60).map(|i| format!("term-{i:02}.xml")).collect();
    for (i, n) in names.iter().enumerate() {
        fs::write(
            staging.join(n),
            valid_with_control(&format!("{}", 1100 + i)),
        )
        .unwrap();
    }
    for n in &names {
        fs::rename(staging.join(n), inbox.join(n)).unwrap();
    }
    first.signal(rustix::process::Signal::TERM);
    let st = first.wait_exit(WAIT);
    assert_eq!(st.code(), Some(0), "SIGTERM: {st}");
    for n in &names {
        let acked = outbox.join(ack_name(n)).exists();
        let waiting = inbox.join(n).exists();
        assert!(
            acked || waiting,
            "{n}: neither acked nor in the inbox after SIGTERM"
        );
        assert!(!(acked && waiting), "{n}: acked but not archived");
    }
    // A restart finishes the rest, once each.
    let mut again = env.start_ready();
    again.wait_for("every file to get its ack", WAIT, || {
        (entry_names(&inbox).is_empty() && visible_files(&outbox).len() == names.len() + 1)
            .then_some(())
    });
    for n in &names {
        assert_eq!(
            parse_ack(&fs::read(outbox.join(ack_name(n))).unwrap()).status,
            "accepted"
        );
    }
    again.signal(rustix::process::Signal::INT);
    assert_eq!(again.wait_exit(WAIT).code(), Some(0), "SIGINT");
}

/// Case 10: Who sent it: the inbox folder decides.
#[test]
fn sender_and_folder_rules() {
    let env = Env::new();
    let mut d = env.start_ready();
    let (inbox, outbox) = (env.inbox_of(ACME), env.outbox_of(ACME));

    let nobody = env.inbox.join("NOBODY");
    drop_file(&nobody, "x.xml", valid_with_control("1201"));

    // OTHERBRK's filing in ACMEBRK's inbox: F004, answered in ACMEBRK's outbox.
    drop_file(
        &inbox,
        "foreign.xml",
        filing(OTHER, "1202", &[new_app("A1")]),
    );
    let f = parse_ack(&d.wait_ack(&outbox, "foreign.ack.xml"));
    assert_eq!(f.status, "rejected", "{f:#?}");
    assert_eq!(f.file_codes, ["F004"], "{f:#?}");
    assert!(f.apps.is_empty());

    drop_file(&inbox, "notes.txt", sample("ACMEBRK/notes.txt"));
    let n = parse_ack(&d.wait_ack(&outbox, "notes.ack.xml"));
    assert_eq!(n.file_codes, ["F011"], "{n:#?}");

    d.wait_for("the inbox to empty", WAIT, || {
        entry_names(&inbox).is_empty().then_some(())
    });
    let_rescans_pass();
    d.assert_alive();
    assert!(
        nobody.join("x.xml").is_file(),
        "a file of an unregistered folder was taken"
    );
    assert!(!env.outbox.join("NOBODY").exists(), "an outbox for NOBODY");
    let everywhere: Vec<_> = daemon_harness::tree_files(&env.outbox)
        .into_iter()
        .map(|(p, _)| p)
        .collect();
    assert_eq!(everywhere.len(), 2, "acks: {everywhere:?}");
    assert!(
        everywhere.iter().all(|p| p.starts_with(&outbox)),
        "an ack outside ACMEBRK's outbox: {everywhere:?}"
    );
}

/// The helpers the cases above rely on: date shifting and license check digits.
#[test]
fn harness_date_shift_and_check_digits() {
    assert_eq!(
        shift_dates(b"<D>2026-11-28</D> 2026-11-28T14:05:00Z 2026-12-31", 3),
        b"<D>2026-12-01</D> 2026-12-01T14:05:00Z 2027-01-03"
    );
    assert_eq!(
        shift_dates(b"2026-11-28", -28),
        b"2026-10-31",
        "negative shifts"
    );
    let untouched: &[u8] = b"2026-02-30 AIM-2026-9999999-0 12026-11-28 2026-11-281 \xe9";
    assert_eq!(shift_dates(untouched, 3), untouched);
    assert_eq!(license_number(2026, 17), "AIM-2026-0000017-4");
    assert_eq!(license_number(2026, 123), "AIM-2026-0000123-5");
}

/// A hard link made into the inbox gets no close event; it is complete at once and read.
#[test]
fn a_hard_link_into_the_inbox_is_read() {
    let env = Env::new();
    let inbox = env.inbox_of(ACME);
    let mut d = env.start_ready();
    let outside = inbox.parent().unwrap().join("linked-source.xml");
    fs::write(&outside, valid_with_control("951")).unwrap();
    fs::hard_link(&outside, inbox.join("linked.xml")).unwrap();
    let ack = parse_ack(&d.wait_ack(&env.outbox_of(ACME), "linked.ack.xml"));
    assert_eq!(ack.status, "accepted", "{ack:#?}");
    assert!(outside.exists(), "the other name of the file is untouched");
}
