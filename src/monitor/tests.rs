use super::*;
use crate::store::Cell;
use std::collections::BTreeMap;

/// A cell from `(partner, importer, licenses)` entries.
pub(crate) fn filed(
    month: &str,
    dim: &str,
    key: &str,
    filers: &[(&str, &str, i64)],
    kg: i64,
    usd: i64,
) -> StoredCell {
    let mut f: BTreeMap<String, BTreeMap<String, i64>> = BTreeMap::new();
    for (p, i, n) in filers {
        *f.entry(p.to_string())
            .or_default()
            .entry(i.to_string())
            .or_default() += n;
    }
    StoredCell {
        month: month.into(),
        dimension: dim.into(),
        key: key.into(),
        cell: Cell {
            licenses: filers.iter().map(|e| e.2).sum(),
            kg: Decimal::from(kg),
            usd: Decimal::from(usd),
            filers: f,
        },
    }
}

/// A cell where each importer files through a partner of its own.
fn cell(
    month: &str,
    dim: &str,
    key: &str,
    importers: &[(&str, i64)],
    kg: i64,
    usd: i64,
) -> StoredCell {
    let f: Vec<(String, &str, i64)> = importers
        .iter()
        .map(|(i, n)| (format!("P{i}"), *i, *n))
        .collect();
    let f: Vec<(&str, &str, i64)> = f.iter().map(|(p, i, n)| (p.as_str(), *i, *n)).collect();
    filed(month, dim, key, &f, kg, usd)
}

#[test]
fn fewer_than_three_importers_are_suppressed_with_a_complement() {
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
        cell(
            "2026-12",
            "origin",
            "US",
            &[("C", 1), ("D", 1), ("E", 1)],
            5000,
            15000,
        ),
    ];
    let rows = public_rows(&cells, None);
    assert_eq!(rows[0].licenses, "(D)");
    assert_eq!(rows[0].unit_value_usd_per_mt, "(D)");
    assert_eq!(
        rows[2].metric_tons, "(D)",
        "one importer with many licenses"
    );
    // CA and NO together hold only A and B: DE, the smallest published cell, joins them.
    assert_eq!(rows[1].metric_tons, "(D)");
    assert_eq!(rows[3].licenses, "3");
    assert_eq!(rows[3].metric_tons, "5.000");
    assert_eq!(rows[3].value_usd, "15000.00");
    assert_eq!(rows[3].unit_value_usd_per_mt, "3000.00");
    let staff = staff_rows(&cells, None);
    assert_eq!(
        staff.iter().map(|r| r.suppressed).collect::<Vec<_>>(),
        [true, true, true, false]
    );
    assert_eq!(staff[2].licenses, 40);
    assert_eq!(staff[1].importers, 3);
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
fn month_totals_follow_rule_3() {
    let cells = vec![
        cell(
            "2026-11",
            "origin",
            "CA",
            &[("A", 1), ("B", 1), ("C", 2)],
            4000,
            8000,
        ),
        cell("2026-12", "origin", "CA", &[("A", 1), ("B", 1)], 1000, 3000),
    ];
    let v = public_view(&cells, None);
    assert_eq!(
        v.months[0].total,
        Some(Figures {
            licenses: 4,
            kg: Decimal::from(4000),
            usd: Decimal::from(8000)
        })
    );
    assert_eq!(v.months[1].total, None, "two importers: the month is (D)");
}

#[test]
fn months() {
    assert!(is_month("2026-12"));
    assert!(!is_month("2026-13") && !is_month("2026-1") && !is_month("202612x"));
}
