//! The filter language of the search box (spec section 9; design.md) and the page it asks
//! for: `status=cancelled sender=ACMEBRK country=CN hts=7606 day=2026-12-01`, and bare words:
//! a license number (or its start), an entry number, a control number, a sender, an importer.

use crate::filing::model::EntryNumber;
use crate::store::records::{License, LicenseStatus};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// What the browser shows: a typed filter (the search box, parsed by [`parse_query`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrowseFilter {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<StatusFilter>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender: Option<String>,
    /// Country of origin (two letters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    /// Leading digits of a product's HTS number (dots ignored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hts: Option<String>,
    /// The day a license was issued (its first valid day).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub day: Option<NaiveDate>,
    /// The start of an importer's name, as filed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub importer: Option<String>,
    /// An entry number without dashes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry: Option<String>,
    /// A license number or its start (`AIM-2026-00012`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license: Option<String>,
    /// A file's control number: the licenses of that file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub control: Option<u32>,
    /// Bare words the server resolves: a sender when one has licenses under that id, else
    /// the start of an importer's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

impl BrowseFilter {
    pub fn is_empty(&self) -> bool {
        *self == BrowseFilter::default()
    }
}

/// The status a license is browsed by: as the browser shows it (spec section 9), or `active`
/// (issued or corrected, not cancelled). On the wire: its lower-case name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StatusFilter {
    Issued,
    Corrected,
    Cancelled,
    Active,
}

impl StatusFilter {
    pub fn name(self) -> &'static str {
        match self {
            StatusFilter::Issued => "issued",
            StatusFilter::Corrected => "corrected",
            StatusFilter::Cancelled => "cancelled",
            StatusFilter::Active => "active",
        }
    }

    /// The filter named `s` (lower case), if any.
    pub fn parse(s: &str) -> Option<StatusFilter> {
        [
            StatusFilter::Issued,
            StatusFilter::Corrected,
            StatusFilter::Cancelled,
            StatusFilter::Active,
        ]
        .into_iter()
        .find(|f| f.name() == s)
    }

    /// Whether `l` has this status.
    pub fn admits(self, l: &License) -> bool {
        match self {
            StatusFilter::Active => l.status == LicenseStatus::Active,
            other => l.status_name() == other.name(),
        }
    }
}

/// Orders of the browser.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sort {
    #[default]
    Number,
    Importer,
    Sender,
    Day,
}

impl Sort {
    pub fn name(self) -> &'static str {
        match self {
            Sort::Number => "number",
            Sort::Importer => "importer",
            Sort::Sender => "sender",
            Sort::Day => "day",
        }
    }

    pub fn next(self) -> Sort {
        match self {
            Sort::Number => Sort::Importer,
            Sort::Importer => Sort::Sender,
            Sort::Sender => Sort::Day,
            Sort::Day => Sort::Number,
        }
    }
}

/// One page request.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrowseQuery {
    #[serde(default)]
    pub filter: BrowseFilter,
    #[serde(default)]
    pub sort: Sort,
    /// Newest (or last) first.
    #[serde(default)]
    pub desc: bool,
    /// Start after this row's cursor (exclusive); none: from the first row (or the last,
    /// `backward`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    /// Walk toward the first row: rows come back in display order all the same.
    #[serde(default)]
    pub backward: bool,
    /// Jump to this row (0-based), where the position is exact (number order, no filter).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    pub limit: usize,
    /// Also count the rows (a new query; scrolling does not ask again).
    #[serde(default)]
    pub count: bool,
}

/// One license as the browser lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrowseRow {
    /// Where this row is in its driver: pass it back as `after` to go on from here.
    pub cursor: String,
    pub license: String,
    pub status: String,
    pub sender: String,
    pub importer: String,
    pub entry_number: Option<String>,
    pub country_of_origin: String,
    pub valid_from: NaiveDate,
    /// The first product's HTS (ten digits), and how many products there are.
    pub hts: String,
    pub products: usize,
    pub total_value_usd: String,
}

/// A page of rows, in display order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrowsePage {
    pub rows: Vec<BrowseRow>,
    /// The position (0-based) of the first row, where it is known exactly.
    pub start: Option<u64>,
    /// Rows in all (asked with `count`): exact, or a lower bound when `total_exact` is false.
    pub total: Option<u64>,
    pub total_exact: bool,
    /// Nothing lies beyond this page in the direction walked.
    pub at_end: bool,
    /// The walk stopped at [`SCAN_CAP`] keys before filling the page: ask again from
    /// `resume` to go on.
    pub resume: Option<String>,
    /// How the filter was answered, for the screen (`index sender=ACMEBRK, checks country`).
    pub plan: String,
}

/// Parse the search box: `key=value` words (status, sender, country, hts, day, importer,
/// entry, license, control) and bare words.
pub fn parse_query(s: &str) -> std::result::Result<BrowseFilter, String> {
    let mut f = BrowseFilter::default();
    let mut bare: Vec<&str> = Vec::new();
    for w in s.split_whitespace() {
        let Some((k, v)) = w.split_once('=') else {
            bare.push(w);
            continue;
        };
        if v.is_empty() {
            return Err(format!("{k}= needs a value"));
        }
        match k.to_ascii_lowercase().as_str() {
            "status" => {
                let v = v.to_ascii_lowercase();
                f.status = Some(StatusFilter::parse(&v).ok_or(format!(
                    "status={v}: use issued, corrected, cancelled or active"
                ))?);
            }
            "sender" => f.sender = Some(v.to_ascii_uppercase()),
            "country" | "origin" => {
                if v.len() != 2 || !v.bytes().all(|c| c.is_ascii_alphabetic()) {
                    return Err(format!("country={v}: two letters, such as CN"));
                }
                f.country = Some(v.to_ascii_uppercase());
            }
            "hts" => {
                let d: String = v.chars().filter(|c| *c != '.').collect();
                if d.is_empty() || d.len() > 10 || !d.bytes().all(|c| c.is_ascii_digit()) {
                    return Err(format!("hts={v}: up to ten digits, such as 7606"));
                }
                f.hts = Some(d);
            }
            "day" => {
                f.day = Some(
                    NaiveDate::parse_from_str(v, "%Y-%m-%d")
                        .map_err(|_| format!("day={v}: a date as YYYY-MM-DD"))?,
                )
            }
            "importer" => f.importer = Some(v.replace('_', " ")),
            "entry" => {
                f.entry = Some(entry_of(v).ok_or(format!("entry={v}: not an entry number"))?)
            }
            "license" => {
                f.license = Some(
                    license_prefix(v)
                        .ok_or(format!("license={v}: AIM-YYYY-NNNNNNN-C or its start"))?,
                )
            }
            "control" => {
                f.control = Some(
                    v.parse()
                        .map_err(|_| format!("control={v}: a whole number"))?,
                )
            }
            other => {
                return Err(format!(
                    "{other}=: filters are status, sender, country, hts, day, importer, entry, license, control"
                ));
            }
        }
    }
    if !bare.is_empty() {
        let text = bare.join(" ");
        if let Some(p) = license_prefix(&text) {
            f.license = Some(p);
        } else if let Some(e) = entry_of(&text) {
            f.entry = Some(e);
        } else if text.bytes().all(|c| c.is_ascii_digit()) && text.len() <= 9 {
            f.control = text.parse().ok();
        } else {
            f.text = Some(text);
        }
    }
    Ok(f)
}

fn entry_of(s: &str) -> Option<String> {
    EntryNumber::parse(&s.to_ascii_uppercase())
        .ok()
        .map(|e| e.0)
}

/// `AIM-`, `AIM-2026`, `AIM-2026-0000123`, … (upper-cased), when `s` is the start of a
/// license number.
fn license_prefix(s: &str) -> Option<String> {
    let u = s.to_ascii_uppercase();
    let shape = b"AIM-0000-0000000-0";
    if u.len() < 4 || u.len() > shape.len() {
        return None;
    }
    let ok = u.bytes().zip(shape.iter()).all(|(c, &p)| match p {
        b'0' => c.is_ascii_digit(),
        _ => c == p,
    });
    ok.then_some(u)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_filter_language() {
        let f =
            parse_query("status=cancelled sender=acmebrk country=cn hts=7606.12 day=2026-12-01")
                .unwrap();
        assert_eq!(f.status, Some(StatusFilter::Cancelled));
        assert_eq!(f.sender.as_deref(), Some("ACMEBRK"));
        assert_eq!(f.country.as_deref(), Some("CN"));
        assert_eq!(f.hts.as_deref(), Some("760612"));
        assert_eq!(f.day, NaiveDate::from_ymd_opt(2026, 12, 1));
        assert_eq!(
            parse_query("aim-2026-00012").unwrap().license.as_deref(),
            Some("AIM-2026-00012")
        );
        assert_eq!(parse_query("42").unwrap().control, Some(42));
        assert_eq!(
            parse_query("Acme Metals").unwrap().text.as_deref(),
            Some("Acme Metals")
        );
        assert!(parse_query("status=lost").unwrap_err().contains("issued"));
        assert!(
            parse_query("colour=red")
                .unwrap_err()
                .contains("filters are")
        );
        assert!(parse_query("day=2026-02-30").is_err());
        assert!(parse_query("").unwrap().is_empty());
    }

    #[test]
    fn the_status_filter_keeps_its_wire_names() {
        for (s, name) in [
            (StatusFilter::Issued, "issued"),
            (StatusFilter::Corrected, "corrected"),
            (StatusFilter::Cancelled, "cancelled"),
            (StatusFilter::Active, "active"),
        ] {
            let f = BrowseFilter {
                status: Some(s),
                ..BrowseFilter::default()
            };
            let json = serde_json::to_string(&f).unwrap();
            assert_eq!(json, format!("{{\"status\":\"{name}\"}}"));
            assert_eq!(serde_json::from_str::<BrowseFilter>(&json).unwrap(), f);
            assert_eq!(
                parse_query(&format!("status={}", name.to_uppercase())).unwrap(),
                f
            );
        }
        assert!(serde_json::from_str::<BrowseFilter>(r#"{"status":"lost"}"#).is_err());
    }
}
