//! What the benchmarks share: generated filings, the built-in rule settings, a fixed day.
#![allow(dead_code)]

use aim::config::{BUILT_IN, Config};
use aim::filing::rules::RuleSettings;
use aim::generator::{GenOptions, generate};
use chrono::NaiveDate;

pub const SENDER: &str = "ACMEBRK";

pub fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 28).expect("date")
}

/// One generated filing of `apps` applications (seed 7: the same bytes every run).
pub fn filing(apps: usize) -> Vec<u8> {
    let opts = GenOptions {
        sender: SENDER.into(),
        count: 1,
        apps_per_file: apps,
        seed: 7,
        today: today(),
    };
    generate(&opts).next().expect("one file").bytes
}

pub fn settings() -> RuleSettings {
    let cfg = Config::parse(BUILT_IN, "built-in").expect("config");
    RuleSettings {
        apply_review: false,
        ..cfg.rule_settings()
    }
}

pub fn registered(id: &str) -> bool {
    id == SENDER || id == "DEMO"
}
