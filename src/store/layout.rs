//! The store's layout, marked in `meta` under `store_layout`, checked before anything else at
//! open. A database without the mark is of layout 2 (the layout of every release before the
//! mark existed). A database of a newer layout than this release knows is refused: reading it
//! with the older code would misread or overwrite what the newer one wrote.

use super::{Result, Store, StoreError, keys};
use std::path::Path;

/// The layout this release writes.
pub(crate) const STORE_LAYOUT: u64 = 2;

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
