//! The two attacks of spec 7.1 as stories, and properties over random ledgers.

use super::*;
use crate::monitor::tests::filed;
use crate::monitor::{PublicView, public_view};
use crate::store::Cell;
use proptest::prelude::*;
use rust_decimal::Decimal;

/// What an outside reader can work out from a publication: for every month and dimension
/// with a published month total, a lone `(D)` cell is that total minus the published cells.
fn recoverable(v: &PublicView) -> Vec<(String, String, String, Decimal)> {
    let mut out = Vec::new();
    for m in &v.months {
        let Some(total) = m.total else { continue };
        let of: Vec<_> = v.cells.iter().filter(|c| c.month == m.month).collect();
        let mut dims: Vec<&str> = of.iter().map(|c| c.dimension.as_str()).collect();
        dims.dedup();
        for d in dims {
            let cells: Vec<_> = of.iter().filter(|c| c.dimension == d).collect();
            let hidden: Vec<_> = cells.iter().filter(|c| c.figures.is_none()).collect();
            if hidden.len() == 1 {
                let shown: Decimal = cells.iter().filter_map(|c| c.figures).map(|f| f.kg).sum();
                out.push((
                    m.month.clone(),
                    d.to_owned(),
                    hidden[0].key.clone(),
                    total.kg - shown,
                ));
            }
        }
    }
    out
}

/// A month of four dimensions the way `aim gen` fills them: many importers everywhere but in
/// one `largest_smelt` cell (QA), which a single importer fills.
fn month_with_a_lone_smelt() -> Vec<StoredCell> {
    let m = "2026-12";
    let many = [
        ("ACMEBRK", "Alpha Metals", 1),
        ("BETABRK", "Beta Alloys", 1),
        ("GAMMABRK", "Gamma Extrusions", 1),
    ];
    vec![
        // origin: every cell published; together they give the month total.
        filed(m, "origin", "AE", &many, 300_000, 900_000),
        filed(
            m,
            "origin",
            "CA",
            &[
                ("ACMEBRK", "Alpha Metals", 1),
                ("BETABRK", "Beta Alloys", 1),
                ("GAMMABRK", "Gamma Extrusions", 1),
                ("DELTABRK", "Qatar Smelt Buyer LLC", 1),
            ],
            199_607,
            677_229,
        ),
        // largest_smelt: QA holds the lone importer.
        filed(m, "largest_smelt", "AE", &many, 250_000, 750_000),
        filed(m, "largest_smelt", "CA", &many, 150_000, 450_000),
        filed(
            m,
            "largest_smelt",
            "QA",
            &[("DELTABRK", "Qatar Smelt Buyer LLC", 1)],
            99_607,
            377_229,
        ),
    ]
}

#[test]
fn story_a_lone_suppressed_cell_is_not_the_month_total_minus_the_rest() {
    // An outside reader takes the month total from the fully published origin dimension
    // and subtracts the published largest_smelt cells: with primary suppression alone that
    // left QA's 99.607 t exactly.
    let cells = month_with_a_lone_smelt();
    let v = public_view(&cells, None);
    let total = v.months[0].total.expect("the month total is published");
    assert_eq!(total.kg, Decimal::from(499_607));
    let smelt: Vec<_> = v
        .cells
        .iter()
        .filter(|c| c.dimension == "largest_smelt")
        .collect();
    let hidden: Vec<&str> = smelt
        .iter()
        .filter(|c| c.figures.is_none())
        .map(|c| c.key.as_str())
        .collect();
    // The smallest published cell (CA, 150 t) joined QA.
    assert_eq!(hidden, ["CA", "QA"]);
    assert!(recoverable(&v).is_empty(), "{:?}", recoverable(&v));
    let shown: Decimal = smelt.iter().filter_map(|c| c.figures).map(|f| f.kg).sum();
    assert_eq!(
        total.kg - shown,
        Decimal::from(249_607),
        "the reader learns only CA and QA together"
    );
}

#[test]
fn story_invented_importers_do_not_lift_a_competitors_lone_cell() {
    // A competitor (BETABRK) files the only shipment smelted in QA this month, 123.457 t.
    let m = "2026-12";
    let lone = ("BETABRK", "Doha Rolled Products Inc", 1);
    let alone = filed(m, "largest_smelt", "QA", &[lone], 123_457, 401_234);
    assert!(!passes_alone(&alone));
    // The partner ACMEBRK files for two invented importers from the same country: the cell
    // now holds 3 distinct importers, but all of them save one are ACMEBRK's own.
    let padded = filed(
        m,
        "largest_smelt",
        "QA",
        &[
            lone,
            ("ACMEBRK", "Invented Importer One", 1),
            ("ACMEBRK", "Invented Importer Two", 1),
        ],
        125_457,
        407_234,
    );
    assert_eq!(padded.cell.importers().len(), 3);
    assert!(
        !passes_alone(&padded),
        "without ACMEBRK's licenses one importer is left: suppressed"
    );
    // Naming an invented importer like the competitor's changes nothing.
    let same_name = filed(
        m,
        "largest_smelt",
        "QA",
        &[
            lone,
            ("ACMEBRK", "Doha Rolled Products Inc", 1),
            ("ACMEBRK", "Invented Importer Two", 1),
        ],
        125_457,
        407_234,
    );
    assert!(!passes_alone(&same_name));
    // A third filer's importer makes the cell publishable: subtracting ACMEBRK's own
    // licenses leaves two importers' shipments together.
    let three = filed(
        m,
        "largest_smelt",
        "QA",
        &[
            lone,
            ("ACMEBRK", "Invented Importer One", 1),
            ("GAMMABRK", "Gulf Metals Corp", 1),
        ],
        200_000,
        600_000,
    );
    assert!(passes_alone(&three));
}

#[test]
fn a_month_that_fails_rule_1_is_suppressed_whole() {
    let m = "2026-12";
    let two = [
        ("ACMEBRK", "Alpha Metals", 1),
        ("BETABRK", "Beta Alloys", 1),
    ];
    let cells = vec![
        filed(m, "origin", "CA", &two, 1000, 2000),
        filed(m, "hts6", "760110", &two, 1000, 2000),
    ];
    assert_eq!(judge(&cells), [true, true]);
}

#[test]
fn a_dimension_entirely_short_is_suppressed_entirely() {
    // Three importers in the month, but one cell per importer: no subset but all passes.
    let m = "2026-12";
    let cells = vec![
        filed(m, "origin", "CA", &[("P1", "A", 1)], 1000, 1),
        filed(m, "origin", "DE", &[("P2", "B", 1)], 2000, 1),
        filed(m, "origin", "NO", &[("P3", "C", 1)], 3000, 1),
    ];
    assert_eq!(judge(&cells), [true, true, true]);
}

/// One license of a random ledger: partner, importer, origin, smelt, kg, month.
type Lic = (usize, usize, usize, usize, i64, usize);

const PARTNERS: [&str; 4] = ["ACMEBRK", "BETABRK", "GAMMABRK", "DELTABRK"];
const IMPORTERS: [&str; 6] = ["Alpha", "Beta", "Gamma", "Delta", "Epsilon", "Zeta"];
const COUNTRIES: [&str; 5] = ["AE", "CA", "DE", "NO", "QA"];
const MONTHS: [&str; 2] = ["2026-11", "2026-12"];

/// The cells of `origin` and `largest_smelt` for these licenses.
fn ledger_cells(lics: &[Lic]) -> Vec<StoredCell> {
    let mut map: BTreeMap<(String, String, String), Cell> = BTreeMap::new();
    for &(p, i, o, s, kg, m) in lics {
        for (dim, key) in [("origin", COUNTRIES[o]), ("largest_smelt", COUNTRIES[s])] {
            let c = map
                .entry((MONTHS[m].into(), dim.into(), key.into()))
                .or_default();
            c.licenses += 1;
            c.kg += Decimal::from(kg);
            c.usd += Decimal::from(kg * 3);
            *c.filers
                .entry(PARTNERS[p].into())
                .or_default()
                .entry(IMPORTERS[i].into())
                .or_default() += 1;
        }
    }
    map.into_iter()
        .map(|((month, dimension, key), cell)| StoredCell {
            month,
            dimension,
            key,
            cell,
        })
        .collect()
}

fn lic() -> impl Strategy<Value = Lic> {
    (
        0..4usize,
        0..6usize,
        0..5usize,
        0..5usize,
        1..500_000i64,
        0..2usize,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    /// Whatever the ledger, a publication lets no suppressed cell be recovered: in a month
    /// whose total is published, each dimension's suppressed cells are none, or at least two
    /// that pass rule 1 together (a partner subtracting its own filings from their sum still
    /// reads no single other importer's figures).
    #[test]
    fn no_suppressed_cell_is_recoverable(lics in proptest::collection::vec(lic(), 1..40)) {
        let cells = ledger_cells(&lics);
        let hidden = judge(&cells);
        let v = public_view(&cells, None);
        prop_assert!(recoverable(&v).is_empty());
        for m in MONTHS {
            let month: Vec<&StoredCell> = cells.iter().filter(|c| c.month == m).collect();
            if month.is_empty() || !month_passes(&month) {
                prop_assert!(cells.iter().zip(&hidden).filter(|(c, _)| c.month == m).all(|(_, h)| *h));
                continue;
            }
            for dim in ["origin", "largest_smelt"] {
                let s: Vec<&StoredCell> = cells
                    .iter()
                    .zip(&hidden)
                    .filter(|(c, h)| **h && c.month == m && c.dimension == dim)
                    .map(|(c, _)| c)
                    .collect();
                if !s.is_empty() {
                    prop_assert!(s.len() >= 2, "{m} {dim}: a lone (D)");
                    prop_assert!(Filers::of(&s).passes(), "{m} {dim}: the (D) set fails rule 1");
                }
            }
            // Every cell that fails rule 1 on its own is suppressed.
            for (c, h) in cells.iter().zip(&hidden) {
                if c.month == m && !passes_alone(c) {
                    prop_assert!(*h);
                }
            }
        }
    }

    /// A partner's invented importers never lift a cell that holds one other filer's
    /// importer, however many it adds and whatever else the ledger holds.
    #[test]
    fn invented_importers_never_lift_a_lone_competitor(
        lics in proptest::collection::vec(lic(), 0..30),
        victim in 1..4usize,
        invented in proptest::collection::vec((0..6usize, 1..500_000i64), 1..8),
        kg in 1..500_000i64,
    ) {
        // The cell under attack: smelt "OM", in which only ACMEBRK (0) and the victim file.
        let mut cells = ledger_cells(&lics);
        let mut attacked = vec![(PARTNERS[victim], "Lone Victim Corp", 1)];
        let mut tons = kg;
        for &(i, k) in &invented {
            attacked.push((PARTNERS[0], IMPORTERS[i], 1));
            tons += k;
        }
        cells.push(filed("2026-12", "largest_smelt", "OM", &attacked, tons, tons * 3));
        let hidden = judge(&cells);
        prop_assert!(*hidden.last().unwrap());
        let v = public_view(&cells, None);
        let row = v.cells.iter().find(|c| c.key == "OM").unwrap();
        prop_assert!(row.figures.is_none());
    }
}
