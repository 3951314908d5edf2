//! The store's layout mark through the real binary: a database is marked with the layout it
//! is in, and a database of a layout newer than the binary knows is refused with what to do.
#![allow(
    clippy::unwrap_used,
    clippy::too_many_lines,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)] // Test code: a panic is the failure report, a scenario reads top to bottom.

mod common;
mod daemon_harness;

use daemon_harness::*;

/// The database of a stopped daemon, opened with sled itself (which may hold its lock for a
/// moment after the last handle is dropped).
fn open_sled(env: &Env) -> sled::Db {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        match sled::open(env.data.join("db")) {
            Err(e)
                if e.to_string().contains("could not acquire lock")
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(10))
            }
            r => return r.expect("open the database with sled"),
        }
    }
}

/// The `store_layout` mark of a stopped daemon's database.
fn layout_mark(env: &Env) -> Option<u64> {
    let db = open_sled(env);
    let meta = db.open_tree("meta").expect("meta tree");
    meta.get("store_layout")
        .expect("read meta")
        .map(|v| u64::from_be_bytes(v.as_ref().try_into().expect("eight bytes")))
}

fn set_layout_mark(env: &Env, layout: u64) {
    let db = open_sled(env);
    db.open_tree("meta")
        .expect("meta tree")
        .insert("store_layout", &layout.to_be_bytes())
        .expect("write the mark");
    db.flush().expect("flush");
}

#[test]
fn a_database_newer_than_the_binary_is_refused_with_what_to_do() {
    let env = Env::new();
    let (inbox, outbox) = (env.inbox_of(ACME), env.outbox_of(ACME));
    {
        let mut d = env.start_ready();
        drop_file(&inbox, "a.xml", valid_with_control("5001"));
        d.wait_ack(&outbox, "a.ack.xml");
        d.signal(rustix::process::Signal::TERM);
        assert_eq!(d.wait_exit(WAIT).code(), Some(0));
    }
    let known = layout_mark(&env).expect("the daemon marks the database with its layout");
    // As a later release would leave it.
    set_layout_mark(&env, known + 1);
    let mut d = env.start();
    let st = d.wait_exit(WAIT);
    assert!(!st.success(), "refused: {st}");
    let err = d.stderr();
    for words in [
        format!("has store layout {}", known + 1),
        "newer than this release".into(),
        format!("(layout {known})"),
        "run the release that wrote it".into(),
        "restore a backup".into(),
    ] {
        assert!(err.contains(&words), "{words:?} in:\n{err}");
    }
    assert_eq!(
        layout_mark(&env),
        Some(known + 1),
        "the refused database is left as it was"
    );
    // The same binary on its own layout starts again.
    set_layout_mark(&env, known);
    let mut d = env.start_ready();
    drop_file(&inbox, "b.xml", valid_with_control("5002"));
    assert_eq!(
        parse_ack(&d.wait_ack(&outbox, "b.ack.xml")).status,
        "accepted"
    );
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).expect("create folder");
    for e in std::fs::read_dir(from).expect("read fixture folder") {
        let e = e.expect("fixture entry");
        let target = to.join(e.file_name());
        if e.file_type().expect("file type").is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).expect("copy fixture file");
        }
    }
}

/// How many keys of the `licenses` tree are of layout 2 (bare license numbers, six bytes).
fn layout_2_licenses(env: &Env) -> usize {
    let db = open_sled(env);
    let t = db.open_tree("licenses").expect("licenses tree");
    t.iter()
        .keys()
        .filter(|k| k.as_ref().expect("key").len() == 6)
        .count()
}

/// How many index entries of the searches and the audit are of layouts 2 and 3 (one key per
/// license, with an empty value), and how many are buckets of layout 4 (an 8-byte bitmap).
fn index_entries(env: &Env) -> (usize, usize) {
    let db = open_sled(env);
    let t = db.open_tree("index").expect("index tree");
    let mut n = (0, 0);
    for kv in t.iter() {
        let (k, v) = kv.expect("index entry");
        if !b"adeist".contains(&k[0]) {
            continue;
        }
        match v.len() {
            0 => n.0 += 1,
            8 => n.1 += 1,
            other => panic!("an index entry of {other} bytes"),
        }
    }
    n
}

/// The unit values: (keys of one product line as layouts 2 to 4 kept them, buckets of layout
/// 5, product lines in all). A key is the 6-digit HTS, a 0, the day (4 bytes), a license
/// number (6) and, for a line, its line number (2); a bucket holds 19 bytes a line.
fn unit_values(env: &Env) -> (usize, usize, usize) {
    let db = open_sled(env);
    let t = db.open_tree("unit_values").expect("unit_values tree");
    let mut n = (0, 0, 0);
    for kv in t.iter() {
        let (k, v) = kv.expect("unit value");
        match k.len() {
            19 => (n.0, n.2) = (n.0 + 1, n.2 + 1),
            17 => (n.1, n.2) = (n.1 + 1, n.2 + v.len() / 19),
            other => panic!("a unit-value key of {other} bytes"),
        }
    }
    n
}

/// How many keys of the `licenses` tree are license groups of layout 3 (`g` and a number).
fn license_groups(env: &Env) -> usize {
    let db = open_sled(env);
    let t = db.open_tree("licenses").expect("licenses tree");
    t.scan_prefix(b"g")
        .keys()
        .filter(|k| k.as_ref().expect("key").len() == 7)
        .count()
}

/// The layout this binary writes, as its daemon marks a database it makes new (no command
/// tells it): what an upgraded database must be marked with, whichever layout that is.
fn layout_this_binary_writes() -> u64 {
    let env = Env::new();
    let mut d = env.start_ready();
    d.signal(rustix::process::Signal::TERM);
    assert_eq!(d.wait_exit(WAIT).code(), Some(0));
    layout_mark(&env).expect("a new database is marked with its layout")
}

/// A database a release wrote with its own commands (`tests/fixtures/make_store.py`), and
/// `expected.json`, what that release answered about it.
struct Fixture {
    /// Under `tests/fixtures`.
    dir: &'static str,
    /// The layout that release wrote.
    layout: u64,
}

impl Fixture {
    fn path(&self) -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(self.dir)
    }

    /// The database is as that release left it (checked on the copy, before any open).
    fn assert_as_written(&self, env: &Env) {
        match self.layout {
            2 => {
                assert!(layout_2_licenses(env) > 0, "the fixture is of layout 2");
                assert_eq!(index_entries(env).1, 0, "and its index one key per license");
                assert_eq!(layout_mark(env), None, "the fixture carries no mark");
            }
            3 => {
                assert_eq!(layout_mark(env), Some(3), "the fixture is marked layout 3");
                assert!(
                    license_groups(env) > 0,
                    "the fixture keeps licenses in groups"
                );
                assert_eq!(layout_2_licenses(env), 0, "and none under a bare number");
                let (old, buckets) = index_entries(env);
                assert!(old > 0 && buckets == 0, "its index is one key per license");
            }
            4 => {
                assert_eq!(layout_mark(env), Some(4), "the fixture is marked layout 4");
                let (old, buckets) = index_entries(env);
                assert!(old == 0 && buckets > 0, "its index is kept as postings");
                let (lines, buckets, _) = unit_values(env);
                assert!(
                    lines > 0 && buckets == 0,
                    "its unit values are one key per product line"
                );
            }
            other => panic!("no precondition for a fixture of layout {other}"),
        }
    }
}

/// Copy a fixture's database into a new environment with the partners and staff it was made
/// with; returns what its release answered.
fn env_of(fixture: &Fixture) -> (Env, serde_json::Value) {
    let expected: serde_json::Value = serde_json::from_slice(
        &std::fs::read(fixture.path().join("expected.json")).expect("expected.json"),
    )
    .expect("expected.json is JSON");
    let written_by = expected["written_by"].as_str().unwrap();
    assert!(
        written_by.ends_with(&format!("(store layout v{})", fixture.layout)),
        "{}: {written_by}",
        fixture.dir
    );
    let env = Env::new();
    env.append_config(
        "[[partner]]\nid = \"QUIETBRK\"\nname = \"Quiet Brokerage\"\nemails = [\"quiet@quiet.example\"]\n",
    );
    env.add_staff("supervisor");
    copy_dir(&fixture.path().join("db"), &env.data.join("db"));
    (env, expected)
}

/// The database written by release e38d35e (tests/fixtures/store-v2, layout 2) is upgraded the
/// first time a newer binary opens it, and every license, receipt, mail job, hold, decision,
/// audit event, counter and monitor cell that release listed is found again.
#[test]
fn a_database_of_layout_2_is_upgraded_once_and_answers_as_before() {
    upgraded_once_and_answers_as_before(&Fixture {
        dir: "store-v2",
        layout: 2,
    });
}

/// The same of the database written by release eb1c40c (tests/fixtures/store-v3, layout 3).
#[test]
fn a_database_of_layout_3_is_upgraded_once_and_answers_as_before() {
    upgraded_once_and_answers_as_before(&Fixture {
        dir: "store-v3",
        layout: 3,
    });
}

/// The same of the database written by release 17b48ba (tests/fixtures/store-v4, layout 4).
#[test]
fn a_database_of_layout_4_is_upgraded_once_and_answers_as_before() {
    upgraded_once_and_answers_as_before(&Fixture {
        dir: "store-v4",
        layout: 4,
    });
}

fn upgraded_once_and_answers_as_before(fixture: &Fixture) {
    let writes = layout_this_binary_writes();
    assert!(
        writes >= fixture.layout,
        "this binary writes layout {writes}, older than the fixture's {}",
        fixture.layout
    );
    let (env, expected) = env_of(fixture);
    fixture.assert_as_written(&env);
    let product_lines = unit_values(&env).2;

    // 1. The real binary, offline: the monitor export opens the store, which upgrades it.
    let o = env.aim(&["monitor", "export", "--format", "csv"]);
    let (out, err) = out_text(&o);
    assert!(o.status.success(), "{err}");
    assert_eq!(out, expected["monitor_csv"].as_str().unwrap());
    assert_eq!(layout_mark(&env), Some(writes));
    assert_eq!(
        layout_2_licenses(&env),
        0,
        "no license left under its bare number"
    );
    if writes >= 4 {
        let (old, buckets) = index_entries(&env);
        assert_eq!(old, 0, "no index entry left one key per license");
        assert!(buckets > 0, "the searches' index is kept as postings");
    }
    if writes >= 5 {
        let (lines, buckets, in_all) = unit_values(&env);
        assert_eq!(lines, 0, "no unit value left one key per product line");
        assert!(buckets > 0, "unit values are kept in buckets");
        assert_eq!(in_all, product_lines, "every product line moved, once");
    }

    // 2. The library: what the commands do not show.
    let seq = {
        let store = aim::store::Store::open(&env.data.join("db")).expect("open the store");
        let mail = store.mail_counts().unwrap();
        let status = &expected["status"];
        assert_eq!(
            (mail.dead, mail.retrying, mail.queued),
            (
                status["mail_dead"].as_u64().unwrap() as usize,
                status["mail_retrying"].as_u64().unwrap() as usize,
                status["mail_queued"].as_u64().unwrap() as usize
            )
        );
        assert!(!store.sent_mail(100).unwrap().is_empty(), "sent mail kept");
        for job in store.dead_letters().unwrap() {
            assert!(
                !store.mail_ack(&job).unwrap().is_empty(),
                "a dead letter's ack is found"
            );
        }
        let day =
            chrono::NaiveDate::parse_from_str(expected["filing_day"].as_str().unwrap(), "%Y-%m-%d")
                .unwrap();
        let d = store.day_stats(day).unwrap();
        assert_eq!(
            (
                d.files,
                d.applications,
                d.licenses_issued,
                d.held,
                d.rejected,
                d.files_rejected
            ),
            (
                status["files_today"].as_u64().unwrap(),
                status["applications_today"].as_u64().unwrap(),
                status["licenses_issued_today"].as_u64().unwrap(),
                status["held_today"].as_u64().unwrap(),
                status["rejected_today"].as_u64().unwrap(),
                status["files_rejected_today"].as_u64().unwrap()
            )
        );
        assert_eq!(
            store.licenses_on_record().unwrap(),
            status["licenses_on_record"].as_u64().unwrap()
        );
        // Every file that issued or changed a license: its receipt, with its ack.
        for (n, lic) in expected["licenses"].as_object().unwrap() {
            for event in lic["history"].as_array().unwrap() {
                let sha =
                    aim::store::sha_from_hex(event["file_sha256"].as_str().unwrap()).expect("sha");
                let r = store
                    .receipt(lic["sender"].as_str().unwrap(), &sha)
                    .unwrap()
                    .unwrap_or_else(|| panic!("the receipt of {n}'s {event}"));
                assert!(
                    r.ack.starts_with(b"<?xml"),
                    "{n}: the receipt of {} with its ack",
                    event["file_sha256"]
                );
            }
        }
        use aim::store::{Decision, Handle, HeldLookup};
        let look = |h: &str| store.lookup_handle(&Handle::parse(h).unwrap()).unwrap();
        assert!(matches!(
            look("ACMEBRK:777:H1"),
            HeldLookup::Decided(d) if matches!(d.decision, Decision::Approved { .. })
        ));
        assert!(matches!(
            look("ACMEBRK:777:H2"),
            HeldLookup::Decided(d) if matches!(d.decision, Decision::Rejected { .. })
        ));
        assert!(matches!(look("ACMEBRK:777:H3"), HeldLookup::Held { .. }));
        store.license_sequence().unwrap()
    };
    assert_eq!(
        layout_mark(&env),
        Some(writes),
        "upgraded once: opened again as it is"
    );

    // 3. The daemon answers as the release that wrote the fixture did.
    let mut d = env.start_ready();
    for (n, lic) in expected["licenses"].as_object().unwrap() {
        let o = env.aim(&["license", "show", n, "--json"]);
        assert_eq!(&json_of(&o), lic, "license {n}");
    }
    assert_eq!(
        json_of(&env.aim(&["review", "list", "--json"])),
        expected["held"]
    );
    let audit = json_of(&env.aim(&["audit", "--limit", "1000", "--json"]));
    for e in expected["audit"].as_array().unwrap() {
        assert!(
            audit.as_array().unwrap().contains(e),
            "audit event {e} kept"
        );
    }
    // Each license's own events, found through the audit's index of licenses.
    for n in expected["licenses"].as_object().unwrap().keys() {
        let of = json_of(&env.aim(&["audit", "--license", n, "--json"]));
        let of = of.as_array().unwrap();
        assert!(!of.is_empty(), "no audit event of {n}");
        for e in of {
            assert!(audit.as_array().unwrap().contains(e), "{e} of {n}");
        }
        assert!(
            of.iter().any(|e| e.to_string().contains(n.as_str())),
            "no event of {n} names it: {of:?}"
        );
    }
    let status = json_of(&env.aim(&["status", "--json"]));
    for k in ["licenses_on_record", "pending_review"] {
        assert_eq!(status[k], expected["status"][k], "{k}");
    }
    // Still working: a new file gets the next number after the fixture's last.
    drop_file(&env.inbox_of(ACME), "new.xml", valid_with_control("5003"));
    let ack = parse_ack(&d.wait_ack(&env.outbox_of(ACME), "new.ack.xml"));
    assert_eq!(ack.status, "accepted", "{ack:#?}");
    let highest = expected["licenses"]
        .as_object()
        .unwrap()
        .keys()
        .map(|n| n[9..16].parse::<u64>().unwrap())
        .max()
        .unwrap();
    assert!(seq >= highest, "the counter survived: {seq} >= {highest}");
    let next = ack.apps[0].license.clone().expect("a license number");
    assert_eq!(next[9..16].parse::<u64>().unwrap(), seq + 1, "{ack:#?}");
    d.signal(rustix::process::Signal::TERM);
    assert_eq!(d.wait_exit(WAIT).code(), Some(0));
    assert_eq!(
        layout_mark(&env),
        Some(writes),
        "the daemon leaves the mark as the upgrade wrote it"
    );
}

/// Make the fixture a larger database of layout 2: `extra` copies of its first license under
/// the next numbers, stored as release e38d35e stored a license (the number's six bytes →
/// version byte 1 and the license as JSON), the counters moved on, and the monitor's cells
/// marked of an earlier layout so that the new release rebuilds them from every license.
/// Returns the last license number's sequence.
fn grow_layout_2(env: &Env, extra: u64) -> u64 {
    let db = open_sled(env);
    let (lic, meta) = (
        db.open_tree("licenses").unwrap(),
        db.open_tree("meta").unwrap(),
    );
    let counter = |k: &str| {
        meta.get(k)
            .unwrap()
            .map_or(0, |v| u64::from_be_bytes(v.as_ref().try_into().unwrap()))
    };
    let seq = counter("license_seq");
    let (_, first) = lic.iter().next().unwrap().unwrap();
    assert_eq!(first[0], 1, "a layout-2 license record");
    let mut v: serde_json::Value = serde_json::from_slice(&first[1..]).unwrap();
    let year = v["number"]["year"].as_u64().unwrap() as u16;
    let mut batch = sled::Batch::default();
    for n in seq + 1..=seq + extra {
        v["number"]["seq"] = n.into();
        let mut value = vec![1u8];
        serde_json::to_writer(&mut value, &v).unwrap();
        let mut k = year.to_be_bytes().to_vec();
        k.extend_from_slice(&(n as u32).to_be_bytes());
        batch.insert(k, value);
    }
    lic.apply_batch(batch).unwrap();
    let on_record = counter("licenses_on_record");
    meta.insert("license_seq", &(seq + extra).to_be_bytes())
        .unwrap();
    meta.insert("licenses_on_record", &(on_record + extra).to_be_bytes())
        .unwrap();
    meta.remove("cells_layout").unwrap();
    db.flush().unwrap();
    seq + extra
}

/// The upgrade runs in units of change: a SIGKILL between them leaves every license either in
/// layout 2 or in its group (never half), the progress counted in the same units, and the
/// next start finishes it.
#[test]
fn a_kill_during_the_upgrade_is_finished_by_the_next_start() {
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/store-v2");
    let env = Env::new();
    env.append_config(
        "[[partner]]\nid = \"QUIETBRK\"\nname = \"Quiet Brokerage\"\nemails = [\"quiet@quiet.example\"]\n",
    );
    env.add_staff("supervisor");
    copy_dir(&fixture.join("db"), &env.data.join("db"));
    let last = grow_layout_2(&env, 40_000);
    let total = layout_2_licenses(&env);
    let expected: serde_json::Value =
        serde_json::from_slice(&std::fs::read(fixture.join("expected.json")).unwrap()).unwrap();
    let year: u16 = expected["filing_day"].as_str().unwrap()[..4]
        .parse()
        .unwrap();
    let on_record = expected["status"]["licenses_on_record"].as_u64().unwrap();

    let mut d = env.start();
    let log = d.stderr_path.clone();
    d.wait_for("the upgrade's first unit", WAIT, || {
        std::fs::read_to_string(&log)
            .ok()
            .filter(|s| s.contains("licenses moved so far"))
            .map(|_| ())
    });
    d.kill();
    let left = layout_2_licenses(&env);
    assert!(
        left > 0 && left < total,
        "killed during the upgrade: {left} of {total} licenses left"
    );
    assert_eq!(layout_mark(&env), None, "not marked before it is done");
    let progress = {
        let db = open_sled(&env);
        let v = db.open_tree("meta").unwrap().get("upgrade_v3").unwrap();
        u64::from_be_bytes(v.expect("progress").as_ref().try_into().unwrap())
    };
    assert_eq!(
        progress as usize,
        total - left,
        "the progress is written with the licenses it counts"
    );

    let mut d = env.start_ready();
    for n in [1, last - 20_000, last] {
        let number = license_number(year, n as u32);
        let o = env.aim(&["license", "show", &number, "--json"]);
        let shown = json_of(&o);
        assert_eq!(shown["license"], number.as_str(), "{shown}");
        assert_eq!(shown["sender"], "ACMEBRK", "{shown}");
    }
    let status = json_of(&env.aim(&["status", "--json"]));
    assert_eq!(status["licenses_on_record"], on_record + 40_000, "{status}");
    d.signal(rustix::process::Signal::TERM);
    assert_eq!(d.wait_exit(WAIT).code(), Some(0));
    assert_eq!(layout_mark(&env), Some(layout_this_binary_writes()));
    assert_eq!(layout_2_licenses(&env), 0);
}
