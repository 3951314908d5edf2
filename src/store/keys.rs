//! Every key of the store, in one place. Trees and their keys:
//!
//! | tree | key | value |
//! |---|---|---|
//! | `meta` | `license_seq`, `licenses_on_record`, `cells_layout`, `store_layout`, `upgrade_v3`, `upgrade_v4_count` | u64 counters |
//! | `meta` | `upgrade_v4` | the last index entry the upgrade to layout 4 took |
//! | `meta` | `mail_counts` | [`MailCounts`](super::MailCounts): queued, retrying, dead |
//! | `meta` | `day` 0 `YYYY-MM-DD` | [`DayStats`](super::DayStats) |
//! | `receipts` | sender 0 sha256 | [`Receipt`](super::Receipt) |
//! | `controls` | sender 0 control (u32) | sha256 of the file that used it |
//! | `licenses` | `g` year (u16) seq (u32): the first number of a run | a group of consecutive licenses (`groups`) |
//! | `licenses` | `s` year (u16) seq (u32) | [`License`](super::License) changed after its group was written (read first) |
//! | `index` | kind 0 value 0 year seq: `seq` the first of its 64 | u64 bitmap of the licenses of the bucket (`postings`): searches by sender, importer, status, day, entry |
//! | `index` | `u` 0 receipt key | (empty): receipts with unfinished deliveries or follow-ups |
//! | `index` | `a` 0 year seq audit-id: `seq` the first of its 64 | u64 bitmap of the bucket's licenses the event names (`postings`) |
//! | `index` | `r` 0 sender 0 ms (u64) sha256 | [`RejectedFile`](super::RejectedFile): files with a rejection (`rejections`) |
//! | `meta` | `rej` 0 `YYYY-MM-DD` 0 sender | [`SenderDay`](super::SenderDay): the filer's scorecard of a day |
//! | `audit` | id (u64) | [`AuditEvent`](super::AuditEvent) |
//! | `mail` | due-ms (u64) id (u64) | queued [`MailJob`](super::MailJob) |
//! | `mail_done` | `s`/`d` id | sent (slim) or dead jobs |
//! | `aggregates` | month 0 dimension 0 key | [`Cell`](super::Cell) |
//! | `unit_values` | hts6 0 day license line | unit value (decimal text) |
//! | `holds` | receipt key, position (u32) | [`PendingApp`](super::PendingApp) |
//! | `decisions` | receipt key, position (u32) | [`Decided`](super::Decided) |
//!
//! Integers are big-endian so that keys sort as their numbers do. Layout 2 (no `store_layout`)
//! kept a license under its bare number (year seq) instead of in a group, and layouts 2 and 3
//! one index key per license (empty value) instead of a bucket: `layout` upgrades both.

use crate::filing::model::LicenseNumber;
use chrono::{DateTime, Datelike, NaiveDate, Utc};

pub(crate) const LICENSE_SEQ: &[u8] = b"license_seq";
pub(crate) const LICENSES_ON_RECORD: &[u8] = b"licenses_on_record";
/// The layout of the whole store (u64), see `layout`; absent in databases of earlier releases.
pub(crate) const STORE_LAYOUT: &[u8] = b"store_layout";
/// Licenses moved to layout 3 so far (u64), the upgrade's progress.
pub(crate) const UPGRADE_V3: &[u8] = b"upgrade_v3";
/// The last index entry of layout 3 made a posting (its key), the upgrade to layout 4's
/// progress, and how many so far (u64); both go when it ends.
pub(crate) const UPGRADE_V4: &[u8] = b"upgrade_v4";
pub(crate) const UPGRADE_V4_COUNT: &[u8] = b"upgrade_v4_count";
/// The upgrade to layout 5: the last unit-value key of layout 4 taken, and how many so far.
pub(crate) const UPGRADE_V5: &[u8] = b"upgrade_v5";
pub(crate) const UPGRADE_V5_COUNT: &[u8] = b"upgrade_v5_count";
/// The layout of the aggregate cells (u64), see `aggregates::CELLS_LAYOUT`.
pub(crate) const CELLS_LAYOUT: &[u8] = b"cells_layout";
/// The mail queue's counts, kept by the writer (`mail_queue::MailDelta`).
pub(crate) const MAIL_COUNTS: &[u8] = b"mail_counts";

/// Index kinds.
pub(crate) const BY_SENDER: u8 = b's';
pub(crate) const BY_IMPORTER: u8 = b'i';
pub(crate) const BY_STATUS: u8 = b't';
pub(crate) const BY_DAY: u8 = b'd';
pub(crate) const BY_ENTRY: u8 = b'e';
/// The kinds kept as postings (`postings`), in key order: the audit's entries of licenses
/// and the searches'.
pub(crate) const POSTING_KINDS: [u8; 6] = [
    AUDIT_OF_LICENSE,
    BY_DAY,
    BY_ENTRY,
    BY_IMPORTER,
    BY_SENDER,
    BY_STATUS,
];
pub(crate) const UNDONE: u8 = b'u';
pub(crate) const AUDIT_OF_LICENSE: u8 = b'a';
pub(crate) const REJECTED_FILE: u8 = b'r';
const FILED: u8 = b'f';

/// Mail done kinds.
pub(crate) const SENT: u8 = b's';
pub(crate) const DEAD: u8 = b'd';

/// A key for messages: printable where it is text, hex where it is not.
pub(crate) fn show(key: &[u8]) -> String {
    key.iter()
        .map(|&b| {
            if b.is_ascii_graphic() {
                (b as char).to_string()
            } else {
                format!("\\x{b:02x}")
            }
        })
        .collect()
}

pub(crate) fn day(d: NaiveDate) -> Vec<u8> {
    format!("day\0{d}").into_bytes()
}

pub(crate) fn receipt(sender: &str, sha: &[u8; 32]) -> Vec<u8> {
    let mut k = Vec::with_capacity(sender.len() + 33);
    k.extend_from_slice(sender.as_bytes());
    k.push(0);
    k.extend_from_slice(sha);
    k
}

/// A file's first ack, beside its receipt in the `receipts` tree: the XML bytes as they are,
/// written once (the receipt is rewritten as deliveries finish; the ack never is).
pub(crate) fn receipt_ack(receipt_key: &[u8]) -> Vec<u8> {
    let mut k = receipt_key.to_vec();
    k.extend_from_slice(b"\0ack");
    k
}

pub(crate) fn control(sender: &str, n: u32) -> Vec<u8> {
    let mut k = sender.as_bytes().to_vec();
    k.push(0);
    k.extend_from_slice(&n.to_be_bytes());
    k
}

pub(crate) fn license(n: LicenseNumber) -> [u8; 6] {
    let mut k = [0u8; 6];
    k[..2].copy_from_slice(&n.year.to_be_bytes());
    k[2..].copy_from_slice(&n.seq.to_be_bytes());
    k
}

pub(crate) fn license_of(k: &[u8]) -> Option<LicenseNumber> {
    let k: [u8; 6] = k.try_into().ok()?;
    Some(LicenseNumber::new(
        u16::from_be_bytes([k[0], k[1]]),
        u32::from_be_bytes([k[2], k[3], k[4], k[5]]),
    ))
}

/// The first byte of a license group's key and of a license's shadow (layout 3).
pub(crate) const GROUP: u8 = b'g';
pub(crate) const SHADOW: u8 = b's';

/// A group of licenses, by its first number (`groups`).
pub(crate) fn group(first: LicenseNumber) -> [u8; 7] {
    let mut k = [GROUP; 7];
    k[1..].copy_from_slice(&license(first));
    k
}

pub(crate) fn group_number(k: &[u8]) -> Option<LicenseNumber> {
    match k.split_first() {
        Some((&GROUP, rest)) => license_of(rest),
        _ => None,
    }
}

/// A license changed after its group was written: read before the group's copy.
pub(crate) fn shadow(n: LicenseNumber) -> [u8; 7] {
    let mut k = [SHADOW; 7];
    k[1..].copy_from_slice(&license(n));
    k
}

pub(crate) fn index(kind: u8, value: &str, n: LicenseNumber) -> Vec<u8> {
    let mut k = index_prefix(kind, value);
    k.extend_from_slice(&license(n));
    k
}

pub(crate) fn index_prefix(kind: u8, value: &str) -> Vec<u8> {
    let mut k = vec![kind, 0];
    k.extend_from_slice(value.as_bytes());
    k.push(0);
    k
}

/// How many answered files the store keeps for the dashboard: a ring of slots, so it never grows.
pub(crate) const FILED_SLOTS: u64 = 256;

/// The slot of the answered file with audit id `id` in the ring of newest files.
pub(crate) fn filed(id: u64) -> [u8; 3] {
    // FILED_SLOTS is 256: the slot is one byte.
    [FILED, 0, u8::try_from(id % FILED_SLOTS).unwrap_or(u8::MAX)]
}

pub(crate) const FILED_PREFIX: [u8; 2] = [FILED, 0];

pub(crate) fn undone(receipt_key: &[u8]) -> Vec<u8> {
    let mut k = vec![UNDONE, 0];
    k.extend_from_slice(receipt_key);
    k
}

pub(crate) fn audit_of_license(n: LicenseNumber, id: u64) -> Vec<u8> {
    let mut k = vec![AUDIT_OF_LICENSE, 0];
    k.extend_from_slice(&license(n));
    k.extend_from_slice(&id.to_be_bytes());
    k
}

pub(crate) fn audit_of_license_prefix(n: LicenseNumber) -> Vec<u8> {
    let mut k = vec![AUDIT_OF_LICENSE, 0];
    k.extend_from_slice(&license(n));
    k
}

/// The unit values of one 6-digit HTS on one day for the bucket of 64 license numbers that
/// holds `n` (layout 5): the prefix, the day, the bucket's first number.
pub(crate) fn uv_bucket(hts6: &str, day: NaiveDate, n: LicenseNumber) -> Vec<u8> {
    let mut k = uv_day(hts6, day.num_days_from_ce());
    k.extend_from_slice(&license(super::postings::bucket_first(n)));
    k
}

/// Where the unit values of `hts6` for the day numbered `day` (days from the common era)
/// begin.
pub(crate) fn uv_day(hts6: &str, day: i32) -> Vec<u8> {
    let mut k = uv_prefix(hts6);
    k.extend_from_slice(&day.to_be_bytes());
    k
}

/// A unit value as layout 4 kept it, one key per product line (the upgrade's tests write it).
#[cfg(test)]
pub(crate) fn uv_line(hts6: &str, day: NaiveDate, n: LicenseNumber, line: u16) -> Vec<u8> {
    let mut k = uv_day(hts6, day.num_days_from_ce());
    k.extend_from_slice(&license(n));
    k.extend_from_slice(&line.to_be_bytes());
    k
}

pub(crate) fn uv_prefix(hts6: &str) -> Vec<u8> {
    let mut k = hts6.as_bytes().to_vec();
    k.push(0);
    k
}

/// Mail queue key: due time first, so the worker reads only what is due.
pub(crate) fn mail(due: DateTime<Utc>, id: u64) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(
        &u64::try_from(due.timestamp_millis())
            .unwrap_or(0)
            .to_be_bytes(),
    );
    k[8..].copy_from_slice(&id.to_be_bytes());
    k
}

pub(crate) fn mail_done(kind: u8, id: u64) -> [u8; 9] {
    let mut k = [0u8; 9];
    k[0] = kind;
    k[1..].copy_from_slice(&id.to_be_bytes());
    k
}

pub(crate) fn cell(month: &str, dim: &str, key: &str) -> Vec<u8> {
    format!("{month}\0{dim}\0{key}").into_bytes()
}

/// A held application: its receipt and its position in the file.
pub(crate) fn hold(receipt_key: &[u8], position: usize) -> Vec<u8> {
    let mut k = receipt_key.to_vec();
    k.extend_from_slice(&u32::try_from(position).unwrap_or(u32::MAX).to_be_bytes());
    k
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn license_keys_round_trip_and_sort_by_number() {
        let a = LicenseNumber::new(2026, 9);
        let b = LicenseNumber::new(2026, 10);
        assert_eq!(license_of(&license(a)), Some(a));
        assert!(license(a) < license(b));
        assert!(license_of(b"short").is_none());
    }

    #[test]
    fn keys_are_shown_readably() {
        assert_eq!(show(b"ab\0c"), "ab\\x00c");
    }
}
