//! Round trips and check digits, as properties:
//! - model → AIM-XML → `filing::check` → model: valid applications (countries from the ISO
//!   table, HTS numbers in scope, decimals at their limits, names full of XML-special
//!   characters, written escaped, as character references or in CDATA, padded with white
//!   space) come back issued with every field equal to what was written: decimals exactly (the
//!   same digits and scale), texts trimmed.
//! - Entry numbers and license numbers: a computed check digit parses back; a number with one
//!   digit changed never does.
#![allow(
    clippy::unwrap_used,
    clippy::too_many_lines,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)] // Test code: a panic is the failure report, a scenario reads top to bottom.

mod common;

use aim::filing::checkdigit::mod10;
use aim::filing::countries;
use aim::filing::model::{
    Country, EntryNumber, EntryNumberError, EntryType, Filer, Hts, Kg, LicenseData, LicenseNumber,
    Manufacturers, Product, Smelt, Usd,
};
use aim::filing::rules::{AppStatus, FileContext, Offline};
use chrono::Days;
use common::{config, filing_day, settings};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use rust_decimal::Decimal;

// ---------------------------------------------------------------------------------------------
// Strategies for valid applications.

/// A name as it is stored: 1..=max characters, no leading or trailing XML white space, no
/// control character; XML-special characters, quotes, tabs inside and non-ASCII letters likely.
fn name(max: usize) -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        4 => "[A-Za-z0-9]{1,8}",
        2 => Just(" ".to_owned()),
        1 => Just("&".to_owned()),
        1 => Just("<".to_owned()),
        1 => Just(">".to_owned()),
        1 => Just("\"".to_owned()),
        1 => Just("'".to_owned()),
        1 => Just("]]>".to_owned()),
        1 => Just("&amp;".to_owned()),
        1 => Just("\t".to_owned()),
        1 => "[äöüßéçñøÅ日本語𝔘]{1,3}",
        1 => "[-.,/#()]{1,2}",
    ];
    prop::collection::vec(piece, 1..12).prop_map(move |parts| {
        let joined: String = parts.concat();
        let trimmed = joined.trim_matches([' ', '\t', '\r', '\n']);
        let mut s: String = trimmed.chars().take(max).collect();
        s = s.trim_matches([' ', '\t', '\r', '\n']).to_owned();
        if s.is_empty() || s == "UNKNOWN" {
            s = "X&Y".to_owned();
        }
        s
    })
}

fn country() -> impl Strategy<Value = Country> {
    let all: Vec<&'static str> = countries::all().map(|(code, _)| code).collect();
    prop::sample::select(all).prop_map(|c| Country::parse(c).expect("a code of the ISO table"))
}

fn hts() -> impl Strategy<Value = Hts> {
    prop_oneof![
        (
            prop::sample::select(vec!["7601", "7604", "7605", "7606", "7607", "7608", "7609"]),
            "[0-9]{6}"
        )
            .prop_map(|(h, rest)| Hts::parse(&format!("{h}{rest}")).expect("ten digits")),
        prop::sample::select(vec!["7616995160", "7616995170"])
            .prop_map(|h| Hts::parse(h).expect("ten digits")),
    ]
}

/// A positive decimal with `0..=max_dp` decimals and at most 12 integer digits, at the
/// limits often.
fn decimal(max_dp: u32) -> impl Strategy<Value = Decimal> {
    let max_int: i64 = 999_999_999_999;
    (0..=max_dp, 0..=4u8, any::<i64>()).prop_map(move |(dp, edge, raw)| {
        let ten = 10i64.pow(dp);
        let limit = (max_int + 1) * ten - 1; // 999999999999.999…
        let m = match edge {
            0 => 1,     // the smallest: 0.001, 0.01, 1
            1 => limit, // the largest
            2 => ten,   // exactly 1 with trailing zeros
            _ => raw.rem_euclid(limit) + 1,
        };
        Decimal::new(m, dp)
    })
}

fn smelts() -> impl Strategy<Value = (Smelt, Smelt)> {
    (country(), country(), 0..3u8).prop_map(|(a, b, k)| match k {
        0 => (Smelt::NotApplicable, Smelt::NotApplicable),
        1 => (Smelt::Country(a), Smelt::NotApplicable),
        _ if a == b => (Smelt::Country(a), Smelt::NotApplicable),
        _ => (Smelt::Country(a), Smelt::Country(b)),
    })
}

fn product(line: u16) -> impl Strategy<Value = Product> {
    (
        hts(),
        name(200),
        smelts(),
        country(),
        decimal(3),
        decimal(2),
    )
        .prop_map(
            move |(hts, description, (largest, second), cast, q, v)| Product {
                line,
                hts,
                description,
                largest_smelt: largest,
                second_smelt: second,
                cast,
                quantity: Kg(q),
                value: Usd(v),
            },
        )
}

fn products() -> impl Strategy<Value = Vec<Product>> {
    prop::collection::btree_set(1u16..=999, 1..5).prop_flat_map(|lines| {
        lines
            .into_iter()
            .map(product)
            .collect::<Vec<_>>()
            .prop_shuffle()
    })
}

fn entry_number() -> impl Strategy<Value = EntryNumber> {
    ("[A-Z0-9]{3}", "[0-9]{7}").prop_map(|(code, digits)| {
        let ten = format!("{code}{digits}");
        let c = mod10(ten.as_bytes()).expect("valid characters");
        EntryNumber(format!("{ten}{c}"))
    })
}

fn filer() -> impl Strategy<Value = Filer> {
    (
        (name(100), name(100), name(100), "[A-Z]{2}", name(100)),
        (
            name(100),
            "[0-9]([0-9 +().-]{0,28}[0-9])?",
            "[a-z0-9%+_-]{1,10}(\\.[a-z0-9%+_-]{1,10})?@[a-z0-9]{1,10}(-[a-z0-9]{1,5})?\\.[a-z]{2,6}",
        ),
    )
        .prop_map(
            |((company, street, city, state, postal_code), (contact_name, phone, email))| Filer {
                company,
                street,
                city,
                state,
                postal_code,
                contact_name,
                phone,
                email,
            },
        )
}

fn manufacturers() -> impl Strategy<Value = Manufacturers> {
    prop_oneof![
        1 => Just(Manufacturers::Unknown),
        5 => prop::collection::vec(name(100), 1..=10).prop_map(Manufacturers::Named),
    ]
}

fn license_data() -> impl Strategy<Value = LicenseData> {
    let day = filing_day();
    (
        (
            filer(),
            prop_oneof![Just(EntryType::Consumption), Just(EntryType::Ftz)],
        ),
        prop::option::of(entry_number()),
        (name(100), name(100), manufacturers()),
        (country(), country()),
        // A321 allows 15 days back (the built-in import_past_days), A320 60 days ahead.
        (-15i64..=60, 0u64..=30),
        "[0-9]{4}",
        products(),
    )
        .prop_map(
            move |(
                (filer, entry_type),
                entry_number,
                (importer, exporter, manufacturers),
                (origin, export_country),
                (import_offset, export_before),
                port,
                products,
            )| {
                let import_date = if import_offset >= 0 {
                    day + Days::new(import_offset as u64)
                } else {
                    day - Days::new(import_offset.unsigned_abs())
                };
                LicenseData {
                    filer,
                    entry_type,
                    entry_number,
                    importer,
                    exporter,
                    manufacturers,
                    origin,
                    export_country,
                    export_date: import_date - Days::new(export_before),
                    import_date,
                    port,
                    products,
                }
            },
        )
}

// ---------------------------------------------------------------------------------------------
// Writing AIM-XML.

/// How a text value is written; each way must read back as the same value.
#[derive(Clone, Copy, Debug)]
enum Style {
    /// `&amp;`, `&lt;`, `&gt;`, `&quot;`, `&apos;` where needed.
    Escaped,
    /// Every special character (and every non-ASCII one) as a character reference.
    CharRefs,
    /// In a CDATA section (split where the value holds `]]>`).
    CData,
}

fn style() -> impl Strategy<Value = Style> {
    prop_oneof![
        Just(Style::Escaped),
        Just(Style::CharRefs),
        Just(Style::CData)
    ]
}

struct Writer {
    out: String,
    styles: Vec<Style>,
    pads: Vec<&'static str>,
    n: usize,
}

impl Writer {
    fn text(&mut self, value: &str) -> String {
        let st = self.styles[self.n % self.styles.len()];
        let pad = self.pads[self.n % self.pads.len()];
        self.n += 1;
        let body = match st {
            Style::Escaped => quick_xml::escape::escape(value).into_owned(),
            Style::CharRefs => value
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == ' ' {
                        c.to_string()
                    } else if self.n.is_multiple_of(2) {
                        format!("&#x{:X};", u32::from(c))
                    } else {
                        format!("&#{};", u32::from(c))
                    }
                })
                .collect(),
            Style::CData => format!("<![CDATA[{}]]>", value.replace("]]>", "]]]]><![CDATA[>")),
        };
        format!("{pad}{body}{pad}")
    }

    fn elem(&mut self, indent: usize, tag: &str, value: &str) {
        let t = self.text(value);
        self.out
            .push_str(&format!("{:indent$}<{tag}>{t}</{tag}>\n", ""));
    }
}

fn entry_text(e: &EntryNumber, dashes: u8) -> String {
    let s = &e.0;
    let (a, b, c) = (&s[..3], &s[3..10], &s[10..]);
    match dashes % 4 {
        0 => format!("{a}-{b}-{c}"),
        1 => format!("{a}{b}{c}"),
        2 => format!("{a}-{b}{c}"),
        _ => format!("{a}{b}-{c}"),
    }
}

fn smelt_text(s: &Smelt) -> &str {
    s.key()
}

/// A filing holding `apps` (ids A1, A2, …).
fn write_filing(apps: &[LicenseData], w: &mut Writer, dotted: &[bool], dashes: u8) -> String {
    w.out
        .push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    w.out
        .push_str("<LicenseFiling xmlns=\"urn:aim:filing:1\" version=\"1.0\">\n  <Interchange>\n");
    w.out.push_str(
        "    <SenderId>ACMEBRK</SenderId>\n    <ControlNumber>000000042</ControlNumber>\n",
    );
    w.out
        .push_str("    <CreatedAt>2026-11-28T14:05:00Z</CreatedAt>\n  </Interchange>\n");
    for (i, d) in apps.iter().enumerate() {
        w.out.push_str(&format!(
            "  <Application id=\"A{}\" action=\"new\">\n    <Filer>\n",
            i + 1
        ));
        let f = &d.filer;
        for (tag, v) in [
            ("Company", &f.company),
            ("Street", &f.street),
            ("City", &f.city),
            ("State", &f.state),
            ("PostalCode", &f.postal_code),
            ("ContactName", &f.contact_name),
            ("Phone", &f.phone),
            ("Email", &f.email),
        ] {
            w.elem(6, tag, v);
        }
        w.out.push_str("    </Filer>\n");
        w.elem(4, "EntryType", d.entry_type.as_str());
        if let Some(e) = &d.entry_number {
            w.elem(
                4,
                "EntryNumber",
                &entry_text(e, dashes.wrapping_add(i as u8)),
            );
        }
        w.elem(4, "Importer", &d.importer);
        w.elem(4, "Exporter", &d.exporter);
        match &d.manufacturers {
            Manufacturers::Unknown => w.elem(4, "Manufacturer", "UNKNOWN"),
            Manufacturers::Named(ns) => {
                for n in ns {
                    w.elem(4, "Manufacturer", n);
                }
            }
        }
        w.elem(4, "CountryOfOrigin", d.origin.as_str());
        w.elem(4, "CountryOfExportation", d.export_country.as_str());
        w.elem(4, "ExpectedExportDate", &d.export_date.to_string());
        w.elem(4, "ExpectedImportDate", &d.import_date.to_string());
        w.elem(4, "PortOfEntry", &d.port);
        for (k, p) in d.products.iter().enumerate() {
            w.out
                .push_str(&format!("    <Product line=\" {} \">\n", p.line));
            let h = if dotted[k % dotted.len()] {
                p.hts.dotted()
            } else {
                p.hts.digits().to_owned()
            };
            w.elem(6, "Hts", &h);
            w.elem(6, "Description", &p.description);
            w.elem(6, "LargestSmelt", smelt_text(&p.largest_smelt));
            w.elem(6, "SecondLargestSmelt", smelt_text(&p.second_smelt));
            w.elem(6, "MostRecentCast", p.cast.as_str());
            w.elem(6, "QuantityKg", &p.quantity.0.to_string());
            w.elem(6, "CustomsValueUsd", &p.value.0.to_string());
            w.out.push_str("    </Product>\n");
        }
        w.out.push_str("  </Application>\n");
    }
    w.out.push_str("</LicenseFiling>\n");
    std::mem::take(&mut w.out)
}

fn judge(bytes: &[u8]) -> aim::filing::rules::Verdict {
    let cfg = config();
    let s = settings();
    let registered = |id: &str| cfg.partner(id).is_some();
    let cx = FileContext {
        inbox_sender: "ACMEBRK",
        is_registered: &registered,
        filing_day: filing_day(),
        sha256: [0; 32],
        settings: &s,
    };
    aim::filing::check(bytes, &cx, &mut Offline).expect("the offline ledger always answers")
}

/// Decimals equal as written: the same value and the same number of decimals.
fn same_decimal(a: Decimal, b: Decimal) -> bool {
    a == b && a.scale() == b.scale() && a.to_string() == b.to_string()
}

fn assert_same(got: &LicenseData, want: &LicenseData) {
    assert_eq!(got.filer, want.filer);
    assert_eq!(got.entry_type, want.entry_type);
    assert_eq!(got.entry_number, want.entry_number);
    assert_eq!(got.importer, want.importer);
    assert_eq!(got.exporter, want.exporter);
    assert_eq!(got.manufacturers, want.manufacturers);
    assert_eq!(got.origin, want.origin);
    assert_eq!(got.export_country, want.export_country);
    assert_eq!(got.export_date, want.export_date);
    assert_eq!(got.import_date, want.import_date);
    assert_eq!(got.port, want.port);
    assert_eq!(got.products.len(), want.products.len());
    for (g, w) in got.products.iter().zip(&want.products) {
        assert_eq!(g.line, w.line);
        assert_eq!(g.hts, w.hts);
        assert_eq!(g.description, w.description);
        assert_eq!(g.largest_smelt, w.largest_smelt);
        assert_eq!(g.second_smelt, w.second_smelt);
        assert_eq!(g.cast, w.cast);
        assert!(
            same_decimal(g.quantity.0, w.quantity.0),
            "quantity {} read as {}",
            w.quantity.0,
            g.quantity.0
        );
        assert!(
            same_decimal(g.value.0, w.value.0),
            "value {} read as {}",
            w.value.0,
            g.value.0
        );
    }
    // And the whole value, as the store would keep it.
    assert_eq!(got, want);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn valid_applications_come_back_as_written(
        apps in prop::collection::vec(license_data(), 1..4),
        styles in prop::collection::vec(style(), 1..6),
        pads in prop::collection::vec(prop::sample::select(vec!["", " ", "\n  ", "\t", "\r\n"]), 1..5),
        dotted in prop::collection::vec(any::<bool>(), 1..4),
        dashes in any::<u8>(),
    ) {
        let mut w = Writer { out: String::new(), styles, pads, n: 0 };
        let xml = write_filing(&apps, &mut w, &dotted, dashes);
        let v = judge(xml.as_bytes());
        prop_assert!(v.file_error.is_none(), "{:?}\n{xml}", v.file_error);
        prop_assert_eq!(v.apps.len(), apps.len());
        for (i, (a, want)) in v.apps.iter().zip(&apps).enumerate() {
            let id = format!("A{}", i + 1);
            prop_assert_eq!(a.id.as_deref(), Some(id.as_str()));
            prop_assert!(a.errors.is_empty(), "{:#?}\n{}", a.errors, xml);
            prop_assert_eq!(a.status, AppStatus::Issued);
            // W301 is the only warning the offline rules can give, exactly below USD 2,500.
            let informal = want.total_value() < Decimal::new(2500, 0);
            prop_assert_eq!(
                a.warnings.iter().map(|w| w.code.as_str()).collect::<Vec<_>>(),
                if informal { vec!["W301"] } else { vec![] }
            );
            let got = a.data.as_ref().expect("an issued application carries its data");
            assert_same(got, want);
        }
    }
}

/// The largest application: 999 products, every one read back (and a 1000th is A103, the
/// other 999 still read).
#[test]
fn nine_hundred_ninety_nine_products_come_back() {
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let mut want = license_data()
        .new_tree(&mut runner)
        .expect("a value")
        .current();
    let template = want.products[0].clone();
    want.products = (1..=999u16)
        .map(|line| Product {
            line,
            quantity: Kg(Decimal::new(i64::from(line) * 1001, 3)),
            ..template.clone()
        })
        .collect();
    let mut w = Writer {
        out: String::new(),
        styles: vec![Style::Escaped, Style::CData, Style::CharRefs],
        pads: vec!["", " "],
        n: 0,
    };
    let xml = write_filing(std::slice::from_ref(&want), &mut w, &[true, false], 0);
    let v = judge(xml.as_bytes());
    assert!(v.file_error.is_none(), "{:?}", v.file_error);
    assert!(v.apps[0].errors.is_empty(), "{:?}", v.apps[0].errors);
    assert_same(v.apps[0].data.as_ref().expect("data"), &want);
}

// ---------------------------------------------------------------------------------------------
// Check digits.

/// Characters of an entry number's filer code and their check-digit values.
fn char_value(c: u8) -> u32 {
    match c {
        b'0'..=b'9' => u32::from(c - b'0'),
        b'A'..=b'I' => u32::from(c - b'A') + 1,
        b'J'..=b'R' => u32::from(c - b'J') + 1,
        _ => u32::from(c - b'S') + 2,
    }
}

const FILER_CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// A computed check digit parses back, with or without dashes, to the same number.
    #[test]
    fn entry_number_check_digit_round_trips(code in "[A-Z0-9]{3}", digits in "[0-9]{7}", dashes in 0u8..4) {
        let ten = format!("{code}{digits}");
        let c = mod10(ten.as_bytes()).expect("valid characters");
        let e = EntryNumber(format!("{ten}{c}"));
        let text = entry_text(&e, dashes);
        prop_assert_eq!(EntryNumber::parse(&text), Ok(e.clone()));
        prop_assert_eq!(e.to_string(), format!("{code}-{digits}-{c}"));
    }

    /// Any digit changed in one position (the 7 digits, the check digit, a digit of the filer
    /// code) is caught. A letter of the filer code changed is caught unless the new character
    /// has the same value under CBP's mapping (A, J and 1 all count 1): the scheme cannot see
    /// those, and the parser agrees with the scheme.
    #[test]
    fn entry_number_with_one_character_changed_fails(
        code in "[A-Z0-9]{3}",
        digits in "[0-9]{7}",
        pos in 0usize..11,
        new in 0usize..36,
    ) {
        let ten = format!("{code}{digits}");
        let c = mod10(ten.as_bytes()).expect("valid characters");
        let mut b = format!("{ten}{c}").into_bytes();
        let old = b[pos];
        let replacement = if pos < 3 { FILER_CHARS[new] } else { b'0' + (new % 10) as u8 };
        prop_assume!(replacement != old);
        b[pos] = replacement;
        let changed = String::from_utf8(b).expect("ASCII");
        let same_value = pos < 3 && char_value(old) == char_value(replacement);
        match EntryNumber::parse(&changed) {
            Ok(_) => prop_assert!(same_value, "{changed} accepted after changing position {pos}"),
            Err(EntryNumberError::CheckDigit { expected }) => {
                prop_assert!(!same_value);
                // The expected digit it names is the one that makes the number valid.
                let mut fixed = changed.into_bytes();
                fixed[10] = b'0' + expected;
                prop_assert!(EntryNumber::parse(std::str::from_utf8(&fixed).expect("ASCII")).is_ok());
            }
            Err(EntryNumberError::Malformed) => prop_assert!(false, "{changed} called malformed"),
        }
    }

    /// A license number's computed check digit round-trips through its text.
    #[test]
    fn license_number_round_trips(year in 0u16..=9999, seq in 0u32..=LicenseNumber::MAX_SEQ) {
        let n = LicenseNumber::new(year, seq);
        let text = n.to_string();
        prop_assert_eq!(text.len(), 18);
        prop_assert_eq!(LicenseNumber::parse(&text), Some(n));
        prop_assert_eq!(text.parse::<LicenseNumber>(), Ok(n));
        let digits = format!("{year:04}{seq:07}");
        prop_assert_eq!(u32::from(n.check_digit()), u32::from(mod10(digits.as_bytes()).expect("digits")));
    }

    /// Every one of the 12 digits (year, sequence, check digit) changed to another digit fails.
    #[test]
    fn license_number_with_one_digit_changed_fails(
        year in 0u16..=9999,
        seq in 0u32..=LicenseNumber::MAX_SEQ,
        pos in prop::sample::select(vec![4usize, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15, 17]),
        delta in 1u8..10,
    ) {
        let mut b = LicenseNumber::new(year, seq).to_string().into_bytes();
        b[pos] = b'0' + (b[pos] - b'0' + delta) % 10;
        let changed = String::from_utf8(b).expect("ASCII");
        prop_assert_eq!(LicenseNumber::parse(&changed), None, "{} accepted", changed);
    }
}

/// The spec's examples, both ways.
#[test]
fn the_spec_examples() {
    assert_eq!(
        LicenseNumber::parse("AIM-2026-0000017-4"),
        Some(LicenseNumber::new(2026, 17))
    );
    assert_eq!(
        LicenseNumber::new(2026, 123).to_string(),
        "AIM-2026-0000123-5"
    );
    assert!(EntryNumber::parse("ABC-1234567-6").is_ok());
    assert!(EntryNumber::parse("999-9999999-0").is_ok());
    assert_eq!(
        EntryNumber::parse("ABC-1234567-7"),
        Err(EntryNumberError::CheckDigit { expected: 6 })
    );
    // A, J and 1 weigh the same in CBP's scheme: the same check digit.
    assert!(EntryNumber::parse("JBC-1234567-6").is_ok());
    assert!(EntryNumber::parse("1BC-1234567-6").is_ok());
}
