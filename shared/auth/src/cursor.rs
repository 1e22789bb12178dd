//! Pagination cursors that clients cannot forge or edit: the payload (typically the storage
//! layer's last-evaluated key) travels base64url-encoded next to its HMAC-SHA256, and a cursor is
//! only opened if the MAC matches. The payload is signed, not encrypted: put nothing in it that the
//! client must not read, and include the tenant id in it if a cursor must not cross tenants.

use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use thiserror::Error;

/// Longest cursor accepted by [`open`], in bytes (payloads up to about 3 KiB fit).
pub const MAX_CURSOR_LEN: usize = 4096;

/// Why a cursor was refused. Messages never include the cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Error)]
pub enum CursorError {
    /// Longer than [`MAX_CURSOR_LEN`].
    #[error("cursor is too large")]
    TooLarge,
    /// Not `payload.mac` in base64url, or the payload is not UTF-8.
    #[error("cursor is malformed")]
    Malformed,
    /// The MAC does not match: edited, truncated, or sealed with another key.
    #[error("cursor has been tampered with")]
    BadSignature,
}

/// Seals a payload: `base64url(payload) + "." + base64url(HMAC-SHA256(key, payload))`.
pub fn seal(key: &[u8; 32], payload: &str) -> String {
    let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), payload.as_bytes());
    format!("{}.{}", URL_SAFE_NO_PAD.encode(payload), URL_SAFE_NO_PAD.encode(tag.as_ref()))
}

/// Opens a sealed cursor, checking its size, shape and MAC (in constant time) before returning the
/// payload.
pub fn open(key: &[u8; 32], token: &str) -> Result<String, CursorError> {
    if token.len() > MAX_CURSOR_LEN {
        return Err(CursorError::TooLarge);
    }
    let (payload_b64, tag_b64) = token.split_once('.').ok_or(CursorError::Malformed)?;
    let payload = URL_SAFE_NO_PAD.decode(payload_b64).map_err(|_| CursorError::Malformed)?;
    let tag = URL_SAFE_NO_PAD.decode(tag_b64).map_err(|_| CursorError::Malformed)?;
    hmac::verify(&hmac::Key::new(hmac::HMAC_SHA256, key), &payload, &tag).map_err(|_| CursorError::BadSignature)?;
    String::from_utf8(payload).map_err(|_| CursorError::Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; 32] = [7; 32];

    fn split(cursor: &str) -> (Vec<u8>, Vec<u8>) {
        let (p, m) = cursor.split_once('.').unwrap();
        (URL_SAFE_NO_PAD.decode(p).unwrap(), URL_SAFE_NO_PAD.decode(m).unwrap())
    }

    fn join(payload: &[u8], tag: &[u8]) -> String {
        format!("{}.{}", URL_SAFE_NO_PAD.encode(payload), URL_SAFE_NO_PAD.encode(tag))
    }

    #[test]
    fn given_a_sealed_payload_when_opened_with_the_same_key_then_it_comes_back() {
        for payload in [r#"{"pk":"T#acme","sk":"RUN#42"}"#, "", "ünïcødé ✓"] {
            let cursor = seal(&KEY, payload);
            assert!(!cursor.contains('=') && !cursor.contains('+') && !cursor.contains('/'));
            assert_eq!(open(&KEY, &cursor).unwrap(), payload);
        }
    }

    #[test]
    fn given_a_flipped_payload_byte_when_opened_then_bad_signature() {
        let (mut payload, tag) = split(&seal(&KEY, "page=2&tenant=acme"));
        payload[5] ^= 0x01;
        assert_eq!(open(&KEY, &join(&payload, &tag)), Err(CursorError::BadSignature));
    }

    #[test]
    fn given_a_flipped_mac_byte_or_truncated_mac_when_opened_then_bad_signature() {
        let (payload, mut tag) = split(&seal(&KEY, "page=2"));
        tag[31] ^= 0x80;
        assert_eq!(open(&KEY, &join(&payload, &tag)), Err(CursorError::BadSignature));
        assert_eq!(open(&KEY, &join(&payload, &tag[..16])), Err(CursorError::BadSignature));
        assert_eq!(open(&KEY, &join(&payload, &[])), Err(CursorError::BadSignature));
    }

    #[test]
    fn given_a_cursor_sealed_with_another_key_when_opened_then_bad_signature() {
        let cursor = seal(&[8; 32], "page=2");
        assert_eq!(open(&KEY, &cursor), Err(CursorError::BadSignature));
    }

    #[test]
    fn given_an_oversized_cursor_when_opened_then_too_large() {
        let big = seal(&KEY, &"x".repeat(MAX_CURSOR_LEN));
        assert_eq!(open(&KEY, &big), Err(CursorError::TooLarge));
        // The limit is on the cursor string: the largest accepted payload still round-trips.
        let fits = "y".repeat((MAX_CURSOR_LEN - 44) / 4 * 3);
        assert_eq!(open(&KEY, &seal(&KEY, &fits)).unwrap(), fits);
    }

    #[test]
    fn given_garbage_when_opened_then_malformed() {
        let good = seal(&KEY, "page=2");
        for bad in ["", "no-dot", "a.b.c", "!!!.AAAA", &good.replacen('.', "..", 1), &format!("{good}=")] {
            assert_eq!(open(&KEY, bad), Err(CursorError::Malformed), "{bad:?}");
        }
        // A validly signed payload that is not UTF-8 is refused too.
        let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &KEY), &[0xff, 0xfe]);
        assert_eq!(open(&KEY, &join(&[0xff, 0xfe], tag.as_ref())), Err(CursorError::Malformed));
    }
}
