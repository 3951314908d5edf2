//! Reads for staff: licenses by number and through the indexes, and the counters of the day.

use super::codec::dec;
use super::codec::dec_u64;
use super::records::{DayStats, License};
use super::{Result, Store, keys, postings};
use chrono::NaiveDate;
use std::ops::Bound;

impl Store {
    /// Licenses of a sender, newest first, at most `limit`.
    pub fn licenses_of(&self, sender: &str, limit: usize) -> Result<Vec<License>> {
        let prefix = keys::index_prefix(keys::BY_SENDER, sender);
        let buckets = self
            .trees
            .index
            .scan_prefix(&prefix)
            .rev()
            .map(|kv| kv.map_err(Into::into));
        let mut out = Vec::new();
        let all = (Bound::Unbounded, Bound::Unbounded);
        for k in postings::expand(buckets, all, true) {
            let k = k?;
            if let Some(l) = self.license_by_key(&k[k.len().saturating_sub(6)..])? {
                out.push(l);
                if out.len() >= limit {
                    break;
                }
            }
        }
        Ok(out)
    }

    /// Licenses not cancelled (a counter kept with every change: no scan).
    pub fn licenses_on_record(&self) -> Result<u64> {
        match self.trees.meta.get(keys::LICENSES_ON_RECORD)? {
            Some(v) => dec_u64(keys::LICENSES_ON_RECORD, &v),
            None => Ok(0),
        }
    }

    /// The intake counters of one UTC day.
    pub fn day_stats(&self, day: NaiveDate) -> Result<DayStats> {
        let k = keys::day(day);
        Ok(self
            .trees
            .meta
            .get(&k)?
            .map(|v| dec(&k, &v))
            .transpose()?
            .unwrap_or_default())
    }

    /// The last license number issued (0 before the first).
    pub fn license_sequence(&self) -> Result<u64> {
        match self.trees.meta.get(keys::LICENSE_SEQ)? {
            Some(v) => dec_u64(keys::LICENSE_SEQ, &v),
            None => Ok(0),
        }
    }
}
