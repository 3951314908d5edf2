//! The audit log: who did what, when, with what outcome. Intake's events name the daemon;
//! staff events and refusals name the Unix user.

use super::codec::dec;
use super::records::AuditEvent;
use super::{Result, Store, StoreError, keys, postings};
use crate::filing::model::LicenseNumber;

impl Store {
    /// The newest audit events, newest first.
    pub fn audit_tail(&self, limit: usize) -> Result<Vec<AuditEvent>> {
        self.trees
            .audit
            .iter()
            .rev()
            .take(limit)
            .map(|kv| {
                let (k, v) = kv?;
                dec(&k, &v)
            })
            .collect()
    }

    /// The newest audit events about one license, newest first.
    pub fn audit_of_license(&self, n: LicenseNumber, limit: usize) -> Result<Vec<AuditEvent>> {
        // The events of the license's bucket (`postings`), those with its bit.
        let prefix = keys::audit_of_license_prefix(postings::bucket_first(n));
        let mut out = Vec::new();
        for kv in self.trees.index.scan_prefix(&prefix).rev() {
            if out.len() >= limit {
                break;
            }
            let (k, v) = kv?;
            if postings::bits(&k, &v)? & postings::bit(n) == 0 {
                continue;
            }
            let id = &k[prefix.len()..];
            match self.trees.audit.get(id)? {
                Some(v) => out.push(dec(id, &v)?),
                None => {
                    return Err(StoreError::Decode {
                        key: keys::show(&k),
                        message: "an audit index entry names no event".into(),
                    });
                }
            }
        }
        Ok(out)
    }

    /// How many audit events there are.
    pub fn audit_len(&self) -> usize {
        self.trees.audit.len()
    }
}

impl Store {
    /// Record one event on its own (a refused staff request), findable by these licenses.
    pub fn record_audit(&self, e: &AuditEvent, licenses: &[LicenseNumber]) -> Result<()> {
        self.transact(|tx| tx.audit(e, licenses))
    }
}
