//! The plan of a browse query, worked out without the store: which *driver* a walk reads (a
//! key range of the `licenses` tree, ordered by number, or of one index kind of the `index`
//! tree, ordered by value, then number, or a short list of license numbers), in which
//! direction, and what is left to check on each decoded license. What the plan needs to know
//! of the store comes in as plain values ([`Facts`]).

use super::query::{BrowseQuery, Sort, StatusFilter};
use crate::filing::model::LicenseNumber;
use crate::store::keys;
use crate::store::records::License;
use chrono::NaiveDate;

/// Which tree a walk reads, over which keys.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Driver {
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

/// What the store knows that a plan needs.
#[derive(Debug, Default)]
pub(crate) struct Facts {
    /// Licenses are indexed under the bare words taken as a sender id ([`sender_word`]).
    pub text_is_sender: bool,
    /// Per partner, the licenses of its file with the filter's control number (partners
    /// without such a file left out).
    pub control_files: Vec<(String, Vec<LicenseNumber>)>,
}

/// A query's walk, decided.
#[derive(Debug)]
pub(crate) struct Plan {
    pub driver: Driver,
    pub checks: Checks,
    /// Walk toward lower keys: display order reversed for `desc`, and again for `backward`.
    pub key_backward: bool,
    /// Number order over every license: row n is license seq n+1, so positions are exact.
    pub exact_positions: bool,
    /// How the filter is answered, for the screen.
    pub describe: String,
}

/// The bare words as a sender id, when they could be one and no sender is typed: whether
/// licenses are filed under it is a fact for [`Facts::text_is_sender`].
pub(crate) fn sender_word(q: &BrowseQuery) -> Option<String> {
    let f = &q.filter;
    let up = f.text.as_ref()?.to_ascii_uppercase();
    (f.sender.is_none() && !up.contains(' ')).then_some(up)
}

/// The plan of `q` (see the module's text).
pub(crate) fn plan(q: &BrowseQuery, facts: &Facts) -> Plan {
    let f = &q.filter;
    let mut c = Checks {
        status: f.status,
        sender: f.sender.clone(),
        country: f.country.clone(),
        hts: f.hts.clone(),
        day: f.day,
        importer: f.importer.clone(),
        entry: f.entry.clone(),
        license: f.license.clone(),
    };
    if let Some(t) = &f.text {
        if let Some(up) = sender_word(q).filter(|_| facts.text_is_sender) {
            c.sender = Some(up);
        } else if c.importer.is_none() {
            c.importer = Some(t.clone());
        }
    }
    let (driver, describe) = if let Some(n) = f.control {
        let mut list: Vec<LicenseNumber> = facts
            .control_files
            .iter()
            .filter(|(s, _)| c.sender.as_deref().is_none_or(|x| x == s.as_str()))
            .flat_map(|(_, l)| l.iter().copied())
            .collect();
        list.sort();
        list.dedup();
        (Driver::List(list), format!("file with control number {n}"))
    } else {
        let (driver, mut describe) = pick(q.sort, &mut c);
        let names = c.names();
        if !names.is_empty() {
            describe.push_str(&format!(", checks {}", names.join(" ")));
        }
        (driver, describe)
    };
    Plan {
        driver,
        checks: c,
        key_backward: q.backward != q.desc,
        exact_positions: f.is_empty() && q.sort == Sort::Number,
        describe,
    }
}

/// The driver: the most selective index a filter names (taken out of the checks), else the
/// order asked for.
fn pick(sort: Sort, c: &mut Checks) -> (Driver, String) {
    if let Some(p) = c.license.take() {
        let (lo, hi) = number_range(&p);
        return (Driver::Licenses { lo, hi }, format!("numbers {p}…"));
    }
    if let Some(e) = c.entry.take() {
        return index_of(keys::BY_ENTRY, "entry", &e);
    }
    if matches!(sort, Sort::Number | Sort::Sender)
        && let Some(s) = c.sender.take()
    {
        return index_of(keys::BY_SENDER, "sender", &s);
    }
    if matches!(sort, Sort::Number | Sort::Sender | Sort::Day)
        && let Some(d) = c.day.take()
    {
        return index_of(keys::BY_DAY, "day", &d.to_string());
    }
    if matches!(sort, Sort::Number | Sort::Importer)
        && let Some(i) = c.importer.take()
    {
        // The start of a name: the prefix without the value's terminator.
        let p = keys::index_prefix(keys::BY_IMPORTER, &i);
        let lo = p[..p.len() - 1].to_vec();
        let hi = upper_of(&lo);
        return (Driver::Index { lo, hi }, format!("index importer={i}…"));
    }
    // The status index tells only active from cancelled.
    if sort == Sort::Number
        && let Some(s) = c.status
        && matches!(s, StatusFilter::Cancelled | StatusFilter::Active)
    {
        c.status = None;
        return index_of(keys::BY_STATUS, "status", s.name());
    }
    let (kind, name) = match sort {
        Sort::Number => {
            let all = Driver::Licenses {
                lo: Vec::new(),
                hi: vec![0xff; 7],
            };
            return (all, "all licenses by number".into());
        }
        Sort::Importer => (keys::BY_IMPORTER, "importer"),
        Sort::Sender => (keys::BY_SENDER, "sender"),
        Sort::Day => (keys::BY_DAY, "day"),
    };
    let (lo, hi) = index_kind(kind);
    (Driver::Index { lo, hi }, format!("index {name}"))
}

/// The keys of one value of an index kind.
fn index_of(kind: u8, name: &str, value: &str) -> (Driver, String) {
    let (lo, hi) = index_value(kind, value);
    (Driver::Index { lo, hi }, format!("index {name}={value}"))
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
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Checks {
    pub status: Option<StatusFilter>,
    pub sender: Option<String>,
    pub country: Option<String>,
    pub hts: Option<String>,
    pub day: Option<NaiveDate>,
    pub importer: Option<String>,
    pub entry: Option<String>,
    pub license: Option<String>,
}

impl Checks {
    pub(crate) fn is_empty(&self) -> bool {
        self.status.is_none()
            && self.sender.is_none()
            && self.country.is_none()
            && self.hts.is_none()
            && self.day.is_none()
            && self.importer.is_none()
            && self.entry.is_none()
            && self.license.is_none()
    }

    pub(crate) fn pass(&self, l: &License) -> bool {
        let d = &l.data;
        self.status.is_none_or(|s| s.admits(l))
            && self.sender.as_deref().is_none_or(|s| l.sender == s)
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

    pub(crate) fn names(&self) -> Vec<&'static str> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::browse::query::parse_query;

    fn query(filter: &str, sort: Sort) -> BrowseQuery {
        BrowseQuery {
            filter: parse_query(filter).unwrap(),
            sort,
            limit: 10,
            ..BrowseQuery::default()
        }
    }

    fn plan_of(filter: &str, sort: Sort) -> Plan {
        plan(&query(filter, sort), &Facts::default())
    }

    fn index(kind: u8, value: &str) -> Driver {
        let (lo, hi) = index_value(kind, value);
        Driver::Index { lo, hi }
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

    #[test]
    fn no_filter_walks_the_order_asked_for() {
        let p = plan_of("", Sort::Number);
        assert_eq!(
            p.driver,
            Driver::Licenses {
                lo: Vec::new(),
                hi: vec![0xff; 7]
            }
        );
        assert!(p.exact_positions && p.checks.is_empty());
        assert_eq!(p.describe, "all licenses by number");
        for (sort, kind, name) in [
            (Sort::Importer, keys::BY_IMPORTER, "index importer"),
            (Sort::Sender, keys::BY_SENDER, "index sender"),
            (Sort::Day, keys::BY_DAY, "index day"),
        ] {
            let p = plan_of("", sort);
            let (lo, hi) = index_kind(kind);
            assert_eq!(p.driver, Driver::Index { lo, hi });
            assert_eq!(p.describe, name);
            assert!(!p.exact_positions, "{name}: positions are not exact");
        }
    }

    #[test]
    fn the_most_selective_index_drives_and_the_rest_is_checked() {
        let p = plan_of(
            "country=CN status=issued sender=ACMEBRK day=2026-12-01",
            Sort::Number,
        );
        assert_eq!(p.driver, index(keys::BY_SENDER, "ACMEBRK"));
        assert_eq!(
            p.describe,
            "index sender=ACMEBRK, checks status country day"
        );
        assert_eq!(p.checks.sender, None, "the driver decides the sender");
        assert_eq!(p.checks.status, Some(StatusFilter::Issued));
        assert!(!p.exact_positions);
        // An entry number outranks the sender; a license number outranks both.
        let p = plan_of("sender=ACMEBRK entry=ABC12345676", Sort::Number);
        assert_eq!(p.driver, index(keys::BY_ENTRY, "ABC12345676"));
        assert_eq!(p.checks.sender.as_deref(), Some("ACMEBRK"));
        let p = plan_of("sender=ACMEBRK AIM-2026-00012", Sort::Number);
        assert_eq!(
            p.driver,
            Driver::Licenses {
                lo: number_range("AIM-2026-00012").0,
                hi: number_range("AIM-2026-00012").1,
            }
        );
        assert_eq!(p.describe, "numbers AIM-2026-00012…, checks sender");
        // Sorted by day, the day index drives, not the sender's.
        let p = plan_of("sender=ACMEBRK day=2026-12-01", Sort::Day);
        assert_eq!(p.driver, index(keys::BY_DAY, "2026-12-01"));
        assert_eq!(p.describe, "index day=2026-12-01, checks sender");
        // Sorted by importer, a sender is only checked along the importer index.
        let p = plan_of("sender=ACMEBRK", Sort::Importer);
        let (lo, hi) = index_kind(keys::BY_IMPORTER);
        assert_eq!(p.driver, Driver::Index { lo, hi });
        assert_eq!(p.describe, "index importer, checks sender");
    }

    #[test]
    fn an_importer_is_the_start_of_a_name() {
        let p = plan_of("importer=Acme_Met", Sort::Importer);
        let Driver::Index { lo, hi } = &p.driver else {
            panic!("{:?}", p.driver)
        };
        let name = keys::index_prefix(keys::BY_IMPORTER, "Acme Metals Inc");
        let other = keys::index_prefix(keys::BY_IMPORTER, "Acne Metals");
        assert!(lo <= &name && &name < hi, "a longer name is inside");
        assert!(&other >= hi);
        assert_eq!(p.describe, "index importer=Acme Met…");
    }

    #[test]
    fn the_status_index_drives_only_what_it_tells_apart() {
        for (s, driven) in [
            ("cancelled", true),
            ("active", true),
            ("issued", false),
            ("corrected", false),
        ] {
            let p = plan_of(&format!("status={s}"), Sort::Number);
            if driven {
                assert_eq!(p.driver, index(keys::BY_STATUS, s));
                assert_eq!(p.describe, format!("index status={s}"));
                assert!(p.checks.is_empty());
            } else {
                assert!(matches!(p.driver, Driver::Licenses { .. }), "{s}");
                assert_eq!(p.describe, "all licenses by number, checks status");
            }
        }
        let p = plan_of("status=cancelled", Sort::Sender);
        assert_eq!(p.describe, "index sender, checks status");
    }

    #[test]
    fn bare_words_are_a_sender_when_the_store_knows_one() {
        let q = query("acmebrk", Sort::Number);
        assert_eq!(sender_word(&q).as_deref(), Some("ACMEBRK"));
        let known = Facts {
            text_is_sender: true,
            ..Facts::default()
        };
        assert_eq!(plan(&q, &known).driver, index(keys::BY_SENDER, "ACMEBRK"));
        let p = plan(&q, &Facts::default());
        assert_eq!(
            p.describe, "index importer=acmebrk…",
            "else an importer's name"
        );
        // Words with a space, or a typed sender, are never a sender.
        assert_eq!(sender_word(&query("Acme Metals", Sort::Number)), None);
        assert_eq!(sender_word(&query("sender=DEMO acme", Sort::Number)), None);
        let p = plan(&query("sender=DEMO acme", Sort::Number), &known);
        assert_eq!(p.describe, "index sender=DEMO, checks importer");
    }

    #[test]
    fn a_control_number_lists_its_files_licenses_for_the_sender() {
        let n = |s| LicenseNumber::new(2026, s);
        let facts = Facts {
            text_is_sender: false,
            control_files: vec![
                ("DEMO".into(), vec![n(9), n(3)]),
                ("ACMEBRK".into(), vec![n(4), n(3)]),
            ],
        };
        let p = plan(&query("42", Sort::Importer), &facts);
        assert_eq!(p.driver, Driver::List(vec![n(3), n(4), n(9)]));
        assert_eq!(p.describe, "file with control number 42");
        let p = plan(
            &query("control=42 sender=ACMEBRK country=CN", Sort::Number),
            &facts,
        );
        assert_eq!(p.driver, Driver::List(vec![n(3), n(4)]));
        assert_eq!(p.checks.country.as_deref(), Some("CN"), "still checked");
    }

    #[test]
    fn the_key_direction_is_display_order_turned_by_desc_and_backward() {
        for (desc, backward, key_backward) in [
            (false, false, false),
            (true, false, true),
            (false, true, true),
            (true, true, false),
        ] {
            let q = BrowseQuery {
                desc,
                backward,
                ..BrowseQuery::default()
            };
            assert_eq!(plan(&q, &Facts::default()).key_backward, key_backward);
        }
    }
}
