//! The writer's mail counts against a full scan, at open and while the writer works.
#![allow(clippy::cast_possible_truncation, reason = "test figures are small")]

use super::super::*;
use chrono::{DateTime, Duration, Utc};
use proptest::prelude::*;

fn at(min: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default() + Duration::minutes(min)
}

fn enqueue(store: &Store, when: DateTime<Utc>) {
    store
        .transact(|tx| {
            tx.enqueue_mail(
                "ACMEBRK",
                &["ops@acme.example".into()],
                "x.ack.xml",
                b"<a/>",
                when,
            )
        })
        .unwrap();
}

/// Settle the `i`-th waiting message (if any) as `state`, due again a minute later.
fn settle(store: &Store, i: usize, state: MailState) {
    let waiting = store.queued_mail(usize::MAX).unwrap();
    if waiting.is_empty() {
        return;
    }
    let mut job = waiting[i % waiting.len()].clone();
    let old = job.next_attempt;
    job.state = state;
    job.next_attempt = old + Duration::minutes(1);
    job.attempts += 1;
    store.settle_mail(old, &job).unwrap();
}

fn requeue(store: &Store, i: usize) {
    let dead = store.dead_letters().unwrap();
    if dead.is_empty() {
        return;
    }
    let id = dead[i % dead.len()].id;
    store
        .retry_dead(id, &Actor::Staff("ops".into()), at(0))
        .unwrap();
}

#[derive(Clone, Debug)]
enum Op {
    Enqueue(u8),
    Sent(usize),
    Retry(usize),
    Queued(usize),
    Dead(usize),
    Requeue(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => any::<u8>().prop_map(Op::Enqueue),
        1 => any::<usize>().prop_map(Op::Sent),
        2 => any::<usize>().prop_map(Op::Retry),
        1 => any::<usize>().prop_map(Op::Queued),
        2 => any::<usize>().prop_map(Op::Dead),
        1 => any::<usize>().prop_map(Op::Requeue),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// After any mix of enqueues, deliveries, retries, dead letters and re-queues, the kept
    /// counts equal a full scan, and still do after the store is opened again.
    #[test]
    fn kept_counts_equal_a_full_scan(ops in proptest::collection::vec(op(), 1..40)) {
        let d = tempfile::tempdir().unwrap();
        {
            let store = Store::open(d.path()).unwrap();
            for op in &ops {
                match *op {
                    Op::Enqueue(m) => enqueue(&store, at(i64::from(m))),
                    Op::Sent(i) => settle(&store, i, MailState::Sent),
                    Op::Retry(i) => settle(&store, i, MailState::Retrying),
                    Op::Queued(i) => settle(&store, i, MailState::Queued),
                    Op::Dead(i) => settle(&store, i, MailState::Dead),
                    Op::Requeue(i) => requeue(&store, i),
                }
                prop_assert_eq!(store.mail_counts().unwrap(), store.count_mail_by_scan().unwrap());
            }
            let enqueued = ops.iter().filter(|o| matches!(o, Op::Enqueue(_))).count();
            let c = store.mail_counts().unwrap();
            let sent = store.sent_mail(usize::MAX).unwrap().len();
            prop_assert_eq!(c.queued + c.retrying + c.dead + sent, enqueued);
            store.flush().unwrap();
        }
        let store = Store::open(d.path()).unwrap();
        prop_assert_eq!(store.mail_counts().unwrap(), store.count_mail_by_scan().unwrap());
    }
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

/// A store written before the writer kept counts (the v2 fixture, made by an earlier
/// release) is counted once when it opens: the counts its own release reported.
#[test]
fn a_store_without_counts_is_counted_once_at_open() {
    let fixture =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/store-v2/db");
    let d = tempfile::tempdir().unwrap();
    copy_dir(&fixture, d.path());
    let expected: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture.join("../expected.json")).unwrap())
            .unwrap();
    let status = &expected["status"];
    let want = MailCounts {
        queued: status["mail_queued"].as_u64().unwrap() as usize,
        retrying: status["mail_retrying"].as_u64().unwrap() as usize,
        dead: status["mail_dead"].as_u64().unwrap() as usize,
    };
    {
        let raw = sled::open(d.path()).unwrap();
        let meta = raw.open_tree("meta").unwrap();
        assert!(
            meta.get(keys::MAIL_COUNTS).unwrap().is_none(),
            "the fixture has no counts"
        );
    }
    let store = Store::open(d.path()).unwrap();
    assert_eq!(store.mail_counts().unwrap(), want);
    assert_ne!(
        want,
        MailCounts::default(),
        "the fixture holds retrying and dead mail"
    );
    // Kept from now on: a re-queued dead letter moves the counts, and a new open does not
    // count again.
    let dead = store.dead_letters().unwrap();
    store
        .retry_dead(dead[0].id, &Actor::Staff("ops".into()), Utc::now())
        .unwrap();
    store.flush().unwrap();
    drop(store);
    let store = Store::open(d.path()).unwrap();
    assert!(!store.count_mail_once().unwrap(), "counted only once");
    let c = store.mail_counts().unwrap();
    assert_eq!((c.queued, c.dead), (want.queued + 1, want.dead - 1));
    assert_eq!(c, store.count_mail_by_scan().unwrap());
}

/// Reading the counts while a unit of change is under way (the writer holds its lock) answers
/// at once, with the counts as of the last finished unit.
#[test]
fn reading_counts_never_waits_for_the_writer() {
    let d = tempfile::tempdir().unwrap();
    let store = std::sync::Arc::new(Store::open(d.path()).unwrap());
    enqueue(&store, at(0));
    let before = store.mail_counts().unwrap();
    let (inside_tx, inside_rx) = std::sync::mpsc::channel();
    let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
    let writer = {
        let store = store.clone();
        std::thread::spawn(move || {
            store
                .transact(|tx| {
                    tx.enqueue_mail(
                        "ACMEBRK",
                        &["ops@acme.example".into()],
                        "y.ack.xml",
                        b"<a/>",
                        at(1),
                    )?;
                    inside_tx.send(()).unwrap();
                    // The writer holds on until the reader has its answer.
                    go_rx.recv().unwrap();
                    Ok(())
                })
                .unwrap();
        })
    };
    inside_rx.recv().unwrap();
    let (answer_tx, answer_rx) = std::sync::mpsc::channel();
    let reader = {
        let store = store.clone();
        std::thread::spawn(move || answer_tx.send(store.mail_counts().unwrap()).unwrap())
    };
    // A reader that waited for the writer's lock would never answer here: the writer goes on
    // only once the answer came. (The old count waited 200 ms for the lock.)
    let during = answer_rx
        .recv_timeout(std::time::Duration::from_millis(150))
        .expect("the counts answered while the writer held its lock");
    go_tx.send(()).unwrap();
    writer.join().unwrap();
    reader.join().unwrap();
    assert_eq!(
        during, before,
        "an unfinished unit of change is not counted"
    );
    let after = store.mail_counts().unwrap();
    assert_eq!(after.queued, before.queued + 1);
}
