//! Paging conventions: `limit` is bounded (1-100, default 25), and cursors handed to clients are
//! sealed with an HMAC so they cannot be forged or edited to read past what a query allows.

use kushim_adapters::table::Cursor;
use serde::Serialize;

use crate::{ApiError, Ctx};

/// Default page size.
pub const DEFAULT_LIMIT: u32 = 25;
/// Largest page size.
pub const MAX_LIMIT: u32 = 100;

/// The request's `limit`.
pub fn limit(ctx: &Ctx<'_>) -> Result<u32, ApiError> {
    match ctx.query("limit") {
        None => Ok(DEFAULT_LIMIT),
        Some(raw) => match raw.parse::<u32>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
            _ => Err(ApiError::Validation(format!("limit must be an integer from 1 to {MAX_LIMIT}"))),
        },
    }
}

/// The request's `cursor`, verified.
pub fn cursor(ctx: &Ctx<'_>, key: &[u8; 32]) -> Result<Option<Cursor>, ApiError> {
    match ctx.query("cursor") {
        None => Ok(None),
        Some(token) => kushim_auth::cursor::open(key, &token)
            .map(|inner| Some(Cursor::from_token(inner)))
            .map_err(|_| ApiError::Validation("cursor is invalid or was altered".into())),
    }
}

/// A page as the API returns it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PageBody<T: Serialize> {
    /// The items.
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

impl<T: Serialize> PageBody<T> {
    /// Builds a page, sealing the storage cursor.
    pub fn new(items: Vec<T>, next: Option<Cursor>, key: &[u8; 32]) -> Self {
        Self { items, next_cursor: next.map(|c| kushim_auth::cursor::seal(key, c.as_str())) }
    }
}
