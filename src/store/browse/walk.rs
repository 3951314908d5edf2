//! The budgeted walk of a [`Plan`] over the store: one page from a cursor key in either
//! direction, stopping at `limit` rows, after [`SCAN_CAP`] keys or after [`WALK_BUDGET`] (then
//! it says where to go on), so no keypress scans the store; and a count that is exact where
//! a counter or a bounded key count gives it, else "at least".

use super::plan::{self, Checks, Driver, Facts, Plan};
use super::query::{BrowsePage, BrowseQuery, BrowseRow};
use crate::filing::model::{LicenseNumber, fixed};
use crate::store::records::License;
use crate::store::{Result, Store, StoreError, keys, postings};
use std::ops::Bound;
use std::time::Instant;

/// Keys walked at most for one page (a filter the indexes cannot answer alone).
pub const SCAN_CAP: usize = 20_000;
/// Keys counted at most for a total.
pub const COUNT_CAP: usize = 100_000;
/// Licenses decoded at most to count a filter the indexes cannot answer alone.
pub const DECODE_COUNT_CAP: usize = 5_000;
/// Rows of one page at most.
pub const MAX_PAGE: usize = 500;
/// Time one page's walk may take before it stops and says where to go on: a cold cache over
/// a large store makes a key cost far more than the key caps assume.
pub const WALK_BUDGET: std::time::Duration = std::time::Duration::from_millis(40);
/// Time a count may take before it answers "at least".
pub const COUNT_BUDGET: std::time::Duration = std::time::Duration::from_millis(30);

/// A walked key and the license it leads to.
type Row = (Vec<u8>, Option<License>);

/// A key range of a tree, as sled takes it.
type Bounds = (Bound<Vec<u8>>, Bound<Vec<u8>>);

/// The rows one page walk has taken, and when it has to stop.
struct Taker<'p> {
    checks: &'p Checks,
    limit: usize,
    rows: Vec<(Vec<u8>, License)>,
    scanned: usize,
    /// Where to go on when the walk ran out of keys or time before the page was full.
    resume: Option<String>,
    began: Instant,
}

impl Taker<'_> {
    /// Take one walked key (its license when it passes the checks); false: the page is done.
    fn take(&mut self, k: &[u8], lic: Option<License>) -> bool {
        self.scanned += 1;
        if let Some(l) = lic
            && self.checks.pass(&l)
        {
            self.rows.push((k.to_vec(), l));
            if self.rows.len() >= self.limit {
                return false;
            }
        }
        if self.scanned >= SCAN_CAP
            || (self.scanned.is_multiple_of(64) && self.began.elapsed() > WALK_BUDGET)
        {
            self.resume = Some(hex::encode(k));
            return false;
        }
        true
    }
}

/// The keys of `[lo, hi)` beyond the cursor `after` in the walk's direction; none when
/// nothing lies there.
fn bounds(lo: &[u8], hi: &[u8], after: Option<&[u8]>, key_backward: bool) -> Option<Bounds> {
    let (lo, hi) = (lo.to_vec(), hi.to_vec());
    match (after, key_backward) {
        (Some(a), true) if a <= lo.as_slice() => None,
        (Some(a), false) if a >= hi.as_slice() => None,
        (Some(a), false) if a >= lo.as_slice() => {
            Some((Bound::Excluded(a.to_vec()), Bound::Excluded(hi)))
        }
        (Some(a), true) => Some((Bound::Included(lo), Bound::Excluded(a.to_vec().min(hi)))),
        _ => Some((Bound::Included(lo), Bound::Excluded(hi))),
    }
}

impl Store {
    /// One page of the browser (see the module's text). `senders`: the partners, for control
    /// numbers.
    pub fn browse(&self, q: &BrowseQuery, senders: &[String]) -> Result<BrowsePage> {
        let plan = plan::plan(q, &self.facts(q, senders)?);
        let after = self.start_after(q, &plan)?;
        let mut t = Taker {
            checks: &plan.checks,
            limit: q.limit.clamp(1, MAX_PAGE),
            rows: Vec::new(),
            scanned: 0,
            resume: None,
            began: Instant::now(),
        };
        let at_end = match &plan.driver {
            Driver::List(list) => {
                self.walk_list(list, after.as_deref(), plan.key_backward, &mut t)?
            }
            Driver::Licenses { lo, hi } | Driver::Index { lo, hi } => {
                let is_index = matches!(plan.driver, Driver::Index { .. });
                match bounds(lo, hi, after.as_deref(), plan.key_backward) {
                    Some(range) => self.walk_range(is_index, range, plan.key_backward, &mut t)?,
                    None => true,
                }
            }
        };
        let (mut rows, resume) = (t.rows, t.resume);
        if q.backward {
            rows.reverse();
        }
        let (total, total_exact) = if q.count {
            let (n, e) = self.count_plan(&plan)?;
            (Some(n), e)
        } else {
            (None, false)
        };
        Ok(BrowsePage {
            start: self.position(q, &plan, rows.first().map(|(_, l)| l)),
            rows: rows.iter().map(|(k, l)| row_of(k, l)).collect(),
            total,
            total_exact,
            at_end: at_end && resume.is_none(),
            resume,
            plan: plan.describe,
        })
    }

    /// What the plan needs to know of the store: whether the bare words name a sender with
    /// licenses, and the licenses of a control number's file.
    fn facts(&self, q: &BrowseQuery, senders: &[String]) -> Result<Facts> {
        let f = &q.filter;
        let text_is_sender = match plan::sender_word(q) {
            Some(w) => self.has_sender(&w)?,
            None => false,
        };
        let mut control_files = Vec::new();
        if let Some(n) = f.control {
            for s in senders
                .iter()
                .filter(|s| f.sender.as_deref().is_none_or(|x| x == s.as_str()))
            {
                if let Some(sha) = self.control_owner(s, n)?
                    && let Some(r) = self.receipt(s, &sha)?
                {
                    control_files
                        .push((s.clone(), r.apps.iter().filter_map(|a| a.license).collect()));
                }
            }
        }
        Ok(Facts {
            text_is_sender,
            control_files,
        })
    }

    /// Whether any license is indexed under this sender id.
    fn has_sender(&self, s: &str) -> Result<bool> {
        Ok(self
            .trees
            .index
            .scan_prefix(keys::index_prefix(keys::BY_SENDER, s))
            .next()
            .transpose()?
            .is_some())
    }

    /// The key the walk starts after: the query's cursor, or the row before `offset` where
    /// positions are exact.
    fn start_after(&self, q: &BrowseQuery, plan: &Plan) -> Result<Option<Vec<u8>>> {
        if let Some(h) = &q.after {
            return hex::decode(h)
                .map(Some)
                .map_err(|_| StoreError::Invalid(format!("{h:?} is not a browse cursor")));
        }
        let Some(o) = q
            .offset
            .filter(|o| *o > 0 && !q.backward && plan.exact_positions)
        else {
            return Ok(None);
        };
        // Row o is license seq o+1 (one sequence over all years, none ever removed); the walk
        // starts after the row before it.
        let before = if q.desc {
            (self.license_sequence()? + 1).saturating_sub(o)
        } else {
            o
        };
        Ok(Some(match self.number_key_of_seq(before)? {
            Some(k) => k,
            None if q.desc => Vec::new(),
            None => vec![0xff; 7],
        }))
    }

    /// The position of a page's first row, where positions are exact.
    fn position(&self, q: &BrowseQuery, plan: &Plan, first: Option<&License>) -> Option<u64> {
        if !plan.exact_positions {
            return None;
        }
        let p = u64::from(first?.number.seq).saturating_sub(1);
        if q.desc {
            self.license_sequence()
                .ok()
                .map(|t| t.saturating_sub(p + 1))
        } else {
            Some(p)
        }
    }

    /// Walk a list of license numbers (in number order) from after the cursor; true: the
    /// list's end was reached.
    fn walk_list(
        &self,
        list: &[LicenseNumber],
        after: Option<&[u8]>,
        key_backward: bool,
        t: &mut Taker<'_>,
    ) -> Result<bool> {
        let mut list: Vec<Vec<u8>> = list.iter().map(|n| keys::license(*n).to_vec()).collect();
        if key_backward {
            list.reverse();
        }
        let start = match after {
            Some(a) => list
                .iter()
                .position(|k| {
                    if key_backward {
                        k.as_slice() < a
                    } else {
                        k.as_slice() > a
                    }
                })
                .unwrap_or(list.len()),
            None => 0,
        };
        for k in &list[start..] {
            let lic = self.license_by_key(k)?;
            if !t.take(k, lic) {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Walk a key range of the `licenses` tree or of the `index` tree; true: the range's end
    /// was reached.
    fn walk_range(
        &self,
        is_index: bool,
        range: Bounds,
        key_backward: bool,
        t: &mut Taker<'_>,
    ) -> Result<bool> {
        // The index's buckets expand to one key per license, ending in its number
        // (`postings`); the licenses walk by number.
        let rows: Box<dyn Iterator<Item = Result<Row>>> = if is_index {
            let mut iter = self.trees.index.range(postings::bucket_range(&range));
            let buckets = std::iter::from_fn(move || {
                if key_backward {
                    iter.next_back()
                } else {
                    iter.next()
                }
            })
            .filter(|kv| kv.as_ref().map_or(true, |(k, _)| k.len() >= 6))
            .map(|kv| kv.map_err(Into::into));
            Box::new(postings::expand(buckets, range, key_backward).map(|k| {
                let k = k?;
                let lic = self.license_by_key(&k[k.len() - 6..])?;
                Ok((k, lic))
            }))
        } else {
            Box::new(
                self.walk_licenses(range.0, range.1, key_backward)?
                    .map(|r| r.map(|(k, l)| (k, Some(l)))),
            )
        };
        for row in rows {
            let (k, lic) = row?;
            if !t.take(&k, lic) {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// The `licenses` key of the license numbered `seq` (whatever its year), if any.
    fn number_key_of_seq(&self, seq: u64) -> Result<Option<Vec<u8>>> {
        let Ok(seq) = u32::try_from(seq) else {
            return Ok(None);
        };
        // Years are few: probe each, from the first group's year on.
        let mut from = vec![keys::GROUP];
        while let Some(kv) = self
            .trees
            .licenses
            .range::<Vec<u8>, _>((
                Bound::Excluded(from.clone()),
                Bound::Excluded(vec![keys::GROUP + 1]),
            ))
            .next()
        {
            let (k, _) = kv?;
            let Some(first) = keys::group_number(&k) else {
                break;
            };
            let n = LicenseNumber::new(first.year, seq);
            if self.license_exists(n)? {
                return Ok(Some(keys::license(n).to_vec()));
            }
            from = keys::group(LicenseNumber::new(first.year, u32::MAX)).to_vec();
        }
        Ok(None)
    }

    /// How many rows the plan finds: exact, or at least this many (`false`) when the count
    /// stopped at its cap or its time budget.
    fn count_plan(&self, plan: &Plan) -> Result<(u64, bool)> {
        if plan.exact_positions {
            return Ok((self.license_sequence()?, true));
        }
        let decode = !plan.checks.is_empty();
        let cap = if decode { DECODE_COUNT_CAP } else { COUNT_CAP };
        let began = std::time::Instant::now();
        let mut n = 0u64;
        match &plan.driver {
            Driver::List(list) => {
                for x in list {
                    if self.license(*x)?.is_some_and(|l| plan.checks.pass(&l)) {
                        n += 1;
                    }
                }
            }
            Driver::Licenses { lo, hi } => {
                let range = (Bound::Included(lo.clone()), Bound::Excluded(hi.clone()));
                if !decode {
                    return self.count_licenses(range.0, range.1, cap as u64);
                }
                for (seen, row) in self.walk_licenses(range.0, range.1, false)?.enumerate() {
                    if seen >= cap || (seen % 64 == 63 && began.elapsed() > COUNT_BUDGET) {
                        return Ok((n, false));
                    }
                    if plan.checks.pass(&row?.1) {
                        n += 1;
                    }
                }
            }
            Driver::Index { lo, hi } => {
                let range = (Bound::Included(lo.clone()), Bound::Excluded(hi.clone()));
                let buckets = self
                    .trees
                    .index
                    .range(range.clone())
                    .map(|kv| kv.map_err(Into::into));
                for (seen, k) in postings::expand(buckets, range, false).enumerate() {
                    if seen >= cap || (seen % 64 == 63 && began.elapsed() > COUNT_BUDGET) {
                        return Ok((n, false));
                    }
                    let k = k?;
                    if !decode {
                        n += 1;
                        continue;
                    }
                    let lic = self.license_by_key(&k[k.len().saturating_sub(6)..])?;
                    if lic.is_some_and(|l| plan.checks.pass(&l)) {
                        n += 1;
                    }
                }
            }
        }
        Ok((n, true))
    }
}

fn row_of(k: &[u8], l: &License) -> BrowseRow {
    let d = &l.data;
    BrowseRow {
        cursor: hex::encode(k),
        license: l.number.to_string(),
        status: l.status_name().to_owned(),
        sender: l.sender.clone(),
        importer: d.importer.clone(),
        entry_number: d.entry_number.as_ref().map(|e| e.0.clone()),
        country_of_origin: d.origin.as_str().to_owned(),
        valid_from: l.valid_from,
        hts: d
            .products
            .first()
            .map(|p| p.hts.digits().to_owned())
            .unwrap_or_default(),
        products: d.products.len(),
        total_value_usd: fixed(d.total_value(), 2),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_start_beyond_the_cursor() {
        let (lo, hi) = (b"b".as_slice(), b"y".as_slice());
        let inc = |k: &[u8]| Bound::Included(k.to_vec());
        let exc = |k: &[u8]| Bound::Excluded(k.to_vec());
        assert_eq!(bounds(lo, hi, None, false), Some((inc(lo), exc(hi))));
        assert_eq!(bounds(lo, hi, None, true), Some((inc(lo), exc(hi))));
        // Forward: after the cursor, or from `lo` when the cursor lies before it.
        assert_eq!(bounds(lo, hi, Some(b"a"), false), Some((inc(lo), exc(hi))));
        assert_eq!(
            bounds(lo, hi, Some(b"b"), false),
            Some((exc(b"b"), exc(hi)))
        );
        assert_eq!(
            bounds(lo, hi, Some(b"m"), false),
            Some((exc(b"m"), exc(hi)))
        );
        assert_eq!(bounds(lo, hi, Some(b"y"), false), None);
        // Backward: before the cursor, or from `hi` when the cursor lies beyond it.
        assert_eq!(bounds(lo, hi, Some(b"m"), true), Some((inc(lo), exc(b"m"))));
        assert_eq!(bounds(lo, hi, Some(b"z"), true), Some((inc(lo), exc(hi))));
        assert_eq!(bounds(lo, hi, Some(b"b"), true), None);
    }
}
