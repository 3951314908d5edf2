//! Store tests: the unit of change through intake commits and staff actions.

use super::*;
use crate::config::Config;
use crate::filing::ack::FileFacts;
use crate::filing::model::LicenseNumber;
use crate::filing::rules::{AppStatus, FileContext, Ledger, Verdict};
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
    let sha: [u8; 32] = sha2::Digest::finalize(sha2::Digest::chain_update(
        sha2::Sha256::default(),
        xml.as_bytes(),
    ))
    .into();
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
    let sha: [u8; 32] = sha2::Digest::finalize(sha2::Digest::chain_update(
        sha2::Sha256::default(),
        xml.as_bytes(),
    ))
    .into();
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
    assert_eq!(origin.cell.importers.len(), 1);

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
    let sha: [u8; 32] = sha2::Digest::finalize(sha2::Digest::chain_update(
        sha2::Sha256::default(),
        xml.as_bytes(),
    ))
    .into();
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
