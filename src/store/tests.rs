//! Store tests: the unit of change through intake commits and staff actions.
#![allow(clippy::cast_possible_truncation, reason = "test figures are small")]

use super::*;
use crate::config::Config;
use crate::filing::ack::FileFacts;
use crate::filing::model::LicenseNumber;
use crate::filing::rules::{AppStatus, FileContext, Ledger, Verdict};
use crate::generator::fill::{Generated, commit_generated};
use chrono::{DateTime, Days, NaiveDate, Utc};
use rust_decimal::Decimal;

const SINGLE: &str = include_str!("../../tests/fixtures/valid-single.xml");

fn judge(store: &Store, xml: &str, day: NaiveDate) -> Verdict {
    judge_watching(store, xml, day, &[])
}

/// Judge with these countries on the review watch list.
fn judge_watching(store: &Store, xml: &str, day: NaiveDate, watch: &[&str]) -> Verdict {
    let cfg = Config::parse(crate::config::BUILT_IN, "built-in").unwrap();
    let mut settings = cfg.rule_settings();
    settings.watch_countries = watch
        .iter()
        .map(|c| crate::filing::model::Country::parse(c).unwrap())
        .collect();
    let registered = |id: &str| cfg.partner(id).is_some();
    let sha = sha_of(xml);
    let cx = FileContext {
        inbox_sender: "ACMEBRK",
        is_registered: &registered,
        filing_day: day,
        sha256: sha,
        settings: &settings,
    };
    let mut ledger = StoreLedger::new(store);
    crate::filing::check(xml.as_bytes(), &cx, &mut ledger).unwrap()
}

fn commit(store: &Store, xml: &str, day: NaiveDate) -> (Verdict, Committed) {
    let v = judge(store, xml, day);
    let c = commit_verdict(store, xml, &v, day);
    (v, c)
}

fn commit_verdict(store: &Store, xml: &str, v: &Verdict, day: NaiveDate) -> Committed {
    let sha = sha_of(xml);
    let at = day.and_hms_opt(12, 0, 0).unwrap().and_utc();
    store
        .commit(&NewFiling {
            sender: "ACMEBRK",
            facts: FileFacts {
                file_name: "x.xml",
                sha256: sha,
                received_at: at,
            },
            filing_day: day,
            verdict: v,
            ack_name: "x.ack.xml",
            archive: "a/x.xml",
            mail_to: &["a@b.example".to_string()],
        })
        .unwrap()
}

#[test]
fn a_watched_country_holds_the_application_for_review() {
    let d = tempfile::tempdir().unwrap();
    let store = Store::open(d.path()).unwrap();
    let xml = with_control(5);
    let v = judge_watching(&store, &xml, day(), &["CA"]);
    assert_eq!(v.apps[0].status, AppStatus::PendingReview);
    let c = commit_verdict(&store, &xml, &v, day());
    assert!(c.issued.is_empty(), "no license while held");
    let held = store.held().unwrap();
    assert_eq!(held.len(), 1);
    assert_eq!(held[0].verdict.id.as_deref(), Some("A1"));
    assert!(
        held[0]
            .verdict
            .held_for
            .iter()
            .any(|w| w.detail.contains("CA is on the watch list")),
        "{:?}",
        held[0].verdict.held_for
    );
    assert!(
        store.cells("2026-12").unwrap().is_empty(),
        "held applications stay out of the monitor"
    );
    let ack = String::from_utf8(c.ack).unwrap();
    assert!(ack.contains("status=\"pending-review\""), "{ack}");
    assert!(!ack.contains("<LicenseNumber>"), "{ack}");
}

fn day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 28).unwrap()
}

fn with_control(n: u32) -> String {
    SINGLE.replace(
        "<ControlNumber>000000101</ControlNumber>",
        &format!("<ControlNumber>{n}</ControlNumber>"),
    )
}

#[test]
fn issue_correct_cancel_keep_aggregates_in_step() {
    let d = tempfile::tempdir().unwrap();
    let store = Store::open(d.path()).unwrap();
    let (_, c) = commit(&store, &with_control(1), day());
    assert_eq!(c.issued.len(), 1);
    let n = c.issued[0];
    assert_eq!(n, LicenseNumber::new(2026, 1));
    let audit = store.audit_tail(5).unwrap();
    assert_eq!(audit[0].action, AuditAction::Receive);
    assert!(
        audit[0]
            .detail
            .ends_with(&format!("accepted (1 applications); issued {n}")),
        "{}",
        audit[0].detail
    );
    let cells = store.cells("2026-12").unwrap();
    let origin = cells
        .iter()
        .find(|c| c.dimension == "origin" && c.key == "CA")
        .unwrap();
    assert_eq!(origin.cell.licenses, 1);
    assert_eq!(origin.cell.kg.to_string(), "12500.000");
    assert_eq!(origin.cell.importers().len(), 1);
    assert_eq!(origin.cell.filers.keys().collect::<Vec<_>>(), ["ACMEBRK"]);

    // A correction replaces the data: 2 products of the same category count one license.
    let corrected = with_control(2)
        .replace(
            "action=\"new\"",
            &format!("action=\"correct\" license=\"{n}\""),
        )
        .replace(
            "<QuantityKg>12500.000</QuantityKg>",
            "<QuantityKg>1000</QuantityKg>",
        );
    let (v, _) = commit(&store, &corrected, day());
    assert_eq!(
        v.apps[0].status,
        AppStatus::Corrected,
        "{:?}",
        v.apps[0].errors
    );
    let cells = store.cells("2026-12").unwrap();
    let origin = cells
        .iter()
        .find(|c| c.dimension == "origin" && c.key == "CA")
        .unwrap();
    assert_eq!(
        (origin.cell.licenses, origin.cell.kg),
        (1, Decimal::from(1000))
    );
    assert_eq!(store.license(n).unwrap().unwrap().history.len(), 2);

    let cancel = format!(
        "<LicenseFiling xmlns=\"urn:aim:filing:1\" version=\"1.0\"><Interchange><SenderId>ACMEBRK</SenderId><ControlNumber>3</ControlNumber><CreatedAt>2026-11-28T10:00:00Z</CreatedAt></Interchange><Application id=\"C\" action=\"cancel\" license=\"{n}\"><Reason>no shipment</Reason></Application></LicenseFiling>"
    );
    let (v, _) = commit(&store, &cancel, day());
    assert_eq!(v.apps[0].status, AppStatus::Cancelled);
    assert!(
        store.cells("2026-12").unwrap().is_empty(),
        "a cancelled license leaves the aggregates"
    );
    assert_eq!(
        store.license(n).unwrap().unwrap().status,
        LicenseStatus::Cancelled
    );
    // Cancelling again: A402.
    let again = cancel.replace("<ControlNumber>3<", "<ControlNumber>4<");
    let v = judge(&store, &again, day());
    assert_eq!(v.apps[0].errors[0].code, crate::filing::codes::Code::A402);
}

#[test]
fn sequence_survives_reopening_and_control_numbers_are_kept() {
    let d = tempfile::tempdir().unwrap();
    {
        let store = Store::open(d.path()).unwrap();
        commit(&store, &with_control(1), day());
        commit(&store, &with_control(2), day());
        store.flush().unwrap();
    }
    let store = Store::open(d.path()).unwrap();
    let (_, c) = commit(&store, &with_control(3), day());
    assert_eq!(c.issued, vec![LicenseNumber::new(2026, 3)]);
    assert!(store.control_owner("ACMEBRK", 2).unwrap().is_some());
    // Same number, different bytes: F005.
    let v = judge(
        &store,
        &with_control(2).replace("Jane Roe", "John Roe"),
        day(),
    );
    assert_eq!(v.file_error.unwrap().code, crate::filing::codes::Code::F005);
    assert_eq!(store.licenses_of("ACMEBRK", 10).unwrap().len(), 3);
}

#[test]
fn unfinished_deliveries_until_marked_done() {
    let d = tempfile::tempdir().unwrap();
    let store = Store::open(d.path()).unwrap();
    let xml = with_control(9);
    commit(&store, &xml, day());
    let sha = sha_of(&xml);
    assert_eq!(store.unfinished().unwrap().len(), 1);
    store.mark_done("ACMEBRK", &sha, 0).unwrap();
    assert!(store.unfinished().unwrap().is_empty());
    let again = Delivery {
        file_name: "y.xml".into(),
        ack_name: "y.ack.xml".into(),
        received_at: Utc::now(),
        archive: "a/y.xml".into(),
        done: false,
    };
    let (r, i) = store
        .add_delivery("ACMEBRK", &sha, again, &["a@b.example".into()])
        .unwrap();
    assert_eq!((i, r.deliveries.len()), (1, 2));
    assert_eq!(store.unfinished().unwrap().len(), 1);
    // A group commit's deliveries are marked done together: another file and the second
    // delivery of the first, in one unit of change.
    let other = with_control(10);
    commit(&store, &other, day());
    let other_sha = sha_of(&other);
    assert_eq!(store.unfinished().unwrap().len(), 2);
    store
        .mark_all_done(&[("ACMEBRK", sha, 1), ("ACMEBRK", other_sha, 0)])
        .unwrap();
    assert!(store.unfinished().unwrap().is_empty());
    assert!(store.journal.is_empty());
}

#[test]
fn mail_jobs_move_through_their_states() {
    let d = tempfile::tempdir().unwrap();
    let store = Store::open(d.path()).unwrap();
    commit(&store, &with_control(1), day());
    commit(&store, &with_control(2), day());
    let now = Utc::now();
    let due = store.due_mail(now, 10).unwrap();
    assert_eq!(due.len(), 2);
    let c = store.mail_counts().unwrap();
    assert_eq!((c.queued, c.retrying, c.dead), (2, 0, 0));
    let mut sent = due[0].clone();
    let old = sent.next_attempt;
    sent.state = MailState::Sent;
    sent.sent_at = Some(now);
    store.settle_mail(old, &sent).unwrap();
    let mut retry = due[1].clone();
    let old = retry.next_attempt;
    retry.state = MailState::Retrying;
    retry.next_attempt = now + chrono::Duration::hours(1);
    store.settle_mail(old, &retry).unwrap();
    assert!(
        store.due_mail(now, 10).unwrap().is_empty(),
        "the retry is not due yet"
    );
    assert_eq!(
        store.next_mail_due().unwrap(),
        Some(DateTime::from_timestamp_millis(retry.next_attempt.timestamp_millis()).unwrap())
    );
    let c = store.mail_counts().unwrap();
    assert_eq!((c.queued, c.retrying, c.dead), (0, 1, 0));
    let mut dead = retry.clone();
    dead.state = MailState::Dead;
    dead.last_error = Some("550 no".into());
    store.settle_mail(retry.next_attempt, &dead).unwrap();
    assert_eq!(
        store.dead_letters().unwrap()[0].last_error.as_deref(),
        Some("550 no")
    );
}

#[test]
fn w310_median_needs_twenty_licenses() {
    let d = tempfile::tempdir().unwrap();
    let store = Store::open(d.path()).unwrap();
    for n in 0..19 {
        commit(&store, &with_control(100 + n), day());
    }
    let ledger = StoreLedger::new(&store);
    assert_eq!(ledger.unit_value_median("760612", day()).unwrap(), None);
    commit(&store, &with_control(200), day());
    assert_eq!(
        StoreLedger::new(&store)
            .unit_value_median("760612", day())
            .unwrap()
            .unwrap()
            .to_string(),
        "3300.00"
    );
    // Six times the median: W310.
    let high = with_control(300).replace(
        "<CustomsValueUsd>41250.00</CustomsValueUsd>",
        "<CustomsValueUsd>247500.01</CustomsValueUsd>",
    );
    let v = judge(&store, &high, day());
    assert!(
        v.apps[0]
            .warnings
            .iter()
            .any(|w| w.code == crate::filing::codes::Code::W310),
        "{:?}",
        v.apps[0]
    );
    let fine = with_control(301).replace(
        "<CustomsValueUsd>41250.00</CustomsValueUsd>",
        "<CustomsValueUsd>206250.00</CustomsValueUsd>",
    );
    let v = judge(&store, &fine, day());
    assert!(
        v.apps[0]
            .warnings
            .iter()
            .all(|w| w.code != crate::filing::codes::Code::W310)
    );
    // Outside the 90-day window the history no longer counts.
    assert_eq!(
        StoreLedger::new(&store)
            .unit_value_median("760612", day() + Days::new(90))
            .unwrap(),
        None
    );
}

/// A new application of `importer` from `origin`, `kg` kilograms, importing on `import`.
fn filing(control: u32, origin: &str, importer: &str, kg: u32, import: &str) -> String {
    with_control(control)
        .replace(
            "<CountryOfOrigin>CA<",
            &format!("<CountryOfOrigin>{origin}<"),
        )
        .replace(
            "<Importer>Northwind Metals Inc<",
            &format!("<Importer>{importer}<"),
        )
        .replace("<QuantityKg>12500.000<", &format!("<QuantityKg>{kg}<"))
        .replace(
            "<ExpectedImportDate>2026-12-05<",
            &format!("<ExpectedImportDate>{import}<"),
        )
}

fn as_correction(xml: &str, n: LicenseNumber) -> String {
    xml.replace(
        "action=\"new\"",
        &format!("action=\"correct\" license=\"{n}\""),
    )
}

fn as_cancel(control: u32, n: LicenseNumber) -> String {
    format!(
        "<LicenseFiling xmlns=\"urn:aim:filing:1\" version=\"1.0\"><Interchange><SenderId>ACMEBRK</SenderId><ControlNumber>{control}</ControlNumber><CreatedAt>2026-11-28T10:00:00Z</CreatedAt></Interchange><Application id=\"C\" action=\"cancel\" license=\"{n}\"><Reason>no shipment</Reason></Application></LicenseFiling>"
    )
}

fn sha_of(xml: &str) -> [u8; 32] {
    sha2::Digest::finalize(sha2::Digest::chain_update(
        sha2::Sha256::default(),
        xml.as_bytes(),
    ))
    .into()
}

fn commit_at(store: &Store, xml: &str, v: &Verdict, name: &str) -> Committed {
    store
        .commit(&NewFiling {
            sender: "ACMEBRK",
            facts: FileFacts {
                file_name: name,
                sha256: sha_of(xml),
                received_at: day().and_hms_opt(12, 0, 0).unwrap().and_utc(),
            },
            filing_day: day(),
            verdict: v,
            ack_name: &format!("{}.ack.xml", name.trim_end_matches(".xml")),
            archive: "a/x.xml",
            mail_to: &["a@b.example".to_string()],
        })
        .unwrap()
}

fn hold(store: &Store, control: u32, name: &str) -> (String, Vec<u8>, PendingApp) {
    let xml = filing(control, "CA", "Held Importer", 1000, "2026-12-10");
    let v = judge_watching(store, &xml, day(), &["CA"]);
    assert_eq!(v.apps[0].status, AppStatus::PendingReview);
    commit_at(store, &xml, &v, name);
    let h = Handle::parse(&format!("ACMEBRK:{control}:A1")).unwrap();
    match store.lookup_handle(&h).unwrap() {
        HeldLookup::Held { key, app } => (xml, key, *app),
        _ => panic!("not held"),
    }
}

fn never_taken(_: &str, _: &str) -> bool {
    false
}

fn mail_to(_: &str) -> Vec<String> {
    vec!["a@b.example".into()]
}

#[test]
fn approval_issues_a_license_valid_from_the_decision_day_with_a_follow_up_ack() {
    let d = tempfile::tempdir().unwrap();
    let store = Store::open(d.path()).unwrap();
    let (xml, key, app) = hold(&store, 7, "batch-7.xml");
    assert_eq!(
        app.verdict.held_for[0].code,
        crate::filing::rules::HoldCode::R501
    );
    assert_eq!(store.held_count(), 1);
    let later = (day() + Days::new(3))
        .and_hms_opt(9, 30, 0)
        .unwrap()
        .and_utc();
    let by = Actor::Staff("rita".into());
    let (decided, acks) = store
        .decide(
            &[(key, app)],
            &Ruling::Approve,
            &by,
            later,
            &mail_to,
            &never_taken,
        )
        .unwrap();
    let Decision::Approved { license } = decided[0].decision.clone() else {
        panic!("approved")
    };
    let lic = store.license(license).unwrap().unwrap();
    assert_eq!(lic.valid_from, day() + Days::new(3));
    assert_eq!(lic.history[0].by, by);
    assert_eq!(acks.len(), 1);
    assert_eq!(acks[0].ack_name, "batch-7.ack-2.xml");
    assert_eq!(acks[0].seq, 2);
    let ack = String::from_utf8(acks[0].ack.clone()).unwrap();
    assert!(ack.contains("<AckSequence>2</AckSequence>"), "{ack}");
    assert!(
        ack.contains("<ReceivedAt>2026-12-01T09:30:00.000Z</ReceivedAt>"),
        "{ack}"
    );
    assert!(ack.contains("<Status>accepted</Status>"), "{ack}");
    assert!(
        ack.contains(&format!("<LicenseNumber>{license}</LicenseNumber>")),
        "{ack}"
    );
    assert!(ack.contains("<ValidFrom>2026-12-01</ValidFrom>"), "{ack}");
    assert!(ack.contains("<FileName>batch-7.xml</FileName>"), "{ack}");
    // The monitor counts it now, and the queue no longer holds it.
    assert!(!store.cells("2026-12").unwrap().is_empty());
    assert!(store.held().unwrap().is_empty());
    assert_eq!(
        store
            .day_stats(day() + Days::new(3))
            .unwrap()
            .licenses_issued,
        1
    );
    // The follow-up is unfinished until written; a second decision sees who decided.
    let sha = sha_of(&xml);
    let r = store.receipt("ACMEBRK", &sha).unwrap().unwrap();
    assert_eq!(r.followups.len(), 1);
    assert_eq!(store.unfinished().unwrap().len(), 1);
    store.mark_done("ACMEBRK", &sha, 0).unwrap();
    store.mark_followup_done("ACMEBRK", &sha, 2).unwrap();
    assert!(store.unfinished().unwrap().is_empty());
    match store
        .lookup_handle(&Handle::parse("ACMEBRK:7:A1").unwrap())
        .unwrap()
    {
        HeldLookup::Decided(d) => {
            assert_eq!(d.by, by);
            assert_eq!(d.at, later);
        }
        _ => panic!("decided"),
    }
    // Mail: the first ack and the follow-up.
    assert_eq!(store.due_mail(later, 10).unwrap().len(), 2);
}

#[test]
fn rejection_answers_r590_with_the_reason_and_no_position() {
    let d = tempfile::tempdir().unwrap();
    let store = Store::open(d.path()).unwrap();
    let (_, key, app) = hold(&store, 8, "b.xml");
    let at = day().and_hms_opt(15, 0, 0).unwrap().and_utc();
    let (decided, acks) = store
        .decide(
            &[(key, app)],
            &Ruling::Reject {
                reason: "smelt certificate missing; refile with mill certificate".into(),
            },
            &Actor::Staff("rita".into()),
            at,
            &mail_to,
            &never_taken,
        )
        .unwrap();
    assert!(matches!(decided[0].decision, Decision::Rejected { .. }));
    let ack = String::from_utf8(acks[0].ack.clone()).unwrap();
    assert!(
        ack.contains(r#"<Error code="R590" path="Application[A1]">smelt certificate missing; refile with mill certificate</Error>"#),
        "{ack}"
    );
    assert!(ack.contains("<Status>rejected</Status>"), "{ack}");
    assert!(!ack.contains("<LicenseNumber>"), "{ack}");
    assert!(
        store.cells("").unwrap().is_empty(),
        "a rejection counts nowhere"
    );
    assert_eq!(store.licenses_on_record().unwrap(), 0);
}

#[test]
fn two_files_decided_at_once_get_one_follow_up_each() {
    let d = tempfile::tempdir().unwrap();
    let store = Store::open(d.path()).unwrap();
    let (_, k1, a1) = hold(&store, 21, "one.xml");
    let (_, k2, a2) = hold(&store, 22, "two.xml");
    let at = day().and_hms_opt(15, 0, 0).unwrap().and_utc();
    let (decided, acks) = store
        .decide(
            &[(k1, a1), (k2, a2)],
            &Ruling::Approve,
            &Actor::Staff("rita".into()),
            at,
            &mail_to,
            &|_: &str, name: &str| name == "two.ack-2.xml",
        )
        .unwrap();
    assert_eq!(decided.len(), 2);
    let names: Vec<&str> = acks.iter().map(|a| a.ack_name.as_str()).collect();
    assert_eq!(
        names,
        ["one.ack-2.xml", "two.2.ack-2.xml"],
        "never overwrite a name in use"
    );
    assert_eq!(store.licenses_on_record().unwrap(), 2);
}

#[test]
fn staff_cancellation_answers_the_issuing_file_and_leaves_the_monitor() {
    let d = tempfile::tempdir().unwrap();
    let store = Store::open(d.path()).unwrap();
    let xml = filing(31, "CA", "Northwind", 1000, "2026-12-10");
    let v = judge(&store, &xml, day());
    let c = commit_at(&store, &xml, &v, "lic.xml");
    let n = c.issued[0];
    assert_eq!(store.licenses_on_record().unwrap(), 1);
    let at = day().and_hms_opt(16, 0, 0).unwrap().and_utc();
    let fu = store
        .staff_cancel(
            n,
            "importer withdrew",
            &Actor::Staff("sam".into()),
            at,
            &mail_to(""),
            &never_taken,
        )
        .unwrap();
    assert_eq!((fu.ack_name.as_str(), fu.seq), ("lic.ack-2.xml", 2));
    let ack = String::from_utf8(fu.ack).unwrap();
    assert!(
        ack.contains(r#"<Application id="A1" status="cancelled">"#),
        "{ack}"
    );
    assert!(
        ack.contains(&format!("<LicenseNumber>{n}</LicenseNumber>")),
        "{ack}"
    );
    assert!(store.cells("").unwrap().is_empty());
    assert_eq!(store.licenses_on_record().unwrap(), 0);
    let lic = store.license(n).unwrap().unwrap();
    assert_eq!(lic.status_name(), "cancelled");
    assert_eq!(lic.history[1].by, Actor::Staff("sam".into()));
    let events = store.audit_of_license(n, 10).unwrap();
    assert_eq!(events[0].action, AuditAction::Cancel);
    assert_eq!(events[1].action, AuditAction::Receive);
}

#[test]
fn a_damaged_license_counter_stops_the_store_instead_of_restarting_at_zero() {
    let d = tempfile::tempdir().unwrap();
    {
        let store = Store::open(d.path()).unwrap();
        commit(&store, &with_control(1), day());
        store
            .trees
            .meta
            .insert(keys::LICENSE_SEQ, &[1u8, 2][..])
            .unwrap();
        store.flush().unwrap();
    }
    let e = Store::open(d.path())
        .err()
        .expect("a damaged counter is an error");
    assert!(e.is_corruption(), "{e}");
    assert!(e.to_string().contains("license_seq"), "{e}");
}

type Filers = std::collections::BTreeMap<String, std::collections::BTreeMap<String, i64>>;
type CellRow = (String, String, String, i64, Decimal, Decimal, Filers);

/// What the cells must be: recomputed from every license on record.
fn recomputed(store: &Store) -> Vec<CellRow> {
    use std::collections::BTreeMap;
    type Sums = (i64, Decimal, Decimal, Filers);
    let mut cells: BTreeMap<(String, String, String), Sums> = BTreeMap::new();
    let all = std::ops::Bound::Unbounded;
    for row in store.walk_licenses(all.clone(), all, false).unwrap() {
        let (_, l) = row.unwrap();
        if l.status == LicenseStatus::Cancelled {
            continue;
        }
        for ((m, d, key), (kg, usd)) in cells_of(&l.data) {
            let e = cells.entry((m, d.to_string(), key)).or_default();
            e.0 += 1;
            e.1 += kg;
            e.2 += usd;
            *e.3.entry(l.sender.clone())
                .or_default()
                .entry(l.data.importer.trim().to_owned())
                .or_default() += 1;
        }
    }
    cells
        .into_iter()
        .map(|((m, d, k), (n, kg, usd, f))| (m, d, k, n, kg, usd, f))
        .collect()
}

fn stored(store: &Store) -> Vec<CellRow> {
    store
        .cells("")
        .unwrap()
        .into_iter()
        .map(|c| {
            (
                c.month,
                c.dimension,
                c.key,
                c.cell.licenses,
                c.cell.kg,
                c.cell.usd,
                c.cell.filers,
            )
        })
        .collect()
}

#[derive(Clone, Debug)]
enum Op {
    Issue {
        origin: usize,
        importer: usize,
        kg: u32,
        month: usize,
    },
    Correct {
        pick: usize,
        origin: usize,
        importer: usize,
        kg: u32,
        month: usize,
    },
    Cancel {
        pick: usize,
    },
    StaffCancel {
        pick: usize,
    },
    HoldThenApprove {
        importer: usize,
    },
}

fn op() -> impl proptest::strategy::Strategy<Value = Op> {
    use proptest::prelude::*;
    prop_oneof![
        3 => (0..3usize, 0..4usize, 1..50_000u32, 0..2usize).prop_map(|(origin, importer, kg, month)| Op::Issue { origin, importer, kg, month }),
        2 => (any::<usize>(), 0..3usize, 0..4usize, 1..50_000u32, 0..2usize).prop_map(|(pick, origin, importer, kg, month)| Op::Correct { pick, origin, importer, kg, month }),
        1 => any::<usize>().prop_map(|pick| Op::Cancel { pick }),
        1 => any::<usize>().prop_map(|pick| Op::StaffCancel { pick }),
        1 => (0..4usize).prop_map(|importer| Op::HoldThenApprove { importer }),
    ]
}

proptest::proptest! {
    #![proptest_config(proptest::test_runner::Config { cases: 24, ..Default::default() })]

    /// The monitor's cells, kept with every change, equal a recomputation from the licenses
    /// on record after any sequence of issues, corrections, cancellations and approvals.
    #[test]
    fn aggregates_equal_a_recomputation(ops in proptest::collection::vec(op(), 1..14)) {
        let origins = ["CA", "DE", "NO"];
        let importers = ["Alpha Metals", "Beta Metals", "Gamma Metals", "Delta Metals"];
        let months = ["2026-12-05", "2027-01-10"];
        let d = tempfile::tempdir().unwrap();
        let store = Store::open(d.path()).unwrap();
        let mut active: Vec<LicenseNumber> = Vec::new();
        let mut control = 1000;
        for op in ops {
            control += 1;
            match op {
                Op::Issue { origin, importer, kg, month } => {
                    let xml = filing(control, origins[origin], importers[importer], kg, months[month]);
                    let v = judge(&store, &xml, day());
                    let c = commit_at(&store, &xml, &v, &format!("f{control}.xml"));
                    active.extend(c.issued);
                }
                Op::Correct { pick, origin, importer, kg, month } if !active.is_empty() => {
                    let n = active[pick % active.len()];
                    let xml = as_correction(&filing(control, origins[origin], importers[importer], kg, months[month]), n);
                    let v = judge(&store, &xml, day());
                    proptest::prop_assert_eq!(v.apps[0].status, AppStatus::Corrected);
                    commit_at(&store, &xml, &v, &format!("f{control}.xml"));
                }
                Op::Cancel { pick } if !active.is_empty() => {
                    let n = active.remove(pick % active.len());
                    let xml = as_cancel(control, n);
                    let v = judge(&store, &xml, day());
                    commit_at(&store, &xml, &v, &format!("f{control}.xml"));
                }
                Op::StaffCancel { pick } if !active.is_empty() => {
                    let n = active.remove(pick % active.len());
                    let at = day().and_hms_opt(13, 0, 0).unwrap().and_utc();
                    store.staff_cancel(n, "withdrawn", &Actor::Staff("s".into()), at, &[], &never_taken).unwrap();
                }
                Op::HoldThenApprove { importer } => {
                    let xml = filing(control, "CA", importers[importer], 777, months[0]);
                    let v = judge_watching(&store, &xml, day(), &["CA"]);
                    commit_at(&store, &xml, &v, &format!("f{control}.xml"));
                    let h = Handle::parse(&format!("ACMEBRK:{control}:A1")).unwrap();
                    let HeldLookup::Held { key, app } = store.lookup_handle(&h).unwrap() else {
                        panic!("held");
                    };
                    let at = day().and_hms_opt(14, 0, 0).unwrap().and_utc();
                    let (decided, _) = store.decide(&[(key, *app)], &Ruling::Approve, &Actor::Staff("r".into()), at, &mail_to, &never_taken).unwrap();
                    if let Decision::Approved { license } = decided[0].decision {
                        active.push(license);
                    }
                }
                _ => {}
            }
            proptest::prop_assert_eq!(stored(&store), recomputed(&store));
            proptest::prop_assert_eq!(store.licenses_on_record().unwrap(), active.len() as u64);
        }
    }
}

/// Every key and value of every tree a unit of change writes.
fn contents(store: &Store) -> Vec<(u8, Vec<u8>, Vec<u8>)> {
    let mut all = Vec::new();
    for (id, t) in store.trees.iter() {
        for kv in t.iter() {
            let (k, v) = kv.unwrap();
            all.push((id as u8, k.to_vec(), v.to_vec()));
        }
    }
    all
}

pub(super) fn generate_into(store: &Store, files: usize, apps: usize, seed: u64) {
    let cfg = Config::parse(crate::config::BUILT_IN, "built-in").unwrap();
    let day = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap();
    commit_generated(
        store,
        &Generated {
            cfg: &cfg,
            sender: "ACMEBRK",
            files,
            apps_per_file: apps,
            day,
            seed,
            mail_to: &["ops@acme.example".to_string()],
        },
    )
    .unwrap();
}

#[test]
fn a_commit_stopped_half_applied_is_finished_when_the_store_opens() {
    // Two files into a store whose commits stop after `n` applied writes, as a kill would
    // (what was written reaches the disk); opened again, the store holds the first file, or
    // both, whole: never a part of one.
    let state = |files| {
        let d = tempfile::tempdir().unwrap();
        let s = Store::open(d.path()).unwrap();
        generate_into(&s, files, 300, 7);
        contents(&s)
    };
    let (one, two) = (state(1), state(2));
    // How many writes one file's commit applies, so the stops fall inside each file.
    let per_file = {
        let d = tempfile::tempdir().unwrap();
        let s = Store::open(d.path()).unwrap();
        journal::crash_point::after(Some(usize::MAX));
        generate_into(&s, 1, 300, 7);
        let left = journal::crash_point::left().unwrap();
        journal::crash_point::after(None);
        usize::MAX - left
    };
    assert!(
        per_file > 300,
        "a file of 300 applications applied {per_file} writes"
    );
    let mut seen = (0, 0);
    for n in [
        0,
        1,
        per_file / 2,
        per_file - 1,
        per_file + 1,
        per_file + per_file / 2,
        per_file + per_file * 9 / 10,
    ] {
        let d = tempfile::tempdir().unwrap();
        {
            let s = Store::open(d.path()).unwrap();
            journal::crash_point::after(Some(n));
            let cfg = Config::parse(crate::config::BUILT_IN, "built-in").unwrap();
            let r = commit_generated(
                &s,
                &Generated {
                    cfg: &cfg,
                    sender: "ACMEBRK",
                    files: 2,
                    apps_per_file: 300,
                    day: NaiveDate::from_ymd_opt(2026, 11, 30).unwrap(),
                    seed: 7,
                    mail_to: &["ops@acme.example".to_string()],
                },
            );
            journal::crash_point::after(None);
            let e = r.unwrap_err();
            assert!(e.is_io(), "{e}");
            // Nothing more is written until the store is opened anew.
            assert!(s.transact(|_| Ok(())).unwrap_err().is_io());
            s.flush().unwrap();
        }
        let s = Store::open(d.path()).unwrap();
        assert!(s.journal.is_empty());
        let now = contents(&s);
        if now == one {
            seen.0 += 1;
        } else {
            assert!(
                now == two,
                "stopped after {n} writes: neither one file nor two"
            );
            seen.1 += 1;
        }
    }
    assert!(
        seen.0 > 0 && seen.1 > 0,
        "{seen:?}: both files' commits were cut"
    );
}

#[test]
fn a_first_ack_is_kept_once_beside_its_receipt() {
    let d = tempfile::tempdir().unwrap();
    let store = Store::open(d.path()).unwrap();
    let xml = with_control(7);
    let (_, c) = commit(&store, &xml, day());
    let sha = sha_of(&xml);
    let k = keys::receipt("ACMEBRK", &sha);
    // The receipt itself and the mail job hold no copy; the one copy is beside the receipt.
    let raw: Receipt = codec::dec(&k, &store.trees.receipts.get(&k).unwrap().unwrap()).unwrap();
    assert!(raw.ack.is_empty());
    let kept = store
        .trees
        .receipts
        .get(keys::receipt_ack(&k))
        .unwrap()
        .unwrap();
    assert_eq!(kept.as_ref(), c.ack.as_slice());
    let jobs = store.queued_mail(10).unwrap();
    assert_eq!(jobs.len(), 1);
    assert!(jobs[0].ack.is_empty());
    assert_eq!(jobs[0].ack_of.as_deref(), Some(hex::encode(sha).as_str()));
    assert_eq!(store.mail_ack(&jobs[0]).unwrap(), c.ack);
    // Readers get it with the receipt, before and after the delivery is finished.
    assert_eq!(store.unfinished().unwrap()[0].ack, c.ack);
    store.mark_done("ACMEBRK", &sha, 0).unwrap();
    assert_eq!(store.receipt("ACMEBRK", &sha).unwrap().unwrap().ack, c.ack);
    let raw: Receipt = codec::dec(&k, &store.trees.receipts.get(&k).unwrap().unwrap()).unwrap();
    assert!(raw.ack.is_empty(), "finishing a delivery copies no ack");
}

/// Turn the store's cells into those of the earlier layout (licenses per importer only, no
/// layout mark), as a database written before the partner was kept holds them.
fn to_earlier_layout(store: &Store) {
    for c in store.cells("").unwrap() {
        let importers: std::collections::BTreeMap<&str, i64> = c
            .cell
            .filers
            .values()
            .flat_map(|m| m.iter().map(|(i, n)| (i.as_str(), *n)))
            .collect();
        let old = serde_json::json!({
            "licenses": c.cell.licenses,
            "kg": c.cell.kg,
            "usd": c.cell.usd,
            "importers": importers,
        });
        let mut v = vec![codec::VERSION];
        v.extend(serde_json::to_vec(&old).unwrap());
        store
            .trees
            .agg
            .insert(keys::cell(&c.month, &c.dimension, &c.key), v)
            .unwrap();
    }
    store.trees.meta.remove(keys::CELLS_LAYOUT).unwrap();
    store.flush().unwrap();
}

#[test]
fn cells_of_an_earlier_layout_are_rebuilt_from_the_licenses_once_at_open() {
    let d = tempfile::tempdir().unwrap();
    let want = {
        let store = Store::open(d.path()).unwrap();
        commit(
            &store,
            &filing(1, "CA", "Alpha Metals", 1000, "2026-12-05"),
            day(),
        );
        commit(
            &store,
            &filing(2, "DE", " Beta Metals ", 2000, "2026-12-06"),
            day(),
        );
        let (_, c) = commit(
            &store,
            &filing(3, "NO", "Gamma Metals", 3000, "2027-01-07"),
            day(),
        );
        let cancel = as_cancel(4, c.issued[0]);
        commit(&store, &cancel, day());
        let want = stored(&store);
        assert_eq!(want, recomputed(&store));
        to_earlier_layout(&store);
        assert!(
            store.cells("").is_err(),
            "the earlier layout does not read as the new one"
        );
        want
    };
    {
        let store = Store::open(d.path()).unwrap();
        assert_eq!(stored(&store), want, "rebuilt at open");
        assert!(store.trees.meta.get(keys::CELLS_LAYOUT).unwrap().is_some());
        // A crash after the old cells were cleared but before the mark: rebuilt again.
        store.trees.agg.clear().unwrap();
        store.trees.meta.remove(keys::CELLS_LAYOUT).unwrap();
        store.flush().unwrap();
    }
    {
        let store = Store::open(d.path()).unwrap();
        assert_eq!(
            stored(&store),
            want,
            "rebuilt after the interrupted upgrade"
        );
        assert!(!store.upgrade_cells().unwrap(), "marked: never again");
        // Once marked, the cells are kept by every change, not rebuilt.
        commit(
            &store,
            &filing(5, "CA", "Delta Metals", 500, "2026-12-05"),
            day(),
        );
        assert_eq!(stored(&store), recomputed(&store));
    }
}

#[test]
fn mail_counts_each_message_once_while_retries_move_them() {
    let d = tempfile::tempdir().unwrap();
    let store = std::sync::Arc::new(Store::open(d.path()).unwrap());
    const N: usize = 40;
    for i in 0..N {
        commit(&store, &with_control(100 + i as u32), day());
    }
    let jobs = store.due_mail(Utc::now(), N).unwrap();
    assert_eq!(jobs.len(), N);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    // Retries move each message to a later key, past where a count may be reading.
    let mover = {
        let (store, stop) = (store.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut jobs = jobs;
            let mut round = 1;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                for j in &mut jobs {
                    let old = j.next_attempt;
                    j.state = MailState::Retrying;
                    j.next_attempt = old + chrono::Duration::seconds(round);
                    store.settle_mail(old, j).unwrap();
                }
                round += 1;
            }
        })
    };
    let mut wrong = Vec::new();
    for _ in 0..300 {
        let c = store.mail_counts().unwrap();
        if c.queued + c.retrying != N || c.dead != 0 {
            wrong.push((c.queued, c.retrying, c.dead));
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    mover.join().unwrap();
    assert!(wrong.is_empty(), "counts other than {N} waiting: {wrong:?}");
}

#[test]
fn the_newest_answered_files_are_kept_in_a_ring() {
    let d = tempfile::tempdir().unwrap();
    let store = Store::open(d.path()).unwrap();
    let files = keys::FILED_SLOTS as u32 + 20;
    for i in 0..files {
        let xml = with_control(1000 + i);
        let v = judge(&store, &xml, day());
        commit_at(&store, &xml, &v, &format!("f{i}.xml"));
    }
    let recent = store.recent_filed(1000).unwrap();
    assert_eq!(
        recent.len(),
        keys::FILED_SLOTS as usize,
        "never more than the ring"
    );
    let names: Vec<String> = recent.iter().map(|f| f.file_name.clone()).collect();
    let want: Vec<String> = (0..files)
        .rev()
        .take(keys::FILED_SLOTS as usize)
        .map(|i| format!("f{i}.xml"))
        .collect();
    assert_eq!(names, want, "newest first");
    assert_eq!(recent[0].status, "accepted");
    assert_eq!((recent[0].applications, recent[0].licenses), (1, 1));
    assert_eq!(store.recent_filed(3).unwrap().len(), 3);
}

/// Every license as it stands, in number order.
fn all_licenses(store: &Store) -> Vec<License> {
    let all = std::ops::Bound::Unbounded;
    store
        .walk_licenses(all.clone(), all, false)
        .unwrap()
        .map(|r| r.unwrap().1)
        .collect()
}

#[test]
fn a_files_licenses_are_one_value_and_a_later_change_shadows_its_copy() {
    let d = tempfile::tempdir().unwrap();
    let store = Store::open(d.path()).unwrap();
    generate_into(&store, 3, 40, 5);
    let keys_of = |store: &Store| -> Vec<Vec<u8>> {
        store
            .trees
            .licenses
            .iter()
            .keys()
            .map(|k| k.unwrap().to_vec())
            .collect()
    };
    let groups = keys_of(&store);
    assert_eq!(
        groups.len(),
        3 * 40usize.div_ceil(groups::MAX_GROUP),
        "one value per run of a file's licenses"
    );
    assert!(groups.iter().all(|k| k[0] == keys::GROUP));
    let year = 2026;
    for seq in 1..=120 {
        let n = LicenseNumber::new(year, seq);
        assert_eq!(store.license(n).unwrap().unwrap().number, n);
    }
    assert!(
        store
            .license(LicenseNumber::new(year, 121))
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .license(LicenseNumber::new(2025, 1))
            .unwrap()
            .is_none()
    );
    // A cancellation of the 50th (in the second file's group) is a shadow read first.
    let n = LicenseNumber::new(year, 50);
    let (v, _) = commit(&store, &as_cancel(900, n), day());
    assert_eq!(v.apps[0].status, AppStatus::Cancelled, "{:?}", v.apps[0]);
    let now = keys_of(&store);
    assert_eq!(now.len(), groups.len() + 1);
    assert_eq!(now.last().unwrap().as_slice(), keys::shadow(n));
    assert_eq!(
        store.license(n).unwrap().unwrap().status,
        LicenseStatus::Cancelled
    );
    let all = all_licenses(&store);
    assert_eq!(all.len(), 120);
    assert_eq!(all[49].status, LicenseStatus::Cancelled);
    assert!(
        all.iter()
            .enumerate()
            .all(|(i, l)| l.number.seq == i as u32 + 1)
    );
    // Backward from the middle, and bounded ranges.
    let back: Vec<u32> = store
        .walk_licenses(
            std::ops::Bound::Unbounded,
            std::ops::Bound::Excluded(keys::license(LicenseNumber::new(year, 45)).to_vec()),
            true,
        )
        .unwrap()
        .map(|r| r.unwrap().1.number.seq)
        .collect();
    assert_eq!(back, (1..45).rev().collect::<Vec<_>>());
    let (counted, exact) = store
        .count_licenses(
            std::ops::Bound::Excluded(keys::license(LicenseNumber::new(year, 30)).to_vec()),
            std::ops::Bound::Included(keys::license(LicenseNumber::new(year, 90)).to_vec()),
            1000,
        )
        .unwrap();
    assert_eq!((counted, exact), (60, true));
}

/// Put a store back into layout 2, as release e38d35e kept licenses: one key per license (its
/// number's six bytes), no groups, no shadows, no layout mark.
fn to_layout_2(store: &Store) {
    for l in all_licenses(store) {
        store
            .trees
            .licenses
            .insert(keys::license(l.number), codec::enc(&l))
            .unwrap();
    }
    for k in store.trees.licenses.iter().keys() {
        let k = k.unwrap();
        if k.len() != 6 {
            store.trees.licenses.remove(k).unwrap();
        }
    }
    store.trees.meta.remove(keys::STORE_LAYOUT).unwrap();
    store.flush().unwrap();
}

#[test]
fn an_upgrade_stopped_inside_a_unit_is_finished_at_the_next_open() {
    let d = tempfile::tempdir().unwrap();
    let before = {
        let store = Store::open(d.path()).unwrap();
        generate_into(&store, 5, 1000, 9);
        let (v, _) = commit(
            &store,
            &as_cancel(900, LicenseNumber::new(2026, 2500)),
            day(),
        );
        assert_eq!(v.apps[0].status, AppStatus::Cancelled);
        let before = all_licenses(&store);
        to_layout_2(&store);
        before
    };
    assert_eq!(before.len(), 5000);
    // The first unit moves 2,000 licenses (2,000 removals, their groups, the progress); the
    // second stops after a few of its writes, as a kill would.
    journal::crash_point::after(Some(usize::try_from(layout::UPGRADE_UNIT).unwrap() + 10));
    let e = Store::open(d.path()).err().expect("stopped");
    journal::crash_point::after(None);
    assert!(e.is_io(), "{e}");
    let store = Store::open(d.path()).unwrap();
    assert_eq!(all_licenses(&store), before, "every license whole, once");
    assert_eq!(
        codec::dec_u64(
            keys::UPGRADE_V3,
            &store.trees.meta.get(keys::UPGRADE_V3).unwrap().unwrap()
        )
        .unwrap(),
        5000
    );
    assert!(
        store
            .trees
            .licenses
            .iter()
            .keys()
            .all(|k| k.unwrap().len() == 7),
        "nothing of layout 2 is left"
    );
    assert_eq!(
        store
            .license(LicenseNumber::new(2026, 2500))
            .unwrap()
            .unwrap()
            .status,
        LicenseStatus::Cancelled
    );
    assert_eq!(stored(&store), recomputed(&store));
}
