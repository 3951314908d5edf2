//! How one unit of change reaches the trees whole: a redo journal instead of a sled
//! transaction.
//!
//! Measured (BENCHMARKS.md, "sled itself"): a sled transaction keeps every node copy of its
//! inserts until it ends, so a file of 20,000 applications took 665 MiB in the transaction
//! against 55 MiB for the same inserts made one by one, and 1,000 applications took 120 ms
//! against 81 ms. There is only one writer (the daemon's pipeline), so the transaction's
//! conflict detection buys nothing; what is needed is all-or-nothing after a crash.
//!
//! So a unit of change gathers its writes in [`TxTree`] overlays (reads see the unit's own
//! writes first), then:
//! 1. writes them to the `journal` tree as chunks of at most [`CHUNK`] bytes, then a marker
//!    naming the number of chunks;
//! 2. applies them to their trees one insert at a time (sled frees each node copy at once);
//! 3. removes the journal entry.
//!
//! Nothing is durable until the caller's flush, and sled recovers a prefix of its log, so after
//! a crash the journal holds either an incomplete entry (nothing of it was applied: discarded)
//! or a complete one (applied in part or whole: applied again, each write being a final value,
//! not a delta). [`replay`] does that when the store opens. Readers on other threads may see a
//! unit half applied for the milliseconds step 2 takes; only the writer acts on what it reads.
//!
//! A big file is committed in slices, each a unit of change ([`Part`]), so that its writes are
//! held a slice at a time. Its outcome must still be all or nothing, so a slice also keeps an
//! *undo* record: each key it writes with the value it had before, written to the journal
//! before the slice's redo chunks and kept after it is applied. The file's last unit removes
//! the undo records in the same step as it is applied (its marker says so, and replay does
//! the same). Undo records left at open belong to a file cut short: [`roll_back`] puts every
//! key back as it was, newest slice first, and the file is judged again from the claimed copy.

use super::StoreError;
use super::change::TxResult;
use super::trees::{TreeId, Trees};
use sled::IVec;
use std::cell::RefCell;
use std::collections::BTreeMap;

/// Largest journal chunk, so a big file's writes never sit in memory twice over.
pub(crate) const CHUNK: usize = 1 << 20;
const MARKER: u32 = u32::MAX;
/// The first byte of an undo record's key (`[UNDO][slice u32][chunk u32]`); a redo entry's key
/// starts with its sequence number, far below.
const UNDO: u8 = 0xff;
/// A marker's fifth byte when its unit ends a file in slices (its undo records go with it).
const CONCLUDES: u8 = 1;

/// Which unit of change this is, for a file committed in slices.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Part {
    /// A unit on its own (everything but a big file's slices).
    Whole,
    /// Slice `n` of a file: undo records are kept until the file's last unit.
    Slice(u32),
    /// A file's last unit: applied, it removes the file's undo records.
    Last,
}

/// One tree as a unit of change sees it.
pub(crate) struct TxTree<'t> {
    tree: &'t sled::Tree,
    writes: RefCell<BTreeMap<IVec, Option<IVec>>>,
}

impl<'t> TxTree<'t> {
    pub(crate) fn new(tree: &'t sled::Tree) -> TxTree<'t> {
        TxTree {
            tree,
            writes: RefCell::new(BTreeMap::new()),
        }
    }

    /// A counter (u64) under `key`, 0 when it was never written.
    pub(crate) fn counter(&self, key: &[u8]) -> TxResult<u64> {
        match self.get(key)? {
            Some(v) => super::codec::dec_u64(key, &v),
            None => Ok(0),
        }
    }

    pub(crate) fn get<K: AsRef<[u8]>>(&self, key: K) -> TxResult<Option<IVec>> {
        if let Some(w) = self.writes.borrow().get(key.as_ref()) {
            return Ok(w.clone());
        }
        Ok(self.tree.get(key)?)
    }

    pub(crate) fn insert<K, V>(&self, key: K, value: V) -> TxResult<()>
    where
        K: AsRef<[u8]> + Into<IVec>,
        V: Into<IVec>,
    {
        self.writes
            .borrow_mut()
            .insert(key.into(), Some(value.into()));
        Ok(())
    }

    pub(crate) fn remove<K: AsRef<[u8]> + Into<IVec>>(&self, key: K) -> TxResult<()> {
        self.writes.borrow_mut().insert(key.into(), None);
        Ok(())
    }

    /// The last entry with a key in `lo..=key`, the unit's own writes included.
    pub(crate) fn last_in(&self, lo: &[u8], key: &[u8]) -> TxResult<Option<(IVec, IVec)>> {
        use std::ops::Bound;
        let writes = self.writes.borrow();
        let mut upper = Bound::Included(key.to_vec());
        loop {
            let range = (Bound::Included(lo.to_vec()), upper.clone());
            let stored = self.tree.range::<Vec<u8>, _>(range.clone()).next_back();
            let stored = stored.transpose()?;
            let own = writes
                .range::<[u8], _>((
                    Bound::Included(lo),
                    match &upper {
                        Bound::Included(u) => Bound::Included(u.as_slice()),
                        Bound::Excluded(u) => Bound::Excluded(u.as_slice()),
                        Bound::Unbounded => Bound::Unbounded,
                    },
                ))
                .next_back();
            match (stored, own) {
                // The unit's own write wins over the stored key it names (or a smaller one).
                (s, Some((ok, ov))) if s.as_ref().is_none_or(|(sk, _)| sk <= ok) => match ov {
                    Some(v) => return Ok(Some((ok.clone(), v.clone()))),
                    None => upper = Bound::Excluded(ok.to_vec()),
                },
                (s, _) => return Ok(s),
            }
        }
    }

    fn take(&self) -> BTreeMap<IVec, Option<IVec>> {
        std::mem::take(&mut *self.writes.borrow_mut())
    }
}

/// Write the gathered writes of `trees` through the journal, each frame naming its tree by its
/// [`TreeId`]. An error after the marker leaves the store to be opened anew
/// ([`StoreError::Unsettled`]), which replays the journal.
pub(crate) fn commit(
    journal: &sled::Tree,
    seq: u64,
    targets: &Trees<sled::Tree>,
    trees: &Trees<TxTree<'_>>,
    part: Part,
) -> super::Result<()> {
    let writes: Vec<(TreeId, BTreeMap<IVec, Option<IVec>>)> =
        trees.iter().map(|(id, t)| (id, t.take())).collect();
    if writes.iter().all(|(_, w)| w.is_empty()) && part != Part::Last {
        return Ok(());
    }
    if let Part::Slice(n) = part {
        keep_undo(journal, n, targets, &writes)?;
    }
    let mut chunks = 0u32;
    let mut buf = Vec::with_capacity(CHUNK.min(64 * 1024));
    for (id, w) in &writes {
        for (k, v) in w {
            frame(&mut buf, *id, k, v.as_deref());
            if buf.len() >= CHUNK {
                journal.insert(key(seq, chunks), std::mem::take(&mut buf))?;
                chunks += 1;
            }
        }
    }
    if !buf.is_empty() {
        journal.insert(key(seq, chunks), buf)?;
        chunks += 1;
    }
    let mut marker = chunks.to_be_bytes().to_vec();
    if part == Part::Last {
        marker.push(CONCLUDES);
    }
    journal.insert(key(seq, MARKER), marker)?;
    for (id, w) in writes {
        let tree = targets.get(id);
        for (k, v) in w {
            #[cfg(test)]
            crash_point::tick()?;
            match v {
                Some(v) => tree.insert(k, v).map_err(unsettled)?,
                None => tree.remove(k).map_err(unsettled)?,
            };
        }
    }
    if part == Part::Last {
        drop_undo(journal).map_err(unsettled)?;
    }
    for c in (0..chunks).chain([MARKER]) {
        journal.remove(key(seq, c)).map_err(unsettled)?;
    }
    Ok(())
}

/// Slice `slice`'s undo record: every key it writes with the value it has now (none: the key
/// is new), in chunks, before anything of the slice is journaled or applied.
fn keep_undo(
    journal: &sled::Tree,
    slice: u32,
    targets: &Trees<sled::Tree>,
    writes: &[(TreeId, BTreeMap<IVec, Option<IVec>>)],
) -> super::Result<()> {
    let mut chunk = 0u32;
    let mut buf = Vec::with_capacity(64 * 1024);
    for (id, w) in writes {
        let tree = targets.get(*id);
        for k in w.keys() {
            frame(&mut buf, *id, k, tree.get(k)?.as_deref());
            if buf.len() >= CHUNK {
                journal.insert(undo_key(slice, chunk), std::mem::take(&mut buf))?;
                chunk += 1;
            }
        }
    }
    if !buf.is_empty() {
        journal.insert(undo_key(slice, chunk), buf)?;
    }
    Ok(())
}

fn drop_undo(journal: &sled::Tree) -> sled::Result<()> {
    for k in journal.scan_prefix([UNDO]).keys() {
        journal.remove(k?)?;
    }
    Ok(())
}

/// Undo the slices of a file cut short (a crash, or a slice that failed): every key they
/// wrote goes back to what it was before the first of them, newest slice first; then their
/// undo records go. Each record is read whole before any is applied (a damaged one leaves the
/// trees as they are and says so). Putting back is a final value, so a crash during it is
/// finished by doing it again. Returns how many slices were undone.
pub(crate) fn roll_back(journal: &sled::Tree, targets: &Trees<sled::Tree>) -> super::Result<u32> {
    let mut slices = std::collections::BTreeSet::new();
    for apply in [false, true] {
        // Newest slice first: a key written by two slices ends as the older one found it.
        for kv in journal.scan_prefix([UNDO]).rev() {
            let (k, chunk) = kv?;
            let slice = k
                .get(1..5)
                .and_then(|b| b.try_into().ok())
                .map(u32::from_be_bytes)
                .ok_or_else(|| decode_error(&k, "an undo key is not nine bytes".into()))?;
            slices.insert(slice);
            write_chunk(&k, &chunk, targets, apply)?;
        }
    }
    drop_undo(journal)?;
    Ok(u32::try_from(slices.len()).unwrap_or(u32::MAX))
}

fn undo_key(slice: u32, chunk: u32) -> [u8; 9] {
    let mut k = [UNDO; 9];
    k[1..5].copy_from_slice(&slice.to_be_bytes());
    k[5..].copy_from_slice(&chunk.to_be_bytes());
    k
}

/// A write that failed after the marker: the store must be opened anew, which finishes the
/// unit from the journal. Said in the system's words, as every other database error is.
fn unsettled(e: sled::Error) -> StoreError {
    StoreError::Unsettled(format!(
        "a change was journaled but not applied: {}",
        super::sled_text(&e)
    ))
}

/// Finish what a crash interrupted: apply every complete journal entry again, in order, and
/// drop the incomplete ones (nothing of them reached the trees). Returns how many were
/// applied and how many dropped.
pub(crate) fn replay(
    journal: &sled::Tree,
    targets: &Trees<sled::Tree>,
) -> super::Result<(u32, u32)> {
    let (mut applied, mut dropped) = (0, 0);
    while let Some((first, _)) = journal.range(..[UNDO].as_slice()).next().transpose()? {
        let seq = seq_of(&first)?;
        let marker = journal.get(key(seq, MARKER))?;
        let (chunks, concludes) = match marker.as_deref() {
            Some([a, b, c, d]) => (Some(u32::from_be_bytes([*a, *b, *c, *d])), false),
            Some([a, b, c, d, CONCLUDES]) => (Some(u32::from_be_bytes([*a, *b, *c, *d])), true),
            Some(_) => {
                return Err(decode_error(
                    &first,
                    "journal marker is neither four bytes nor five".into(),
                ));
            }
            None => (None, false),
        };
        let present =
            u32::try_from(journal.scan_prefix(seq.to_be_bytes()).count()).unwrap_or(u32::MAX);
        match chunks {
            Some(n) if present == n + 1 => {
                // Read every frame before applying one: a damaged or unknown frame leaves the
                // trees as they were and the entry in place.
                for apply in [false, true] {
                    for c in 0..n {
                        let k = key(seq, c);
                        let chunk = journal
                            .get(k)?
                            .ok_or_else(|| decode_error(&k, "journal chunk vanished".into()))?;
                        write_chunk(&k, &chunk, targets, apply)?;
                    }
                }
                if concludes {
                    drop_undo(journal)?;
                }
                applied += 1;
            }
            _ => dropped += 1,
        }
        for k in journal.scan_prefix(seq.to_be_bytes()).keys() {
            journal.remove(k?)?;
        }
    }
    Ok((applied, dropped))
}

/// Tests stop a commit after a number of applied writes, as a crash would.
#[cfg(test)]
pub(crate) mod crash_point {
    use std::cell::Cell;
    thread_local!(static LEFT: Cell<Option<usize>> = const { Cell::new(None) });

    /// The next commits on this thread stop after `n` applied writes.
    pub(crate) fn after(n: Option<usize>) {
        LEFT.with(|l| l.set(n));
    }

    /// Writes left before the stop (to measure how many a commit applies).
    #[cfg(test)]
    pub(crate) fn left() -> Option<usize> {
        LEFT.with(Cell::get)
    }

    pub(super) fn tick() -> super::super::Result<()> {
        LEFT.with(|l| match l.get() {
            Some(0) => Err(super::StoreError::Unsettled("stopped as by a crash".into())),
            Some(n) => {
                l.set(Some(n - 1));
                Ok(())
            }
            None => Ok(()),
        })
    }
}

fn key(seq: u64, chunk: u32) -> [u8; 12] {
    let mut k = [0u8; 12];
    k[..8].copy_from_slice(&seq.to_be_bytes());
    k[8..].copy_from_slice(&chunk.to_be_bytes());
    k
}

fn seq_of(k: &[u8]) -> super::Result<u64> {
    k.get(..8)
        .and_then(|b| b.try_into().ok())
        .map(u64::from_be_bytes)
        .ok_or_else(|| decode_error(k, "journal key is not twelve bytes".into()))
}

/// `[tree id][1 = put, 0 = remove][key length u32][key][value length u32][value]`.
#[allow(
    clippy::cast_possible_truncation,
    reason = "keys and values are far below 4 GiB: the largest value is one ack, bounded by max_file_bytes"
)]
fn frame(buf: &mut Vec<u8>, tree: TreeId, k: &[u8], v: Option<&[u8]>) {
    buf.push(tree as u8);
    buf.push(u8::from(v.is_some()));
    buf.extend_from_slice(&(k.len() as u32).to_be_bytes());
    buf.extend_from_slice(k);
    if let Some(v) = v {
        buf.extend_from_slice(&(v.len() as u32).to_be_bytes());
        buf.extend_from_slice(v);
    }
}

/// Read every frame of a chunk (`at` is its key) and, if `apply`, write each to its tree.
fn write_chunk(
    at: &[u8],
    chunk: &[u8],
    targets: &Trees<sled::Tree>,
    apply: bool,
) -> super::Result<()> {
    read_chunk(at, chunk, |id, k, v| {
        if apply {
            let tree = targets.get(id);
            match v {
                Some(v) => tree.insert(k, v)?,
                None => tree.remove(k)?,
            };
        }
        Ok(())
    })
}

/// Each frame of a chunk, in order, to `f`: its tree, key and value (none: a removal).
fn read_chunk(
    at: &[u8],
    mut b: &[u8],
    mut f: impl FnMut(TreeId, &[u8], Option<&[u8]>) -> super::Result<()>,
) -> super::Result<()> {
    let bad = |what: &str| decode_error(at, format!("journal chunk: {what}"));
    let take = |b: &mut &[u8], n: usize| -> super::Result<Vec<u8>> {
        if b.len() < n {
            return Err(bad("cut short"));
        }
        let (h, t) = b.split_at(n);
        *b = t;
        Ok(h.to_vec())
    };
    let len = |v: Vec<u8>| u32::from_be_bytes([v[0], v[1], v[2], v[3]]) as usize;
    while !b.is_empty() {
        let head = take(&mut b, 2)?;
        // A tree this release does not know (a journal left by a newer one): stop, never skip
        // a write of the unit.
        let id = TreeId::from_u8(head[0]).ok_or_else(|| {
            bad(&format!(
                "tree number {} is not known to this release (written by a newer one?)",
                head[0]
            ))
        })?;
        let n = len(take(&mut b, 4)?);
        let k = take(&mut b, n)?;
        match head[1] {
            1 => {
                let n = len(take(&mut b, 4)?);
                f(id, &k, Some(&take(&mut b, n)?))?;
            }
            0 => f(id, &k, None)?,
            _ => return Err(bad("unknown operation")),
        }
    }
    Ok(())
}

fn decode_error(key: &[u8], message: String) -> StoreError {
    StoreError::Decode {
        key: format!("journal/{}", hex::encode(key)),
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> (tempfile::TempDir, sled::Db) {
        let d = tempfile::tempdir().unwrap();
        let db = sled::Config::new().path(d.path()).open().unwrap();
        (d, db)
    }

    fn trees(db: &sled::Db) -> Trees<sled::Tree> {
        Trees::try_new(|id| db.open_tree(id.name())).unwrap()
    }

    #[test]
    fn reads_see_the_units_own_writes_and_nothing_lands_before_commit() {
        let (_d, db) = db();
        let t = db.open_tree("t").unwrap();
        t.insert("a", "old").unwrap();
        let o = TxTree::new(&t);
        o.insert("a", "new").unwrap();
        o.remove("b").unwrap();
        o.insert("c", "C").unwrap();
        assert_eq!(o.get("a").unwrap().unwrap(), "new");
        assert_eq!(o.get("b").unwrap(), None);
        assert_eq!(t.get("a").unwrap().unwrap(), "old");
        assert_eq!(t.get("c").unwrap(), None);
    }

    #[test]
    fn commit_applies_and_leaves_no_journal() {
        let (_d, db) = db();
        let (j, t) = (db.open_tree("journal").unwrap(), trees(&db));
        t.decisions.insert("gone", "x").unwrap();
        let o = t.map(|_, t| TxTree::new(t));
        // Enough to take several chunks.
        for i in 0u32..3000 {
            o.licenses
                .insert(i.to_be_bytes().to_vec(), vec![7u8; 1000])
                .unwrap();
        }
        o.decisions.remove("gone").unwrap();
        o.decisions.insert("kept", "y").unwrap();
        commit(&j, 1, &t, &o, Part::Whole).unwrap();
        assert_eq!(t.licenses.len(), 3000);
        assert_eq!(t.decisions.get("gone").unwrap(), None);
        assert_eq!(t.decisions.get("kept").unwrap().unwrap(), "y");
        assert!(t.meta.is_empty() && t.index.is_empty());
        assert!(j.is_empty());
    }

    #[test]
    fn frames_name_their_tree_by_its_number_not_by_a_position() {
        let (_d, db) = db();
        let (j, t) = (db.open_tree("journal").unwrap(), trees(&db));
        // The frames of an entry, written as an older release wrote them: tree 11 first,
        // then tree 0, then tree 3; each lands in the tree of that number.
        let mut c = Vec::new();
        for (id, k) in [(11u8, "d"), (0, "m"), (3, "l")] {
            c.push(id);
            c.push(1);
            c.extend_from_slice(&1u32.to_be_bytes());
            c.extend_from_slice(k.as_bytes());
            c.extend_from_slice(&1u32.to_be_bytes());
            c.push(b'v');
        }
        j.insert(key(1, 0), c).unwrap();
        j.insert(key(1, MARKER), &1u32.to_be_bytes()).unwrap();
        assert_eq!(replay(&j, &t).unwrap(), (1, 0));
        assert_eq!(t.decisions.get("d").unwrap().unwrap(), "v");
        assert_eq!(t.meta.get("m").unwrap().unwrap(), "v");
        assert_eq!(t.licenses.get("l").unwrap().unwrap(), "v");
        let filled: Vec<TreeId> = t
            .iter()
            .filter(|(_, t)| !t.is_empty())
            .map(|(id, _)| id)
            .collect();
        assert_eq!(
            filled,
            [TreeId::Meta, TreeId::Licenses, TreeId::Decisions],
            "nothing else is written"
        );
        // And what commit writes names the same numbers.
        let mut buf = Vec::new();
        frame(&mut buf, TreeId::Decisions, b"k", None);
        assert_eq!(buf[0], 11);
    }

    #[test]
    fn a_tree_this_release_does_not_know_is_refused_by_its_number() {
        let (_d, db) = db();
        let (j, t) = (db.open_tree("journal").unwrap(), trees(&db));
        let mut c = Vec::new();
        frame(&mut c, TreeId::Meta, b"first", Some(b"1"));
        c.extend_from_slice(&[42, 1, 0, 0, 0, 1, b'k', 0, 0, 0, 1, b'v']);
        j.insert(key(1, 0), c).unwrap();
        j.insert(key(1, MARKER), &1u32.to_be_bytes()).unwrap();
        let e = replay(&j, &t).unwrap_err();
        assert!(e.is_corruption(), "{e}");
        assert!(e.to_string().contains("tree number 42"), "{e}");
        assert!(
            !j.is_empty(),
            "the entry stays for a release that knows the tree"
        );
        assert!(
            t.iter().all(|(_, t)| t.is_empty()),
            "nothing of the entry is applied, not even its known frames"
        );
    }

    #[test]
    fn replay_applies_a_complete_entry_and_drops_an_incomplete_one() {
        let (_d, db) = db();
        let (j, t) = (db.open_tree("journal").unwrap(), trees(&db));
        let a = &t.audit;
        a.insert("stale", "1").unwrap();
        let mut c0 = Vec::new();
        frame(&mut c0, TreeId::Audit, b"k1", Some(b"v1"));
        frame(&mut c0, TreeId::Audit, b"stale", None);
        let mut c1 = Vec::new();
        frame(&mut c1, TreeId::Audit, b"k2", Some(b"v2"));
        j.insert(key(1, 0), c0).unwrap();
        j.insert(key(1, 1), c1).unwrap();
        j.insert(key(1, MARKER), &2u32.to_be_bytes()).unwrap();
        // The next entry was cut off before its marker: none of it may land.
        let mut c2 = Vec::new();
        frame(&mut c2, TreeId::Audit, b"k3", Some(b"v3"));
        j.insert(key(2, 0), c2).unwrap();
        assert_eq!(replay(&j, &t).unwrap(), (1, 1));
        assert_eq!(a.get("k1").unwrap().unwrap(), "v1");
        assert_eq!(a.get("k2").unwrap().unwrap(), "v2");
        assert_eq!(a.get("stale").unwrap(), None);
        assert_eq!(a.get("k3").unwrap(), None);
        assert!(j.is_empty());
        // Applying again is harmless: every write is a final value.
        assert_eq!(replay(&j, &t).unwrap(), (0, 0));
    }

    #[test]
    fn a_damaged_chunk_is_named_not_guessed() {
        let (_d, db) = db();
        let (j, t) = (db.open_tree("journal").unwrap(), trees(&db));
        j.insert(key(1, 0), &[0u8, 1, 0, 0, 0, 9, b'x'][..])
            .unwrap();
        j.insert(key(1, MARKER), &1u32.to_be_bytes()).unwrap();
        let e = replay(&j, &t).unwrap_err();
        assert!(e.is_corruption(), "{e}");
        assert!(e.to_string().contains("cut short"), "{e}");
    }

    #[test]
    fn a_write_failed_after_the_marker_is_said_in_the_systems_words() {
        let full = sled::Error::Io(std::io::Error::from_raw_os_error(28));
        let text = unsettled(full).to_string();
        assert!(
            text.contains("I/O error: No space left on device") && !text.contains("StorageFull"),
            "{text}"
        );
    }
}
