//! The store's answers for the rules, with the effects of the file being judged layered on
//! top (a license cancelled earlier in the same file is A402 for a later application). A store
//! error is passed on as such, never turned into a filer's F005 or A401.

use super::Store;
use super::records::LicenseStatus;
use crate::filing::model::LicenseNumber;
use crate::filing::rules::{AppStatus, AppVerdict, LedgerError, LedgerResult, LicenseFacts};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use std::collections::HashMap;

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

fn ledger_err(e: super::StoreError) -> LedgerError {
    LedgerError(e.to_string())
}

impl crate::filing::rules::Ledger for StoreLedger<'_> {
    fn control_number_owner(&self, sender: &str, control: u32) -> LedgerResult<Option<[u8; 32]>> {
        self.store
            .control_owner(sender, control)
            .map_err(ledger_err)
    }

    fn license(&self, sender: &str, number: LicenseNumber) -> LedgerResult<Option<LicenseFacts>> {
        if let Some(f) = self.overlay.get(&number) {
            return Ok(Some(f.clone()));
        }
        let Some(l) = self.store.license(number).map_err(ledger_err)? else {
            return Ok(None);
        };
        Ok((l.sender == sender).then(|| LicenseFacts {
            cancelled: l.status == LicenseStatus::Cancelled,
            valid_from: l.valid_from,
            valid_through: l.valid_through,
        }))
    }

    fn unit_value_median(&self, hts6: &str, day: NaiveDate) -> LedgerResult<Option<Decimal>> {
        self.store.unit_value_median(hts6, day).map_err(ledger_err)
    }

    fn applied(&mut self, sender: &str, v: &AppVerdict) {
        if let (Some(n), AppStatus::Cancelled) = (v.license, v.status)
            && let Ok(Some(mut f)) = self.license(sender, n)
        {
            f.cancelled = true;
            self.overlay.insert(n, f);
        }
    }
}
