//! Value encoding: serde JSON behind a version byte (no bincode: readable with any JSON tool,
//! and a future layout change is told apart by the byte). Decoding never guesses: a value
//! that cannot be read is an error naming its key, never a default.

use super::{Result, StoreError};
use serde::{Serialize, de::DeserializeOwned};

pub(crate) const VERSION: u8 = 1;

pub(crate) fn enc<T: Serialize>(v: &T) -> Vec<u8> {
    let mut out = vec![VERSION];
    // Our own plain structs (string keys, no non-finite floats) always serialize.
    serde_json::to_writer(&mut out, v).expect("store records serialize to JSON");
    out
}

pub(crate) fn dec<T: DeserializeOwned>(key: &[u8], bytes: &[u8]) -> Result<T> {
    let err = |message: String| StoreError::Decode {
        key: super::keys::show(key),
        message,
    };
    match bytes.split_first() {
        Some((&VERSION, body)) => serde_json::from_slice(body).map_err(|e| err(e.to_string())),
        Some((v, _)) => Err(err(format!("unknown value version {v}"))),
        None => Err(err("empty value".into())),
    }
}

/// A counter stored as 8 big-endian bytes; anything else is corruption, never zero.
pub(crate) fn dec_u64(key: &[u8], bytes: &[u8]) -> Result<u64> {
    <[u8; 8]>::try_from(bytes)
        .map(u64::from_be_bytes)
        .map_err(|_| StoreError::Decode {
            key: super::keys::show(key),
            message: format!("a counter must be 8 bytes, found {}", bytes.len()),
        })
}

/// A SHA-256 stored as its 32 bytes.
pub(crate) fn dec_sha(key: &[u8], bytes: &[u8]) -> Result<[u8; 32]> {
    <[u8; 32]>::try_from(bytes).map_err(|_| StoreError::Decode {
        key: super::keys::show(key),
        message: format!("a SHA-256 must be 32 bytes, found {}", bytes.len()),
    })
}

/// A SHA-256 written as 64 hex digits in a record.
pub fn sha_from_hex(hex_text: &str) -> Result<[u8; 32]> {
    hex::decode(hex_text)
        .ok()
        .and_then(|v| <[u8; 32]>::try_from(v).ok())
        .ok_or_else(|| StoreError::Decode {
            key: "receipt".into(),
            message: format!("{hex_text:?} is not a SHA-256 in hex"),
        })
}

/// Ack bytes are UTF-8 XML: stored as a JSON string, not as an array of numbers (four times
/// smaller and much faster for a 1,000-application ack).
pub(crate) mod utf8_bytes {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_values_are_errors_not_defaults() {
        assert!(dec_u64(b"license_seq", &[0, 0, 1]).is_err());
        assert_eq!(dec_u64(b"k", &7u64.to_be_bytes()).unwrap(), 7);
        assert!(dec_sha(b"k", &[1; 31]).is_err());
        assert!(sha_from_hex("zz").is_err());
        assert!(dec::<u32>(b"k", &[]).is_err());
        assert!(dec::<u32>(b"k", &[9, b'1']).is_err());
        assert!(dec::<u32>(b"k", &[VERSION, b'x']).is_err());
        assert_eq!(dec::<u32>(b"k", &enc(&5u32)).unwrap(), 5);
    }
}
