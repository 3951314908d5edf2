//! The one unit of change. Intake's commits and every staff action run as a [`Tx`] over
//! every tree, written whole through the journal (`journal`): issue, correct, cancel, hold,
//! decide, enqueue mail, audit, count. Aggregate deltas are summed per cell and written once
//! at the end, with the license counter and the day's statistics, so a file of 1,000
//! applications touches each cell once.

use super::aggregates::CellDeltas;
use super::codec::{dec, enc};
use super::journal::TxTree;
use super::mail_queue::MailDelta;
use super::records::*;
use super::trees::Trees;
use super::{StoreError, keys};
use super::{postings, unit_values};
use crate::filing::model::{LicenseData, LicenseNumber};
use chrono::{DateTime, Datelike, Days, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;

/// What a unit of change answers: an error ends it, and nothing of it is written.
pub(crate) type TxResult<T> = super::Result<T>;

/// A unit value touched for W310: a new license's value joins the window of its day;
/// anything else makes the window stale.
pub(crate) enum Touch {
    Added(String, Decimal, LicenseNumber, NaiveDate),
    Stale(String),
}

/// The trees of one unit of change and the effects gathered so far.
pub(crate) struct Tx<'t> {
    pub meta: &'t TxTree<'t>,
    pub receipts: &'t TxTree<'t>,
    pub controls: &'t TxTree<'t>,
    pub licenses: &'t TxTree<'t>,
    pub index: &'t TxTree<'t>,
    pub audit: &'t TxTree<'t>,
    pub mail: &'t TxTree<'t>,
    pub mail_done: &'t TxTree<'t>,
    pub agg: &'t TxTree<'t>,
    pub uv: &'t TxTree<'t>,
    pub holds: &'t TxTree<'t>,
    pub decisions: &'t TxTree<'t>,
    deltas: CellDeltas,
    pub(crate) touched: Vec<Touch>,
    days: BTreeMap<NaiveDate, DayStats>,
    on_record: i64,
    /// How the mail queue's counts move (written once, in `finish`).
    pub(crate) mail_moves: MailDelta,
    seq: Option<u64>,
    /// Licenses issued by this unit, written as groups at the end (`groups`).
    issued: BTreeMap<LicenseNumber, License>,
    /// The unit-value buckets this unit changes, each read once and written once at the end
    /// (a bucket rewritten per product line would be copied and encoded up to 120 times).
    uv_buckets: BTreeMap<Vec<u8>, Vec<unit_values::Line>>,
    ids: &'t sled::Db,
}

/// Validity of a license issued on `day` (spec: through the 75th day after it).
pub fn validity(day: NaiveDate) -> (NaiveDate, NaiveDate) {
    (
        day,
        day + Days::new(crate::filing::rules::VALIDITY_DAYS as u64),
    )
}

impl<'t> Tx<'t> {
    pub(crate) fn new(t: &'t Trees<TxTree<'t>>, ids: &'t sled::Db) -> Tx<'t> {
        let Trees {
            meta,
            receipts,
            controls,
            licenses,
            index,
            audit,
            mail,
            mail_done,
            agg,
            uv,
            holds,
            decisions,
        } = t;
        Tx {
            meta,
            receipts,
            controls,
            licenses,
            index,
            audit,
            mail,
            mail_done,
            agg,
            uv,
            holds,
            decisions,
            deltas: CellDeltas::default(),
            touched: Vec::new(),
            days: BTreeMap::new(),
            on_record: 0,
            mail_moves: MailDelta::default(),
            seq: None,
            issued: BTreeMap::new(),
            uv_buckets: BTreeMap::new(),
            ids,
        }
    }

    pub(crate) fn get<T: DeserializeOwned>(tree: &TxTree<'_>, key: &[u8]) -> TxResult<Option<T>> {
        match tree.get(key)? {
            Some(v) => Ok(Some(dec(key, &v)?)),
            None => Ok(None),
        }
    }

    /// Count something for the day `day` (UTC).
    pub(crate) fn count(&mut self, day: NaiveDate, f: impl FnOnce(&mut DayStats)) {
        f(self.days.entry(day).or_default());
    }

    fn next_number(&mut self, year: u16) -> TxResult<LicenseNumber> {
        let seq = match self.seq {
            Some(s) => s,
            None => self.meta.counter(keys::LICENSE_SEQ)?,
        };
        let next = seq + 1;
        if next > u64::from(LicenseNumber::MAX_SEQ) {
            return Err(StoreError::SequenceExhausted(year));
        }
        self.seq = Some(next);
        let next = u32::try_from(next).map_err(|_| StoreError::SequenceExhausted(year))?;
        Ok(LicenseNumber::new(year, next))
    }

    /// Write a license as it now stands: one issued by this unit stays with the unit's new
    /// licenses (written as groups at the end); an older one gets its shadow.
    fn put_license(&mut self, lic: &License) -> TxResult<()> {
        match self.issued.get_mut(&lic.number) {
            Some(new) => *new = lic.clone(),
            None => self.licenses.insert(&keys::shadow(lic.number), enc(lic))?,
        }
        self.index_license(lic)
    }

    fn index_license(&self, lic: &License) -> TxResult<()> {
        for k in index_entries(lic) {
            self.post(&k, true)?;
        }
        Ok(())
    }

    fn unindex(&self, lic: &License) -> TxResult<()> {
        for k in index_entries(lic) {
            self.post(&k, false)?;
        }
        Ok(())
    }

    /// Set (or clear) a license's bit in its index bucket (`postings`); an empty bucket goes.
    pub(crate) fn post(&self, license_key: &[u8], set: bool) -> TxResult<()> {
        let bucket = postings::bucket_of(license_key);
        let was = match self.index.get(&bucket)? {
            Some(v) => postings::bits(&bucket, &v)?,
            None => 0,
        };
        let bit = postings::bit_of(license_key);
        let now = if set { was | bit } else { was & !bit };
        if now == 0 {
            self.index.remove(bucket)
        } else if now != was {
            self.index.insert(bucket, &now.to_be_bytes()[..])
        } else {
            Ok(())
        }
    }

    fn add_unit_values(
        &mut self,
        data: &LicenseData,
        day: NaiveDate,
        n: LicenseNumber,
        new: bool,
    ) -> TxResult<()> {
        for p in &data.products {
            let hts6 = p.hts.hts6();
            let line = unit_values::Line {
                at: unit_values::place(n),
                line: p.line,
                value: p.unit_value(),
            };
            self.rewrite_unit_values(&keys::uv_bucket(hts6, day, n), |lines| {
                unit_values::put(lines, line);
            })?;
            self.touched.push(if new {
                Touch::Added(hts6.to_owned(), line.value, n, day)
            } else {
                Touch::Stale(hts6.to_owned())
            });
        }
        Ok(())
    }

    fn remove_unit_values(&mut self, lic: &License) -> TxResult<()> {
        let at = unit_values::place(lic.number);
        for p in &lic.data.products {
            let hts6 = p.hts.hts6();
            self.rewrite_unit_values(
                &keys::uv_bucket(hts6, lic.valid_from, lic.number),
                |lines| unit_values::take_out(lines, at, p.line),
            )?;
            self.touched.push(Touch::Stale(hts6.to_owned()));
        }
        Ok(())
    }

    /// Change the lines of one unit-value bucket (written at the end; a bucket left without
    /// lines goes).
    pub(crate) fn rewrite_unit_values(
        &mut self,
        bucket: &[u8],
        change: impl FnOnce(&mut Vec<unit_values::Line>),
    ) -> TxResult<()> {
        let lines = match self.uv_buckets.entry(bucket.to_vec()) {
            std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::btree_map::Entry::Vacant(e) => {
                let stored = match self.uv.get(bucket)? {
                    Some(v) => unit_values::lines(bucket, &v)?,
                    None => Vec::new(),
                };
                e.insert(stored)
            }
        };
        change(lines);
        Ok(())
    }

    /// Issue a new license valid from `day`: numbered, indexed, counted in the monitor.
    pub(crate) fn issue(
        &mut self,
        sender: &str,
        data: &LicenseData,
        day: NaiveDate,
        event: LicenseEvent,
    ) -> TxResult<License> {
        let year = u16::try_from(day.year())
            .map_err(|_| StoreError::Invalid(format!("year {} out of range", day.year())))?;
        let n = self.next_number(year)?;
        let (valid_from, valid_through) = validity(day);
        let lic = License {
            number: n,
            sender: sender.to_owned(),
            status: LicenseStatus::Active,
            valid_from,
            valid_through,
            data: data.clone(),
            history: vec![event],
        };
        self.index_license(&lic)?;
        self.issued.insert(n, lic.clone());
        self.deltas.add(data, sender, 1);
        self.add_unit_values(data, day, n, true)?;
        self.on_record += 1;
        self.count(day, |d| d.licenses_issued += 1);
        Ok(lic)
    }

    /// A license as it stands: issued by this unit, its shadow, or its group's copy.
    fn existing(&self, n: LicenseNumber) -> TxResult<License> {
        if let Some(l) = self.issued.get(&n) {
            return Ok(l.clone());
        }
        if let Some(l) = Self::get(self.licenses, &keys::shadow(n))? {
            return Ok(l);
        }
        let lo = keys::group(LicenseNumber::new(n.year, 0));
        if let Some((k, v)) = self.licenses.last_in(&lo, &keys::group(n))? {
            let g = super::groups::Group::parse(&k, v)?;
            if let Some(i) = g.position(n) {
                return g.license(i);
            }
        }
        Err(StoreError::Invalid(format!("license {n} is not on record")))
    }

    /// Move a license of an earlier layout into this unit's groups (the upgrade to layout 3).
    pub(crate) fn regroup(&mut self, lic: License) {
        self.issued.insert(lic.number, lic);
    }

    /// Replace a license's data (number and validity kept); the monitor moves at once.
    pub(crate) fn correct(
        &mut self,
        n: LicenseNumber,
        data: &LicenseData,
        event: LicenseEvent,
    ) -> TxResult<License> {
        let mut lic = self.existing(n)?;
        if lic.status == LicenseStatus::Cancelled {
            return Err(StoreError::Invalid(format!(
                "license {n} is cancelled and cannot be corrected"
            )));
        }
        self.unindex(&lic)?;
        self.remove_unit_values(&lic)?;
        // A correction keeps its license's partner (spec 7.1).
        self.deltas.add(&lic.data, &lic.sender, -1);
        lic.data = data.clone();
        lic.history.push(event);
        self.deltas.add(data, &lic.sender, 1);
        let from = lic.valid_from;
        self.add_unit_values(data, from, n, false)?;
        self.put_license(&lic)?;
        Ok(lic)
    }

    /// Cancel a license: out of the monitor and the W310 history.
    pub(crate) fn cancel(&mut self, n: LicenseNumber, event: LicenseEvent) -> TxResult<License> {
        let mut lic = self.existing(n)?;
        self.unindex(&lic)?;
        if lic.status == LicenseStatus::Active {
            self.deltas.add(&lic.data, &lic.sender, -1);
            self.remove_unit_values(&lic)?;
            self.on_record -= 1;
        }
        lic.status = LicenseStatus::Cancelled;
        lic.history.push(event);
        self.put_license(&lic)?;
        Ok(lic)
    }

    /// Hold an application for review.
    pub(crate) fn hold(&mut self, key: &[u8], app: &PendingApp, day: NaiveDate) -> TxResult<()> {
        self.holds.insert(key, enc(app))?;
        self.count(day, |d| d.held += 1);
        Ok(())
    }

    /// Record a decision on a held application: it leaves the queue for good.
    pub(crate) fn decide(&mut self, key: &[u8], d: &Decided) -> TxResult<()> {
        self.holds.remove(key)?;
        self.decisions.insert(key, enc(d))?;
        if let Decision::Rejected { .. } = d.decision {
            self.count(d.at.date_naive(), |s| s.rejected += 1);
        }
        Ok(())
    }

    /// Queue an ack for mail to the partner's registered addresses (none: no mail).
    pub(crate) fn enqueue_mail(
        &mut self,
        sender: &str,
        to: &[String],
        ack_name: &str,
        ack: &[u8],
        at: DateTime<Utc>,
    ) -> TxResult<()> {
        self.enqueue(sender, to, ack_name, ack.to_vec(), None, at)
    }

    /// Queue the mail of a file's first ack, which its receipt holds: the job names the
    /// receipt instead of copying the bytes.
    pub(crate) fn enqueue_first_ack_mail(
        &mut self,
        sender: &str,
        to: &[String],
        ack_name: &str,
        sha_hex: &str,
        at: DateTime<Utc>,
    ) -> TxResult<()> {
        self.enqueue(
            sender,
            to,
            ack_name,
            Vec::new(),
            Some(sha_hex.to_owned()),
            at,
        )
    }

    fn enqueue(
        &mut self,
        sender: &str,
        to: &[String],
        ack_name: &str,
        ack: Vec<u8>,
        ack_of: Option<String>,
        at: DateTime<Utc>,
    ) -> TxResult<()> {
        if to.is_empty() {
            return Ok(());
        }
        let id = self.ids.generate_id()?;
        let job = MailJob {
            id,
            sender: sender.to_owned(),
            to: to.to_vec(),
            ack_name: ack_name.to_owned(),
            ack,
            ack_of,
            created_at: at,
            attempts: 0,
            next_attempt: at,
            state: MailState::Queued,
            last_error: None,
            sent_at: None,
        };
        self.mail.insert(&keys::mail(at, id), enc(&job))?;
        self.mail_moves.moved(None, Some(MailState::Queued));
        Ok(())
    }

    /// Keep an answered file in the ring of the newest (its slot taken from a fresh id, so
    /// the ring overwrites the oldest and the order survives a restart).
    pub(crate) fn filed(&mut self, mut f: Filed) -> TxResult<()> {
        f.id = self.ids.generate_id()?;
        self.index.insert(&keys::filed(f.id), enc(&f))?;
        Ok(())
    }

    /// Write an audit event, findable by each license it concerns.
    pub(crate) fn audit(&mut self, e: &AuditEvent, licenses: &[LicenseNumber]) -> TxResult<()> {
        let id = self.ids.generate_id()?;
        self.audit.insert(&id.to_be_bytes(), enc(e))?;
        for &n in licenses {
            self.post(&keys::audit_of_license(n, id), true)?;
        }
        Ok(())
    }

    /// Write what was gathered: license groups, unit-value buckets, aggregate cells, the mail
    /// counts, the license counter, the day's statistics.
    pub(crate) fn finish(mut self) -> TxResult<Vec<Touch>> {
        for run in super::groups::runs(self.issued.values()) {
            self.licenses
                .insert(&keys::group(run[0].number), super::groups::encode(&run)?)?;
        }
        for (bucket, mut lines) in std::mem::take(&mut self.uv_buckets) {
            if lines.is_empty() {
                self.uv.remove(bucket)?;
            } else {
                self.uv.insert(bucket, unit_values::value_of(&mut lines))?;
            }
        }
        std::mem::take(&mut self.deltas).apply(self.agg)?;
        std::mem::take(&mut self.mail_moves).apply(self.meta)?;
        if let Some(seq) = self.seq {
            self.meta.insert(keys::LICENSE_SEQ, &seq.to_be_bytes())?;
        }
        if self.on_record != 0 {
            let k = keys::LICENSES_ON_RECORD;
            let now = self.meta.counter(k)?;
            let next = now.checked_add_signed(self.on_record).ok_or_else(|| {
                StoreError::Invalid(format!(
                    "licenses on record would fall below zero ({now} {:+})",
                    self.on_record
                ))
            })?;
            self.meta.insert(k, &next.to_be_bytes())?;
        }
        for (day, add) in std::mem::take(&mut self.days) {
            let k = keys::day(day);
            let mut d: DayStats = Self::get(self.meta, &k)?.unwrap_or_default();
            d.files += add.files;
            d.files_rejected += add.files_rejected;
            d.applications += add.applications;
            d.licenses_issued += add.licenses_issued;
            d.rejected += add.rejected;
            d.held += add.held;
            self.meta.insert(k, enc(&d))?;
        }
        Ok(self.touched)
    }
}

/// Index entries of a license version.
fn index_entries(l: &License) -> Vec<Vec<u8>> {
    let status = match l.status {
        LicenseStatus::Active => "active",
        LicenseStatus::Cancelled => "cancelled",
    };
    let mut v = vec![
        keys::index(keys::BY_SENDER, &l.sender, l.number),
        keys::index(keys::BY_IMPORTER, &l.data.importer, l.number),
        keys::index(keys::BY_STATUS, status, l.number),
        keys::index(keys::BY_DAY, &l.valid_from.to_string(), l.number),
    ];
    if let Some(e) = &l.data.entry_number {
        v.push(keys::index(keys::BY_ENTRY, &e.0, l.number));
    }
    v
}
