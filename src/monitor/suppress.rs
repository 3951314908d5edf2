//! The suppression rule of spec 7.1, in one place: the export, the published site and the
//! console's public preview all take their `(D)` from [`judge`]. Pure: cells in, decisions out.
//!
//! 1. Primary: a cell holding fewer than [`MIN_IMPORTERS`] distinct importers, or one where the
//!    licenses of all partners but one hold exactly 1 distinct importer (that partner could
//!    subtract its own filings, invented importers included, and read the other's).
//! 2. Complementary, per month and dimension: the suppressed cells together must number at
//!    least 2 and pass rule 1 as a whole, else the published cell with the fewest metric tons
//!    (ties: the smaller key) joins them, so that no suppressed cell is the difference between
//!    the month total and the published cells.
//! 3. A month whose total fails rule 1 is suppressed whole.

use crate::store::StoredCell;
use std::collections::{BTreeMap, BTreeSet};

/// A cell of fewer distinct importers than this is suppressed in every public output.
pub const MIN_IMPORTERS: usize = 3;

/// Who filed in a set of cells: partner → the distinct importers of its licenses there.
#[derive(Default, Debug, Clone)]
struct Filers<'a>(BTreeMap<&'a str, BTreeSet<&'a str>>);

impl<'a> Filers<'a> {
    fn of(cells: &[&'a StoredCell]) -> Filers<'a> {
        let mut f = Filers::default();
        for c in cells {
            f.add(c);
        }
        f
    }

    fn add(&mut self, c: &'a StoredCell) {
        for (partner, importers) in &c.cell.filers {
            let set = self.0.entry(partner.as_str()).or_default();
            set.extend(
                importers
                    .iter()
                    .filter(|(_, n)| **n > 0)
                    .map(|(i, _)| i.as_str()),
            );
        }
    }

    /// Rule 1: at least 3 distinct importers, and for no partner P do the licenses of the
    /// other partners hold exactly 1.
    fn passes(&self) -> bool {
        let all: BTreeSet<&str> = self.0.values().flatten().copied().collect();
        if all.len() < MIN_IMPORTERS {
            return false;
        }
        self.0.keys().all(|p| {
            let others: BTreeSet<&str> = self
                .0
                .iter()
                .filter(|(q, _)| *q != p)
                .flat_map(|(_, s)| s.iter().copied())
                .collect();
            others.len() != 1
        })
    }
}

/// Rule 1 for one cell on its own.
pub fn passes_alone(c: &StoredCell) -> bool {
    Filers::of(&[c]).passes()
}

/// Whether a month's total (all its licenses) may be published (rule 3), from the cells of
/// that month (any dimension holds every license of the month; all are taken to be safe).
pub fn month_passes(cells: &[&StoredCell]) -> bool {
    Filers::of(cells).passes()
}

/// Rules 1 to 3 over `cells` (any months, dimensions, order; cells without licenses are
/// ignored and never suppressed): whether each is suppressed, in the order given.
pub fn judge(cells: &[StoredCell]) -> Vec<bool> {
    let mut out = vec![false; cells.len()];
    // month → dimension → indices
    let mut groups: BTreeMap<&str, BTreeMap<&str, Vec<usize>>> = BTreeMap::new();
    for (i, c) in cells.iter().enumerate() {
        if c.cell.licenses > 0 {
            groups
                .entry(c.month.as_str())
                .or_default()
                .entry(c.dimension.as_str())
                .or_default()
                .push(i);
        }
    }
    for dims in groups.values() {
        let month: Vec<&StoredCell> = dims.values().flatten().map(|&i| &cells[i]).collect();
        if !month_passes(&month) {
            for &i in dims.values().flatten() {
                out[i] = true;
            }
            continue;
        }
        for idx in dims.values() {
            for i in complementary(cells, idx) {
                out[i] = true;
            }
        }
    }
    out
}

/// Rules 1 and 2 within one month and dimension: the indices suppressed.
fn complementary(cells: &[StoredCell], idx: &[usize]) -> Vec<usize> {
    let mut s: Vec<usize> = idx
        .iter()
        .copied()
        .filter(|&i| !passes_alone(&cells[i]))
        .collect();
    if s.is_empty() {
        return s;
    }
    let mut published: Vec<usize> = idx.iter().copied().filter(|i| !s.contains(i)).collect();
    // Smallest metric tons first, ties by the smaller key: the order cells join S.
    published.sort_by(|&a, &b| {
        (cells[a].cell.kg, &cells[a].key).cmp(&(cells[b].cell.kg, &cells[b].key))
    });
    let mut next = published.into_iter();
    loop {
        let union: Vec<&StoredCell> = s.iter().map(|&i| &cells[i]).collect();
        if s.len() >= 2 && Filers::of(&union).passes() {
            break;
        }
        match next.next() {
            Some(i) => s.push(i),
            None => break,
        }
    }
    s
}

#[cfg(test)]
mod tests;
