//! Licenses in groups (store layout 3). The licenses a unit of change issues are written as
//! values of runs of consecutive numbers (a file's licenses are consecutive), keyed by the
//! run's first number, instead of one key each: sled keeps state per key. A run is cut at
//! [`MAX_GROUP`] licenses, because sled's leaves hold the values themselves. A license
//! changed later (corrected, cancelled) gets its own *shadow* entry, which is read before the
//! group's copy.
//!
//! A group's value: `[3][count u32][end offset u32 × count][license record × count]`, each
//! record encoded as any other (`codec`), so one license is read without decoding its group.

use super::codec::{dec, enc};
use super::records::License;
use super::{Result, Store, StoreError, keys};
use crate::filing::model::LicenseNumber;
use sled::IVec;
use std::collections::BTreeMap;
use std::ops::Bound;

/// The format byte of a group value.
const GROUP_FORMAT: u8 = 3;
/// Licenses at most in one group. sled 0.34 keeps up to 16 entries in a leaf and rewrites the
/// whole leaf as it consolidates; a leaf above 128 KiB (a quarter segment) goes to a blob file.
/// Measured (40 files × 1,000 applications, daemon peak RSS, same hour): groups of 1,024:
/// 150–157 MiB; 64: 132–142; 8: 85–93; 4: 82; one key per license (layout 2): 80–84. So a
/// group stays near the size of a few licenses: leaves stay as small as in layout 2.
pub(crate) const MAX_GROUP: usize = 4;

/// Encode consecutive licenses as one group value.
pub(crate) fn encode(lics: &[&License]) -> Result<Vec<u8>> {
    let bodies: Vec<Vec<u8>> = lics.iter().map(|l| enc(*l)).collect();
    let total: usize = bodies.iter().map(Vec::len).sum();
    let too_big = || StoreError::Invalid(format!("a license group of {total} bytes is too large"));
    let mut out = Vec::with_capacity(5 + 4 * bodies.len() + total);
    out.push(GROUP_FORMAT);
    let count = u32::try_from(bodies.len()).map_err(|_| too_big())?;
    out.extend_from_slice(&count.to_be_bytes());
    let mut end = 0usize;
    for b in &bodies {
        end += b.len();
        let end = u32::try_from(end).map_err(|_| too_big())?;
        out.extend_from_slice(&end.to_be_bytes());
    }
    for b in bodies {
        out.extend_from_slice(&b);
    }
    Ok(out)
}

/// Split licenses (in number order) into groups: runs of consecutive numbers of one year, at
/// most [`MAX_GROUP`] each.
pub(crate) fn runs<'a>(lics: impl IntoIterator<Item = &'a License>) -> Vec<Vec<&'a License>> {
    let mut out: Vec<Vec<&License>> = Vec::new();
    for l in lics {
        match out.last_mut() {
            Some(run)
                if run.len() < MAX_GROUP
                    && run.last().is_some_and(|p| {
                        p.number.year == l.number.year && p.number.seq + 1 == l.number.seq
                    }) =>
            {
                run.push(l)
            }
            _ => out.push(vec![l]),
        }
    }
    out
}

/// A stored group.
pub(crate) struct Group {
    pub first: LicenseNumber,
    value: IVec,
    count: usize,
}

impl Group {
    pub(crate) fn parse(k: &[u8], value: IVec) -> Result<Group> {
        let bad = |m: &str| StoreError::Decode {
            key: keys::show(k),
            message: format!("license group: {m}"),
        };
        let first = keys::group_number(k).ok_or_else(|| bad("key is not g + a license number"))?;
        if value.first() != Some(&GROUP_FORMAT) || value.len() < 5 {
            return Err(bad("unknown format"));
        }
        let count = u32::from_be_bytes([value[1], value[2], value[3], value[4]]) as usize;
        let header = 5 + 4 * count;
        if count == 0 || value.len() < header {
            return Err(bad("cut short"));
        }
        let g = Group {
            first,
            value,
            count,
        };
        if header + g.end(count - 1) != g.value.len() {
            return Err(bad("offsets do not match its length"));
        }
        Ok(g)
    }

    pub(crate) fn len(&self) -> usize {
        self.count
    }

    fn end(&self, i: usize) -> usize {
        let at = 5 + 4 * i;
        u32::from_be_bytes([
            self.value[at],
            self.value[at + 1],
            self.value[at + 2],
            self.value[at + 3],
        ]) as usize
    }

    /// The number at position `i` (below the count, which is a u32).
    #[allow(clippy::cast_possible_truncation)]
    pub(crate) fn number(&self, i: usize) -> LicenseNumber {
        LicenseNumber::new(self.first.year, self.first.seq + i as u32)
    }

    /// Where `n` is in this group, if it is.
    pub(crate) fn position(&self, n: LicenseNumber) -> Option<usize> {
        (n.year == self.first.year && n.seq >= self.first.seq)
            .then(|| (n.seq - self.first.seq) as usize)
            .filter(|i| *i < self.count)
    }

    pub(crate) fn license(&self, i: usize) -> Result<License> {
        let header = 5 + 4 * self.count;
        let start = if i == 0 { 0 } else { self.end(i - 1) };
        let end = self.end(i);
        let key = keys::license(self.number(i));
        if start > end {
            return Err(StoreError::Decode {
                key: keys::show(&key),
                message: "license group: offsets out of order".into(),
            });
        }
        dec(&key, &self.value[header + start..header + end])
    }
}

/// The last entry at or before `key` and at or after `lo` in `tree`.
fn last_at_or_before(tree: &sled::Tree, lo: &[u8], key: &[u8]) -> Result<Option<(IVec, IVec)>> {
    Ok(tree.range(lo..=key).next_back().transpose()?)
}

impl Store {
    /// The group holding `n`, and where in it.
    fn group_of(&self, n: LicenseNumber) -> Result<Option<(Group, usize)>> {
        let lo = keys::group(LicenseNumber::new(n.year, 0));
        let Some((k, v)) = last_at_or_before(&self.trees.licenses, &lo, &keys::group(n))? else {
            return Ok(None);
        };
        let g = Group::parse(&k, v)?;
        Ok(g.position(n).map(|i| (g, i)))
    }

    /// A license as it stands: its shadow (a later change) or its group's copy.
    pub fn license(&self, n: LicenseNumber) -> Result<Option<License>> {
        let sk = keys::shadow(n);
        if let Some(v) = self.trees.licenses.get(sk)? {
            return Ok(Some(dec(&sk, &v)?));
        }
        match self.group_of(n)? {
            Some((g, i)) => Ok(Some(g.license(i)?)),
            None => Ok(None),
        }
    }

    /// [`Store::license`] by the license's key ([`keys::license`]).
    pub(crate) fn license_by_key(&self, k: &[u8]) -> Result<Option<License>> {
        match keys::license_of(k) {
            Some(n) => self.license(n),
            None => Err(StoreError::Decode {
                key: keys::show(k),
                message: "not a license number".into(),
            }),
        }
    }

    pub(crate) fn license_exists(&self, n: LicenseNumber) -> Result<bool> {
        Ok(self.trees.licenses.contains_key(keys::shadow(n))? || self.group_of(n)?.is_some())
    }

    /// Every license whose key ([`keys::license`]) lies within the bounds, in number order
    /// (`backward`: from the last), each as it stands.
    pub(crate) fn walk_licenses(
        &self,
        lo: Bound<Vec<u8>>,
        hi: Bound<Vec<u8>>,
        backward: bool,
    ) -> Result<LicenseWalk<'_>> {
        let gkey = |k: &[u8]| {
            let mut g = vec![keys::GROUP];
            g.extend_from_slice(k);
            g
        };
        // From the group that holds the lower bound (it may start before it).
        let from = match &lo {
            Bound::Included(k) | Bound::Excluded(k) => {
                match last_at_or_before(&self.trees.licenses, &[keys::GROUP], &gkey(k))? {
                    Some((gk, _)) => gk.to_vec(),
                    None => gkey(k),
                }
            }
            Bound::Unbounded => vec![keys::GROUP],
        };
        let to = match &hi {
            Bound::Included(k) | Bound::Excluded(k) => Bound::Included(gkey(k)),
            Bound::Unbounded => Bound::Excluded(vec![keys::GROUP + 1]),
        };
        Ok(LicenseWalk {
            store: self,
            groups: self
                .trees
                .licenses
                .range::<Vec<u8>, _>((Bound::Included(from), to)),
            lo,
            hi,
            backward,
            current: None,
        })
    }
}

impl Store {
    /// How many licenses have keys within the bounds, counted from the groups without reading
    /// a license; at most `cap` (then not exact).
    pub(crate) fn count_licenses(
        &self,
        lo: Bound<Vec<u8>>,
        hi: Bound<Vec<u8>>,
        cap: u64,
    ) -> Result<(u64, bool)> {
        let mut walk = self.walk_licenses(lo, hi, false)?;
        let mut n = 0u64;
        while walk.next_group()? {
            let Some((g, _, _)) = &walk.current else {
                break;
            };
            n += (0..g.len())
                .filter(|i| inside(&walk.lo, &walk.hi, &keys::license(g.number(*i))))
                .count() as u64;
            if n >= cap {
                return Ok((n, false));
            }
        }
        Ok((n, true))
    }
}

/// A walk over licenses in number order (see [`Store::walk_licenses`]).
pub(crate) struct LicenseWalk<'s> {
    store: &'s Store,
    groups: sled::Iter,
    lo: Bound<Vec<u8>>,
    hi: Bound<Vec<u8>>,
    backward: bool,
    /// The group in hand, its shadows by position, and the positions left to give.
    current: Option<(Group, BTreeMap<usize, License>, std::ops::Range<usize>)>,
}

fn inside(lo: &Bound<Vec<u8>>, hi: &Bound<Vec<u8>>, k: &[u8]) -> bool {
    (match lo {
        Bound::Included(l) => k >= l.as_slice(),
        Bound::Excluded(l) => k > l.as_slice(),
        Bound::Unbounded => true,
    }) && (match hi {
        Bound::Included(h) => k <= h.as_slice(),
        Bound::Excluded(h) => k < h.as_slice(),
        Bound::Unbounded => true,
    })
}

impl LicenseWalk<'_> {
    fn next_group(&mut self) -> Result<bool> {
        let next = if self.backward {
            self.groups.next_back()
        } else {
            self.groups.next()
        };
        let Some(kv) = next else {
            return Ok(false);
        };
        let (k, v) = kv?;
        let g = Group::parse(&k, v)?;
        let mut shadows = BTreeMap::new();
        let (first, last) = (g.number(0), g.number(g.len() - 1));
        for kv in self
            .store
            .trees
            .licenses
            .range(keys::shadow(first)..=keys::shadow(last))
        {
            let (sk, sv) = kv?;
            let lic: License = dec(&sk, &sv)?;
            if let Some(i) = g.position(lic.number) {
                shadows.insert(i, lic);
            }
        }
        let n = g.len();
        self.current = Some((g, shadows, 0..n));
        Ok(true)
    }

    fn step(&mut self) -> Result<Option<(Vec<u8>, License)>> {
        loop {
            let Some((g, shadows, left)) = &mut self.current else {
                if !self.next_group()? {
                    return Ok(None);
                }
                continue;
            };
            let next = if self.backward {
                left.next_back()
            } else {
                left.next()
            };
            let Some(i) = next else {
                self.current = None;
                continue;
            };
            let k = keys::license(g.number(i)).to_vec();
            if !inside(&self.lo, &self.hi, &k) {
                continue;
            }
            let lic = match shadows.remove(&i) {
                Some(l) => l,
                None => g.license(i)?,
            };
            return Ok(Some((k, lic)));
        }
    }
}

impl Iterator for LicenseWalk<'_> {
    type Item = Result<(Vec<u8>, License)>;

    fn next(&mut self) -> Option<Self::Item> {
        self.step().transpose()
    }
}
