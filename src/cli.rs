//! The command line (spec section 8). `main.rs` only calls [`run`].

use crate::config::{Config, DEFAULT_PATH};
use crate::validate;
use clap::{Parser, Subcommand};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "aim",
    version,
    about = "AIM aluminum import licensing gateway (19 CFR Part 361)"
)]
pub struct Cli {
    /// Configuration file; with the default path absent, the built-in defaults apply.
    #[arg(long, global = true, default_value = DEFAULT_PATH)]
    pub config: PathBuf,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the licensing daemon headless until SIGTERM/SIGINT.
    Daemon,
    /// Check filings offline and write the ack each would get (no daemon state is touched).
    Validate {
        /// Day of filing, YYYY-MM-DD (default: today, UTC).
        #[arg(long)]
        today: Option<chrono::NaiveDate>,
        /// The partner whose inbox the files stand for (default: each file's parent folder).
        #[arg(long)]
        sender: Option<String>,
        /// Write `<stem>.ack.xml` files here instead of printing the ack.
        #[arg(long)]
        out: Option<PathBuf>,
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Write valid, realistic sample filings.
    Gen {
        #[arg(long)]
        sender: String,
        #[arg(long)]
        count: usize,
        #[arg(long, default_value_t = 1)]
        apps_per_file: usize,
        /// Folder to write into (default: the current folder).
        #[arg(long, default_value = ".")]
        out: PathBuf,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Day the filings are made for (default: today, UTC).
        #[arg(long)]
        today: Option<chrono::NaiveDate>,
    },
}

/// Parse the command line and run it.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Validate {
            today,
            sender,
            out,
            files,
        }) => run_validate(&cli.config, today, sender.as_deref(), out, &files),
        Some(Command::Gen {
            sender,
            count,
            apps_per_file,
            out,
            seed,
            today,
        }) => run_gen(sender, count, apps_per_file, out, seed, today),
        Some(Command::Daemon) => run_daemon(&cli.config, false),
        // The first-run default: the daemon in the foreground with a status line.
        None => run_daemon(&cli.config, true),
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

fn load_config(path: &std::path::Path) -> Result<Config, ExitCode> {
    Config::load(path).map_err(|e| {
        eprintln!("aim: {e}");
        ExitCode::from(2)
    })
}

fn run_validate(
    config: &std::path::Path,
    today: Option<chrono::NaiveDate>,
    sender: Option<&str>,
    out: Option<PathBuf>,
    files: &[PathBuf],
) -> ExitCode {
    let cfg = match load_config(config) {
        Ok(c) => c,
        Err(code) => return code,
    };
    if let Some(dir) = &out
        && let Err(e) = std::fs::create_dir_all(dir)
    {
        eprintln!(
            "aim: cannot create the output folder {}: {e}",
            dir.display()
        );
        return ExitCode::from(2);
    }
    let opts = validate::Options {
        config: &cfg,
        today: today.unwrap_or_else(|| chrono::Utc::now().date_naive()),
        fixed_time: today.is_some(),
        sender,
    };
    let (mut any_rejected, mut failed) = (false, false);
    for f in files {
        match validate::validate_file(f, &opts) {
            Ok(validate::Outcome::Ignored) => {
                eprintln!(
                    "aim: {}: an in-progress upload name (leading '.', or .part/.tmp/.filepart/~): the daemon does not read it until it is renamed",
                    f.display()
                );
            }
            Ok(validate::Outcome::Ack { xml, rejected }) => {
                any_rejected |= rejected;
                let written = match &out {
                    Some(dir) => {
                        let p = validate::ack_path(dir, f);
                        std::fs::write(&p, &xml)
                            .map_err(|e| format!("cannot write {}: {e}", p.display()))
                    }
                    None => std::io::stdout()
                        .lock()
                        .write_all(&xml)
                        .map_err(|e| format!("cannot write to standard output: {e}")),
                };
                if let Err(e) = written {
                    eprintln!("aim: {e}");
                    failed = true;
                }
            }
            Err(e) => {
                eprintln!("aim: {}: cannot read the file: {e}", f.display());
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
    seed: u64,
    today: Option<chrono::NaiveDate>,
) -> ExitCode {
    if !(2..=15).contains(&sender.len())
        || !sender
            .bytes()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
    {
        eprintln!("aim: --sender {sender:?} is not a partner id: use 2 to 15 of A-Z and 0-9");
        return ExitCode::from(2);
    }
    if apps_per_file == 0 || apps_per_file > 10_000 {
        eprintln!("aim: --apps-per-file must be between 1 and 10000");
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
    for f in crate::generator::generate(&opts) {
        // Hidden temporary name, then rename: a daemon watching `out` never reads half a file.
        let tmp = out.join(format!(".{}.tmp", f.name));
        let dst = out.join(&f.name);
        if let Err(e) = std::fs::write(&tmp, &f.bytes).and_then(|()| std::fs::rename(&tmp, &dst)) {
            eprintln!("aim: cannot write {}: {e}", dst.display());
            return ExitCode::from(2);
        }
    }
    ExitCode::SUCCESS
}
