//! Identifier newtypes. Each id validates its format on construction so that a value of the type
//! is always safe to embed in a storage key (no separators, bounded length, a fixed alphabet).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

use crate::DomainError;

/// Longest id we accept; keeps storage keys well inside DynamoDB's 1 KiB key limit.
pub const MAX_ID_LEN: usize = 64;

fn validate(kind: &'static str, value: &str) -> Result<(), DomainError> {
    let fail = |reason: &str| DomainError::InvalidId { kind, reason: reason.to_owned() };
    if value.is_empty() {
        return Err(fail("must not be empty"));
    }
    if value.len() > MAX_ID_LEN {
        return Err(fail("must be at most 64 characters"));
    }
    if !value.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_') {
        return Err(fail("may contain only lowercase letters, digits, '-' and '_'"));
    }
    Ok(())
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Validates and wraps an id.
            pub fn new(value: impl Into<String>) -> Result<Self, DomainError> {
                let value = value.into();
                validate($kind, &value)?;
                Ok(Self(value))
            }

            /// A fresh random id (UUID v7: time-ordered, so ids sort by creation).
            pub fn generate() -> Self {
                Self(uuid::Uuid::now_v7().simple().to_string())
            }

            /// The id as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = DomainError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::new(s)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let raw = String::deserialize(d)?;
                Self::new(raw).map_err(serde::de::Error::custom)
            }
        }
    };
}

id_type!(
    /// A customer organisation. Only ever taken from verified credentials.
    TenantId,
    "tenant id"
);
id_type!(
    /// One connected system (an AWS account set, a GitHub org, …) of a tenant.
    IntegrationId,
    "integration id"
);
id_type!(
    /// One compliance run (a scheduled or on-demand collection).
    RunId,
    "run id"
);
id_type!(
    /// One unit of collection work sent through the jobs queue.
    JobId,
    "job id"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_well_formed_ids() {
        assert_eq!(TenantId::new("acme-1").unwrap().as_str(), "acme-1");
        assert_eq!(TenantId::generate().as_str().len(), 32);
    }

    #[test]
    fn refuses_separators_and_bad_lengths() {
        for bad in ["", "a#b", "Acme", "a/b", &"x".repeat(65)] {
            assert!(TenantId::new(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn deserialising_validates() {
        assert!(serde_json::from_str::<TenantId>("\"ok\"").is_ok());
        let err = serde_json::from_str::<TenantId>("\"T#1\"").unwrap_err();
        assert!(err.to_string().contains("tenant id"));
    }
}
