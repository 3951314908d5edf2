//! The bad-input corpus: every file of `tests/bad_input/` and every generated case of its
//! `expected.json` (too large to commit, not regular files, or needing a small limit in the
//! configuration) gets exactly the ack the table says, with a message for every error, through
//! the library (`intake::read_file` + `filing::check_input`, as the daemon reads) and through
//! the `aim validate` binary; every ack passes `schemas/ack-1.xsd` where xmllint is installed.
//! Also: every input the fuzzer ever crashed on (`tests/fuzz_regressions/`) gets an ack; an ack
//! name at the file system's limit; F005, which needs the daemon's store.
#![allow(
    clippy::unwrap_used,
    clippy::too_many_lines,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)] // Test code: a panic is the failure report, a scenario reads top to bottom.

mod common;
mod daemon_harness;

use aim::config::Config;
use aim::filing::ack::{Ack, FileFacts, Issuance};
use aim::filing::rules::{self, AppStatus, FileContext, Offline};
use aim::intake::{self, Content};
use assert_cmd::Command;
use chrono::TimeZone;
use common::{AckSummary, FILING_DAY, compare_with_expected, filing_day, read_ack};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const INBOX: &str = "ACMEBRK";

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/bad_input")
}

fn table() -> Value {
    let p = corpus_dir().join("expected.json");
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&text).expect("expected.json is JSON")
}

/// A configuration with the partners ACMEBRK and DEMO and the case's `[intake]` limits.
fn config_text(limits: &Value) -> String {
    let mut t = String::from("[intake]\n");
    for key in ["max_file_bytes", "max_applications"] {
        if let Some(n) = limits.get(key).and_then(Value::as_u64) {
            t.push_str(&format!("{key} = {n}\n"));
        }
    }
    t.push_str(
        "[[partner]]\nid = \"ACMEBRK\"\nname = \"Acme\"\nemails = [\"filings@acme.example\"]\n\
         [[partner]]\nid = \"DEMO\"\nname = \"Demo\"\nemails = [\"demo@demo.example\"]\n",
    );
    t
}

fn template() -> String {
    common::TEMPLATE.to_owned()
}

/// The template's one application (indented, with its final line break).
fn template_app(id: &str) -> String {
    let t = template();
    let a = t.find("  <Application ").expect("application");
    let end = "</Application>\n";
    let b = a + t[a..].find(end).expect("end") + end.len();
    t[a..b].replacen("id=\"A1\"", &format!("id=\"{id}\""), 1)
}

fn with_apps(apps: &str) -> String {
    let t = template();
    let a = t.find("  <Application ").expect("application");
    format!("{}{apps}</LicenseFiling>\n", &t[..a])
}

/// The template's Product element (indented, with its final line break).
fn template_product() -> String {
    let t = template();
    let a = t.find("    <Product ").expect("product");
    let end = "</Product>\n";
    let b = a + t[a..].find(end).expect("end") + end.len();
    t[a..b].to_owned()
}

fn with_products(n: usize) -> String {
    let p = template_product();
    let products: String = (1..=n)
        .map(|i| p.replacen("line=\"1\"", &format!("line=\"{i}\""), 1))
        .collect();
    template().replacen(&p, &products, 1)
}

fn nested(depth: usize, close: bool) -> String {
    let mut s = "<Deep>".repeat(depth);
    if close {
        s.push_str(&"</Deep>".repeat(depth));
    }
    s
}

/// Make the generated case `name` in `dir`; returns its path.
fn generate(name: &str, dir: &Path) -> PathBuf {
    let path = dir.join(name);
    let write = |bytes: Vec<u8>| std::fs::write(&path, bytes).expect("write generated case");
    match name {
        "size-exactly-max.xml" | "size-one-over-max.xml" => {
            let want = if name.contains("exactly") { 4096 } else { 4097 };
            let t = template();
            let pad = want - t.len() - "<!---->".len();
            write(
                t.replacen(
                    "<Interchange>",
                    &format!("<!--{}--><Interchange>", " ".repeat(pad)),
                    1,
                )
                .into_bytes(),
            );
            assert_eq!(std::fs::metadata(&path).unwrap().len(), want as u64);
        }
        "apps-at-max.xml" | "apps-one-over-max.xml" => {
            let n = if name.contains("at-max") { 3 } else { 4 };
            let apps: String = (1..=n).map(|i| template_app(&format!("A{i}"))).collect();
            write(with_apps(&apps).into_bytes());
        }
        "products-999.xml" => write(with_products(999).into_bytes()),
        "products-1000.xml" => write(with_products(1000).into_bytes()),
        "deep-nesting-in-application.xml" => write(
            template()
                .replacen(
                    "<PortOfEntry>",
                    &format!("{}\n    <PortOfEntry>", nested(100_000, true)),
                    1,
                )
                .into_bytes(),
        ),
        "deep-nesting-in-root.xml" => write(
            template()
                .replacen(
                    "  <Interchange>",
                    &format!("{}\n  <Interchange>", nested(100_000, true)),
                    1,
                )
                .into_bytes(),
        ),
        "deep-nesting-unclosed.xml" => write(
            template()
                .replacen(
                    "<PortOfEntry>",
                    &format!("{}<PortOfEntry>", nested(100_000, false)),
                    1,
                )
                .into_bytes(),
        ),
        "long-line-10mb-importer.xml" => write(
            template()
                .replacen("Northwind Metals Inc", &"N".repeat(10 << 20), 1)
                .into_bytes(),
        ),
        "long-line-10mb-blanks.xml" => write(
            template()
                .replacen(
                    "</LicenseFiling>",
                    &format!("{}</LicenseFiling>", " ".repeat(10 << 20)),
                    1,
                )
                .into_bytes(),
        ),
        "long-element-name.xml" => {
            let n = "X".repeat(1 << 20);
            write(
                template()
                    .replacen("<PortOfEntry>", &format!("<{n}>x</{n}><PortOfEntry>"), 1)
                    .into_bytes(),
            )
        }
        "symlink.xml" => {
            let target = dir.join("target-of-link.xml.part");
            std::fs::write(&target, template()).unwrap();
            std::os::unix::fs::symlink(&target, &path).expect("symlink");
        }
        "fifo.xml" => {
            nix::unistd::mkfifo(&path, nix::sys::stat::Mode::from_bits_truncate(0o600))
                .expect("mkfifo");
        }
        "link-to-folder.xml" => {
            let target = dir.join("a-folder");
            std::fs::create_dir(&target).unwrap();
            std::os::unix::fs::symlink(&target, &path).expect("symlink");
        }
        other => {
            panic!("expected.json names a generated case {other} that bad_input.rs does not make")
        }
    }
    path
}

/// Judge `path` as the daemon reads it and render the ack as `aim validate` does.
fn library_ack(path: &Path, cfg: &Config) -> Vec<u8> {
    let name = intake::file_name_text(path.file_name().expect("a file name"));
    let max = cfg.intake.max_file_bytes;
    let content = intake::read_file(path, max).expect("read the case");
    let (input, sha): (aim::filing::Input<'_>, [u8; 32]) = match &content {
        Content::NotRegular { kind } => (
            aim::filing::Input::NotRegular(kind),
            Sha256::digest(b"").into(),
        ),
        Content::TooLarge { size } => (
            aim::filing::Input::TooLarge(*size),
            Sha256::digest(b"").into(),
        ),
        Content::Bytes(b) => (aim::filing::Input::Bytes(b), Sha256::digest(b).into()),
    };
    let settings = rules::RuleSettings {
        apply_review: false,
        ..cfg.rule_settings()
    };
    let registered = |id: &str| cfg.partner(id).is_some();
    let cx = FileContext {
        inbox_sender: INBOX,
        is_registered: &registered,
        filing_day: filing_day(),
        sha256: sha,
        settings: &settings,
    };
    let verdict = aim::filing::check_input(&name, input, max, &cx, &mut Offline)
        .expect("the offline ledger always answers");
    let today = filing_day();
    let issuance: Vec<Issuance> = verdict
        .apps
        .iter()
        .map(|a| Issuance {
            number: None,
            validity: (a.status == AppStatus::Issued).then(|| {
                (
                    today,
                    today + chrono::Days::new(rules::VALIDITY_DAYS as u64),
                )
            }),
        })
        .collect();
    let facts = FileFacts {
        file_name: &name,
        sha256: sha,
        received_at: chrono::Utc.with_ymd_and_hms(2026, 11, 28, 0, 0, 0).unwrap(),
    };
    Ack::first(&verdict, &facts, &issuance).render()
}

/// `aim validate --format xml` on one file: (exit code, ack).
fn binary_ack(path: &Path, config: &Path) -> (Option<i32>, Vec<u8>) {
    let out = Command::cargo_bin("aim")
        .expect("the aim binary")
        .current_dir(std::env::temp_dir())
        .arg("validate")
        .arg("--config")
        .arg(config)
        .args(["--today", FILING_DAY, "--sender", INBOX, "--format", "xml"])
        .arg(path)
        .timeout(Duration::from_secs(120))
        .output()
        .expect("run aim validate");
    assert!(
        out.status.code().is_some(),
        "aim validate {} died: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), out.stdout)
}

/// Every Error and Warning of the ack says something.
fn messages_are_given(ack: &AckSummary) -> Vec<String> {
    let mut bad = Vec::new();
    let mut visit = |e: &common::Elem, where_: &str| {
        for x in e
            .children
            .iter()
            .filter(|c| c.name == "Error" || c.name == "Warning")
        {
            if x.text.trim().len() < 10 {
                bad.push(format!(
                    "{where_}: {} {:?} has no message",
                    x.name,
                    x.attr("code")
                ));
            }
        }
    };
    if let Some(ic) = ack.root.child("Interchange") {
        visit(ic, "Interchange");
    }
    for a in ack.root.all("Application") {
        visit(a, "Application");
    }
    bad
}

/// xmllint's verdict on `files` against the ack schema; `None` when xmllint is not installed.
fn xmllint_acks(files: &[PathBuf]) -> Option<(bool, String)> {
    let xsd = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("schemas/ack-1.xsd");
    let out = std::process::Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(&xsd)
        .args(files)
        .output()
        .ok()?;
    Some((
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    ))
}

#[test]
fn every_bad_input_gets_its_expected_ack() {
    let table = table();
    let cases = table["cases"].as_array().expect("cases");
    let tmp = tempfile::tempdir().unwrap();
    let acks = tmp.path().join("acks");
    std::fs::create_dir(&acks).unwrap();
    let mut failures = Vec::new();
    let mut ack_files = Vec::new();
    // Every committed file is in the table, and every file of the table is there.
    let listed: std::collections::BTreeSet<String> = cases
        .iter()
        .filter_map(|c| c["file"].as_str().map(str::to_owned))
        .collect();
    let present: std::collections::BTreeSet<String> = std::fs::read_dir(corpus_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().expect("UTF-8 names"))
        .filter(|n| n != "expected.json")
        .collect();
    assert_eq!(
        listed, present,
        "tests/bad_input/ and expected.json disagree"
    );

    for (i, case) in cases.iter().enumerate() {
        let limits = case.get("config").cloned().unwrap_or(Value::Null);
        let cfg_text = config_text(&limits);
        let cfg = Config::parse(&cfg_text, "bad-input config").expect("config");
        let cfg_path = tmp.path().join(format!("config-{i}.toml"));
        std::fs::write(&cfg_path, &cfg_text).unwrap();
        let (label, path) = match (case["file"].as_str(), case["generated"].as_str()) {
            (Some(f), _) => (f.to_owned(), corpus_dir().join(f)),
            (None, Some(g)) => {
                let dir = tmp.path().join(format!("case-{i}"));
                std::fs::create_dir(&dir).unwrap();
                (g.to_owned(), generate(g, &dir))
            }
            _ => panic!("case {i} has neither file nor generated"),
        };

        let started = Instant::now();
        let lib = library_ack(&path, &cfg);
        let lib_time = started.elapsed();
        let (code, bin) = binary_ack(&path, &cfg_path);
        for (how, xml) in [("library", &lib), ("aim validate", &bin)] {
            let ack = read_ack(xml);
            let mut bad = compare_with_expected(case, &ack, false);
            bad.extend(messages_are_given(&ack));
            if !bad.is_empty() {
                failures.push(format!(
                    "{label} ({how}): {}\n{}",
                    bad.join("; "),
                    String::from_utf8_lossy(xml)
                ));
            }
        }
        // The library and the binary say the same (both read ReceivedAt from --today).
        if lib != bin {
            failures.push(format!(
                "{label}: the library's ack and aim validate's differ"
            ));
        }
        let want_code = if case["status"] == "accepted" { 0 } else { 1 };
        if code != Some(want_code) {
            failures.push(format!(
                "{label}: aim validate exit {code:?} (want {want_code})"
            ));
        }
        // Bad input is answered at once: no case needs more than a few seconds, even the
        // entity bomb and the 10 MB line (debug build).
        if lib_time > Duration::from_secs(20) {
            failures.push(format!("{label}: took {lib_time:?}"));
        }
        let f = acks.join(format!("case-{i}.ack.xml"));
        std::fs::write(&f, &bin).unwrap();
        ack_files.push(f);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));

    match xmllint_acks(&ack_files) {
        Some((ok, said)) => assert!(ok, "acks fail schemas/ack-1.xsd:\n{said}"),
        None => eprintln!(
            "xmllint is not installed (apt-get install -y libxml2-utils): the ack schema was not checked"
        ),
    }
}

/// Inputs the fuzzer found (`tests/fuzz_regressions/`, with `expected.json`): every crash
/// input once fixed, and inputs of its corpus that reach rarely reached answers. Each gets
/// exactly the ack the table says, with a message for every error, through the library and
/// the binary alike.
#[test]
fn fuzz_regressions_get_their_expected_ack() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz_regressions");
    let text = std::fs::read_to_string(dir.join("expected.json")).expect("expected.json");
    let table: Value = serde_json::from_str(&text).expect("JSON");
    let cases = table["cases"].as_array().expect("cases");
    let listed: std::collections::BTreeSet<String> = cases
        .iter()
        .filter_map(|c| c["file"].as_str().map(str::to_owned))
        .collect();
    let present: std::collections::BTreeSet<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().expect("UTF-8 names"))
        .filter(|n| n != "expected.json")
        .collect();
    assert_eq!(
        listed, present,
        "tests/fuzz_regressions/ and expected.json disagree"
    );
    assert!(!cases.is_empty());
    let tmp = tempfile::tempdir().unwrap();
    let cfg_text = config_text(&Value::Null);
    let cfg = Config::parse(&cfg_text, "regression config").unwrap();
    let cfg_path = tmp.path().join("aim.toml");
    std::fs::write(&cfg_path, &cfg_text).unwrap();
    let mut failures = Vec::new();
    for case in cases {
        let name = case["file"].as_str().expect("file");
        let f = dir.join(name);
        let lib = library_ack(&f, &cfg);
        let (code, bin) = binary_ack(&f, &cfg_path);
        let ack = read_ack(&lib);
        let mut bad = compare_with_expected(case, &ack, false);
        bad.extend(messages_are_given(&ack));
        if lib != bin {
            bad.push("the library's ack and aim validate's differ".into());
        }
        let want_code = if case["status"] == "accepted" { 0 } else { 1 };
        if code != Some(want_code) {
            bad.push(format!("aim validate exit {code:?} (want {want_code})"));
        }
        if !bad.is_empty() {
            failures.push(format!(
                "{name}: {}\n{}",
                bad.join("; "),
                String::from_utf8_lossy(&lib)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// A 255-byte file name (the most Linux allows) through `aim validate --out`: the ack is named
/// `<stem>.ack.xml` with the stem cut at a character boundary to 240 bytes (spec section 1).
#[test]
fn a_file_name_at_the_limit_gets_an_ack_name_that_fits() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join(INBOX);
    let out = tmp.path().join("out");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::create_dir_all(&out).unwrap();
    // ASCII: 251 + ".xml"; two-byte characters: the 240th byte falls inside one.
    let ascii = format!("{}.xml", "a".repeat(251));
    let wide = format!("a{}.xml", "é".repeat(125));
    for (name, want_stem) in [
        (&ascii, "a".repeat(240)),
        (&wide, format!("a{}", "é".repeat(119))),
    ] {
        assert_eq!(name.len(), 255);
        assert!(want_stem.len() <= 240 && want_stem.len() >= 239);
        let p = dir.join(name);
        std::fs::write(&p, template()).unwrap();
        let o = Command::cargo_bin("aim")
            .unwrap()
            .current_dir(std::env::temp_dir())
            .args(["validate", "--today", FILING_DAY, "--out"])
            .arg(&out)
            .arg(&p)
            .output()
            .unwrap();
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        let ack_path = out.join(format!("{want_stem}.ack.xml"));
        let xml = std::fs::read(&ack_path)
            .unwrap_or_else(|e| panic!("no ack {}: {e}", ack_path.display()));
        let ack = read_ack(&xml);
        assert_eq!(ack.status, "accepted");
        // The ack still names the file in full.
        assert_eq!(ack.file_name.as_deref(), Some(name.as_str()));
        std::fs::remove_file(&ack_path).unwrap();
    }
    assert_eq!(
        std::fs::read_dir(&out).unwrap().count(),
        0,
        "stray files in --out"
    );
}

/// F005 needs the store: the daemon answers a reused control number with other content with
/// F005, and an identical file with the original ack.
#[test]
fn daemon_answers_a_reused_control_number_with_f005() {
    use daemon_harness::{ACME, Env, drop_file, filing, new_app, parse_ack};
    let env = Env::new();
    let mut d = env.start_ready();
    let first = filing(ACME, "000000777", &[new_app("A1")]);
    drop_file(&env.inbox_of(ACME), "first.xml", &first);
    let a = parse_ack(&d.wait_ack(&env.outbox_of(ACME), "first.ack.xml"));
    assert_eq!(a.status, "accepted", "{a:#?}");
    // Same control number (written as another number of digits), other content.
    let second = filing(ACME, "777", &[new_app("B1")]);
    drop_file(&env.inbox_of(ACME), "second.xml", &second);
    let b = parse_ack(&d.wait_ack(&env.outbox_of(ACME), "second.ack.xml"));
    assert_eq!(b.status, "rejected");
    assert_eq!(b.file_codes, ["F005"], "{b:#?}");
    assert!(b.apps.is_empty());
    let messages = messages_are_given(&b);
    assert!(messages.is_empty(), "{messages:?}");
}
