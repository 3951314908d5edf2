//! The acknowledgement document (spec section 4), written byte-for-byte deterministically:
//! the same verdict, file facts and issued numbers always give the same bytes.

use super::codes::{Issue, is_control};
use super::model::{Category, LicenseNumber, fixed};
use super::rules::{AppStatus, Verdict};
use chrono::{DateTime, NaiveDate, Utc};
use quick_xml::escape::{escape, partial_escape};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::fmt::Write;

pub const ACK_NS: &str = "urn:aim:ack:1";

/// What the store did for an application: the license number (none in `aim validate`) and
/// the validity of the license.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Issuance {
    pub number: Option<LicenseNumber>,
    pub validity: Option<(NaiveDate, NaiveDate)>,
}

/// The facts about the received file that the ack repeats.
#[derive(Clone, Debug)]
pub struct FileFacts<'a> {
    pub file_name: &'a str,
    pub sha256: [u8; 32],
    pub received_at: DateTime<Utc>,
}

/// One application's entry in an ack.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AckApp {
    pub id: Option<String>,
    pub status: AppStatus,
    pub issuance: Issuance,
    pub errors: Vec<Issue>,
    pub warnings: Vec<Issue>,
    /// (line, category, unit value USD/t) for issued, corrected and pending applications.
    pub products: Vec<(u16, Category, Decimal)>,
}

/// An acknowledgement, first or follow-up.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    pub sender_id: Option<String>,
    pub control_number: Option<String>,
    pub file_name: String,
    pub sha256_hex: String,
    pub received_at: DateTime<Utc>,
    pub ack_sequence: u32,
    pub status: String,
    pub file_errors: Vec<Issue>,
    pub apps: Vec<AckApp>,
}

impl AckApp {
    pub fn new(v: &super::rules::AppVerdict, issuance: Issuance) -> AckApp {
        let products = match (v.status, &v.data) {
            (AppStatus::Issued | AppStatus::Corrected | AppStatus::PendingReview, Some(d)) => d
                .products
                .iter()
                .map(|p| (p.line, p.category(), p.unit_value()))
                .collect(),
            _ => Vec::new(),
        };
        AckApp {
            id: v.id.clone(),
            status: v.status,
            issuance,
            errors: v.errors.clone(),
            warnings: v.warnings.clone(),
            products,
        }
    }
}

impl Ack {
    /// The first acknowledgement of a file. `issuance[i]` belongs to `verdict.apps[i]`.
    pub fn first(verdict: &Verdict, facts: &FileFacts<'_>, issuance: &[Issuance]) -> Ack {
        let apps = verdict
            .apps
            .iter()
            .enumerate()
            .map(|(i, v)| AckApp::new(v, issuance.get(i).copied().unwrap_or_default()))
            .collect();
        Ack {
            sender_id: verdict.sender_id.clone(),
            control_number: verdict.control_number.clone(),
            file_name: facts.file_name.to_owned(),
            sha256_hex: hex::encode(facts.sha256),
            received_at: facts.received_at,
            ack_sequence: 1,
            status: verdict.status().as_str().to_owned(),
            file_errors: verdict.file_error.iter().cloned().collect(),
            apps,
        }
    }

    /// The XML bytes.
    pub fn render(&self) -> Vec<u8> {
        let mut o = String::with_capacity(512 + self.apps.len() * 400);
        o.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        let _ = writeln!(o, "<LicenseAck xmlns=\"{ACK_NS}\" version=\"1.0\">");
        o.push_str("  <Interchange>\n");
        if let Some(s) = &self.sender_id {
            elem(&mut o, 4, "SenderId", s);
        }
        if let Some(c) = &self.control_number {
            elem(&mut o, 4, "ControlNumber", c);
        }
        elem(&mut o, 4, "FileName", &self.file_name);
        elem(&mut o, 4, "Sha256", &self.sha256_hex);
        elem(
            &mut o,
            4,
            "ReceivedAt",
            &self
                .received_at
                .format("%Y-%m-%dT%H:%M:%S%.3fZ")
                .to_string(),
        );
        elem(&mut o, 4, "AckSequence", &self.ack_sequence.to_string());
        elem(&mut o, 4, "Status", &self.status);
        for e in &self.file_errors {
            issue(&mut o, 4, "Error", e);
        }
        o.push_str("  </Interchange>\n");
        for a in &self.apps {
            o.push_str("  <Application");
            if let Some(id) = &a.id {
                let _ = write!(o, " id=\"{}\"", attr(id));
            }
            let _ = writeln!(o, " status=\"{}\">", a.status.as_str());
            if let Some(n) = a.issuance.number {
                elem(&mut o, 4, "LicenseNumber", &n.to_string());
            }
            if let Some((from, through)) = a.issuance.validity {
                elem(&mut o, 4, "ValidFrom", &from.to_string());
                elem(&mut o, 4, "ValidThrough", &through.to_string());
            }
            for e in &a.errors {
                issue(&mut o, 4, "Error", e);
            }
            for w in &a.warnings {
                issue(&mut o, 4, "Warning", w);
            }
            for (line, cat, uv) in &a.products {
                let _ = writeln!(o, "    <Product line=\"{line}\">");
                elem(&mut o, 6, "Category", cat.name());
                elem(&mut o, 6, "UnitValueUsdPerMt", &fixed(*uv, 2));
                o.push_str("    </Product>\n");
            }
            o.push_str("  </Application>\n");
        }
        o.push_str("</LicenseAck>\n");
        o.into_bytes()
    }
}

/// Escape for XML and drop control characters: they can't be written in XML 1.0 and must
/// not reach a filer's terminal.
fn text(s: &str) -> String {
    clean(s, |s| partial_escape(s).into_owned())
}

/// The same for an attribute value (quotes escaped too).
fn attr(s: &str) -> String {
    clean(s, |s| escape(s).into_owned())
}

fn clean(s: &str, esc: impl Fn(&str) -> String) -> String {
    if s.chars().any(is_control) {
        let c: String = s
            .chars()
            .map(|c| if is_control(c) { '\u{FFFD}' } else { c })
            .collect();
        esc(&c)
    } else {
        esc(s)
    }
}

fn elem(o: &mut String, indent: usize, name: &str, value: &str) {
    let _ = writeln!(o, "{:indent$}<{name}>{}</{name}>", "", text(value));
}

fn issue(o: &mut String, indent: usize, name: &str, e: &Issue) {
    let _ = write!(o, "{:indent$}<{name} code=\"{}\"", "", e.code);
    if !e.path.is_empty() {
        let _ = write!(o, " path=\"{}\"", attr(&e.path));
    }
    if let Some(p) = e.position {
        let _ = write!(o, " line=\"{}\" column=\"{}\"", p.line, p.column);
    }
    let _ = writeln!(o, ">{}</{name}>", text(&e.message));
}
