//! Console tests: update (state and actions) and every screen drawn on a `TestBackend`, as
//! insta snapshots of deterministic fixture data.

use super::app::*;
use super::render::render;
use super::update::{Action, Msg, PageKind, Tag, update};
use crate::api::Request;
use crate::api::views::*;
use crate::store::{BrowsePage, BrowseRow, CodeCount, RejectedFile, Rejections, SenderCount};
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::{Terminal, backend::TestBackend};

fn at(h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, h, m, 5).unwrap()
}

fn day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 12, 1).unwrap()
}

fn key(c: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(c, KeyModifiers::NONE))
}

fn hello(role: &str) -> HelloView {
    HelloView {
        user: "bob".into(),
        role: match role {
            "viewer" => Some(crate::config::Role::Viewer),
            "reviewer" => Some(crate::config::Role::Reviewer),
            "supervisor" => Some(crate::config::Role::Supervisor),
            _ => None,
        },
        version: "0.1.0".into(),
        data: "var".into(),
    }
}

fn status() -> StatusView {
    StatusView {
        day: day(),
        files_today: 1234,
        files_rejected_today: 12,
        applications_today: 5678,
        licenses_issued_today: 5500,
        rejected_today: 150,
        held_today: 28,
        pending_review: 3,
        licenses_on_record: 1_000_000,
        mail_queued: 4,
        mail_retrying: 1,
        mail_dead: 2,
        intake_paused: true,
        problems: vec!["the outbox of ACMEBRK is paused: disk full".into()],
        last_errors: vec![],
        started_at: at(8, 0),
        version: "0.1.0".into(),
    }
}

fn row(i: u64) -> BrowseRow {
    BrowseRow {
        cursor: format!("{i:04x}"),
        license: crate::filing::model::LicenseNumber::new(2026, u32::try_from(i).unwrap())
            .to_string(),
        status: if i.is_multiple_of(7) {
            "cancelled"
        } else {
            "issued"
        }
        .into(),
        sender: "ACMEBRK".into(),
        importer: format!("Importer {i} \u{1b}[2JInc"),
        entry_number: Some(format!("ABC{:07}3", i)),
        country_of_origin: "CA".into(),
        valid_from: day(),
        hts: "7606125000".into(),
        products: 1 + (i % 3) as usize,
        total_value_usd: format!("{}.51", 181_000 + 1439 * i),
    }
}

fn page(from: u64, n: u64, total: Option<u64>, at_end: bool) -> BrowsePage {
    BrowsePage {
        rows: (from..from + n).map(|i| row(i + 1)).collect(),
        start: Some(from),
        total,
        total_exact: total.is_some(),
        at_end,
        resume: None,
        plan: "all licenses by number".into(),
    }
}

/// An app connected as `role`, on a 120×32 terminal, with the first page loaded.
fn connected(role: &str) -> App {
    let mut app = App::new(32, 120);
    let acts = update(&mut app, Msg::Connected(hello(role)));
    assert!(
        acts.iter()
            .any(|a| matches!(a, Action::Send(Tag::Status, Request::Status)))
    );
    let g = app.browser.generation;
    page_arrives(
        &mut app,
        g,
        PageKind::First,
        page(0, 66, Some(1_000_000), false),
    );
    update(
        &mut app,
        Msg::Reply {
            tag: Tag::Status,
            result: Ok(Reply::Status(status())),
            ms: 1,
        },
    );
    app
}

/// The daemon's answer to a browse request of `generation`.
fn page_arrives(app: &mut App, generation: u64, kind: PageKind, p: BrowsePage) -> Vec<Action> {
    update(
        app,
        Msg::Reply {
            tag: Tag::Browse { generation, kind },
            result: Ok(Reply::Page(p)),
            ms: 2,
        },
    )
}

/// The app drawn at 80×24 and at 160×45 (resized first, as the terminal would), each
/// snapshotted as `<name>_<w>x<h>`; the two screens, for more checks.
fn sizes(app: &App, name: &str) -> [String; 2] {
    [(80u16, 24u16), (160, 45)].map(|(w, h)| {
        let mut a = app.clone();
        update(&mut a, Msg::Resize(w, h));
        let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
        t.draw(|f| render(&a, f)).unwrap();
        let s = format!("{}", t.backend());
        insta::assert_snapshot!(format!("{name}_{w}x{h}"), s);
        s
    })
}

fn draw(app: &App) -> String {
    let mut t = Terminal::new(TestBackend::new(120, 32)).unwrap();
    t.draw(|f| render(app, f)).unwrap();
    format!("{}", t.backend())
}

#[test]
fn scrolling_pages_from_the_daemon_and_keeps_the_position() {
    let mut app = connected("viewer");
    app.screen = Screen::Browser;
    assert_eq!(app.browser.position(), "row 1 of 1,000,000");
    let mut asked = None;
    for _ in 0..30 {
        for a in update(&mut app, key(KeyCode::Down)) {
            if let Action::Send(Tag::Browse { kind, .. }, Request::Browse(q)) = a {
                asked = Some((kind, q));
            }
        }
    }
    assert_eq!(app.browser.position(), "row 31 of 1,000,000");
    let (kind, q) = asked.expect("a page ahead is asked for before the window runs out");
    assert_eq!(kind, PageKind::Forward);
    assert_eq!(q.after.as_deref(), Some(row(66).cursor.as_str()));
    assert!(!q.count, "scrolling never counts again");
    // A second key while the page is on its way asks for nothing more.
    assert!(update(&mut app, key(KeyCode::Down)).is_empty());
    let g = app.browser.generation;
    page_arrives(&mut app, g, PageKind::Forward, page(66, 44, None, false));
    assert_eq!(app.browser.rows.len(), 110);
    assert_eq!(app.browser.position(), "row 32 of 1,000,000");
    // A stale answer (an older query) is dropped.
    page_arrives(
        &mut app,
        g - 1,
        PageKind::First,
        page(500, 3, Some(3), true),
    );
    assert_eq!(app.browser.rows.len(), 110);
}

#[test]
fn keys_past_the_loaded_window_are_kept_until_its_next_page_arrives() {
    let mut app = connected("viewer");
    app.screen = Screen::Browser;
    // Page down to the window's last row: the next page is asked for on the way.
    let mut asked = 0;
    for _ in 0..5 {
        for a in update(&mut app, key(KeyCode::PageDown)) {
            if let Action::Send(Tag::Browse { kind, .. }, _) = a {
                assert_eq!(kind, PageKind::Forward);
                asked += 1;
            }
        }
    }
    assert_eq!(asked, 1, "one page in flight at a time");
    assert_eq!(app.browser.position(), "row 66 of 1,000,000");
    // Further keys while the page is on its way are not lost: the selection owes them.
    update(&mut app, key(KeyCode::Down));
    update(&mut app, key(KeyCode::PageDown));
    assert_eq!(app.browser.position(), "row 66 of 1,000,000");
    let page_rows = app.page_rows() as u64;
    let g = app.browser.generation;
    page_arrives(&mut app, g, PageKind::Forward, page(66, 200, None, false));
    let owed_by_the_keys = 5 * page_rows + 1 + page_rows;
    let expected = (1 + owed_by_the_keys).min(266);
    assert_eq!(
        app.browser.position(),
        format!("row {expected} of 1,000,000")
    );
    // At the true end nothing is owed: the key does nothing, as at the last row of a list.
    let mut app = connected("viewer");
    app.screen = Screen::Browser;
    app.browser.at_bottom = true;
    for _ in 0..10 {
        update(&mut app, key(KeyCode::PageDown));
    }
    assert_eq!(app.browser.owed, 0);
    assert_eq!(app.browser.position(), "row 66 of 1,000,000");
}

#[test]
fn incremental_search_requeries_and_reports_bad_filters() {
    let mut app = connected("viewer");
    update(&mut app, key(KeyCode::Char('/')));
    assert!(app.browser.editing && app.screen == Screen::Browser);
    let mut sent = Vec::new();
    for c in "sender=ACMEBRK".chars() {
        for a in update(&mut app, key(KeyCode::Char(c))) {
            if let Action::Send(Tag::Browse { generation, .. }, Request::Browse(q)) = a {
                sent.push((generation, q));
            }
        }
    }
    // The first keystroke queries; the rest wait for that answer instead of queueing
    // a query each behind the daemon.
    assert_eq!(sent.len(), 1, "{sent:?}");
    let (g, first) = sent.pop().unwrap();
    assert_eq!(first.filter.text.as_deref(), Some("s"));
    let acts = page_arrives(&mut app, g, PageKind::First, page(0, 3, Some(3), true));
    assert_eq!(app.browser.rows.len(), 66, "the stale answer is dropped");
    let q = acts
        .into_iter()
        .find_map(|a| match a {
            Action::Send(_, Request::Browse(q)) => Some(q),
            _ => None,
        })
        .expect("the newest text is asked for once the answer is back");
    assert_eq!(q.filter.sender.as_deref(), Some("ACMEBRK"));
    assert!(q.count);
    for c in " day=2026-13-01".chars() {
        update(&mut app, key(KeyCode::Char(c)));
    }
    assert!(
        app.browser
            .query_error
            .as_deref()
            .unwrap()
            .contains("YYYY-MM-DD")
    );
    // The shell's line keys: Ctrl+W drops the last word, Ctrl+U the line; other Ctrl and
    // Alt keys type nothing.
    let with = |c, m| Msg::Key(KeyEvent::new(KeyCode::Char(c), m));
    update(&mut app, with('w', KeyModifiers::CONTROL));
    assert_eq!(app.browser.query, "sender=ACMEBRK ");
    assert!(app.browser.query_error.is_none());
    update(&mut app, with('x', KeyModifiers::ALT));
    update(&mut app, with('b', KeyModifiers::CONTROL));
    assert_eq!(app.browser.query, "sender=ACMEBRK ");
    update(&mut app, with('u', KeyModifiers::CONTROL));
    assert_eq!(app.browser.query, "");
    assert!(app.browser.filter.is_empty());
    update(&mut app, key(KeyCode::Enter));
    assert!(!app.browser.editing);
}

#[test]
fn a_cancel_asks_a_reason_then_confirmation_and_shows_the_outcome() {
    let mut app = connected("supervisor");
    app.screen = Screen::Browser;
    update(&mut app, key(KeyCode::Char('c')));
    assert!(matches!(app.modal, Some(Modal::Reason { .. })));
    for c in "duplicate".chars() {
        update(&mut app, key(KeyCode::Char(c)));
    }
    update(&mut app, key(KeyCode::Enter));
    assert!(matches!(app.modal, Some(Modal::Confirm { .. })));
    let acts = update(&mut app, key(KeyCode::Char('y')));
    let Some(Action::Send(Tag::Action, Request::LicenseCancel { license, reason })) = acts.first()
    else {
        panic!("{acts:?}");
    };
    assert_eq!(
        (license.as_str(), reason.as_str()),
        (row(1).license.as_str(), "duplicate")
    );
    let acts = update(
        &mut app,
        Msg::Reply {
            tag: Tag::Action,
            result: Ok(Reply::Cancelled(CancelView {
                license: license.clone(),
                status: "cancelled".into(),
                ack_name: "x.ack-2.xml".into(),
                ack_sequence: 2,
            })),
            ms: 5,
        },
    );
    assert!(
        matches!(&app.modal, Some(Modal::Message { text, error: false, .. }) if text.contains("cancelled"))
    );
    assert!(
        acts.iter()
            .any(|a| matches!(a, Action::Send(Tag::Browse { .. }, _))),
        "the list is read again"
    );
}

#[test]
fn a_viewer_sees_the_key_disabled_and_the_daemons_refusal() {
    let mut app = connected("viewer");
    assert_eq!(
        app.disabled_why(RoleLevel::Supervisor).as_deref(),
        Some("needs supervisor; you (bob) are viewer")
    );
    app.screen = Screen::Browser;
    update(&mut app, key(KeyCode::Char('c')));
    assert!(
        app.flash
            .as_deref()
            .unwrap()
            .contains("the daemon will refuse it")
    );
    for c in "x".chars() {
        update(&mut app, key(KeyCode::Char(c)));
    }
    update(&mut app, key(KeyCode::Enter));
    update(&mut app, key(KeyCode::Char('y')));
    update(
        &mut app,
        Msg::Reply {
            tag: Tag::Action,
            result: Err("bob (viewer) may not license cancel: it needs supervisor".into()),
            ms: 1,
        },
    );
    assert!(matches!(
        &app.modal,
        Some(Modal::Message { error: true, .. })
    ));
    assert!(draw(&app).contains("bob (viewer) may not license cancel"));
}

#[test]
fn losing_the_daemon_is_said_and_reconnecting_refreshes() {
    let mut app = connected("viewer");
    update(
        &mut app,
        Msg::Lost("the daemon closed the connection".into()),
    );
    assert!(draw(&app).contains("lost the daemon"));
    assert!(
        update(&mut app, Msg::Tick).is_empty(),
        "no requests while it is gone"
    );
    let acts = update(&mut app, Msg::Connected(hello("viewer")));
    assert_eq!(app.link, Link::Up);
    assert!(
        acts.iter()
            .any(|a| matches!(a, Action::Send(Tag::Browse { .. }, _)))
    );
    assert!(app.flash.as_deref().unwrap().contains("reconnected"));
}

#[test]
fn tab_visits_every_screen_and_q_quits() {
    let mut app = connected("viewer");
    let mut seen = vec![app.screen];
    for _ in 0..7 {
        update(&mut app, key(KeyCode::Tab));
        seen.push(app.screen);
    }
    assert_eq!(&seen[..7], &Screen::ALL);
    assert_eq!(seen[7], Screen::Dashboard);
    update(&mut app, key(KeyCode::Char('?')));
    assert_eq!(app.modal, Some(Modal::Help));
    update(&mut app, key(KeyCode::Esc));
    assert_eq!(app.modal, None);
    assert_eq!(
        update(&mut app, key(KeyCode::Char('q'))),
        vec![Action::Quit]
    );
}

#[test]
fn live_filings_arrive_on_the_dashboard() {
    let mut app = connected("viewer");
    update(
        &mut app,
        Msg::Event(crate::api::Event::Filing(filing(1, "accepted"))),
    );
    update(
        &mut app,
        Msg::Event(crate::api::Event::Filing(filing(2, "rejected"))),
    );
    assert_eq!(app.dashboard.recent[0].file_name, "batch-2.xml");
}

#[test]
fn a_file_with_held_applications_says_so_on_the_dashboard() {
    let mut app = connected("viewer");
    let mut row = filing(1, "accepted");
    row.held = 1;
    update(&mut app, Msg::Event(crate::api::Event::Filing(row)));
    for s in [
        sizes_unsnapped(&app, 80, 24),
        sizes_unsnapped(&app, 160, 45),
    ] {
        assert!(s.contains("accepted, 1 held"), "{s}");
    }
}

fn filing(i: u32, status: &str) -> FilingRow {
    FilingRow {
        at: at(9, i),
        sender: "ACMEBRK".into(),
        file_name: format!("batch-{i}.xml"),
        file_sha256: format!("{i:064x}"),
        status: status.into(),
        applications: 2,
        licenses: if status == "accepted" { 2 } else { 0 },
        held: 0,
        ack_name: format!("batch-{i}.ack.xml"),
    }
}

// ---- snapshots of every screen

#[test]
fn snapshot_dashboard() {
    let mut app = connected("supervisor");
    app.first_run_note =
        Some("you (bob) are supervisor in this first-run session: not on the staff list".into());
    for i in 1..=4 {
        let s = if i == 3 { "partial" } else { "accepted" };
        update(
            &mut app,
            Msg::Event(crate::api::Event::Filing(filing(i, s))),
        );
    }
    // A hostile file name cannot move the cursor or set the title.
    let mut evil = filing(5, "rejected");
    evil.file_name = "evil\u{1b}]0;pwned\u{7}\u{1b}[2J.xml".into();
    update(&mut app, Msg::Event(crate::api::Event::Filing(evil)));
    for n in [0u64, 3, 7, 2, 9] {
        let mut s = status();
        s.files_today += n;
        update(
            &mut app,
            Msg::Reply {
                tag: Tag::Status,
                result: Ok(Reply::Status(s)),
                ms: 1,
            },
        );
    }
    for screen in sizes(&app, "dashboard") {
        assert!(!screen.contains('\u{1b}'));
        // The counts are visible at every size.
        assert!(
            screen.contains("1,243") && screen.contains("1,000,000"),
            "{screen}"
        );
    }
}

#[test]
fn snapshot_browser() {
    let mut app = connected("viewer");
    app.screen = Screen::Browser;
    app.browser.query = "sender=ACMEBRK".into();
    for _ in 0..3 {
        update(&mut app, key(KeyCode::Down));
    }
    for screen in sizes(&app, "browser") {
        // The whole license number and the whole value, grouped, in every row shown.
        assert!(screen.contains(&row(4).license), "{screen}");
        assert!(screen.contains("186,756.51"), "{screen}");
    }
}

fn license_view() -> LicenseView {
    LicenseView {
        license: row(1).license,
        status: "issued".into(),
        sender: "ACMEBRK".into(),
        importer: "Northern Rolling \u{1b}[31mMills".into(),
        exporter: "Alu Export GmbH".into(),
        manufacturers: vec!["Smelter One".into()],
        entry_type: "consumption".into(),
        entry_number: Some("ABC12345675".into()),
        country_of_origin: "CA".into(),
        country_of_exportation: "CA".into(),
        expected_export_date: day(),
        expected_import_date: day(),
        port_of_entry: "3004".into(),
        filer_company: "Acme".into(),
        filer_contact: "Ann".into(),
        filer_email: "ann@acme.example".into(),
        valid_from: day(),
        valid_through: NaiveDate::from_ymd_opt(2027, 2, 14).unwrap(),
        total_value_usd: "33000.00".into(),
        products: vec![ProductView {
            line: 1,
            hts: "7606125000".into(),
            description: "Plate".into(),
            category: "Plate, sheet and strip".into(),
            largest_smelt: "CA".into(),
            second_largest_smelt: "NONE".into(),
            most_recent_cast: "CA".into(),
            quantity_kg: "10000.000".into(),
            value_usd: "33000.00".into(),
            unit_value_usd_per_mt: "3300.00".into(),
        }],
        history: vec![HistoryView {
            at: at(9, 1),
            action: crate::store::LicenseAction::Issued,
            by: "daemon".into(),
            file_sha256: "ab".repeat(32),
            application: Some("A1".into()),
            reason: None,
        }],
    }
}

fn receipt_view() -> ReceiptView {
    let xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<LicenseAck xmlns=\"urn:aim:ack:1\" version=\"1.0\">\n  <Application id=\"A2\" status=\"rejected\">\n    <Error code=\"A301\" path=\"Application[A2]/Product[1]/Hts\" line=\"57\" column=\"12\">HTS 7208.10.1500 is not covered</Error>\n  </Application>\n</LicenseAck>\n";
    ReceiptView {
        sender: "ACMEBRK".into(),
        sha256: "ab".repeat(32),
        control_number: Some(42),
        control_text: Some("000000042".into()),
        status: crate::store::FileStatus::Partial,
        file_error: None,
        deliveries: vec![DeliveryView {
            file_name: "batch-42.xml".into(),
            ack_name: "batch-42.ack.xml".into(),
            received_at: at(9, 1),
            archive: "2026-12-01/ACMEBRK/x".into(),
            done: true,
        }],
        applications: vec![AppSummaryView {
            id: Some("A2".into()),
            status: "rejected".into(),
            license: None,
        }],
        acks: vec![AckView {
            seq: 1,
            name: "batch-42.ack.xml".into(),
            at: at(9, 1),
            by: "daemon".into(),
            written: true,
            xml: xml.into(),
            issues: ack_issues(xml),
            mail: vec![MailJobView {
                id: 7,
                sender: "ACMEBRK".into(),
                to: vec!["filings@acme.example".into()],
                ack_name: "batch-42.ack.xml".into(),
                state: crate::store::MailState::Dead,
                attempts: 9,
                created_at: at(9, 1),
                next_attempt: at(10, 1),
                last_error: Some("550 mailbox unavailable".into()),
                sent_at: None,
            }],
        }],
    }
}

#[test]
fn the_ack_issues_keep_code_path_line_and_column() {
    let r = receipt_view();
    let i = &r.acks[0].issues[0];
    assert_eq!(
        (
            i.code.as_str(),
            i.path.as_str(),
            i.line,
            i.column,
            i.application.as_deref()
        ),
        (
            "A301",
            "Application[A2]/Product[1]/Hts",
            Some(57),
            Some(12),
            Some("A2")
        )
    );
}

#[test]
fn snapshot_detail() {
    let mut app = connected("viewer");
    app.screen = Screen::Detail;
    app.detail.license = Some(license_view());
    app.detail.receipt = Some(receipt_view());
    app.detail.audit = vec![AuditView {
        at: at(9, 1),
        actor: "daemon".into(),
        action: crate::store::AuditAction::Receive,
        subject: "batch-42.xml".into(),
        outcome: crate::store::Outcome::Done,
        detail: "batch-42.xml from ACMEBRK: partial (2 applications)".into(),
    }];
    for s in sizes(&app, "detail") {
        assert!(!s.contains('\u{1b}'));
    }
    let text = super::render::detail_text(&app);
    assert!(
        text.contains("control number          000000042"),
        "the control number as filed: {text}"
    );
    // Scrolling stops at the end: the last line stays at the bottom of the box.
    for _ in 0..500 {
        update(&mut app, key(KeyCode::Down));
    }
    let s = draw(&app);
    let body: Vec<&str> = s.lines().collect();
    assert!(
        body[body.len() - 3].contains("</AimAck>") || body[body.len() - 3].contains("Ack"),
        "{s}"
    );
    update(&mut app, key(KeyCode::Up));
    sizes(&app, "detail_scrolled");
}

#[test]
fn snapshot_rejections() {
    let mut app = connected("viewer");
    app.screen = Screen::Rejections;
    app.rejections.data = Some(Rejections {
        from: Some(NaiveDate::from_ymd_opt(2026, 11, 25).unwrap()),
        through: Some(day()),
        by_code: vec![
            CodeCount {
                code: "A301".into(),
                count: 40,
                senders: vec!["ACMEBRK".into(), "DEMO".into()],
            },
            CodeCount {
                code: "F004".into(),
                count: 3,
                senders: vec!["DEMO".into()],
            },
        ],
        by_sender: vec![SenderCount {
            sender: "ACMEBRK".into(),
            files: 120,
            files_rejected: 2,
            applications: 900,
            applications_rejected: 38,
            acceptance_pct: "95.8".into(),
            codes: vec![("A301".into(), 38)],
        }],
    });
    app.rejections.files_of = Some(FilesOf::Code("A301".into()));
    app.rejections.files = vec![RejectedFile {
        sender: "ACMEBRK".into(),
        sha256: "ab".repeat(32),
        file_name: "batch-42.xml".into(),
        received_at: at(9, 1),
        status: "partial".into(),
        codes: vec!["A301".into()],
    }];
    sizes(&app, "rejections");
}

#[test]
fn snapshot_mail() {
    let mut app = connected("viewer");
    app.screen = Screen::Mail;
    let job = receipt_view().acks[0].mail[0].clone();
    let mut waiting = job.clone();
    waiting.id = 8;
    waiting.state = crate::store::MailState::Retrying;
    waiting.last_error = Some("421 try later".into());
    app.mail.data = Some(MailView {
        waiting: vec![waiting],
        dead: vec![job.clone()],
        sent: vec![],
    });
    sizes(&app, "mail");
}

#[test]
fn snapshot_review() {
    let mut app = connected("reviewer");
    app.screen = Screen::Review;
    let h = |i: u32| HeldView {
        handle: format!("ACMEBRK:{i}:A1"),
        handle_as_filed: format!("ACMEBRK:{i:09}:A1"),
        sender: "ACMEBRK".into(),
        control_number: Some(i),
        application: Some("A1".into()),
        action: "new".into(),
        license: None,
        file_name: format!("batch-{i}.xml"),
        file_sha256: format!("{i:064x}"),
        received_at: at(8, i),
        reasons: vec!["R501".into()],
        details: vec![ReasonView {
            code: "R501".into(),
            path: "Application[A1]/CountryOfOrigin".into(),
            detail: "RU is on the watch list".into(),
        }],
        importer: Some("Importer".into()),
        country_of_origin: Some("RU".into()),
        expected_import_date: Some(day()),
        products: license_view().products,
    };
    update(
        &mut app,
        Msg::Reply {
            tag: Tag::Held,
            result: Ok(Reply::Held(vec![h(1), h(2), h(3)])),
            ms: 1,
        },
    );
    update(&mut app, key(KeyCode::Char(' ')));
    let acts = update(&mut app, key(KeyCode::Char(' ')));
    assert!(acts.is_empty());
    assert_eq!(app.review.marked.len(), 2);
    sizes(&app, "review");
    update(&mut app, key(KeyCode::Char('a')));
    let acts = update(&mut app, key(KeyCode::Char('y')));
    assert!(
        matches!(&acts[0], Action::Send(Tag::Action, Request::ReviewApprove { handles }) if handles.len() == 2)
    );
}

#[test]
fn snapshot_monitor_confidential_and_public_preview() {
    let mut app = connected("viewer");
    app.screen = Screen::Monitor;
    let mut rows = Vec::new();
    for (mi, month) in ["2026-10", "2026-11", "2026-12"].iter().enumerate() {
        for (ki, key) in ["CA", "CN", "AE"].iter().enumerate() {
            rows.push(crate::monitor::StaffRow {
                month: (*month).into(),
                dimension: "cast".into(),
                key: (*key).into(),
                licenses: 10 + i64::try_from(ki).unwrap(),
                metric_tons: format!("{}.000", 100 * (ki + 1) + 10 * mi),
                value_usd: "330000.00".into(),
                unit_value_usd_per_mt: "3300.00".into(),
                importers: if ki == 2 { 2 } else { 5 },
                suppressed: ki == 2,
            });
        }
    }
    let cells = rows.clone();
    update(
        &mut app,
        Msg::Reply {
            tag: Tag::MonitorCells,
            result: Ok(Reply::Cells(rows)),
            ms: 1,
        },
    );
    let public = cells
        .iter()
        .map(|c| crate::monitor::Row {
            month: c.month.clone(),
            dimension: c.dimension.clone(),
            key: c.key.clone(),
            licenses: if c.suppressed {
                "(D)".into()
            } else {
                c.licenses.to_string()
            },
            metric_tons: if c.suppressed {
                "(D)".into()
            } else {
                c.metric_tons.clone()
            },
            value_usd: if c.suppressed {
                "(D)".into()
            } else {
                c.value_usd.clone()
            },
            unit_value_usd_per_mt: if c.suppressed {
                "(D)".into()
            } else {
                c.unit_value_usd_per_mt.clone()
            },
        })
        .collect();
    update(
        &mut app,
        Msg::Reply {
            tag: Tag::MonitorExport,
            result: Ok(Reply::Monitor(public)),
            ms: 1,
        },
    );
    assert_eq!(app.monitor.month_name(), Some("2026-12"));
    assert_eq!(app.monitor.trend().len(), 3);
    for s in sizes(&app, "monitor") {
        assert!(
            s.contains("CONFIDENTIAL") && s.contains("330,000.00"),
            "{s}"
        );
    }
    update(&mut app, key(KeyCode::Char('p')));
    for s in sizes(&app, "monitor_public") {
        assert!(s.contains("PUBLIC PREVIEW") && s.contains("(D)"), "{s}");
    }
}

#[test]
fn snapshot_help_lists_every_key_with_disabled_ones() {
    let mut app = connected("viewer");
    app.screen = Screen::Browser;
    update(&mut app, key(KeyCode::Char('?')));
    let [_, s] = sizes(&app, "help");
    for b in super::keys::help(Screen::Browser) {
        assert!(s.contains(b.key), "help lists {}", b.key);
    }
    assert!(s.contains("disabled: needs supervisor"));
    assert_eq!(s.matches("│Enter ").count(), 1, "Enter is listed once: {s}");
    assert_eq!(s.matches("│/ ").count(), 1, "/ is listed once: {s}");
}

// ---- what changes while the console is open: every screen tells the truth

/// A status reply.
fn status_arrives(app: &mut App, s: StatusView) {
    update(
        app,
        Msg::Reply {
            tag: Tag::Status,
            result: Ok(Reply::Status(s)),
            ms: 1,
        },
    );
}

fn browse_sent(acts: &[Action]) -> Option<(u64, PageKind, crate::store::BrowseQuery)> {
    acts.iter().find_map(|a| match a {
        Action::Send(Tag::Browse { generation, kind }, Request::Browse(q)) => {
            Some((*generation, *kind, (**q).clone()))
        }
        _ => None,
    })
}

#[test]
fn a_cancellation_by_anyone_is_read_again_into_the_filtered_list_and_r_reads_it_too() {
    let mut app = connected("supervisor");
    app.screen = Screen::Browser;
    update(&mut app, key(KeyCode::Char('/')));
    for c in "status=issued".chars() {
        let acts = update(&mut app, key(KeyCode::Char(c)));
        if let Some((g, _, _)) = browse_sent(&acts) {
            page_arrives(&mut app, g, PageKind::First, page(0, 5, Some(5), true));
        }
    }
    update(&mut app, key(KeyCode::Enter));
    update(&mut app, key(KeyCode::Down));
    let chosen = app.browser.selected_row().unwrap().license.clone();
    // Another supervisor cancels license 1: the daemon says something changed.
    let acts = update(
        &mut app,
        Msg::Event(crate::api::Event::Changed {
            what: "cancellation".into(),
        }),
    );
    let (g, kind, q) = browse_sent(&acts).expect("the list is read again at once");
    assert_eq!(kind, PageKind::Refresh);
    assert_eq!(
        q.filter.status,
        Some(crate::store::StatusFilter::Issued),
        "the same query"
    );
    // Its answer no longer holds the cancelled license; the selection stays on its license.
    let mut p = page(0, 5, Some(4), true);
    p.rows.remove(0);
    page_arrives(&mut app, g, PageKind::Refresh, p);
    assert_eq!(app.browser.rows.len(), 4);
    assert_eq!(app.browser.selected_row().unwrap().license, chosen);
    assert!(!draw(&app).contains(&row(1).license));
    // `r` reads the rows again too, and a row's new status is shown.
    let acts = update(&mut app, key(KeyCode::Char('r')));
    let (g, kind, _) = browse_sent(&acts).expect("r reads the rows again");
    assert_eq!(kind, PageKind::Refresh);
    let mut p = page(1, 4, Some(4), true);
    p.rows[0].status = "cancelled".into();
    page_arrives(&mut app, g, PageKind::Refresh, p);
    assert_eq!(app.browser.rows[0].status, "cancelled");
}

#[test]
fn a_list_not_shown_is_read_again_when_it_is_shown() {
    let mut app = connected("supervisor");
    app.screen = Screen::Mail;
    let acts = update(
        &mut app,
        Msg::Event(crate::api::Event::Changed {
            what: "cancellation".into(),
        }),
    );
    assert!(
        acts.iter()
            .any(|a| matches!(a, Action::Send(Tag::Mail, Request::Mail)))
    );
    assert!(browse_sent(&acts).is_none(), "the list is not shown");
    let acts = update(&mut app, key(KeyCode::Char('2')));
    assert_eq!(browse_sent(&acts).map(|x| x.1), Some(PageKind::Refresh));
}

#[test]
fn an_open_file_or_license_is_read_again_after_a_change() {
    let mut app = connected("supervisor");
    app.screen = Screen::Detail;
    app.detail.receipt = Some(receipt_view());
    let acts = update(
        &mut app,
        Msg::Event(crate::api::Event::Changed {
            what: "review decision".into(),
        }),
    );
    assert!(
        acts.iter()
            .any(|a| matches!(a, Action::Send(Tag::Receipt, Request::Receipt { .. }))),
        "{acts:?}"
    );
    app.detail.license = Some(license_view());
    let acts = update(&mut app, key(KeyCode::Char('r')));
    assert!(
        acts.iter()
            .any(|a| matches!(a, Action::Send(Tag::License, Request::LicenseShow { .. })))
    );
}

#[test]
fn filings_in_bursts_refresh_the_review_queue_once_a_second() {
    let mut app = connected("reviewer");
    update(&mut app, key(KeyCode::Char('6')));
    for i in 0..50 {
        let acts = update(
            &mut app,
            Msg::Event(crate::api::Event::Filing(filing(i, "accepted"))),
        );
        assert!(acts.is_empty(), "no request a filing");
    }
    let acts = update(&mut app, Msg::Tick);
    let held = acts
        .iter()
        .filter(|a| matches!(a, Action::Send(Tag::Held, Request::ReviewList)))
        .count();
    assert_eq!(held, 1);
}

#[test]
fn status_messages_clear_after_a_few_seconds() {
    let mut app = connected("supervisor");
    update(
        &mut app,
        Msg::Event(crate::api::Event::Changed {
            what: "re-send".into(),
        }),
    );
    assert!(draw(&app).contains("changed by staff: re-send"));
    for _ in 0..super::update::FLASH_SECONDS {
        update(&mut app, Msg::Tick);
    }
    let s = draw(&app);
    assert!(!s.contains("re-send"), "{s}");
    assert!(
        s.contains("? help for this screen"),
        "the key hints are back: {s}"
    );
}

#[test]
fn the_throughput_chart_goes_on_past_its_width() {
    let mut app = connected("viewer");
    let mut s = status();
    // Ten minutes of status answers: the chart holds the newest, the last drawn is the last.
    for i in 0..300u64 {
        s.files_today += i % 7;
        status_arrives(&mut app, s.clone());
    }
    let data: Vec<u64> = app.dashboard.throughput.iter().copied().collect();
    let shown = super::render::dashboard::chart_points(&data, 70);
    assert_eq!(shown.len(), 70);
    assert_eq!(shown.last(), Some(&(299 % 7)));
    // A new day counts from zero: its first step is the new day's files, not a wrap.
    s.files_today = 3;
    status_arrives(&mut app, s);
    assert_eq!(app.dashboard.throughput.back(), Some(&3));
}

#[test]
fn mail_ids_and_attempts_are_shown_whole_and_in_words() {
    let mut app = connected("viewer");
    app.screen = Screen::Mail;
    let job = receipt_view().acks[0].mail[0].clone();
    let mut a = job.clone();
    a.id = 4_000_001;
    let mut b = job.clone();
    b.id = 4_000_002;
    b.state = crate::store::MailState::Sent;
    b.attempts = 1;
    b.sent_at = Some(at(9, 2));
    app.mail.data = Some(MailView {
        waiting: vec![],
        dead: vec![a],
        sent: vec![b.clone()],
    });
    let [narrow, _] = sizes(&app, "mail_ids");
    assert!(
        narrow.contains("4000001") && narrow.contains("4000002"),
        "{narrow}"
    );
    assert_eq!(b.state_words(), "sent after 1 attempt");
    update(&mut app, key(KeyCode::Down));
    update(&mut app, key(KeyCode::Enter));
    let s = draw(&app);
    assert!(
        s.contains("sent after 1 attempt") && !s.contains("1 attempts"),
        "{s}"
    );
    // A delivered message is not a dead letter: R says so instead of asking.
    update(&mut app, key(KeyCode::Esc));
    let acts = update(&mut app, key(KeyCode::Char('R')));
    assert!(acts.is_empty() && app.modal.is_none());
    assert!(app.flash.as_deref().unwrap().contains("delivered"));
}

fn held(i: u32, origin: &str, code: &str) -> HeldView {
    HeldView {
        handle: format!("DEMO:{i}:A2"),
        handle_as_filed: format!("DEMO:{i:09}:A2"),
        sender: "DEMO".into(),
        control_number: Some(i),
        application: Some("A2".into()),
        action: "new".into(),
        license: None,
        file_name: "batch.xml".into(),
        file_sha256: format!("{i:064x}"),
        received_at: at(8, 0),
        reasons: vec![code.into()],
        details: vec![ReasonView {
            code: code.into(),
            path: "Application[A2]/Product[1]/MostRecentCast".into(),
            detail: format!("{origin} is on the watch list"),
        }],
        importer: Some("Importer".into()),
        country_of_origin: Some(origin.into()),
        expected_import_date: Some(day()),
        products: license_view().products,
    }
}

#[test]
fn review_at_volume_filters_marks_all_and_says_where_it_is() {
    let mut app = connected("reviewer");
    update(&mut app, key(KeyCode::Char('6')));
    let list: Vec<HeldView> = (1..=290)
        .map(|i| {
            if i % 3 == 0 {
                held(i, "CN", "R502")
            } else {
                held(i, "RU", "R501")
            }
        })
        .collect();
    update(
        &mut app,
        Msg::Reply {
            tag: Tag::Held,
            result: Ok(Reply::Held(list)),
            ms: 1,
        },
    );
    let s = draw(&app);
    assert!(s.contains("row 1 of 290"), "{s}");
    assert!(s.contains("DEMO:000000001:A2"), "the handle as filed: {s}");
    // The reason at the product line it is about.
    assert!(
        s.contains("▲ R501 MostRecentCast: RU is on the watch list"),
        "{s}"
    );
    // The filter: only CN.
    update(&mut app, key(KeyCode::Char('f')));
    for c in "cn".chars() {
        update(&mut app, key(KeyCode::Char(c)));
    }
    update(&mut app, key(KeyCode::Enter));
    assert_eq!(app.review.shown().len(), 96);
    // Mark every one shown, then approve them in one decision.
    update(&mut app, key(KeyCode::Char('A')));
    assert_eq!(app.review.marked.len(), 96);
    let [narrow, wide] = sizes(&app, "review_filtered");
    for s in [&narrow, &wide] {
        assert!(s.contains("row 1 of 96 shown (290 held)"), "{s}");
        assert!(s.contains("marked 96"), "{s}");
    }
    update(&mut app, key(KeyCode::Char('a')));
    let acts = update(&mut app, key(KeyCode::Char('y')));
    assert!(
        matches!(&acts[0], Action::Send(Tag::Action, Request::ReviewApprove { handles }) if handles.len() == 96 && handles.iter().all(|h| !h.contains(":0")))
    );
    // Space marks one and moves down; A again unmarks all.
    update(&mut app, key(KeyCode::Char('A')));
    assert!(app.review.marked.is_empty());
    update(&mut app, key(KeyCode::Char(' ')));
    assert_eq!((app.review.marked.len(), app.review.selected), (1, 1));
}

#[test]
fn the_mouse_clicks_tabs_and_rows_and_scrolls() {
    use crossterm::event::{MouseButton, MouseEvent, MouseEventKind};
    let mut app = connected("viewer");
    update(&mut app, Msg::Resize(80, 24));
    let click = |column, row| {
        Msg::Mouse(MouseEvent {
            kind: MouseEventKind::Down(MouseButton::Left),
            column,
            row,
            modifiers: KeyModifiers::NONE,
        })
    };
    // " 1 Dash │ 2 Licenses │": the second tab starts at column 9.
    update(&mut app, click(12, 0));
    assert_eq!(app.screen, Screen::Browser);
    // The table's first row is line 7 (tabs, status, the search box, the border, the header).
    update(&mut app, click(5, 9));
    assert_eq!(app.browser.selected, 2);
    let acts = update(&mut app, click(5, 9));
    assert_eq!(app.screen, Screen::Detail, "a second click opens it");
    assert!(
        acts.iter()
            .any(|a| matches!(a, Action::Send(Tag::License, _)))
    );
    update(&mut app, key(KeyCode::Esc));
    update(
        &mut app,
        Msg::Mouse(MouseEvent {
            kind: MouseEventKind::ScrollDown,
            column: 5,
            row: 9,
            modifiers: KeyModifiers::NONE,
        }),
    );
    assert_eq!(app.browser.selected, 3);
}

#[test]
fn e_exports_the_whole_search_and_says_where() {
    let mut app = connected("viewer");
    app.screen = Screen::Browser;
    app.browser.filter = crate::store::parse_query("sender=ACMEBRK").unwrap();
    let acts = update(&mut app, key(KeyCode::Char('e')));
    let Some(Action::Export(q)) = acts.first() else {
        panic!("{acts:?}");
    };
    assert_eq!(q.filter.sender.as_deref(), Some("ACMEBRK"));
    assert!(q.after.is_none() && !q.backward, "from the first row");
    update(
        &mut app,
        Msg::Exported(Ok((
            "/home/bob/aim-licenses-20261201-090105.csv".into(),
            12_345,
        ))),
    );
    assert!(draw(&app).contains("exported 12,345 rows to /home/bob/aim-licenses-"));
}

#[test]
fn times_are_local_and_labelled_and_t_shows_utc() {
    let mut app = connected("viewer");
    app.zone = Zone::Fixed(chrono::FixedOffset::east_opt(3600).unwrap());
    update(
        &mut app,
        Msg::Event(crate::api::Event::Filing(filing(1, "accepted"))),
    );
    let s = draw(&app);
    assert!(s.contains("times local UTC+01:00"), "{s}");
    assert!(s.contains("10:01:05"), "09:01:05 UTC in local time: {s}");
    update(&mut app, key(KeyCode::Char('t')));
    let s = draw(&app);
    assert!(s.contains("times UTC") && s.contains("09:01:05"), "{s}");
}

#[test]
fn the_wire_keeps_its_words_while_the_console_reads_enums() {
    let h = hello("nobody");
    let j = serde_json::to_value(&h).unwrap();
    assert_eq!(j["role"], "none");
    let back: HelloView = serde_json::from_value(j).unwrap();
    assert_eq!(back.role, None);
    let h = hello("reviewer");
    assert_eq!(serde_json::to_value(&h).unwrap()["role"], "reviewer");
    let a = AuditView {
        at: at(9, 1),
        actor: "bob".into(),
        action: crate::store::AuditAction::RetryMail,
        subject: "mail 7".into(),
        outcome: crate::store::Outcome::Refused,
        detail: String::new(),
    };
    let j = serde_json::to_value(&a).unwrap();
    assert_eq!(
        (j["action"].as_str(), j["outcome"].as_str()),
        (Some("retry_mail"), Some("refused"))
    );
    let l = serde_json::to_value(license_view()).unwrap();
    assert_eq!(l["history"][0]["action"], "issued");
    let r = serde_json::to_value(receipt_view()).unwrap();
    assert_eq!(r["status"], "partial");
    assert_eq!(r["acks"][0]["mail"][0]["state"], "dead");
}

#[test]
fn a_decision_on_hundreds_is_summed_up_and_kept_inside_one_request() {
    let mut app = connected("reviewer");
    update(&mut app, key(KeyCode::Char('6')));
    let list: Vec<HeldView> = (1..=700).map(|i| held(i, "CN", "R502")).collect();
    update(
        &mut app,
        Msg::Reply {
            tag: Tag::Held,
            result: Ok(Reply::Held(list)),
            ms: 1,
        },
    );
    update(&mut app, key(KeyCode::Char('A')));
    assert_eq!(app.review.marked.len(), super::screens::review::MAX_DECIDE);
    assert!(app.flash.as_deref().unwrap().contains("200 more shown"));
    update(&mut app, key(KeyCode::Char('a')));
    let s = draw(&app);
    assert!(s.contains("and 498 more (500 applications)"), "{s}");
    let acts = update(&mut app, key(KeyCode::Char('y')));
    let Action::Send(_, req) = &acts[0] else {
        panic!("{acts:?}")
    };
    let line = serde_json::to_string(req).unwrap();
    assert!(line.len() < crate::api::MAX_REQUEST / 2, "{}", line.len());
    let decided: Vec<DecisionView> = (1..=500)
        .map(|i| DecisionView {
            handle: format!("DEMO:{i}:A2"),
            decision: "approved".into(),
            license: Some(format!("AIM-2026-{i:07}-0")),
            reason: None,
            ack_name: format!("b{}.ack-2.xml", i % 4),
            ack_sequence: 2,
        })
        .collect();
    update(
        &mut app,
        Msg::Reply {
            tag: Tag::Action,
            result: Ok(Reply::Decided(decided)),
            ms: 9,
        },
    );
    let s = draw(&app);
    assert!(s.contains("500 decided: 500 approved"), "{s}");
    assert!(s.contains("4 follow-up acks"), "{s}");
}

#[test]
fn a_search_scrolled_down_is_read_again_where_it_is() {
    let mut app = connected("supervisor");
    app.screen = Screen::Browser;
    // A search (positions not exact) whose window starts at its row 101.
    app.browser.filter = crate::store::parse_query("sender=ACMEBRK").unwrap();
    let g = app.browser.generation;
    page_arrives(
        &mut app,
        g,
        PageKind::First,
        page(100, 30, Some(500), false),
    );
    app.browser.at_top = false;
    app.browser.start = Some(100);
    app.browser.selected = 7;
    let chosen = app.browser.selected_row().unwrap().license.clone();
    let acts = update(
        &mut app,
        Msg::Event(crate::api::Event::Changed {
            what: "cancellation".into(),
        }),
    );
    let (g, kind, q) = browse_sent(&acts).unwrap();
    assert_eq!(kind, PageKind::Anchor);
    assert!(q.backward && q.limit == 1);
    assert_eq!(q.after.as_deref(), Some(row(101).cursor.as_str()));
    // The row before the window: the window is read from just after it.
    let acts = page_arrives(&mut app, g, PageKind::Anchor, page(99, 1, None, false));
    let (g, kind, q) = browse_sent(&acts).unwrap();
    assert_eq!(kind, PageKind::RefreshAfter);
    assert_eq!(q.after.as_deref(), Some(row(100).cursor.as_str()));
    let mut p = page(100, 30, None, false);
    p.rows[7].status = "cancelled".into();
    page_arrives(&mut app, g, PageKind::RefreshAfter, p);
    assert_eq!(app.browser.start, Some(100), "where it was");
    assert_eq!(app.browser.position(), "row 108 of 500");
    let sel = app.browser.selected_row().unwrap();
    assert_eq!((&sel.license, sel.status.as_str()), (&chosen, "cancelled"));
}

#[test]
fn every_screen_draws_on_a_tiny_terminal_without_panicking() {
    let mut app = connected("supervisor");
    app.detail.license = Some(license_view());
    app.detail.receipt = Some(receipt_view());
    app.review.held = vec![held(1, "CN", "R502")];
    app.review.loaded = true;
    for (w, h) in [(20u16, 5u16), (40, 10), (1, 1), (79, 23)] {
        for s in Screen::ALL {
            let mut a = app.clone();
            a.screen = s;
            update(&mut a, Msg::Resize(w, h));
            update(&mut a, key(KeyCode::End));
            update(&mut a, key(KeyCode::Char('?')));
            let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
            t.draw(|f| render(&a, f)).unwrap();
            update(&mut a, key(KeyCode::Esc));
            t.draw(|f| render(&a, f)).unwrap();
        }
    }
}

#[test]
fn an_open_license_is_read_again_after_filings_at_most_once_a_second() {
    let mut app = connected("viewer");
    app.screen = Screen::Detail;
    app.detail.license = Some(license_view());
    app.detail.scroll = 5;
    for i in 0..20 {
        let acts = update(
            &mut app,
            Msg::Event(crate::api::Event::Filing(filing(i, "accepted"))),
        );
        assert!(acts.is_empty());
    }
    let acts = update(&mut app, Msg::Tick);
    let shows = acts
        .iter()
        .filter(|a| matches!(a, Action::Send(Tag::License, Request::LicenseShow { .. })))
        .count();
    assert_eq!(shows, 1, "{acts:?}");
    assert_eq!(app.detail.scroll, 5, "the place is kept");
}

/// Staff and public rows of the same cells, as the daemon answers them (one rule for both).
fn monitor_from(app: &mut App, cells: &[crate::store::StoredCell]) {
    update(
        app,
        Msg::Reply {
            tag: Tag::MonitorCells,
            result: Ok(Reply::Cells(crate::monitor::staff_rows(cells, None))),
            ms: 1,
        },
    );
    update(
        app,
        Msg::Reply {
            tag: Tag::MonitorExport,
            result: Ok(Reply::Monitor(crate::monitor::public_rows(cells, None))),
            ms: 1,
        },
    );
}

#[test]
#[allow(clippy::too_many_lines)] // a test that walks one scenario through
fn the_public_preview_shows_nothing_of_a_withheld_cell() {
    use crate::monitor::tests::filed;
    let three = |p: &'static str| {
        [
            (p, "Alpha Metals", 1),
            ("BETABRK", "Beta Alloys", 1),
            ("GAMMABRK", "Gamma Extrusions", 1),
        ]
    };
    let lone = [("DELTABRK", "Doha Rolled Products Inc", 1)];
    let cells = vec![
        // November: Qatar published (three importers).
        filed(
            "2026-11",
            "origin",
            "CA",
            &three("ACMEBRK"),
            800_000,
            2_400_000,
        ),
        filed("2026-11", "origin", "QA", &three("OTHERBRK"), 7_777, 23_331),
        // December: Qatar is one importer's, and the largest; Norway, the smallest
        // published cell, is withheld with it.
        filed(
            "2026-12",
            "origin",
            "CA",
            &three("ACMEBRK"),
            900_000,
            2_700_000,
        ),
        filed(
            "2026-12",
            "origin",
            "US",
            &three("ACMEBRK"),
            400_000,
            1_200_000,
        ),
        filed(
            "2026-12",
            "origin",
            "NO",
            &three("ACMEBRK"),
            300_000,
            900_000,
        ),
        filed("2026-12", "origin", "QA", &lone, 950_000, 2_850_000),
    ];
    let mut app = connected("supervisor");
    app.screen = Screen::Monitor;
    monitor_from(&mut app, &cells);
    // The monitor opens on cast; origin is the fifth dimension.
    while app.monitor.dimension_name() != "origin" {
        update(&mut app, key(KeyCode::Char('d')));
    }
    assert_eq!(app.monitor.month_name(), Some("2026-12"));
    let staff = draw(&app);
    assert!(
        staff.contains("CONFIDENTIAL") && staff.contains("950"),
        "{staff}"
    );

    update(&mut app, key(KeyCode::Char('p')));
    let export = crate::monitor::public_rows(&cells, Some("2026-12"));
    let withheld: Vec<&str> = export
        .iter()
        .filter(|r| r.is_suppressed())
        .map(|r| r.key.as_str())
        .collect();
    assert_eq!(withheld, ["NO", "QA"]);
    // The table: published rows by their own tons, then the (D) rows by key.
    let keys: Vec<&str> = app
        .monitor
        .shown_public()
        .iter()
        .map(|r| r.key.as_str())
        .collect();
    assert_eq!(keys, ["CA", "US", "NO", "QA"]);
    for s in [
        draw(&app),
        sizes_unsnapped(&app, 80, 24),
        sizes_unsnapped(&app, 160, 45),
    ] {
        assert!(s.contains("PUBLIC PREVIEW"), "{s}");
        // The public figures name no importers, so no such column either.
        assert!(!s.contains("importers"), "{s}");
        // Neither the figures nor a bar or its label of a withheld cell.
        for hidden in ["950", "300", "2,850,000", "900,000.00"] {
            assert!(!s.contains(hidden), "{hidden} shown:\n{s}");
        }
        assert_eq!(s.matches("QA").count(), 1, "the table's (D) row only:\n{s}");
        assert_eq!(s.matches("NO").count(), 1, "the table's (D) row only:\n{s}");
        assert!(s.matches("(D)").count() >= 8, "{s}");
    }
    // Keys named as the published site names them.
    let wide = sizes_unsnapped(&app, 160, 45);
    for name in ["Canada (CA)", "Qatar (QA)", "Norway (NO)"] {
        assert!(wide.contains(name), "{name} missing:\n{wide}");
    }
    // Qatar's trend: November's published tons, December a gap marked (D).
    app.monitor.selected = 3;
    assert_eq!(
        app.monitor.trend_public(),
        [
            ("2026-11".to_owned(), Some(7.777)),
            ("2026-12".to_owned(), None)
        ]
    );
    let s = draw(&app);
    assert!(s.contains("QA: 12 months") && !s.contains("950"), "{s}");
}

fn sizes_unsnapped(app: &App, w: u16, h: u16) -> String {
    let mut a = app.clone();
    update(&mut a, Msg::Resize(w, h));
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| render(&a, f)).unwrap();
    format!("{}", t.backend())
}

#[test]
fn publish_now_asks_first_and_says_where_it_went() {
    let mut app = connected("supervisor");
    app.screen = Screen::Monitor;
    update(&mut app, key(KeyCode::Char('P')));
    let Some(Modal::Confirm { action, .. }) = &app.modal else {
        panic!("{:?}", app.modal);
    };
    assert_eq!(*action, Pending::Publish);
    assert!(draw(&app).contains("Publish the public monitor now"));
    let acts = update(&mut app, key(KeyCode::Char('y')));
    assert!(
        matches!(
            acts.first(),
            Some(Action::Send(
                Tag::Action,
                Request::MonitorPublish { out: None }
            ))
        ),
        "{acts:?}"
    );
    update(
        &mut app,
        Msg::Reply {
            tag: Tag::Action,
            result: Ok(Reply::Published(crate::publish::Published {
                vintage: "2026-12-07T06-00-00Z".into(),
                dir: "var/public/2026-12-07T06-00-00Z".into(),
                files: 21,
                removed: vec![],
            })),
            ms: 5,
        },
    );
    assert!(
        matches!(&app.modal, Some(Modal::Message { text, error: false, .. }) if text.contains("var/public/2026-12-07T06-00-00Z")),
        "{:?}",
        app.modal
    );
    // A viewer is told the daemon will refuse it.
    let mut app = connected("viewer");
    app.screen = Screen::Monitor;
    update(&mut app, key(KeyCode::Char('P')));
    assert!(draw(&app).contains("refuse"), "{}", draw(&app));
}

#[test]
fn file_names_are_cut_in_the_middle_so_files_of_one_batch_differ() {
    use super::render::ellipsis_middle;
    let a = ellipsis_middle("demo-1796557133443734-000001.xml", 19);
    let b = ellipsis_middle("demo-1796557133443734-000002.xml", 19);
    assert_eq!(a, "demo-1…4-000001.xml");
    assert_ne!(a, b);
    assert_eq!(unicode_width::UnicodeWidthStr::width(a.as_str()), 19);
    // Whole where it fits; a plain cut where there is no room for both ends.
    assert_eq!(ellipsis_middle("short.xml", 19), "short.xml");
    assert_eq!(ellipsis_middle("abcdefgh", 4), "abc…");
    // Wide characters never overflow the column.
    let w = ellipsis_middle("報告書報告書報告書報告書.xml", 11);
    assert!(
        unicode_width::UnicodeWidthStr::width(w.as_str()) <= 11,
        "{w}"
    );
}

#[test]
fn at_80_columns_the_status_line_keeps_how_the_console_runs() {
    let mut app = connected("supervisor");
    app.mode_note = Some("daemon in this console; q stops both; logs in var/log".into());
    update(&mut app, Msg::Resize(80, 24));
    let mut t = Terminal::new(TestBackend::new(80, 24)).unwrap();
    t.draw(|f| render(&app, f)).unwrap();
    let s = format!("{}", t.backend());
    let status = s.lines().nth(1).unwrap();
    assert!(status.contains("q stops both"), "{status}");
}

#[test]
fn at_80_columns_the_empty_detail_says_whole_what_to_open() {
    let mut app = connected("viewer");
    update(&mut app, Msg::Resize(80, 24));
    app.screen = Screen::Detail;
    let mut t = Terminal::new(TestBackend::new(80, 24)).unwrap();
    t.draw(|f| render(&app, f)).unwrap();
    let s = format!("{}", t.backend());
    for whole in [
        "Nothing opened yet. Select one of these and press Enter:",
        "a filing on the Dashboard (1)",
        "an application under Review (6)",
    ] {
        assert!(s.contains(whole), "{whole}\n{s}");
    }
    assert!(!s.contains('…'), "{s}");
}

#[test]
fn a_key_pressed_on_an_outcome_closes_it_and_is_not_lost() {
    let mut app = connected("supervisor");
    let outcome = || Modal::Message {
        title: "Done".into(),
        text: "approved 3".into(),
        error: false,
    };
    app.modal = Some(outcome());
    update(&mut app, key(KeyCode::Char('4')));
    assert!(app.modal.is_none());
    assert_eq!(
        app.screen,
        Screen::Rejections,
        "the 4 went on to its screen"
    );
    // Enter only closes it: it opens nothing underneath.
    app.modal = Some(outcome());
    update(&mut app, key(KeyCode::Enter));
    assert!(app.modal.is_none());
    assert_eq!(app.screen, Screen::Rejections);
}

#[test]
fn a_settled_mail_reads_an_open_file_again_once_a_second() {
    let mut app = connected("supervisor");
    app.screen = Screen::Detail;
    app.detail.receipt = Some(receipt_view());
    for id in 0..30 {
        let acts = update(
            &mut app,
            Msg::Event(crate::api::Event::Mail {
                id,
                state: crate::store::MailState::Sent,
            }),
        );
        assert!(acts.is_empty(), "no request a message");
    }
    let acts = update(&mut app, Msg::Tick);
    let reads = acts
        .iter()
        .filter(|a| matches!(a, Action::Send(Tag::Receipt, Request::Receipt { .. })))
        .count();
    assert_eq!(reads, 1, "{acts:?}");
}
