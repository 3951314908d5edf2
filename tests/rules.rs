//! Rule-by-rule tests of AIM-XML 1.0 (spec sections 2-4) through `aim::filing::check`, on small
//! documents built from the valid-single sample by string replacement.
#![allow(
    clippy::unwrap_used,
    clippy::too_many_lines,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)] // Test code: a panic is the failure report, a scenario reads top to bottom.

mod common;

use aim::filing::ack::{Ack, FileFacts, Issuance};
use aim::filing::codes::{Code, Issue, Position};
use aim::filing::rules::{AppStatus, AppVerdict, FileContext, Offline, RuleSettings, Verdict};
use chrono::{NaiveDate, TimeZone, Utc};
use common::{TEMPLATE, config, filing_day, read_ack, settings};
use sha2::{Digest, Sha256};

// ---------------------------------------------------------------------------------------------
// Building documents

/// The template with each `(from, to)` replaced once; `from` must occur in it.
fn doc(repls: &[(&str, &str)]) -> String {
    edit(TEMPLATE, repls)
}

fn edit(base: &str, repls: &[(&str, &str)]) -> String {
    let mut s = base.to_owned();
    for (from, to) in repls {
        assert!(s.contains(from), "{from:?} is not in the document");
        s = s.replacen(from, to, 1);
    }
    s
}

/// The template's `<Application …>…</Application>` element (with its indentation and newline).
fn app_element() -> &'static str {
    let start = TEMPLATE.find("  <Application").unwrap();
    let end = TEMPLATE.find("</Application>\n").unwrap() + "</Application>\n".len();
    &TEMPLATE[start..end]
}

/// The template's first `<Product …>…</Product>` element.
fn product_element() -> &'static str {
    let start = TEMPLATE.find("    <Product line=\"1\">").unwrap();
    let end = TEMPLATE.find("</Product>\n").unwrap() + "</Product>\n".len();
    &TEMPLATE[start..end]
}

/// A filing holding exactly these application elements.
fn filing(apps: &[String]) -> String {
    let app = app_element();
    let at = TEMPLATE.find(app).unwrap();
    format!(
        "{}{}{}",
        &TEMPLATE[..at],
        apps.concat(),
        &TEMPLATE[at + app.len()..]
    )
}

/// The template application with `(from, to)` replacements.
fn app(repls: &[(&str, &str)]) -> String {
    edit(app_element(), repls)
}

/// A product element with its line and `(from, to)` replacements.
fn product(line: &str, repls: &[(&str, &str)]) -> String {
    let p = product_element().replacen("line=\"1\"", &format!("line=\"{line}\""), 1);
    edit(&p, repls)
}

/// The template with its single product replaced by these product elements.
fn with_products(products: &[String]) -> String {
    doc(&[(product_element(), &products.concat())])
}

// ---------------------------------------------------------------------------------------------
// Running the rules

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn check_full(bytes: &[u8], inbox: &str, settings: &RuleSettings, day: NaiveDate) -> Verdict {
    let cfg = config();
    let registered = |id: &str| cfg.partner(id).is_some();
    let cx = FileContext {
        inbox_sender: inbox,
        is_registered: &registered,
        filing_day: day,
        sha256: Sha256::digest(bytes).into(),
        settings,
    };
    aim::filing::check(bytes, &cx, &mut Offline).expect("the offline ledger always answers")
}

/// Judge `doc` as file of ACMEBRK's inbox on 2026-11-28.
fn check(doc: impl AsRef<[u8]>) -> Verdict {
    check_full(doc.as_ref(), "ACMEBRK", &settings(), filing_day())
}

fn check_on(doc: &str, d: &str) -> Verdict {
    check_full(doc.as_bytes(), "ACMEBRK", &settings(), day(d))
}

/// The file-level error code, or a panic showing the verdict.
fn file_code(doc: impl AsRef<[u8]>) -> Code {
    let v = check(doc);
    v.file_error
        .as_ref()
        .unwrap_or_else(|| panic!("no file-level error: {v:#?}"))
        .code
}

fn file_error(doc: impl AsRef<[u8]>) -> Issue {
    let v = check(doc);
    v.file_error
        .clone()
        .unwrap_or_else(|| panic!("no file-level error: {v:#?}"))
}

/// The only application of a file that reached its applications.
fn only_app(v: &Verdict) -> &AppVerdict {
    assert!(
        v.file_error.is_none(),
        "file-level error: {:?}",
        v.file_error
    );
    assert_eq!(v.apps.len(), 1, "{v:#?}");
    &v.apps[0]
}

/// The error codes of the single application, sorted.
fn codes(doc: impl AsRef<[u8]>) -> Vec<Code> {
    let v = check(doc);
    let mut c: Vec<Code> = only_app(&v).errors.iter().map(|e| e.code).collect();
    c.sort();
    c
}

/// The single error of the single application (asserts there is exactly one).
fn one_error(doc: impl AsRef<[u8]>) -> Issue {
    let v = check(doc);
    let a = only_app(&v);
    assert_eq!(a.errors.len(), 1, "want exactly one error: {:#?}", a.errors);
    assert_eq!(a.status, AppStatus::Rejected);
    assert_eq!(v.status().as_str(), "rejected");
    a.errors[0].clone()
}

/// Exactly one error with this code and path.
#[track_caller]
fn assert_error(doc: impl AsRef<[u8]>, code: Code, path: &str) -> Issue {
    let e = one_error(doc);
    assert_eq!((e.code, e.path.as_str()), (code, path), "{e:#?}");
    assert!(!e.message.is_empty());
    assert!(e.position.is_some(), "application errors carry a position");
    e
}

#[track_caller]
fn assert_issued(doc: impl AsRef<[u8]>) -> AppVerdict {
    let v = check(doc);
    let a = only_app(&v).clone();
    assert!(a.errors.is_empty(), "unexpected errors: {:#?}", a.errors);
    assert_eq!(a.status, AppStatus::Issued);
    assert_eq!(v.status().as_str(), "accepted");
    a
}

fn pos(line: u32, column: u32) -> Option<Position> {
    Some(Position { line, column })
}

const A1: &str = "Application[A1]";
const P1: &str = "Application[A1]/Product[1]";

// ---------------------------------------------------------------------------------------------
// The template itself

#[test]
fn template_is_accepted() {
    let a = assert_issued(TEMPLATE);
    assert_eq!(a.id.as_deref(), Some("A1"));
    assert!(a.warnings.is_empty());
    let d = a.data.expect("data of an issued application");
    assert_eq!(d.products.len(), 1);
    assert_eq!(d.products[0].hts.digits(), "7606123090");
    assert_eq!(d.products[0].unit_value().to_string(), "3300.00");
}

// ---------------------------------------------------------------------------------------------
// A101 unknown element or attribute

#[test]
fn a101_unknown_element() {
    let e = assert_error(
        doc(&[(
            "    <PortOfEntry>",
            "    <Incoterm>FOB</Incoterm>\n    <PortOfEntry>",
        )]),
        Code::A101,
        "Application[A1]/Incoterm",
    );
    assert_eq!(e.position, pos(28, 5));
}

#[test]
fn a101_unknown_attributes_and_children() {
    assert_error(
        doc(&[("action=\"new\"", "action=\"new\" priority=\"high\"")]),
        Code::A101,
        "Application[A1]/@priority",
    );
    assert_error(
        doc(&[("<Hts>", "<Hts unit=\"x\">")]),
        Code::A101,
        &format!("{P1}/Hts/@unit"),
    );
    assert_error(
        doc(&[("<Product line=\"1\">", "<Product line=\"1\" kind=\"x\">")]),
        Code::A101,
        &format!("{P1}/@kind"),
    );
    assert_error(
        doc(&[("<City>", "<Town>x</Town><City>")]),
        Code::A101,
        "Application[A1]/Filer/Town",
    );
    assert_error(
        doc(&[("<Hts>", "<Weight>5</Weight><Hts>")]),
        Code::A101,
        &format!("{P1}/Weight"),
    );
    // An element inside a text-only element.
    assert_error(
        doc(&[(
            "<Importer>Northwind Metals Inc</Importer>",
            "<Importer>Northwind <b>Metals</b> Inc</Importer>",
        )]),
        Code::A101,
        "Application[A1]/Importer/b",
    );
    // Text directly under Application.
    assert_error(
        doc(&[("    <PortOfEntry>", "    stray\n    <PortOfEntry>")]),
        Code::A101,
        A1,
    );
    // An element of another namespace is not a filing element.
    assert_eq!(
        one_error(doc(&[(
            "    <PortOfEntry>",
            "    <x:Note xmlns:x=\"urn:other\">n</x:Note>\n    <PortOfEntry>"
        )]))
        .code,
        Code::A101
    );
}

#[test]
fn a101_cancel_with_extra_child() {
    let cancel = "  <Application id=\"A1\" action=\"cancel\" license=\"AIM-2026-0000018-3\">\n    <Reason>Shipment cancelled by importer</Reason>\n    <Importer>Northwind Metals Inc</Importer>\n  </Application>\n";
    assert_error(
        filing(&[cancel.to_owned()]),
        Code::A101,
        "Application[A1]/Importer",
    );
}

#[test]
fn a101_reason_in_new_and_correct() {
    assert_error(
        doc(&[(
            "    <PortOfEntry>",
            "    <Reason>x</Reason>\n    <PortOfEntry>",
        )]),
        Code::A101,
        "Application[A1]/Reason",
    );
    assert_error(
        doc(&[
            (
                "action=\"new\"",
                "action=\"correct\" license=\"AIM-2026-0000017-4\"",
            ),
            (
                "    <PortOfEntry>",
                "    <Reason>x</Reason>\n    <PortOfEntry>",
            ),
        ]),
        Code::A101,
        "Application[A1]/Reason",
    );
}

#[test]
fn a101_license_on_new() {
    assert_error(
        doc(&[(
            "action=\"new\"",
            "action=\"new\" license=\"AIM-2026-0000017-4\"",
        )]),
        Code::A101,
        "Application[A1]/@license",
    );
}

// ---------------------------------------------------------------------------------------------
// A102 required element or attribute missing

#[test]
fn a102_missing_elements() {
    let e = assert_error(
        doc(&[("    <Importer>Northwind Metals Inc</Importer>\n", "")]),
        Code::A102,
        "Application[A1]/Importer",
    );
    // A missing child points at its parent's start tag.
    assert_eq!(e.position, pos(8, 3));
    let e = assert_error(
        doc(&[("      <Email>jane.roe@acme.example</Email>\n", "")]),
        Code::A102,
        "Application[A1]/Filer/Email",
    );
    assert_eq!(e.position, pos(9, 5));
    let e = assert_error(
        doc(&[("      <Hts>7606.12.3090</Hts>\n", "")]),
        Code::A102,
        &format!("{P1}/Hts"),
    );
    assert_eq!(e.position, pos(29, 5));
    assert_error(
        doc(&[("    <Manufacturer>Maple Aluminium Ltd</Manufacturer>\n", "")]),
        Code::A102,
        "Application[A1]/Manufacturer",
    );
    assert_error(
        doc(&[(product_element(), "")]),
        Code::A102,
        "Application[A1]/Product",
    );
    let filer_start = TEMPLATE.find("    <Filer>").unwrap();
    let filer_end = TEMPLATE.find("</Filer>\n").unwrap() + "</Filer>\n".len();
    assert_error(
        doc(&[(&TEMPLATE[filer_start..filer_end], "")]),
        Code::A102,
        "Application[A1]/Filer",
    );
    // EntryNumber is optional.
    assert_issued(doc(&[(
        "    <EntryNumber>ABC-1234567-6</EntryNumber>\n",
        "",
    )]));
}

#[test]
fn a102_missing_attributes() {
    let e = assert_error(
        doc(&[("<Product line=\"1\">", "<Product>")]),
        Code::A102,
        "Application[A1]/Product[#1]/@line",
    );
    assert_eq!(e.position, pos(29, 5));
    assert_error(
        doc(&[(" id=\"A1\"", "")]),
        Code::A102,
        "Application[#1]/@id",
    );
    // A correction without the license it corrects.
    assert_error(
        doc(&[("action=\"new\"", "action=\"correct\"")]),
        Code::A102,
        "Application[A1]/@license",
    );
    // A cancel without its reason.
    let cancel = "  <Application id=\"A1\" action=\"cancel\" license=\"AIM-2026-0000018-3\"/>\n";
    assert_error(
        filing(&[cancel.to_owned()]),
        Code::A102,
        "Application[A1]/Reason",
    );
}

#[test]
fn a102_missing_action_still_checks_names_and_values() {
    let v = check(doc(&[
        (" action=\"new\"", ""),
        ("<CountryOfOrigin>CA<", "<CountryOfOrigin>QQ<"),
        ("<QuantityKg>12500.000<", "<QuantityKg>1e3<"),
        (
            "    <PortOfEntry>",
            "    <Incoterm>FOB</Incoterm>\n    <PortOfEntry>",
        ),
    ]));
    let a = only_app(&v);
    assert_eq!(a.status, AppStatus::Rejected);
    let mut got: Vec<(Code, &str)> = a.errors.iter().map(|e| (e.code, e.path.as_str())).collect();
    got.sort();
    assert_eq!(
        got,
        [
            (Code::A101, "Application[A1]/Incoterm"),
            (Code::A102, "Application[A1]/@action"),
            (Code::A201, "Application[A1]/Product[1]/QuantityKg"),
            (Code::A202, "Application[A1]/CountryOfOrigin"),
        ]
    );
    // With an invalid action, the same.
    let v = check(doc(&[
        ("action=\"new\"", "action=\"renew\""),
        ("<CountryOfOrigin>CA<", "<CountryOfOrigin>QQ<"),
    ]));
    let mut got: Vec<(Code, &str)> = only_app(&v)
        .errors
        .iter()
        .map(|e| (e.code, e.path.as_str()))
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            (Code::A201, "Application[A1]/@action"),
            (Code::A202, "Application[A1]/CountryOfOrigin"),
        ]
    );
    // Without action, a perfectly valid application is still rejected (nothing to do).
    assert_error(
        doc(&[(" action=\"new\"", "")]),
        Code::A102,
        "Application[A1]/@action",
    );
}

#[test]
fn empty_values_are_a201_not_a102() {
    for (from, to, path) in [
        (
            "<Importer>Northwind Metals Inc</Importer>",
            "<Importer></Importer>",
            "Application[A1]/Importer",
        ),
        (
            "<Importer>Northwind Metals Inc</Importer>",
            "<Importer> \t\n </Importer>",
            "Application[A1]/Importer",
        ),
        (
            "<Importer>Northwind Metals Inc</Importer>",
            "<Importer/>",
            "Application[A1]/Importer",
        ),
        (
            "<Hts>7606.12.3090</Hts>",
            "<Hts/>",
            "Application[A1]/Product[1]/Hts",
        ),
        ("id=\"A1\"", "id=\" \"", "Application[#1]/@id"),
        (
            "line=\"1\"",
            "line=\"\"",
            "Application[A1]/Product[#1]/@line",
        ),
    ] {
        assert_error(doc(&[(from, to)]), Code::A201, path);
    }
}

// ---------------------------------------------------------------------------------------------
// A103 repeated element

#[test]
fn a103_repeated_elements() {
    let e = assert_error(
        doc(&[(
            "    <Exporter>",
            "    <Importer>Someone Else</Importer>\n    <Exporter>",
        )]),
        Code::A103,
        "Application[A1]/Importer[2]",
    );
    assert_eq!(e.position, pos(22, 5));
    assert_error(
        doc(&[(
            "      <Description>",
            "      <Hts>7606123090</Hts>\n      <Description>",
        )]),
        Code::A103,
        &format!("{P1}/Hts[2]"),
    );
    assert_error(
        doc(&[("      <City>", "      <City>Towson</City>\n      <City>")]),
        Code::A103,
        "Application[A1]/Filer/City[2]",
    );
    let filer_start = TEMPLATE.find("    <Filer>").unwrap();
    let filer_end = TEMPLATE.find("</Filer>\n").unwrap() + "</Filer>\n".len();
    let filer = &TEMPLATE[filer_start..filer_end];
    assert_error(
        doc(&[(filer, &format!("{filer}{filer}"))]),
        Code::A103,
        "Application[A1]/Filer[2]",
    );
    // A third occurrence is [3].
    let three = doc(&[(
        "    <Exporter>",
        "    <Importer>B</Importer>\n    <Importer>C</Importer>\n    <Exporter>",
    )]);
    let v = check(three);
    let paths: Vec<(Code, &str)> = only_app(&v)
        .errors
        .iter()
        .map(|e| (e.code, e.path.as_str()))
        .collect();
    assert_eq!(
        paths,
        [
            (Code::A103, "Application[A1]/Importer[2]"),
            (Code::A103, "Application[A1]/Importer[3]")
        ]
    );
}

fn manufacturers(n: usize) -> String {
    (1..=n)
        .map(|i| format!("    <Manufacturer>Maker {i}</Manufacturer>\n"))
        .collect()
}

#[test]
fn a103_eleventh_manufacturer() {
    let m = "    <Manufacturer>Maple Aluminium Ltd</Manufacturer>\n";
    let ten = assert_issued(doc(&[(m, &manufacturers(10))]));
    match ten.data.unwrap().manufacturers {
        aim::filing::model::Manufacturers::Named(v) => assert_eq!(v.len(), 10),
        other => panic!("{other:?}"),
    }
    let e = assert_error(
        doc(&[(m, &manufacturers(11))]),
        Code::A103,
        "Application[A1]/Manufacturer[11]",
    );
    assert_eq!(e.position, pos(33, 5));
    // Every one past the tenth is reported with its own index.
    let v = check(doc(&[(m, &manufacturers(12))]));
    let paths: Vec<&str> = only_app(&v)
        .errors
        .iter()
        .map(|e| e.path.as_str())
        .collect();
    assert_eq!(
        paths,
        [
            "Application[A1]/Manufacturer[11]",
            "Application[A1]/Manufacturer[12]"
        ]
    );
    // Errors in a listed manufacturer carry its index.
    assert_error(
        doc(&[(m, &manufacturers(3).replace("Maker 2", "&#x85;"))]),
        Code::A203,
        "Application[A1]/Manufacturer[2]",
    );
}

#[test]
fn a103_thousandth_product() {
    let p = product_element();
    let mut ps: String = (1..=999)
        .map(|i| p.replacen("line=\"1\"", &format!("line=\"{i}\""), 1))
        .collect();
    let v = check(with_products(&[ps.clone()]));
    let a = only_app(&v);
    assert!(
        a.errors.is_empty(),
        "{:?}",
        &a.errors[..a.errors.len().min(3)]
    );
    assert_eq!(a.data.as_ref().unwrap().products.len(), 999);
    ps.push_str(&p.replacen("line=\"1\"", "line=\"5\"", 1));
    let v = check(with_products(&[ps]));
    let a = only_app(&v);
    let got: Vec<(Code, &str)> = a.errors.iter().map(|e| (e.code, e.path.as_str())).collect();
    assert_eq!(got, [(Code::A103, "Application[A1]/Product[#1000]")]);
}

// ---------------------------------------------------------------------------------------------
// A201 malformed values

#[test]
fn a201_decimals() {
    for bad in [
        "+5", "1e3", "1,5", "1 000", ".5", "5.", ".", "-", "0x10", "1.2.3", "١٢",
    ] {
        let e = assert_error(
            doc(&[("<QuantityKg>12500.000<", &format!("<QuantityKg>{bad}<"))]),
            Code::A201,
            &format!("{P1}/QuantityKg"),
        );
        assert_eq!(e.position, pos(35, 19), "{bad}");
        assert_error(
            doc(&[(
                "<CustomsValueUsd>41250.00<",
                &format!("<CustomsValueUsd>{bad}<"),
            )]),
            Code::A201,
            &format!("{P1}/CustomsValueUsd"),
        );
    }
}

#[test]
fn a201_hts_shapes() {
    for bad in [
        "7606.12.309",
        "7606.123.090",
        "7606-12-3090",
        "76061230900",
        "760612309",
        "760612309O",
        "7606 12 3090",
        "7606.12.3090.",
        "7606..123090",
        "7606.1230.90",
    ] {
        // Malformed is A201 only, never also A301.
        assert_error(
            doc(&[("<Hts>7606.12.3090<", &format!("<Hts>{bad}<"))]),
            Code::A201,
            &format!("{P1}/Hts"),
        );
    }
    for good in [
        "7606123090",
        " 7606.12.3090 ",
        "7616.99.5160",
        "7616995170",
        "7601.20.9045",
    ] {
        assert_issued(doc(&[("<Hts>7606.12.3090<", &format!("<Hts>{good}<"))]));
    }
}

#[test]
fn a201_country_shapes() {
    for bad in ["ca", "CAN", "C", "Ca", "C1", "ÇA"] {
        for (from, path) in [
            ("<CountryOfOrigin>CA<", "Application[A1]/CountryOfOrigin"),
            (
                "<CountryOfExportation>CA<",
                "Application[A1]/CountryOfExportation",
            ),
            (
                "<LargestSmelt>CA<",
                "Application[A1]/Product[1]/LargestSmelt",
            ),
            (
                "<MostRecentCast>CA<",
                "Application[A1]/Product[1]/MostRecentCast",
            ),
        ] {
            let tag = &from[..from.len() - 3];
            assert_error(doc(&[(from, &format!("{tag}{bad}<"))]), Code::A201, path);
        }
    }
}

#[test]
fn a201_dates() {
    for bad in [
        "2026-02-30",
        "2026-12-5",
        "2026/12/05",
        "20261205",
        "05.12.2026",
        "2026-12-05T00:00:00Z",
        "+2026-12-05",
        "2026-13-01",
    ] {
        assert_error(
            doc(&[(
                "<ExpectedImportDate>2026-12-05<",
                &format!("<ExpectedImportDate>{bad}<"),
            )]),
            Code::A201,
            "Application[A1]/ExpectedImportDate",
        );
    }
    // Trimmed before it is read.
    assert_issued(doc(&[(
        "<ExpectedImportDate>2026-12-05<",
        "<ExpectedImportDate>\n      2026-12-05\n    <",
    )]));
}

#[test]
fn a201_other_values() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "<EntryType>consumption<",
            "<EntryType>formal<",
            "Application[A1]/EntryType",
        ),
        (
            "<EntryType>consumption<",
            "<EntryType>Consumption<",
            "Application[A1]/EntryType",
        ),
        (
            "<EntryNumber>ABC-1234567-6<",
            "<EntryNumber>ABC--1234567-6<",
            "Application[A1]/EntryNumber",
        ),
        (
            "<EntryNumber>ABC-1234567-6<",
            "<EntryNumber>abc-1234567-6<",
            "Application[A1]/EntryNumber",
        ),
        (
            "<EntryNumber>ABC-1234567-6<",
            "<EntryNumber>ABC-123456-6<",
            "Application[A1]/EntryNumber",
        ),
        (
            "<EntryNumber>ABC-1234567-6<",
            "<EntryNumber>ABC-1234567-66<",
            "Application[A1]/EntryNumber",
        ),
        ("<State>MD<", "<State>md<", "Application[A1]/Filer/State"),
        ("<State>MD<", "<State>MDX<", "Application[A1]/Filer/State"),
        (
            "<Phone>+1 410 555 0100<",
            "<Phone>555-CALL<",
            "Application[A1]/Filer/Phone",
        ),
        (
            "<Phone>+1 410 555 0100<",
            "<Phone>1234567890123456789012345678901<",
            "Application[A1]/Filer/Phone",
        ),
        (
            "<Email>jane.roe@acme.example<",
            "<Email>jane.roe@localhost<",
            "Application[A1]/Filer/Email",
        ),
        (
            "<Email>jane.roe@acme.example<",
            "<Email>jane roe@acme.example<",
            "Application[A1]/Filer/Email",
        ),
        (
            "<Email>jane.roe@acme.example<",
            "<Email>Jane &lt;jane.roe@acme.example&gt;<",
            "Application[A1]/Filer/Email",
        ),
        (
            "<Email>jane.roe@acme.example<",
            "<Email>jane.roe.acme.example<",
            "Application[A1]/Filer/Email",
        ),
        (
            "<PortOfEntry>3801<",
            "<PortOfEntry>380<",
            "Application[A1]/PortOfEntry",
        ),
        (
            "<PortOfEntry>3801<",
            "<PortOfEntry>38011<",
            "Application[A1]/PortOfEntry",
        ),
        (
            "<PortOfEntry>3801<",
            "<PortOfEntry>38A1<",
            "Application[A1]/PortOfEntry",
        ),
        ("id=\"A1\"", "id=\"A.1\"", "Application[#1]/@id"),
        (
            "id=\"A1\"",
            "id=\"A23456789012345678901234567890123456\"",
            "Application[#1]/@id",
        ),
        (
            "line=\"1\"",
            "line=\"01\"",
            "Application[A1]/Product[#1]/@line",
        ),
        (
            "line=\"1\"",
            "line=\"1000\"",
            "Application[A1]/Product[#1]/@line",
        ),
        (
            "line=\"1\"",
            "line=\"0\"",
            "Application[A1]/Product[#1]/@line",
        ),
        (
            "line=\"1\"",
            "line=\"x\"",
            "Application[A1]/Product[#1]/@line",
        ),
        (
            "action=\"new\"",
            "action=\"NEW\"",
            "Application[A1]/@action",
        ),
    ];
    for (from, to, path) in cases {
        assert_error(doc(&[(from, to)]), Code::A201, path);
    }
    // Accepted forms.
    for (from, to) in [
        ("<EntryNumber>ABC-1234567-6<", "<EntryNumber>ABC12345676<"),
        ("<EntryNumber>ABC-1234567-6<", "<EntryNumber>ABC-12345676<"),
        ("<EntryNumber>ABC-1234567-6<", "<EntryNumber>ABC1234567-6<"),
        ("<EntryNumber>ABC-1234567-6<", "<EntryNumber>999-9999999-0<"),
        ("<EntryType>consumption<", "<EntryType>ftz<"),
        ("id=\"A1\"", "id=\"a_B-9\""),
        ("id=\"A1\"", "id=\"A2345678901234567890123456789012345\""),
        ("line=\"1\"", "line=\"999\""),
        ("line=\"1\"", "line=\" 7 \""),
        ("<Phone>+1 410 555 0100<", "<Phone>(410) 555-0100.<"),
    ] {
        assert_issued(doc(&[(from, to)]));
    }
}

#[test]
fn a201_text_lengths_count_characters() {
    let name = |n: usize, c: char| std::iter::repeat_n(c, n).collect::<String>();
    let importer = "<Importer>Northwind Metals Inc<";
    assert_issued(doc(&[(
        importer,
        &format!("<Importer>{}<", name(100, 'x')),
    )]));
    // 100 two-byte characters are 100 characters.
    assert_issued(doc(&[(
        importer,
        &format!("<Importer>{}<", name(100, 'Ä')),
    )]));
    // Surrounding white space does not count.
    assert_issued(doc(&[(
        importer,
        &format!("<Importer>  {}\n <", name(100, 'x')),
    )]));
    assert_error(
        doc(&[(importer, &format!("<Importer>{}<", name(101, 'Ä')))]),
        Code::A201,
        "Application[A1]/Importer",
    );
    let descr = "<Description>Aluminum alloy sheet, 1.2 mm<";
    assert_issued(doc(&[(
        descr,
        &format!("<Description>{}<", name(200, '€')),
    )]));
    assert_error(
        doc(&[(descr, &format!("<Description>{}<", name(201, 'x')))]),
        Code::A201,
        &format!("{P1}/Description"),
    );
    let company = "<Company>Acme Customs Brokerage LLC<";
    assert_error(
        doc(&[(company, &format!("<Company>{}<", name(101, 'x')))]),
        Code::A201,
        "Application[A1]/Filer/Company",
    );
    let email = format!("<Email>{}@acme.example<", name(64, 'j'));
    assert_issued(doc(&[("<Email>jane.roe@acme.example<", &email)]));
    let long = format!("<Email>jane@{}.example<", vec![name(60, 'd'); 4].join("."));
    assert_error(
        doc(&[("<Email>jane.roe@acme.example<", &long)]),
        Code::A201,
        "Application[A1]/Filer/Email",
    );
}

#[test]
fn a201_manufacturer_unknown_must_stand_alone() {
    let m = "<Manufacturer>Maple Aluminium Ltd</Manufacturer>";
    let a = assert_issued(doc(&[(m, "<Manufacturer>UNKNOWN</Manufacturer>")]));
    assert_eq!(
        a.data.unwrap().manufacturers,
        aim::filing::model::Manufacturers::Unknown
    );
    assert_error(
        doc(&[(
            m,
            "<Manufacturer>Maple Aluminium Ltd</Manufacturer><Manufacturer>UNKNOWN</Manufacturer>",
        )]),
        Code::A201,
        "Application[A1]/Manufacturer[2]",
    );
}

#[test]
fn a201_license_numbers() {
    let correct = |lic: &str| {
        doc(&[(
            "action=\"new\"",
            &format!("action=\"correct\" license=\"{lic}\""),
        )])
    };
    let v = check(correct("AIM-2026-0000017-4"));
    let a = only_app(&v);
    assert!(a.errors.is_empty(), "{:?}", a.errors);
    assert_eq!(a.status, AppStatus::Corrected);
    assert_eq!(a.license.unwrap().to_string(), "AIM-2026-0000017-4");
    for bad in [
        "AIM-2026-0000017-5",
        "AIM-2026-000017-4",
        "aim-2026-0000017-4",
        "AIM20260000017-4",
        "AIM-2026-0000017",
        "2026-0000017-4",
    ] {
        assert_error(correct(bad), Code::A201, "Application[A1]/@license");
    }
    // Cancel with a bad check digit.
    let cancel = "  <Application id=\"A1\" action=\"cancel\" license=\"AIM-2026-0000018-4\">\n    <Reason>Shipment cancelled</Reason>\n  </Application>\n";
    assert_error(
        filing(&[cancel.into()]),
        Code::A201,
        "Application[A1]/@license",
    );
    // A good cancel is cancelled in `aim validate` (A401 needs the store).
    let cancel = cancel.replace("0000018-4", "0000018-3");
    let v = check(filing(&[cancel]));
    let a = only_app(&v);
    assert!(a.errors.is_empty(), "{:?}", a.errors);
    assert_eq!(a.status, AppStatus::Cancelled);
    assert_eq!(a.reason.as_deref(), Some("Shipment cancelled"));
    assert_eq!(v.status().as_str(), "accepted");
}

// ---------------------------------------------------------------------------------------------
// A202 country not assigned

#[test]
fn a202_unassigned_countries() {
    for bad in ["UK", "EU", "QQ", "XK", "ZZ", "AA"] {
        for (from, path) in [
            ("<CountryOfOrigin>CA<", "Application[A1]/CountryOfOrigin"),
            (
                "<CountryOfExportation>CA<",
                "Application[A1]/CountryOfExportation",
            ),
            (
                "<LargestSmelt>CA<",
                "Application[A1]/Product[1]/LargestSmelt",
            ),
            (
                "<SecondLargestSmelt>NOT_APPLICABLE<",
                "Application[A1]/Product[1]/SecondLargestSmelt",
            ),
            (
                "<MostRecentCast>CA<",
                "Application[A1]/Product[1]/MostRecentCast",
            ),
        ] {
            let tag = &from[..from.find('>').unwrap() + 1];
            assert_error(doc(&[(from, &format!("{tag}{bad}<"))]), Code::A202, path);
        }
    }
    for good in ["GB", "US", "CN", "AE", "RU", "SS", "CW"] {
        assert_issued(doc(&[(
            "<CountryOfOrigin>CA<",
            &format!("<CountryOfOrigin>{good}<"),
        )]));
    }
}

// ---------------------------------------------------------------------------------------------
// A203 control characters

#[test]
fn a203_control_characters() {
    let imp = "<Importer>Northwind Metals Inc<";
    for bad in [
        "Northwind\u{85} Metals",    // C1 as a raw character
        "Northwind\u{9B}31m Metals", // CSI
        "Northwind&#x85; Metals",    // C1 as a reference
        "Northwind&#133; Metals",
        "Northwind&#x7F; Metals", // DEL
        "Northwind\u{7F} Metals",
        "Northwind&#10;Metals", // a line break inside the value
        "Northwind\nMetals",
        "Northwind&#13;Metals",
        "Northwind&#x9F;",
    ] {
        let e = assert_error(
            doc(&[(imp, &format!("<Importer>{bad}<"))]),
            Code::A203,
            "Application[A1]/Importer",
        );
        assert_eq!(e.position, pos(21, 15), "{bad:?}");
        // The message never carries the control character itself.
        assert!(
            !e.message.chars().any(aim::filing::codes::is_control),
            "{e:?}"
        );
    }
    // A tab is not a control character here; surrounding line breaks are trimmed.
    assert_issued(doc(&[(imp, "<Importer>Northwind\tMetals<")]));
    assert_issued(doc(&[(imp, "<Importer>&#10;Northwind Metals&#13;&#10;<")]));
    // A203 comes before A201: a control character in a malformed value is A203 only.
    assert_error(
        doc(&[("<QuantityKg>12500.000<", "<QuantityKg>1&#x85;x<")]),
        Code::A203,
        &format!("{P1}/QuantityKg"),
    );
    // In attributes too.
    assert_error(
        doc(&[("line=\"1\"", "line=\"1&#x85;\"")]),
        Code::A203,
        "Application[A1]/Product[#1]/@line",
    );
    // In a description.
    assert_error(
        doc(&[(
            "<Description>Aluminum alloy sheet, 1.2 mm<",
            "<Description>Aluminum alloy sheet,\n1.2 mm<",
        )]),
        Code::A203,
        &format!("{P1}/Description"),
    );
}

#[test]
fn c0_characters_are_not_well_formed() {
    let imp = "<Importer>Northwind Metals Inc<";
    for bad in [
        "Northwind&#1; Metals",
        "Northwind&#x1B;[31m",
        "Northwind&#0;",
        "Northwind\u{1} Metals",
        "Northwind\u{0} Metals",
        "Northwind\u{1B}[31m",
        "&#xFFFE;",
        "&#xD800;",
        "&#x110000;",
    ] {
        let e = file_error(doc(&[(imp, &format!("<Importer>{bad}<"))]));
        assert_eq!(e.code, Code::F001, "{bad:?}: {e:?}");
        assert_eq!(e.position.map(|p| p.line), Some(21), "{bad:?}: {e:?}");
        assert!(
            !e.message.chars().any(aim::filing::codes::is_control),
            "{e:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// A204 .. A205

#[test]
fn a204_entry_check_digit() {
    let e = assert_error(
        doc(&[("<EntryNumber>ABC-1234567-6<", "<EntryNumber>ABC-1234567-7<")]),
        Code::A204,
        "Application[A1]/EntryNumber",
    );
    assert_eq!(e.position, pos(20, 18));
    assert_error(
        doc(&[("<EntryNumber>ABC-1234567-6<", "<EntryNumber>99999999991<")]),
        Code::A204,
        "Application[A1]/EntryNumber",
    );
}

#[test]
fn a205_duplicate_ids_reject_every_sharer() {
    let v = check(filing(&[
        app(&[]),
        app(&[]),
        app(&[("id=\"A1\"", "id=\"A2\"")]),
    ]));
    assert!(v.file_error.is_none());
    assert_eq!(v.apps.len(), 3);
    for a in &v.apps[..2] {
        let got: Vec<(Code, &str)> = a.errors.iter().map(|e| (e.code, e.path.as_str())).collect();
        assert_eq!(got, [(Code::A205, "Application[A1]/@id")]);
        assert_eq!(a.status, AppStatus::Rejected);
    }
    assert_eq!(v.apps[2].status, AppStatus::Issued);
    assert_eq!(v.status().as_str(), "partial");
    // The positions are those of each id.
    let lines: Vec<u32> = v.apps[..2]
        .iter()
        .map(|a| a.errors[0].position.unwrap().line)
        .collect();
    assert_eq!(lines, [8, 39]);
    // Ids compare case-sensitively.
    let v = check(filing(&[app(&[]), app(&[("id=\"A1\"", "id=\"a1\"")])]));
    assert!(
        v.apps.iter().all(|a| a.status == AppStatus::Issued),
        "{v:#?}"
    );
}

#[test]
fn a205_duplicate_line_in_one_application() {
    let v = check(with_products(&[
        product("1", &[]),
        product("2", &[]),
        product(" 1 ", &[]),
    ]));
    let a = only_app(&v);
    let got: Vec<(Code, &str)> = a.errors.iter().map(|e| (e.code, e.path.as_str())).collect();
    // Only the repetition is reported, not the first use.
    assert_eq!(got, [(Code::A205, "Application[A1]/Product[1]/@line")]);
    assert_eq!(a.errors[0].position.unwrap().line, 47);
    assert_eq!(a.status, AppStatus::Rejected);
    // The same line number in two applications is fine.
    let v = check(filing(&[app(&[]), app(&[("id=\"A1\"", "id=\"A2\"")])]));
    assert_eq!(v.status().as_str(), "accepted");
}

// ---------------------------------------------------------------------------------------------
// A301 .. A313

#[test]
fn a301_hts_scope() {
    for out in [
        "7602.00.0090",
        "7208.10.1500",
        "7616.99.5150",
        "7616.99.5190",
        "7603.10.0000",
        "7610.10.0000",
    ] {
        let e = assert_error(
            doc(&[("<Hts>7606.12.3090<", &format!("<Hts>{out}<"))]),
            Code::A301,
            &format!("{P1}/Hts"),
        );
        assert_eq!(e.position, pos(30, 12));
    }
    for (hts, cat) in [
        ("7601.10.6000", "Unwrought aluminum"),
        ("7604.10.1000", "Bars, rods and profiles"),
        ("7605.11.0000", "Wire"),
        ("7606.12.3090", "Plate, sheet and strip"),
        ("7607.11.3000", "Foil"),
        ("7608.20.0030", "Tubes and pipes"),
        ("7609.00.0000", "Tube and pipe fittings"),
        ("7616.99.5160", "Castings and forgings"),
        ("7616995170", "Castings and forgings"),
    ] {
        let a = assert_issued(doc(&[("<Hts>7606.12.3090<", &format!("<Hts>{hts}<"))]));
        assert_eq!(a.data.unwrap().products[0].category().name(), cat, "{hts}");
    }
}

#[test]
fn a310_unknown_smelt_after_cutoff() {
    for from in ["<LargestSmelt>CA<", "<SecondLargestSmelt>NOT_APPLICABLE<"] {
        let tag = &from[..from.find('>').unwrap() + 1];
        let d = doc(&[(from, &format!("{tag}UNKNOWN<"))]);
        let e = one_error(&d);
        assert_eq!(e.code, Code::A310, "{from}");
    }
    // Accepted through 2022-06-28, not a day later.
    let old = doc(&[
        ("<LargestSmelt>CA<", "<LargestSmelt>UNKNOWN<"),
        (
            "<ExpectedExportDate>2026-12-01<",
            "<ExpectedExportDate>2022-06-30<",
        ),
        (
            "<ExpectedImportDate>2026-12-05<",
            "<ExpectedImportDate>2022-07-01<",
        ),
    ]);
    let v = check_on(&old, "2022-06-28");
    assert_eq!(only_app(&v).status, AppStatus::Issued, "{v:#?}");
    let v = check_on(&old, "2022-06-29");
    let codes: Vec<Code> = only_app(&v).errors.iter().map(|e| e.code).collect();
    assert_eq!(codes, [Code::A310]);
}

#[test]
fn a311_not_applicable_then_country() {
    let na = "<LargestSmelt>NOT_APPLICABLE<";
    let e = assert_error(
        doc(&[("<LargestSmelt>CA<", na)]).replace(
            "<SecondLargestSmelt>NOT_APPLICABLE<",
            "<SecondLargestSmelt>CA<",
        ),
        Code::A311,
        &format!("{P1}/SecondLargestSmelt"),
    );
    assert_eq!(e.position, pos(33, 27));
    // Both NOT_APPLICABLE: secondary aluminum only, accepted.
    assert_issued(doc(&[("<LargestSmelt>CA<", na)]));
    // NOT_APPLICABLE then anything but NOT_APPLICABLE is A311, whatever else is wrong with it.
    for second in ["UNKNOWN", "QQ", "na"] {
        let v = check(doc(&[
            ("<LargestSmelt>CA<", na),
            (
                "<SecondLargestSmelt>NOT_APPLICABLE<",
                &format!("<SecondLargestSmelt>{second}<"),
            ),
        ]));
        let a = only_app(&v);
        assert!(
            a.errors.iter().any(|e| e.code == Code::A311),
            "{second}: {:?}",
            a.errors
        );
        assert_eq!(a.status, AppStatus::Rejected);
    }
}

#[test]
fn a312_same_smelt_country() {
    let e = assert_error(
        doc(&[(
            "<SecondLargestSmelt>NOT_APPLICABLE<",
            "<SecondLargestSmelt>CA<",
        )]),
        Code::A312,
        &format!("{P1}/SecondLargestSmelt"),
    );
    assert_eq!(e.position, pos(33, 27));
    assert_issued(doc(&[(
        "<SecondLargestSmelt>NOT_APPLICABLE<",
        "<SecondLargestSmelt>US<",
    )]));
    // A312 compares two valid values only: each invalid value has its own error.
    let got = codes(doc(&[
        ("<LargestSmelt>CA<", "<LargestSmelt>QQ<"),
        (
            "<SecondLargestSmelt>NOT_APPLICABLE<",
            "<SecondLargestSmelt>QQ<",
        ),
    ]));
    assert_eq!(got, [Code::A202, Code::A202]);
}

#[test]
fn a313_cast_must_be_a_country() {
    for v in ["NOT_APPLICABLE", "UNKNOWN"] {
        let e = assert_error(
            doc(&[("<MostRecentCast>CA<", &format!("<MostRecentCast>{v}<"))]),
            Code::A313,
            &format!("{P1}/MostRecentCast"),
        );
        assert_eq!(e.position, pos(34, 23));
    }
}

// ---------------------------------------------------------------------------------------------
// A320 .. A322 dates

fn dates(export: &str, import: &str) -> String {
    doc(&[
        (
            "<ExpectedExportDate>2026-12-01<",
            &format!("<ExpectedExportDate>{export}<"),
        ),
        (
            "<ExpectedImportDate>2026-12-05<",
            &format!("<ExpectedImportDate>{import}<"),
        ),
    ])
}

#[test]
fn a320_at_most_60_days_ahead() {
    // 2026-11-28 + 60 days = 2027-01-27.
    assert_issued(dates("2027-01-20", "2027-01-27"));
    let e = assert_error(
        dates("2027-01-20", "2027-01-28"),
        Code::A320,
        "Application[A1]/ExpectedImportDate",
    );
    assert_eq!(e.position, pos(27, 25));
    // Also for corrections, counted from the correction's filing day.
    let c = dates("2027-01-20", "2027-01-28").replace(
        "action=\"new\"",
        "action=\"correct\" license=\"AIM-2026-0000017-4\"",
    );
    assert_eq!(one_error(c).code, Code::A320);
}

#[test]
fn a321_at_most_import_past_days_before() {
    // Default 15 days: 2026-11-13 is accepted, 2026-11-12 is not.
    assert_issued(dates("2026-11-10", "2026-11-13"));
    assert_issued(dates("2026-11-28", "2026-11-28"));
    assert_error(
        dates("2026-11-10", "2026-11-12"),
        Code::A321,
        "Application[A1]/ExpectedImportDate",
    );
    // The configured number of days counts.
    let s = RuleSettings {
        import_past_days: 3,
        ..settings()
    };
    let run = |d: String| check_full(d.as_bytes(), "ACMEBRK", &s, filing_day());
    assert_eq!(
        only_app(&run(dates("2026-11-20", "2026-11-25"))).status,
        AppStatus::Issued
    );
    let v = run(dates("2026-11-20", "2026-11-24"));
    let codes: Vec<Code> = only_app(&v).errors.iter().map(|e| e.code).collect();
    assert_eq!(codes, [Code::A321]);
    let s0 = RuleSettings {
        import_past_days: 0,
        ..settings()
    };
    let v = check_full(
        dates("2026-11-20", "2026-11-27").as_bytes(),
        "ACMEBRK",
        &s0,
        filing_day(),
    );
    assert_eq!(only_app(&v).errors[0].code, Code::A321);
    // The filing day comes from the context, across a year boundary too.
    let v = check_on(&dates("2026-12-28", "2027-01-02"), "2027-01-17");
    assert_eq!(only_app(&v).status, AppStatus::Issued);
    let v = check_on(&dates("2026-12-28", "2027-01-02"), "2027-01-18");
    assert_eq!(only_app(&v).errors[0].code, Code::A321);
}

#[test]
fn a322_export_after_import() {
    let e = assert_error(
        dates("2026-12-06", "2026-12-05"),
        Code::A322,
        "Application[A1]/ExpectedExportDate",
    );
    assert_eq!(e.position, pos(26, 25));
    assert_issued(dates("2026-12-05", "2026-12-05"));
    // Compares two valid values only.
    assert_eq!(
        one_error(dates("2026-12-32", "2026-12-05")).code,
        Code::A201
    );
    // Export date may lie in the past; A321 is about the import date only.
    assert_issued(dates("2026-10-01", "2026-12-05"));
}

// ---------------------------------------------------------------------------------------------
// A330 quantity and value

#[test]
fn a330_range_and_precision() {
    let q = |v: &str| doc(&[("<QuantityKg>12500.000<", &format!("<QuantityKg>{v}<"))]);
    let c = |v: &str| {
        doc(&[(
            "<CustomsValueUsd>41250.00<",
            &format!("<CustomsValueUsd>{v}<"),
        )])
    };
    for bad in [
        "1000000000000",
        "1000000000000.5",
        "1.0000",
        "0.0001",
        "-5",
        "-0.5",
        "0",
        "0.000",
        "-0",
        "000",
    ] {
        assert_error(q(bad), Code::A330, &format!("{P1}/QuantityKg"));
    }
    for good in [
        "999999999999.999",
        "0000000000001",
        "0001.5",
        "1.500",
        "0.001",
        "7",
    ] {
        let a = assert_issued(q(good));
        assert!(a.data.is_some(), "{good}");
    }
    for bad in [
        "1000000000000",
        "41250.001",
        "1.000",
        "-41250.00",
        "0.00",
        "0",
    ] {
        assert_error(c(bad), Code::A330, &format!("{P1}/CustomsValueUsd"));
    }
    for good in [
        "999999999999.99",
        "0.01",
        "41250",
        "41250.5",
        "00000000000041250.00",
    ] {
        assert_issued(c(good));
    }
}

// ---------------------------------------------------------------------------------------------
// W301 informal entries

#[test]
fn w301_under_2500_usd() {
    let c = |v: &str| {
        doc(&[(
            "<CustomsValueUsd>41250.00<",
            &format!("<CustomsValueUsd>{v}<"),
        )])
    };
    let a = assert_issued(c("2499.99"));
    let w: Vec<(Code, &str)> = a
        .warnings
        .iter()
        .map(|e| (e.code, e.path.as_str()))
        .collect();
    assert_eq!(w, [(Code::W301, A1)]);
    assert!(assert_issued(c("2500.00")).warnings.is_empty());
    assert!(assert_issued(c("2500")).warnings.is_empty());
    // Summed over the application.
    let v = check(with_products(&[
        product("1", &[("41250.00", "1250.00")]),
        product("2", &[("41250.00", "1249.99")]),
    ]));
    let a = only_app(&v);
    assert_eq!(a.status, AppStatus::Issued);
    assert_eq!(
        a.warnings.iter().map(|w| w.code).collect::<Vec<_>>(),
        [Code::W301]
    );
    let v = check(with_products(&[
        product("1", &[("41250.00", "1250.00")]),
        product("2", &[("41250.00", "1250.00")]),
    ]));
    assert!(only_app(&v).warnings.is_empty());
    // Also for corrections.
    let corr = c("100.00").replace(
        "action=\"new\"",
        "action=\"correct\" license=\"AIM-2026-0000017-4\"",
    );
    let v = check(corr);
    let a = only_app(&v);
    assert_eq!(a.status, AppStatus::Corrected);
    assert_eq!(
        a.warnings.iter().map(|w| w.code).collect::<Vec<_>>(),
        [Code::W301]
    );
}

// ---------------------------------------------------------------------------------------------
// Several errors, several applications

#[test]
fn all_errors_of_an_application_at_once() {
    let v = check(doc(&[
        ("<CountryOfOrigin>CA<", "<CountryOfOrigin>QQ<"),
        ("<Hts>7606.12.3090<", "<Hts>7208.10.1500<"),
        ("<QuantityKg>12500.000<", "<QuantityKg>0<"),
    ]));
    let a = only_app(&v);
    let mut got: Vec<(Code, &str, u32)> = a
        .errors
        .iter()
        .map(|e| (e.code, e.path.as_str(), e.position.unwrap().line))
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            (Code::A202, "Application[A1]/CountryOfOrigin", 24),
            (Code::A301, "Application[A1]/Product[1]/Hts", 30),
            (Code::A330, "Application[A1]/Product[1]/QuantityKg", 35),
        ]
    );
    // Element-level and value-level errors together, across products.
    let v = check(doc(&[
        (
            "    <PortOfEntry>",
            "    <Incoterm>FOB</Incoterm>\n    <PortOfEntry>",
        ),
        ("    <Importer>Northwind Metals Inc</Importer>\n", ""),
        ("<EntryNumber>ABC-1234567-6<", "<EntryNumber>ABC-1234567-1<"),
        ("<MostRecentCast>CA<", "<MostRecentCast>UNKNOWN<"),
        ("<CustomsValueUsd>41250.00<", "<CustomsValueUsd>1,5<"),
    ]));
    let mut got: Vec<Code> = only_app(&v).errors.iter().map(|e| e.code).collect();
    got.sort();
    assert_eq!(
        got,
        [Code::A101, Code::A102, Code::A201, Code::A204, Code::A313]
    );
}

#[test]
fn one_error_per_value() {
    // A203 before A201 before A202: each value gets at most one error.
    for (to, code) in [
        ("<CountryOfOrigin>q&#x85;<", Code::A203),
        ("<CountryOfOrigin>qq<", Code::A201),
        ("<CountryOfOrigin>QQ<", Code::A202),
    ] {
        assert_eq!(
            one_error(doc(&[("<CountryOfOrigin>CA<", to)])).code,
            code,
            "{to}"
        );
    }
    for (to, code) in [
        ("<Hts>7208.10.150<", Code::A201),
        ("<Hts>7208&#x85;10<", Code::A203),
    ] {
        assert_eq!(
            one_error(doc(&[("<Hts>7606.12.3090<", to)])).code,
            code,
            "{to}"
        );
    }
}

#[test]
fn applications_are_judged_independently() {
    let bad = app(&[
        ("id=\"A1\"", "id=\"A2\""),
        ("<Hts>7606.12.3090<", "<Hts>7208.10.1500<"),
    ]);
    let worse = app(&[
        ("id=\"A1\"", "id=\"A3\""),
        ("<State>MD<", "<State>Maryland<"),
    ]);
    let v = check(filing(&[
        app(&[]),
        bad,
        worse,
        app(&[("id=\"A1\"", "id=\"A4\"")]),
    ]));
    assert!(v.file_error.is_none());
    let got: Vec<(Option<&str>, AppStatus, Vec<Code>)> = v
        .apps
        .iter()
        .map(|a| {
            (
                a.id.as_deref(),
                a.status,
                a.errors.iter().map(|e| e.code).collect(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (Some("A1"), AppStatus::Issued, vec![]),
            (Some("A2"), AppStatus::Rejected, vec![Code::A301]),
            (Some("A3"), AppStatus::Rejected, vec![Code::A201]),
            (Some("A4"), AppStatus::Issued, vec![]),
        ]
    );
    assert_eq!(v.status().as_str(), "partial");
    // Rejected applications carry no data; issued ones do.
    assert!(v.apps[1].data.is_none() && v.apps[0].data.is_some());
    // All rejected: the file is rejected.
    let v = check(filing(&[
        app(&[("<Hts>7606.12.3090<", "<Hts>7208.10.1500<")]),
        app(&[("id=\"A1\"", "id=\"A2\""), ("<State>MD<", "<State>M<")]),
    ]));
    assert_eq!(v.status().as_str(), "rejected");
    // Mixed actions in one file.
    let cancel = "  <Application id=\"C1\" action=\"cancel\" license=\"AIM-2026-0000018-3\">\n    <Reason>Shipment cancelled by importer</Reason>\n  </Application>\n";
    let correct = app(&[
        ("id=\"A1\"", "id=\"K1\""),
        (
            "action=\"new\"",
            "action=\"correct\" license=\"AIM-2026-0000017-4\"",
        ),
    ]);
    let v = check(filing(&[app(&[]), correct, cancel.into()]));
    let st: Vec<AppStatus> = v.apps.iter().map(|a| a.status).collect();
    assert_eq!(
        st,
        [
            AppStatus::Issued,
            AppStatus::Corrected,
            AppStatus::Cancelled
        ]
    );
    assert_eq!(v.status().as_str(), "accepted");
}

// ---------------------------------------------------------------------------------------------
// File level, in the spec's order

#[test]
fn f001_beats_f002_when_it_comes_first_in_the_file() {
    // Wrong namespace and truncated: not well-formed wins.
    let wrong_ns = TEMPLATE.replace("urn:aim:filing:1", "urn:aim:filing:9");
    assert_eq!(file_code(&wrong_ns), Code::F002);
    let cut = &wrong_ns[..wrong_ns.len() / 2];
    assert_eq!(file_code(cut), Code::F001);
    let e = file_error(cut);
    assert!(e.position.is_some(), "F001 gives line and column");
    // Wrong version, then a mismatched end tag.
    let d = doc(&[
        ("version=\"1.0\">", "version=\"2.0\">"),
        ("</Importer>", "</Importr>"),
    ]);
    assert_eq!(file_code(d), Code::F001);
}

#[test]
fn f001_positions() {
    let e = file_error(doc(&[("</Importer>", "</Importr>")]));
    assert_eq!(e.code, Code::F001);
    assert_eq!(e.path, "");
    assert_eq!(e.position.map(|p| p.line), Some(21), "{e:?}");
    let e = file_error(doc(&[(
        "<Importer>Northwind Metals Inc<",
        "<Importer>Northwind & Metals<",
    )]));
    assert_eq!(e.code, Code::F001);
    assert_eq!(e.position.map(|p| p.line), Some(21), "{e:?}");
    let e = file_error(doc(&[(
        "<Importer>Northwind Metals Inc<",
        "<Importer>AB&nbsp;C<",
    )]));
    assert_eq!(e.code, Code::F001);
    assert_eq!(e.position, pos(21, 17), "{e:?}");
    let e = file_error(doc(&[(
        "<Importer>Northwind Metals Inc<",
        "<Importer>Ä\u{1}<",
    )]));
    assert_eq!(e.position, pos(21, 16), "{e:?}");
}

#[test]
fn f001_empty_and_blank_files() {
    for d in [
        &b""[..],
        b"\xEF\xBB\xBF",
        b"\xEF\xBB\xBF \r\n\t\n",
        b"   ",
        b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n",
        b"<!-- only a comment -->",
        b"just text",
        b"<a>",
    ] {
        assert_eq!(file_code(d), Code::F001, "{:?}", String::from_utf8_lossy(d));
    }
}

#[test]
fn f008_doctype_pi_and_entities() {
    let decl = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
    assert_eq!(
        file_code(doc(&[(decl, &format!("{decl}<!DOCTYPE LicenseFiling>\n"))])),
        Code::F008
    );
    assert_eq!(
        file_code(doc(&[(
            decl,
            &format!("{decl}<!DOCTYPE LicenseFiling [<!ENTITY a \"b\">]>\n")
        )])),
        Code::F008
    );
    assert_eq!(
        file_code(doc(&[(
            decl,
            &format!("{decl}<?xml-stylesheet href=\"a.xsl\"?>\n")
        )])),
        Code::F008
    );
    assert_eq!(
        file_code(doc(&[(
            "    <PortOfEntry>",
            "    <?php echo 1 ?>\n    <PortOfEntry>"
        )])),
        Code::F008
    );
    // A DOCTYPE before a bad character: F008; a bad character before a DOCTYPE: F001.
    let d = doc(&[
        (decl, &format!("{decl}<!DOCTYPE LicenseFiling>\n")),
        ("Northwind Metals Inc", "Northwind\u{1} Metals"),
    ]);
    let e = file_error(d);
    assert_eq!(
        (e.code, e.position.map(|p| p.line)),
        (Code::F008, Some(2)),
        "{e:?}"
    );
    let d = doc(&[(
        decl,
        &format!("{decl}<!-- \u{1} -->\n<!DOCTYPE LicenseFiling>\n"),
    )]);
    assert_eq!(file_code(d), Code::F001);
    // F008 beats a later F002.
    let d = doc(&[
        (decl, &format!("{decl}<!DOCTYPE LicenseFiling>\n")),
        ("urn:aim:filing:1", "urn:aim:filing:9"),
    ]);
    assert_eq!(file_code(d), Code::F008);
    // A DOCTYPE in a truncated file: it comes first.
    let d = doc(&[(decl, &format!("{decl}<!DOCTYPE LicenseFiling>\n"))]);
    assert_eq!(file_code(&d[..d.len() - 40]), Code::F008);
}

#[test]
fn f007_encodings() {
    let latin = doc(&[("encoding=\"UTF-8\"", "encoding=\"ISO-8859-1\"")]);
    assert_eq!(file_code(&latin), Code::F007);
    assert_eq!(
        file_code(doc(&[("encoding=\"UTF-8\"", "encoding='latin1'")])),
        Code::F007
    );
    assert_eq!(
        file_code(doc(&[("encoding=\"UTF-8\"", "encoding=\"UTF-16\"")])),
        Code::F007
    );
    // Compared case-insensitively.
    assert_issued(doc(&[("encoding=\"UTF-8\"", "encoding=\"utf-8\"")]));
    assert_issued(doc(&[("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", "")]));
    // Bytes that are not UTF-8.
    let mut bytes = TEMPLATE.as_bytes().to_vec();
    let at = TEMPLATE.find("Northwind").unwrap();
    bytes[at + 1] = 0xF6;
    let e = file_error(&bytes);
    assert_eq!(e.code, Code::F007);
    assert_eq!(e.position, None, "F007 carries no line or column");
    // UTF-16 with a BOM.
    let mut utf16 = vec![0xFF, 0xFE];
    for u in TEMPLATE.replace("UTF-8", "UTF-16").encode_utf16() {
        utf16.extend_from_slice(&u.to_le_bytes());
    }
    assert_eq!(file_code(&utf16), Code::F007);
}

#[test]
fn f002_root_shape() {
    for (from, to) in [
        ("urn:aim:filing:1", "urn:aim:filing:9"),
        (" xmlns=\"urn:aim:filing:1\"", ""),
        ("version=\"1.0\">", "version=\"1.1\">"),
        (" version=\"1.0\">", ">"),
        ("version=\"1.0\">", "version=\"1.0\" lang=\"en\">"),
        ("  <Interchange>", "  <Note/>\n  <Interchange>"),
        ("  <Interchange>", "  hello\n  <Interchange>"),
    ] {
        let e = file_error(doc(&[(from, to)]));
        assert_eq!(e.code, Code::F002, "{to}: {e:?}");
        assert!(e.position.is_some());
    }
    let other_root = TEMPLATE
        .replace("<LicenseFiling ", "<Filing ")
        .replace("</LicenseFiling>", "</Filing>");
    assert_eq!(file_code(other_root), Code::F002);
    // F002 beats F010.
    let d = doc(&[
        ("version=\"1.0\">", "version=\"2.0\">"),
        ("<SenderId>ACMEBRK</SenderId>", ""),
    ]);
    assert_eq!(file_code(d), Code::F002);
    // An Application in another namespace is an unknown element under the root.
    assert_eq!(
        file_code(doc(&[(
            "<Application id",
            "<Application xmlns=\"urn:x\" id"
        )])),
        Code::F002
    );
}

#[test]
fn f010_interchange_fields() {
    let ic_start = TEMPLATE.find("  <Interchange>").unwrap();
    let ic_end = TEMPLATE.find("</Interchange>\n").unwrap() + "</Interchange>\n".len();
    let ic = &TEMPLATE[ic_start..ic_end];
    let cases: Vec<(String, &str)> = vec![
        (doc(&[(ic, "")]), "Interchange"),
        (
            doc(&[("    <SenderId>ACMEBRK</SenderId>\n", "")]),
            "Interchange/SenderId",
        ),
        (
            doc(&[("    <ControlNumber>000000101</ControlNumber>\n", "")]),
            "Interchange/ControlNumber",
        ),
        (
            doc(&[("    <CreatedAt>2026-11-28T14:05:00Z</CreatedAt>\n", "")]),
            "Interchange/CreatedAt",
        ),
        (
            doc(&[("<SenderId>ACMEBRK<", "<SenderId>acme<")]),
            "Interchange/SenderId",
        ),
        (
            doc(&[("<SenderId>ACMEBRK<", "<SenderId>A<")]),
            "Interchange/SenderId",
        ),
        (
            doc(&[("<SenderId>ACMEBRK<", "<SenderId>ACMEBRK-1<")]),
            "Interchange/SenderId",
        ),
        (
            doc(&[("<SenderId>ACMEBRK<", "<SenderId>ABCDEFGHIJKLMNOP<")]),
            "Interchange/SenderId",
        ),
        (
            doc(&[("<SenderId>ACMEBRK<", "<SenderId><")]),
            "Interchange/SenderId",
        ),
        (
            doc(&[("<ControlNumber>000000101<", "<ControlNumber>1000000000<")]),
            "Interchange/ControlNumber",
        ),
        (
            doc(&[("<ControlNumber>000000101<", "<ControlNumber>-1<")]),
            "Interchange/ControlNumber",
        ),
        (
            doc(&[("<ControlNumber>000000101<", "<ControlNumber>12a<")]),
            "Interchange/ControlNumber",
        ),
        (
            doc(&[("<ControlNumber>000000101<", "<ControlNumber>+42<")]),
            "Interchange/ControlNumber",
        ),
        (
            doc(&[("<ControlNumber>000000101<", "<ControlNumber>4&#x85;2<")]),
            "Interchange/ControlNumber",
        ),
        (
            doc(&[("<CreatedAt>2026-11-28T14:05:00Z<", "<CreatedAt>2026-11-28<")]),
            "Interchange/CreatedAt",
        ),
        (
            doc(&[(
                "<CreatedAt>2026-11-28T14:05:00Z<",
                "<CreatedAt>2026-11-28T14:05:00<",
            )]),
            "Interchange/CreatedAt",
        ),
        (
            doc(&[(
                "<CreatedAt>2026-11-28T14:05:00Z<",
                "<CreatedAt>2026-02-30T14:05:00Z<",
            )]),
            "Interchange/CreatedAt",
        ),
        (
            doc(&[(
                "<CreatedAt>2026-11-28T14:05:00Z<",
                "<CreatedAt>2026-11-28T25:05:00Z<",
            )]),
            "Interchange/CreatedAt",
        ),
        (
            doc(&[(
                "<CreatedAt>2026-11-28T14:05:00Z<",
                "<CreatedAt>2026-11-28 14:05:00Z<",
            )]),
            "Interchange/CreatedAt",
        ),
        (
            doc(&[(
                "<CreatedAt>2026-11-28T14:05:00Z<",
                "<CreatedAt>2026-11-28T14:05:00.Z<",
            )]),
            "Interchange/CreatedAt",
        ),
        (
            doc(&[(
                "<CreatedAt>2026-11-28T14:05:00Z<",
                "<CreatedAt>2026-11-28T14:05:00+0100<",
            )]),
            "Interchange/CreatedAt",
        ),
        (
            doc(&[("<CreatedAt>2026-11-28T14:05:00Z<", "<CreatedAt>yesterday<")]),
            "Interchange/CreatedAt",
        ),
    ];
    for (d, path) in &cases {
        let e = file_error(d);
        assert_eq!((e.code, e.path.as_str()), (Code::F010, *path), "{e:?}");
        assert!(e.position.is_some());
    }
    // Repeated, unknown, attributes, nested elements, a second Interchange: F010 too.
    for (from, to) in [
        (
            "    <ControlNumber>",
            "    <SenderId>ACMEBRK</SenderId>\n    <ControlNumber>",
        ),
        (
            "    <ControlNumber>",
            "    <Priority>1</Priority>\n    <ControlNumber>",
        ),
        ("<SenderId>ACMEBRK<", "<SenderId kind=\"x\">ACMEBRK<"),
        ("<Interchange>", "<Interchange id=\"1\">"),
        ("<SenderId>ACMEBRK<", "<SenderId><b/>ACMEBRK<"),
        ("  </Interchange>\n", &format!("  </Interchange>\n{ic}")),
        ("    <ControlNumber>", "    text\n    <ControlNumber>"),
    ] {
        assert_eq!(file_code(doc(&[(from, to)])), Code::F010, "{to}");
    }
    // Accepted forms.
    for (from, to) in [
        (
            "<CreatedAt>2026-11-28T14:05:00Z<",
            "<CreatedAt>2026-11-28T14:05:00.123456+05:30<",
        ),
        (
            "<CreatedAt>2026-11-28T14:05:00Z<",
            "<CreatedAt>2026-11-28T14:05:00-08:00<",
        ),
        (
            "<CreatedAt>2026-11-28T14:05:00Z<",
            "<CreatedAt> 2026-11-28T14:05:00Z\n<",
        ),
        ("<ControlNumber>000000101<", "<ControlNumber>0<"),
        ("<ControlNumber>000000101<", "<ControlNumber>999999999<"),
    ] {
        assert_issued(doc(&[(from, to)]));
    }
    // F010 beats F003.
    let d = doc(&[
        ("<SenderId>ACMEBRK<", "<SenderId>NOBODY<"),
        ("<CreatedAt>2026-11-28T14:05:00Z<", "<CreatedAt>now<"),
    ]);
    assert_eq!(file_code(d), Code::F010);
}

#[test]
fn f003_and_f004_sender() {
    // Unregistered: F003, even though it is not the inbox's partner either.
    let e = file_error(doc(&[("<SenderId>ACMEBRK<", "<SenderId>NOBODY<")]));
    assert_eq!(
        (e.code, e.path.as_str()),
        (Code::F003, "Interchange/SenderId")
    );
    assert_eq!(e.position, pos(4, 15));
    // Registered, but another partner's inbox.
    let v = check_full(TEMPLATE.as_bytes(), "DEMO", &settings(), filing_day());
    let e = v.file_error.clone().expect("F004");
    assert_eq!(
        (e.code, e.path.as_str()),
        (Code::F004, "Interchange/SenderId")
    );
    assert!(v.apps.is_empty());
    // The readable interchange fields are still echoed.
    assert_eq!(v.sender_id.as_deref(), Some("ACMEBRK"));
    assert_eq!(v.control_number.as_deref(), Some("000000101"));
    let d = doc(&[("<SenderId>ACMEBRK<", "<SenderId>DEMO<")]);
    let v = check_full(d.as_bytes(), "DEMO", &settings(), filing_day());
    assert_eq!(only_app(&v).status, AppStatus::Issued);
    // F003 beats F009.
    let none = doc(&[
        (app_element(), ""),
        ("<SenderId>ACMEBRK<", "<SenderId>NOBODY<"),
    ]);
    assert_eq!(file_code(none), Code::F003);
    // No inbox assumed (`aim validate` outside one): F004 is not checked, F003 still is.
    let v = check_full(TEMPLATE.as_bytes(), "", &settings(), filing_day());
    assert_eq!(only_app(&v).status, AppStatus::Issued);
    let d = doc(&[("<SenderId>ACMEBRK<", "<SenderId>NOBODY<")]);
    let v = check_full(d.as_bytes(), "", &settings(), filing_day());
    assert_eq!(v.file_error.map(|e| e.code), Some(Code::F003));
}

#[test]
fn f009_application_count() {
    let e = file_error(filing(&[]));
    assert_eq!(e.code, Code::F009);
    assert!(e.position.is_some());
    let s = RuleSettings {
        max_applications: 2,
        ..settings()
    };
    let two = filing(&[app(&[]), app(&[("id=\"A1\"", "id=\"A2\"")])]);
    let v = check_full(two.as_bytes(), "ACMEBRK", &s, filing_day());
    assert_eq!(v.status().as_str(), "accepted");
    assert_eq!(v.apps.len(), 2);
    let three = filing(&[
        app(&[]),
        app(&[("id=\"A1\"", "id=\"A2\"")]),
        app(&[("id=\"A1\"", "id=\"A3\"")]),
    ]);
    let v = check_full(three.as_bytes(), "ACMEBRK", &s, filing_day());
    let e = v.file_error.expect("F009");
    assert_eq!(e.code, Code::F009);
    assert_eq!(
        e.position.map(|p| p.line),
        Some(70),
        "points at the first excess Application"
    );
    assert!(v.apps.is_empty());
    // F009 is checked after the sender.
    let v = check_full(three.as_bytes(), "DEMO", &s, filing_day());
    assert_eq!(v.file_error.unwrap().code, Code::F004);
    // A malformed application past the limit is still read for well-formedness.
    let bad = format!(
        "{}  <Application id=\"A9\"><Importer></Application>\n",
        app(&[])
    );
    let v = check_full(
        filing(&[app(&[]), app(&[]), bad]).as_bytes(),
        "ACMEBRK",
        &s,
        filing_day(),
    );
    assert_eq!(v.file_error.unwrap().code, Code::F001);
}

// ---------------------------------------------------------------------------------------------
// Positions and paths

#[test]
fn bom_and_crlf_are_accepted_with_correct_positions() {
    let crlf = TEMPLATE.replace('\n', "\r\n");
    let mut bytes = b"\xEF\xBB\xBF".to_vec();
    bytes.extend_from_slice(crlf.as_bytes());
    assert_issued(&bytes);
    let bad = crlf.replace("<Hts>7606.12.3090<", "<Hts>7208.10.1500<");
    let mut bytes = b"\xEF\xBB\xBF".to_vec();
    bytes.extend_from_slice(bad.as_bytes());
    let e = assert_error(&bytes, Code::A301, &format!("{P1}/Hts"));
    assert_eq!(e.position, pos(30, 12));
    // A file-level error on line 2 is not shifted by the BOM.
    let bad = crlf.replace("urn:aim:filing:1", "urn:aim:filing:9");
    let mut bytes = b"\xEF\xBB\xBF".to_vec();
    bytes.extend_from_slice(bad.as_bytes());
    let e = file_error(&bytes);
    assert_eq!(e.code, Code::F002);
    assert_eq!(e.position.map(|p| p.line), Some(2));
    // The value of a multi-line element, CRLF inside: trimmed, then accepted.
    assert_issued(
        TEMPLATE
            .replace('\n', "\r\n")
            .replace("<PortOfEntry>3801<", "<PortOfEntry>\r\n      3801\r\n    <"),
    );
}

#[test]
fn columns_count_characters() {
    // A value after multi-byte characters on the same line.
    let d = doc(&[(
        "      <QuantityKg>12500.000</QuantityKg>",
        "      <!-- ÄÖÜ€𝄞 --><QuantityKg>0</QuantityKg>",
    )]);
    let e = assert_error(d, Code::A330, &format!("{P1}/QuantityKg"));
    // 6 spaces, 14 characters of comment, 12 of start tag: the value is character 33.
    assert_eq!(e.position, pos(35, 33));
    // A tab is one character.
    let d = doc(&[("      <Hts>7606.12.3090<", "\t<Hts>7208.10.1500<")]);
    assert_eq!(
        assert_error(d, Code::A301, &format!("{P1}/Hts")).position,
        pos(30, 7)
    );
    // Leading white space of a value is skipped: the column of its first character.
    let d = doc(&[("<Hts>7606.12.3090<", "<Hts>  7208.10.1500<")]);
    assert_eq!(one_error(d).position, pos(30, 14));
    let d = doc(&[("<Hts>7606.12.3090<", "<Hts>\n        7208.10.1500\n      <")]);
    assert_eq!(one_error(d).position, pos(31, 9));
    // A value starting with a reference points at the '&'.
    let d = doc(&[("<Importer>Northwind Metals Inc<", "<Importer>&#x85;<")]);
    assert_eq!(one_error(d).position, pos(21, 15));
    // An attribute value.
    let d = doc(&[("id=\"A1\" action=\"new\"", "id=\"A1\" action=\"öld\"")]);
    assert_eq!(one_error(d).position, pos(8, 32));
    // Positions of Interchange errors.
    let e = file_error(doc(&[("<ControlNumber>000000101<", "<ControlNumber>x<")]));
    assert_eq!(e.position, pos(5, 20));
}

#[test]
fn path_formats() {
    // Product by line.
    let v = check(with_products(&[
        product("1", &[]),
        product("2", &[("<Hts>7606.12.3090<", "<Hts>7208.10.1500<")]),
    ]));
    let e = &only_app(&v).errors[0];
    assert_eq!(e.path, "Application[A1]/Product[2]/Hts");
    assert_eq!(e.position, pos(39, 12));
    // Product by position when its line is not valid.
    let v = check(with_products(&[
        product("1", &[]),
        product("x", &[("<Hts>7606.12.3090<", "<Hts>7208.10.1500<")]),
    ]));
    let mut paths: Vec<&str> = only_app(&v)
        .errors
        .iter()
        .map(|e| e.path.as_str())
        .collect();
    paths.sort();
    assert_eq!(
        paths,
        [
            "Application[A1]/Product[#2]/@line",
            "Application[A1]/Product[#2]/Hts"
        ]
    );
    // Application by position when its id is missing or invalid.
    let v = check(filing(&[
        app(&[]),
        app(&[(" id=\"A1\"", ""), ("<State>MD<", "<State>M<")]),
        app(&[("id=\"A1\"", "id=\"bad id\"")]),
    ]));
    let got: Vec<Vec<&str>> = v
        .apps
        .iter()
        .map(|a| a.errors.iter().map(|e| e.path.as_str()).collect())
        .collect();
    assert_eq!(
        got,
        [
            vec![],
            vec!["Application[#2]/@id", "Application[#2]/Filer/State"],
            vec!["Application[#3]/@id"],
        ]
    );
    assert_eq!(v.apps[1].id, None);
    assert_eq!(v.apps[2].id, None, "an invalid id is not echoed");
    assert_eq!(v.apps[1].position, 2);
}

// ---------------------------------------------------------------------------------------------
// Control numbers, determinism, the ack

fn render(v: &Verdict, name: &str, bytes: &[u8]) -> Vec<u8> {
    let facts = FileFacts {
        file_name: name,
        sha256: Sha256::digest(bytes).into(),
        received_at: Utc.with_ymd_and_hms(2026, 11, 28, 14, 5, 1).unwrap(),
    };
    let issuance: Vec<Issuance> = v.apps.iter().map(|_| Issuance::default()).collect();
    Ack::first(v, &facts, &issuance).render()
}

#[test]
fn control_numbers_compare_as_numbers() {
    let short = doc(&[("<ControlNumber>000000101<", "<ControlNumber>42<")]);
    let long = doc(&[("<ControlNumber>000000101<", "<ControlNumber>000000042<")]);
    let (a, b) = (check(&short), check(&long));
    assert_eq!(a.control_value, Some(42));
    assert_eq!(b.control_value, Some(42));
    // Echoed as written.
    assert_eq!(a.control_number.as_deref(), Some("42"));
    assert_eq!(b.control_number.as_deref(), Some("000000042"));
    let ack = String::from_utf8(render(&a, "a.xml", short.as_bytes())).unwrap();
    assert!(ack.contains("<ControlNumber>42</ControlNumber>"), "{ack}");
    let ack = String::from_utf8(render(&b, "b.xml", long.as_bytes())).unwrap();
    assert!(
        ack.contains("<ControlNumber>000000042</ControlNumber>"),
        "{ack}"
    );
    // Trimmed.
    let v = check(doc(&[(
        "<ControlNumber>000000101<",
        "<ControlNumber> 42\n<",
    )]));
    assert_eq!(v.control_value, Some(42));
}

#[test]
fn acks_are_deterministic() {
    let docs = [
        TEMPLATE.to_owned(),
        filing(&[
            app(&[]),
            app(&[
                ("id=\"A1\"", "id=\"A2\""),
                ("<Hts>7606.12.3090<", "<Hts>1<"),
            ]),
        ]),
        doc(&[("</Importer>", "</Importr>")]),
        doc(&[("<CustomsValueUsd>41250.00<", "<CustomsValueUsd>12.00<")]),
    ];
    for d in &docs {
        let v1 = check(d);
        let v2 = check(d);
        assert_eq!(v1, v2);
        let a1 = render(&v1, "f.xml", d.as_bytes());
        let a2 = render(&v2, "f.xml", d.as_bytes());
        assert_eq!(a1, a2);
        // And a readable ack.
        let ack = read_ack(&a1);
        assert_eq!(ack.status, v1.status().as_str());
    }
}

#[test]
fn ack_carries_what_the_verdict_says() {
    let d = filing(&[
        app(&[("<CustomsValueUsd>41250.00<", "<CustomsValueUsd>2000.00<")]),
        app(&[("id=\"A1\"", "id=\"A&amp;2\"")]),
        app(&[
            ("id=\"A1\"", "id=\"A3\""),
            (
                "<Importer>Northwind Metals Inc<",
                "<Importer>\u{85}&lt;script&gt;<",
            ),
        ]),
    ]);
    let v = check(&d);
    let xml = render(&v, "batch <1>.xml", d.as_bytes());
    let ack = read_ack(&xml);
    assert_eq!(ack.status, "partial");
    let ic = ack.root.child("Interchange").unwrap();
    assert_eq!(ic.child("FileName").unwrap().text, "batch <1>.xml");
    assert_eq!(ic.child("AckSequence").unwrap().text, "1");
    assert_eq!(
        ic.child("ReceivedAt").unwrap().text,
        "2026-11-28T14:05:01.000Z"
    );
    assert_eq!(
        ic.child("Sha256").unwrap().text,
        hex::encode(Sha256::digest(d.as_bytes()))
    );
    assert_eq!(ack.apps.len(), 3);
    assert_eq!(ack.apps[0].status, "issued");
    assert_eq!(ack.apps[0].warnings, ["W301"]);
    let a1 = ack.root.all("Application").next().unwrap();
    let p = a1.child("Product").unwrap();
    assert_eq!(p.attr("line"), Some("1"));
    assert_eq!(p.child("Category").unwrap().text, "Plate, sheet and strip");
    assert_eq!(p.child("UnitValueUsdPerMt").unwrap().text, "160.00");
    // No license number in `aim validate` acks (no issuance given here).
    assert!(a1.child("LicenseNumber").is_none());
    // An invalid id is not echoed; its path uses the position.
    assert_eq!(ack.apps[1].id, None);
    let a2 = ack.root.all("Application").nth(1).unwrap();
    let err = a2.child("Error").unwrap();
    assert_eq!(err.attr("code"), Some("A201"));
    assert_eq!(err.attr("path"), Some("Application[#2]/@id"));
    assert_eq!(err.attr("line"), Some("39"));
    assert_eq!(err.attr("column"), Some("20"));
    // Rejected applications carry no Product results.
    assert!(a2.child("Product").is_none());
    // No control character from the file reaches the ack.
    let text = String::from_utf8(xml).unwrap();
    assert!(text.chars().all(ack_char_ok), "{text}");
    assert_eq!(ack.apps[2].errors, ["A203"]);
}

/// The ack uses line feeds for layout; every other control character is forbidden in it.
fn ack_char_ok(c: char) -> bool {
    c == '\n' || !aim::filing::codes::is_control(c)
}

// ---------------------------------------------------------------------------------------------
// Well-formedness the XML reader alone does not check (found by comparing with xmllint)

#[test]
fn f001_for_malformed_tags_anywhere() {
    for (from, to) in [
        // Repeated attribute, in an element that is skipped as unknown.
        (
            "    <PortOfEntry>",
            "    <Incoterm a=\"1\" a=\"2\">FOB</Incoterm>\n    <PortOfEntry>",
        ),
        // ... and in a known one.
        ("id=\"A1\"", "id=\"A1\" id=\"A2\""),
        // No white space between attributes.
        ("id=\"A1\" action=\"new\"", "id=\"A1\"action=\"new\""),
        // Not an element name / attribute name.
        (
            "    <PortOfEntry>",
            "    <1abc>FOB</1abc>\n    <PortOfEntry>",
        ),
        ("<Product line=\"1\">", "<Product &ine=\"1\">"),
        ("id=\"A1\"", "id&foo;=\"A1\""),
        // An attribute without a value, or unquoted.
        ("id=\"A1\"", "id"),
        ("id=\"A1\"", "id=A1"),
        // '<' or a bad reference in an attribute of a skipped element.
        (
            "    <PortOfEntry>",
            "    <Incoterm a=\"x<y\">FOB</Incoterm>\n    <PortOfEntry>",
        ),
        (
            "    <PortOfEntry>",
            "    <Incoterm a=\"&#1;\">FOB</Incoterm>\n    <PortOfEntry>",
        ),
        ("id=\"A1\"", "id=\"A&#+65;\""),
        ("id=\"A1\"", "id=\"A&#x+41;\""),
        ("id=\"A1\"", "id=\"A&#X41;\""),
        // "]]>" in text.
        ("<Importer>Northwind Metals Inc<", "<Importer>North]]>wind<"),
        // A malformed XML declaration.
        ("encoding=\"UTF-8\"?>", "encoding=\"UTF-8\"&?>"),
        ("encoding=\"UTF-8\"?>", "encodng=\"UTF-8\"?>"),
        ("encoding=\"UTF-8\"?>", "encoding=UTF-8?>"),
        (
            "version=\"1.0\" encoding=\"UTF-8\"?>",
            "encoding=\"UTF-8\" version=\"1.0\"?>",
        ),
        (
            "encoding=\"UTF-8\"?>",
            "encoding=\"UTF-8\" standalone=\"maybe\"?>",
        ),
        ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>", "<?xml?>"),
        (
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>",
            "<?xml version=\"1.0\"encoding=\"UTF-8\"?>",
        ),
    ] {
        let e = file_error(doc(&[(from, to)]));
        assert_eq!(e.code, Code::F001, "{to}: {e:?}");
        assert!(e.position.is_some(), "{to}");
    }
    // What is allowed: white space around '=', single quotes, references, standalone.
    for (from, to) in [
        (
            "id=\"A1\" action=\"new\"",
            "id = 'A1'\n     action\t=\"new\" ",
        ),
        ("id=\"A1\"", "id=\"&#65;1\""),
        (
            "encoding=\"UTF-8\"?>",
            "encoding='UTF-8' standalone=\"yes\" ?>",
        ),
        (
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>",
            "<?xml version=\"1.0\"?>",
        ),
        (
            "<Importer>Northwind Metals Inc<",
            "<Importer>North]]&gt;wind ]] &gt; ]><",
        ),
        (
            "<Importer>Northwind Metals Inc<",
            "<Importer><![CDATA[Northwind & <Metals>]]><",
        ),
        (
            "    <PortOfEntry>",
            "    <!-- a comment -->\n    <PortOfEntry>",
        ),
        ("<Hts>", "<Hts >"),
        (
            "<EntryType>consumption</EntryType>",
            "<EntryType >consumption</EntryType >",
        ),
    ] {
        assert_issued(doc(&[(from, to)]));
    }
}

#[test]
fn f001_beats_f002_for_malformed_attributes_in_skipped_content() {
    // The root is in the wrong namespace, so everything under it is skipped; a bad attribute
    // later in the file still makes it not well-formed, and that comes first.
    let wrong = TEMPLATE.replace("urn:aim:filing:1", "urn:aim:filing:9");
    assert_eq!(file_code(&wrong), Code::F002);
    for (from, to) in [
        ("id=\"A1\"", "id=\"A<a/>1\""),
        ("<Product line=\"1\">", "<Product la=\"1\"ine=\"1\">"),
        ("id=\"A1\"", "id=\"A1\" id=\"A1\""),
    ] {
        let e = file_error(edit(&wrong, &[(from, to)]));
        assert_eq!(e.code, Code::F001, "{to}: {e:?}");
    }
}

#[test]
fn positions_on_one_long_line() {
    // A minified file: everything on line 2, many applications with errors and warnings. Every
    // position must be the exact character column (the locator counts on from the last one).
    let one = app(&[
        ("<CountryOfOrigin>CA<", "<CountryOfOrigin>QQ<"),
        (
            "<Importer>Northwind Metals Inc<",
            "<Importer>Nörthwind Mëtals<",
        ),
        ("<CustomsValueUsd>41250.00<", "<CustomsValueUsd>100.00<"),
        ("    <Importer>", "    <Extra/><Importer>"),
        ("<Hts>7606.12.3090<", "<Hts>7208.10.1500<"),
    ]);
    let apps: Vec<String> = (1..=300)
        .map(|i| one.replace("id=\"A1\"", &format!("id=\"A{i}\"")))
        .collect();
    let text = filing(&apps);
    let decl_end = text.find('\n').unwrap() + 1;
    let flat = format!(
        "{}{}",
        &text[..decl_end],
        text[decl_end..].replace('\n', " ")
    );
    let v = check(&flat);
    assert!(v.file_error.is_none());
    assert_eq!(v.apps.len(), 300);
    let line2: Vec<char> = flat[decl_end..].chars().collect();
    let mut seen = 0;
    for a in &v.apps {
        assert_eq!(a.errors.len(), 3, "{:?}", a.errors);
        assert_eq!(a.warnings.len(), 1);
        for e in a.errors.iter().chain(&a.warnings) {
            let p = e.position.unwrap();
            assert_eq!(p.line, 2);
            // The character at that column is where the issue points.
            let c = p.column as usize - 1;
            let at: String = line2[c..c + 4].iter().collect();
            let want = match e.code {
                Code::A202 => "QQ</",
                Code::A101 => "<Ext",
                Code::A301 => "7208",
                Code::W301 => "<App",
                other => panic!("{other:?}"),
            };
            assert_eq!(at, want, "{e:?}");
            seen += 1;
        }
    }
    assert_eq!(seen, 1200);
}

// ---------------------------------------------------------------------------------------------
// Bounded acks (docs/format.md): 100 errors an application, 1,000 in all, each list closed by
// one error that counts the rest.

/// An application `id` with `n` unknown empty elements (each one A101).
fn app_with_unknown(id: &str, n: usize) -> String {
    app(&[
        ("id=\"A1\"", &format!("id=\"{id}\"")),
        ("<EntryType>", &format!("{}<EntryType>", "<X/>".repeat(n))),
    ])
}

#[test]
fn errors_are_capped_per_application_and_per_file() {
    // Exactly 101: all listed, nothing closes.
    let v = check(filing(&[app_with_unknown("A1", 101)]));
    assert_eq!(v.apps[0].errors.len(), 101);
    assert!(
        v.apps[0]
            .errors
            .iter()
            .all(|e| !e.message.contains("more error"))
    );
    // 150: 100 listed, the 101st closes the list and counts the 49 others.
    let v = check(filing(&[app_with_unknown("A1", 150)]));
    let e = &v.apps[0].errors;
    assert_eq!(e.len(), 101);
    assert_eq!(e[100].code, Code::A101);
    assert!(e[100].position.is_some() && e[100].path.starts_with("Application[A1]"));
    assert!(
        e[100].message.contains(
            "; and 49 more errors in this application, not listed: an acknowledgement lists at most 100 errors of an application"
        ),
        "{}",
        e[100].message
    );
    assert_eq!(v.apps[0].status, AppStatus::Rejected);
    // 12 applications of 150: 1,000 errors in all, then one closing error each.
    let apps: Vec<String> = (1..=12)
        .map(|n| app_with_unknown(&format!("B{n}"), 150))
        .collect();
    let v = check(filing(&apps));
    let counts: Vec<usize> = v.apps.iter().map(|a| a.errors.len()).collect();
    assert_eq!(
        counts,
        [101, 101, 101, 101, 101, 101, 101, 101, 101, 92, 1, 1]
    );
    let last = &v.apps[11].errors[0];
    assert!(
        last.message.contains(
            "; and 149 more errors in this application, not listed: this acknowledgement lists at most 1000 errors in all"
        ),
        "{}",
        last.message
    );
    assert!(v.apps.iter().all(|a| a.status == AppStatus::Rejected));
    // The ack lists exactly what the verdict keeps.
    let facts = FileFacts {
        file_name: "x.xml",
        sha256: [0; 32],
        received_at: Utc.with_ymd_and_hms(2026, 11, 28, 0, 0, 0).unwrap(),
    };
    let xml = Ack::first(&v, &facts, &[]).render();
    let text = String::from_utf8(xml).unwrap();
    assert_eq!(text.matches("<Error ").count(), 9 * 101 + 92 + 2);
}
