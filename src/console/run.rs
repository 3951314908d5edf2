//! The runner: `tokio::select!` over terminal input, a one-second tick and the daemon's
//! replies and live events; each message goes through `update`, each action becomes a request
//! on its own task, and one frame is drawn per batch of messages. A lost daemon is reported
//! and reconnected by itself (`client::reconnect`), then every view is refreshed.

use super::app::{App, Screen};
use super::render::render;
use super::update::{Action, Msg, update};
use crate::api::client::{self, Client, ClientError};
use crate::api::views::Reply;
use crate::api::{Request, views::HelloView};
use futures_util::{Stream, StreamExt};
use ratatui::Terminal;
use ratatui::backend::Backend;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// How the console starts.
#[derive(Clone, Debug)]
pub struct Options {
    pub socket: PathBuf,
    pub config: PathBuf,
    pub first_run_note: Option<String>,
    pub mode_note: Option<String>,
    pub start: Screen,
    /// The zone times are shown in (`t` switches to UTC).
    pub zone: super::app::Zone,
    /// Cancelled when the daemon this console runs beside (`aim` alone) stops: the console
    /// ends too instead of waiting for a daemon that will not come back.
    pub daemon_ended: Option<crate::daemon::Shutdown>,
}

/// Called after every frame (benchmarks and tests): the state drawn and when.
pub type Probe<'a> = &'a mut dyn FnMut(&App, Instant) -> bool;

enum In {
    App(Msg),
    Connected {
        client: Arc<Client>,
        hello: HelloView,
        epoch: u64,
    },
    Lost {
        epoch: u64,
        why: String,
    },
    /// A try to connect failed; another follows.
    Waiting {
        epoch: u64,
        why: String,
    },
}

fn connect(tx: mpsc::UnboundedSender<In>, opts: &Options, epoch: u64, first: bool) {
    let (socket, config) = (opts.socket.clone(), opts.config.clone());
    tokio::spawn(async move {
        if !first {
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        // A daemon restarting: keep trying for a day, twice a second, saying why (each new
        // reason once).
        let mut said = String::new();
        let waiting = tx.clone();
        let c = match client::reconnect(
            &socket,
            &config,
            Duration::from_millis(500),
            Duration::from_secs(86_400),
            |e| {
                let why = e.to_string();
                if why != said {
                    let _ = waiting.send(In::Waiting {
                        epoch,
                        why: why.clone(),
                    });
                    said = why;
                }
            },
        )
        .await
        {
            Ok(c) => Arc::new(c),
            Err(e) => {
                let _ = tx.send(In::Lost {
                    epoch,
                    why: e.to_string(),
                });
                return;
            }
        };
        let hello = match c.request(Request::Hello).await {
            Ok(Reply::Hello(h)) => h,
            Ok(_) => return,
            Err(e) => {
                let _ = tx.send(In::Lost {
                    epoch,
                    why: e.to_string(),
                });
                return;
            }
        };
        if let Err(e) = c.request(Request::Subscribe).await {
            let _ = tx.send(In::Lost {
                epoch,
                why: e.to_string(),
            });
            return;
        }
        let events = Arc::clone(&c);
        let _ = tx.send(In::Connected {
            client: c,
            hello,
            epoch,
        });
        loop {
            match events.next_event().await {
                Some(e) => {
                    if tx.send(In::App(Msg::Event(e))).is_err() {
                        return;
                    }
                }
                None => {
                    let _ = tx.send(In::Lost {
                        epoch,
                        why: "the daemon closed the connection".into(),
                    });
                    return;
                }
            }
        }
    });
}

/// Run the console on `terminal` with `input` until `q`.
#[allow(clippy::too_many_lines)] // the one select! over every source of the loop; split, its order is harder to follow
pub async fn event_loop<B: Backend, S>(
    terminal: &mut Terminal<B>,
    mut input: S,
    opts: Options,
    mut probe: Option<Probe<'_>>,
) -> std::io::Result<()>
where
    S: Stream<Item = std::io::Result<crossterm::event::Event>> + Unpin,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let size = terminal.size().map_err(std::io::Error::other)?;
    let mut app = App::new(size.height, size.width);
    app.zone = opts.zone;
    app.first_run_note = opts.first_run_note.clone();
    app.mode_note = opts.mode_note.clone();
    app.screen = opts.start;
    let (tx, mut rx) = mpsc::unbounded_channel::<In>();
    let mut epoch = 0u64;
    let mut client: Option<Arc<Client>> = None;
    connect(tx.clone(), &opts, epoch, true);
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    terminal
        .draw(|f| render(&app, f))
        .map_err(std::io::Error::other)?;
    loop {
        let first = tokio::select! {
            ev = input.next() => match ev {
                Some(Ok(crossterm::event::Event::Key(k))) => In::App(Msg::Key(k)),
                Some(Ok(crossterm::event::Event::Resize(w, h))) => In::App(Msg::Resize(w, h)),
                Some(Ok(crossterm::event::Event::Mouse(m))) => In::App(Msg::Mouse(m)),
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(e),
                None => return Ok(()),
            },
            _ = tick.tick() => {
                if opts
                    .daemon_ended
                    .as_ref()
                    .is_some_and(|e| e.is_cancelled())
                {
                    return Ok(());
                }
                In::App(Msg::Tick)
            }
            m = rx.recv() => match m {
                Some(m) => m,
                None => return Ok(()),
            },
        };
        let mut batch = vec![first];
        while batch.len() < 64 {
            match rx.try_recv() {
                Ok(m) => batch.push(m),
                Err(_) => break,
            }
        }
        for m in batch {
            let msg = match m {
                In::App(m) => m,
                In::Connected {
                    client: c,
                    hello,
                    epoch: e,
                } if e == epoch => {
                    client = Some(c);
                    Msg::Connected(hello)
                }
                In::Connected { .. } => continue,
                In::Lost { epoch: e, why } if e == epoch => {
                    client = None;
                    epoch += 1;
                    connect(tx.clone(), &opts, epoch, false);
                    Msg::Lost(why)
                }
                In::Lost { .. } => continue,
                In::Waiting { epoch: e, why } if e == epoch => Msg::Waiting(why),
                In::Waiting { .. } => continue,
            };
            for action in update(&mut app, msg) {
                match action {
                    Action::Quit => return Ok(()),
                    Action::Export(q) => match &client {
                        Some(c) => {
                            let (c, tx) = (Arc::clone(c), tx.clone());
                            tokio::spawn(async move {
                                let r = export(&c, q).await;
                                let _ = tx.send(In::App(Msg::Exported(r)));
                            });
                        }
                        None => {
                            let _ = tx.send(In::App(Msg::Exported(Err(
                                "not connected to the daemon: try again when it is back".into(),
                            ))));
                        }
                    },
                    Action::Send(tag, req) => match &client {
                        Some(c) => {
                            let (c, tx, ep) = (Arc::clone(c), tx.clone(), epoch);
                            tokio::spawn(async move {
                                let t0 = Instant::now();
                                let r = c.request(req).await;
                                let ms = t0.elapsed().as_millis();
                                let m = match r {
                                    Ok(reply) => In::App(Msg::Reply {
                                        tag,
                                        result: Ok(reply),
                                        ms,
                                    }),
                                    Err(ClientError::Lost(why)) => In::Lost { epoch: ep, why },
                                    Err(e) => In::App(Msg::Reply {
                                        tag,
                                        result: Err(e.to_string()),
                                        ms,
                                    }),
                                };
                                let _ = tx.send(m);
                            });
                        }
                        None => {
                            if tag == super::update::Tag::Action {
                                let _ = tx.send(In::App(Msg::Reply {
                                    tag,
                                    result: Err("not connected to the daemon: reconnecting by itself; try again when it is back".into()),
                                    ms: 0,
                                }));
                            }
                        }
                    },
                }
            }
        }
        terminal
            .draw(|f| render(&app, f))
            .map_err(std::io::Error::other)?;
        if let Some(p) = probe.as_mut()
            && !p(&app, Instant::now())
        {
            return Ok(());
        }
    }
}

/// The console in this terminal: raw mode and the alternate screen, restored on exit and on
/// panic (`ratatui::init` installs the hook).
pub fn run(opts: Options) -> std::io::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    rt.block_on(async {
        let mut terminal = ratatui::try_init()?;
        // Clicks on tabs and rows, the wheel (k9s, gitui, lazygit do the same).
        crossterm::execute!(std::io::stdout(), crossterm::event::EnableMouseCapture)?;
        let r = event_loop(
            &mut terminal,
            crossterm::event::EventStream::new(),
            opts,
            None,
        )
        .await;
        // Also when the loop ended for another reason (the daemon stopped on the hangup's
        // SIGHUP): the first write says whether the terminal is still there.
        let unmouse = crossterm::execute!(std::io::stdout(), crossterm::event::DisableMouseCapture);
        if r.as_ref().is_err_and(terminal_gone) || unmouse.as_ref().is_err_and(terminal_gone) {
            // The terminal hung up (closed window, dropped SSH): nothing can be drawn or said
            // there any more, and the standard library's print macros (ratatui's teardown uses
            // them) panic on a write that fails, which would end the process before the daemon
            // it runs stops cleanly. What is left to say goes nowhere; the log has it.
            if let Ok(null) = std::fs::OpenOptions::new().write(true).open("/dev/null") {
                let _ = rustix::stdio::dup2_stdout(&null);
                let _ = rustix::stdio::dup2_stderr(&null);
            }
            tracing::info!("the console's terminal is gone: the console ends");
        }
        ratatui::restore();
        r
    })
}

/// An error that says the terminal itself is gone (EIO, ENXIO after a hangup).
pub(crate) fn terminal_gone(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(5 | 6))
}

/// Every row of `q` into a CSV file in the current folder, page by page (at most 1,000 rows
/// a request): the file's absolute path and the rows written.
async fn export(c: &Client, mut q: crate::store::BrowseQuery) -> Result<(String, u64), String> {
    let name = format!(
        "aim-licenses-{}.csv",
        chrono::Utc::now().format("%Y%m%d-%H%M%S")
    );
    let path = std::env::current_dir()
        .map_err(|e| format!("cannot tell the current folder: {e}"))?
        .join(name);
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    let mut w = csv::Writer::from_writer(std::io::BufWriter::new(file));
    let fail = |e: &dyn std::fmt::Display| format!("cannot write {}: {e}", path.display());
    w.write_record([
        "license",
        "status",
        "sender",
        "importer",
        "entry_number",
        "country_of_origin",
        "valid_from",
        "hts",
        "products",
        "total_value_usd",
    ])
    .map_err(|e| fail(&e))?;
    let mut n = 0u64;
    q.limit = q.limit.clamp(1, 1000);
    loop {
        let page = match c.request(Request::Browse(Box::new(q.clone()))).await {
            Ok(Reply::Page(p)) => p,
            Ok(_) => return Err("the daemon answered the export with something else".into()),
            Err(e) => return Err(format!("export stopped after {n} rows: {e}")),
        };
        for r in &page.rows {
            w.write_record([
                r.license.as_str(),
                r.status.as_str(),
                r.sender.as_str(),
                &csv_text(&r.importer),
                &csv_text(r.entry_number.as_deref().unwrap_or("")),
                r.country_of_origin.as_str(),
                &r.valid_from.to_string(),
                r.hts.as_str(),
                &r.products.to_string(),
                r.total_value_usd.as_str(),
            ])
            .map_err(|e| fail(&e))?;
            n += 1;
        }
        let next = page
            .resume
            .clone()
            .or_else(|| page.rows.last().map(|r| r.cursor.clone()));
        if page.at_end && page.resume.is_none() || next.is_none() {
            break;
        }
        q.after = next;
    }
    w.flush().map_err(|e| fail(&e))?;
    Ok((path.display().to_string(), n))
}

/// Filer-written text as a CSV cell a spreadsheet shows as text: a leading `=`, `+`, `-` or
/// `@` would start a formula (`=HYPERLINK(…)` in an importer's name), so it gets a `'` first.
pub fn csv_text(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@']) {
        format!("'{s}")
    } else {
        s.to_owned()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn filer_text_never_starts_a_spreadsheet_formula() {
        assert_eq!(super::csv_text("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(super::csv_text("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(
            super::csv_text("Northwind Metals Inc"),
            "Northwind Metals Inc"
        );
    }
}
