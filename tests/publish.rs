//! The public monitor through the real `aim` (spec 7.1 and 7.2): the two attacks on
//! suppression, `aim monitor publish` through the daemon (supervisor, audited) and without one,
//! and the daemon's own publication at start when the weekly one was missed.
#![allow(
    clippy::unwrap_used,
    clippy::too_many_lines,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)] // Test code: a panic is the failure report, a scenario reads top to bottom.

mod common;
mod daemon_harness;

use daemon_harness::*;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

/// No weekly publication: only what a test asks for.
fn quiet(env: &Env, role: &str) {
    env.append_config(&format!(
        "[monitor]\npublish_weekday = \"\"\npublish_dir = \"{}\"\nkeep_publications = 2\n",
        env.dir.path().join("public").display()
    ));
    env.add_staff(role);
}

fn export(env: &Env) -> String {
    let o = env.aim(&["monitor", "export"]);
    assert!(o.status.success(), "{:?}", out_text(&o));
    String::from_utf8(o.stdout).unwrap()
}

fn row<'a>(csv: &'a str, dim_key: &str) -> &'a str {
    csv.lines()
        .find(|l| l.contains(dim_key))
        .unwrap_or_else(|| panic!("no {dim_key} in\n{csv}"))
}

fn file(env: &Env, d: &mut Daemon, sender: &str, name: &str, xml: &str) -> Vec<String> {
    drop_file(&env.inbox_of(sender), name, xml);
    common::read_ack(&d.wait_ack(&env.outbox_of(sender), &ack_name(name))).issued()
}

/// One application of `importer` from `origin`.
fn app(id: &str, importer: &str, origin: &str) -> String {
    replace_elem(
        &replace_elem(&new_app(id), "Importer", importer),
        "CountryOfOrigin",
        origin,
    )
}

#[test]
fn story_invented_importers_do_not_reveal_a_lone_competitors_shipment() {
    let env = Env::new();
    quiet(&env, "supervisor");
    let mut d = env.start_ready();
    // Three ordinary importers from Canada, so the month itself is publishable.
    let ca: Vec<String> = ["Alpha Metals", "Beta Metals", "Gamma Metals"]
        .iter()
        .enumerate()
        .map(|(i, imp)| app(&format!("C{i}"), imp, "CA"))
        .collect();
    file(&env, &mut d, ACME, "ca.xml", &filing(ACME, "501", &ca));
    file(
        &env,
        &mut d,
        OTHER,
        "ca2.xml",
        &filing(OTHER, "502", &[app("C9", "Delta Metals", "CA")]),
    );
    // The competitor's lone shipment from Qatar.
    file(
        &env,
        &mut d,
        OTHER,
        "qa.xml",
        &filing(OTHER, "503", &[app("Q1", "Doha Rolled Products Inc", "QA")]),
    );
    assert!(row(&export(&env), ",origin,QA,").ends_with("(D),(D),(D),(D)"));
    // ACMEBRK files for two invented importers from Qatar: the cell holds 3 importers now.
    let invented = [
        app("X1", "Invented Importer One", "QA"),
        app("X2", "Invented Importer Two", "QA"),
    ];
    let mine = file(&env, &mut d, ACME, "x.xml", &filing(ACME, "504", &invented));
    assert_eq!(mine.len(), 2);
    let csv = export(&env);
    assert!(
        row(&csv, ",origin,QA,").ends_with("(D),(D),(D),(D)"),
        "all but ACMEBRK's own licenses are one importer's: still (D)\n{csv}"
    );
    // Cancelling its two licenses changes nothing a reader could compare.
    let cancels = [cancel_app("Y1", &mine[0]), cancel_app("Y2", &mine[1])];
    file(&env, &mut d, ACME, "y.xml", &filing(ACME, "505", &cancels));
    assert!(row(&export(&env), ",origin,QA,").ends_with("(D),(D),(D),(D)"));
    // The same (D) on the published site and in its data.
    let o = env.aim(&["monitor", "publish"]);
    assert!(o.status.success(), "{:?}", out_text(&o));
    let cur = env.dir.path().join("public/current");
    let csv = export(&env);
    assert_eq!(
        std::fs::read_to_string(cur.join("data/monitor.csv")).unwrap(),
        csv
    );
    let month = &csv.lines().nth(1).unwrap()[..7];
    let page = std::fs::read_to_string(cur.join(format!("origin-{month}.html"))).unwrap();
    let at = page
        .find("<th scope=\"row\">Qatar (QA)</th>")
        .expect("Qatar listed");
    let tr = &page[at..at + page[at..].find("</tr>").unwrap()];
    assert_eq!(tr.matches("(D)").count(), 4, "{tr}");
}

/// Whatever `aim gen` files, no `(D)` cell of the export is the month total minus the
/// published cells of its dimension.
#[test]
fn story_no_lone_suppressed_cell_on_a_generated_data_set() {
    let env = Env::new();
    quiet(&env, "viewer");
    // The files first, then the daemon: every one of them is still there to be named.
    let o = std::process::Command::new(aim_bin())
        .args([
            "gen", "--sender", ACME, "--count", "40", "--seed", "7", "--out",
        ])
        .arg(env.inbox_of(ACME))
        .output()
        .unwrap();
    assert!(o.status.success(), "{:?}", out_text(&o));
    let names: Vec<String> = std::fs::read_dir(env.inbox_of(ACME))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".xml"))
        .collect();
    assert_eq!(names.len(), 40);
    let mut d = env.start_ready();
    for n in &names {
        d.wait_ack(&env.outbox_of(ACME), &ack_name(n));
    }
    let csv = export(&env);
    let mut by: BTreeMap<(String, String), Vec<Vec<String>>> = BTreeMap::new();
    let mut rdr = csv::Reader::from_reader(csv.as_bytes());
    for r in rdr.records() {
        let r = r.unwrap();
        let v: Vec<String> = r.iter().map(str::to_owned).collect();
        by.entry((v[0].clone(), v[1].clone())).or_default().push(v);
    }
    let mut suppressed = 0;
    for ((month, dim), rows) in &by {
        let hidden = rows.iter().filter(|r| r[4] == "(D)").count();
        suppressed += hidden;
        assert_ne!(
            hidden, 1,
            "{month} {dim}: a lone (D) is the total minus the rest\n{csv}"
        );
    }
    assert!(
        suppressed > 0,
        "the data set has suppressed cells to protect\n{csv}"
    );
}

fn vintages(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with("20"))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn publish_through_the_daemon_as_supervisor_is_audited_and_offline_gives_the_same_site() {
    let env = Env::new();
    quiet(&env, "supervisor");
    let mut d = env.start_ready();
    let apps: Vec<String> = ["Alpha Metals", "Beta Metals", "Gamma Metals"]
        .iter()
        .enumerate()
        .map(|(i, imp)| app(&format!("A{i}"), imp, "CA"))
        .collect();
    file(&env, &mut d, ACME, "a.xml", &filing(ACME, "601", &apps));
    let o = env.aim(&["monitor", "publish"]);
    let (out, err) = out_text(&o);
    assert!(o.status.success(), "{out}{err}");
    assert!(out.contains("now points at it"), "{out}");
    let public = env.dir.path().join("public");
    let cur = public.join("current");
    for f in [
        "index.html",
        "about.html",
        "publications.html",
        "origin.html",
        "largest_smelt.html",
        "cast.html",
        "category.html",
        "hts6.html",
        "style.css",
        "data/monitor.json",
    ] {
        assert!(cur.join(f).is_file(), "{f}");
    }
    let csv = export(&env);
    assert_eq!(
        std::fs::read_to_string(cur.join("data/monitor.csv")).unwrap(),
        csv
    );
    // Audited with the user.
    let audit = json_of(&env.aim(&["audit", "--json", "--limit", "5"]));
    let ev = audit
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "publish")
        .unwrap_or_else(|| panic!("{audit}"));
    assert_eq!(ev["actor"], current_user());
    assert_eq!(ev["outcome"], "done");
    // --out, relative to where the command runs.
    std::thread::sleep(Duration::from_millis(1100));
    let o = env.aim(&["monitor", "publish", "--out", "elsewhere"]);
    assert!(o.status.success(), "{:?}", out_text(&o));
    assert!(
        env.dir
            .path()
            .join("elsewhere/current/index.html")
            .is_file()
    );
    // Without the daemon, the store is read directly: the same data.
    d.signal(rustix::process::Signal::TERM);
    d.wait_exit(WAIT);
    let o = env.aim(&["monitor", "publish"]);
    assert!(o.status.success(), "{:?}", out_text(&o));
    assert_eq!(vintages(&public).len(), 2, "keep_publications = 2");
    assert_eq!(
        std::fs::read_to_string(cur.join("data/monitor.csv")).unwrap(),
        csv
    );
}

#[test]
fn publish_is_refused_to_a_viewer_and_the_refusal_audited() {
    let env = Env::new();
    quiet(&env, "viewer");
    let _d = env.start_ready();
    let o = env.aim(&["monitor", "publish"]);
    let (_, err) = out_text(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("refused") && err.contains("supervisor"),
        "{err}"
    );
    assert!(vintages(&env.dir.path().join("public")).is_empty());
    let audit = json_of(&env.aim(&["audit", "--json", "--limit", "5"]));
    assert!(
        audit
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "publish" && e["outcome"] == "refused"),
        "{audit}"
    );
}

#[test]
fn the_daemon_publishes_at_start_when_the_weekly_publication_was_missed() {
    let env = Env::new();
    env.append_config("[monitor]\npublish_weekday = \"monday\"\npublish_time_utc = \"06:00\"\n");
    env.add_staff("viewer");
    let public = env.dir.path().join("var/public");
    let mut d = env.start_ready();
    let deadline = Instant::now() + WAIT;
    while !public.join("current/index.html").is_file() {
        assert!(Instant::now() < deadline, "no publication at start");
        d.assert_alive();
        std::thread::sleep(Duration::from_millis(50));
    }
    // Public files, whatever the daemon's own umask (0027): a web server's user reads them.
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let vintage = public.join(&vintages(&public)[0]);
        assert_eq!(mode(&vintage), 0o755);
        assert_eq!(mode(&vintage.join("data")), 0o755);
        assert_eq!(mode(&vintage.join("index.html")), 0o644);
        assert_eq!(mode(&vintage.join("data/monitor.csv")), 0o644);
    }
    let log = std::fs::read_dir(env.data.join("log"))
        .unwrap()
        .flatten()
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .collect::<String>();
    assert!(log.contains("monitor published on schedule"), "{log}");
    // Started again the same week: nothing was missed, nothing published.
    d.signal(rustix::process::Signal::TERM);
    d.wait_exit(WAIT);
    let mut d = env.start_ready();
    std::thread::sleep(Duration::from_millis(2500));
    d.assert_alive();
    assert_eq!(vintages(&public).len(), 1);
}
