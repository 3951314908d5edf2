//! Snapshots of the acks `aim validate` writes for a few samples on 2026-11-28, with the fixed
//! ReceivedAt of `--today`: any change in the bytes of an ack shows up in review.
#![allow(
    clippy::unwrap_used,
    clippy::too_many_lines,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)] // Test code: a panic is the failure report, a scenario reads top to bottom.

mod common;

use aim::validate::{Outcome, validate_file};
use common::{config, sample_options, samples_dir};

fn ack(name: &str) -> String {
    let cfg = config();
    let opts = sample_options(&cfg);
    let path = samples_dir().join("ACMEBRK").join(name);
    match validate_file(&path, &opts).unwrap_or_else(|e| panic!("{name}: {e}")) {
        Outcome::Ack { xml, .. } => String::from_utf8(xml).expect("the ack is UTF-8"),
        Outcome::Ignored => panic!("{name}: no ack"),
    }
}

#[test]
fn valid_three_products() {
    insta::assert_snapshot!("valid-three-products", ack("valid-three-products.xml"));
}

#[test]
fn partial_two_apps() {
    insta::assert_snapshot!("partial-two-apps", ack("partial-two-apps.xml"));
}

#[test]
fn bad_c1_control() {
    insta::assert_snapshot!("bad-c1-control", ack("bad-c1-control.xml"));
}

#[test]
fn file_not_well_formed() {
    insta::assert_snapshot!("file-not-well-formed", ack("file-not-well-formed.xml"));
}

#[test]
fn valid_informal_warning() {
    insta::assert_snapshot!("valid-informal-warning", ack("valid-informal-warning.xml"));
}
