//! Helpers shared by the integration tests: where the samples are, the built-in configuration,
//! a strict little XML reader for acknowledgements, a summary of an ack, and the comparison of
//! an ack with a case of the shared samples' expected.json.
#![allow(dead_code)]

use aim::config::{BUILT_IN, Config};
use aim::filing::rules::RuleSettings;
use quick_xml::events::Event;
use quick_xml::reader::Reader;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::PathBuf;

/// The filing day every sample expectation assumes.
pub const FILING_DAY: &str = "2026-11-28";

pub fn filing_day() -> chrono::NaiveDate {
    FILING_DAY.parse().expect("filing day")
}

/// `<repo>/../shared/samples`: CI clones the repository with `shared/` beside it.
pub fn samples_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/samples");
    assert!(
        dir.join("expected.json").is_file(),
        "the shared samples are missing: expected {} with expected.json; \
         clone the shared/ folder beside this repository",
        dir.display()
    );
    dir
}

/// The shipped configuration (partners ACMEBRK and DEMO).
pub fn config() -> Config {
    Config::parse(BUILT_IN, "built-in").expect("built-in configuration parses")
}

/// `aim validate`'s options for the samples: their filing day, reproducible ReceivedAt.
pub fn sample_options(cfg: &Config) -> aim::validate::Options<'_> {
    aim::validate::Options {
        config: cfg,
        today: filing_day(),
        fixed_time: true,
        sender: None,
    }
}

/// Rule settings as `aim validate` uses them.
pub fn settings() -> RuleSettings {
    RuleSettings {
        apply_review: false,
        ..config().rule_settings()
    }
}

/// An element of a parsed XML document.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Elem {
    /// Local name (prefix removed).
    pub name: String,
    pub attrs: Vec<(String, String)>,
    pub children: Vec<Elem>,
    /// Concatenated character data directly inside this element.
    pub text: String,
}

impl Elem {
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn child(&self, name: &str) -> Option<&Elem> {
        self.children.iter().find(|c| c.name == name)
    }

    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Elem> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }
}

fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

fn resolve_ref(name: &str) -> Result<char, String> {
    let c = match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        _ => {
            let n = if let Some(h) = name.strip_prefix("#x") {
                u32::from_str_radix(h, 16).ok()
            } else if let Some(d) = name.strip_prefix('#') {
                d.parse().ok()
            } else {
                None
            };
            n.and_then(char::from_u32)
                .ok_or_else(|| format!("undefined reference &{name};"))?
        }
    };
    if !is_xml_char(c) {
        return Err(format!("reference &{name}; is not an XML 1.0 character"));
    }
    Ok(c)
}

fn resolve_attr(raw: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = raw;
    while let Some(i) = rest.find(['&', '<']) {
        out.push_str(&rest[..i]);
        if rest.as_bytes()[i] == b'<' {
            return Err("'<' in an attribute value".into());
        }
        let end = rest[i..]
            .find(';')
            .ok_or("unterminated reference in attribute")?;
        out.push(resolve_ref(&rest[i + 1..i + end])?);
        rest = &rest[i + end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn local(q: &str) -> String {
    q.rsplit(':').next().unwrap_or(q).to_owned()
}

/// Parse a whole document strictly: UTF-8, one root element, matching end tags, unique
/// attributes, only XML 1.0 characters, only predefined entities or valid character references,
/// no DOCTYPE, nothing but white space, comments and PIs outside the root.
pub fn parse_xml(bytes: &[u8]) -> Result<Elem, String> {
    let text = std::str::from_utf8(bytes).map_err(|e| format!("not UTF-8: {e}"))?;
    if let Some(c) = text.chars().find(|&c| !is_xml_char(c)) {
        return Err(format!("character U+{:04X} is not allowed", u32::from(c)));
    }
    let mut r = Reader::from_str(text);
    {
        let cfg = r.config_mut();
        cfg.check_end_names = true;
        cfg.check_comments = true;
        cfg.allow_unmatched_ends = false;
        cfg.expand_empty_elements = false;
        cfg.trim_text(false);
    }
    let mut stack: Vec<Elem> = Vec::new();
    let mut root: Option<Elem> = None;
    let open = |e: &quick_xml::events::BytesStart<'_>| -> Result<Elem, String> {
        let mut el = Elem {
            name: local(e.name().0),
            ..Default::default()
        };
        for a in e.attributes() {
            let a = a.map_err(|e| format!("bad attribute: {e}"))?;
            let key = a.key.0.to_owned();
            if key == "xmlns" || key.starts_with("xmlns:") {
                el.attrs.push((key, resolve_attr(&a.value)?));
                continue;
            }
            el.attrs.push((local(&key), resolve_attr(&a.value)?));
        }
        Ok(el)
    };
    loop {
        let ev = r
            .read_event()
            .map_err(|e| format!("at byte {}: {e}", r.error_position()))?;
        match ev {
            Event::Start(e) => {
                if root.is_some() {
                    return Err("content after the root element".into());
                }
                stack.push(open(&e)?);
            }
            Event::Empty(e) => {
                let el = open(&e)?;
                match stack.last_mut() {
                    Some(p) => p.children.push(el),
                    None if root.is_none() => root = Some(el),
                    None => return Err("a second root element".into()),
                }
            }
            Event::End(_) => {
                let el = stack.pop().ok_or("end tag without start")?;
                match stack.last_mut() {
                    Some(p) => p.children.push(el),
                    None => root = Some(el),
                }
            }
            Event::Text(t) => {
                let s = t.xml10_content();
                match stack.last_mut() {
                    Some(p) => p.text.push_str(&s),
                    None if s.trim().is_empty() => {}
                    None => return Err("text outside the root element".into()),
                }
            }
            Event::CData(c) => {
                let s = c.xml10_content();
                stack
                    .last_mut()
                    .ok_or("CDATA outside the root element")?
                    .text
                    .push_str(&s);
            }
            Event::GeneralRef(g) => {
                let name: &str = &g;
                let c = resolve_ref(name)?;
                stack
                    .last_mut()
                    .ok_or("reference outside the root element")?
                    .text
                    .push(c);
            }
            Event::DocType(_) => return Err("DOCTYPE".into()),
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err(format!("{} element(s) left open", stack.len()));
    }
    root.ok_or_else(|| "no root element".into())
}

/// One application of an ack.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AckAppSummary {
    pub id: Option<String>,
    pub status: String,
    pub errors: Vec<String>,
    pub warnings: Vec<String>,
    /// LicenseNumber, ValidFrom and ValidThrough (trimmed), when present.
    pub license: Option<String>,
    pub valid_from: Option<String>,
    pub valid_through: Option<String>,
}

/// What the tests compare of an ack.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AckSummary {
    pub status: String,
    pub file_codes: Vec<String>,
    /// Interchange/FileName, Interchange/Sha256 and Interchange/ControlNumber (trimmed), when
    /// present.
    pub file_name: Option<String>,
    pub sha256: Option<String>,
    pub control: Option<String>,
    pub apps: Vec<AckAppSummary>,
    pub root: Elem,
}

impl AckSummary {
    /// The application `id`; panics (with the ack) when there is none.
    pub fn app(&self, id: &str) -> &AckAppSummary {
        self.apps
            .iter()
            .find(|a| a.id.as_deref() == Some(id))
            .unwrap_or_else(|| panic!("no application {id} in the ack: {self:#?}"))
    }

    /// License numbers this ack reports as newly issued.
    pub fn issued(&self) -> Vec<String> {
        self.apps
            .iter()
            .filter(|a| a.status == "issued")
            .filter_map(|a| a.license.clone())
            .collect()
    }
}

/// Read an ack: Interchange/Status, Interchange/Error@code, the FileName, Sha256 and
/// ControlNumber of the Interchange, Application@id/@status, the codes of their Error and
/// Warning children and their LicenseNumber, ValidFrom and ValidThrough. Panics with the ack
/// text when it is not one.
pub fn read_ack(xml: &[u8]) -> AckSummary {
    let shown = String::from_utf8_lossy(xml);
    let root =
        parse_xml(xml).unwrap_or_else(|e| panic!("ack is not well-formed XML ({e}):\n{shown}"));
    assert_eq!(root.name, "LicenseAck", "{shown}");
    assert_eq!(root.attr("xmlns"), Some("urn:aim:ack:1"), "{shown}");
    assert_eq!(root.attr("version"), Some("1.0"), "{shown}");
    let ic = root
        .child("Interchange")
        .unwrap_or_else(|| panic!("ack without Interchange:\n{shown}"));
    let status = ic
        .child("Status")
        .unwrap_or_else(|| panic!("ack without Interchange/Status:\n{shown}"))
        .text
        .clone();
    let codes = |e: &Elem, name: &str| -> Vec<String> {
        e.all(name)
            .map(|x| {
                x.attr("code")
                    .unwrap_or_else(|| panic!("{name} without code:\n{shown}"))
                    .to_owned()
            })
            .collect()
    };
    let text = |e: &Elem, name: &str| e.child(name).map(|c| c.text.trim().to_owned());
    let file_codes = codes(ic, "Error");
    let apps = root
        .all("Application")
        .map(|a| AckAppSummary {
            id: a.attr("id").map(str::to_owned),
            status: a
                .attr("status")
                .unwrap_or_else(|| panic!("Application without status:\n{shown}"))
                .to_owned(),
            errors: codes(a, "Error"),
            warnings: codes(a, "Warning"),
            license: text(a, "LicenseNumber"),
            valid_from: text(a, "ValidFrom"),
            valid_through: text(a, "ValidThrough"),
        })
        .collect();
    AckSummary {
        status,
        file_codes,
        file_name: text(ic, "FileName"),
        sha256: text(ic, "Sha256"),
        control: text(ic, "ControlNumber"),
        apps,
        root: root.clone(),
    }
}

/// The strings of a JSON array (anything else: none).
pub fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Codes only the license store can find (unknown or inactive licenses, duplicate controls).
pub fn store_only(code: &str) -> bool {
    matches!(code, "A401" | "A402" | "A403" | "F005")
}

/// Compare an ack with a case of expected.json; returns the list of mismatches (empty when it
/// matches).
///
/// `store_visible` says whether whoever wrote the ack could see the license store (the daemon
/// can, `aim validate` cannot). Without it, a `needs_store` case loses the errors only the store
/// can find, and what hinges on them is not checked. With it, everything is checked, and an
/// application carries a LicenseNumber exactly when it is issued, corrected or cancelled.
pub fn compare_with_expected(expect: &Value, ack: &AckSummary, store_visible: bool) -> Vec<String> {
    let mut bad = Vec::new();
    let e = expect;
    let blind = !store_visible && e["needs_store"].as_bool().unwrap_or(false);
    let want_status = e["status"].as_str().expect("case.status");
    let status_checkable = !blind
        || e["apps"]
            .as_object()
            .into_iter()
            .flatten()
            .all(|(_, a)| !strings(&a["codes"]).iter().any(|c| store_only(c)));
    if status_checkable && ack.status != want_status {
        bad.push(format!("status {} (want {want_status})", ack.status));
    }

    // File-level codes: a list that must match, or (with `any_of`) a list one of which is
    // enough. `any_of` may be a list beside `file_codes`, a flag, or `file_codes: {any_of}`.
    let (want_file, any_of) = match (&e["file_codes"], &e["any_of"]) {
        (Value::Object(o), _) => (strings(&o["any_of"]), true),
        (_, Value::Array(_)) => (strings(&e["any_of"]), true),
        (v, Value::Bool(b)) => (strings(v), *b),
        (v, _) => (strings(v), false),
    };
    if any_of {
        if ack.file_codes.len() != 1 || !want_file.contains(&ack.file_codes[0]) {
            bad.push(format!(
                "file codes {:?} (want one of {want_file:?})",
                ack.file_codes
            ));
        }
    } else if ack.file_codes != want_file {
        bad.push(format!(
            "file codes {:?} (want {want_file:?})",
            ack.file_codes
        ));
    }
    if !ack.file_codes.is_empty() && !ack.apps.is_empty() {
        bad.push("a file-level error and Application elements in one ack".into());
    }

    // Applications.
    let want_apps = e["apps"].as_object().cloned().unwrap_or_default();
    let got_ids: BTreeSet<String> = ack.apps.iter().filter_map(|a| a.id.clone()).collect();
    let want_ids: BTreeSet<String> = want_apps.keys().cloned().collect();
    if got_ids != want_ids {
        bad.push(format!("application ids {got_ids:?} (want {want_ids:?})"));
    }
    for (id, want) in &want_apps {
        let Some(got) = ack.apps.iter().find(|a| a.id.as_deref() == Some(id)) else {
            continue;
        };
        let codes = strings(&want["codes"]);
        let mut want_errors: Vec<String> = codes
            .iter()
            .filter(|c| !c.starts_with('W'))
            .filter(|c| !(blind && store_only(c)))
            .cloned()
            .collect();
        let mut got_errors = got.errors.clone();
        want_errors.sort();
        got_errors.sort();
        if got_errors != want_errors {
            bad.push(format!(
                "{id}: error codes {got_errors:?} (want {want_errors:?})"
            ));
        }
        for w in codes.iter().filter(|c| c.starts_with('W')) {
            if !got.warnings.contains(w) {
                bad.push(format!(
                    "{id}: warning {w} missing (got {:?})",
                    got.warnings
                ));
            }
        }
        let want_status = want["status"].as_str().expect("app status");
        let hinges_on_store = blind && codes.iter().any(|c| store_only(c));
        if !hinges_on_store && got.status != want_status {
            bad.push(format!("{id}: status {} (want {want_status})", got.status));
        }
        if hinges_on_store {
            // Blind to the store, the app must not carry an error it could not know, and
            // anything else it reports must be a real finding.
            assert!(
                got.errors.iter().all(|c| !store_only(c)),
                "{}: validate reported a store-only code: {:?}",
                e["file"].as_str().unwrap_or("?"),
                got.errors
            );
        }
        if store_visible {
            let issued_like = matches!(got.status.as_str(), "issued" | "corrected" | "cancelled");
            if issued_like != got.license.is_some() {
                bad.push(format!(
                    "{id}: status {} with LicenseNumber {:?}",
                    got.status, got.license
                ));
            }
        }
    }
    bad
}

/// The valid-single.xml sample, as a template for hand-built documents (kept here so the rule
/// tests do not depend on the shared folder).
pub const TEMPLATE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<LicenseFiling xmlns="urn:aim:filing:1" version="1.0">
  <Interchange>
    <SenderId>ACMEBRK</SenderId>
    <ControlNumber>000000101</ControlNumber>
    <CreatedAt>2026-11-28T14:05:00Z</CreatedAt>
  </Interchange>
  <Application id="A1" action="new">
    <Filer>
      <Company>Acme Customs Brokerage LLC</Company>
      <Street>1 Harbor Way</Street>
      <City>Baltimore</City>
      <State>MD</State>
      <PostalCode>21230</PostalCode>
      <ContactName>Jane Roe</ContactName>
      <Phone>+1 410 555 0100</Phone>
      <Email>jane.roe@acme.example</Email>
    </Filer>
    <EntryType>consumption</EntryType>
    <EntryNumber>ABC-1234567-6</EntryNumber>
    <Importer>Northwind Metals Inc</Importer>
    <Exporter>Maple Aluminium Ltd</Exporter>
    <Manufacturer>Maple Aluminium Ltd</Manufacturer>
    <CountryOfOrigin>CA</CountryOfOrigin>
    <CountryOfExportation>CA</CountryOfExportation>
    <ExpectedExportDate>2026-12-01</ExpectedExportDate>
    <ExpectedImportDate>2026-12-05</ExpectedImportDate>
    <PortOfEntry>3801</PortOfEntry>
    <Product line="1">
      <Hts>7606.12.3090</Hts>
      <Description>Aluminum alloy sheet, 1.2 mm</Description>
      <LargestSmelt>CA</LargestSmelt>
      <SecondLargestSmelt>NOT_APPLICABLE</SecondLargestSmelt>
      <MostRecentCast>CA</MostRecentCast>
      <QuantityKg>12500.000</QuantityKg>
      <CustomsValueUsd>41250.00</CustomsValueUsd>
    </Product>
  </Application>
</LicenseFiling>
"#;
