//! Structure-aware: documents built from the AIM-XML vocabulary (right and wrong element
//! names, attributes, namespaces, nesting, references, values near every rule's edge), so
//! that most inputs get past well-formedness and reach the rules.
#![no_main]

mod common;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;

const NAMES: &[&str] = &[
    "LicenseFiling",
    "Interchange",
    "SenderId",
    "ControlNumber",
    "CreatedAt",
    "Application",
    "Filer",
    "Company",
    "Street",
    "City",
    "State",
    "PostalCode",
    "ContactName",
    "Phone",
    "Email",
    "EntryType",
    "EntryNumber",
    "Importer",
    "Exporter",
    "Manufacturer",
    "CountryOfOrigin",
    "CountryOfExportation",
    "ExpectedExportDate",
    "ExpectedImportDate",
    "PortOfEntry",
    "Product",
    "Hts",
    "Description",
    "LargestSmelt",
    "SecondLargestSmelt",
    "MostRecentCast",
    "QuantityKg",
    "CustomsValueUsd",
    "Reason",
    "f:Product",
    "x:Hts",
    "Unknown",
    "application",
];

const ATTRS: &[&str] = &[
    "id", "action", "license", "line", "version", "xmlns", "xmlns:f", "f:id", "other",
];

const VALUES: &[&str] = &[
    "",
    " ",
    "A1",
    "A2",
    "a-b_c",
    "new",
    "correct",
    "cancel",
    "1.0",
    "urn:aim:filing:1",
    "urn:aim:filing:2",
    "ACMEBRK",
    "DEMO",
    "NOBODY",
    "acmebrk",
    "000000042",
    "42",
    "0",
    "1234567890",
    "2026-11-28T14:05:00Z",
    "2026-11-28T14:05:00.5+01:00",
    "2026-02-30T00:00:00Z",
    "consumption",
    "ftz",
    "ABC-1234567-6",
    "ABC12345676",
    "ABC-1234567-7",
    "999-9999999-0",
    "AIM-2026-0000017-4",
    "AIM-2026-0000017-5",
    "7606.12.3090",
    "7606123090",
    "7616.99.5160",
    "7208.10.1500",
    "7606.123090",
    "CA",
    "US",
    "ca",
    "QQ",
    "UK",
    "NOT_APPLICABLE",
    "UNKNOWN",
    "2026-12-05",
    "2026-12-01",
    "2027-03-01",
    "2026-10-01",
    "2026-13-01",
    "3801",
    "380",
    "12500.000",
    "12500.0001",
    "41250.00",
    "41250.001",
    "-1",
    "0.00",
    "+1",
    "1e3",
    "1,5",
    "999999999999.99",
    "1000000000000",
    "1",
    "999",
    "1000",
    "01",
    "x@y.z",
    "x@y",
    "+1 410 555 0100",
    "MD",
    "md",
    "Acme & Sons <Ltd> \"quoted\" 'single'",
    "tab\there",
    "line\nbreak",
    "\u{85}next line",
    "\u{7f}",
    "\u{FFFD}",
    "ünïcödé",
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
];

const REFS: &[&str] = &[
    "&amp;",
    "&lt;",
    "&gt;",
    "&quot;",
    "&apos;",
    "&#65;",
    "&#x41;",
    "&#x1F;",
    "&#133;",
    "&#0;",
    "&#xD800;",
    "&#x10FFFF;",
    "&lol;",
    "&#+65;",
    "&#x;",
    "&",
    "]]>",
];

#[derive(Arbitrary, Debug)]
enum Node {
    Element {
        name: u8,
        attrs: Vec<(u8, Val)>,
        children: Vec<Node>,
        self_closing: bool,
    },
    Text(Val),
    CData(Val),
    Ref(u8),
    Comment(Val),
    Raw(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
enum Val {
    Known(u8),
    Repeat(u8, u16),
    Free(String),
}

#[derive(Arbitrary, Debug)]
struct Doc {
    bom: bool,
    decl: Option<u8>,
    root_ok: bool,
    interchange: Option<Vec<(u8, Val)>>,
    apps: Vec<App>,
    extra: Vec<Node>,
}

#[derive(Arbitrary, Debug)]
struct App {
    attrs: Vec<(u8, Val)>,
    children: Vec<Node>,
}

fn pick<'a>(list: &[&'a str], i: u8) -> &'a str {
    list[usize::from(i) % list.len()]
}

fn val(v: &Val, out: &mut Vec<u8>, escape: bool) {
    let s: std::borrow::Cow<'_, str> = match v {
        Val::Known(i) => pick(VALUES, *i).into(),
        Val::Repeat(i, n) => pick(VALUES, *i).repeat(usize::from(*n % 300)).into(),
        Val::Free(s) => s.as_str().into(),
    };
    if escape {
        out.extend_from_slice(quick_xml::escape::escape(&*s).as_bytes());
    } else {
        out.extend_from_slice(s.as_bytes());
    }
}

fn attrs(list: &[(u8, Val)], out: &mut Vec<u8>) {
    for (k, v) in list.iter().take(6) {
        out.push(b' ');
        out.extend_from_slice(pick(ATTRS, *k).as_bytes());
        out.extend_from_slice(b"=\"");
        val(v, out, true);
        out.push(b'"');
    }
}

fn node(n: &Node, out: &mut Vec<u8>, depth: usize) {
    match n {
        Node::Element {
            name,
            attrs: a,
            children,
            self_closing,
        } => {
            let name = pick(NAMES, *name);
            out.push(b'<');
            out.extend_from_slice(name.as_bytes());
            attrs(a, out);
            if *self_closing || depth > 12 {
                out.extend_from_slice(b"/>");
                return;
            }
            out.push(b'>');
            for c in children {
                node(c, out, depth + 1);
            }
            out.extend_from_slice(b"</");
            out.extend_from_slice(name.as_bytes());
            out.push(b'>');
        }
        Node::Text(v) => val(v, out, true),
        Node::CData(v) => {
            out.extend_from_slice(b"<![CDATA[");
            val(v, out, false);
            out.extend_from_slice(b"]]>");
        }
        Node::Ref(i) => out.extend_from_slice(pick(REFS, *i).as_bytes()),
        Node::Comment(v) => {
            out.extend_from_slice(b"<!--");
            val(v, out, false);
            out.extend_from_slice(b"-->");
        }
        Node::Raw(b) => out.extend_from_slice(b),
    }
}

fn render(d: &Doc) -> Vec<u8> {
    let mut out = Vec::new();
    if d.bom {
        out.extend_from_slice(b"\xEF\xBB\xBF");
    }
    if let Some(k) = d.decl {
        let enc = ["UTF-8", "utf-8", "ISO-8859-1", "UTF-16"][usize::from(k % 4)];
        out.extend_from_slice(format!("<?xml version=\"1.0\" encoding=\"{enc}\"?>\n").as_bytes());
    }
    if d.root_ok {
        out.extend_from_slice(b"<LicenseFiling xmlns=\"urn:aim:filing:1\" version=\"1.0\">");
    } else {
        out.extend_from_slice(b"<LicenseFiling xmlns=\"urn:aim:filing:1\">");
    }
    if let Some(fields) = &d.interchange {
        out.extend_from_slice(b"<Interchange>");
        for (k, v) in fields {
            let name = ["SenderId", "ControlNumber", "CreatedAt", "Other"][usize::from(k % 4)];
            out.extend_from_slice(format!("<{name}>").as_bytes());
            val(v, &mut out, true);
            out.extend_from_slice(format!("</{name}>").as_bytes());
        }
        out.extend_from_slice(b"</Interchange>");
    }
    for a in &d.apps {
        out.extend_from_slice(b"<Application");
        attrs(&a.attrs, &mut out);
        out.push(b'>');
        for c in &a.children {
            node(c, &mut out, 1);
        }
        out.extend_from_slice(b"</Application>");
    }
    for n in &d.extra {
        node(n, &mut out, 1);
    }
    out.extend_from_slice(b"</LicenseFiling>\n");
    out
}

fuzz_target!(|d: Doc| {
    common::check("fuzz.xml", &render(&d));
});
