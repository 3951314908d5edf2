//! The public AIM monitor (spec sections 7 and 8), pure: the public view of the aggregate
//! cells the store keeps with every license change, suppressed by the one rule of 7.1
//! ([`suppress`]), and the CSV and JSON forms of the export.

pub mod suppress;

use crate::filing::model::fixed;
use crate::store::StoredCell;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

pub use suppress::MIN_IMPORTERS;

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

impl Row {
    /// Shown as `(D)`.
    pub fn is_suppressed(&self) -> bool {
        self.metric_tons == SUPPRESSED
    }
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
    /// Shown as `(D)` in every public output (spec 7.1, [`suppress::judge`]).
    pub suppressed: bool,
}

/// The figures of a published cell or month total.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Figures {
    pub licenses: i64,
    pub kg: Decimal,
    pub usd: Decimal,
}

impl Figures {
    pub fn tons(&self) -> Decimal {
        self.kg / Decimal::from(1000)
    }

    /// USD per metric ton (0 for no quantity).
    pub fn unit_value(&self) -> Decimal {
        let t = self.tons();
        if t.is_zero() {
            Decimal::ZERO
        } else {
            self.usd / t
        }
    }

    /// Metric tons (3 decimals), value and unit value (2), rounded half to even.
    pub fn texts(&self) -> (String, String, String) {
        (
            fixed(self.tons(), 3),
            fixed(self.usd, 2),
            fixed(self.unit_value(), 2),
        )
    }
}

/// A cell as the public may see it: `None` where suppressed, with nothing else kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicCell {
    pub month: String,
    pub dimension: String,
    pub key: String,
    pub figures: Option<Figures>,
}

/// A month's total as the public may see it (rule 3): `None` where suppressed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicMonth {
    pub month: String,
    pub total: Option<Figures>,
}

/// Everything a public output may draw on: cells and month totals, suppressed by rule 7.1.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PublicView {
    /// Sorted by month, dimension, key.
    pub cells: Vec<PublicCell>,
    /// Sorted by month.
    pub months: Vec<PublicMonth>,
}

fn figures(c: &StoredCell) -> Figures {
    Figures {
        licenses: c.cell.licenses,
        kg: c.cell.kg,
        usd: c.cell.usd,
    }
}

/// The cells with licenses (of `month` only when given), sorted by month, dimension, key.
fn sorted(cells: &[StoredCell], month: Option<&str>) -> Vec<StoredCell> {
    let mut v: Vec<StoredCell> = cells
        .iter()
        .filter(|c| c.cell.licenses > 0 && month.is_none_or(|m| c.month == m))
        .cloned()
        .collect();
    v.sort_by(|a, b| (&a.month, &a.dimension, &a.key).cmp(&(&b.month, &b.dimension, &b.key)));
    v
}

/// The public view of `cells` (of `month` only when given).
pub fn public_view(cells: &[StoredCell], month: Option<&str>) -> PublicView {
    let cells = sorted(cells, month);
    let hidden = suppress::judge(&cells);
    let mut view = PublicView::default();
    for (c, &hide) in cells.iter().zip(&hidden) {
        view.cells.push(PublicCell {
            month: c.month.clone(),
            dimension: c.dimension.clone(),
            key: c.key.clone(),
            figures: (!hide).then(|| figures(c)),
        });
    }
    let mut months: Vec<&str> = cells.iter().map(|c| c.month.as_str()).collect();
    months.dedup();
    for m in months {
        let of: Vec<&StoredCell> = cells.iter().filter(|c| c.month == m).collect();
        // The origin dimension counts each license once, with all its products.
        let total =
            of.iter()
                .filter(|c| c.dimension == "origin")
                .fold(None::<Figures>, |acc, c| {
                    let f = figures(c);
                    Some(match acc {
                        None => f,
                        Some(a) => Figures {
                            licenses: a.licenses + f.licenses,
                            kg: a.kg + f.kg,
                            usd: a.usd + f.usd,
                        },
                    })
                });
        view.months.push(PublicMonth {
            month: m.to_owned(),
            total: total.filter(|_| suppress::month_passes(&of)),
        });
    }
    view
}

/// A public cell as an export row.
pub fn row_of(c: &PublicCell) -> Row {
    let (licenses, t, v, u) = match &c.figures {
        Some(f) => {
            let (t, v, u) = f.texts();
            (f.licenses.to_string(), t, v, u)
        }
        None => (
            SUPPRESSED.to_owned(),
            SUPPRESSED.to_owned(),
            SUPPRESSED.to_owned(),
            SUPPRESSED.to_owned(),
        ),
    };
    Row {
        month: c.month.clone(),
        dimension: c.dimension.clone(),
        key: c.key.clone(),
        licenses,
        metric_tons: t,
        value_usd: v,
        unit_value_usd_per_mt: u,
    }
}

/// The public rows, sorted by month, dimension, key; `month` keeps that month only.
pub fn public_rows(cells: &[StoredCell], month: Option<&str>) -> Vec<Row> {
    public_view(cells, month).cells.iter().map(row_of).collect()
}

/// Staff rows: unsuppressed, marked where the public sees `(D)`.
pub fn staff_rows(cells: &[StoredCell], month: Option<&str>) -> Vec<StaffRow> {
    let cells = sorted(cells, month);
    let hidden = suppress::judge(&cells);
    cells
        .iter()
        .zip(hidden)
        .map(|(c, suppressed)| {
            let (t, v, u) = figures(c).texts();
            StaffRow {
                month: c.month.clone(),
                dimension: c.dimension.clone(),
                key: c.key.clone(),
                licenses: c.cell.licenses,
                metric_tons: t,
                value_usd: v,
                unit_value_usd_per_mt: u,
                importers: c.cell.importers().len(),
                suppressed,
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

/// A key as a reader knows it, on the published site and in the console's public preview: the
/// country's name with its code, the category's name, the HTS subheading with its dot.
pub fn key_name(dimension: &str, key: &str) -> String {
    match dimension {
        "origin" | "largest_smelt" | "cast" => match key {
            "NOT_APPLICABLE" => "Not applicable (NOT_APPLICABLE)".to_owned(),
            "UNKNOWN" => "Unknown (UNKNOWN)".to_owned(),
            code => match crate::filing::countries::name(code) {
                Some(n) => format!("{n} ({code})"),
                None => code.to_owned(),
            },
        },
        "hts6" if key.len() == 6 => format!("{}.{}", &key[..4], &key[4..]),
        _ => key.to_owned(),
    }
}

#[cfg(test)]
pub(crate) mod tests;
