//! The staff commands of spec section 9 (`aim status`, `review`, `license`, `audit`,
//! `monitor export`): each is one request over the control socket, printed as text for a
//! person or as one JSON document with `--json`. Exit 0 done, 1 refused or not found, 2 could
//! not run.

use crate::api::client::{self, ClientError};
use crate::api::views::{self, Reply};
use crate::api::{ApiError, Request};
use crate::config::{Config, load_config};
use crate::figures::grouped;
// The console's gate: control characters and bidirectional controls (a U+202E in an
// importer's name would make a line read backwards) never reach the terminal raw.
use crate::console::sanitize::clean as sanitize;
use clap::Subcommand;
use std::path::Path;
use std::process::ExitCode;

#[derive(Subcommand, Debug)]
pub enum ReviewCommand {
    /// The held applications, oldest first, with the R codes that hold them.
    List {
        /// One JSON array on stdout instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Approve held applications: each gets its license, answered in a follow-up ack.
    Approve {
        /// SENDER:CONTROL:APPLICATION, e.g. ACMEBRK:42:A1 (several at once allowed).
        #[arg(required = true, value_name = "HANDLE")]
        handles: Vec<String>,
        /// One JSON array on stdout instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Reject held applications (R590 with your reason, answered in a follow-up ack).
    Reject {
        /// SENDER:CONTROL:APPLICATION, e.g. ACMEBRK:42:A1 (several at once allowed).
        #[arg(required = true, value_name = "HANDLE")]
        handles: Vec<String>,
        /// What the filer should know or do, 1 to 200 characters: the filer reads it.
        #[arg(long, value_name = "TEXT")]
        reason: String,
        /// One JSON array on stdout instead of text.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum LicenseCommand {
    /// A license with every field, its products and its history.
    Show {
        /// AIM-YYYY-NNNNNNN-C
        #[arg(value_name = "LICENSE")]
        license: String,
        /// One JSON object on stdout instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Cancel a license (supervisor): it leaves the monitor, and the filer gets a follow-up
    /// ack and mail.
    Cancel {
        /// AIM-YYYY-NNNNNNN-C
        #[arg(value_name = "LICENSE")]
        license: String,
        /// Why, 1 to 200 characters: recorded in the license's history and the audit log.
        #[arg(long, value_name = "TEXT")]
        reason: String,
        /// One JSON object on stdout instead of text.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum MonitorCommand {
    /// Print the public monitor: through the running daemon, or from the store when none runs.
    Export {
        /// `csv` (columns month,dimension,key,licenses,metric_tons,value_usd,
        /// unit_value_usd_per_mt) or `json` (an array of objects with those keys).
        #[arg(long, value_enum, default_value = "csv")]
        format: ExportFormat,
        /// Only this month of expected import, YYYY-MM.
        #[arg(long, value_name = "YYYY-MM", value_parser = parse_month)]
        month: Option<String>,
    },
    /// Publish the public monitor as a static site: DIR/<vintage>/, then DIR/current points
    /// at it. Through the running daemon (supervisor), or from the store when none runs.
    Publish {
        /// Where to publish (default: [monitor] publish_dir).
        #[arg(long, value_name = "DIR")]
        out: Option<std::path::PathBuf>,
    },
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportFormat {
    Csv,
    Json,
}

fn parse_month(s: &str) -> Result<String, String> {
    if crate::monitor::is_month(s) {
        Ok(s.to_owned())
    } else {
        Err("expected a month as YYYY-MM, such as 2026-12".into())
    }
}

/// Run one request; print errors the way the commands do; the exit code on failure.
fn ask(config: &Path, request: Request) -> Result<(Config, Reply), ExitCode> {
    let cfg = load_config(config)?;
    match client::one_request(&cfg, config, request) {
        Ok(r) => Ok((cfg, r)),
        Err(e) => Err(fail(&e)),
    }
}

fn fail(e: &ClientError) -> ExitCode {
    let what = match e {
        ClientError::Api(ApiError { kind, .. }) => match kind {
            crate::api::ErrorKind::Refused => "refused: ",
            crate::api::ErrorKind::NotFound => "not found: ",
            _ => "",
        },
        _ => "",
    };
    eprintln!("aim: {what}{}", sanitize(&e.to_string()));
    ExitCode::from(e.exit_code())
}

/// A line of a command's output, gathered before it is written (see [`emit`]).
macro_rules! out {
    ($o:expr) => {{
        $o.push('\n');
    }};
    ($o:expr, $($t:tt)*) => {{
        use std::fmt::Write as _;
        let _ = writeln!($o, $($t)*);
    }};
}

/// Write a command's whole output. A reader that went away (`aim status | head -1`, `| true`)
/// is not an error: the command ends quietly, exit 0, instead of panicking.
fn emit(text: &str) -> ExitCode {
    use std::io::Write;
    let mut w = std::io::stdout().lock();
    match w.write_all(text.as_bytes()).and_then(|()| w.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("aim: cannot write to standard output: {e}");
            ExitCode::from(2)
        }
    }
}

fn print_json<T: serde::Serialize>(v: &T) -> ExitCode {
    match serde_json::to_string_pretty(v) {
        Ok(s) => emit(&format!("{s}\n")),
        Err(e) => {
            eprintln!("aim: cannot print JSON: {e}");
            ExitCode::from(2)
        }
    }
}

fn unexpected(r: &Reply) -> ExitCode {
    eprintln!(
        "aim: the daemon answered with something else than asked ({r:?}); is it the same version?"
    );
    ExitCode::from(2)
}

pub fn status(config: &Path, json: bool, check: bool) -> ExitCode {
    if check {
        return status_check(config, json);
    }
    let (_, r) = match ask(config, Request::Status) {
        Ok(x) => x,
        Err(c) => return c,
    };
    let Reply::Status(s) = r else {
        return unexpected(&r);
    };
    if json {
        return print_json(&s);
    }
    let mut o = String::new();
    out!(
        o,
        "AIM daemon {} running since {}",
        s.version,
        s.started_at.format("%Y-%m-%d %H:%M:%SZ")
    );
    out!(o, "Today ({}, UTC)", s.day);
    out!(
        o,
        "  files received       {:>8}   rejected files {:>6}",
        s.files_today,
        s.files_rejected_today
    );
    out!(o, "  applications         {:>8}", s.applications_today);
    out!(o, "  licenses issued      {:>8}", s.licenses_issued_today);
    out!(o, "  applications rejected{:>8}", s.rejected_today);
    out!(o, "  held for review      {:>8}", s.held_today);
    out!(o, "Pending review         {:>8}", s.pending_review);
    out!(o, "Licenses on record     {:>8}", s.licenses_on_record);
    out!(
        o,
        "Intake                 {}",
        if s.intake_paused { "paused" } else { "running" }
    );
    out!(
        o,
        "Mail                   {:>8} queued, {} retrying, {} dead",
        s.mail_queued,
        s.mail_retrying,
        s.mail_dead
    );
    if s.problems.is_empty() {
        out!(o, "Health                 ok");
    } else {
        for p in &s.problems {
            out!(o, "Problem: {}", sanitize(p));
        }
    }
    if !s.last_errors.is_empty() {
        out!(o, "Last errors:");
        for e in s.last_errors.iter().take(5) {
            out!(o, "  {}", sanitize(e));
        }
    }
    emit(&o)
}

/// `aim status --check`: one line for a monitoring system and the exit code of its level
/// (0 ok, 1 warning, 2 critical); a daemon that cannot be asked is critical. With `--json`,
/// `{"level": …, "reasons": […]}` instead of the line.
fn status_check(config: &Path, json: bool) -> ExitCode {
    use crate::service::level::{Level, assess_status};
    let answer = match load_config(config) {
        Ok(cfg) => client::one_request(&cfg, config, Request::Status)
            .map_err(|e| format!("cannot ask the daemon: {e}")),
        Err(_) => Err("the configuration cannot be read (see above)".to_owned()),
    };
    let (level, reasons) = match answer {
        Ok(Reply::Status(s)) => {
            let a = assess_status(&s);
            (a.level, a.reasons)
        }
        Ok(r) => (
            Level::Critical,
            vec![format!(
                "the daemon answered something else than asked ({r:?})"
            )],
        ),
        Err(why) => (Level::Critical, vec![why]),
    };
    let line = if json {
        serde_json::json!({
            "level": level.name().to_ascii_lowercase(),
            "reasons": reasons,
        })
        .to_string()
    } else if reasons.is_empty() {
        "AIM OK: intake running, mail worker running".to_owned()
    } else {
        let text: Vec<String> = reasons.iter().map(|r| sanitize(r)).collect();
        format!("AIM {}: {}", level.name(), text.join("; "))
    };
    // A reader that went away still gets the level as the exit code.
    let _ = emit(&format!("{line}\n"));
    ExitCode::from(level as u8)
}

pub fn review(config: &Path, c: ReviewCommand) -> ExitCode {
    let (req, json) = match c {
        ReviewCommand::List { json } => (Request::ReviewList, json),
        ReviewCommand::Approve { handles, json } => (Request::ReviewApprove { handles }, json),
        ReviewCommand::Reject {
            handles,
            reason,
            json,
        } => (Request::ReviewReject { handles, reason }, json),
    };
    let (_, r) = match ask(config, req) {
        Ok(x) => x,
        Err(c) => return c,
    };
    match r {
        Reply::Held(list) if json => print_json(&list),
        Reply::Held(list) => {
            let mut o = String::new();
            if list.is_empty() {
                out!(o, "No application is held for review.");
            }
            for h in &list {
                out!(
                    o,
                    "{}  {}  {}  {}  {}",
                    sanitize(&h.handle),
                    h.received_at.format("%Y-%m-%d %H:%M:%SZ"),
                    h.reasons.join(","),
                    sanitize(&h.file_name),
                    sanitize(h.importer.as_deref().unwrap_or(""))
                );
                for d in &h.details {
                    out!(
                        o,
                        "    {} {}: {}",
                        d.code,
                        sanitize(&d.path),
                        sanitize(&d.detail)
                    );
                }
            }
            emit(&o)
        }
        Reply::Decided(list) if json => print_json(&list),
        Reply::Decided(list) => {
            let mut o = String::new();
            for d in &list {
                match (&d.license, &d.reason) {
                    (Some(l), _) => out!(
                        o,
                        "{}: approved, license {l}; answered in {}",
                        d.handle,
                        sanitize(&d.ack_name)
                    ),
                    (None, reason) => out!(
                        o,
                        "{}: rejected (R590: {}); answered in {}",
                        d.handle,
                        sanitize(reason.as_deref().unwrap_or("")),
                        sanitize(&d.ack_name)
                    ),
                }
            }
            emit(&o)
        }
        other => unexpected(&other),
    }
}

fn print_license(o: &mut String, l: &views::LicenseView) {
    let s = |t: &str| sanitize(t);
    out!(o, "{}  {}", l.license, l.status);
    out!(o, "  sender        {}", s(&l.sender));
    out!(
        o,
        "  valid         {} through {}",
        l.valid_from,
        l.valid_through
    );
    out!(o, "  importer      {}", s(&l.importer));
    out!(o, "  exporter      {}", s(&l.exporter));
    out!(o, "  manufacturers {}", s(&l.manufacturers.join("; ")));
    out!(
        o,
        "  entry         {} {}",
        l.entry_type,
        l.entry_number.as_deref().unwrap_or("(no entry number)")
    );
    out!(
        o,
        "  origin        {}   exported from {}",
        l.country_of_origin,
        l.country_of_exportation
    );
    out!(
        o,
        "  export/import {} / {}   port {}",
        l.expected_export_date,
        l.expected_import_date,
        s(&l.port_of_entry)
    );
    out!(
        o,
        "  filer         {}, {} <{}>",
        s(&l.filer_company),
        s(&l.filer_contact),
        s(&l.filer_email)
    );
    out!(o, "  total value   USD {}", grouped(&l.total_value_usd));
    out!(o, "  products:");
    for p in &l.products {
        out!(
            o,
            "    {:>3}  {}  {}  smelt {}/{}  cast {}  {} kg  USD {}  {} USD/t  {}",
            p.line,
            p.hts,
            s(&p.category),
            p.largest_smelt,
            p.second_largest_smelt,
            p.most_recent_cast,
            grouped(&p.quantity_kg),
            grouped(&p.value_usd),
            grouped(&p.unit_value_usd_per_mt),
            s(&p.description)
        );
    }
    out!(o, "  history:");
    for h in &l.history {
        out!(
            o,
            "    {}  {:<9}  by {}{}",
            h.at.format("%Y-%m-%d %H:%M:%SZ"),
            h.action.as_str(),
            s(&h.by),
            h.reason
                .as_deref()
                .map(|r| format!(": {}", s(r)))
                .unwrap_or_default()
        );
    }
}

pub fn license(config: &Path, c: LicenseCommand) -> ExitCode {
    let (req, json) = match c {
        LicenseCommand::Show { license, json } => (Request::LicenseShow { license }, json),
        LicenseCommand::Cancel {
            license,
            reason,
            json,
        } => (Request::LicenseCancel { license, reason }, json),
    };
    let (_, r) = match ask(config, req) {
        Ok(x) => x,
        Err(c) => return c,
    };
    match r {
        Reply::License(l) if json => print_json(&l),
        Reply::License(l) => {
            let mut o = String::new();
            print_license(&mut o, &l);
            emit(&o)
        }
        Reply::Cancelled(c) if json => print_json(&c),
        Reply::Cancelled(c) => {
            let mut o = String::new();
            out!(
                o,
                "{} cancelled; the filer is answered in {} (AckSequence {})",
                c.license,
                sanitize(&c.ack_name),
                c.ack_sequence
            );
            emit(&o)
        }
        other => unexpected(&other),
    }
}

pub fn audit(config: &Path, license: Option<String>, limit: usize, json: bool) -> ExitCode {
    let (_, r) = match ask(config, Request::Audit { license, limit }) {
        Ok(x) => x,
        Err(c) => return c,
    };
    let Reply::Audit(list) = r else {
        return unexpected(&r);
    };
    if json {
        return print_json(&list);
    }
    let mut o = String::new();
    for e in &list {
        out!(
            o,
            "{}  {:<10} {:<10} {:<8} {}  {}",
            e.at.format("%Y-%m-%d %H:%M:%SZ"),
            sanitize(&e.actor),
            e.action.as_str(),
            e.outcome.as_str(),
            sanitize(&e.subject),
            sanitize(&e.detail)
        );
    }
    emit(&o)
}

pub fn monitor(config: &Path, c: MonitorCommand) -> ExitCode {
    let (format, month) = match c {
        MonitorCommand::Export { format, month } => (format, month),
        MonitorCommand::Publish { out } => return publish(config, out.as_deref()),
    };
    let cfg = match load_config(config) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let rows = match client::one_request(
        &cfg,
        config,
        Request::MonitorExport {
            month: month.clone(),
        },
    ) {
        Ok(Reply::Monitor(rows)) => rows,
        Ok(other) => return unexpected(&other),
        // No daemon: read the store itself (holding the data folder's lock meanwhile).
        Err(ClientError::NoDaemon { .. }) => match export_offline(&cfg, month.as_deref()) {
            Ok(rows) => rows,
            Err(e) => {
                eprintln!("aim: {e}");
                return ExitCode::from(2);
            }
        },
        Err(e) => return fail(&e),
    };
    let text = match format {
        ExportFormat::Csv => crate::monitor::to_csv(&rows),
        ExportFormat::Json => crate::monitor::to_json(&rows),
    };
    emit(&text)
}

fn export_offline(cfg: &Config, month: Option<&str>) -> Result<Vec<crate::monitor::Row>, String> {
    let data = crate::daemon::DataDir {
        root: cfg.data.clone(),
    };
    if !data.db().exists() {
        // Nothing was ever stored: an empty monitor, and nothing created.
        return Ok(Vec::new());
    }
    let _lock = crate::daemon::lock_data(&data).map_err(|e| e.to_string())?;
    let store = crate::store::Store::open(&data.db()).map_err(|e| e.to_string())?;
    let cells = store
        .cells(month.unwrap_or(""))
        .map_err(|e| e.to_string())?;
    Ok(crate::monitor::public_rows(&cells, month))
}

/// `aim monitor publish`: through the daemon when one runs (it audits it), else from the store.
fn publish(config: &Path, out: Option<&Path>) -> ExitCode {
    let cfg = match load_config(config) {
        Ok(c) => c,
        Err(code) => return code,
    };
    // The daemon runs elsewhere: a relative folder is taken from here.
    let out = match out.map(std::path::absolute).transpose() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("aim: cannot resolve --out: {e}");
            return ExitCode::from(2);
        }
    };
    let request = Request::MonitorPublish {
        out: out.as_ref().map(|p| p.display().to_string()),
    };
    let published = match client::one_request(&cfg, config, request) {
        Ok(Reply::Published(p)) => p,
        Ok(other) => return unexpected(&other),
        Err(ClientError::NoDaemon { .. }) => match publish_offline(&cfg, out.as_deref()) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("aim: {}", sanitize(&e));
                return ExitCode::from(2);
            }
        },
        Err(e) => return fail(&e),
    };
    println!(
        "published {} ({} files); {} now points at it",
        sanitize(&published.dir),
        published.files,
        crate::publish::CURRENT
    );
    for r in &published.removed {
        println!("removed the older publication {}", sanitize(r));
    }
    ExitCode::SUCCESS
}

fn publish_offline(cfg: &Config, out: Option<&Path>) -> Result<crate::publish::Published, String> {
    let data = crate::daemon::DataDir {
        root: cfg.data.clone(),
    };
    let cells = if data.db().exists() {
        let _lock = crate::daemon::lock_data(&data).map_err(|e| e.to_string())?;
        let store = crate::store::Store::open(&data.db()).map_err(|e| e.to_string())?;
        store.cells("").map_err(|e| e.to_string())?
    } else {
        // Nothing was ever stored: an empty monitor, and no database created.
        Vec::new()
    };
    let dir = crate::publish::out_dir(cfg, out);
    crate::publish::publish(
        &cells,
        chrono::Utc::now(),
        &dir,
        cfg.monitor.keep_publications,
        &crate::publish::cadence(cfg.monitor.schedule()),
    )
    .map_err(|e| e.to_string())
}
