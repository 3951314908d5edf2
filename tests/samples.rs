//! Every case of the shared samples (`../shared/samples/expected.json`), on filing day
//! 2026-11-28, through the library and through the real `aim validate` binary.
#![allow(
    clippy::unwrap_used,
    clippy::too_many_lines,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)] // Test code: a panic is the failure report, a scenario reads top to bottom.

mod common;

use aim::validate::{Outcome, validate_file};
use assert_cmd::Command;
use common::{
    AckSummary, FILING_DAY, compare_with_expected, config, read_ack, sample_options, samples_dir,
};
use serde_json::Value;
use std::path::PathBuf;

struct Case {
    file: String,
    path: PathBuf,
    expect: Value,
}

fn cases() -> Vec<Case> {
    let dir = samples_dir();
    let text = std::fs::read_to_string(dir.join("expected.json")).expect("read expected.json");
    let json: Value = serde_json::from_str(&text).expect("expected.json is JSON");
    assert_eq!(
        json["filing_day"].as_str(),
        Some(FILING_DAY),
        "expected.json assumes another filing day"
    );
    let cases: Vec<Case> = json["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .map(|c| {
            let file = c["file"].as_str().expect("case.file").to_owned();
            let path = dir.join(&file);
            assert!(path.exists(), "sample {} is missing", path.display());
            Case {
                file,
                path,
                expect: c.clone(),
            }
        })
        .collect();
    assert!(
        cases.len() >= 30,
        "only {} cases in expected.json",
        cases.len()
    );
    cases
}

/// Compare an ack of `aim validate` with a case: it cannot see the license store.
fn compare(case: &Case, ack: &AckSummary) -> Vec<String> {
    compare_with_expected(&case.expect, ack, false)
}

#[test]
fn samples_through_the_library() {
    let cfg = config();
    let opts = sample_options(&cfg);
    let mut failures = Vec::new();
    for case in cases() {
        let outcome = validate_file(&case.path, &opts)
            .unwrap_or_else(|e| panic!("{}: cannot validate: {e}", case.file));
        let want_status = case.expect["status"].as_str().unwrap();
        match outcome {
            Outcome::Ignored => {
                if want_status != "none" {
                    failures.push(format!("{}: ignored, want status {want_status}", case.file));
                }
            }
            Outcome::Ack { xml, rejected, .. } => {
                if want_status == "none" {
                    failures.push(format!("{}: an ack for an in-progress upload", case.file));
                    continue;
                }
                let ack = read_ack(&xml);
                if rejected != (ack.status != "accepted") {
                    failures.push(format!(
                        "{}: rejected flag {rejected} but ack status {}",
                        case.file, ack.status
                    ));
                }
                let name = case.path.file_name().unwrap().to_string_lossy();
                let ic = ack.root.child("Interchange").unwrap();
                if ic.child("FileName").map(|f| f.text.as_str()) != Some(&*name) {
                    failures.push(format!("{}: FileName not echoed", case.file));
                }
                if ic.child("ReceivedAt").map(|f| f.text.as_str())
                    != Some("2026-11-28T00:00:00.000Z")
                {
                    failures.push(format!("{}: ReceivedAt not fixed", case.file));
                }
                for m in compare(&case, &ack) {
                    failures.push(format!("{}: {m}", case.file));
                }
            }
        }
    }
    assert!(failures.is_empty(), "mismatches:\n{}", failures.join("\n"));
}

fn aim() -> Command {
    let mut c = Command::cargo_bin("aim").expect("the aim binary");
    // Run where no config/aim.toml exists, so the built-in defaults apply.
    c.current_dir(std::env::temp_dir());
    c
}

#[test]
fn samples_through_the_binary() {
    let mut failures = Vec::new();
    for case in cases() {
        let out = aim()
            .args(["validate", "--today", FILING_DAY])
            .arg(&case.path)
            .output()
            .expect("run aim validate");
        let code = out.status.code();
        let want_status = case.expect["status"].as_str().unwrap();
        if want_status == "none" {
            if code != Some(0) || !out.stdout.is_empty() {
                failures.push(format!(
                    "{}: in-progress upload: exit {code:?}, {} bytes on stdout (want exit 0, no ack)",
                    case.file,
                    out.stdout.len()
                ));
            }
            continue;
        }
        let want_code = if want_status == "accepted" { 0 } else { 1 };
        // A needs_store rejection (A401) is invisible to `aim validate`: exit 0 or 1 both fit.
        let needs_store = case.expect["needs_store"].as_bool().unwrap_or(false);
        if code != Some(want_code) && !(needs_store && matches!(code, Some(0 | 1))) {
            failures.push(format!(
                "{}: exit {code:?} (want {want_code}); stderr: {}",
                case.file,
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let ack = read_ack(&out.stdout);
        for m in compare(&case, &ack) {
            failures.push(format!("{}: {m}", case.file));
        }
    }
    assert!(failures.is_empty(), "mismatches:\n{}", failures.join("\n"));
}

#[test]
fn library_and_binary_write_the_same_bytes() {
    let cfg = config();
    let opts = sample_options(&cfg);
    for name in [
        "valid-three-products.xml",
        "partial-two-apps.xml",
        "file-latin1.xml",
    ] {
        let path = samples_dir().join("ACMEBRK").join(name);
        let Outcome::Ack { xml, .. } = validate_file(&path, &opts).unwrap() else {
            panic!("{name}: no ack");
        };
        let out = aim()
            .args(["validate", "--today", FILING_DAY])
            .arg(&path)
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&xml),
            "{name}"
        );
    }
}

#[test]
fn out_dir_gets_one_ack_per_file() {
    let tmp = tempfile::tempdir().unwrap();
    let out_dir = tmp.path().join("acks");
    let dir = samples_dir().join("ACMEBRK");
    let files = [
        "valid-single.xml",
        "valid-three-products.xml",
        "partial-two-apps.xml",
        "notes.txt",
        "upload-in-progress.xml.part",
    ];
    let out = aim()
        .args(["validate", "--today", FILING_DAY, "--out"])
        .arg(&out_dir)
        .args(files.iter().map(|f| dir.join(f)))
        .output()
        .unwrap();
    // One file is partial: the run as a whole reports a rejection.
    assert_eq!(
        out.status.code(),
        Some(1),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // No XML on stdout with --out: a summary line per file that got an ack.
    let report = String::from_utf8(out.stdout.clone()).unwrap();
    assert!(!report.contains("<LicenseAck"), "{report}");
    let summaries: Vec<&str> = report.lines().filter(|l| l.contains(" — ")).collect();
    assert_eq!(summaries.len(), 4, "{report}");
    let mut written: Vec<String> = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    written.sort();
    assert_eq!(
        written,
        [
            "notes.ack.xml",
            "partial-two-apps.ack.xml",
            "valid-single.ack.xml",
            "valid-three-products.ack.xml",
        ]
    );
    let status = |f: &str| read_ack(&std::fs::read(out_dir.join(f)).unwrap()).status;
    assert_eq!(status("valid-single.ack.xml"), "accepted");
    assert_eq!(status("valid-three-products.ack.xml"), "accepted");
    assert_eq!(status("partial-two-apps.ack.xml"), "partial");
    let notes = read_ack(&std::fs::read(out_dir.join("notes.ack.xml")).unwrap());
    assert_eq!(notes.file_codes, ["F011"]);

    // Only accepted files: exit 0.
    let out = aim()
        .args(["validate", "--today", FILING_DAY, "--out"])
        .arg(tmp.path().join("ok"))
        .arg(dir.join("valid-single.xml"))
        .arg(dir.join("valid-secondary-only.xml"))
        .arg(dir.join("valid-informal-warning.xml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(std::fs::read_dir(tmp.path().join("ok")).unwrap().count(), 3);
}

#[test]
fn several_files_on_stdout_and_sender_override() {
    let dir = samples_dir().join("ACMEBRK");
    // Two files to standard output: both acks appear, in order.
    let out = aim()
        .args(["validate", "--today", FILING_DAY])
        .arg(dir.join("valid-single.xml"))
        .arg(dir.join("valid-secondary-only.xml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.matches("<LicenseAck ").count(), 2, "{text}");
    let first = text.find("valid-single.xml").unwrap();
    let second = text.find("valid-secondary-only.xml").unwrap();
    assert!(first < second);

    // --sender stands for the inbox: another registered partner's inbox is F004.
    let out = aim()
        .args(["validate", "--today", FILING_DAY, "--sender", "DEMO"])
        .arg(dir.join("valid-single.xml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(read_ack(&out.stdout).file_codes, ["F004"]);

    // A file that cannot be read: exit 2.
    let out = aim()
        .args(["validate", "--today", FILING_DAY])
        .arg(dir.join("no-such-file.xml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn comparison_detects_mismatches() {
    // The comparison itself must not be vacuous: a valid ack against wrong expectations.
    let cfg = config();
    let opts = sample_options(&cfg);
    let path = samples_dir().join("ACMEBRK/valid-informal-warning.xml");
    let Outcome::Ack { xml, .. } = validate_file(&path, &opts).unwrap() else {
        panic!("no ack");
    };
    let ack = read_ack(&xml);
    let case = |expect: Value| Case {
        file: "x".into(),
        path: path.clone(),
        expect,
    };
    let ok = serde_json::json!({"status": "accepted", "apps": {"A1": {"status": "issued", "codes": ["W301"]}}});
    assert!(compare(&case(ok.clone()), &ack).is_empty());
    // Seeing the store (the daemon's comparison), an issued application needs a LicenseNumber,
    // which `aim validate` never writes.
    let m = compare_with_expected(&ok, &ack, true);
    assert!(
        m.iter().any(|m| m.contains("LicenseNumber")),
        "store-visible comparison ignored the missing LicenseNumber: {m:?}"
    );
    // A needs_store case hinging on a store-only code: blind to the store, nothing to see;
    // seeing it, the missing A401 and the statuses are mismatches.
    let store = serde_json::json!({"status": "rejected", "needs_store": true, "apps": {"A1": {"status": "rejected", "codes": ["A401", "W301"]}}});
    let m = compare(&case(store.clone()), &ack);
    assert!(m.is_empty(), "{m:?}");
    let m = compare_with_expected(&store, &ack, true);
    for want in ["status accepted", "A1: error codes", "A1: status issued"] {
        assert!(m.iter().any(|m| m.starts_with(want)), "{want}: {m:?}");
    }
    for wrong in [
        serde_json::json!({"status": "rejected", "apps": {"A1": {"status": "issued", "codes": ["W301"]}}}),
        serde_json::json!({"status": "accepted", "apps": {"A1": {"status": "rejected", "codes": ["W301"]}}}),
        serde_json::json!({"status": "accepted", "apps": {"A1": {"status": "issued", "codes": ["A301"]}}}),
        serde_json::json!({"status": "accepted", "apps": {"A1": {"status": "issued", "codes": ["W310"]}}}),
        serde_json::json!({"status": "accepted", "apps": {"A2": {"status": "issued", "codes": []}}}),
        serde_json::json!({"status": "accepted", "file_codes": ["F001"]}),
        serde_json::json!({"status": "accepted", "any_of": ["F001", "F002"]}),
        serde_json::json!({"status": "accepted", "file_codes": {"any_of": ["F001", "F002"]}}),
        serde_json::json!({"status": "accepted", "file_codes": ["F001", "F002"], "any_of": true}),
    ] {
        assert!(!compare(&case(wrong.clone()), &ack).is_empty(), "{wrong}");
    }
    // any_of: one of the listed file codes is enough.
    let notes = samples_dir().join("ACMEBRK/notes.txt");
    let Outcome::Ack { xml, .. } = validate_file(&notes, &opts).unwrap() else {
        panic!("no ack");
    };
    let ack = read_ack(&xml);
    for ok in [
        serde_json::json!({"status": "rejected", "file_codes": ["F011"]}),
        serde_json::json!({"status": "rejected", "any_of": ["F001", "F011"]}),
        serde_json::json!({"status": "rejected", "file_codes": {"any_of": ["F011", "F007"]}}),
    ] {
        let m = compare(&case(ok.clone()), &ack);
        assert!(m.is_empty(), "{ok}: {m:?}");
    }
}

#[test]
fn file_level_checks_before_reading() {
    let tmp = tempfile::tempdir().unwrap();
    let inbox = tmp.path().join("ACMEBRK");
    std::fs::create_dir(&inbox).unwrap();
    let valid = std::fs::read(samples_dir().join("ACMEBRK/valid-single.xml")).unwrap();
    let run = |args: &[&std::ffi::OsStr]| {
        let out = aim()
            .args(["validate", "--today", FILING_DAY])
            .args(args)
            .output()
            .unwrap();
        let ack = read_ack(&out.stdout);
        (out.status.code(), ack)
    };
    // `.xml` compares case-insensitively; the parent folder stands for the inbox.
    let upper = inbox.join("UPPER.XML");
    std::fs::write(&upper, &valid).unwrap();
    let (code, ack) = run(&[upper.as_os_str()]);
    assert_eq!((code, ack.status.as_str()), (Some(0), "accepted"));
    // Another extension: F011, with no line or column.
    let txt = inbox.join("filing.xml.txt");
    std::fs::write(&txt, &valid).unwrap();
    let (code, ack) = run(&[txt.as_os_str()]);
    assert_eq!(
        (code, ack.file_codes.clone()),
        (Some(1), vec!["F011".to_owned()])
    );
    let err = ack
        .root
        .child("Interchange")
        .unwrap()
        .child("Error")
        .unwrap();
    assert_eq!((err.attr("line"), err.attr("column")), (None, None));
    // A symbolic link, a FIFO: F012.
    let link = inbox.join("link.xml");
    std::os::unix::fs::symlink(&upper, &link).unwrap();
    let (code, ack) = run(&[link.as_os_str()]);
    assert_eq!((code, ack.file_codes), (Some(1), vec!["F012".to_owned()]));
    // A folder given as an argument is a mistake of the caller, not a filing: exit 2, no ack
    // (the daemon answers a folder in an inbox with F012).
    let dir = inbox.join("folder.xml");
    std::fs::create_dir(&dir).unwrap();
    let out = aim()
        .args(["validate", "--today", FILING_DAY])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("is a folder"));
    let fifo = inbox.join("pipe.xml");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    if made.is_ok_and(|s| s.success()) {
        let (code, ack) = run(&[fifo.as_os_str()]);
        assert_eq!((code, ack.file_codes), (Some(1), vec!["F012".to_owned()]));
    }
    // Larger than the configured maximum: F006 (checked before the content: a not-well-formed
    // file is F006 too).
    let cfg = tmp.path().join("aim.toml");
    let shipped =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/aim.toml")).unwrap();
    let text = shipped.replace("max_file_bytes   = 33554432", "max_file_bytes   = 1000");
    assert_ne!(text, shipped, "the shipped config changed its layout");
    std::fs::write(&cfg, text).unwrap();
    let big = inbox.join("big.xml");
    let mut bytes = valid.clone();
    bytes.extend_from_slice(b"<<<");
    std::fs::write(&big, &bytes).unwrap();
    let out = aim()
        .arg("--config")
        .arg(&cfg)
        .args(["validate", "--today", FILING_DAY])
        .arg(&big)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(read_ack(&out.stdout).file_codes, ["F006"]);
    // An unreadable configuration: exit 2.
    let out = aim()
        .arg("--config")
        .arg(tmp.path().join("missing.toml"))
        .args(["validate", "--today", FILING_DAY])
        .arg(&upper)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
