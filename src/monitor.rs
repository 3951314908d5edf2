//! The public AIM monitor (spec sections 7 and 8), pure: rows from the aggregate cells the
//! store keeps with every license change, suppression of cells of fewer than 3 distinct
//! importers, and the CSV and JSON forms of the export.

use crate::filing::model::fixed;
use crate::store::StoredCell;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// A cell of fewer distinct importers than this is suppressed in every public output.
pub const MIN_IMPORTERS: usize = 3;

/// What a suppressed measure reads.
pub const SUPPRESSED: &str = "(D)";

/// The CSV header, also the JSON keys.
pub const COLUMNS: [&str; 7] = [
    "month",
    "dimension",
    "key",
    "licenses",
    "metric_tons",
    "value_usd",
    "unit_value_usd_per_mt",
];

/// One public row: every measure a string, `(D)` where suppressed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Row {
    pub month: String,
    pub dimension: String,
    pub key: String,
    pub licenses: String,
    pub metric_tons: String,
    pub value_usd: String,
    pub unit_value_usd_per_mt: String,
}

/// One row for staff: the figures unsuppressed, with what the public sees.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffRow {
    pub month: String,
    pub dimension: String,
    pub key: String,
    pub licenses: i64,
    pub metric_tons: String,
    pub value_usd: String,
    pub unit_value_usd_per_mt: String,
    pub importers: usize,
    /// Shown as `(D)` in every public output.
    pub suppressed: bool,
}

fn measures(c: &StoredCell) -> (String, String, String) {
    let tons = c.cell.kg / Decimal::from(1000);
    let uv = if tons.is_zero() {
        Decimal::ZERO
    } else {
        c.cell.usd / tons
    };
    (fixed(tons, 3), fixed(c.cell.usd, 2), fixed(uv, 2))
}

fn distinct_importers(c: &StoredCell) -> usize {
    c.cell.importers.values().filter(|n| **n > 0).count()
}

fn in_month(c: &StoredCell, month: Option<&str>) -> bool {
    c.cell.licenses > 0 && month.is_none_or(|m| c.month == m)
}

fn sorted(cells: &[StoredCell]) -> Vec<&StoredCell> {
    let mut v: Vec<&StoredCell> = cells.iter().collect();
    v.sort_by(|a, b| (&a.month, &a.dimension, &a.key).cmp(&(&b.month, &b.dimension, &b.key)));
    v
}

/// The public rows, sorted by month, dimension, key; `month` keeps that month only.
pub fn public_rows(cells: &[StoredCell], month: Option<&str>) -> Vec<Row> {
    sorted(cells)
        .into_iter()
        .filter(|c| in_month(c, month))
        .map(|c| {
            let (t, v, u) = measures(c);
            let hide = distinct_importers(c) < MIN_IMPORTERS;
            let m = |s: String| if hide { SUPPRESSED.to_owned() } else { s };
            Row {
                month: c.month.clone(),
                dimension: c.dimension.clone(),
                key: c.key.clone(),
                licenses: m(c.cell.licenses.to_string()),
                metric_tons: m(t),
                value_usd: m(v),
                unit_value_usd_per_mt: m(u),
            }
        })
        .collect()
}

/// Staff rows: unsuppressed, marked where the public sees `(D)`.
pub fn staff_rows(cells: &[StoredCell], month: Option<&str>) -> Vec<StaffRow> {
    sorted(cells)
        .into_iter()
        .filter(|c| in_month(c, month))
        .map(|c| {
            let (t, v, u) = measures(c);
            let importers = distinct_importers(c);
            StaffRow {
                month: c.month.clone(),
                dimension: c.dimension.clone(),
                key: c.key.clone(),
                licenses: c.cell.licenses,
                metric_tons: t,
                value_usd: v,
                unit_value_usd_per_mt: u,
                importers,
                suppressed: importers < MIN_IMPORTERS,
            }
        })
        .collect()
}

/// The CSV export: the header, then one line a row.
pub fn to_csv(rows: &[Row]) -> String {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    // Writing into memory cannot fail; a row is plain strings.
    let _ = w.write_record(COLUMNS);
    for r in rows {
        let _ = w.write_record([
            &r.month,
            &r.dimension,
            &r.key,
            &r.licenses,
            &r.metric_tons,
            &r.value_usd,
            &r.unit_value_usd_per_mt,
        ]);
    }
    let bytes = w.into_inner().unwrap_or_default();
    String::from_utf8(bytes).unwrap_or_default()
}

/// The JSON export: one array of objects keyed by the CSV's column names.
pub fn to_json(rows: &[Row]) -> String {
    let mut s = serde_json::to_string_pretty(rows).unwrap_or_else(|_| "[]".into());
    s.push('\n');
    s
}

/// `YYYY-MM` with a real month.
pub fn is_month(s: &str) -> bool {
    s.len() == 7
        && chrono::NaiveDate::parse_from_str(&format!("{s}-01"), "%Y-%m-%d").is_ok()
        && s.as_bytes()[4] == b'-'
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Cell;
    use std::collections::BTreeMap;

    fn cell(
        month: &str,
        dim: &str,
        key: &str,
        importers: &[(&str, i64)],
        kg: i64,
        usd: i64,
    ) -> StoredCell {
        let importers: BTreeMap<String, i64> =
            importers.iter().map(|(k, v)| (k.to_string(), *v)).collect();
        StoredCell {
            month: month.into(),
            dimension: dim.into(),
            key: key.into(),
            cell: Cell {
                licenses: importers.values().sum(),
                kg: Decimal::from(kg),
                usd: Decimal::from(usd),
                importers,
            },
        }
    }

    #[test]
    fn fewer_than_three_importers_are_suppressed() {
        let cells = vec![
            cell("2026-12", "origin", "CA", &[("A", 1), ("B", 1)], 1000, 3000),
            cell(
                "2026-12",
                "origin",
                "DE",
                &[("A", 1), ("B", 1), ("C", 1)],
                3000,
                10000,
            ),
            cell("2026-12", "origin", "NO", &[("A", 40)], 99000, 300000),
        ];
        let rows = public_rows(&cells, None);
        assert_eq!(rows[0].licenses, "(D)");
        assert_eq!(rows[0].unit_value_usd_per_mt, "(D)");
        assert_eq!(rows[1].licenses, "3");
        assert_eq!(rows[1].metric_tons, "3.000");
        assert_eq!(rows[1].value_usd, "10000.00");
        assert_eq!(rows[1].unit_value_usd_per_mt, "3333.33");
        assert_eq!(
            rows[2].metric_tons, "(D)",
            "one importer with many licenses"
        );
        let staff = staff_rows(&cells, None);
        assert!(staff[0].suppressed && !staff[1].suppressed && staff[2].suppressed);
        assert_eq!(staff[2].licenses, 40);
    }

    #[test]
    fn csv_quotes_keys_with_commas_and_rows_sort() {
        let cells = vec![
            cell(
                "2026-12",
                "origin",
                "CA",
                &[("A", 1), ("B", 1), ("C", 1)],
                1500,
                4950,
            ),
            cell(
                "2026-11",
                "category",
                "Bars, rods and profiles",
                &[("A", 1)],
                1,
                1,
            ),
        ];
        let csv = to_csv(&public_rows(&cells, None));
        assert_eq!(
            csv,
            "month,dimension,key,licenses,metric_tons,value_usd,unit_value_usd_per_mt\n\
             2026-11,category,\"Bars, rods and profiles\",(D),(D),(D),(D)\n\
             2026-12,origin,CA,3,1.500,4950.00,3300.00\n"
        );
        assert_eq!(public_rows(&cells, Some("2026-12")).len(), 1);
    }

    #[test]
    fn unit_value_rounds_half_to_even() {
        // 1 t for 2.005 USD → 2.00 (half to even), not 2.01.
        let mut c = cell(
            "2026-12",
            "origin",
            "CA",
            &[("A", 1), ("B", 1), ("C", 1)],
            1000,
            0,
        );
        c.cell.usd = Decimal::new(2005, 3);
        assert_eq!(public_rows(&[c], None)[0].unit_value_usd_per_mt, "2.00");
    }

    #[test]
    fn months() {
        assert!(is_month("2026-12"));
        assert!(!is_month("2026-13") && !is_month("2026-1") && !is_month("202612x"));
    }
}
