//! Canonical bytes and digests. JSON evidence is serialised as RFC 8785 (JSON Canonicalization
//! Scheme) so the same document always has the same bytes, and so the same digest, whatever key
//! order or number formatting it arrived with.

use serde::Serialize;
use sha2::{Digest, Sha256};

/// RFC 8785 canonical bytes of a JSON value.
pub fn canonicalize_json(value: &serde_json::Value) -> Vec<u8> {
    // A `Value` holds only finite numbers and string keys, so canonicalisation cannot fail.
    serde_json_canonicalizer::to_vec(value).unwrap_or_else(|_| value.to_string().into_bytes())
}

/// Lowercase hex SHA-256 of bytes.
pub fn digest_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Lowercase hex SHA-256 of a serialisable value's canonical JSON.
pub fn digest_json<T: Serialize>(value: &T) -> Result<String, serde_json::Error> {
    Ok(digest_hex(&serde_json_canonicalizer::to_vec(value)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_order_and_number_format_do_not_change_the_bytes() {
        let a: serde_json::Value = serde_json::from_str(r#"{"b": 1.0, "a": [true, "x"]}"#).unwrap();
        let b: serde_json::Value = serde_json::from_str(r#"{"a":[true,"x"],"b":1}"#).unwrap();
        assert_eq!(canonicalize_json(&a), canonicalize_json(&b));
        assert_eq!(canonicalize_json(&b), br#"{"a":[true,"x"],"b":1}"#);
        assert_eq!(digest_hex(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
