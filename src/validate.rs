//! `aim validate`: the ack each file would get, without touching any daemon state.

use crate::config::Config;
use crate::filing::{self, ack::Ack, ack::FileFacts, ack::Issuance, rules};
use crate::intake::{self, Content};
use chrono::{NaiveDate, Utc};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// The outcome for one file.
pub enum Outcome {
    /// An in-progress upload name: the daemon would not read it, so there is no ack.
    Ignored,
    /// The ack (as XML and as a value), whether anything in it is rejected, and a note for
    /// the person running the check (the file's folder stands for no inbox).
    Ack {
        xml: Vec<u8>,
        rejected: bool,
        ack: Box<Ack>,
        note: Option<String>,
    },
}

/// Options of one validation run.
pub struct Options<'a> {
    pub config: &'a Config,
    pub today: NaiveDate,
    /// With `--today`, ReceivedAt is that day at midnight UTC, so the output is reproducible.
    pub fixed_time: bool,
    /// The inbox folder the file stands for; `None`: the file's parent folder name when that
    /// is a registered partner's id, otherwise no inbox (F004 is not checked).
    pub sender: Option<&'a str>,
}

/// Validate one file as the daemon would on `today`.
pub fn validate_file(path: &Path, opts: &Options<'_>) -> std::io::Result<Outcome> {
    let name = path
        .file_name()
        .map(intake::file_name_text)
        .unwrap_or_default();
    if filing::is_in_progress_name(&name) {
        return Ok(Outcome::Ignored);
    }
    // An empty inbox sender: no folder is assumed, and the rules skip F004.
    let (inbox_sender, note) = match opts.sender {
        Some(s) => (s.to_owned(), None),
        None => {
            let folder = parent_folder_name(path);
            if opts.config.partner(&folder).is_some() {
                (folder, None)
            } else {
                (String::new(), Some(no_inbox_note(&folder)))
            }
        }
    };
    let settings = rules::RuleSettings {
        apply_review: false,
        ..opts.config.rule_settings()
    };
    let received_at = if opts.fixed_time {
        opts.today
            .and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc())
            .unwrap_or_else(Utc::now)
    } else {
        Utc::now()
    };
    // Read exactly as the daemon does: no links followed, nothing read past the size limit.
    let max = opts.config.intake.max_file_bytes;
    let content = intake::read_file(path, max)?;
    let (input, sha): (filing::Input<'_>, [u8; 32]) = match &content {
        Content::NotRegular { kind } => {
            (filing::Input::NotRegular(kind), Sha256::digest(b"").into())
        }
        // Not read past the limit: no hash of its content (as for the daemon, docs/format.md).
        Content::TooLarge { size } => (filing::Input::TooLarge(*size), Sha256::digest(b"").into()),
        Content::Bytes(b) => (filing::Input::Bytes(b), Sha256::digest(b).into()),
    };
    let registered = |id: &str| opts.config.partner(id).is_some();
    let cx = rules::FileContext {
        inbox_sender: &inbox_sender,
        is_registered: &registered,
        filing_day: opts.today,
        sha256: sha,
        settings: &settings,
    };
    // The offline ledger always answers; its error type is still handled, not unwrapped.
    let verdict = filing::check_input(&name, input, max, &cx, &mut rules::Offline)
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    let issuance: Vec<Issuance> = verdict
        .apps
        .iter()
        .map(|a| Issuance {
            number: None,
            validity: (a.status == rules::AppStatus::Issued).then(|| {
                (
                    opts.today,
                    opts.today + chrono::Days::new(rules::VALIDITY_DAYS as u64),
                )
            }),
        })
        .collect();
    let facts = FileFacts {
        file_name: &name,
        sha256: sha,
        received_at,
    };
    let ack = Ack::first(&verdict, &facts, &issuance);
    Ok(Outcome::Ack {
        xml: ack.render(),
        rejected: ack.status != "accepted",
        ack: Box::new(ack),
        note,
    })
}

/// The name of the folder holding `path` (the entry itself is not resolved: a link in an
/// inbox is in that inbox).
fn parent_folder_name(path: &Path) -> String {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    parent
        .canonicalize()
        .ok()
        .and_then(|p| p.file_name().map(intake::file_name_text))
        .unwrap_or_default()
}

fn no_inbox_note(folder: &str) -> String {
    let shown = if folder.is_empty() {
        "the file's folder".to_owned()
    } else {
        format!("folder {}", filing::codes::quote(folder))
    };
    format!(
        "{shown} is not a registered partner's id, so it stands for no inbox: F004 (the SenderId must be the inbox's partner) is not checked; give --sender ID to check it"
    )
}

/// The problems of an ack, one line each, as compilers write them:
/// `file:line:column: CODE message (path)`, or `file: CODE message` without a position.
/// `file` is how the file is shown (free of control characters).
pub fn problem_lines(file: &str, ack: &Ack) -> Vec<String> {
    let line = |i: &crate::filing::codes::Issue| {
        let mut l = file.to_owned();
        if let Some(p) = i.position {
            l.push_str(&format!(":{}:{}", p.line, p.column));
        }
        l.push_str(&format!(": {} {}", i.code, i.message));
        if !i.path.is_empty() {
            l.push_str(&format!(" ({})", i.path));
        }
        filing::codes::sanitize(&l)
    };
    let mut out: Vec<String> = ack.file_errors.iter().map(line).collect();
    for a in &ack.apps {
        out.extend(a.errors.iter().chain(&a.warnings).map(line));
    }
    out
}

/// One line for a file: `file: partial — 2 applications, 1 issued, 1 rejected, 3 errors,
/// 1 warning`. Only the statuses that occur are counted.
pub fn summary_line(file: &str, ack: &Ack) -> String {
    let plural =
        |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let mut parts = vec![plural(ack.apps.len(), "application", "applications")];
    for st in [
        rules::AppStatus::Issued,
        rules::AppStatus::Corrected,
        rules::AppStatus::Cancelled,
        rules::AppStatus::PendingReview,
        rules::AppStatus::Rejected,
    ] {
        let n = ack.apps.iter().filter(|a| a.status == st).count();
        if n > 0 {
            parts.push(format!("{n} {}", st.as_str()));
        }
    }
    let errors = ack.file_errors.len() + ack.apps.iter().map(|a| a.errors.len()).sum::<usize>();
    let warnings: usize = ack.apps.iter().map(|a| a.warnings.len()).sum();
    parts.push(plural(errors, "error", "errors"));
    parts.push(plural(warnings, "warning", "warnings"));
    filing::codes::sanitize(&format!("{file}: {} — {}", ack.status, parts.join(", ")))
}

/// Where `--out DIR` puts the ack of `path`: `<stem>.ack.xml`, with the stem made safe as
/// the daemon's outbox makes it (control characters replaced, at most 240 bytes).
pub fn ack_path(out: &Path, path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(intake::file_name_text)
        .unwrap_or_else(|| "file".into());
    out.join(intake::ack_file_name(&name, 1))
}
