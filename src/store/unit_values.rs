//! The W310 window: unit values of issued licenses by 6-digit HTS over 90 days, kept sorted in
//! memory per HTS for the day in hand (bounded by the HTS numbers in scope, not by licenses)
//! and rebuilt from the `unit_values` tree when the day changes or a license leaves it.
//!
//! The tree keeps one key per HTS subheading, day and bucket of 64 license numbers (layout 5;
//! `keys::uv_bucket`), whose value lists the bucket's product lines: a file of 1,000
//! applications writes a key per subheading and bucket instead of one per product line (about
//! 1,900 of its 3,300 writes in layout 4). A window reads the buckets of its 90 days by
//! prefix, as it read the lines before.

use super::change::Touch;
use super::{Result, Store, StoreError, keys};
use crate::filing::model::LicenseNumber;
use chrono::{Datelike, Days, NaiveDate};
use rust_decimal::Decimal;
use std::collections::HashSet;

/// Sliding-window unit values of one 6-digit HTS for W310.
pub(crate) struct Window {
    day: NaiveDate,
    sorted: Vec<Decimal>,
    licenses: HashSet<LicenseNumber>,
}

/// W310 needs at least this many licenses in the window.
const MIN_LICENSES: usize = 20;

/// One product line in a bucket: the license's place in its bucket, the line, the value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Line {
    pub at: u8,
    pub line: u16,
    pub value: Decimal,
}

impl Line {
    /// The license of this line, in the bucket whose first number is `first`.
    pub(crate) fn license(&self, first: LicenseNumber) -> LicenseNumber {
        LicenseNumber::new(first.year, first.seq + u32::from(self.at))
    }
}

/// Put `line` into a bucket's lines, in place of the same license's line of that number.
pub(crate) fn put(lines: &mut Vec<Line>, line: Line) {
    take_out(lines, line.at, line.line);
    lines.push(line);
}

/// Take the line `line` of the license at `at` out of a bucket's lines.
pub(crate) fn take_out(lines: &mut Vec<Line>, at: u8, line: u16) {
    lines.retain(|l| (l.at, l.line) != (at, line));
}

/// Bytes of one line in a bucket's value: place, line number, `Decimal::serialize`.
const LINE: usize = 1 + 2 + 16;

/// A bucket's lines from its stored value, in order of place and line.
pub(crate) fn lines(key: &[u8], value: &[u8]) -> Result<Vec<Line>> {
    if !value.len().is_multiple_of(LINE) {
        return Err(StoreError::Decode {
            key: keys::show(key),
            message: format!(
                "a unit-value bucket of {} bytes, not a multiple of {LINE}",
                value.len()
            ),
        });
    }
    Ok(value
        .chunks_exact(LINE)
        .map(|c| {
            let mut raw = [0u8; 16];
            raw.copy_from_slice(&c[3..]);
            Line {
                at: c[0],
                line: u16::from_be_bytes([c[1], c[2]]),
                value: Decimal::deserialize(raw),
            }
        })
        .collect())
}

/// A bucket's stored value (its lines sorted by place and line).
pub(crate) fn value_of(lines: &mut [Line]) -> Vec<u8> {
    lines.sort_by_key(|l| (l.at, l.line));
    let mut v = Vec::with_capacity(lines.len() * LINE);
    for l in lines.iter() {
        v.push(l.at);
        v.extend_from_slice(&l.line.to_be_bytes());
        v.extend_from_slice(&l.value.serialize());
    }
    v
}

/// License `n`'s place in its bucket.
pub(crate) fn place(n: LicenseNumber) -> u8 {
    u8::try_from(n.seq - super::postings::bucket_first(n).seq).unwrap_or(u8::MAX)
}

impl Store {
    /// Keep the windows in step with what was just committed.
    pub(crate) fn update_windows(&self, touched: &[Touch]) {
        let mut w = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        for t in touched {
            match t {
                Touch::Added(h, uv, n, day) => match w.get_mut(h) {
                    Some(win) if win.day == *day => {
                        let at = win.sorted.partition_point(|x| x < uv);
                        win.sorted.insert(at, *uv);
                        win.licenses.insert(*n);
                    }
                    Some(_) => {
                        w.remove(h);
                    }
                    None => {}
                },
                Touch::Stale(h) => {
                    w.remove(h);
                }
            }
        }
    }

    /// Median unit value for a 6-digit HTS over the 90 days up to `day`, once at least 20
    /// licenses exist for it in that window.
    pub fn unit_value_median(&self, hts6: &str, day: NaiveDate) -> Result<Option<Decimal>> {
        let mut w = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        if w.get(hts6).is_none_or(|win| win.day != day) {
            let from = day - Days::new(89);
            let lo = keys::uv_day(hts6, from.num_days_from_ce());
            let hi = keys::uv_day(hts6, day.num_days_from_ce() + 1);
            let mut sorted = Vec::new();
            let mut licenses = HashSet::new();
            for kv in self.trees.uv.range(lo..hi) {
                let (k, v) = kv?;
                let first = k
                    .len()
                    .checked_sub(6)
                    .and_then(|at| keys::license_of(&k[at..]))
                    .ok_or_else(|| StoreError::Decode {
                        key: keys::show(&k),
                        message: "a unit-value key ends in a license number".into(),
                    })?;
                for l in lines(&k, &v)? {
                    licenses.insert(l.license(first));
                    sorted.push(l.value);
                }
            }
            sorted.sort();
            w.insert(
                hts6.to_owned(),
                Window {
                    day,
                    sorted,
                    licenses,
                },
            );
        }
        let Some(win) = w.get(hts6) else {
            return Ok(None);
        };
        if win.licenses.len() < MIN_LICENSES || win.sorted.is_empty() {
            return Ok(None);
        }
        let n = win.sorted.len();
        Ok(Some(if n % 2 == 1 {
            win.sorted[n / 2]
        } else {
            (win.sorted[n / 2 - 1] + win.sorted[n / 2]) / Decimal::TWO
        }))
    }
}
