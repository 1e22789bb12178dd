//! Opaque bearer credentials: refresh tokens and API keys. They are random strings shown to their
//! holder once and stored only as a SHA-256 hash, so a leaked table grants nothing.
//!
//! Why a fast hash is right here: a slow, salted hash (argon2) exists to make guessing *low-entropy*
//! secrets such as passwords expensive. These secrets carry 256 random bits, so no amount of
//! guessing, offline or online, gets anywhere, and a plain SHA-256 is already one-way. A fast,
//! unsalted hash is also deterministic, so storage can index credentials by their hash and find
//! them in one lookup, and checking one costs microseconds rather than the 19 MiB and tens of
//! milliseconds a password check costs on every API call.
//!
//! Shapes:
//! - refresh token: `kur_` + 43 base64url characters (32 random bytes);
//! - API key: `kus_<id>_<secret>`, where `<id>` is 12 lowercase letters or digits, public and
//!   used to find the key, and `<secret>` is 43 base64url characters (32 random bytes). The hash
//!   covers the whole string.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::{Rng, RngCore};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Prefix of every refresh token.
pub const REFRESH_TOKEN_PREFIX: &str = "kur_";
/// Prefix of every API key.
pub const API_KEY_PREFIX: &str = "kus_";
/// Length of an API key's public id.
pub const API_KEY_ID_LEN: usize = 12;
/// Random bytes in each secret.
const SECRET_BYTES: usize = 32;
/// Base64url length (no padding) of [`SECRET_BYTES`].
const SECRET_B64_LEN: usize = 43;
/// Alphabet of API key ids.
const ID_ALPHABET: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";
/// Total length of an API key.
const API_KEY_LEN: usize = API_KEY_PREFIX.len() + API_KEY_ID_LEN + 1 + SECRET_B64_LEN;
/// Total length of a refresh token.
const REFRESH_TOKEN_LEN: usize = REFRESH_TOKEN_PREFIX.len() + SECRET_B64_LEN;

/// A freshly generated credential string, to hand to its holder once. Wiped on drop; Debug and
/// errors never show it. Read it with [`ExposeSecret::expose_secret`].
pub struct Secret(SecretString);

impl Secret {
    /// Gives up the wrapper, keeping the value secret.
    pub fn into_secret_string(self) -> SecretString {
        self.0
    }
}

impl ExposeSecret<str> for Secret {
    fn expose_secret(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([REDACTED])")
    }
}

/// The stored form of an opaque credential: lowercase hex SHA-256 of the full credential string.
/// Equality (including [`TokenHash::matches`]) runs in constant time.
#[derive(Clone, Serialize)]
#[serde(transparent)]
pub struct TokenHash(String);

impl TokenHash {
    /// Reads a stored hash: exactly 64 lowercase hex characters.
    pub fn from_hex(hex: &str) -> Option<Self> {
        (hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
            .then(|| Self(hex.to_owned()))
    }

    /// The hex string to store.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `token` hashes to this value, compared in constant time.
    pub fn matches(&self, token: &str) -> bool {
        *self == hash_token(token)
    }
}

impl PartialEq for TokenHash {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
    }
}

impl Eq for TokenHash {}

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Not a secret, but a short prefix is all a log line needs.
        write!(f, "TokenHash({}…)", &self.0[..8])
    }
}

impl<'de> Deserialize<'de> for TokenHash {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Self::from_hex(&raw).ok_or_else(|| serde::de::Error::custom("token hash must be 64 lowercase hex characters"))
    }
}

/// Hashes a full credential string (prefix included) for storage or lookup.
pub fn hash_token(token: &str) -> TokenHash {
    TokenHash(hex::encode(Sha256::digest(token.as_bytes())))
}

fn random_secret_part() -> String {
    let mut bytes = secrecy::zeroize::Zeroizing::new([0u8; SECRET_BYTES]);
    rand::rng().fill_bytes(bytes.as_mut());
    URL_SAFE_NO_PAD.encode(bytes.as_ref())
}

fn is_secret_part(s: &str) -> bool {
    // Decoding (rather than checking the alphabet) also refuses non-canonical trailing bits.
    s.len() == SECRET_B64_LEN && URL_SAFE_NO_PAD.decode(s).is_ok_and(|bytes| bytes.len() == SECRET_BYTES)
}

/// A new refresh token (`kur_…`) and the hash to store for it.
pub fn new_refresh_token() -> (Secret, TokenHash) {
    let token = format!("{REFRESH_TOKEN_PREFIX}{}", random_secret_part());
    let hash = hash_token(&token);
    (Secret(SecretString::from(token)), hash)
}

/// Whether a string has the shape of a refresh token; cheap, to refuse garbage before a lookup.
pub fn is_refresh_token(s: &str) -> bool {
    s.len() == REFRESH_TOKEN_LEN && s.strip_prefix(REFRESH_TOKEN_PREFIX).is_some_and(is_secret_part)
}

/// A freshly created API key.
#[derive(Debug)]
pub struct NewApiKey {
    /// Public id (12 lowercase letters or digits): shown in lists, used to look the key up.
    pub id: String,
    /// The full key, `kus_<id>_<secret>`, shown to its owner once.
    pub secret: Secret,
    /// What to store: the hash of the full key.
    pub hash: TokenHash,
}

/// Creates an API key.
pub fn new_api_key() -> NewApiKey {
    let mut rng = rand::rng();
    let id: String =
        (0..API_KEY_ID_LEN).map(|_| char::from(ID_ALPHABET[rng.random_range(0..ID_ALPHABET.len())])).collect();
    let full = format!("{API_KEY_PREFIX}{id}_{}", random_secret_part());
    let hash = hash_token(&full);
    NewApiKey { id, secret: Secret(SecretString::from(full)), hash }
}

/// Splits a presented API key into its public id and the full key (to hash and compare with
/// [`TokenHash::matches`]). `None` unless it has exactly the shape [`new_api_key`] produces.
pub fn parse_api_key(s: &str) -> Option<(String, SecretString)> {
    if s.len() != API_KEY_LEN || !s.is_ascii() {
        return None;
    }
    let rest = s.strip_prefix(API_KEY_PREFIX)?;
    let (id, rest) = rest.split_at(API_KEY_ID_LEN);
    let secret = rest.strip_prefix('_')?;
    if !id.bytes().all(|b| ID_ALPHABET.contains(&b)) || !is_secret_part(secret) {
        return None;
    }
    Some((id.to_owned(), SecretString::from(s)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_a_new_refresh_token_when_inspected_then_it_has_the_documented_shape() {
        let (token, hash) = new_refresh_token();
        let s = token.expose_secret();
        assert!(s.starts_with("kur_"));
        assert_eq!(s.len(), 4 + 43);
        assert_eq!(URL_SAFE_NO_PAD.decode(&s[4..]).unwrap().len(), 32);
        assert!(is_refresh_token(s));
        assert!(hash.matches(s));
        let (other, _) = new_refresh_token();
        assert_ne!(other.expose_secret(), s);
    }

    #[test]
    fn given_strings_when_checked_as_refresh_tokens_then_only_the_right_shape_passes() {
        let (token, _) = new_refresh_token();
        let s = token.expose_secret();
        assert!(!is_refresh_token(&s.replacen("kur_", "kus_", 1)));
        assert!(!is_refresh_token(&s[..s.len() - 1]));
        assert!(!is_refresh_token(&format!("{s}A")));
        assert!(!is_refresh_token(&format!("kur_{}", "!".repeat(43))));
        assert!(!is_refresh_token(""));
    }

    #[test]
    fn given_a_new_api_key_when_inspected_then_it_has_the_documented_shape() {
        let key = new_api_key();
        assert_eq!(key.id.len(), 12);
        assert!(key.id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()));
        let full = key.secret.expose_secret();
        assert!(full.starts_with(&format!("kus_{}_", key.id)));
        assert_eq!(full.len(), 4 + 12 + 1 + 43);
        assert_eq!(URL_SAFE_NO_PAD.decode(&full[17..]).unwrap().len(), 32);
        assert!(key.hash.matches(full));
        assert_ne!(new_api_key().id, key.id);
    }

    #[test]
    fn given_its_own_output_when_parsing_an_api_key_then_id_and_full_key_come_back() {
        for _ in 0..20 {
            let key = new_api_key();
            let (id, secret) = parse_api_key(key.secret.expose_secret()).unwrap();
            assert_eq!(id, key.id);
            assert_eq!(secret.expose_secret(), key.secret.expose_secret());
            assert!(key.hash.matches(secret.expose_secret()));
        }
    }

    #[test]
    fn given_wrong_prefixes_or_shapes_when_parsing_an_api_key_then_refused() {
        let key = new_api_key();
        let good = key.secret.expose_secret().to_owned();
        let upper_id = format!("kus_{}{}", good[4..16].to_uppercase(), &good[16..]);
        let bad_char = format!("{}!", &good[..good.len() - 1]);
        let non_ascii = format!("{}é", &good[..good.len() - 2]);
        let no_separator = format!("{}-{}", &good[..16], &good[17..]);
        let cases = [
            String::new(),
            good.replacen("kus_", "kur_", 1),
            good.replacen("kus_", "KUS_", 1),
            good[..good.len() - 1].to_owned(),
            format!("{good}A"),
            upper_id,
            bad_char,
            non_ascii,
            no_separator,
            format!("kus_{}_{}", "a".repeat(11), &good[17..]),
        ];
        for case in &cases {
            assert!(parse_api_key(case).is_none(), "{case:?} should be refused");
        }
        assert!(parse_api_key(&good).is_some());
    }

    #[test]
    fn given_a_hash_when_matching_then_only_the_exact_token_matches() {
        let (token, hash) = new_refresh_token();
        let s = token.expose_secret();
        assert!(hash.matches(s));
        assert!(!hash.matches(&s[..s.len() - 1]));
        assert!(!hash.matches(&s.to_uppercase()));
        assert!(!hash.matches(""));
        let (other, _) = new_refresh_token();
        assert!(!hash.matches(other.expose_secret()));
    }

    #[test]
    fn given_known_input_when_hashed_then_the_result_is_hex_sha256() {
        let hash = hash_token("abc");
        assert_eq!(hash.as_str(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(TokenHash::from_hex(hash.as_str()), Some(hash.clone()));
        assert_eq!(TokenHash::from_hex(&hash.as_str().to_uppercase()), None);
        assert_eq!(TokenHash::from_hex(&hash.as_str()[..63]), None);
        let json = serde_json::to_string(&hash).unwrap();
        assert_eq!(serde_json::from_str::<TokenHash>(&json).unwrap(), hash);
        assert!(serde_json::from_str::<TokenHash>("\"nothex\"").is_err());
    }

    #[test]
    fn given_secrets_when_debug_printed_then_they_are_redacted() {
        let key = new_api_key();
        let (refresh, hash) = new_refresh_token();
        let full = key.secret.expose_secret();
        let debug = format!("{key:?} {refresh:?} {hash:?}");
        assert!(!debug.contains(&full[17..]), "API key secret leaked");
        assert!(!debug.contains(&refresh.expose_secret()[4..]), "refresh token leaked");
        assert!(debug.contains("REDACTED"));
        assert!(debug.contains(&key.id), "the public id is useful in logs");
        let (_, parsed) = parse_api_key(full).unwrap();
        assert!(!format!("{parsed:?}").contains(&full[17..]));
    }
}
