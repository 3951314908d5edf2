//! Generated filings committed straight through the store's public commit path (the rules and
//! one unit of change per file, one flush per batch): the 1,000,000-license store of the
//! console benchmark and the stores of tests, without a daemon or an inbox. It lives with the
//! generator, so the store does not depend on it.

use crate::config::Config;
use crate::filing::ack::FileFacts;
use crate::store::{NewFiling, Result, Store, StoreError, StoreLedger};
use chrono::NaiveDate;
use sha2::{Digest, Sha256};

/// What to generate: `files` files of `apps_per_file` applications from `sender`, filed on
/// `day`, from `seed`.
pub struct Generated<'a> {
    pub cfg: &'a Config,
    pub sender: &'a str,
    pub files: usize,
    pub apps_per_file: usize,
    pub day: NaiveDate,
    pub seed: u64,
    /// Mail to these addresses (none: no mail job).
    pub mail_to: &'a [String],
}

/// Judge and commit the generated files into `store`; the number of licenses issued.
pub fn commit_generated(store: &Store, g: &Generated<'_>) -> Result<usize> {
    let settings = g.cfg.rule_settings();
    let registered = |id: &str| g.cfg.partner(id).is_some();
    let opts = super::GenOptions {
        sender: g.sender.to_owned(),
        count: g.files,
        apps_per_file: g.apps_per_file,
        seed: g.seed,
        today: g.day,
    };
    let mut issued = 0;
    let at = g.day.and_hms_opt(12, 0, 0).unwrap_or_default().and_utc();
    for (i, f) in super::generate(&opts).enumerate() {
        let sha: [u8; 32] = Sha256::digest(&f.bytes).into();
        let cx = crate::filing::rules::FileContext {
            inbox_sender: g.sender,
            is_registered: &registered,
            filing_day: g.day,
            sha256: sha,
            settings: &settings,
        };
        let verdict = crate::filing::check(&f.bytes, &cx, &mut StoreLedger::new(store))
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
        let ack_name = format!("{}.ack.xml", f.name.trim_end_matches(".xml"));
        let archive = format!("{}/{}/{}", g.day, g.sender, f.name);
        let c = store.commit(&NewFiling {
            sender: g.sender,
            facts: FileFacts {
                file_name: &f.name,
                sha256: sha,
                received_at: at,
            },
            filing_day: g.day,
            verdict: &verdict,
            ack_name: &ack_name,
            archive: &archive,
            mail_to: g.mail_to,
        })?;
        issued += c.issued.len();
        if i % 64 == 63 {
            store.flush()?;
        }
    }
    store.flush()?;
    Ok(issued)
}
