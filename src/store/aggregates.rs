//! The monitor's aggregate cells, kept in the same unit of change as the license change they
//! reflect (spec section 7): never computed by scanning filings.

use super::change::TxResult;
use super::codec::{dec, enc};
use super::journal::TxTree;
use super::records::{Cell, LicenseStatus};
use super::{Result, Store, keys};
use crate::filing::model::{LicenseData, Smelt};
use chrono::Datelike;
use rust_decimal::Decimal;
use std::collections::BTreeMap;

/// A cell's address: month `YYYY-MM`, dimension, key.
pub type CellKey = (String, &'static str, String);

/// The dimensions of the monitor, in the order of the export.
pub const DIMENSIONS: [&str; 5] = ["cast", "category", "hts6", "largest_smelt", "origin"];

/// Cells a license contributes to, with its quantity (kg) and value (USD) in each. A product
/// counts in its own smelt, cast, category and HTS cells; the origin cell sums them all.
pub fn cells_of(data: &LicenseData) -> BTreeMap<CellKey, (Decimal, Decimal)> {
    let month = format!(
        "{:04}-{:02}",
        data.import_date.year(),
        data.import_date.month()
    );
    let mut cells: BTreeMap<CellKey, (Decimal, Decimal)> = BTreeMap::new();
    for p in &data.products {
        let smelt = match p.largest_smelt {
            Smelt::Country(c) => c.as_str().to_owned(),
            s => s.key().to_owned(),
        };
        for (dim, key) in [
            ("origin", data.origin.as_str().to_owned()),
            ("largest_smelt", smelt),
            ("cast", p.cast.as_str().to_owned()),
            ("category", p.category().name().to_owned()),
            ("hts6", p.hts.hts6().to_owned()),
        ] {
            let e = cells.entry((month.clone(), dim, key)).or_default();
            e.0 += p.quantity.0;
            e.1 += p.value.0;
        }
    }
    cells
}

/// Aggregate changes of one unit of change, summed per cell before the cells are touched.
#[derive(Default)]
pub(crate) struct CellDeltas(BTreeMap<CellKey, Cell>);

impl CellDeltas {
    /// Add (sign +1) or remove (sign -1) the contribution of a license issued by `partner`.
    pub(crate) fn add(&mut self, data: &LicenseData, partner: &str, sign: i64) {
        let s = Decimal::from(sign);
        let importer = data.importer.trim();
        for (cell, (kg, usd)) in cells_of(data) {
            let d = self.0.entry(cell).or_default();
            d.licenses += sign;
            d.kg += kg * s;
            d.usd += usd * s;
            *d.filers
                .entry(partner.to_owned())
                .or_default()
                .entry(importer.to_owned())
                .or_default() += sign;
        }
    }

    pub(crate) fn apply(self, agg: &TxTree<'_>) -> TxResult<()> {
        for ((month, dim, key), d) in self.0 {
            let k = keys::cell(&month, dim, &key);
            let mut cell: Cell = match agg.get(&k)? {
                Some(v) => dec(&k, &v)?,
                None => Cell::default(),
            };
            merge(&mut cell, d);
            if cell.licenses <= 0 {
                agg.remove(k)?;
            } else {
                agg.insert(k, enc(&cell))?;
            }
        }
        Ok(())
    }
}

/// Add `d` to `cell`, dropping importers and partners left with no license.
fn merge(cell: &mut Cell, d: Cell) {
    cell.licenses += d.licenses;
    cell.kg += d.kg;
    cell.usd += d.usd;
    for (partner, importers) in d.filers {
        let of = cell.filers.entry(partner.clone()).or_default();
        for (importer, n) in importers {
            let e = of.entry(importer.clone()).or_default();
            *e += n;
            if *e <= 0 {
                of.remove(&importer);
            }
        }
        if of.is_empty() {
            cell.filers.remove(&partner);
        }
    }
}

/// The layout of the cells: 2 keeps licenses per partner and importer (spec 7.1). A store
/// without this mark holds cells of an earlier layout and has them rebuilt at open.
pub(crate) const CELLS_LAYOUT: u64 = 2;

/// A stored cell with its address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredCell {
    pub month: String,
    pub dimension: String,
    pub key: String,
    pub cell: Cell,
}

impl Store {
    /// Rebuild every cell from the licenses on record when the cells are of an earlier layout
    /// (or none is marked): once, at open, before anything reads or writes them. Crash-safe
    /// because the mark is written only after the rebuilt cells are durable; a crash before
    /// that rebuilds again at the next open. Answers whether it rebuilt.
    pub(crate) fn upgrade_cells(&self) -> Result<bool> {
        if let Some(v) = self.trees.meta.get(keys::CELLS_LAYOUT)?
            && super::codec::dec_u64(keys::CELLS_LAYOUT, &v)? == CELLS_LAYOUT
        {
            return Ok(false);
        }
        let mut deltas = CellDeltas::default();
        let mut licenses = 0u64;
        let all = std::ops::Bound::Unbounded;
        for row in self.walk_licenses(all.clone(), all, false)? {
            let (_, lic) = row?;
            if lic.status == LicenseStatus::Active {
                deltas.add(&lic.data, &lic.sender, 1);
                licenses += 1;
            }
        }
        self.trees.agg.clear()?;
        let mut batch = sled::Batch::default();
        let mut cells = 0usize;
        for ((month, dim, key), d) in deltas.0 {
            // Through `merge`, which drops importers and partners left with no license.
            let mut cell = Cell::default();
            merge(&mut cell, d);
            if cell.licenses > 0 {
                batch.insert(keys::cell(&month, dim, &key), enc(&cell));
                cells += 1;
            }
        }
        self.trees.agg.apply_batch(batch)?;
        self.flush()?;
        self.trees
            .meta
            .insert(keys::CELLS_LAYOUT, &CELLS_LAYOUT.to_be_bytes())?;
        self.flush()?;
        // A new database has nothing to rebuild, and nothing to say.
        if licenses > 0 {
            tracing::info!(
                licenses,
                cells,
                "monitor cells rebuilt from the licenses on record (layout {CELLS_LAYOUT})"
            );
        }
        Ok(true)
    }

    /// Aggregate cells whose key starts with `prefix` (`""` for all, or a month `2026-12`),
    /// sorted by month, dimension, key.
    pub fn cells(&self, prefix: &str) -> Result<Vec<StoredCell>> {
        let mut out = Vec::new();
        for kv in self.trees.agg.scan_prefix(prefix.as_bytes()) {
            let (k, v) = kv?;
            let text = std::str::from_utf8(&k).map_err(|_| super::StoreError::Decode {
                key: keys::show(&k),
                message: "a cell key is not UTF-8".into(),
            })?;
            let mut parts = text.splitn(3, '\0');
            let (Some(m), Some(d), Some(c)) = (parts.next(), parts.next(), parts.next()) else {
                return Err(super::StoreError::Decode {
                    key: keys::show(&k),
                    message: "a cell key needs month, dimension and key".into(),
                });
            };
            out.push(StoredCell {
                month: m.to_owned(),
                dimension: d.to_owned(),
                key: c.to_owned(),
                cell: dec(&k, &v)?,
            });
        }
        Ok(out)
    }
}
