//! The store's layout, marked in `meta` under `store_layout`, checked before anything else at
//! open. A database without the mark is of layout 2 (the layout of every release before the
//! mark existed). A database of a newer layout than this release knows is refused: reading it
//! with the older code would misread or overwrite what the newer one wrote.
//!
//! Layout 2 → 3 (licenses in groups, `groups`) is done at open, once, in units of change
//! through the journal of at most [`UPGRADE_UNIT`] licenses each: a unit moves its licenses
//! whole (their layout-2 keys removed, their groups written) and counts them under
//! `upgrade_v3` in `meta`, the last one writes the layout mark. A kill stops it between units
//! (or inside one, which the journal finishes or drops); the next open goes on from the
//! licenses still in layout 2. No reader runs before it ends.

use super::codec::dec;
use super::records::License;
use super::{Result, Store, StoreError, keys};
use std::path::Path;

/// The layout this release writes.
pub(crate) const STORE_LAYOUT: u64 = 3;

/// Licenses moved at most by one unit of the upgrade.
pub(crate) const UPGRADE_UNIT: u64 = 2_000;

/// A database's layout before it was ever marked.
const UNMARKED: u64 = 2;

impl Store {
    /// The layout of the database as found (refused when newer than this release knows).
    pub(crate) fn check_layout(meta: &sled::Tree, dir: &Path) -> Result<u64> {
        let found = match meta.get(keys::STORE_LAYOUT)? {
            Some(v) => super::codec::dec_u64(keys::STORE_LAYOUT, &v)?,
            None => UNMARKED,
        };
        if found > STORE_LAYOUT {
            return Err(StoreError::NewerLayout {
                dir: dir.display().to_string(),
                found,
                known: STORE_LAYOUT,
            });
        }
        Ok(found)
    }

    /// Bring a database of layout 2 to layout 3 (see the module's text).
    pub(crate) fn upgrade_to_v3(&self) -> Result<()> {
        let began = std::time::Instant::now();
        // Progress after the first unit, then every 5 s: a million licenses take about 40 s
        // (BENCHMARKS.md).
        let mut said: Option<std::time::Instant> = None;
        let total = loop {
            let (moved, done) = self.transact(|tx| {
                let mut moved = 0u64;
                let mut more = false;
                // Layout 2 keys are the bare license numbers, which sort before every key
                // of layout 3 (`g…`, `s…`).
                for kv in self.trees.licenses.range(..[keys::GROUP].as_slice()) {
                    let (k, v) = kv?;
                    if moved >= UPGRADE_UNIT {
                        more = true;
                        break;
                    }
                    let lic: License = dec(&k, &v)?;
                    if keys::license_of(&k) != Some(lic.number) {
                        return Err(StoreError::Decode {
                            key: keys::show(&k),
                            message: format!("holds license {}", lic.number),
                        });
                    }
                    tx.licenses.remove(k)?;
                    tx.regroup(lic);
                    moved += 1;
                }
                let before = tx.meta.counter(keys::UPGRADE_V3)?;
                tx.meta
                    .insert(keys::UPGRADE_V3, &(before + moved).to_be_bytes())?;
                if !more {
                    tx.meta
                        .insert(keys::STORE_LAYOUT, &STORE_LAYOUT.to_be_bytes())?;
                }
                Ok((before + moved, !more))
            })?;
            self.flush()?;
            if said.is_none_or(|t| t.elapsed() >= std::time::Duration::from_secs(5)) {
                said = Some(std::time::Instant::now());
                tracing::info!(
                    licenses = moved,
                    "store upgrade to layout 3: licenses moved so far"
                );
            }
            if done {
                break moved;
            }
        };
        tracing::info!(
            licenses = total,
            ms = u64::try_from(began.elapsed().as_millis()).unwrap_or(u64::MAX),
            "store upgraded to layout 3 (licenses in groups)"
        );
        Ok(())
    }

    /// Mark the database with this release's layout (once it is in that layout).
    pub(crate) fn mark_layout(&self) -> Result<()> {
        let now = STORE_LAYOUT.to_be_bytes();
        if self.trees.meta.get(keys::STORE_LAYOUT)?.as_deref() != Some(&now[..]) {
            self.trees.meta.insert(keys::STORE_LAYOUT, &now)?;
            self.flush()?;
        }
        Ok(())
    }
}
