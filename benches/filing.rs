//! The filing core's three steps apart, on a generated 1,000-application filing (1.6 MB):
//! `parse` (the streaming reader into the raw model), `rules` (judging the raw model, offline
//! ledger) and `ack` (building and writing the ack of a file whose applications are all issued).
//!
//! `cargo bench --bench filing`. `benches/validate.rs` times the three together.
#![allow(
    clippy::unwrap_used,
    clippy::too_many_lines,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)] // Test code: a panic is the failure report, a scenario reads top to bottom.

mod common;

use aim::filing::ack::{Ack, FileFacts, Issuance};
use aim::filing::model::LicenseNumber;
use aim::filing::parse::{self, Limits};
use aim::filing::rules::{self, AppStatus, FileContext, Locator, Offline};
use chrono::TimeZone;
use common::*;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

fn bench(c: &mut Criterion) {
    let s = settings();
    let cx = FileContext {
        inbox_sender: SENDER,
        is_registered: &registered,
        filing_day: today(),
        sha256: [0; 32],
        settings: &s,
    };
    let bytes = filing(1000);
    let text = aim::filing::decode(&bytes).expect("UTF-8");
    let limits = || Limits {
        max_applications: s.max_applications,
    };
    let raw = parse::read(text, limits());
    let loc = Locator::new(text);
    let verdict = rules::judge(&raw, &loc, &cx, &mut Offline).expect("offline");
    assert!(verdict.file_error.is_none());
    assert!(verdict.apps.iter().all(|a| a.status == AppStatus::Issued));
    let issuance: Vec<Issuance> = (0..verdict.apps.len())
        .map(|i| Issuance {
            number: Some(LicenseNumber::new(2026, i as u32 + 1)),
            validity: Some(aim::store::validity(today())),
        })
        .collect();
    let facts = FileFacts {
        file_name: "acmebrk-7-000001.xml",
        sha256: [7; 32],
        received_at: chrono::Utc.with_ymd_and_hms(2026, 11, 28, 9, 0, 0).unwrap(),
    };
    let ack_len = Ack::first(&verdict, &facts, &issuance).render().len();

    let mut g = c.benchmark_group("filing_1000apps");
    g.sample_size(20);
    g.throughput(Throughput::Bytes(bytes.len() as u64));
    g.bench_function("parse", |b| {
        b.iter(|| parse::read(black_box(text), limits()))
    });
    g.bench_function("rules", |b| {
        b.iter(|| {
            let loc = Locator::new(text);
            rules::judge(black_box(&raw), &loc, &cx, &mut Offline)
        })
    });
    g.throughput(Throughput::Bytes(ack_len as u64));
    g.bench_function("ack", |b| {
        b.iter(|| Ack::first(black_box(&verdict), &facts, &issuance).render())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
