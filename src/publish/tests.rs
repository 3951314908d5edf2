use super::*;
use crate::monitor::tests::filed;
use chrono::TimeZone;

fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
}

/// A ledger of two months: December publishable with one lone smelt (QA), November of two
/// importers only (withheld whole).
pub(crate) fn sample_cells() -> Vec<StoredCell> {
    let many = [
        ("ACMEBRK", "Alpha Metals", 2),
        ("BETABRK", "Beta Alloys", 1),
        ("GAMMABRK", "Gamma Extrusions", 1),
    ];
    let lone = [("DELTABRK", "Qatar Buyer LLC", 1)];
    let two = [
        ("ACMEBRK", "Alpha Metals", 1),
        ("BETABRK", "Beta Alloys", 1),
    ];
    let d = "2026-12";
    let n = "2026-11";
    vec![
        filed(n, "origin", "CA", &two, 20_000, 60_000),
        filed(n, "largest_smelt", "CA", &two, 20_000, 60_000),
        filed(n, "cast", "CA", &two, 20_000, 60_000),
        filed(n, "category", "Unwrought aluminum", &two, 20_000, 60_000),
        filed(n, "hts6", "760110", &two, 20_000, 60_000),
        filed(d, "origin", "CA", &many, 1_234_567, 3_703_701),
        filed(d, "origin", "QA", &lone, 99_607, 377_229),
        filed(d, "largest_smelt", "CA", &many, 1_000_000, 3_000_000),
        filed(d, "largest_smelt", "AE", &many, 234_567, 703_701),
        filed(d, "largest_smelt", "QA", &lone, 99_607, 377_229),
        filed(d, "cast", "CA", &many, 1_334_174, 4_080_930),
        filed(d, "cast", "QA", &lone, 0, 0),
        filed(
            d,
            "category",
            "Unwrought aluminum",
            &many,
            1_334_174,
            4_080_930,
        ),
        filed(d, "hts6", "760110", &many, 1_334_174, 4_080_930),
    ]
    .into_iter()
    .filter(|c| c.cell.licenses > 0)
    .collect()
}

fn tree(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    fn walk(root: &Path, p: &Path, out: &mut Vec<(String, Vec<u8>)>) {
        for e in std::fs::read_dir(p).unwrap() {
            let e = e.unwrap();
            let path = e.path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path.strip_prefix(root).unwrap().display().to_string();
                out.push((rel, std::fs::read(&path).unwrap()));
            }
        }
    }
    walk(dir, dir, &mut out);
    out.sort();
    out
}

#[test]
fn the_same_data_and_time_give_byte_identical_files() {
    let cells = sample_cells();
    let t = at(2026, 12, 7, 6, 0, 0);
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    publish(&cells, t, a.path(), 104, "every Monday at 06:00 UTC").unwrap();
    // The cells in another order: the same site.
    let mut shuffled = cells.clone();
    shuffled.reverse();
    publish(&shuffled, t, b.path(), 104, "every Monday at 06:00 UTC").unwrap();
    let (ta, tb) = (tree(a.path()), tree(b.path()));
    assert!(ta.len() > 20, "{}", ta.len());
    assert_eq!(ta, tb);
    // Another time: other bytes (the time is on every page).
    let c = tempfile::tempdir().unwrap();
    publish(&cells, at(2026, 12, 7, 6, 0, 1), c.path(), 104, "x").unwrap();
    assert_ne!(
        std::fs::read(a.path().join("current/index.html")).unwrap(),
        std::fs::read(c.path().join("current/index.html")).unwrap()
    );
}

#[test]
fn the_data_files_are_the_export_and_agree_with_the_pages_on_every_d() {
    let cells = sample_cells();
    let d = tempfile::tempdir().unwrap();
    publish(&cells, at(2026, 12, 7, 6, 0, 0), d.path(), 3, "x").unwrap();
    let cur = d.path().join("current");
    let csv = std::fs::read_to_string(cur.join("data/monitor.csv")).unwrap();
    let rows = monitor::public_rows(&cells, None);
    assert_eq!(csv, monitor::to_csv(&rows));
    assert_eq!(
        std::fs::read_to_string(cur.join("data/monitor.json")).unwrap(),
        monitor::to_json(&rows)
    );
    // Every row: its month page says (D) exactly where the export does, and shows the figures
    // where it does not.
    for r in &rows {
        let page =
            std::fs::read_to_string(cur.join(format!("{}-{}.html", r.dimension, r.month))).unwrap();
        let name = site::key_name(&r.dimension, &r.key).replace('&', "&amp;");
        let at = page
            .find(&format!("<th scope=\"row\">{name}</th>"))
            .unwrap_or_else(|| panic!("{name} on {} {}", r.dimension, r.month));
        let row_html = &page[at..at + page[at..].find("</tr>").unwrap()];
        if r.is_suppressed() {
            assert_eq!(row_html.matches("(D)").count(), 4, "{row_html}");
        } else {
            assert!(
                row_html.contains(&site::grouped(&r.metric_tons)),
                "{row_html}"
            );
            assert!(!row_html.contains("(D)"));
        }
    }
    // QA's figures appear nowhere on the site, not even rounded in a chart.
    for (rel, bytes) in tree(&cur) {
        if rel.ends_with(".html") {
            let text = String::from_utf8(bytes).unwrap();
            for hidden in ["99.607", "99.6 t", "377,229", "Qatar (QA)</text>"] {
                assert!(!text.contains(hidden), "{rel} shows {hidden}");
            }
        }
    }
    // The overview's monthly chart marks November as withheld and draws no bar for it.
    let index = std::fs::read_to_string(cur.join("index.html")).unwrap();
    let svg = &index[index.find("<svg").unwrap()..index.find("</svg>").unwrap()];
    assert!(svg.contains(">November 2026</text>"), "{svg}");
    assert!(svg.contains("(D) withheld"), "{svg}");
    assert_eq!(svg.matches("<rect").count(), 1, "December only: {svg}");
    // November fails rule 3: its total and every cell are withheld.
    let nov = std::fs::read_to_string(cur.join("origin-2026-11.html")).unwrap();
    assert!(nov.contains("<span class=\"d\">(D)</span> withheld"));
    assert!(!nov.contains("20.000"));
}

#[test]
fn publications_are_whole_vintages_and_the_oldest_beyond_keep_go() {
    let cells = sample_cells();
    let d = tempfile::tempdir().unwrap();
    // A crash's leftovers are cleared, never published.
    std::fs::create_dir_all(d.path().join(".2026-11-30T06-00-00Z.partial/data")).unwrap();
    let times = [
        at(2026, 11, 30, 6, 0, 0),
        at(2026, 12, 7, 6, 0, 0),
        at(2026, 12, 14, 6, 0, 0),
    ];
    for t in times {
        publish(&cells, t, d.path(), 2, "x").unwrap();
        let link = std::fs::read_link(d.path().join(CURRENT)).unwrap();
        assert_eq!(
            link,
            PathBuf::from(vintage_name(t)),
            "relative link to the newest"
        );
    }
    assert_eq!(
        vintages(d.path()).unwrap(),
        ["2026-12-07T06-00-00Z", "2026-12-14T06-00-00Z"]
    );
    let names: Vec<String> = std::fs::read_dir(d.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        !names.iter().any(|n| n.starts_with('.') && n != LOCK),
        "{names:?}"
    );
    let list = std::fs::read_to_string(d.path().join("current/publications.html")).unwrap();
    assert!(list.contains("../2026-12-07T06-00-00Z/data/monitor.csv"));
    assert!(!list.contains("2026-11-30"));
    // An earlier vintage is left as it was.
    let before = tree(&d.path().join("2026-12-07T06-00-00Z"));
    publish(&cells[..3], at(2026, 12, 14, 7, 0, 0), d.path(), 3, "x").unwrap();
    assert_eq!(tree(&d.path().join("2026-12-07T06-00-00Z")), before);
    // The same second twice: refused, nothing changed.
    let e = publish(&cells, at(2026, 12, 14, 7, 0, 0), d.path(), 3, "x").unwrap_err();
    assert!(matches!(e, PublishError::Exists(_)), "{e}");
}

#[test]
fn the_schedule_publishes_weekly_and_catches_up_once() {
    let weekly = (Weekday::Mon, NaiveTime::from_hms_opt(6, 0, 0).unwrap());
    let s = Some(weekly);
    // Monday 2026-12-07 06:00 is a scheduled instant.
    assert_eq!(
        latest_scheduled(at(2026, 12, 7, 6, 0, 0), weekly),
        at(2026, 12, 7, 6, 0, 0)
    );
    assert_eq!(
        latest_scheduled(at(2026, 12, 7, 5, 59, 59), weekly),
        at(2026, 11, 30, 6, 0, 0)
    );
    assert_eq!(
        latest_scheduled(at(2026, 12, 13, 23, 0, 0), weekly),
        at(2026, 12, 7, 6, 0, 0)
    );
    let last = Some(at(2026, 11, 30, 6, 0, 2));
    assert!(!due(at(2026, 12, 7, 5, 59, 59), s, last));
    assert!(due(at(2026, 12, 7, 6, 0, 0), s, last));
    // Down over the Monday: published at the next start, then not again until the next Monday.
    assert!(due(at(2026, 12, 9, 10, 0, 0), s, last));
    assert!(!due(
        at(2026, 12, 9, 10, 0, 5),
        s,
        Some(at(2026, 12, 9, 10, 0, 0))
    ));
    assert!(due(at(2026, 12, 7, 6, 0, 0), s, None), "never published");
    assert!(!due(at(2026, 12, 7, 6, 0, 0), None, None), "no schedule");
    assert_eq!(cadence(s), "every Monday at 06:00 UTC");
    assert_eq!(
        parse_vintage("2026-12-07T06-00-00Z"),
        Some(at(2026, 12, 7, 6, 0, 0))
    );
    assert_eq!(parse_vintage("current"), None);
    assert_eq!(parse_vintage("2026-12-07T06-00-00Z.bak"), None);
}

#[test]
fn a_publication_waits_for_one_in_progress() {
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(d.path()).unwrap();
    let held = std::fs::File::create(d.path().join(LOCK)).unwrap();
    rustix::fs::flock(&held, rustix::fs::FlockOperation::LockExclusive).unwrap();
    let dir = d.path().to_path_buf();
    let t = std::thread::spawn(move || {
        publish(&sample_cells(), at(2026, 12, 7, 6, 0, 0), &dir, 3, "x").unwrap()
    });
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(!t.is_finished(), "waits for the lock");
    assert!(vintages(d.path()).unwrap().is_empty());
    drop(held);
    assert_eq!(t.join().unwrap().vintage, "2026-12-07T06-00-00Z");
}
