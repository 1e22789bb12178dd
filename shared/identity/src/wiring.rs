//! Building the identity service from a function's configuration: `TOKEN_ISSUER` and
//! `TOKEN_AUDIENCE` name the access tokens (defaults suit local use), the table and secrets come
//! from the shared backends.

use kushim_lambda::{Backends, Config, ConfigError};

use crate::signing::CursorKey;
use crate::{Identity, IdentityConfig};

/// The identity service for a function.
pub fn identity(config: &Config, backends: &Backends) -> Result<Identity, ConfigError> {
    let mut cfg = IdentityConfig::default();
    if let Some(iss) = config.vars.get("TOKEN_ISSUER").filter(|v| !v.is_empty()) {
        cfg.issuer = iss.clone();
    }
    if let Some(aud) = config.vars.get("TOKEN_AUDIENCE").filter(|v| !v.is_empty()) {
        cfg.audience = aud.clone();
    }
    Ok(Identity::new(backends.table()?, backends.secrets()?, cfg))
}

/// The cursor key for a function.
pub fn cursor_key(backends: &Backends) -> Result<CursorKey, ConfigError> {
    Ok(CursorKey::new(backends.secrets()?))
}
