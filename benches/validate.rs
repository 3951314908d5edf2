//! Throughput of `aim::filing::check` (read, rules, no ack) on generated filings: one of about
//! 10 MB and one of 1,000 applications.
//!
//! `cargo bench --bench validate`. The files are also written to `$TMPDIR/aim-bench/` so that
//! other tools (xmllint, `aim validate`) can be timed on the same bytes.
#![allow(
    clippy::unwrap_used,
    clippy::too_many_lines,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)] // Test code: a panic is the failure report, a scenario reads top to bottom.

use aim::config::{BUILT_IN, Config};
use aim::filing::rules::{AppStatus, FileContext, Offline, RuleSettings};
use aim::generator::{GenOptions, generate};
use chrono::NaiveDate;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

const TARGET_BYTES: usize = 10 * 1024 * 1024;

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 28).expect("date")
}

/// One generated filing of `apps` applications.
fn filing(apps: usize) -> Vec<u8> {
    let opts = GenOptions {
        sender: "ACMEBRK".into(),
        count: 1,
        apps_per_file: apps,
        seed: 7,
        today: today(),
    };
    generate(&opts).next().expect("one file").bytes
}

/// A filing of about `TARGET_BYTES`: the application count is scaled from a sample.
fn ten_mb() -> (Vec<u8>, usize) {
    let probe = filing(200).len();
    let apps = (TARGET_BYTES * 200).div_ceil(probe).min(10_000);
    (filing(apps), apps)
}

fn settings() -> RuleSettings {
    let cfg = Config::parse(BUILT_IN, "built-in").expect("config");
    RuleSettings {
        apply_review: false,
        ..cfg.rule_settings()
    }
}

fn save(name: &str, bytes: &[u8]) {
    let dir = std::env::temp_dir().join("aim-bench").join("ACMEBRK");
    if std::fs::create_dir_all(&dir).is_ok() {
        let _ = std::fs::write(dir.join(name), bytes);
    }
}

fn bench(c: &mut Criterion) {
    let s = settings();
    let registered = |id: &str| id == "ACMEBRK" || id == "DEMO";
    let cx = FileContext {
        inbox_sender: "ACMEBRK",
        is_registered: &registered,
        filing_day: today(),
        sha256: [0; 32],
        settings: &s,
    };
    let (big, big_apps) = ten_mb();
    let thousand = filing(1000);
    save("bench-10mb.xml", &big);
    save("bench-1000.xml", &thousand);

    let mut g = c.benchmark_group("check");
    g.sample_size(20);
    for (label, bytes, apps) in [("10MB", &big, big_apps), ("1000apps", &thousand, 1000)] {
        // Every generated application is valid: the benchmark measures the accepting path.
        let v = aim::filing::check(bytes, &cx, &mut Offline).expect("offline");
        assert!(v.file_error.is_none(), "{label}: {:?}", v.file_error);
        assert_eq!(v.apps.len(), apps);
        assert!(v.apps.iter().all(|a| a.status == AppStatus::Issued));
        eprintln!(
            "{label}: {} bytes, {apps} applications, {} bytes per application",
            bytes.len(),
            bytes.len() / apps
        );
        g.throughput(Throughput::Bytes(bytes.len() as u64));
        g.bench_with_input(
            BenchmarkId::new(label, format!("{apps}apps")),
            bytes,
            |b, bytes| b.iter(|| aim::filing::check(black_box(bytes), &cx, &mut Offline)),
        );
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
