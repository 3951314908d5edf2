//! The XML schemas against real documents, with `xmllint` (libxml2-utils): the valid samples
//! and generated filings against `schemas/filing-1.xsd`, every ack `aim validate` writes for
//! the samples against `schemas/ack-1.xsd`.
#![allow(
    clippy::unwrap_used,
    clippy::too_many_lines,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)] // Test code: a panic is the failure report, a scenario reads top to bottom.

mod common;

use assert_cmd::Command;
use common::{FILING_DAY, samples_dir};
use std::path::{Path, PathBuf};

fn schema(name: &str) -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("schemas")
        .join(name);
    assert!(p.is_file(), "{} is missing", p.display());
    p
}

/// `xmllint --noout --schema XSD FILES...`: (success, what it said).
fn xmllint(xsd: &Path, files: &[PathBuf]) -> (bool, String) {
    assert!(!files.is_empty(), "nothing to validate");
    let out = std::process::Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(xsd)
        .args(files)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run xmllint ({e}): install libxml2-utils (apt-get install -y libxml2-utils); \
                 CI installs it"
            )
        });
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), said)
}

fn aim() -> Command {
    let mut c = Command::cargo_bin("aim").expect("the aim binary");
    c.current_dir(std::env::temp_dir());
    c
}

fn sample(name: &str) -> PathBuf {
    samples_dir().join("ACMEBRK").join(name)
}

#[test]
fn valid_samples_pass_the_filing_schema() {
    let files: Vec<PathBuf> = [
        "valid-single.xml",
        "valid-three-products.xml",
        "valid-secondary-only.xml",
        "valid-informal-warning.xml",
        // Its rejection (A301) is a rule, not a matter of form.
        "partial-two-apps.xml",
    ]
    .iter()
    .map(|n| sample(n))
    .collect();
    let (ok, said) = xmllint(&schema("filing-1.xsd"), &files);
    assert!(ok, "{said}");
}

#[test]
fn filing_schema_rejects_what_no_rule_can_accept() {
    // Wrong namespace, an unknown element, no application: the schema must say no too.
    for name in [
        "file-wrong-namespace.xml",
        "bad-unknown-element.xml",
        "file-no-applications.xml",
    ] {
        let (ok, said) = xmllint(&schema("filing-1.xsd"), &[sample(name)]);
        assert!(!ok, "{name} passes the filing schema: {said}");
    }
}

#[test]
fn every_ack_passes_the_ack_schema() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = samples_dir().join("ACMEBRK");
    let mut inputs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| !aim::filing::is_in_progress_name(&p.file_name().unwrap().to_string_lossy()))
        .collect();
    inputs.sort();
    assert!(inputs.len() >= 30);
    let out = aim()
        .args(["validate", "--today", FILING_DAY, "--out"])
        .arg(tmp.path())
        .args(&inputs)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut acks: Vec<PathBuf> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    acks.sort();
    assert_eq!(acks.len(), inputs.len(), "one ack per sample");
    let (ok, said) = xmllint(&schema("ack-1.xsd"), &acks);
    assert!(ok, "{said}");
    // The schema's own example too.
    let example =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("schemas/examples/ack-example.xml");
    if example.is_file() {
        let (ok, said) = xmllint(&schema("ack-1.xsd"), &[example]);
        assert!(ok, "{said}");
    }
}

#[test]
fn generated_filings_pass_the_schema_and_validate() {
    let tmp = tempfile::tempdir().unwrap();
    let gen_dir = tmp.path().join("ACMEBRK");
    aim()
        .args([
            "gen",
            "--sender",
            "ACMEBRK",
            "--count",
            "5",
            "--apps-per-file",
            "3",
            "--seed",
            "7",
            "--out",
        ])
        .arg(&gen_dir)
        .assert()
        .success();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&gen_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert_eq!(files.len(), 5, "{files:?}");
    let (ok, said) = xmllint(&schema("filing-1.xsd"), &files);
    assert!(ok, "{said}");
    let acks = tmp.path().join("acks");
    let out = aim()
        .args(["validate", "--sender", "ACMEBRK", "--out"])
        .arg(&acks)
        .args(&files)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "generated filings are not all accepted: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let acks: Vec<PathBuf> = std::fs::read_dir(&acks)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(acks.len(), 5);
    for a in &acks {
        let ack = common::read_ack(&std::fs::read(a).unwrap());
        assert_eq!(ack.status, "accepted");
        assert_eq!(ack.apps.len(), 3);
    }
    let (ok, said) = xmllint(&schema("ack-1.xsd"), &acks);
    assert!(ok, "{said}");
}
