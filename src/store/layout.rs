//! The store's layout, marked in `meta` under `store_layout`, checked before anything else at
//! open. A database without the mark is of layout 2 (the layout of every release before the
//! mark existed). A database of a newer layout than this release knows is refused: reading it
//! with the older code would misread or overwrite what the newer one wrote.
//!
//! Each step is done at open, once, in units of change through the journal of at most
//! [`UPGRADE_UNIT`] items each, with its progress in `meta` written in the same unit; the last
//! unit of a step writes that step's layout mark. A kill stops it between units (or inside
//! one, which the journal finishes or drops); the next open goes on from where the marks and
//! the progress say. No reader runs before it ends.
//!
//! - 2 → 3: licenses in groups (`groups`); a unit moves its licenses whole (their layout-2
//!   keys removed, their groups written) and counts them under `upgrade_v3`.
//! - 3 → 4: the searches' index as postings (`postings`); a unit makes its index entries bits
//!   of their buckets and keeps the last one under `upgrade_v4`.
//! - 4 → 5: unit values in buckets (`unit_values`); a unit moves its product lines into their
//!   buckets and keeps the last line's key under `upgrade_v5`.

use super::codec::dec;
use super::records::License;
use super::{Result, Store, StoreError, keys, unit_values};
use rust_decimal::Decimal;
use std::ops::Bound;
use std::path::Path;

/// The layout this release writes.
pub(crate) const STORE_LAYOUT: u64 = 5;

/// Licenses moved at most by one unit of the upgrade.
pub(crate) const UPGRADE_UNIT: u64 = 2_000;

/// A database's layout before it was ever marked.
const UNMARKED: u64 = 2;

impl Store {
    /// The layout of the database as found (refused when newer than this release knows).
    pub(crate) fn check_layout(meta: &sled::Tree, dir: &Path) -> Result<u64> {
        let found = match meta.get(keys::STORE_LAYOUT)? {
            Some(v) => super::codec::dec_u64(keys::STORE_LAYOUT, &v)?,
            None => UNMARKED,
        };
        if found > STORE_LAYOUT {
            return Err(StoreError::NewerLayout {
                dir: dir.display().to_string(),
                found,
                known: STORE_LAYOUT,
            });
        }
        Ok(found)
    }

    /// Bring a database of layout 2 to layout 3 (see the module's text).
    pub(crate) fn upgrade_to_v3(&self) -> Result<()> {
        self.upgrade(3, "licenses", "licenses in groups", |tx| {
            let mut moved = 0u64;
            let mut more = false;
            // Layout 2 keys are the bare license numbers, which sort before every key of
            // layout 3 (`g…`, `s…`).
            for kv in self.trees.licenses.range(..[keys::GROUP].as_slice()) {
                let (k, v) = kv?;
                if moved >= UPGRADE_UNIT {
                    more = true;
                    break;
                }
                let lic: License = dec(&k, &v)?;
                if keys::license_of(&k) != Some(lic.number) {
                    return Err(StoreError::Decode {
                        key: keys::show(&k),
                        message: format!("holds license {}", lic.number),
                    });
                }
                tx.licenses.remove(k)?;
                tx.regroup(lic);
                moved += 1;
            }
            let before = tx.meta.counter(keys::UPGRADE_V3)?;
            tx.meta
                .insert(keys::UPGRADE_V3, &(before + moved).to_be_bytes())?;
            Ok((before + moved, !more))
        })
    }

    /// Bring a database of layout 3 to layout 4: every index entry of the searches and of the
    /// audit's licenses (one key per license, with an empty value) becomes a bit of its bucket
    /// (`postings`). Entries are taken in key order, where a bucket's key comes before (or is)
    /// its first entry's; `upgrade_v4` in `meta` keeps the last entry taken, so a unit starts
    /// after it.
    pub(crate) fn upgrade_to_v4(&self) -> Result<()> {
        self.upgrade(4, "index entries", "index entries as postings", |tx| {
            let after = tx.meta.get(keys::UPGRADE_V4)?.map(|v| v.to_vec());
            let mut taken = 0u64;
            let mut last = None;
            'kinds: for kind in keys::POSTING_KINDS {
                let lo = vec![kind, 0];
                let hi = vec![kind, 0, 0xff];
                let start = match &after {
                    Some(a) if a.as_slice() >= hi.as_slice() => continue,
                    Some(a) if a.as_slice() >= lo.as_slice() => Bound::Excluded(a.clone()),
                    _ => Bound::Included(lo),
                };
                for kv in self.trees.index.range((start, Bound::Excluded(hi))) {
                    let (k, v) = kv?;
                    // A bucket already written (8 bytes) lies at or before the last entry
                    // taken; only entries of layout 3 (empty) are left to take.
                    if !v.is_empty() {
                        continue;
                    }
                    if taken >= UPGRADE_UNIT {
                        break 'kinds;
                    }
                    tx.index.remove(k.to_vec())?;
                    tx.post(&k, true)?;
                    last = Some(k);
                    taken += 1;
                }
            }
            keep_progress(tx, (keys::UPGRADE_V4, keys::UPGRADE_V4_COUNT), taken, last)
        })
    }

    /// Bring a database of layout 4 to layout 5: every unit value of layout 4 (one key per
    /// product line: HTS, day, license, line; the value as text) becomes a line of its bucket
    /// (`unit_values`). Lines are taken in key order, where a bucket's key comes before its
    /// lines' (it is their prefix with the bucket's first number); `upgrade_v5` in `meta`
    /// keeps the last line taken, so a unit starts after it.
    pub(crate) fn upgrade_to_v5(&self) -> Result<()> {
        self.upgrade(5, "unit values", "unit values in buckets", |tx| {
            let start = match tx.meta.get(keys::UPGRADE_V5)? {
                Some(a) => Bound::Excluded(a.to_vec()),
                None => Bound::Unbounded,
            };
            let mut taken = 0u64;
            let mut last = None;
            for kv in self.trees.uv.range((start, Bound::Unbounded)) {
                let (k, v) = kv?;
                let Some(line) = old_unit_value(&k, &v)? else {
                    continue; // a bucket already written
                };
                if taken >= UPGRADE_UNIT {
                    break;
                }
                let (bucket, l) = line;
                tx.uv.remove(k.to_vec())?;
                tx.rewrite_unit_values(&bucket, |lines| unit_values::put(lines, l))?;
                last = Some(k);
                taken += 1;
            }
            keep_progress(tx, (keys::UPGRADE_V5, keys::UPGRADE_V5_COUNT), taken, last)
        })
    }

    /// Run an upgrade to layout `to` in units of change, each through the journal and flushed,
    /// until `unit` says it is done (its answer: how many `what` so far, and done); the last
    /// unit writes the mark. Progress is logged after the first unit, then every 5 s: a
    /// million licenses take about 40 s (BENCHMARKS.md).
    fn upgrade(
        &self,
        to: u64,
        what: &str,
        change: &str,
        mut unit: impl FnMut(&mut super::change::Tx<'_>) -> super::change::TxResult<(u64, bool)>,
    ) -> Result<()> {
        let began = std::time::Instant::now();
        let mut said: Option<std::time::Instant> = None;
        let total = loop {
            let (so_far, done) = self.transact(|tx| {
                let (so_far, done) = unit(tx)?;
                if done {
                    tx.meta.insert(keys::STORE_LAYOUT, &to.to_be_bytes())?;
                }
                Ok((so_far, done))
            })?;
            self.flush()?;
            if said.is_none_or(|t| t.elapsed() >= std::time::Duration::from_secs(5)) {
                said = Some(std::time::Instant::now());
                tracing::info!("store upgrade to layout {to}: {so_far} {what} moved so far");
            }
            if done {
                break so_far;
            }
        };
        tracing::info!(
            ms = u64::try_from(began.elapsed().as_millis()).unwrap_or(u64::MAX),
            "store upgraded to layout {to} ({change}): {total} {what} moved"
        );
        Ok(())
    }

    /// Mark the database with this release's layout (once it is in that layout).
    pub(crate) fn mark_layout(&self) -> Result<()> {
        let now = STORE_LAYOUT.to_be_bytes();
        if self.trees.meta.get(keys::STORE_LAYOUT)?.as_deref() != Some(&now[..]) {
            self.trees.meta.insert(keys::STORE_LAYOUT, &now)?;
            self.flush()?;
        }
        Ok(())
    }
}

/// The progress of an upgrade that takes entries in key order, at the end of one of its units
/// (`taken` entries, the last `last`), under `(last key, count)` in `meta`: both go when the
/// unit took less than a whole unit (it was the last). Returns how many so far, and done.
fn keep_progress(
    tx: &mut super::change::Tx<'_>,
    (last_key, count_key): (&[u8], &[u8]),
    taken: u64,
    last: Option<sled::IVec>,
) -> super::change::TxResult<(u64, bool)> {
    let before = tx.meta.counter(count_key)?;
    let done = taken < UPGRADE_UNIT;
    if done {
        tx.meta.remove(last_key)?;
        tx.meta.remove(count_key)?;
    } else if let Some(k) = last {
        tx.meta.insert(last_key, k)?;
        tx.meta.insert(count_key, &(before + taken).to_be_bytes())?;
    }
    Ok((before + taken, done))
}

/// A unit value as layout 4 kept it (`HTS 0 day license line` → the value as text), as its
/// bucket's key and its line there; `None` for a bucket of layout 5 (no line number).
fn old_unit_value(k: &[u8], v: &[u8]) -> Result<Option<(Vec<u8>, unit_values::Line)>> {
    let bad = |message: &str| StoreError::Decode {
        key: keys::show(k),
        message: message.into(),
    };
    let day_at = k
        .iter()
        .position(|b| *b == 0)
        .ok_or_else(|| bad("a unit-value key without its HTS number's end"))?
        + 1;
    match k.len() - day_at {
        10 => return Ok(None),
        12 => {}
        _ => return Err(bad("a unit-value key is neither a line nor a bucket")),
    }
    let n = keys::license_of(&k[day_at + 4..day_at + 10])
        .ok_or_else(|| bad("a unit-value key without its license"))?;
    let value = std::str::from_utf8(v)
        .ok()
        .and_then(|s| s.parse::<Decimal>().ok())
        .ok_or_else(|| bad("a unit value is not a decimal"))?;
    let mut bucket = k[..day_at + 4].to_vec();
    bucket.extend_from_slice(&keys::license(super::postings::bucket_first(n)));
    let line = unit_values::Line {
        at: unit_values::place(n),
        line: u16::from_be_bytes([k[day_at + 10], k[day_at + 11]]),
        value,
    };
    Ok(Some((bucket, line)))
}
