//! One store commit: a judged filing of 1,000 applications, and one of a single application,
//! committed (one transaction) and flushed into a fresh store in a temporary folder. The
//! store is made anew for every iteration, outside the timing.
//!
//! `cargo bench --bench store`.
#![allow(
    clippy::unwrap_used,
    clippy::too_many_lines,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)] // Test code: a panic is the failure report, a scenario reads top to bottom.

mod common;

use aim::filing::ack::FileFacts;
use aim::filing::rules::{AppStatus, FileContext, Offline, Verdict};
use aim::store::{NewFiling, Store};
use chrono::TimeZone;
use common::*;
use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

fn judged(apps: usize) -> Verdict {
    let s = settings();
    let cx = FileContext {
        inbox_sender: SENDER,
        is_registered: &registered,
        filing_day: today(),
        sha256: [7; 32],
        settings: &s,
    };
    let v = aim::filing::check(&filing(apps), &cx, &mut Offline).expect("offline");
    assert!(v.file_error.is_none());
    assert_eq!(v.apps.len(), apps);
    assert!(v.apps.iter().all(|a| a.status == AppStatus::Issued));
    v
}

fn bench(c: &mut Criterion) {
    let mail_to = vec!["load@example.test".to_string()];
    let mut g = c.benchmark_group("store_commit");
    g.sample_size(10);
    for apps in [1usize, 1000] {
        let verdict = judged(apps);
        g.throughput(Throughput::Elements(apps as u64));
        g.bench_with_input(BenchmarkId::new("commit_flush", apps), &verdict, |b, v| {
            b.iter_batched(
                || {
                    let dir = tempfile::tempdir().expect("temp dir");
                    let store = Store::open(dir.path()).expect("store");
                    (dir, store)
                },
                |(dir, store)| {
                    let c = store
                        .commit(&NewFiling {
                            sender: SENDER,
                            facts: FileFacts {
                                file_name: "acmebrk-7-000001.xml",
                                sha256: [7; 32],
                                received_at: chrono::Utc
                                    .with_ymd_and_hms(2026, 11, 28, 9, 0, 0)
                                    .unwrap(),
                            },
                            filing_day: today(),
                            verdict: v,
                            ack_name: "acmebrk-7-000001.ack.xml",
                            archive: "2026-11-28/ACMEBRK/acmebrk-7-000001.xml",
                            mail_to: &mail_to,
                        })
                        .expect("commit");
                    assert_eq!(c.issued.len(), v.apps.len());
                    store.flush().expect("flush");
                    (dir, store)
                },
                BatchSize::PerIteration,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
