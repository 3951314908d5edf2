//! The daemon's database over sled: receipts with the exact ack bytes, licenses and their
//! versions, indexes, aggregates kept in the same transaction as the license change they
//! reflect, the unit-value history for W310, the mail queue and the audit log.
//!
//! Values are serde JSON behind a version byte. Only the daemon opens the store (sled is
//! single-process); everything else reaches it through the daemon.

use crate::filing::ack::{Ack, FileFacts, Issuance};
use crate::filing::model::{Action, LicenseData, LicenseNumber, Smelt};
use crate::filing::rules::{AppStatus, AppVerdict, LicenseFacts, VALIDITY_DAYS, Verdict};
use chrono::{DateTime, Datelike, Days, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError, TransactionalTree};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::sync::Mutex;

const VERSION: u8 = 1;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sled(#[from] sled::Error),
    #[error("stored value under {key} cannot be read: {message}")]
    Decode { key: String, message: String },
    #[error("license numbers for {0} are used up")]
    SequenceExhausted(u16),
}

pub type Result<T> = std::result::Result<T, StoreError>;

fn enc<T: Serialize>(v: &T) -> Vec<u8> {
    let mut out = vec![VERSION];
    // Serializing our own plain structs to JSON cannot fail.
    serde_json::to_writer(&mut out, v).unwrap_or_default();
    out
}

fn dec<T: DeserializeOwned>(key: &[u8], bytes: &[u8]) -> Result<T> {
    let err = |message: String| StoreError::Decode {
        key: String::from_utf8_lossy(key).into_owned(),
        message,
    };
    match bytes.split_first() {
        Some((&VERSION, body)) => serde_json::from_slice(body).map_err(|e| err(e.to_string())),
        Some((v, _)) => Err(err(format!("unknown value version {v}"))),
        None => Err(err("empty value".into())),
    }
}

/// Ack bytes are UTF-8 XML: stored as a JSON string, not as an array of numbers (four times
/// smaller and much faster for a 1,000-application ack).
mod utf8_bytes {
    use serde::{Deserialize, Deserializer, Serializer, de::Error as _, ser::Error as _};

    pub fn serialize<S: Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(std::str::from_utf8(b).map_err(S::Error::custom)?)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        String::deserialize(d)
            .map(String::into_bytes)
            .map_err(D::Error::custom)
    }
}

/// One arrival of a file: the first, or an identical re-delivery.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    pub file_name: String,
    pub ack_name: String,
    pub received_at: DateTime<Utc>,
    /// Archive path relative to `<data>/archive`.
    pub archive: String,
    pub done: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppSummary {
    pub id: Option<String>,
    pub status: AppStatus,
    pub license: Option<LicenseNumber>,
}

/// What was received from a sender, and the exact ack it got.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    pub sender: String,
    pub sha256: String,
    pub control_number: Option<u32>,
    pub status: String,
    pub file_error: Option<String>,
    #[serde(with = "utf8_bytes")]
    pub ack: Vec<u8>,
    pub apps: Vec<AppSummary>,
    pub deliveries: Vec<Delivery>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LicenseStatus {
    Active,
    Cancelled,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LicenseEvent {
    pub at: DateTime<Utc>,
    pub action: Action,
    pub receipt: String,
    pub app_id: Option<String>,
    pub reason: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct License {
    pub number: LicenseNumber,
    pub sender: String,
    pub status: LicenseStatus,
    pub valid_from: NaiveDate,
    pub valid_through: NaiveDate,
    pub data: LicenseData,
    pub history: Vec<LicenseEvent>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MailState {
    Queued,
    Retrying,
    Sent,
    Dead,
}

/// One message waiting for (or done with) delivery.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailJob {
    pub id: u64,
    pub sender: String,
    pub to: Vec<String>,
    pub ack_name: String,
    /// The ack file's exact bytes: attached as they are, and the summary is read from them.
    #[serde(with = "utf8_bytes")]
    pub ack: Vec<u8>,
    pub created_at: DateTime<Utc>,
    pub attempts: u32,
    pub next_attempt: DateTime<Utc>,
    pub state: MailState,
    pub last_error: Option<String>,
    #[serde(default)]
    pub sent_at: Option<DateTime<Utc>>,
}

/// The mail queue at a glance.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailCounts {
    pub queued: usize,
    pub retrying: usize,
    pub dead: usize,
    pub sent_since: usize,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    pub at: DateTime<Utc>,
    pub actor: String,
    pub kind: String,
    pub detail: String,
}

/// An application held for review, with everything needed to decide it later.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingApp {
    pub sender: String,
    pub receipt: String,
    pub file_name: String,
    pub received_at: DateTime<Utc>,
    pub verdict: AppVerdict,
}

/// An aggregate cell of the monitor.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cell {
    pub licenses: i64,
    pub kg: Decimal,
    pub usd: Decimal,
    /// Licenses per importer, for the "fewer than 3 distinct importers" suppression.
    pub importers: BTreeMap<String, i64>,
}

/// A new file to commit: its verdict and facts, where its ack goes and who gets mail.
pub struct NewFiling<'a> {
    pub sender: &'a str,
    pub facts: FileFacts<'a>,
    pub filing_day: NaiveDate,
    pub verdict: &'a Verdict,
    pub ack_name: &'a str,
    pub archive: &'a str,
    pub mail_to: &'a [String],
}

/// The result of committing a file.
pub struct Committed {
    pub ack: Vec<u8>,
    pub issued: Vec<LicenseNumber>,
}

/// Sliding-window unit values of one 6-digit HTS for W310.
struct Window {
    day: NaiveDate,
    sorted: Vec<Decimal>,
    licenses: HashSet<LicenseNumber>,
}

pub struct Store {
    db: sled::Db,
    meta: sled::Tree,
    receipts: sled::Tree,
    controls: sled::Tree,
    licenses: sled::Tree,
    index: sled::Tree,
    audit: sled::Tree,
    mail: sled::Tree,
    mail_done: sled::Tree,
    agg: sled::Tree,
    uv: sled::Tree,
    pending: sled::Tree,
    windows: Mutex<HashMap<String, Window>>,
}

fn receipt_key(sender: &str, sha: &[u8; 32]) -> Vec<u8> {
    let mut k = Vec::with_capacity(sender.len() + 33);
    k.extend_from_slice(sender.as_bytes());
    k.push(0);
    k.extend_from_slice(sha);
    k
}

fn control_key(sender: &str, n: u32) -> Vec<u8> {
    let mut k = sender.as_bytes().to_vec();
    k.push(0);
    k.extend_from_slice(&n.to_be_bytes());
    k
}

fn license_key(n: LicenseNumber) -> [u8; 6] {
    let mut k = [0u8; 6];
    k[..2].copy_from_slice(&n.year.to_be_bytes());
    k[2..].copy_from_slice(&n.seq.to_be_bytes());
    k
}

fn index_key(kind: u8, value: &str, n: LicenseNumber) -> Vec<u8> {
    let mut k = vec![kind, 0];
    k.extend_from_slice(value.as_bytes());
    k.push(0);
    k.extend_from_slice(&license_key(n));
    k
}

fn undone_key(sender: &str, sha: &[u8; 32]) -> Vec<u8> {
    let mut k = vec![b'u', 0];
    k.extend_from_slice(&receipt_key(sender, sha));
    k
}

fn uv_key(hts6: &str, day: NaiveDate, n: LicenseNumber, line: u16) -> Vec<u8> {
    let mut k = hts6.as_bytes().to_vec();
    k.push(0);
    k.extend_from_slice(&day.num_days_from_ce().to_be_bytes());
    k.extend_from_slice(&license_key(n));
    k.extend_from_slice(&line.to_be_bytes());
    k
}

/// Cells a license contributes to: (month, dimension, key) → (kg, usd), one license each.
pub fn cells_of(
    data: &LicenseData,
) -> BTreeMap<(String, &'static str, String), (Decimal, Decimal)> {
    let month = format!(
        "{:04}-{:02}",
        data.import_date.year(),
        data.import_date.month()
    );
    let mut cells: BTreeMap<(String, &'static str, String), (Decimal, Decimal)> = BTreeMap::new();
    for p in &data.products {
        let smelt = match p.largest_smelt {
            Smelt::Country(c) => c.as_str().to_owned(),
            s => s.key().to_owned(),
        };
        for (dim, key) in [
            ("origin", data.origin.as_str().to_owned()),
            ("largest_smelt", smelt),
            ("cast", p.cast.as_str().to_owned()),
            ("category", p.category().name().to_owned()),
            ("hts6", p.hts.hts6().to_owned()),
        ] {
            let e = cells.entry((month.clone(), dim, key)).or_default();
            e.0 += p.quantity.0;
            e.1 += p.value.0;
        }
    }
    cells
}

/// Mail queue key: due time first, so the worker reads only what is due.
fn mail_key(due: DateTime<Utc>, id: u64) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&(due.timestamp_millis().max(0) as u64).to_be_bytes());
    k[8..].copy_from_slice(&id.to_be_bytes());
    k
}

fn cell_key(month: &str, dim: &str, key: &str) -> Vec<u8> {
    format!("{month}\0{dim}\0{key}").into_bytes()
}

type Tx = ConflictableTransactionError<StoreError>;

fn abort(e: StoreError) -> Tx {
    ConflictableTransactionError::Abort(e)
}

fn tx_dec<T: DeserializeOwned>(key: &[u8], bytes: &[u8]) -> std::result::Result<T, Tx> {
    dec(key, bytes).map_err(abort)
}

fn unwrap_tx<T>(r: std::result::Result<T, TransactionError<StoreError>>) -> Result<T> {
    r.map_err(|e| match e {
        TransactionError::Abort(e) => e,
        TransactionError::Storage(e) => StoreError::Sled(e),
    })
}

/// Aggregate changes of one transaction, summed per cell before the cells are touched: a
/// 1,000-application file reads and writes each cell once, not once per product.
#[derive(Default)]
struct CellDeltas(BTreeMap<(String, &'static str, String), Delta>);

#[derive(Default)]
struct Delta {
    licenses: i64,
    kg: Decimal,
    usd: Decimal,
    importers: BTreeMap<String, i64>,
}

impl CellDeltas {
    /// Add (sign +1) or remove (sign -1) a license's contribution.
    fn add(&mut self, data: &LicenseData, sign: i64) {
        let s = Decimal::from(sign);
        for (cell, (kg, usd)) in cells_of(data) {
            let d = self.0.entry(cell).or_default();
            d.licenses += sign;
            d.kg += kg * s;
            d.usd += usd * s;
            *d.importers.entry(data.importer.clone()).or_default() += sign;
        }
    }

    fn apply(self, agg: &TransactionalTree) -> std::result::Result<(), Tx> {
        for ((month, dim, key), d) in self.0 {
            let k = cell_key(&month, dim, &key);
            let mut cell: Cell = match agg.get(&k)? {
                Some(v) => tx_dec(&k, &v)?,
                None => Cell::default(),
            };
            cell.licenses += d.licenses;
            cell.kg += d.kg;
            cell.usd += d.usd;
            for (importer, n) in d.importers {
                let e = cell.importers.entry(importer.clone()).or_default();
                *e += n;
                if *e <= 0 {
                    cell.importers.remove(&importer);
                }
            }
            if cell.licenses <= 0 {
                agg.remove(k)?;
            } else {
                agg.insert(k, enc(&cell))?;
            }
        }
        Ok(())
    }
}

fn status_byte(s: LicenseStatus) -> &'static str {
    match s {
        LicenseStatus::Active => "active",
        LicenseStatus::Cancelled => "cancelled",
    }
}

/// Index entries of a license version.
fn index_entries(l: &License) -> Vec<Vec<u8>> {
    let mut v = vec![
        index_key(b's', &l.sender, l.number),
        index_key(b'i', &l.data.importer, l.number),
        index_key(b't', status_byte(l.status), l.number),
        index_key(b'd', &l.valid_from.to_string(), l.number),
    ];
    if let Some(e) = &l.data.entry_number {
        v.push(index_key(b'e', &e.0, l.number));
    }
    v
}

/// sled writes a snapshot as `snap.<lsn>.generating`, fsyncs it and only then renames it; a
/// kill in between leaves a partial file that sled would take for the newest snapshot and
/// refuse to open ("Read corrupted data"). Such a leftover is never needed: remove it.
fn remove_partial_snapshots(dir: &Path) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        if name.starts_with("snap.") && name.ends_with(".generating") {
            match std::fs::remove_file(e.path()) {
                Ok(()) => {
                    tracing::warn!(file = %e.path().display(), "removed a snapshot left half written by a crash")
                }
                Err(err) => {
                    tracing::error!(file = %e.path().display(), "cannot remove a half-written snapshot: {err}")
                }
            }
        }
    }
}

impl Store {
    /// Open (or create) the database in `dir`.
    pub fn open(dir: &Path) -> Result<Store> {
        remove_partial_snapshots(dir);
        let db = sled::Config::new()
            .path(dir)
            .cache_capacity(16 * 1024 * 1024)
            .flush_every_ms(None)
            .open()?;
        Ok(Store {
            meta: db.open_tree("meta")?,
            receipts: db.open_tree("receipts")?,
            controls: db.open_tree("controls")?,
            licenses: db.open_tree("licenses")?,
            index: db.open_tree("index")?,
            audit: db.open_tree("audit")?,
            mail: db.open_tree("mail")?,
            mail_done: db.open_tree("mail_done")?,
            agg: db.open_tree("aggregates")?,
            uv: db.open_tree("unit_values")?,
            pending: db.open_tree("pending")?,
            windows: Mutex::new(HashMap::new()),
            db,
        })
    }

    /// Make everything written so far durable.
    pub fn flush(&self) -> Result<()> {
        self.db.flush()?;
        Ok(())
    }

    pub fn receipt(&self, sender: &str, sha: &[u8; 32]) -> Result<Option<Receipt>> {
        let k = receipt_key(sender, sha);
        self.receipts.get(&k)?.map(|v| dec(&k, &v)).transpose()
    }

    pub fn control_owner(&self, sender: &str, n: u32) -> Result<Option<[u8; 32]>> {
        Ok(self
            .controls
            .get(control_key(sender, n))?
            .and_then(|v| <[u8; 32]>::try_from(&v[..]).ok()))
    }

    pub fn license(&self, n: LicenseNumber) -> Result<Option<License>> {
        let k = license_key(n);
        self.licenses.get(k)?.map(|v| dec(&k, &v)).transpose()
    }

    /// Licenses of a sender, newest first, at most `limit`.
    pub fn licenses_of(&self, sender: &str, limit: usize) -> Result<Vec<License>> {
        let mut prefix = vec![b's', 0];
        prefix.extend_from_slice(sender.as_bytes());
        prefix.push(0);
        let mut out = Vec::new();
        for kv in self.index.scan_prefix(&prefix).rev().take(limit) {
            let (k, _) = kv?;
            let lk = &k[k.len() - 6..];
            if let Some(v) = self.licenses.get(lk)? {
                out.push(dec(lk, &v)?);
            }
        }
        Ok(out)
    }

    /// Receipts whose last delivery is not finished (ack, archive, done): crash recovery.
    pub fn unfinished(&self) -> Result<Vec<Receipt>> {
        let mut out = Vec::new();
        for kv in self.index.scan_prefix([b'u', 0]) {
            let (k, _) = kv?;
            let rk = &k[2..];
            if let Some(v) = self.receipts.get(rk)? {
                out.push(dec(rk, &v)?);
            }
        }
        Ok(out)
    }

    /// Record that a delivery is finished: its ack is written and its input archived.
    pub fn mark_done(&self, sender: &str, sha: &[u8; 32], delivery: usize) -> Result<()> {
        let k = receipt_key(sender, sha);
        let uk = undone_key(sender, sha);
        unwrap_tx(
            (&self.receipts, &self.index).transaction(|(receipts, index)| {
                if let Some(v) = receipts.get(&k)? {
                    let mut r: Receipt = tx_dec(&k, &v)?;
                    if let Some(d) = r.deliveries.get_mut(delivery) {
                        d.done = true;
                    }
                    if r.deliveries.iter().all(|d| d.done) {
                        index.remove(uk.as_slice())?;
                    }
                    receipts.insert(k.as_slice(), enc(&r))?;
                }
                Ok(())
            }),
        )
    }

    /// Record another delivery of an already received file (identical bytes): it gets the
    /// original ack again under its own ack name.
    pub fn add_delivery(
        &self,
        sender: &str,
        sha: &[u8; 32],
        d: Delivery,
        mail_to: &[String],
    ) -> Result<(Receipt, usize)> {
        let k = receipt_key(sender, sha);
        let uk = undone_key(sender, sha);
        unwrap_tx((&self.receipts, &self.index, &self.audit, &self.mail).transaction(|(receipts, index, audit, mail)| {
            let v = receipts.get(&k)?.ok_or_else(|| {
                abort(StoreError::Decode {
                    key: String::from_utf8_lossy(&k).into_owned(),
                    message: "receipt vanished".into(),
                })
            })?;
            let mut r: Receipt = tx_dec(&k, &v)?;
            r.deliveries.push(d.clone());
            receipts.insert(k.as_slice(), enc(&r))?;
            index.insert(uk.as_slice(), &[])?;
            let id = audit.generate_id()?;
            audit.insert(
                &id.to_be_bytes(),
                enc(&AuditEvent {
                    at: d.received_at,
                    actor: "daemon".into(),
                    kind: "duplicate".into(),
                    detail: format!("{} re-delivered {} (identical bytes); original ack sent again as {}", sender, d.file_name, d.ack_name),
                }),
            )?;
            if !mail_to.is_empty() {
                let ack = r.ack.clone();
                let id = mail.generate_id()?;
                let job = MailJob {
                    id,
                    sender: sender.to_owned(),
                    to: mail_to.to_vec(),
                    ack_name: d.ack_name.clone(),
                    ack,
                    created_at: d.received_at,
                    attempts: 0,
                    next_attempt: d.received_at,
                    state: MailState::Queued,
                    last_error: None,
                    sent_at: None,
                };
                mail.insert(&mail_key(job.next_attempt, id), enc(&job))?;
            }
            Ok((r.clone(), r.deliveries.len() - 1))
        }))
    }

    /// Commit a judged file in one transaction: license numbers, licenses and indexes,
    /// aggregates, unit-value history, pending reviews, control number, receipt with the ack
    /// bytes, mail job and audit events. Not yet durable: call [`Store::flush`].
    pub fn commit(&self, f: &NewFiling<'_>) -> Result<Committed> {
        let sha = f.facts.sha256;
        let sha_hex = hex::encode(sha);
        let rk = receipt_key(f.sender, &sha);
        let uk = undone_key(f.sender, &sha);
        let year = u16::try_from(f.filing_day.year()).unwrap_or(0);
        let through = f.filing_day + Days::new(VALIDITY_DAYS as u64);
        let trees = (
            &self.meta,
            &self.receipts,
            &self.controls,
            &self.licenses,
            &self.index,
            &self.audit,
            &self.mail,
            &self.agg,
            &self.uv,
            &self.pending,
        );
        let (committed, touched) = unwrap_tx(trees.transaction(
            |(meta, receipts, controls, licenses, index, audit, mail, agg, uv, pending)| {
                let mut seq = match meta.get(b"license_seq")? {
                    Some(v) => u32::from_be_bytes(<[u8; 4]>::try_from(&v[..]).unwrap_or([0; 4])),
                    None => 0,
                };
                let mut issuance = Vec::with_capacity(f.verdict.apps.len());
                let mut deltas = CellDeltas::default();
                let mut issued = Vec::new();
                let mut touched_hts: Vec<(String, Option<(Decimal, LicenseNumber)>)> = Vec::new();
                let log = |audit: &TransactionalTree,
                           kind: &str,
                           detail: String|
                 -> std::result::Result<(), Tx> {
                    let id = audit.generate_id()?;
                    audit.insert(
                        &id.to_be_bytes(),
                        enc(&AuditEvent {
                            at: f.facts.received_at,
                            actor: "daemon".into(),
                            kind: kind.into(),
                            detail,
                        }),
                    )?;
                    Ok(())
                };
                for app in &f.verdict.apps {
                    let mut iss = Issuance::default();
                    let event = LicenseEvent {
                        at: f.facts.received_at,
                        action: app.action.unwrap_or(Action::New),
                        receipt: sha_hex.clone(),
                        app_id: app.id.clone(),
                        reason: app.reason.clone(),
                    };
                    match (app.status, &app.data) {
                        (AppStatus::Issued, Some(data)) => {
                            if seq >= LicenseNumber::MAX_SEQ {
                                return Err(abort(StoreError::SequenceExhausted(year)));
                            }
                            seq += 1;
                            let n = LicenseNumber::new(year, seq);
                            let lic = License {
                                number: n,
                                sender: f.sender.to_owned(),
                                status: LicenseStatus::Active,
                                valid_from: f.filing_day,
                                valid_through: through,
                                data: data.clone(),
                                history: vec![event],
                            };
                            licenses.insert(&license_key(n), enc(&lic))?;
                            for k in index_entries(&lic) {
                                index.insert(k, &[])?;
                            }
                            deltas.add(data, 1);
                            for p in &data.products {
                                uv.insert(
                                    uv_key(p.hts.hts6(), f.filing_day, n, p.line),
                                    p.unit_value().to_string().as_bytes(),
                                )?;
                                touched_hts
                                    .push((p.hts.hts6().to_owned(), Some((p.unit_value(), n))));
                            }
                            iss = Issuance {
                                number: Some(n),
                                validity: Some((f.filing_day, through)),
                            };
                            issued.push(n);
                        }
                        (AppStatus::Corrected | AppStatus::Cancelled, _) => {
                            let Some(n) = app.license else { continue };
                            let k = license_key(n);
                            let Some(v) = licenses.get(k)? else { continue };
                            let mut lic: License = tx_dec(&k, &v)?;
                            for ik in index_entries(&lic) {
                                index.remove(ik)?;
                            }
                            deltas.add(&lic.data, -1);
                            for p in &lic.data.products {
                                uv.remove(uv_key(p.hts.hts6(), lic.valid_from, n, p.line))?;
                                touched_hts.push((p.hts.hts6().to_owned(), None));
                            }
                            lic.history.push(event);
                            if app.status == AppStatus::Cancelled {
                                lic.status = LicenseStatus::Cancelled;
                                log(audit, "cancel", format!("{n} cancelled by {}", f.sender))?;
                            } else if let Some(data) = &app.data {
                                lic.data = data.clone();
                                deltas.add(data, 1);
                                for p in &data.products {
                                    uv.insert(
                                        uv_key(p.hts.hts6(), lic.valid_from, n, p.line),
                                        p.unit_value().to_string().as_bytes(),
                                    )?;
                                    touched_hts.push((p.hts.hts6().to_owned(), None));
                                }
                                log(audit, "correct", format!("{n} corrected by {}", f.sender))?;
                            }
                            for ik in index_entries(&lic) {
                                index.insert(ik, &[])?;
                            }
                            licenses.insert(&k, enc(&lic))?;
                            iss = Issuance {
                                number: Some(n),
                                validity: Some((lic.valid_from, lic.valid_through)),
                            };
                        }
                        (AppStatus::PendingReview, _) => {
                            let mut pk = rk.clone();
                            pk.extend_from_slice(
                                &u32::try_from(app.position)
                                    .unwrap_or(u32::MAX)
                                    .to_be_bytes(),
                            );
                            pending.insert(
                                pk,
                                enc(&PendingApp {
                                    sender: f.sender.to_owned(),
                                    receipt: sha_hex.clone(),
                                    file_name: f.facts.file_name.to_owned(),
                                    received_at: f.facts.received_at,
                                    verdict: app.clone(),
                                }),
                            )?;
                            log(
                                audit,
                                "hold",
                                format!(
                                    "application {:?} of {} held for review: {}",
                                    app.id,
                                    f.facts.file_name,
                                    app.held_for.join("; ")
                                ),
                            )?;
                        }
                        _ => {}
                    }
                    issuance.push(iss);
                }
                deltas.apply(agg)?;
                meta.insert(b"license_seq", &seq.to_be_bytes())?;
                let ack = Ack::first(f.verdict, &f.facts, &issuance);
                let ack_bytes = ack.render();
                if f.verdict.reached_applications()
                    && let Some(n) = f.verdict.control_value
                {
                    controls.insert(control_key(f.sender, n), &sha)?;
                }
                let receipt = Receipt {
                    sender: f.sender.to_owned(),
                    sha256: sha_hex.clone(),
                    control_number: f.verdict.control_value,
                    status: ack.status.clone(),
                    file_error: f.verdict.file_error.as_ref().map(|e| e.code.to_string()),
                    ack: ack_bytes.clone(),
                    apps: f
                        .verdict
                        .apps
                        .iter()
                        .zip(&issuance)
                        .map(|(a, i)| AppSummary {
                            id: a.id.clone(),
                            status: a.status,
                            license: i.number,
                        })
                        .collect(),
                    deliveries: vec![Delivery {
                        file_name: f.facts.file_name.to_owned(),
                        ack_name: f.ack_name.to_owned(),
                        received_at: f.facts.received_at,
                        archive: f.archive.to_owned(),
                        done: false,
                    }],
                };
                receipts.insert(rk.as_slice(), enc(&receipt))?;
                index.insert(uk.as_slice(), &[])?;
                if !f.mail_to.is_empty() {
                    let id = mail.generate_id()?;
                    let job = MailJob {
                        id,
                        sender: f.sender.to_owned(),
                        to: f.mail_to.to_vec(),
                        ack_name: f.ack_name.to_owned(),
                        ack: ack_bytes.clone(),
                        created_at: f.facts.received_at,
                        attempts: 0,
                        next_attempt: f.facts.received_at,
                        state: MailState::Queued,
                        last_error: None,
                        sent_at: None,
                    };
                    mail.insert(&mail_key(job.next_attempt, id), enc(&job))?;
                }
                // One event for the file, naming every license it issued (a 1,000-application
                // file is one event, not a thousand).
                let mut detail = format!(
                    "{} from {}: {} ({} applications)",
                    f.facts.file_name,
                    f.sender,
                    ack.status,
                    f.verdict.apps.len()
                );
                if !issued.is_empty() {
                    let list: Vec<String> = issued.iter().map(ToString::to_string).collect();
                    detail.push_str(&format!("; issued {}", list.join(", ")));
                }
                log(audit, "receive", detail)?;
                Ok((
                    Committed {
                        ack: ack_bytes,
                        issued,
                    },
                    touched_hts,
                ))
            },
        ))?;
        self.update_windows(&touched, f.filing_day);
        Ok(committed)
    }

    /// Keep the W310 windows in step with the history just written: a new license's values
    /// join today's window; a correction or cancellation drops the window, rebuilt on demand.
    fn update_windows(
        &self,
        touched: &[(String, Option<(Decimal, LicenseNumber)>)],
        day: NaiveDate,
    ) {
        let mut w = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        for (h, added) in touched {
            match (added, w.get_mut(h)) {
                (Some((uv, n)), Some(win)) if win.day == day => {
                    let at = win.sorted.partition_point(|x| x < uv);
                    win.sorted.insert(at, *uv);
                    win.licenses.insert(*n);
                }
                _ => {
                    w.remove(h);
                }
            }
        }
    }

    /// Median unit value for a 6-digit HTS over the 90 days up to `day`, once at least 20
    /// licenses exist for it in that window.
    pub fn unit_value_median(&self, hts6: &str, day: NaiveDate) -> Result<Option<Decimal>> {
        let mut w = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        let fresh = w.get(hts6).is_some_and(|win| win.day == day);
        if !fresh {
            let from = day - Days::new(89);
            let mut lo = hts6.as_bytes().to_vec();
            lo.push(0);
            let mut hi = lo.clone();
            lo.extend_from_slice(&from.num_days_from_ce().to_be_bytes());
            hi.extend_from_slice(&(day.num_days_from_ce() + 1).to_be_bytes());
            let mut sorted = Vec::new();
            let mut licenses = HashSet::new();
            for kv in self.uv.range(lo..hi) {
                let (k, v) = kv?;
                let n = k.len();
                let lk = &k[n - 8..n - 2];
                let year = u16::from_be_bytes([lk[0], lk[1]]);
                let seq = u32::from_be_bytes([lk[2], lk[3], lk[4], lk[5]]);
                licenses.insert(LicenseNumber::new(year, seq));
                if let Some(d) = std::str::from_utf8(&v)
                    .ok()
                    .and_then(|s| s.parse::<Decimal>().ok())
                {
                    sorted.push(d);
                }
            }
            sorted.sort();
            w.insert(
                hts6.to_owned(),
                Window {
                    day,
                    sorted,
                    licenses,
                },
            );
        }
        let Some(win) = w.get(hts6) else {
            return Ok(None);
        };
        if win.licenses.len() < 20 || win.sorted.is_empty() {
            return Ok(None);
        }
        let n = win.sorted.len();
        let median = if n % 2 == 1 {
            win.sorted[n / 2]
        } else {
            (win.sorted[n / 2 - 1] + win.sorted[n / 2]) / Decimal::TWO
        };
        Ok(Some(median))
    }

    /// Aggregate cells whose key starts with `prefix` (e.g. a month "2026-12").
    pub fn cells(&self, prefix: &str) -> Result<Vec<(String, String, String, Cell)>> {
        let mut out = Vec::new();
        for kv in self.agg.scan_prefix(prefix.as_bytes()) {
            let (k, v) = kv?;
            let key = String::from_utf8_lossy(&k).into_owned();
            let mut parts = key.splitn(3, '\0');
            let (Some(m), Some(d), Some(c)) = (parts.next(), parts.next(), parts.next()) else {
                continue;
            };
            out.push((m.to_owned(), d.to_owned(), c.to_owned(), dec(&k, &v)?));
        }
        Ok(out)
    }

    /// Mail jobs due at `now`, earliest first, at most `limit`.
    pub fn due_mail(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<MailJob>> {
        let end = mail_key(now, u64::MAX);
        self.mail
            .range(..=end.as_slice())
            .take(limit)
            .map(|kv| {
                let (k, v) = kv?;
                dec(&k, &v)
            })
            .collect()
    }

    /// The time the next queued message is due, if any.
    pub fn next_mail_due(&self) -> Result<Option<DateTime<Utc>>> {
        Ok(self.mail.first()?.and_then(|(k, _)| {
            let ms = u64::from_be_bytes(k[..8].try_into().ok()?);
            DateTime::from_timestamp_millis(i64::try_from(ms).ok()?)
        }))
    }

    /// Move a job to its next state: sent (kept as a slim record), dead (kept whole, with the
    /// last error), or queued again for `job.next_attempt`. Durable when this returns.
    pub fn settle_mail(&self, old_due: DateTime<Utc>, job: &MailJob) -> Result<()> {
        let old = mail_key(old_due, job.id);
        unwrap_tx((&self.mail, &self.mail_done).transaction(|(mail, done)| {
            mail.remove(&old)?;
            match job.state {
                MailState::Queued | MailState::Retrying => {
                    mail.insert(&mail_key(job.next_attempt, job.id), enc(job))?;
                }
                MailState::Sent => {
                    let slim = MailJob {
                        ack: Vec::new(),
                        ..job.clone()
                    };
                    done.insert(&job.id.to_be_bytes(), enc(&slim))?;
                }
                MailState::Dead => {
                    done.insert(&job.id.to_be_bytes(), enc(job))?;
                }
            }
            Ok(())
        }))?;
        self.flush()
    }

    /// The queue's state for staff: queued, retrying, dead, sent since `since`.
    pub fn mail_counts(&self, since: DateTime<Utc>) -> Result<MailCounts> {
        let mut c = MailCounts::default();
        for kv in self.mail.iter() {
            let (k, v) = kv?;
            let j: MailJob = dec(&k, &v)?;
            match j.state {
                MailState::Retrying => c.retrying += 1,
                _ => c.queued += 1,
            }
        }
        for kv in self.mail_done.iter() {
            let (k, v) = kv?;
            let j: MailJob = dec(&k, &v)?;
            match j.state {
                MailState::Dead => c.dead += 1,
                MailState::Sent if j.sent_at.is_some_and(|t| t >= since) => c.sent_since += 1,
                _ => {}
            }
        }
        Ok(c)
    }

    /// Dead letters, for staff.
    pub fn dead_letters(&self) -> Result<Vec<MailJob>> {
        let mut out = Vec::new();
        for kv in self.mail_done.iter() {
            let (k, v) = kv?;
            let j: MailJob = dec(&k, &v)?;
            if j.state == MailState::Dead {
                out.push(j);
            }
        }
        Ok(out)
    }

    /// The newest audit events, newest first.
    pub fn audit_tail(&self, limit: usize) -> Result<Vec<AuditEvent>> {
        self.audit
            .iter()
            .rev()
            .take(limit)
            .map(|kv| {
                let (k, v) = kv?;
                dec(&k, &v)
            })
            .collect()
    }

    /// Applications held for review.
    pub fn pending_apps(&self) -> Result<Vec<PendingApp>> {
        self.pending
            .iter()
            .map(|kv| {
                let (k, v) = kv?;
                dec(&k, &v)
            })
            .collect()
    }
}

/// The store's answers for the rules, with the effects of the file being judged layered on
/// top (a license cancelled earlier in the same file is A402 for a later application).
pub struct StoreLedger<'a> {
    pub store: &'a Store,
    overlay: HashMap<LicenseNumber, LicenseFacts>,
}

impl<'a> StoreLedger<'a> {
    pub fn new(store: &'a Store) -> Self {
        StoreLedger {
            store,
            overlay: HashMap::new(),
        }
    }
}

impl crate::filing::rules::Ledger for StoreLedger<'_> {
    fn control_number_owner(&self, sender: &str, control: u32) -> Option<[u8; 32]> {
        self.store.control_owner(sender, control).ok().flatten()
    }

    fn license(&self, sender: &str, number: LicenseNumber) -> Option<LicenseFacts> {
        if let Some(f) = self.overlay.get(&number) {
            return Some(f.clone());
        }
        let l = self.store.license(number).ok().flatten()?;
        (l.sender == sender).then(|| LicenseFacts {
            cancelled: l.status == LicenseStatus::Cancelled,
            valid_from: l.valid_from,
            valid_through: l.valid_through,
        })
    }

    fn unit_value_median(&self, hts6: &str, day: NaiveDate) -> Option<Decimal> {
        self.store.unit_value_median(hts6, day).ok().flatten()
    }

    fn applied(&mut self, sender: &str, v: &AppVerdict) {
        if let (Some(n), AppStatus::Cancelled) = (v.license, v.status)
            && let Some(mut f) = self.license(sender, n)
        {
            f.cancelled = true;
            self.overlay.insert(n, f);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::filing::rules::{FileContext, Ledger};

    const SINGLE: &str = include_str!("../tests/fixtures/valid-single.xml");

    fn judge(store: &Store, xml: &str, day: NaiveDate) -> Verdict {
        judge_watching(store, xml, day, &[])
    }

    /// Judge with these countries on the review watch list.
    fn judge_watching(store: &Store, xml: &str, day: NaiveDate, watch: &[&str]) -> Verdict {
        let cfg = Config::parse(crate::config::BUILT_IN, "built-in").unwrap();
        let mut settings = cfg.rule_settings();
        settings.watch_countries = watch
            .iter()
            .map(|c| crate::filing::model::Country::parse(c).unwrap())
            .collect();
        let registered = |id: &str| cfg.partner(id).is_some();
        let sha: [u8; 32] = sha2::Digest::finalize(sha2::Digest::chain_update(
            sha2::Sha256::default(),
            xml.as_bytes(),
        ))
        .into();
        let cx = FileContext {
            inbox_sender: "ACMEBRK",
            is_registered: &registered,
            filing_day: day,
            sha256: sha,
            settings: &settings,
        };
        let mut ledger = StoreLedger::new(store);
        crate::filing::check(xml.as_bytes(), &cx, &mut ledger)
    }

    fn commit(store: &Store, xml: &str, day: NaiveDate) -> (Verdict, Committed) {
        let v = judge(store, xml, day);
        let c = commit_verdict(store, xml, &v, day);
        (v, c)
    }

    fn commit_verdict(store: &Store, xml: &str, v: &Verdict, day: NaiveDate) -> Committed {
        let sha: [u8; 32] = sha2::Digest::finalize(sha2::Digest::chain_update(
            sha2::Sha256::default(),
            xml.as_bytes(),
        ))
        .into();
        let at = day.and_hms_opt(12, 0, 0).unwrap().and_utc();
        store
            .commit(&NewFiling {
                sender: "ACMEBRK",
                facts: FileFacts {
                    file_name: "x.xml",
                    sha256: sha,
                    received_at: at,
                },
                filing_day: day,
                verdict: v,
                ack_name: "x.ack.xml",
                archive: "a/x.xml",
                mail_to: &["a@b.example".to_string()],
            })
            .unwrap()
    }

    #[test]
    fn a_watched_country_holds_the_application_for_review() {
        let d = tempfile::tempdir().unwrap();
        let store = Store::open(d.path()).unwrap();
        let xml = with_control(5);
        let v = judge_watching(&store, &xml, day(), &["CA"]);
        assert_eq!(v.apps[0].status, AppStatus::PendingReview);
        let c = commit_verdict(&store, &xml, &v, day());
        assert!(c.issued.is_empty(), "no license while held");
        let held = store.pending_apps().unwrap();
        assert_eq!(held.len(), 1);
        assert_eq!(held[0].verdict.id.as_deref(), Some("A1"));
        assert!(
            held[0]
                .verdict
                .held_for
                .iter()
                .any(|w| w.contains("CA is on the watch list")),
            "{:?}",
            held[0].verdict.held_for
        );
        assert!(
            store.cells("2026-12").unwrap().is_empty(),
            "held applications stay out of the monitor"
        );
        let ack = String::from_utf8(c.ack).unwrap();
        assert!(ack.contains("status=\"pending-review\""), "{ack}");
        assert!(!ack.contains("<LicenseNumber>"), "{ack}");
    }

    fn day() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 28).unwrap()
    }

    fn with_control(n: u32) -> String {
        SINGLE.replace(
            "<ControlNumber>000000101</ControlNumber>",
            &format!("<ControlNumber>{n}</ControlNumber>"),
        )
    }

    #[test]
    fn issue_correct_cancel_keep_aggregates_in_step() {
        let d = tempfile::tempdir().unwrap();
        let store = Store::open(d.path()).unwrap();
        let (_, c) = commit(&store, &with_control(1), day());
        assert_eq!(c.issued.len(), 1);
        let n = c.issued[0];
        assert_eq!(n, LicenseNumber::new(2026, 1));
        let audit = store.audit_tail(5).unwrap();
        assert_eq!(audit[0].kind, "receive");
        assert!(
            audit[0]
                .detail
                .ends_with(&format!("accepted (1 applications); issued {n}")),
            "{}",
            audit[0].detail
        );
        let cells = store.cells("2026-12").unwrap();
        let origin = cells
            .iter()
            .find(|c| c.1 == "origin" && c.2 == "CA")
            .unwrap();
        assert_eq!(origin.3.licenses, 1);
        assert_eq!(origin.3.kg.to_string(), "12500.000");
        assert_eq!(origin.3.importers.len(), 1);

        // A correction replaces the data: 2 products of the same category count one license.
        let corrected = with_control(2)
            .replace(
                "action=\"new\"",
                &format!("action=\"correct\" license=\"{n}\""),
            )
            .replace(
                "<QuantityKg>12500.000</QuantityKg>",
                "<QuantityKg>1000</QuantityKg>",
            );
        let (v, _) = commit(&store, &corrected, day());
        assert_eq!(
            v.apps[0].status,
            AppStatus::Corrected,
            "{:?}",
            v.apps[0].errors
        );
        let cells = store.cells("2026-12").unwrap();
        let origin = cells
            .iter()
            .find(|c| c.1 == "origin" && c.2 == "CA")
            .unwrap();
        assert_eq!((origin.3.licenses, origin.3.kg), (1, Decimal::from(1000)));
        assert_eq!(store.license(n).unwrap().unwrap().history.len(), 2);

        let cancel = format!(
            "<LicenseFiling xmlns=\"urn:aim:filing:1\" version=\"1.0\"><Interchange><SenderId>ACMEBRK</SenderId><ControlNumber>3</ControlNumber><CreatedAt>2026-11-28T10:00:00Z</CreatedAt></Interchange><Application id=\"C\" action=\"cancel\" license=\"{n}\"><Reason>no shipment</Reason></Application></LicenseFiling>"
        );
        let (v, _) = commit(&store, &cancel, day());
        assert_eq!(v.apps[0].status, AppStatus::Cancelled);
        assert!(
            store.cells("2026-12").unwrap().is_empty(),
            "a cancelled license leaves the aggregates"
        );
        assert_eq!(
            store.license(n).unwrap().unwrap().status,
            LicenseStatus::Cancelled
        );
        // Cancelling again: A402.
        let again = cancel.replace("<ControlNumber>3<", "<ControlNumber>4<");
        let v = judge(&store, &again, day());
        assert_eq!(v.apps[0].errors[0].code, crate::filing::codes::Code::A402);
    }

    #[test]
    fn sequence_survives_reopening_and_control_numbers_are_kept() {
        let d = tempfile::tempdir().unwrap();
        {
            let store = Store::open(d.path()).unwrap();
            commit(&store, &with_control(1), day());
            commit(&store, &with_control(2), day());
            store.flush().unwrap();
        }
        let store = Store::open(d.path()).unwrap();
        let (_, c) = commit(&store, &with_control(3), day());
        assert_eq!(c.issued, vec![LicenseNumber::new(2026, 3)]);
        assert!(store.control_owner("ACMEBRK", 2).unwrap().is_some());
        // Same number, different bytes: F005.
        let v = judge(
            &store,
            &with_control(2).replace("Jane Roe", "John Roe"),
            day(),
        );
        assert_eq!(v.file_error.unwrap().code, crate::filing::codes::Code::F005);
        assert_eq!(store.licenses_of("ACMEBRK", 10).unwrap().len(), 3);
    }

    #[test]
    fn unfinished_deliveries_until_marked_done() {
        let d = tempfile::tempdir().unwrap();
        let store = Store::open(d.path()).unwrap();
        let xml = with_control(9);
        commit(&store, &xml, day());
        let sha: [u8; 32] = sha2::Digest::finalize(sha2::Digest::chain_update(
            sha2::Sha256::default(),
            xml.as_bytes(),
        ))
        .into();
        assert_eq!(store.unfinished().unwrap().len(), 1);
        store.mark_done("ACMEBRK", &sha, 0).unwrap();
        assert!(store.unfinished().unwrap().is_empty());
        let again = Delivery {
            file_name: "y.xml".into(),
            ack_name: "y.ack.xml".into(),
            received_at: Utc::now(),
            archive: "a/y.xml".into(),
            done: false,
        };
        let (r, i) = store
            .add_delivery("ACMEBRK", &sha, again, &["a@b.example".into()])
            .unwrap();
        assert_eq!((i, r.deliveries.len()), (1, 2));
        assert_eq!(store.unfinished().unwrap().len(), 1);
    }

    #[test]
    fn mail_jobs_move_through_their_states() {
        let d = tempfile::tempdir().unwrap();
        let store = Store::open(d.path()).unwrap();
        commit(&store, &with_control(1), day());
        commit(&store, &with_control(2), day());
        let now = Utc::now();
        let due = store.due_mail(now, 10).unwrap();
        assert_eq!(due.len(), 2);
        let c = store.mail_counts(now - chrono::Duration::days(1)).unwrap();
        assert_eq!((c.queued, c.retrying, c.dead, c.sent_since), (2, 0, 0, 0));
        let mut sent = due[0].clone();
        let old = sent.next_attempt;
        sent.state = MailState::Sent;
        sent.sent_at = Some(now);
        store.settle_mail(old, &sent).unwrap();
        let mut retry = due[1].clone();
        let old = retry.next_attempt;
        retry.state = MailState::Retrying;
        retry.next_attempt = now + chrono::Duration::hours(1);
        store.settle_mail(old, &retry).unwrap();
        assert!(
            store.due_mail(now, 10).unwrap().is_empty(),
            "the retry is not due yet"
        );
        assert_eq!(
            store.next_mail_due().unwrap(),
            Some(DateTime::from_timestamp_millis(retry.next_attempt.timestamp_millis()).unwrap())
        );
        let c = store.mail_counts(now - chrono::Duration::days(1)).unwrap();
        assert_eq!((c.queued, c.retrying, c.dead, c.sent_since), (0, 1, 0, 1));
        let mut dead = retry.clone();
        dead.state = MailState::Dead;
        dead.last_error = Some("550 no".into());
        store.settle_mail(retry.next_attempt, &dead).unwrap();
        assert_eq!(
            store.dead_letters().unwrap()[0].last_error.as_deref(),
            Some("550 no")
        );
    }

    #[test]
    fn w310_median_needs_twenty_licenses() {
        let d = tempfile::tempdir().unwrap();
        let store = Store::open(d.path()).unwrap();
        for n in 0..19 {
            commit(&store, &with_control(100 + n), day());
        }
        let ledger = StoreLedger::new(&store);
        assert_eq!(ledger.unit_value_median("760612", day()), None);
        commit(&store, &with_control(200), day());
        assert_eq!(
            StoreLedger::new(&store)
                .unit_value_median("760612", day())
                .unwrap()
                .to_string(),
            "3300.00"
        );
        // Six times the median: W310.
        let high = with_control(300).replace(
            "<CustomsValueUsd>41250.00</CustomsValueUsd>",
            "<CustomsValueUsd>247500.01</CustomsValueUsd>",
        );
        let v = judge(&store, &high, day());
        assert!(
            v.apps[0]
                .warnings
                .iter()
                .any(|w| w.code == crate::filing::codes::Code::W310),
            "{:?}",
            v.apps[0]
        );
        let fine = with_control(301).replace(
            "<CustomsValueUsd>41250.00</CustomsValueUsd>",
            "<CustomsValueUsd>206250.00</CustomsValueUsd>",
        );
        let v = judge(&store, &fine, day());
        assert!(
            v.apps[0]
                .warnings
                .iter()
                .all(|w| w.code != crate::filing::codes::Code::W310)
        );
        // Outside the 90-day window the history no longer counts.
        assert_eq!(
            StoreLedger::new(&store).unit_value_median("760612", day() + Days::new(90)),
            None
        );
    }
}
