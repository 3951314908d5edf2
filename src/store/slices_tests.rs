//! A big file committed in slices over a real store: the same outcome as one unit of change,
//! and nothing of it left when it is cut short (a crash inside a slice, a slice that fails),
//! while a crash inside its last unit is finished.

use super::journal::crash_point;
use super::{Committed, NewFiling, Store, StoreLedger};
use crate::config::Config;
use crate::filing::ack::FileFacts;
use crate::filing::rules::{AppStatus, FileContext, Verdict};
use chrono::NaiveDate;
use sha2::{Digest, Sha256};

fn day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 30).unwrap()
}

/// A generated file of `apps` applications of ACMEBRK.
fn file(apps: usize, seed: u64) -> (String, Vec<u8>) {
    let f = crate::generator::generate(&crate::generator::GenOptions {
        sender: "ACMEBRK".into(),
        count: 1,
        apps_per_file: apps,
        seed,
        today: day(),
    })
    .next()
    .unwrap();
    (f.name, f.bytes)
}

fn judge(store: &Store, bytes: &[u8]) -> Verdict {
    let cfg = Config::parse(crate::config::BUILT_IN, "built-in").unwrap();
    let settings = cfg.rule_settings();
    let registered = |id: &str| cfg.partner(id).is_some();
    let cx = FileContext {
        inbox_sender: "ACMEBRK",
        is_registered: &registered,
        filing_day: day(),
        sha256: Sha256::digest(bytes).into(),
        settings: &settings,
    };
    crate::filing::check(bytes, &cx, &mut StoreLedger::new(store)).unwrap()
}

fn commit(store: &Store, name: &str, bytes: &[u8], v: &Verdict) -> super::Result<Committed> {
    store.commit(&NewFiling {
        sender: "ACMEBRK",
        facts: FileFacts {
            file_name: name,
            sha256: Sha256::digest(bytes).into(),
            received_at: day().and_hms_opt(12, 0, 0).unwrap().and_utc(),
        },
        filing_day: day(),
        verdict: v,
        ack_name: "big.ack.xml",
        archive: "a/big.xml",
        mail_to: &["ops@acme.example".to_string()],
    })
}

type Dump = Vec<(&'static str, Vec<u8>, Vec<u8>)>;

/// Every tree's every entry; `ids` leaves out what carries an id sled hands out (audit
/// events, mail jobs and the audit's postings), which a reopened database numbers afresh.
fn dump(store: &Store, ids: bool) -> Dump {
    let mut all = Vec::new();
    for (id, tree) in store.trees.iter() {
        if !ids && matches!(id.name(), "audit" | "mail") {
            continue;
        }
        for kv in tree.iter() {
            let (k, v) = kv.unwrap();
            if !ids && id.name() == "index" && k[0] == super::keys::AUDIT_OF_LICENSE {
                continue;
            }
            all.push((id.name(), k.to_vec(), v.to_vec()));
        }
    }
    all
}

/// The store in `dir`, committing files of more than `slice` applications in slices.
fn store_at(dir: &std::path::Path, slice: usize) -> Store {
    let mut store = Store::open(dir).unwrap();
    store.slice_at(slice);
    store
}

/// A new store with a first small file in it.
fn prepared() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let (name, bytes) = file(30, 1);
    let v = judge(&store, &bytes);
    commit(&store, &name, &bytes, &v).unwrap();
    store.flush().unwrap();
    dir
}

#[test]
fn a_big_file_in_slices_ends_as_one_unit_of_change_would() {
    let (whole, sliced) = (prepared(), prepared());
    let (name, bytes) = file(450, 2);
    let outcome = |dir: &std::path::Path, slice: usize| {
        let store = store_at(dir, slice);
        let v = judge(&store, &bytes);
        let c = commit(&store, &name, &bytes, &v).unwrap();
        assert!(store.journal.is_empty(), "no journal or undo record left");
        (c.ack, c.issued, dump(&store, true))
    };
    let one = outcome(whole.path(), 10_000);
    // Slices of 100: four slices and the last unit.
    let five = outcome(sliced.path(), 100);
    assert_eq!(one.1.len(), 450);
    assert_eq!(one.0, five.0, "the same ack");
    assert_eq!(one.1, five.1, "the same licenses");
    assert!(one.2 == five.2, "the same store, key for key");
}

#[test]
fn a_crash_inside_a_slice_leaves_nothing_of_the_file_and_it_is_filed_again_the_same() {
    let (cut, clean) = (prepared(), prepared());
    let (name, bytes) = file(450, 2);
    let before = dump(&Store::open(cut.path()).unwrap(), true);
    {
        let store = store_at(cut.path(), 100);
        let v = judge(&store, &bytes);
        // Slice 0 applies a few hundred writes; stop inside slice 1, as a kill would.
        crash_point::after(Some(700));
        let r = commit(&store, &name, &bytes, &v);
        crash_point::after(None);
        assert!(r.unwrap_err().is_io());
        assert!(
            !store.journal.is_empty(),
            "undo records kept for the next open"
        );
    }
    let store = store_at(cut.path(), 100);
    assert!(dump(&store, true) == before, "the store as before the file");
    assert!(store.journal.is_empty());
    // Judged and filed again, it gets what it would have got without the crash.
    let v = judge(&store, &bytes);
    let again = commit(&store, &name, &bytes, &v).unwrap();
    let reference = store_at(clean.path(), 100);
    let v = judge(&reference, &bytes);
    let want = commit(&reference, &name, &bytes, &v).unwrap();
    assert_eq!(again.issued, want.issued);
    assert_eq!(again.ack, want.ack);
    assert!(dump(&store, false) == dump(&reference, false));
}

#[test]
fn a_crash_inside_the_last_unit_is_finished_at_open() {
    let (cut, clean) = (prepared(), prepared());
    let (name, bytes) = file(250, 2);
    let want = {
        let store = store_at(clean.path(), 100);
        let v = judge(&store, &bytes);
        commit(&store, &name, &bytes, &v).unwrap();
        dump(&store, true)
    };
    let applied = {
        let store = store_at(cut.path(), 100);
        let v = judge(&store, &bytes);
        crash_point::after(Some(usize::MAX / 2));
        commit(&store, &name, &bytes, &v).unwrap();
        usize::MAX / 2 - crash_point::left().unwrap()
    };
    // The same again, stopped a few writes before the end: inside the last unit.
    let cut2 = prepared();
    {
        let store = store_at(cut2.path(), 100);
        let v = judge(&store, &bytes);
        crash_point::after(Some(applied - 3));
        let r = commit(&store, &name, &bytes, &v);
        crash_point::after(None);
        assert!(r.unwrap_err().is_io());
    }
    let store = store_at(cut2.path(), 100);
    assert!(
        store.journal.is_empty(),
        "replayed, and the undo records gone with it"
    );
    assert!(
        dump(&store, true) == want,
        "the file whole, as without the crash"
    );
}

#[test]
fn a_slice_that_fails_is_undone_at_once_and_the_store_goes_on() {
    let d = prepared();
    let store = store_at(d.path(), 100);
    let before = dump(&store, true);
    let (name, bytes) = file(450, 2);
    let mut v = judge(&store, &bytes);
    // The rules' bug the store refuses to commit: an issued application without its data,
    // in the third slice.
    let bad = &mut v.apps[250];
    assert_eq!(bad.status, AppStatus::Issued);
    bad.data = None;
    let e = commit(&store, &name, &bytes, &v).unwrap_err();
    assert!(e.to_string().contains("without the data it needs"), "{e}");
    assert!(dump(&store, true) == before, "slices 0 and 1 undone");
    assert!(store.journal.is_empty());
    // The store still takes the next file.
    let (name, bytes) = file(20, 3);
    let v = judge(&store, &bytes);
    assert_eq!(commit(&store, &name, &bytes, &v).unwrap().issued.len(), 20);
}
