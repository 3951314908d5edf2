//! The index as postings over a real store: what a file writes, how a cancellation moves a
//! license between buckets, and the upgrade of a layout-3 index at open, also when cut short.

use super::records::{Actor, License};
use super::{Store, keys, postings};
use crate::filing::model::LicenseNumber;
use chrono::NaiveDate;

fn day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 30).unwrap()
}

/// `files` generated files of `apps` applications of ACMEBRK, filed on [`day`].
fn fill(store: &Store, files: usize, apps: usize) {
    super::tests::generate_into(store, files, apps, 11);
}

/// The year of the licenses [`fill`] issues.
fn year() -> u16 {
    u16::try_from(chrono::Datelike::year(&day())).unwrap()
}

/// A supervisor cancels license `seq` of [`year`].
pub(super) fn cancel(store: &Store, seq: u32) {
    store
        .staff_cancel(
            LicenseNumber::new(year(), seq),
            "filed in error",
            &Actor::Staff("sup".into()),
            chrono::Utc::now(),
            &[],
            &|_, _| false,
        )
        .unwrap();
}

/// The buckets under one value of one kind: (keys, licenses they hold).
fn buckets(store: &Store, kind: u8, value: &str) -> (usize, u32) {
    let mut n = (0, 0);
    for kv in store
        .trees
        .index
        .scan_prefix(keys::index_prefix(kind, value))
    {
        let (k, v) = kv.unwrap();
        n.0 += 1;
        n.1 += postings::bits(&k, &v).unwrap().count_ones();
    }
    n
}

fn index(store: &Store) -> Vec<(Vec<u8>, Vec<u8>)> {
    store
        .trees
        .index
        .iter()
        .map(|kv| {
            let (k, v) = kv.unwrap();
            (k.to_vec(), v.to_vec())
        })
        .collect()
}

#[test]
fn a_file_of_1000_applications_writes_a_key_per_64_licenses_for_sender_day_and_status() {
    let d = tempfile::tempdir().unwrap();
    let store = Store::open(d.path()).unwrap();
    fill(&store, 1, 1000);
    for (kind, value) in [
        (keys::BY_SENDER, "ACMEBRK".to_owned()),
        (keys::BY_DAY, day().to_string()),
        (keys::BY_STATUS, "active".to_owned()),
    ] {
        let (keys_written, licenses) = buckets(&store, kind, &value);
        assert_eq!(licenses, 1000, "{}", kind as char);
        // Numbers 1..=1000: buckets 0, 64, …, 960.
        assert_eq!(keys_written, 16, "{}", kind as char);
    }
    assert_eq!(store.licenses_of("ACMEBRK", 3).unwrap().len(), 3);
    let newest: Vec<u32> = store
        .licenses_of("ACMEBRK", 3)
        .unwrap()
        .iter()
        .map(|l| l.number.seq)
        .collect();
    assert_eq!(newest, vec![1000, 999, 998], "newest first");
}

#[test]
fn a_cancellation_moves_its_license_to_the_cancelled_bucket_and_an_empty_bucket_goes() {
    let d = tempfile::tempdir().unwrap();
    let store = Store::open(d.path()).unwrap();
    fill(&store, 1, 3);
    cancel(&store, 2);
    assert_eq!(buckets(&store, keys::BY_STATUS, "active"), (1, 2));
    assert_eq!(buckets(&store, keys::BY_STATUS, "cancelled"), (1, 1));
    cancel(&store, 1);
    cancel(&store, 3);
    assert_eq!(buckets(&store, keys::BY_STATUS, "active"), (0, 0));
    assert_eq!(buckets(&store, keys::BY_STATUS, "cancelled"), (1, 3));
    // Sender, day and importer keep every license, cancelled or not.
    assert_eq!(buckets(&store, keys::BY_SENDER, "ACMEBRK"), (1, 3));
}

/// Put the store's index back as layout 3 wrote it (one empty-valued key per license) and
/// mark the store as layout 3.
fn as_layout_3(store: &Store) {
    for (k, v) in index(store) {
        if !keys::POSTING_KINDS.contains(&k[0]) {
            continue;
        }
        store.trees.index.remove(&k).unwrap();
        let bits = postings::bits(&k, &v).unwrap();
        for m in postings::members(&k, bits, false) {
            store.trees.index.insert(m, &[]).unwrap();
        }
    }
    marked(store, 3);
}

/// Mark the store as of `layout` (an older one, made by a test) and flush it.
pub(super) fn marked(store: &Store, layout: u64) {
    store
        .trees
        .meta
        .insert(keys::STORE_LAYOUT, &layout.to_be_bytes())
        .unwrap();
    store.flush().unwrap();
}

/// The database itself, once sled's threads have let go of its lock.
fn raw(dir: &std::path::Path) -> sled::Db {
    let end = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        match sled::open(dir) {
            Ok(db) => return db,
            Err(e) if std::time::Instant::now() < end => {
                let _ = e;
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            Err(e) => panic!("{e}"),
        }
    }
}

fn licenses(store: &Store) -> Vec<License> {
    store.licenses_of("ACMEBRK", usize::MAX).unwrap()
}

#[test]
fn a_layout_3_index_becomes_postings_at_open_also_when_the_upgrade_is_cut_short() {
    let d = tempfile::tempdir().unwrap();
    let (want, want_licenses) = {
        let store = Store::open(d.path()).unwrap();
        // 1,200 licenses, five entries each: three units of the upgrade.
        fill(&store, 4, 300);
        let want = (index(&store), licenses(&store));
        as_layout_3(&store);
        let entries = store.trees.index.len();
        assert!(entries > 5_000, "{entries} index keys of layout 3");
        want
    };
    open_cut_short(d.path(), 3, keys::UPGRADE_V4);
    let store = Store::open(d.path()).unwrap();
    assert_eq!(index(&store), want, "the same postings as layout 4 writes");
    assert_eq!(licenses(&store), want_licenses);
    assert_upgraded(&store, &[keys::UPGRADE_V4, keys::UPGRADE_V4_COUNT]);
}

/// Open the store in `dir` with its upgrade stopped a few writes into its second unit, as a
/// kill would; it is still marked `layout`, with its progress kept under `progress`.
pub(super) fn open_cut_short(dir: &std::path::Path, layout: u64, progress: &[u8]) {
    {
        let unit = usize::try_from(super::layout::UPGRADE_UNIT).unwrap();
        super::journal::crash_point::after(Some(unit * 2 + 500));
        let r = Store::open(dir);
        super::journal::crash_point::after(None);
        let e = r.err().expect("the cut upgrade fails the open");
        assert!(e.is_io(), "{e}");
    }
    let db = raw(dir);
    let meta = db.open_tree("meta").unwrap();
    assert_eq!(
        meta.get(keys::STORE_LAYOUT).unwrap().as_deref(),
        Some(&layout.to_be_bytes()[..]),
        "not marked before it is done"
    );
    assert!(meta.get(progress).unwrap().is_some(), "progress kept");
}

/// The store is marked with this release's layout and the upgrade's `progress` keys are gone.
pub(super) fn assert_upgraded(store: &Store, progress: &[&[u8]]) {
    let meta = &store.trees.meta;
    assert_eq!(
        meta.get(keys::STORE_LAYOUT).unwrap().as_deref(),
        Some(&super::layout::STORE_LAYOUT.to_be_bytes()[..])
    );
    for k in progress {
        assert!(meta.get(k).unwrap().is_none(), "progress gone");
    }
}

#[test]
fn one_event_of_a_file_is_a_key_per_bucket_and_each_license_finds_it() {
    let d = tempfile::tempdir().unwrap();
    let store = Store::open(d.path()).unwrap();
    fill(&store, 1, 200);
    let year = year();
    let audit_keys = store
        .trees
        .index
        .scan_prefix([keys::AUDIT_OF_LICENSE, 0])
        .count();
    // Licenses 1..=200 named by the file's one event: buckets 0, 64, 128, 192.
    assert_eq!(audit_keys, 4);
    for seq in [1, 63, 64, 200] {
        let events = store
            .audit_of_license(LicenseNumber::new(year, seq), 10)
            .unwrap();
        assert_eq!(events.len(), 1, "license {seq}");
    }
    // A staff cancellation is a second event of that license only.
    cancel(&store, 70);
    let of = |seq| {
        store
            .audit_of_license(LicenseNumber::new(year, seq), 10)
            .unwrap()
            .len()
    };
    assert_eq!((of(70), of(71), of(69)), (2, 1, 1));
    // Newest first, and the limit counts the license's own events.
    let newest = store
        .audit_of_license(LicenseNumber::new(year, 70), 1)
        .unwrap();
    assert_eq!(newest.len(), 1);
    assert_eq!(newest[0].action, super::records::AuditAction::Cancel);
}
