//! The filers' scorecard: per sender and UTC day, files and applications received and
//! rejected, and how often each error code was the cause; and a mark per file with a
//! rejection, to drill down to the files. Both are kept inside the commit's unit of change
//! (`Tx::note_rejections`), so they never disagree with what was committed. Counting starts
//! with the version that keeps them: files committed before are not in the scorecard.

use super::change::{Tx, TxResult};
use super::codec::{dec, enc};
use super::{Result, Store, keys};
use crate::filing::rules::{AppStatus, FileStatus, Verdict};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One sender's day.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SenderDay {
    pub files: u64,
    pub files_rejected: u64,
    pub applications: u64,
    pub applications_rejected: u64,
    /// Error code → applications (or files, for a file-level code) it rejected.
    pub codes: BTreeMap<String, u64>,
}

/// A file with a rejection, as the drill-down lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RejectedFile {
    pub sender: String,
    pub sha256: String,
    pub file_name: String,
    pub received_at: DateTime<Utc>,
    /// `partial` or `rejected`.
    pub status: String,
    /// The error codes, each once.
    pub codes: Vec<String>,
}

/// The scorecard over some days.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejections {
    pub from: Option<NaiveDate>,
    pub through: Option<NaiveDate>,
    /// Code → (rejections, senders it happened to).
    pub by_code: Vec<CodeCount>,
    pub by_sender: Vec<SenderCount>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeCount {
    pub code: String,
    pub count: u64,
    pub senders: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SenderCount {
    pub sender: String,
    pub files: u64,
    pub files_rejected: u64,
    pub applications: u64,
    pub applications_rejected: u64,
    /// Applications not rejected, in percent of all (of files, where none had any).
    pub acceptance_pct: String,
    /// The codes that rejected this sender's filings, most frequent first.
    pub codes: Vec<(String, u64)>,
}

fn sender_day_key(day: NaiveDate, sender: &str) -> Vec<u8> {
    format!("rej\0{day}\0{sender}").into_bytes()
}

fn rejected_file_key(sender: &str, at: DateTime<Utc>, sha: &[u8; 32]) -> Vec<u8> {
    let mut k = vec![keys::REJECTED_FILE, 0];
    k.extend_from_slice(sender.as_bytes());
    k.push(0);
    k.extend_from_slice(
        &u64::try_from(at.timestamp_millis())
            .unwrap_or(0)
            .to_be_bytes(),
    );
    k.extend_from_slice(sha);
    k
}

/// The codes of a verdict, each once per application (once for a file-level error).
fn codes_of(v: &Verdict) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(e) = &v.file_error {
        out.push(e.code.to_string());
    }
    for a in v.apps.iter().filter(|a| a.status == AppStatus::Rejected) {
        let mut seen: Vec<String> = Vec::new();
        for e in &a.errors {
            let c = e.code.to_string();
            if !seen.contains(&c) {
                seen.push(c);
            }
        }
        out.extend(seen);
    }
    out
}

impl Tx<'_> {
    /// Count a committed file into its sender's day, and mark it when anything was rejected.
    pub(crate) fn note_rejections(
        &mut self,
        sender: &str,
        day: NaiveDate,
        at: DateTime<Utc>,
        file_name: &str,
        sha: &[u8; 32],
        v: &Verdict,
    ) -> TxResult<()> {
        let k = sender_day_key(day, sender);
        let mut d: SenderDay = Tx::get(self.meta, &k)?.unwrap_or_default();
        let rejected_apps = v
            .apps
            .iter()
            .filter(|a| a.status == AppStatus::Rejected)
            .count() as u64;
        let status = v.status();
        d.files += 1;
        d.applications += v.apps.len() as u64;
        d.applications_rejected += rejected_apps;
        if status == FileStatus::Rejected {
            d.files_rejected += 1;
        }
        let codes = codes_of(v);
        for c in &codes {
            *d.codes.entry(c.clone()).or_default() += 1;
        }
        self.meta.insert(k, enc(&d))?;
        if status != FileStatus::Accepted {
            let mut distinct = codes.clone();
            distinct.sort();
            distinct.dedup();
            let f = RejectedFile {
                sender: sender.to_owned(),
                sha256: hex::encode(sha),
                file_name: file_name.to_owned(),
                received_at: at,
                status: status.as_str().to_owned(),
                codes: distinct,
            };
            self.index
                .insert(rejected_file_key(sender, at, sha), enc(&f))?;
        }
        Ok(())
    }
}

impl Store {
    /// The scorecard of the days `from..=through` (one key per sender and day: bounded).
    pub fn rejections(&self, from: NaiveDate, through: NaiveDate) -> Result<Rejections> {
        let lo = format!("rej\0{from}\0").into_bytes();
        let hi = format!("rej\0{through}\0\u{ff}").into_bytes();
        let mut senders: BTreeMap<String, SenderDay> = BTreeMap::new();
        for kv in self.trees.meta.range(lo..hi) {
            let (k, v) = kv?;
            let d: SenderDay = dec(&k, &v)?;
            let sender =
                String::from_utf8_lossy(k.rsplit(|b| *b == 0).next().unwrap_or(&[])).into_owned();
            let s = senders.entry(sender).or_default();
            s.files += d.files;
            s.files_rejected += d.files_rejected;
            s.applications += d.applications;
            s.applications_rejected += d.applications_rejected;
            for (c, n) in d.codes {
                *s.codes.entry(c).or_default() += n;
            }
        }
        let mut by_code: BTreeMap<String, CodeCount> = BTreeMap::new();
        let mut by_sender = Vec::new();
        for (sender, d) in &senders {
            for (c, n) in &d.codes {
                let e = by_code.entry(c.clone()).or_insert_with(|| CodeCount {
                    code: c.clone(),
                    count: 0,
                    senders: Vec::new(),
                });
                e.count += n;
                e.senders.push(sender.clone());
            }
            let (ok, all) = if d.applications > 0 {
                (d.applications - d.applications_rejected, d.applications)
            } else {
                (d.files - d.files_rejected, d.files)
            };
            let pct = if all == 0 {
                "-".to_owned()
            } else {
                format!("{:.1}", ok as f64 * 100.0 / all as f64)
            };
            let mut codes: Vec<(String, u64)> =
                d.codes.iter().map(|(c, n)| (c.clone(), *n)).collect();
            codes.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            by_sender.push(SenderCount {
                sender: sender.clone(),
                files: d.files,
                files_rejected: d.files_rejected,
                applications: d.applications,
                applications_rejected: d.applications_rejected,
                acceptance_pct: pct,
                codes,
            });
        }
        let mut by_code: Vec<CodeCount> = by_code.into_values().collect();
        by_code.sort_by(|a, b| b.count.cmp(&a.count).then(a.code.cmp(&b.code)));
        by_sender.sort_by(|a, b| {
            b.applications_rejected
                .cmp(&a.applications_rejected)
                .then(a.sender.cmp(&b.sender))
        });
        Ok(Rejections {
            from: Some(from),
            through: Some(through),
            by_code,
            by_sender,
        })
    }

    /// Files with a rejection, newest first: of one sender, or of all (`sender` none), with
    /// `code` among their codes when given; at most `limit`, after reading at most
    /// `scan_cap` marks.
    pub fn rejected_files(
        &self,
        sender: Option<&str>,
        code: Option<&str>,
        limit: usize,
        scan_cap: usize,
    ) -> Result<Vec<RejectedFile>> {
        let mut prefix = vec![keys::REJECTED_FILE, 0];
        if let Some(s) = sender {
            prefix.extend_from_slice(s.as_bytes());
            prefix.push(0);
        }
        let mut out: Vec<RejectedFile> = Vec::new();
        let mut iter: Box<dyn Iterator<Item = sled::Result<(sled::IVec, sled::IVec)>>> =
            Box::new(self.trees.index.scan_prefix(&prefix).rev());
        if sender.is_none() {
            // Across senders: newest of each sender's marks, merged below.
            iter = Box::new(self.trees.index.scan_prefix(&prefix));
        }
        for kv in iter.take(scan_cap) {
            let (k, v) = kv?;
            let f: RejectedFile = dec(&k, &v)?;
            if code.is_none_or(|c| f.codes.iter().any(|x| x == c)) {
                out.push(f);
                if sender.is_some() && out.len() >= limit {
                    break;
                }
            }
        }
        out.sort_by_key(|f| std::cmp::Reverse(f.received_at));
        out.truncate(limit);
        Ok(out)
    }
}
