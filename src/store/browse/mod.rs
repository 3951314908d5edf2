//! Paged reads over every license, for the console's browser: never loaded whole. A query
//! picks one *driver* — a key range of the `licenses` tree (ordered by number) or of one
//! index kind of the `index` tree (ordered by value, then number) — walks it from a cursor key
//! in either direction, and checks what the driver does not decide (country, HTS, a status the
//! index does not tell apart) on the decoded license. Every walk is bounded: a page stops at
//! `limit` rows or after [`SCAN_CAP`] keys, and says where to go on, so no keypress scans the
//! store. Counts for the position are exact where a counter or a bounded key count gives them.
//!
//! The filter language of the search box (spec section 9; design.md):
//! `status=cancelled sender=ACMEBRK country=CN hts=7606 day=2026-12-01`, and bare words: a
//! license number (or its start), an entry number, a control number, a sender, an importer.

use super::codec::dec;
use super::records::{License, LicenseStatus};
use super::{Result, Store, StoreError, keys};
use crate::filing::model::{EntryNumber, LicenseNumber, fixed};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// Keys walked at most for one page (a filter the indexes cannot answer alone).
pub const SCAN_CAP: usize = 20_000;
/// Keys counted at most for a total.
pub const COUNT_CAP: usize = 100_000;
/// Licenses decoded at most to count a filter the indexes cannot answer alone.
pub const DECODE_COUNT_CAP: usize = 5_000;
/// Rows of one page at most.
pub const MAX_PAGE: usize = 500;
/// Time one page's walk may take before it stops and says where to go on: a cold cache over
/// a large store makes a key cost far more than the key caps assume.
pub const WALK_BUDGET: std::time::Duration = std::time::Duration::from_millis(40);
/// Time a count may take before it answers "at least".
pub const COUNT_BUDGET: std::time::Duration = std::time::Duration::from_millis(30);

/// What the browser shows: a typed filter (the search box, parsed by [`parse_query`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrowseFilter {
    /// `issued`, `corrected`, `cancelled`, or `active` (issued or corrected).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
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
                if !["issued", "corrected", "cancelled", "active"].contains(&v.as_str()) {
                    return Err(format!(
                        "status={v}: use issued, corrected, cancelled or active"
                    ));
                }
                f.status = Some(v);
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

/// A walked key and the license it leads to.
type Row = (Vec<u8>, Option<License>);

/// Which tree a walk reads, over which keys.
enum Driver {
    Licenses {
        lo: Vec<u8>,
        hi: Vec<u8>,
    },
    Index {
        lo: Vec<u8>,
        hi: Vec<u8>,
    },
    /// A short list of license numbers (a control number's file), in number order.
    List(Vec<LicenseNumber>),
}

fn upper_of(prefix: &[u8]) -> Vec<u8> {
    let mut hi = prefix.to_vec();
    hi.push(0xff);
    hi
}

fn index_value(kind: u8, value: &str) -> (Vec<u8>, Vec<u8>) {
    let p = keys::index_prefix(kind, value);
    let hi = upper_of(&p);
    (p, hi)
}

fn index_kind(kind: u8) -> (Vec<u8>, Vec<u8>) {
    (vec![kind, 0], vec![kind, 0, 0xff])
}

/// A license number range from a prefix of its text.
fn number_range(p: &str) -> (Vec<u8>, Vec<u8>) {
    let digits: String = p.chars().filter(char::is_ascii_digit).collect();
    let year_digits = &digits[..digits.len().min(4)];
    let seq_digits = if digits.len() > 4 {
        &digits[4..digits.len().min(11)]
    } else {
        ""
    };
    let pad = |d: &str, width: usize, fill: char| -> u64 {
        let mut s = d.to_owned();
        while s.len() < width {
            s.push(fill);
        }
        s.parse().unwrap_or(0)
    };
    let (y_lo, y_hi) = (pad(year_digits, 4, '0'), pad(year_digits, 4, '9'));
    let (s_lo, s_hi) = if year_digits.len() == 4 {
        (pad(seq_digits, 7, '0'), pad(seq_digits, 7, '9'))
    } else {
        (0, 9_999_999)
    };
    // Four year digits and seven sequence digits: both fit.
    let n = |y: u64, s: u64| {
        LicenseNumber::new(
            u16::try_from(y).unwrap_or(u16::MAX),
            u32::try_from(s).unwrap_or(u32::MAX),
        )
    };
    let lo = keys::license(n(y_lo, s_lo)).to_vec();
    let hi = keys::license(n(y_hi, s_hi)).to_vec();
    let mut hi = hi;
    hi.push(0xff);
    (lo, hi)
}

/// What the walk leaves to the decoded license.
#[derive(Default)]
struct Checks {
    status: Option<String>,
    sender: Option<String>,
    country: Option<String>,
    hts: Option<String>,
    day: Option<NaiveDate>,
    importer: Option<String>,
    entry: Option<String>,
    license: Option<String>,
}

impl Checks {
    fn is_empty(&self) -> bool {
        self.status.is_none()
            && self.sender.is_none()
            && self.country.is_none()
            && self.hts.is_none()
            && self.day.is_none()
            && self.importer.is_none()
            && self.entry.is_none()
            && self.license.is_none()
    }

    fn pass(&self, l: &License) -> bool {
        let d = &l.data;
        self.status.as_deref().is_none_or(|s| match s {
            "active" => l.status == LicenseStatus::Active,
            other => l.status_name() == other,
        }) && self.sender.as_deref().is_none_or(|s| l.sender == s)
            && self
                .country
                .as_deref()
                .is_none_or(|c| d.origin.as_str() == c)
            && self
                .hts
                .as_deref()
                .is_none_or(|h| d.products.iter().any(|p| p.hts.digits().starts_with(h)))
            && self.day.is_none_or(|day| l.valid_from == day)
            && self
                .importer
                .as_deref()
                .is_none_or(|i| d.importer.starts_with(i))
            && self
                .entry
                .as_deref()
                .is_none_or(|e| d.entry_number.as_ref().is_some_and(|x| x.0 == e))
            && self
                .license
                .as_deref()
                .is_none_or(|p| l.number.to_string().starts_with(p))
    }

    fn names(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        for (on, n) in [
            (self.status.is_some(), "status"),
            (self.sender.is_some(), "sender"),
            (self.country.is_some(), "country"),
            (self.hts.is_some(), "hts"),
            (self.day.is_some(), "day"),
            (self.importer.is_some(), "importer"),
            (self.entry.is_some(), "entry"),
            (self.license.is_some(), "license"),
        ] {
            if on {
                v.push(n);
            }
        }
        v
    }
}

struct Plan {
    driver: Driver,
    checks: Checks,
    describe: String,
}

impl Store {
    /// Whether any license is indexed under this sender id.
    fn has_sender(&self, s: &str) -> Result<bool> {
        Ok(self
            .trees
            .index
            .scan_prefix(keys::index_prefix(keys::BY_SENDER, s))
            .next()
            .transpose()?
            .is_some())
    }

    #[allow(
        clippy::too_many_lines,
        reason = "one choice of driver per filter field, in order of selectivity"
    )]
    fn plan(&self, q: &BrowseQuery, senders: &[String]) -> Result<Plan> {
        let f = &q.filter;
        let mut c = Checks {
            status: f.status.clone(),
            sender: f.sender.clone(),
            country: f.country.clone(),
            hts: f.hts.clone(),
            day: f.day,
            importer: f.importer.clone(),
            entry: f.entry.clone(),
            license: f.license.clone(),
        };
        if let Some(t) = &f.text {
            let up = t.to_ascii_uppercase();
            if c.sender.is_none() && !up.contains(' ') && self.has_sender(&up)? {
                c.sender = Some(up);
            } else if c.importer.is_none() {
                c.importer = Some(t.clone());
            }
        }
        if let Some(n) = f.control {
            let mut list = Vec::new();
            for s in senders
                .iter()
                .filter(|s| c.sender.as_deref().is_none_or(|x| x == s.as_str()))
            {
                if let Some(sha) = self.control_owner(s, n)?
                    && let Some(r) = self.receipt(s, &sha)?
                {
                    list.extend(r.apps.iter().filter_map(|a| a.license));
                }
            }
            list.sort();
            list.dedup();
            return Ok(Plan {
                driver: Driver::List(list),
                describe: format!("file with control number {n}"),
                checks: c,
            });
        }
        // The driver: the most selective index a filter names, else the order asked for.
        let pick = |c: &mut Checks| -> (Driver, String) {
            if let Some(p) = c.license.take() {
                let (lo, hi) = number_range(&p);
                return (Driver::Licenses { lo, hi }, format!("numbers {p}…"));
            }
            if let Some(e) = c.entry.take() {
                let (lo, hi) = index_value(keys::BY_ENTRY, &e);
                return (Driver::Index { lo, hi }, format!("index entry={e}"));
            }
            if q.sort == Sort::Number || q.sort == Sort::Sender {
                if let Some(s) = c.sender.take() {
                    let (lo, hi) = index_value(keys::BY_SENDER, &s);
                    return (Driver::Index { lo, hi }, format!("index sender={s}"));
                }
                if let Some(d) = c.day.take() {
                    let (lo, hi) = index_value(keys::BY_DAY, &d.to_string());
                    return (Driver::Index { lo, hi }, format!("index day={d}"));
                }
            }
            if q.sort == Sort::Day
                && let Some(d) = c.day.take()
            {
                let (lo, hi) = index_value(keys::BY_DAY, &d.to_string());
                return (Driver::Index { lo, hi }, format!("index day={d}"));
            }
            if q.sort == Sort::Number || q.sort == Sort::Importer {
                if let Some(i) = c.importer.take() {
                    let p = keys::index_prefix(keys::BY_IMPORTER, &i);
                    let lo = p[..p.len() - 1].to_vec();
                    let hi = upper_of(&lo);
                    return (Driver::Index { lo, hi }, format!("index importer={i}…"));
                }
                if q.sort == Sort::Number
                    && let Some(s) = c.status.clone()
                    && (s == "cancelled" || s == "active")
                {
                    c.status = None;
                    let (lo, hi) = index_value(keys::BY_STATUS, &s);
                    return (Driver::Index { lo, hi }, format!("index status={s}"));
                }
            }
            match q.sort {
                Sort::Number => (
                    Driver::Licenses {
                        lo: Vec::new(),
                        hi: vec![0xff; 7],
                    },
                    "all licenses by number".into(),
                ),
                Sort::Importer => {
                    let (lo, hi) = index_kind(keys::BY_IMPORTER);
                    (Driver::Index { lo, hi }, "index importer".into())
                }
                Sort::Sender => {
                    let (lo, hi) = index_kind(keys::BY_SENDER);
                    (Driver::Index { lo, hi }, "index sender".into())
                }
                Sort::Day => {
                    let (lo, hi) = index_kind(keys::BY_DAY);
                    (Driver::Index { lo, hi }, "index day".into())
                }
            }
        };
        let (driver, mut describe) = pick(&mut c);
        let names = c.names();
        if !names.is_empty() {
            describe.push_str(&format!(", checks {}", names.join(" ")));
        }
        Ok(Plan {
            driver,
            checks: c,
            describe,
        })
    }

    /// One page of the browser (see the module's text). `senders`: the partners, for control
    /// numbers.
    #[allow(
        clippy::too_many_lines,
        reason = "the budgeted walk over a driver and its bounded count, kept in one place so every exit says where to go on"
    )]
    pub fn browse(&self, q: &BrowseQuery, senders: &[String]) -> Result<BrowsePage> {
        let limit = q.limit.clamp(1, MAX_PAGE);
        let plan = self.plan(q, senders)?;
        let exact_positions = q.filter.is_empty() && q.sort == Sort::Number;
        let after = match &q.after {
            Some(h) => Some(
                hex::decode(h)
                    .map_err(|_| StoreError::Invalid(format!("{h:?} is not a browse cursor")))?,
            ),
            None => None,
        };
        // The direction in key order: display order reversed for `desc`.
        let key_backward = q.backward != q.desc;
        let mut after = after;
        if after.is_none()
            && !q.backward
            && exact_positions
            && let Some(o) = q.offset.filter(|o| *o > 0)
        {
            // Row o is license seq o+1 (one sequence over all years, none ever removed);
            // the walk starts after the row before it.
            let total = self.license_sequence()?;
            let before = if q.desc {
                (total + 1).saturating_sub(o)
            } else {
                o
            };
            after = Some(match self.number_key_of_seq(before)? {
                Some(k) => k,
                None if q.desc => Vec::new(),
                None => vec![0xff; 7],
            });
        }
        let mut rows: Vec<(Vec<u8>, License)> = Vec::new();
        let mut scanned = 0usize;
        let mut resume = None;
        let mut at_end = true;
        let began = std::time::Instant::now();
        let mut take = |k: &[u8], lic: Option<License>| -> Result<bool> {
            scanned += 1;
            if let Some(l) = lic
                && plan.checks.pass(&l)
            {
                rows.push((k.to_vec(), l));
                if rows.len() >= limit {
                    return Ok(false);
                }
            }
            if scanned >= SCAN_CAP || (scanned.is_multiple_of(64) && began.elapsed() > WALK_BUDGET)
            {
                resume = Some(hex::encode(k));
                return Ok(false);
            }
            Ok(true)
        };
        match &plan.driver {
            Driver::List(list) => {
                let mut list: Vec<Vec<u8>> =
                    list.iter().map(|n| keys::license(*n).to_vec()).collect();
                if key_backward {
                    list.reverse();
                }
                let start = match &after {
                    Some(a) => list
                        .iter()
                        .position(|k| if key_backward { k < a } else { k > a })
                        .unwrap_or(list.len()),
                    None => 0,
                };
                for k in &list[start..] {
                    let lic = self.license_by_key(k)?;
                    if !take(k, lic)? {
                        at_end = false;
                        break;
                    }
                }
            }
            Driver::Licenses { lo, hi } | Driver::Index { lo, hi } => {
                let is_index = matches!(plan.driver, Driver::Index { .. });
                let empty = match &after {
                    Some(a) if key_backward => a <= lo,
                    Some(a) => a >= hi,
                    None => false,
                };
                let range: (std::ops::Bound<Vec<u8>>, std::ops::Bound<Vec<u8>>) =
                    match (&after, key_backward) {
                        (Some(a), false) if a < lo => (
                            std::ops::Bound::Included(lo.clone()),
                            std::ops::Bound::Excluded(hi.clone()),
                        ),
                        (Some(a), false) => (
                            std::ops::Bound::Excluded(a.clone()),
                            std::ops::Bound::Excluded(hi.clone()),
                        ),
                        (Some(a), true) => (
                            std::ops::Bound::Included(lo.clone()),
                            std::ops::Bound::Excluded(a.clone().min(hi.clone())),
                        ),
                        (None, _) => (
                            std::ops::Bound::Included(lo.clone()),
                            std::ops::Bound::Excluded(hi.clone()),
                        ),
                    };
                if !empty {
                    // The index's keys end in a license number; the licenses walk by number.
                    let rows: Box<dyn Iterator<Item = Result<Row>>> = if is_index {
                        let mut iter = self.trees.index.range(range);
                        Box::new(
                            std::iter::from_fn(move || {
                                if key_backward {
                                    iter.next_back()
                                } else {
                                    iter.next()
                                }
                            })
                            .filter_map(|kv| match kv {
                                Ok((k, _)) if k.len() < 6 => None,
                                Ok((k, _)) => Some(
                                    self.license_by_key(&k[k.len() - 6..])
                                        .map(|l| (k.to_vec(), l)),
                                ),
                                Err(e) => Some(Err(e.into())),
                            }),
                        )
                    } else {
                        Box::new(
                            self.walk_licenses(range.0, range.1, key_backward)?
                                .map(|r| r.map(|(k, l)| (k, Some(l)))),
                        )
                    };
                    for row in rows {
                        let (k, lic) = row?;
                        if !take(&k, lic)? {
                            at_end = false;
                            break;
                        }
                    }
                }
            }
        }
        if q.backward {
            rows.reverse();
        }
        let start = if exact_positions {
            rows.first().and_then(|(_, l)| {
                let p = u64::from(l.number.seq).saturating_sub(1);
                if q.desc {
                    self.license_sequence()
                        .ok()
                        .map(|t| t.saturating_sub(p + 1))
                } else {
                    Some(p)
                }
            })
        } else {
            None
        };
        let (total, total_exact) = if q.count {
            let (n, e) = self.count_plan(&plan, exact_positions)?;
            (Some(n), e)
        } else {
            (None, false)
        };
        Ok(BrowsePage {
            rows: rows.iter().map(|(k, l)| row_of(k, l)).collect(),
            start,
            total,
            total_exact,
            at_end: at_end && resume.is_none(),
            resume,
            plan: plan.describe,
        })
    }

    /// The `licenses` key of the license numbered `seq` (whatever its year), if any.
    fn number_key_of_seq(&self, seq: u64) -> Result<Option<Vec<u8>>> {
        let Ok(seq) = u32::try_from(seq) else {
            return Ok(None);
        };
        // Years are few: probe each, from the first group's year on.
        let mut from = vec![keys::GROUP];
        while let Some(kv) = self
            .trees
            .licenses
            .range::<Vec<u8>, _>((
                std::ops::Bound::Excluded(from.clone()),
                std::ops::Bound::Excluded(vec![keys::GROUP + 1]),
            ))
            .next()
        {
            let (k, _) = kv?;
            let Some(first) = keys::group_number(&k) else {
                break;
            };
            let n = LicenseNumber::new(first.year, seq);
            if self.license_exists(n)? {
                return Ok(Some(keys::license(n).to_vec()));
            }
            from = keys::group(LicenseNumber::new(first.year, u32::MAX)).to_vec();
        }
        Ok(None)
    }

    fn count_plan(&self, plan: &Plan, exact_positions: bool) -> Result<(u64, bool)> {
        if exact_positions {
            return Ok((self.license_sequence()?, true));
        }
        let decode = !plan.checks.is_empty();
        let cap = if decode { DECODE_COUNT_CAP } else { COUNT_CAP };
        let began = std::time::Instant::now();
        let mut n = 0u64;
        match &plan.driver {
            Driver::List(list) => {
                for x in list {
                    if self.license(*x)?.is_some_and(|l| plan.checks.pass(&l)) {
                        n += 1;
                    }
                }
            }
            Driver::Licenses { lo, hi } => {
                use std::ops::Bound;
                let range = (Bound::Included(lo.clone()), Bound::Excluded(hi.clone()));
                if !decode {
                    return self.count_licenses(range.0, range.1, cap as u64);
                }
                for (seen, row) in self.walk_licenses(range.0, range.1, false)?.enumerate() {
                    if seen >= cap || (seen % 64 == 63 && began.elapsed() > COUNT_BUDGET) {
                        return Ok((n, false));
                    }
                    if plan.checks.pass(&row?.1) {
                        n += 1;
                    }
                }
            }
            Driver::Index { lo, hi } => {
                for (seen, kv) in self.trees.index.range(lo.clone()..hi.clone()).enumerate() {
                    if seen >= cap || (seen % 64 == 63 && began.elapsed() > COUNT_BUDGET) {
                        return Ok((n, false));
                    }
                    let (k, _) = kv?;
                    if !decode {
                        n += 1;
                        continue;
                    }
                    let lic = self.license_by_key(&k[k.len().saturating_sub(6)..])?;
                    if lic.is_some_and(|l| plan.checks.pass(&l)) {
                        n += 1;
                    }
                }
            }
        }
        Ok((n, true))
    }
}

/// Mail messages read at most for [`Store::mail_of_acks`], in each of queued, dead, sent.
pub const MAIL_SCAN_CAP: usize = 5_000;

impl Store {
    /// The mail messages of a sender's acks named `ack_names`: waiting and dead ones, and
    /// the newest [`MAIL_SCAN_CAP`] sent ones (older sent mail is not looked for).
    pub fn mail_of_acks(
        &self,
        sender: &str,
        ack_names: &[String],
    ) -> Result<Vec<super::records::MailJob>> {
        let mut out = Vec::new();
        let wanted =
            |j: &super::records::MailJob| j.sender == sender && ack_names.contains(&j.ack_name);
        for kv in self.trees.mail.iter().take(MAIL_SCAN_CAP) {
            let (k, v) = kv?;
            let j: super::records::MailJob = dec(&k, &v)?;
            if wanted(&j) {
                out.push(j);
            }
        }
        for kind in [keys::DEAD, keys::SENT] {
            for kv in self
                .trees
                .mail_done
                .scan_prefix([kind])
                .rev()
                .take(MAIL_SCAN_CAP)
            {
                let (k, v) = kv?;
                // Sent messages are kept slim; one that does not read as a job is skipped.
                if let Ok(j) = dec::<super::records::MailJob>(&k, &v)
                    && wanted(&j)
                {
                    out.push(j);
                }
            }
        }
        out.sort_by_key(|j| j.id);
        Ok(out)
    }
}

fn row_of(k: &[u8], l: &License) -> BrowseRow {
    let d = &l.data;
    BrowseRow {
        cursor: hex::encode(k),
        license: l.number.to_string(),
        status: l.status_name().to_owned(),
        sender: l.sender.clone(),
        importer: d.importer.clone(),
        entry_number: d.entry_number.as_ref().map(|e| e.0.clone()),
        country_of_origin: d.origin.as_str().to_owned(),
        valid_from: l.valid_from,
        hts: d
            .products
            .first()
            .map(|p| p.hts.digits().to_owned())
            .unwrap_or_default(),
        products: d.products.len(),
        total_value_usd: fixed(d.total_value(), 2),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn store_with(files: usize, apps: usize) -> (tempfile::TempDir, Store) {
        let d = tempfile::tempdir().unwrap();
        let store = Store::open(d.path()).unwrap();
        let cfg = Config::parse(crate::config::BUILT_IN, "built-in").unwrap();
        let day = chrono::Utc::now().date_naive();
        let n = crate::generator::fill::commit_generated(
            &store,
            &crate::generator::fill::Generated {
                cfg: &cfg,
                sender: "ACMEBRK",
                files,
                apps_per_file: apps,
                day,
                seed: 7,
                mail_to: &[],
            },
        )
        .unwrap();
        assert_eq!(n, files * apps, "every generated application is issued");
        (d, store)
    }

    fn page(store: &Store, q: BrowseQuery) -> BrowsePage {
        store
            .browse(&q, &["ACMEBRK".into(), "DEMO".into()])
            .unwrap()
    }

    #[test]
    fn pages_by_number_forward_backward_and_by_offset() {
        let (_d, store) = store_with(30, 2);
        let q = |after: Option<String>, backward, offset, desc| BrowseQuery {
            after,
            backward,
            offset,
            desc,
            limit: 10,
            count: true,
            ..BrowseQuery::default()
        };
        let p1 = page(&store, q(None, false, None, false));
        assert_eq!(
            (p1.total, p1.total_exact, p1.start),
            (Some(60), true, Some(0))
        );
        assert_eq!(p1.rows.len(), 10);
        assert!(p1.rows[0].license.starts_with("AIM-") && p1.rows[0].license.contains("-0000001-"));
        let p2 = page(
            &store,
            q(Some(p1.rows[9].cursor.clone()), false, None, false),
        );
        assert_eq!(p2.start, Some(10));
        let back = page(
            &store,
            q(Some(p2.rows[0].cursor.clone()), true, None, false),
        );
        assert_eq!(
            back.rows, p1.rows,
            "a page backward is the page before, in display order"
        );
        let jump = page(&store, q(None, false, Some(55), false));
        assert_eq!(jump.start, Some(55));
        assert_eq!(jump.rows.len(), 5);
        assert!(jump.at_end);
        let newest = page(&store, q(None, false, None, true));
        assert!(newest.rows[0].license.contains("-0000060-"));
        assert_eq!(newest.start, Some(0));
        let desc_jump = page(&store, q(None, false, Some(10), true));
        assert!(
            desc_jump.rows[0].license.contains("-0000050-"),
            "{:?}",
            desc_jump.rows[0]
        );
        let end = page(&store, q(None, true, None, false));
        assert_eq!(end.start, Some(50));
        assert!(end.rows[9].license.contains("-0000060-"));
    }

    #[test]
    #[allow(clippy::too_many_lines, reason = "one store, every filter in turn")]
    fn filters_search_and_counts() {
        let (_d, store) = store_with(20, 3);
        let all = page(
            &store,
            BrowseQuery {
                limit: 500,
                ..BrowseQuery::default()
            },
        );
        let probe = &all.rows[17];
        // A whole license number finds exactly that license.
        let one = page(
            &store,
            BrowseQuery {
                filter: parse_query(&probe.license).unwrap(),
                limit: 50,
                count: true,
                ..BrowseQuery::default()
            },
        );
        assert_eq!(one.rows.len(), 1);
        assert_eq!(one.rows[0].license, probe.license);
        assert_eq!(one.total, Some(1));
        // The importer's name as bare words, and a typed country filter.
        let words: Vec<&str> = probe.importer.split_whitespace().take(1).collect();
        let by_importer = page(
            &store,
            BrowseQuery {
                filter: parse_query(&words.join(" ")).unwrap(),
                limit: 500,
                count: true,
                ..BrowseQuery::default()
            },
        );
        assert!(
            by_importer
                .rows
                .iter()
                .all(|r| r.importer.starts_with(words[0]))
        );
        assert!(by_importer.rows.iter().any(|r| r.license == probe.license));
        assert_eq!(by_importer.total, Some(by_importer.rows.len() as u64));
        let country = &probe.country_of_origin;
        let by_country = page(
            &store,
            BrowseQuery {
                filter: parse_query(&format!("country={country} sender=ACMEBRK")).unwrap(),
                limit: 500,
                count: true,
                ..BrowseQuery::default()
            },
        );
        let expected = all
            .rows
            .iter()
            .filter(|r| &r.country_of_origin == country)
            .count();
        assert_eq!(by_country.rows.len(), expected);
        assert_eq!(by_country.total, Some(expected as u64));
        assert!(
            by_country.plan.contains("index sender=ACMEBRK"),
            "{}",
            by_country.plan
        );
        // Sender as a bare word, and the control number of a file.
        let sender = page(
            &store,
            BrowseQuery {
                filter: parse_query("acmebrk").unwrap(),
                limit: 500,
                count: true,
                ..BrowseQuery::default()
            },
        );
        assert_eq!(sender.total, Some(60));
        let none = page(
            &store,
            BrowseQuery {
                filter: parse_query("status=cancelled").unwrap(),
                limit: 10,
                count: true,
                ..BrowseQuery::default()
            },
        );
        assert!(none.rows.is_empty() && none.at_end);
        assert_eq!(none.total, Some(0));
        // Sorted by importer: names never decrease.
        let by_name = page(
            &store,
            BrowseQuery {
                sort: Sort::Importer,
                limit: 500,
                ..BrowseQuery::default()
            },
        );
        assert_eq!(by_name.rows.len(), 60);
        assert!(
            by_name
                .rows
                .windows(2)
                .all(|w| w[0].importer <= w[1].importer)
        );
    }

    #[test]
    fn the_scorecard_counts_rejections_by_code_and_sender() {
        let (_d, store) = store_with(4, 1);
        let cfg = Config::parse(crate::config::BUILT_IN, "built-in").unwrap();
        let day = chrono::Utc::now().date_naive();
        // A file of another sender's id in ACMEBRK's inbox: F004, a file-level rejection.
        let bad = crate::generator::generate(&crate::generator::GenOptions {
            sender: "DEMO".into(),
            count: 1,
            apps_per_file: 1,
            seed: 3,
            today: day,
        })
        .next()
        .unwrap();
        let sha: [u8; 32] = <sha2::Sha256 as sha2::Digest>::digest(&bad.bytes).into();
        let registered = |id: &str| cfg.partner(id).is_some();
        let settings = cfg.rule_settings();
        let cx = crate::filing::rules::FileContext {
            inbox_sender: "ACMEBRK",
            is_registered: &registered,
            filing_day: day,
            sha256: sha,
            settings: &settings,
        };
        let v = crate::filing::check(&bad.bytes, &cx, &mut super::super::StoreLedger::new(&store))
            .unwrap();
        assert!(v.file_error.is_some());
        store
            .commit(&super::super::NewFiling {
                sender: "ACMEBRK",
                facts: crate::filing::ack::FileFacts {
                    file_name: "wrong\x1b[2J.xml",
                    sha256: sha,
                    received_at: day.and_hms_opt(13, 0, 0).unwrap().and_utc(),
                },
                filing_day: day,
                verdict: &v,
                ack_name: "wrong.ack.xml",
                archive: "a/wrong.xml",
                mail_to: &[],
            })
            .unwrap();
        let r = store.rejections(day, day).unwrap();
        let code = v.file_error.as_ref().unwrap().code.to_string();
        assert_eq!(r.by_code.len(), 1);
        assert_eq!(
            (r.by_code[0].code.as_str(), r.by_code[0].count),
            (code.as_str(), 1)
        );
        let acme = &r.by_sender[0];
        assert_eq!(
            (acme.files, acme.files_rejected, acme.applications),
            (5, 1, 4)
        );
        assert_eq!(
            acme.acceptance_pct, "100.0",
            "every application filed was accepted"
        );
        let files = store
            .rejected_files(Some("ACMEBRK"), Some(&code), 10, 1000)
            .unwrap();
        assert_eq!(files.len(), 1);
        assert_eq!(files[0].sha256, hex::encode(sha));
        assert!(
            store
                .rejected_files(None, Some("A999"), 10, 1000)
                .unwrap()
                .is_empty()
        );
        assert_eq!(store.rejected_files(None, None, 10, 1000).unwrap().len(), 1);
    }

    #[test]
    fn the_filter_language() {
        let f =
            parse_query("status=cancelled sender=acmebrk country=cn hts=7606.12 day=2026-12-01")
                .unwrap();
        assert_eq!(f.status.as_deref(), Some("cancelled"));
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
    fn number_ranges_cover_their_prefix() {
        let (lo, hi) = number_range("AIM-2026-00012");
        let inside = keys::license(LicenseNumber::new(2026, 1_234)).to_vec();
        let outside = keys::license(LicenseNumber::new(2026, 1_300)).to_vec();
        assert!(lo <= inside && inside < hi);
        assert!(outside >= hi);
        let (lo, hi) = number_range("AIM-");
        assert!(lo <= inside && inside < hi);
    }
}
