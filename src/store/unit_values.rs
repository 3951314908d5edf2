//! The W310 window: unit values of issued licenses by 6-digit HTS over 90 days, kept sorted in
//! memory per HTS for the day in hand (bounded by the HTS numbers in scope, not by licenses)
//! and rebuilt from the `unit_values` tree when the day changes or a license leaves it.

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
            let mut lo = keys::uv_prefix(hts6);
            let mut hi = lo.clone();
            lo.extend_from_slice(&from.num_days_from_ce().to_be_bytes());
            hi.extend_from_slice(&(day.num_days_from_ce() + 1).to_be_bytes());
            let mut sorted = Vec::new();
            let mut licenses = HashSet::new();
            for kv in self.trees.uv.range(lo..hi) {
                let (k, v) = kv?;
                let n = k.len();
                let bad = |message: &str| StoreError::Decode {
                    key: keys::show(&k),
                    message: message.into(),
                };
                let lic = (n >= 8)
                    .then(|| keys::license_of(&k[n - 8..n - 2]))
                    .flatten()
                    .ok_or_else(|| bad("a unit-value key ends in a license and a line"))?;
                licenses.insert(lic);
                let value = std::str::from_utf8(&v)
                    .ok()
                    .and_then(|s| s.parse::<Decimal>().ok())
                    .ok_or_else(|| bad("a unit value is not a decimal"))?;
                sorted.push(value);
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
