//! Whatever bytes arrive, `aim::filing::check` returns a verdict without panicking, and the ack
//! rendered from it is well-formed XML that says what the verdict says.
#![allow(
    clippy::unwrap_used,
    clippy::too_many_lines,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)] // Test code: a panic is the failure report, a scenario reads top to bottom.

mod common;

use aim::filing::ack::{Ack, FileFacts, Issuance};
use aim::filing::rules::{AppStatus, FileContext, Offline, RuleSettings, Verdict};
use chrono::{TimeZone, Utc};
use common::{TEMPLATE, config, filing_day, parse_xml, read_ack, samples_dir, settings};
use proptest::prelude::*;
use std::sync::OnceLock;

fn judge(bytes: &[u8], inbox: &str, settings: &RuleSettings) -> Verdict {
    let cfg = config();
    let registered = |id: &str| cfg.partner(id).is_some();
    let cx = FileContext {
        inbox_sender: inbox,
        is_registered: &registered,
        filing_day: filing_day(),
        sha256: [7; 32],
        settings,
    };
    aim::filing::check(bytes, &cx, &mut Offline).expect("the offline ledger always answers")
}

/// Judge, render the ack, and check the ack against the verdict.
fn check_and_render(bytes: &[u8], inbox: &str, settings: &RuleSettings) {
    let v = judge(bytes, inbox, settings);
    // The verdict is coherent.
    if v.file_error.is_some() {
        assert!(v.apps.is_empty(), "a file-level error and applications");
        assert_eq!(v.status().as_str(), "rejected");
    } else {
        assert!(!v.apps.is_empty(), "no file error but no applications");
        assert!(v.apps.len() <= settings.max_applications);
        for a in &v.apps {
            assert_eq!(
                a.status == AppStatus::Rejected,
                !a.errors.is_empty() || a.action.is_none(),
                "{a:?}"
            );
            assert!(a.errors.iter().all(|e| e.position.is_some()));
        }
    }
    let facts = FileFacts {
        file_name: "fuzz.xml",
        sha256: [7; 32],
        received_at: Utc.with_ymd_and_hms(2026, 11, 28, 0, 0, 0).unwrap(),
    };
    let issuance: Vec<Issuance> = v.apps.iter().map(|_| Issuance::default()).collect();
    let xml = Ack::first(&v, &facts, &issuance).render();
    if let Err(e) = parse_xml(&xml) {
        panic!(
            "ack is not well-formed ({e}):\n{}",
            String::from_utf8_lossy(&xml)
        );
    }
    let ack = read_ack(&xml);
    assert_eq!(ack.status, v.status().as_str());
    assert_eq!(ack.apps.len(), v.apps.len());
    assert_eq!(ack.file_codes.len(), usize::from(v.file_error.is_some()));
    for (got, want) in ack.apps.iter().zip(&v.apps) {
        assert_eq!(got.status, want.status.as_str());
        assert_eq!(got.errors.len(), want.errors.len());
        assert_eq!(got.warnings.len(), want.warnings.len());
    }
}

/// The valid samples (and the template), the documents the mutations start from.
fn seeds() -> &'static [Vec<u8>] {
    static SEEDS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    SEEDS.get_or_init(|| {
        let dir = samples_dir().join("ACMEBRK");
        let mut v = vec![TEMPLATE.as_bytes().to_vec()];
        for name in [
            "valid-single.xml",
            "valid-three-products.xml",
            "valid-secondary-only.xml",
            "valid-informal-warning.xml",
            "partial-two-apps.xml",
            "bad-cancel-unknown.xml",
        ] {
            v.push(std::fs::read(dir.join(name)).expect("read a sample"));
        }
        v
    })
}

const TOKENS: &[&[u8]] = &[
    b"<",
    b">",
    b"&",
    b";",
    b"]]>",
    b"<!DOCTYPE LicenseFiling>",
    b"<!DOCTYPE a [<!ENTITY e \"x\">]>",
    b"\0",
    b"\xFF",
    b"\xC0\x80",
    b"\xED\xA0\x80",
    b"\xE2\x82",
    b"\xEF\xBB\xBF",
    b"&#1;",
    b"&#x85;",
    b"&#xFFFE;",
    b"&#99999999999;",
    b"&amp;",
    b"&lt;",
    b"\xC2\x85",
    b"\xC2\x9B31m",
    b"\r",
    b"\r\n",
    b"\t",
    b"\"",
    b"'",
    b"=",
    b"/",
    b"<a>",
    b"</a>",
    b"<a/>",
    b"<![CDATA[",
    b"<![CDATA[x]]>",
    b"<?pi x?>",
    b"<?xml version=\"1.0\"?>",
    b"<!--",
    b"-->",
    b"<!-- c -->",
    b"xmlns=\"urn:aim:filing:1\"",
    b"xmlns:x=\"urn:aim:filing:1\"",
    b"<x:Importer>X</x:Importer>",
    b"<Manufacturer>M</Manufacturer>",
    b"<Product line=\"1\">",
    b"</Product>",
    b"<Application id=\"A1\" action=\"new\">",
    b"<Application id=\"Z\" action=\"cancel\" license=\"AIM-2026-0000018-3\"><Reason>r</Reason></Application>",
    b"</Application>",
    b"<Interchange>",
    b"</Interchange>",
    b"NOT_APPLICABLE",
    b"UNKNOWN",
    b"\xF0\x9D\x84\x9E",
    b"\xC3\xA4",
    b"0",
    b"-",
    b".",
    b"9999999999999",
];

#[derive(Clone, Debug)]
enum Mutation {
    Flip(usize, u8),
    Truncate(usize),
    Insert(usize, usize),
    Delete(usize, usize),
    Duplicate(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(p, b)| Mutation::Flip(p, b)),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), 0..TOKENS.len()).prop_map(|(p, t)| Mutation::Insert(p, t)),
        (any::<usize>(), 1usize..64).prop_map(|(p, n)| Mutation::Delete(p, n)),
        (any::<usize>(), 1usize..400).prop_map(|(p, n)| Mutation::Duplicate(p, n)),
    ]
}

fn apply(mut b: Vec<u8>, muts: &[Mutation]) -> Vec<u8> {
    for m in muts {
        let len = b.len().max(1);
        match *m {
            Mutation::Flip(p, x) => {
                if !b.is_empty() {
                    b[p % len] = x;
                }
            }
            Mutation::Truncate(p) => b.truncate(p % (len + 1)),
            Mutation::Insert(p, t) => {
                let at = p % (b.len() + 1);
                b.splice(at..at, TOKENS[t].iter().copied());
            }
            Mutation::Delete(p, n) => {
                let at = p % (b.len() + 1);
                let end = (at + n).min(b.len());
                b.drain(at..end);
            }
            Mutation::Duplicate(p, n) => {
                let at = p % (b.len() + 1);
                let end = (at + n).min(b.len());
                let piece = b[at..end].to_vec();
                b.splice(at..at, piece);
            }
        }
    }
    b
}

fn small_limits() -> RuleSettings {
    RuleSettings {
        max_applications: 2,
        import_past_days: 0,
        ..settings()
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        check_and_render(&bytes, "ACMEBRK", &settings());
    }

    #[test]
    fn random_bytes_after_a_prologue(bytes in proptest::collection::vec(any::<u8>(), 0..1024)) {
        let mut doc = b"<?xml version=\"1.0\"?><LicenseFiling xmlns=\"urn:aim:filing:1\" version=\"1.0\">".to_vec();
        doc.extend_from_slice(&bytes);
        check_and_render(&doc, "ACMEBRK", &settings());
    }

    #[test]
    fn token_soup(toks in proptest::collection::vec(0..TOKENS.len(), 0..120)) {
        let doc: Vec<u8> = toks.iter().flat_map(|&t| TOKENS[t].iter().copied()).collect();
        check_and_render(&doc, "ACMEBRK", &settings());
    }

    #[test]
    fn mutated_samples(
        seed in 0usize..7,
        muts in proptest::collection::vec(mutation(), 1..6),
        small in any::<bool>(),
        demo_inbox in any::<bool>(),
    ) {
        let base = seeds()[seed % seeds().len()].clone();
        let doc = apply(base, &muts);
        let s = if small { small_limits() } else { settings() };
        check_and_render(&doc, if demo_inbox { "DEMO" } else { "ACMEBRK" }, &s);
    }
}

#[test]
fn deep_nesting_and_long_values() {
    // Deeply nested unknown elements are skipped without recursion.
    let depth = 50_000;
    let inner = format!("{}{}", "<x>".repeat(depth), "</x>".repeat(depth));
    let doc = TEMPLATE.replace("    <PortOfEntry>", &format!("{inner}<PortOfEntry>"));
    check_and_render(doc.as_bytes(), "ACMEBRK", &settings());
    let open_only = TEMPLATE.replace("    <PortOfEntry>", &"<x>".repeat(depth));
    check_and_render(open_only.as_bytes(), "ACMEBRK", &settings());
    // A value of a million characters, with control characters in it.
    let long = "Ä\u{85}".repeat(500_000);
    let doc = TEMPLATE.replace("Northwind Metals Inc", &long);
    check_and_render(doc.as_bytes(), "ACMEBRK", &settings());
    // Many attributes and many unknown elements.
    let attrs: String = (0..5_000).map(|i| format!(" a{i}=\"&#x85;\"")).collect();
    let doc = TEMPLATE.replace(
        "<Application id=\"A1\"",
        &format!("<Application{attrs} id=\"A1\""),
    );
    check_and_render(doc.as_bytes(), "ACMEBRK", &settings());
}

#[test]
fn every_sample_renders() {
    let dir = samples_dir().join("ACMEBRK");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let bytes = std::fs::read(e.unwrap().path()).unwrap();
        check_and_render(&bytes, "ACMEBRK", &settings());
        check_and_render(&bytes, "DEMO", &small_limits());
        n += 1;
    }
    assert!(n >= 30);
}
