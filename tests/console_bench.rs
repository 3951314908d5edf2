//! The console over 1,000,000 licenses: a measurement, not a timed test (ignored by default).
//!
//! ```text
//! cargo test --release --test console_bench -- --ignored --nocapture
//! ```
//!
//! Fills a store of 1,000,000 licenses through the store's own commit path (1,000 generated
//! files of 1,000 applications; kept in `AIM_BENCH_DIR`, default /tmp/aim-bench-1m, and reused),
//! starts the real `aim daemon` on it, then drives the console's own event loop on a
//! `TestBackend` with synthetic keys and reports: time to the first frame showing the count,
//! the search for one license, the slowest keypress-to-frame while scrolling; and the real
//! `aim console`'s peak RSS in tmux.
#![allow(
    clippy::unwrap_used,
    clippy::too_many_lines,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)] // Test code: a panic is the failure report, a scenario reads top to bottom.

use aim::console::app::{App, Screen};
use aim::filing::model::LicenseNumber;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const LICENSES: u64 = 1_000_000;

#[test]
#[ignore = "a benchmark: builds 1,000,000 licenses; run with --ignored --nocapture"]
fn console_over_a_million_licenses() {
    let dir = PathBuf::from(std::env::var("AIM_BENCH_DIR").unwrap_or("/tmp/aim-bench-1m".into()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("aim.toml");
    std::fs::write(
        &config,
        format!(
            "inbox = \"{0}/inbox\"\noutbox = \"{0}/outbox\"\ndata = \"{0}/var\"\n[[partner]]\nid = \"ACMEBRK\"\nname = \"Acme\"\nemails = [\"b@bench.example\"]\n[[staff]]\nuser = \"root\"\nrole = \"supervisor\"\n",
            dir.display()
        ),
    )
    .unwrap();
    let cfg = aim::config::Config::load(&config).unwrap();
    let day = chrono::Utc::now().date_naive();
    {
        let store = aim::store::Store::open(&dir.join("var/db")).unwrap();
        let have = store.license_sequence().unwrap();
        if have < LICENSES {
            let t = Instant::now();
            let files = ((LICENSES - have) / 1000) as usize;
            aim::generator::fill::commit_generated(
                &store,
                &aim::generator::fill::Generated {
                    cfg: &cfg,
                    sender: "ACMEBRK",
                    files,
                    apps_per_file: 1000,
                    day,
                    seed: have + 1,
                    mail_to: &[],
                },
            )
            .unwrap();
            eprintln!("filled {} licenses in {:?}", LICENSES - have, t.elapsed());
        }
        assert!(store.license_sequence().unwrap() >= LICENSES);
    }
    let mut daemon = Command::new(env!("CARGO_BIN_EXE_aim"))
        .args(["daemon", "--config"])
        .arg(&config)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let sock = dir.join("var/aim.sock");
    let deadline = Instant::now() + Duration::from_secs(120);
    while std::os::unix::net::UnixStream::connect(&sock).is_err() {
        assert!(Instant::now() < deadline, "the daemon did not start");
        std::thread::sleep(Duration::from_millis(50));
    }

    let target = LicenseNumber::new(
        u16::try_from(chrono::Datelike::year(&day)).unwrap(),
        (LICENSES / 2) as u32,
    )
    .to_string();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let report = rt.block_on(drive(sock.clone(), config.clone(), target.clone()));
    let rss = peak_rss_of_console(&config);
    let _ = Command::new("kill")
        .args(["-TERM", &daemon.id().to_string()])
        .status();
    let _ = daemon.wait();
    eprintln!(
        "first frame showing the count: {} ms",
        report.first_frame_ms
    );
    eprintln!(
        "search for {target}: {} ms (last key to the frame with that one row)",
        report.search_ms
    );
    eprintln!(
        "scrolling: {} keys, slowest keypress-to-frame {} ms, median {} ms",
        report.keys, report.slowest_ms, report.median_ms
    );
    eprintln!("aim console peak RSS (VmHWM): {} KiB", rss);
}

struct Report {
    first_frame_ms: u128,
    search_ms: u128,
    slowest_ms: u128,
    median_ms: u128,
    keys: usize,
}

enum Phase {
    WaitCount,
    Scroll {
        left: usize,
        sent: Option<(Instant, String)>,
    },
    Search {
        sent: Option<Instant>,
    },
    Done,
}

async fn drive(socket: PathBuf, config: PathBuf, target: String) -> Report {
    use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<std::io::Result<Event>>();
    let input =
        futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|e| (e, rx)) });
    let input = Box::pin(input);
    let k = |c: KeyCode| Ok(Event::Key(KeyEvent::new(c, KeyModifiers::NONE)));
    let mut terminal = ratatui::Terminal::new(ratatui::backend::TestBackend::new(160, 48)).unwrap();
    let t0 = Instant::now();
    let mut phase = Phase::WaitCount;
    let (mut first, mut search) = (0u128, 0u128);
    let mut lat: Vec<u128> = Vec::new();
    const SCROLL_KEYS: usize = 3000;
    let mut probe = |app: &App, now: Instant| -> bool {
        match &mut phase {
            Phase::WaitCount => {
                if app.browser.total == Some(LICENSES) && !app.browser.rows.is_empty() {
                    first = (now - t0).as_millis();
                    phase = Phase::Scroll {
                        left: SCROLL_KEYS,
                        sent: None,
                    };
                    let _ = tx.send(k(KeyCode::Down));
                    if let Phase::Scroll { sent, .. } = &mut phase {
                        *sent = Some((Instant::now(), app.browser.position()));
                    }
                }
            }
            Phase::Scroll { left, sent } => {
                if let Some((at, pos)) = sent.as_ref()
                    && app.browser.position() != *pos
                {
                    lat.push((now - *at).as_millis());
                    *left -= 1;
                    if *left == 0 {
                        let _ = tx.send(k(KeyCode::Char('/')));
                        for c in target.chars() {
                            let _ = tx.send(k(KeyCode::Char(c)));
                        }
                        phase = Phase::Search {
                            sent: Some(Instant::now()),
                        };
                        return true;
                    }
                    // Every tenth key a page at a time: the window is left often.
                    let code = if *left % 10 == 0 {
                        KeyCode::PageDown
                    } else {
                        KeyCode::Down
                    };
                    let p = app.browser.position();
                    let _ = tx.send(k(code));
                    *sent = Some((Instant::now(), p));
                }
            }
            Phase::Search { sent } => {
                if app.browser.rows.len() == 1
                    && app.browser.rows[0].license == target
                    && let Some(at) = sent.take()
                {
                    search = (now - at).as_millis();
                    phase = Phase::Done;
                    let _ = tx.send(k(KeyCode::Esc));
                    let _ = tx.send(k(KeyCode::Char('q')));
                }
            }
            Phase::Done => {}
        }
        true
    };
    let opts = aim::console::Options {
        socket,
        config,
        first_run_note: None,
        mode_note: None,
        start: Screen::Browser,
        zone: aim::console::app::Zone::Utc,
        daemon_ended: None,
    };
    aim::console::event_loop(&mut terminal, input, opts, Some(&mut probe))
        .await
        .unwrap();
    let keys = lat.len();
    let mut sorted = lat.clone();
    sorted.sort();
    Report {
        first_frame_ms: first,
        search_ms: search,
        slowest_ms: sorted.last().copied().unwrap_or(0),
        median_ms: sorted.get(keys / 2).copied().unwrap_or(0),
        keys,
    }
}

/// The real `aim console` in tmux: scrolled a while, its VmHWM.
fn peak_rss_of_console(config: &std::path::Path) -> u64 {
    let sock = format!("aim-bench-{}", std::process::id());
    let tmux = |args: &[&str]| {
        Command::new("tmux")
            .args(["-L", &sock])
            .args(args)
            .output()
            .unwrap()
    };
    let cmd = format!(
        "exec {} console --config {}",
        env!("CARGO_BIN_EXE_aim"),
        config.display()
    );
    tmux(&[
        "new-session",
        "-d",
        "-s",
        "b",
        "-x",
        "160",
        "-y",
        "48",
        &cmd,
    ]);
    std::thread::sleep(Duration::from_secs(2));
    tmux(&["send-keys", "-t", "b", "2"]);
    for _ in 0..300 {
        tmux(&["send-keys", "-t", "b", "PageDown"]);
    }
    tmux(&["send-keys", "-t", "b", "/"]);
    tmux(&["send-keys", "-t", "b", "-l", "country=CN"]);
    std::thread::sleep(Duration::from_secs(3));
    let pid = String::from_utf8_lossy(&tmux(&["display", "-p", "-t", "b", "#{pane_pid}"]).stdout)
        .trim()
        .to_owned();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    tmux(&["kill-server"]);
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}
