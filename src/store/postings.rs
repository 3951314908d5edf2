//! The searches' index and the audit's entries of licenses as postings (layout 4): the
//! licenses filed under one value of one kind (a sender, an importer, a status, a day, an
//! entry number) are kept as one key per *bucket* of 64 consecutive license numbers, whose
//! value is a bitmap of the numbers in it.
//!
//! A bucket's key is the key a license of layout 3 had, `kind 0 value 0 year seq`, with `seq`
//! rounded down to its bucket, so everything that walks the index in key order still sees
//! keys in the same order: a walk expands each bucket into one key per license (the key that
//! license had in layout 3) and a cursor stays such a key. A file of 1,000 applications writes
//! about 16 keys per sender, day and status instead of 1,000 each.
//!
//! The audit's entries of a license (kind `a`: the number, then the event's id) are kept the
//! same way, one key per event and bucket, so the event of a file of 1,000 applications
//! writes 16 keys, not 1,000; the events of one license are those of its bucket with its bit.
//!
//! Why 64: a license number sequence shared by every partner interleaves their files, so a
//! bigger bucket mostly holds more zero bits; 64 numbers fit a `u64` (8 bytes a value, small
//! enough for sled to keep inline, which bigger values are not: see `groups`).

use super::{Result, StoreError, keys};
use crate::filing::model::LicenseNumber;
use std::ops::Bound;

/// The bits of the sequence number that say where a license sits in its bucket: 64 numbers
/// to a bucket.
const IN_BUCKET: u8 = 63;

/// Where the license number's last byte sits in a key: the searches' keys end in the number;
/// an audit entry's number is followed by the event's id (8 bytes).
fn seq_byte(key: &[u8]) -> Option<usize> {
    let tail = if key.first() == Some(&keys::AUDIT_OF_LICENSE) {
        8
    } else {
        0
    };
    key.len().checked_sub(tail + 1)
}

/// The key of the bucket that holds the license whose layout-3 key is `license_key`.
pub(crate) fn bucket_of(license_key: &[u8]) -> Vec<u8> {
    let mut k = license_key.to_vec();
    if let Some(b) = seq_byte(&k).and_then(|i| k.get_mut(i)) {
        *b &= !IN_BUCKET;
    }
    k
}

/// The bit of the license whose key is `license_key` in its bucket's bitmap.
pub(crate) fn bit_of(license_key: &[u8]) -> u64 {
    seq_byte(license_key)
        .and_then(|i| license_key.get(i))
        .map_or(0, |b| 1u64 << u32::from(b & IN_BUCKET))
}

/// The bit of license `n` in its bucket's bitmap.
pub(crate) fn bit(n: LicenseNumber) -> u64 {
    1u64 << (n.seq & u32::from(IN_BUCKET))
}

/// The first number of the bucket that holds license `n`.
pub(crate) fn bucket_first(n: LicenseNumber) -> LicenseNumber {
    LicenseNumber::new(n.year, n.seq & !u32::from(IN_BUCKET))
}

/// A bucket's bitmap from its stored value.
pub(crate) fn bits(key: &[u8], value: &[u8]) -> Result<u64> {
    let raw: [u8; 8] = value.try_into().map_err(|_| StoreError::Decode {
        key: keys::show(key),
        message: format!("an index bucket of {} bytes, not 8", value.len()),
    })?;
    Ok(u64::from_be_bytes(raw))
}

/// The keys of the licenses a bucket holds (one per set bit), in key order or reversed.
pub(crate) fn members(
    bucket: &[u8],
    bits: u64,
    backward: bool,
) -> impl Iterator<Item = Vec<u8>> + use<> {
    let base = bucket.to_vec();
    let order: Box<dyn Iterator<Item = u8>> = if backward {
        Box::new((0..=IN_BUCKET).rev())
    } else {
        Box::new(0..=IN_BUCKET)
    };
    order
        .filter(move |i| bits & (1u64 << u32::from(*i)) != 0)
        .map(move |i| {
            let mut k = base.clone();
            if let Some(b) = seq_byte(&k).and_then(|at| k.get_mut(at)) {
                *b = (*b & !IN_BUCKET) | i;
            }
            k
        })
}

/// The buckets to read for the license keys of `range`: a cursor that starts the range
/// (a license's key) lies inside its bucket, whose key is lower, so the bucket is read too and
/// the keys before the cursor are left out by [`within`].
pub(crate) fn bucket_range(
    range: &(Bound<Vec<u8>>, Bound<Vec<u8>>),
) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
    let start = match &range.0 {
        Bound::Excluded(a) => Bound::Included(bucket_of(a)),
        b => b.clone(),
    };
    (start, range.1.clone())
}

/// Whether a license key lies in `range`.
pub(crate) fn within(range: &(Bound<Vec<u8>>, Bound<Vec<u8>>), k: &[u8]) -> bool {
    let above = match &range.0 {
        Bound::Included(lo) => k >= lo.as_slice(),
        Bound::Excluded(lo) => k > lo.as_slice(),
        Bound::Unbounded => true,
    };
    let below = match &range.1 {
        Bound::Included(hi) => k <= hi.as_slice(),
        Bound::Excluded(hi) => k < hi.as_slice(),
        Bound::Unbounded => true,
    };
    above && below
}

/// The license keys of the buckets of an index walk, in the walk's direction: buckets read
/// from `rows` (key, value), expanded, and cut to `range`.
pub(crate) fn expand<I>(
    rows: I,
    range: (Bound<Vec<u8>>, Bound<Vec<u8>>),
    backward: bool,
) -> impl Iterator<Item = Result<Vec<u8>>>
where
    I: Iterator<Item = Result<(sled::IVec, sled::IVec)>>,
{
    rows.flat_map(move |kv| -> Box<dyn Iterator<Item = Result<Vec<u8>>>> {
        match kv.and_then(|(k, v)| Ok((bits(&k, &v)?, k))) {
            Ok((b, k)) => {
                let range = range.clone();
                Box::new(
                    members(&k, b, backward)
                        .filter(move |m| within(&range, m))
                        .map(Ok),
                )
            }
            Err(e) => Box::new(std::iter::once(Err(e))),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(seq: u32) -> Vec<u8> {
        keys::index(keys::BY_SENDER, "ACMEBRK", LicenseNumber::new(2026, seq))
    }

    #[test]
    fn a_bucket_holds_64_consecutive_numbers_and_sorts_before_them() {
        assert_eq!(bucket_of(&key(130)), key(128));
        assert_eq!(bucket_of(&key(191)), key(128));
        assert_eq!(bucket_of(&key(192)), key(192));
        assert!(bucket_of(&key(150)) <= key(150));
        assert_eq!(bit_of(&key(128)), 1);
        assert_eq!(bit_of(&key(131)), 8);
        assert_eq!(bit_of(&key(191)), 1 << 63);
    }

    #[test]
    fn members_are_the_keys_the_licenses_had_in_either_direction() {
        let b = bit_of(&key(129)) | bit_of(&key(140)) | bit_of(&key(191));
        let fwd: Vec<_> = members(&key(128), b, false).collect();
        assert_eq!(fwd, vec![key(129), key(140), key(191)]);
        let back: Vec<_> = members(&key(128), b, true).collect();
        assert_eq!(back, vec![key(191), key(140), key(129)]);
    }

    #[test]
    fn a_cursor_inside_a_bucket_reads_the_bucket_and_skips_what_lies_before_it() {
        let range = (Bound::Excluded(key(140)), Bound::Excluded(key(10_000)));
        let buckets = bucket_range(&range);
        assert_eq!(buckets.0, Bound::Included(key(128)));
        let b = bit_of(&key(129)) | bit_of(&key(140)) | bit_of(&key(141));
        let row = Ok((
            sled::IVec::from(key(128)),
            sled::IVec::from(&b.to_be_bytes()[..]),
        ));
        let got: Vec<_> = expand(std::iter::once(row), range, false)
            .collect::<Result<_>>()
            .expect("expand");
        assert_eq!(got, vec![key(141)]);
    }

    #[test]
    fn a_bucket_of_the_wrong_size_is_named_not_guessed() {
        let e = bits(&key(128), b"").expect_err("empty value");
        assert!(e.to_string().contains("index bucket of 0 bytes"), "{e}");
    }
}
