//! Unit values in buckets over a real store: what a file writes, how a cancellation takes a
//! license's lines out, and the upgrade of layout 4's one key per line at open, also when cut
//! short.

use super::records::License;
use super::unit_values::{self, Line};
use super::{Store, keys};
use crate::filing::model::LicenseNumber;
use chrono::NaiveDate;
use rust_decimal::Decimal;
use std::collections::BTreeSet;

fn day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 30).unwrap()
}

fn licenses(store: &Store) -> Vec<License> {
    store.licenses_of("ACMEBRK", usize::MAX).unwrap()
}

/// Every unit value the tree holds, as (HTS, license, line, value), from the buckets.
fn held(store: &Store) -> BTreeSet<(String, LicenseNumber, u16, Decimal)> {
    let mut all = BTreeSet::new();
    for kv in store.trees.uv.iter() {
        let (k, v) = kv.unwrap();
        let hts = std::str::from_utf8(&k[..6]).unwrap().to_owned();
        let first = keys::license_of(&k[k.len() - 6..]).unwrap();
        for l in unit_values::lines(&k, &v).unwrap() {
            all.insert((hts.clone(), l.license(first), l.line, l.value));
        }
    }
    all
}

/// What the active licenses say the tree should hold.
fn wanted(store: &Store) -> BTreeSet<(String, LicenseNumber, u16, Decimal)> {
    licenses(store)
        .iter()
        .filter(|l| l.status == super::records::LicenseStatus::Active)
        .flat_map(|l| {
            l.data
                .products
                .iter()
                .map(move |p| (p.hts.hts6().to_owned(), l.number, p.line, p.unit_value()))
        })
        .collect()
}

#[test]
fn a_bucket_keeps_its_lines_in_order_and_a_damaged_one_is_named() {
    let value = |s: &str| s.parse::<Decimal>().unwrap();
    let mut lines = vec![
        Line {
            at: 9,
            line: 2,
            value: value("3300.00"),
        },
        Line {
            at: 0,
            line: 1,
            value: value("0.3333333333333333333333333333"),
        },
        Line {
            at: 9,
            line: 1,
            value: value("-1"),
        },
    ];
    let bytes = unit_values::value_of(&mut lines);
    assert_eq!(bytes.len(), 3 * 19);
    let back = unit_values::lines(b"k", &bytes).unwrap();
    assert_eq!(back, lines);
    assert_eq!(back[0].at, 0, "sorted by place, then line");
    assert_eq!((back[1].at, back[1].line), (9, 1));
    let e = unit_values::lines(b"760612", &bytes[..20])
        .unwrap_err()
        .to_string();
    assert!(e.contains("unit-value bucket of 20 bytes"), "{e}");
    assert_eq!(unit_values::place(LicenseNumber::new(2026, 64)), 0);
    assert_eq!(unit_values::place(LicenseNumber::new(2026, 127)), 63);
}

#[test]
fn a_file_of_1000_applications_writes_a_key_per_subheading_and_bucket() {
    let d = tempfile::tempdir().unwrap();
    let store = Store::open(d.path()).unwrap();
    super::tests::generate_into(&store, 1, 1000, 11);
    let want = wanted(&store);
    assert_eq!(
        held(&store),
        want,
        "every product line of every license, once"
    );
    let subheadings: BTreeSet<&str> = want.iter().map(|(h, ..)| h.as_str()).collect();
    let written = store.trees.uv.len();
    // Numbers 1..=1000 are 16 buckets; one key per subheading in each at most.
    assert!(
        written <= 16 * subheadings.len() && written < want.len() / 4,
        "{written} keys for {} lines in {} subheadings",
        want.len(),
        subheadings.len()
    );
}

#[test]
fn a_cancellation_takes_its_lines_out_and_an_empty_bucket_goes() {
    let d = tempfile::tempdir().unwrap();
    let store = Store::open(d.path()).unwrap();
    super::tests::generate_into(&store, 1, 3, 11);
    let cancel = |seq| super::postings_tests::cancel(&store, seq);
    cancel(2);
    let left = held(&store);
    assert!(left.iter().all(|(_, n, ..)| n.seq != 2), "{left:?}");
    assert_eq!(left, wanted(&store));
    assert!(!left.is_empty());
    cancel(1);
    cancel(3);
    assert_eq!(store.trees.uv.len(), 0, "no bucket left without lines");
}

/// Put the unit values back as layout 4 wrote them (one key per product line, the value as
/// text) and mark the store as layout 4.
fn as_layout_4(store: &Store) {
    for (hts, n, line, value) in held(store) {
        let lic = store.license(n).unwrap().unwrap();
        store
            .trees
            .uv
            .insert(
                keys::uv_line(&hts, lic.valid_from, n, line),
                value.to_string().as_bytes(),
            )
            .unwrap();
    }
    let buckets: Vec<_> = store
        .trees
        .uv
        .iter()
        .keys()
        .map(Result::unwrap)
        .filter(|k| k.len() == 6 + 1 + 4 + 6)
        .collect();
    for k in buckets {
        store.trees.uv.remove(k).unwrap();
    }
    super::postings_tests::marked(store, 4);
}

#[test]
fn layout_4_unit_values_become_buckets_at_open_also_when_the_upgrade_is_cut_short() {
    let d = tempfile::tempdir().unwrap();
    let (want, want_median) = {
        let store = Store::open(d.path()).unwrap();
        // 4,000 licenses, about two lines each: four units of the upgrade.
        super::tests::generate_into(&store, 4, 1000, 11);
        let want = held(&store);
        let hts = want.iter().next().unwrap().0.clone();
        let median = store.unit_value_median(&hts, day()).unwrap();
        assert!(median.is_some());
        as_layout_4(&store);
        assert_eq!(store.trees.uv.len(), want.len(), "one key per line");
        (want, (hts, median))
    };
    super::postings_tests::open_cut_short(d.path(), 4, keys::UPGRADE_V5);
    let store = Store::open(d.path()).unwrap();
    assert_eq!(held(&store), want, "the same lines as layout 5 writes");
    assert!(
        store.trees.uv.iter().keys().all(|k| k.unwrap().len() == 17),
        "no line of layout 4 left"
    );
    let (hts, median) = want_median;
    assert_eq!(store.unit_value_median(&hts, day()).unwrap(), median);
    super::postings_tests::assert_upgraded(&store, &[keys::UPGRADE_V5, keys::UPGRADE_V5_COUNT]);
}
