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
    /// The ack, and whether anything in it is rejected.
    Ack { xml: Vec<u8>, rejected: bool },
}

/// Options of one validation run.
pub struct Options<'a> {
    pub config: &'a Config,
    pub today: NaiveDate,
    /// With `--today`, ReceivedAt is that day at midnight UTC, so the output is reproducible.
    pub fixed_time: bool,
    /// The inbox folder the file stands for; `None`: the file's parent folder name.
    pub sender: Option<&'a str>,
}

/// Validate one file as the daemon would on `today`.
pub fn validate_file(path: &Path, opts: &Options<'_>) -> std::io::Result<Outcome> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if filing::is_in_progress_name(&name) {
        return Ok(Outcome::Ignored);
    }
    let inbox_sender = match opts.sender {
        Some(s) => s.to_owned(),
        None => path
            .canonicalize()
            .ok()
            .and_then(|p| {
                p.parent()
                    .and_then(|d| d.file_name())
                    .map(|n| n.to_string_lossy().into_owned())
            })
            .unwrap_or_default(),
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
        Content::TooLarge { size, sha256 } => (filing::Input::TooLarge(*size), *sha256),
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
    let verdict = filing::check_input(&name, input, max, &cx, &mut rules::Offline);
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
    })
}

/// Where `--out DIR` puts the ack of `path`: `<stem>.ack.xml`.
pub fn ack_path(out: &Path, path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into());
    // The same stem rule as the daemon's outbox.
    out.join(format!("{}.ack.xml", crate::intake::stem(&name)))
}
