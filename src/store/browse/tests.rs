//! The browser over a real store: pages, filters, counts.

use super::*;
use crate::config::Config;
use crate::store::Store;

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
    let v =
        crate::filing::check(&bad.bytes, &cx, &mut crate::store::StoreLedger::new(&store)).unwrap();
    assert!(v.file_error.is_some());
    store
        .commit(&crate::store::NewFiling {
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
