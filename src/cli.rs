//! The command line (spec section 8). `main.rs` only calls [`run`].

use crate::config::{DEFAULT_PATH, load_config};
use crate::validate;
use clap::{Parser, Subcommand};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "aim",
    version,
    about = "AIM aluminum import licensing gateway (19 CFR Part 361)",
    long_about = "AIM aluminum import licensing gateway (19 CFR Part 361).\n\n\
        `aim` alone runs the daemon and the staff console in one process on the configuration \
        (--config): the first-run default. Partners drop filings into <inbox>/<SenderId>/ \
        (inbox/DEMO/ on the shipped configuration); acknowledgements appear in \
        <outbox>/<SenderId>/; logs are written to <data>/log/aim.log.<day> (var/log/). \
        `q` in the console stops both after the file in hand. On a data folder where a daemon \
        already runs, it attaches to that daemon.",
    after_help = "Run `aim <COMMAND> --help` for the options of a command."
)]
pub struct Cli {
    /// Configuration file; with the default path absent, the built-in defaults apply.
    #[arg(long, global = true, default_value = DEFAULT_PATH, value_name = "FILE")]
    pub config: PathBuf,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the licensing daemon headless until SIGTERM/SIGINT.
    Daemon,
    /// The staff console in this terminal, attached to the running daemon (`?` lists the keys).
    Console,
    /// Counts of the day, the state of intake, queue health and the last errors of the
    /// running daemon.
    Status {
        /// One JSON object on stdout instead of text.
        #[arg(long)]
        json: bool,
        /// For monitoring: one line, and exit 0 ok, 1 warning (mail retrying, dead letters),
        /// 2 critical (intake paused, mail worker down, the daemon not answering).
        #[arg(long)]
        check: bool,
    },
    /// Applications held for review: list them, approve or reject them (reviewer).
    #[command(subcommand)]
    Review(crate::staff_cli::ReviewCommand),
    /// One license: its data and history; or cancel it (supervisor).
    #[command(subcommand)]
    License(crate::staff_cli::LicenseCommand),
    /// The audit log, newest first: who did what, when, with what outcome.
    Audit {
        /// Only the events about this license (AIM-YYYY-NNNNNNN-C).
        #[arg(long, value_name = "LICENSE")]
        license: Option<String>,
        /// At most this many events.
        #[arg(long, value_name = "N", default_value_t = 50, value_parser = parse_limit)]
        limit: usize,
        /// One JSON array on stdout instead of text.
        #[arg(long)]
        json: bool,
    },
    /// The public AIM monitor (suppressed cells as (D)).
    #[command(subcommand)]
    Monitor(crate::staff_cli::MonitorCommand),
    /// Check filings offline: the ack each would get, and its problems one per line.
    ///
    /// No daemon state is touched. Exit 0 when everything would be accepted, 1 when anything
    /// would be rejected, 2 when it could not run (a file unreadable or a folder, a bad
    /// configuration or argument).
    Validate {
        /// Day of filing the date rules count from (A320, A321, validity dates); with it,
        /// ReceivedAt is that day's midnight UTC, so the output is reproducible
        /// [default: today, UTC].
        #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_date)]
        today: Option<chrono::NaiveDate>,
        /// The partner whose inbox the files stand for: F004 checks that the file's SenderId is
        /// this partner. Default: each file's parent folder when its name is a registered
        /// partner's id; otherwise no inbox is assumed, F004 is not checked, and stderr says so.
        #[arg(long, value_name = "ID")]
        sender: Option<String>,
        /// Write each ack to DIR/<stem>.ack.xml (the folder is created; an ack already there is
        /// replaced) and print the problems and summaries on stdout.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// `text`: one line per problem (file:line:column: CODE message (path)) and one summary
        /// line per file, on stdout. `xml`: the ack XML on stdout (one after another for several
        /// files) and the text lines on stderr. Default: `text` when stdout is a terminal,
        /// `xml` otherwise (scripts get the ack, as the spec says).
        #[arg(long, value_enum, value_name = "FORMAT")]
        format: Option<Format>,
        /// The filing files to check (files, not folders), each read as the daemon would read
        /// it in an inbox: links are not followed, nothing is read past the size limit.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// Write valid, realistic sample filings (varied countries, HTS numbers, quantities).
    ///
    /// One line on stderr says how many were written, for whom and where.
    Gen {
        /// The partner the filings are from (their SenderId): 2 to 15 of A-Z and 0-9.
        #[arg(long, value_name = "ID")]
        sender: String,
        /// How many files to write.
        #[arg(long, value_name = "N", value_parser = parse_count)]
        count: usize,
        /// Applications in each file, 1 to 100000 (above the daemon's `max_applications`, 10000
        /// by default, a file is refused unless the limit is raised).
        #[arg(long, value_name = "K", default_value_t = 1, value_parser = parse_apps_per_file)]
        apps_per_file: usize,
        /// Folder to write into (created if needed). Files appear atomically (hidden temporary
        /// name, then renamed), so it may be a partner's inbox.
        #[arg(long, value_name = "DIR", default_value = ".")]
        out: PathBuf,
        /// Seed of the generator: the same seed and day give byte-identical files. Without it a
        /// seed is taken from the clock and printed, so each run writes new filings.
        #[arg(long, value_name = "S", value_parser = parse_seed)]
        seed: Option<u64>,
        /// Day the filings are made for: their dates are relative to it [default: today, UTC].
        #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_date)]
        today: Option<chrono::NaiveDate>,
    },
}

/// How `aim validate` reports.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Problem lines and a summary per file.
    Text,
    /// The ack XML (the text lines go to stderr).
    Xml,
}

/// A date on the command line: exactly `YYYY-MM-DD`, a real day of the calendar.
pub fn parse_date(s: &str) -> Result<chrono::NaiveDate, String> {
    let b = s.as_bytes();
    let shape = b.len() == 10
        && b.iter().enumerate().all(|(i, c)| {
            if i == 4 || i == 7 {
                *c == b'-'
            } else {
                c.is_ascii_digit()
            }
        });
    if !shape {
        return Err("expected a date as YYYY-MM-DD, such as 2026-11-28".into());
    }
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| {
        "no such day in the calendar: expected a date as YYYY-MM-DD, such as 2026-11-28".into()
    })
}

fn parse_whole(s: &str, min: u64, max: u64) -> Result<u64, String> {
    let expected = || format!("expected a whole number from {min} to {max}");
    if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) {
        return Err(expected());
    }
    match s.parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(expected()),
    }
}

/// A whole number within bounds, as a count (the bounds fit any `usize`).
fn parse_usize(s: &str, min: u64, max: u64) -> Result<usize, String> {
    parse_whole(s, min, max)
        .and_then(|n| usize::try_from(n).map_err(|_| format!("{n} is too large here")))
}

fn parse_count(s: &str) -> Result<usize, String> {
    parse_usize(s, 0, 100_000_000)
}

fn parse_apps_per_file(s: &str) -> Result<usize, String> {
    parse_usize(s, 1, 100_000)
}

fn parse_limit(s: &str) -> Result<usize, String> {
    parse_usize(s, 1, 10_000)
}

fn parse_seed(s: &str) -> Result<u64, String> {
    parse_whole(s, 0, u64::MAX)
}

/// Parse the command line and run it.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Validate {
            today,
            sender,
            out,
            format,
            files,
        }) => run_validate(&cli.config, today, sender.as_deref(), out, format, &files),
        Some(Command::Gen {
            sender,
            count,
            apps_per_file,
            out,
            seed,
            today,
        }) => run_gen(sender, count, apps_per_file, out, seed, today),
        Some(Command::Daemon) => run_daemon(&cli.config, false),
        Some(Command::Status { json, check }) => crate::staff_cli::status(&cli.config, json, check),
        Some(Command::Review(c)) => crate::staff_cli::review(&cli.config, c),
        Some(Command::License(c)) => crate::staff_cli::license(&cli.config, c),
        Some(Command::Audit {
            license,
            limit,
            json,
        }) => crate::staff_cli::audit(&cli.config, license, limit, json),
        Some(Command::Monitor(c)) => crate::staff_cli::monitor(&cli.config, c),
        Some(Command::Console) => crate::console::alone::attach(&cli.config),
        // The first-run default: the daemon and the console in one process.
        None => crate::console::alone::alone(&cli.config),
    }
}

fn run_daemon(config: &std::path::Path, status_line: bool) -> ExitCode {
    let cfg = match load_config(config) {
        Ok(c) => c,
        Err(code) => return code,
    };
    match crate::daemon::serve(cfg, status_line) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("aim: {e}");
            ExitCode::from(1)
        }
    }
}

fn run_validate(
    config: &std::path::Path,
    today: Option<chrono::NaiveDate>,
    sender: Option<&str>,
    out: Option<PathBuf>,
    format: Option<Format>,
    files: &[PathBuf],
) -> ExitCode {
    use crate::filing::codes::sanitize;
    use std::io::IsTerminal;
    let cfg = match load_config(config) {
        Ok(c) => c,
        Err(code) => return code,
    };
    // A folder is not a filing: say so before anything is written.
    let folders: Vec<&PathBuf> = files
        .iter()
        .filter(|f| std::fs::symlink_metadata(f).is_ok_and(|m| m.is_dir()))
        .collect();
    if !folders.is_empty() {
        for f in folders {
            eprintln!(
                "aim: {} is a folder: pass the filing files in it (for example {}/*.xml)",
                sanitize(&f.display().to_string()),
                sanitize(&f.display().to_string())
            );
        }
        return ExitCode::from(2);
    }
    if let Some(dir) = &out
        && let Err(e) = std::fs::create_dir_all(dir)
    {
        eprintln!(
            "aim: cannot create the output folder {}: {e}",
            sanitize(&dir.display().to_string())
        );
        return ExitCode::from(2);
    }
    let format = format.unwrap_or(if std::io::stdout().is_terminal() {
        Format::Text
    } else {
        Format::Xml
    });
    // XML on stdout only when asked for and not written to --out; the text report goes to
    // stdout unless the XML takes it.
    let xml_to_stdout = out.is_none() && format == Format::Xml;
    // A reader that goes away (`aim validate … | head -1`) ends the output quietly; the exit
    // code still says what the files would get.
    let stdout_gone = std::cell::Cell::new(false);
    let to_stdout = |bytes: &[u8]| -> Result<(), String> {
        if stdout_gone.get() {
            return Ok(());
        }
        let mut w = std::io::stdout().lock();
        match w.write_all(bytes).and_then(|()| w.flush()) {
            Ok(()) => Ok(()),
            Err(e) => {
                stdout_gone.set(true);
                if e.kind() == std::io::ErrorKind::BrokenPipe {
                    Ok(())
                } else {
                    Err(format!("cannot write to standard output: {e}"))
                }
            }
        }
    };
    let report = |line: &str| {
        if xml_to_stdout {
            eprintln!("{line}");
        } else if let Err(e) = to_stdout(format!("{line}\n").as_bytes()) {
            eprintln!("aim: {e}");
        }
    };
    let opts = validate::Options {
        config: &cfg,
        today: today.unwrap_or_else(|| chrono::Utc::now().date_naive()),
        fixed_time: today.is_some(),
        sender,
    };
    let (mut any_rejected, mut failed) = (false, false);
    let mut noted = std::collections::HashSet::new();
    for f in files {
        let shown = sanitize(&f.display().to_string());
        match validate::validate_file(f, &opts) {
            Ok(validate::Outcome::Ignored) => {
                eprintln!(
                    "aim: {shown}: an in-progress upload name (leading '.', or .part/.tmp/.filepart/~): the daemon does not read it until it is renamed",
                );
            }
            Ok(validate::Outcome::Ack {
                xml,
                rejected,
                ack,
                note,
            }) => {
                if let Some(note) = note
                    && noted.insert(f.parent().map(|p| p.to_path_buf()))
                {
                    eprintln!("aim: {shown}: {note}");
                }
                any_rejected |= rejected;
                let written = match &out {
                    Some(dir) => {
                        let p = validate::ack_path(dir, f);
                        std::fs::write(&p, &xml).map_err(|e| {
                            format!("cannot write {}: {e}", sanitize(&p.display().to_string()))
                        })
                    }
                    None if xml_to_stdout => to_stdout(&xml),
                    None => Ok(()),
                };
                for line in validate::problem_lines(&shown, &ack) {
                    report(&line);
                }
                report(&validate::summary_line(&shown, &ack));
                if let Err(e) = written {
                    eprintln!("aim: {e}");
                    failed = true;
                }
            }
            Err(e) => {
                eprintln!("aim: {shown}: cannot read the file: {e}");
                failed = true;
            }
        }
    }
    if failed {
        ExitCode::from(2)
    } else if any_rejected {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn run_gen(
    sender: String,
    count: usize,
    apps_per_file: usize,
    out: PathBuf,
    seed: Option<u64>,
    today: Option<chrono::NaiveDate>,
) -> ExitCode {
    let (seed, from_clock) = match seed {
        Some(s) => (s, false),
        None => (crate::generator::clock_seed(), true),
    };
    if !(2..=15).contains(&sender.len())
        || !sender
            .bytes()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
    {
        eprintln!("aim: --sender {sender:?} is not a partner id: use 2 to 15 of A-Z and 0-9");
        return ExitCode::from(2);
    }
    if let Err(e) = std::fs::create_dir_all(&out) {
        eprintln!("aim: cannot create {}: {e}", out.display());
        return ExitCode::from(2);
    }
    let opts = crate::generator::GenOptions {
        sender,
        count,
        apps_per_file,
        seed,
        today: today.unwrap_or_else(|| chrono::Utc::now().date_naive()),
    };
    let shown = crate::filing::codes::sanitize(&out.display().to_string());
    let mut written = 0usize;
    for f in crate::generator::generate(&opts) {
        // Hidden temporary name, then rename: a daemon watching `out` never reads half a file.
        let tmp = out.join(format!(".{}.tmp", f.name));
        let dst = out.join(&f.name);
        if let Err(e) = std::fs::write(&tmp, &f.bytes).and_then(|()| std::fs::rename(&tmp, &dst)) {
            eprintln!("aim: cannot write {}: {e}", dst.display());
            return ExitCode::from(2);
        }
        written += 1;
    }
    let apps = written * apps_per_file;
    eprintln!(
        "wrote {written} {} ({apps} {}) for {} into {shown}",
        if written == 1 { "filing" } else { "filings" },
        if apps == 1 {
            "application"
        } else {
            "applications"
        },
        opts.sender
    );
    if from_clock {
        eprintln!("seed {seed} (from the clock; --seed {seed} writes the same files again)");
    }
    ExitCode::SUCCESS
}
