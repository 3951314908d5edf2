//! What every fuzz target checks: bytes go through `aim::filing::check_input` as
//! `aim validate` sends them (offline ledger, the built-in partners), the verdict is coherent,
//! and the ack rendered from it (as src/validate.rs builds it) is well-formed XML that holds
//! no raw control character.

use aim::config::{BUILT_IN, Config};
use aim::filing::ack::{Ack, FileFacts, Issuance};
use aim::filing::codes::is_control;
use aim::filing::rules::{self, AppStatus, FileContext, Offline, RuleSettings};
use aim::filing::{self, Input};
use chrono::{NaiveDate, TimeZone, Utc};
use quick_xml::events::Event;
use quick_xml::reader::Reader;
use std::sync::OnceLock;

/// A small file limit, so that F006 is reachable, and a small application limit, so that
/// F009 (too many) is reachable within libFuzzer's input sizes.
pub const MAX_FILE_BYTES: u64 = 1 << 20;
pub const MAX_APPLICATIONS: usize = 8;

fn config() -> &'static Config {
    static C: OnceLock<Config> = OnceLock::new();
    C.get_or_init(|| Config::parse(BUILT_IN, "built-in").expect("built-in configuration"))
}

fn settings() -> &'static RuleSettings {
    static S: OnceLock<RuleSettings> = OnceLock::new();
    S.get_or_init(|| RuleSettings {
        apply_review: false,
        max_applications: MAX_APPLICATIONS,
        ..config().rule_settings()
    })
}

/// Judge `bytes` as the file `name` in ACMEBRK's inbox and check everything about the answer.
pub fn check(name: &str, bytes: &[u8]) {
    let cfg = config();
    let registered = |id: &str| cfg.partner(id).is_some();
    let today = NaiveDate::from_ymd_opt(2026, 11, 28).expect("date");
    let cx = FileContext {
        inbox_sender: "ACMEBRK",
        is_registered: &registered,
        filing_day: today,
        sha256: [7; 32],
        settings: settings(),
    };
    let verdict = filing::check_input(name, Input::Bytes(bytes), MAX_FILE_BYTES, &cx, &mut Offline)
        .expect("the offline ledger always answers");

    // The verdict is coherent: a file error and nothing else, or applications with reasons.
    match &verdict.file_error {
        Some(e) => {
            assert!(verdict.apps.is_empty(), "file error and applications");
            assert!(e.code.is_file_level(), "{e:?}");
            assert!(!e.message.is_empty());
        }
        None => {
            assert!(
                !verdict.apps.is_empty(),
                "neither a file error nor applications"
            );
            assert!(verdict.apps.len() <= MAX_APPLICATIONS);
            for a in &verdict.apps {
                if a.status == AppStatus::Rejected {
                    assert!(!a.errors.is_empty(), "rejected without an error: {a:?}");
                }
                for e in a.errors.iter().chain(&a.warnings) {
                    assert!(!e.code.is_file_level(), "{e:?}");
                    assert!(!e.message.is_empty(), "{e:?}");
                }
            }
        }
    }

    // The ack as src/validate.rs builds it.
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
        file_name: name,
        sha256: [7; 32],
        received_at: Utc.with_ymd_and_hms(2026, 11, 28, 0, 0, 0).unwrap(),
    };
    let ack = Ack::first(&verdict, &facts, &issuance);
    let xml = ack.render();
    check_ack(&xml, &ack);
}

/// The ack is UTF-8, holds no raw control character but the line breaks between elements,
/// and parses back with quick-xml into as many applications and errors as the ack value says.
fn check_ack(xml: &[u8], ack: &Ack) {
    let text = std::str::from_utf8(xml).expect("the ack is UTF-8");
    if let Some(c) = text.chars().find(|&c| is_control(c) && c != '\n') {
        panic!(
            "raw control character U+{:04X} in the ack:\n{text}",
            u32::from(c)
        );
    }
    let mut r = Reader::from_str(text);
    {
        let cfg = r.config_mut();
        cfg.check_end_names = true;
        cfg.check_comments = true;
        cfg.allow_unmatched_ends = false;
    }
    let mut depth = 0usize;
    let mut roots = 0usize;
    let (mut apps, mut errors, mut warnings) = (0usize, 0usize, 0usize);
    loop {
        match r.read_event() {
            Err(e) => panic!("the ack is not well-formed XML: {e}\n{text}"),
            Ok(Event::Eof) => break,
            Ok(Event::Start(s)) => {
                if depth == 0 {
                    roots += 1;
                }
                depth += 1;
                count(
                    s.local_name().into_inner(),
                    &mut apps,
                    &mut errors,
                    &mut warnings,
                );
                for a in s.attributes() {
                    let a = a.unwrap_or_else(|e| panic!("bad attribute in the ack: {e}\n{text}"));
                    let v = a
                        .normalized_value(quick_xml::XmlVersion::Explicit1_0)
                        .unwrap_or_else(|e| panic!("bad attribute value in the ack: {e}\n{text}"));
                    assert!(!v.chars().any(is_control), "control character in {v:?}");
                }
            }
            Ok(Event::Empty(s)) => {
                assert!(depth > 0, "an empty element outside the root");
                count(
                    s.local_name().into_inner(),
                    &mut apps,
                    &mut errors,
                    &mut warnings,
                );
            }
            Ok(Event::End(_)) => depth -= 1,
            Ok(Event::Text(t)) => {
                let s = t.xml10_content();
                if depth == 0 || s.trim().is_empty() {
                    continue;
                }
                assert!(
                    !s.chars().any(is_control),
                    "control character in text {s:?}"
                );
            }
            Ok(Event::GeneralRef(g)) => {
                let name: &str = &g;
                assert!(
                    matches!(name, "amp" | "lt" | "gt" | "quot" | "apos"),
                    "the ack uses the reference &{name};"
                );
            }
            Ok(Event::Decl(_)) => {}
            Ok(other) => panic!("unexpected {other:?} in the ack\n{text}"),
        }
    }
    assert_eq!(depth, 0);
    assert_eq!(roots, 1, "the ack has one root element");
    assert_eq!(apps, ack.apps.len());
    let want_errors =
        ack.file_errors.len() + ack.apps.iter().map(|a| a.errors.len()).sum::<usize>();
    let want_warnings: usize = ack.apps.iter().map(|a| a.warnings.len()).sum();
    assert_eq!(errors, want_errors);
    assert_eq!(warnings, want_warnings);
}

fn count(name: &str, apps: &mut usize, errors: &mut usize, warnings: &mut usize) {
    match name {
        "Application" => *apps += 1,
        "Error" => *errors += 1,
        "Warning" => *warnings += 1,
        _ => {}
    }
}
