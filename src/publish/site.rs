//! The pages of one publication (spec 7.2), rendered from the public view only: nothing here
//! sees an importer, a partner or a suppressed figure, so no page can hint at a `(D)` cell.
//! HTML comes from the minijinja templates beside this file (escaped by the engine); charts
//! are inline SVG drawn by a template macro from the geometry computed here.

use crate::monitor::{Figures, PublicCell, PublicMonth, PublicView};
use chrono::{DateTime, NaiveDate, Utc};
use minijinja::{Environment, context};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::Serialize;

/// The dimensions as the site names and orders them.
pub const DIMENSIONS: [(&str, &str, &str); 5] = [
    ("origin", "Country of origin", "countries of origin"),
    (
        "largest_smelt",
        "Country of largest smelt",
        "countries where the largest share of the aluminum was smelted",
    ),
    (
        "cast",
        "Country of most recent cast",
        "countries where the aluminum was most recently cast",
    ),
    ("category", "Product category", "product categories"),
    ("hts6", "HTS subheading", "six-digit HTS subheadings"),
];

/// How many keys the charts of the overview and of a dimension page draw.
const TOP_OVERVIEW: usize = 8;
const TOP_PAGE: usize = 15;
/// Months of headline figures on the overview.
const HEADLINE_MONTHS: usize = 3;

/// Everything a publication states besides the figures.
pub struct Meta<'a> {
    pub at: DateTime<Utc>,
    pub vintage: &'a str,
    /// The refresh cadence in words ("every Monday at 06:00 UTC").
    pub cadence: &'a str,
    /// Every kept publication (this one included), newest first.
    pub publications: &'a [String],
}

/// Figures as text, grouped by thousands; `None` where suppressed.
#[derive(Serialize, Clone)]
struct Shown {
    licenses: String,
    tons: String,
    value: String,
    unit_value: String,
}

fn shown(f: &Option<Figures>) -> Option<Shown> {
    f.as_ref().map(|f| {
        let (t, v, u) = f.texts();
        Shown {
            licenses: grouped(&f.licenses.to_string()),
            tons: grouped(&t),
            value: grouped(&v),
            unit_value: grouped(&u),
        }
    })
}

pub use crate::figures::grouped;

pub use crate::monitor::key_name;

/// `2026-12` → `December 2026`.
pub fn month_name(month: &str) -> String {
    NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d")
        .map(|d| d.format("%B %Y").to_string())
        .unwrap_or_else(|_| month.to_owned())
}

/// `2026-12` → `Dec 2026`.
fn month_short(month: &str) -> String {
    NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d")
        .map(|d| d.format("%b %Y").to_string())
        .unwrap_or_else(|_| month.to_owned())
}

#[derive(Serialize)]
struct TableRow {
    name: String,
    figures: Option<Shown>,
}

#[derive(Serialize)]
struct Bar {
    label: String,
    value: String,
    /// Top of the row in the chart's units.
    y: u32,
    /// The bar's length, 0 for a withheld figure (no bar is drawn then).
    width: String,
    withheld: bool,
}

#[derive(Serialize)]
struct Chart {
    id: String,
    title: String,
    desc: String,
    height: u32,
    bars: Vec<Bar>,
}

/// Chart geometry: the drawing is 360 units wide (see `macros.html`); a row holds its label,
/// then its bar with the figure at the right end.
const BAR_SPACE: f64 = 240.0;
const ROW: u32 = 48;

/// A horizontal bar chart of metric tons: `None` figures are drawn as a gap marked withheld.
fn chart(id: &str, title: String, desc: String, items: &[(String, Option<Figures>)]) -> Chart {
    let max = items
        .iter()
        .filter_map(|(_, f)| f.map(|f| f.tons()))
        .max()
        .unwrap_or(Decimal::ZERO);
    let bars = items
        .iter()
        .enumerate()
        .map(|(i, (label, f))| {
            let y = u32::try_from(i).unwrap_or(0) * ROW;
            match f {
                Some(f) => {
                    let w = if max.is_zero() {
                        0.0
                    } else {
                        (f.tons() / max).to_f64().unwrap_or(0.0) * BAR_SPACE
                    };
                    Bar {
                        label: label.clone(),
                        value: format!("{} t", grouped(&crate::filing::model::fixed(f.tons(), 1))),
                        y,
                        width: format!("{:.1}", w.max(1.0)),
                        withheld: false,
                    }
                }
                None => Bar {
                    label: label.clone(),
                    value: "(D) withheld".to_owned(),
                    y,
                    width: "0".to_owned(),
                    withheld: true,
                },
            }
        })
        .collect::<Vec<_>>();
    Chart {
        id: id.to_owned(),
        title,
        desc,
        height: (u32::try_from(bars.len()).unwrap_or(0) * ROW).max(ROW),
        bars,
    }
}

/// The published cells of one month and dimension, the largest first (ties by name): what a
/// chart may draw. Suppressed cells are left out entirely (spec 7.1).
fn top(cells: &[&PublicCell], n: usize) -> Vec<(String, Option<Figures>)> {
    let mut v: Vec<(String, Figures)> = cells
        .iter()
        .filter_map(|c| c.figures.map(|f| (key_name(&c.dimension, &c.key), f)))
        .collect();
    v.sort_by(|a, b| b.1.kg.cmp(&a.1.kg).then_with(|| a.0.cmp(&b.0)));
    v.into_iter().take(n).map(|(k, f)| (k, Some(f))).collect()
}

/// Every cell of a month and dimension for its table, ordered by name.
fn table(cells: &[&PublicCell]) -> Vec<TableRow> {
    let mut v: Vec<TableRow> = cells
        .iter()
        .map(|c| TableRow {
            name: key_name(&c.dimension, &c.key),
            figures: shown(&c.figures),
        })
        .collect();
    v.sort_by(|a, b| a.name.cmp(&b.name));
    v
}

#[derive(Serialize)]
struct Section {
    dimension: String,
    title: String,
    plural: String,
    month: String,
    month_name: String,
    chart: Chart,
    rows: Vec<TableRow>,
    withheld: bool,
    more: usize,
}

#[derive(Serialize)]
struct MonthLink {
    month: String,
    name: String,
    short: String,
    href: String,
    current: bool,
}

#[derive(Serialize)]
struct Headline {
    month: String,
    name: String,
    figures: Option<Shown>,
}

#[derive(Serialize)]
struct MonthRow {
    name: String,
    figures: Option<Shown>,
}

/// What every page shows besides its own content.
#[derive(Serialize)]
struct Site {
    nav: Vec<NavItem>,
    published: String,
    published_iso: String,
    vintage: String,
    cadence: String,
    min_importers: usize,
}

#[derive(Serialize)]
struct NavItem {
    href: String,
    label: String,
}

fn env() -> Environment<'static> {
    let mut env = Environment::new();
    for (name, text) in [
        ("base.html", include_str!("templates/base.html")),
        ("macros.html", include_str!("templates/macros.html")),
        ("index.html", include_str!("templates/index.html")),
        ("dimension.html", include_str!("templates/dimension.html")),
        ("about.html", include_str!("templates/about.html")),
        (
            "publications.html",
            include_str!("templates/publications.html"),
        ),
    ] {
        // The templates are part of the program: a syntax error is caught by every test.
        env.add_template(name, text)
            .expect("the site's templates parse");
    }
    env
}

fn cells_of<'a>(view: &'a PublicView, month: &str, dim: &str) -> Vec<&'a PublicCell> {
    view.cells
        .iter()
        .filter(|c| c.month == month && c.dimension == dim)
        .collect()
}

fn dim_page(dim: &str, month: &str) -> String {
    format!("{dim}-{month}.html")
}

/// Every file of a publication but the data files: relative path → bytes, in path order.
#[allow(clippy::too_many_lines)] // every page of the site rendered in one place, in path order
pub fn render(
    view: &PublicView,
    meta: &Meta<'_>,
) -> Result<Vec<(String, Vec<u8>)>, minijinja::Error> {
    let env = env();
    let months: Vec<&PublicMonth> = view.months.iter().collect();
    let latest = months.last().map(|m| m.month.clone());
    let nav: Vec<NavItem> = std::iter::once(NavItem {
        href: "index.html".into(),
        label: "Overview".into(),
    })
    .chain(DIMENSIONS.iter().map(|(d, t, _)| NavItem {
        href: format!("{d}.html"),
        label: (*t).to_owned(),
    }))
    .chain([
        NavItem {
            href: "about.html".into(),
            label: "About".into(),
        },
        NavItem {
            href: "publications.html".into(),
            label: "Publications".into(),
        },
    ])
    .collect();
    let site = Site {
        nav,
        published: meta.at.format("%Y-%m-%d %H:%M UTC").to_string(),
        published_iso: meta.at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        vintage: meta.vintage.to_owned(),
        cadence: meta.cadence.to_owned(),
        min_importers: crate::monitor::MIN_IMPORTERS,
    };
    let mut out: Vec<(String, Vec<u8>)> = Vec::new();

    // The overview.
    let headlines: Vec<Headline> = months
        .iter()
        .rev()
        .take(HEADLINE_MONTHS)
        .map(|m| Headline {
            month: m.month.clone(),
            name: month_name(&m.month),
            figures: shown(&m.total),
        })
        .collect();
    let monthly_items: Vec<(String, Option<Figures>)> = months
        .iter()
        .map(|m| (month_name(&m.month), m.total))
        .collect();
    let monthly = chart(
        "monthly",
        "Metric tons licensed, by month of expected import".into(),
        "One bar a month; months marked (D) are withheld. The same figures are in the table below the chart."
            .into(),
        &monthly_items,
    );
    let month_rows: Vec<MonthRow> = months
        .iter()
        .map(|m| MonthRow {
            name: month_name(&m.month),
            figures: shown(&m.total),
        })
        .collect();
    let sections: Vec<Section> = match &latest {
        None => Vec::new(),
        Some(latest) => ["origin", "largest_smelt", "cast", "category"]
            .iter()
            .map(|d| section(view, d, latest, TOP_OVERVIEW, true))
            .collect(),
    };
    let any_withheld = months.iter().any(|m| m.total.is_none())
        || headlines.iter().any(|h| h.figures.is_none())
        || sections.iter().any(|s| s.withheld);
    out.push((
        "index.html".into(),
        env.get_template("index.html")?
            .render(context! {
                site => &site,
                page => "index.html",
                title => "Aluminum import licenses",
                headlines => headlines,
                monthly => monthly,
                month_rows => month_rows,
                sections => sections,
                withheld => any_withheld,
            })?
            .into_bytes(),
    ));

    // A page per dimension and month; `<dimension>.html` is the latest month.
    for (dim, _, _) in DIMENSIONS {
        let targets: Vec<(String, Option<&str>)> =
            std::iter::once((format!("{dim}.html"), latest.as_deref()))
                .chain(
                    months
                        .iter()
                        .map(|m| (dim_page(dim, &m.month), Some(m.month.as_str()))),
                )
                .collect();
        for (file, month) in targets {
            let links: Vec<MonthLink> = months
                .iter()
                .rev()
                .map(|m| MonthLink {
                    month: m.month.clone(),
                    name: month_name(&m.month),
                    short: month_short(&m.month),
                    href: dim_page(dim, &m.month),
                    current: Some(m.month.as_str()) == month,
                })
                .collect();
            let sec = month.map(|m| section(view, dim, m, TOP_PAGE, false));
            let total = month.and_then(|m| months.iter().find(|x| x.month == m));
            let (_, title, _) = DIMENSIONS
                .iter()
                .find(|(d, _, _)| *d == dim)
                .copied()
                .unwrap_or((dim, dim, dim));
            out.push((
                file.clone(),
                env.get_template("dimension.html")?
                    .render(context! {
                        site => &site,
                        page => format!("{dim}.html"),
                        title => match month {
                            Some(m) => format!("{title}, {}", month_name(m)),
                            None => title.to_owned(),
                        },
                        dimension_title => title,
                        section => sec,
                        links => links,
                        total => total.and_then(|t| shown(&t.total)),
                        total_withheld => total.is_some_and(|t| t.total.is_none()),
                    })?
                    .into_bytes(),
            ));
        }
    }

    out.push((
        "about.html".into(),
        env.get_template("about.html")?
            .render(context! {
                site => &site,
                page => "about.html",
                title => "About the monitor",
                dimensions => DIMENSIONS.iter().map(|(d, t, _)| (d, t)).collect::<Vec<_>>(),
            })?
            .into_bytes(),
    ));
    let pubs: Vec<(String, String, bool)> = meta
        .publications
        .iter()
        .map(|v| {
            let label = super::parse_vintage(v).map_or_else(
                || v.clone(),
                |t| t.format("%-d %B %Y, %H:%M:%S UTC").to_string(),
            );
            (v.clone(), label, v == meta.vintage)
        })
        .collect();
    out.push((
        "publications.html".into(),
        env.get_template("publications.html")?
            .render(context! {
                site => &site,
                page => "publications.html",
                title => "Publications",
                publications => pubs,
            })?
            .into_bytes(),
    ));
    out.push((
        "style.css".into(),
        include_bytes!("templates/style.css").to_vec(),
    ));
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

fn section(view: &PublicView, dim: &str, month: &str, n: usize, overview: bool) -> Section {
    let cells = cells_of(view, month, dim);
    let (_, title, plural) = DIMENSIONS
        .iter()
        .find(|(d, _, _)| *d == dim)
        .copied()
        .unwrap_or((dim, dim, dim));
    let items = top(&cells, n);
    let rows = if overview {
        // The overview's table holds what its chart draws.
        items
            .iter()
            .map(|(name, f)| TableRow {
                name: name.clone(),
                figures: shown(f),
            })
            .collect()
    } else {
        table(&cells)
    };
    let published = cells.iter().filter(|c| c.figures.is_some()).count();
    let chart = chart(
        &format!("{dim}-{month}"),
        format!(
            "Top {} {plural}, {}, metric tons",
            items.len(),
            month_name(month)
        ),
        format!(
            "Bar chart of the published {plural} with the most metric tons; withheld (D) figures are not drawn. {}",
            if overview {
                "The same figures are in the table beside the chart."
            } else {
                "Every figure is in the table beside the chart."
            }
        ),
        &items,
    );
    Section {
        dimension: dim.to_owned(),
        title: title.to_owned(),
        plural: plural.to_owned(),
        month: month.to_owned(),
        month_name: month_name(month),
        withheld: rows.iter().any(|r| r.figures.is_none()),
        more: published.saturating_sub(items.len()),
        chart,
        rows,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_group_by_thousands() {
        assert_eq!(grouped("1234567.891"), "1,234,567.891");
        assert_eq!(grouped("123.40"), "123.40");
        assert_eq!(grouped("1000"), "1,000");
        assert_eq!(grouped("-12345.6"), "-12,345.6");
        assert_eq!(grouped("0"), "0");
    }

    #[test]
    fn keys_read_as_names() {
        assert_eq!(key_name("origin", "CA"), "Canada (CA)");
        assert_eq!(key_name("hts6", "760110"), "7601.10");
        assert_eq!(
            key_name("largest_smelt", "NOT_APPLICABLE"),
            "Not applicable (NOT_APPLICABLE)"
        );
        assert_eq!(month_name("2026-12"), "December 2026");
    }
}
