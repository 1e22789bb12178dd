//! Per-tenant request budgets: a fixed one-minute window counted with an atomic add in the table
//! (shared by every concurrent Lambda instance). Over budget, requests get 429 with `Retry-After`
//! set to the end of the window.

use chrono::Utc;
use kushim_adapters::keys;
use kushim_adapters::table::{Table, Update};
use kushim_domain::TenantId;
use serde_json::Value;

use crate::ApiError;

/// Window length.
pub const WINDOW_SECS: i64 = 60;

/// Counts one request for `tenant`; refuses it when the window's budget is spent.
pub async fn check(table: &dyn Table, tenant: &TenantId, per_minute: u32) -> Result<(), ApiError> {
    let now = Utc::now().timestamp();
    let start = now - now.rem_euclid(WINDOW_SECS);
    let mut update = Update::default().add("count", 1);
    update.expires_at = Some(start + 2 * WINDOW_SECS);
    let item = table.update(&keys::rate_window(tenant, start), update, None).await?;
    let count = item.attrs.get("count").and_then(Value::as_i64).unwrap_or(0);
    if count > i64::from(per_minute) {
        return Err(ApiError::RateLimited {
            retry_after_secs: u64::try_from(start + WINDOW_SECS - now).unwrap_or(1).max(1),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use kushim_adapters::table::embedded::EmbeddedTable;

    #[tokio::test]
    async fn given_a_budget_of_three_then_the_fourth_request_is_refused_with_a_delay() {
        let dir = tempfile::tempdir().unwrap();
        let table = EmbeddedTable::open(dir.path()).unwrap();
        let (a, b) = (TenantId::new("a").unwrap(), TenantId::new("b").unwrap());
        // Avoid straddling a window boundary in the middle of the test.
        if Utc::now().timestamp().rem_euclid(WINDOW_SECS) > 55 {
            tokio::time::sleep(std::time::Duration::from_secs(6)).await;
        }
        for _ in 0..3 {
            check(&table, &a, 3).await.unwrap();
        }
        match check(&table, &a, 3).await {
            Err(ApiError::RateLimited { retry_after_secs }) => assert!((1..=60).contains(&retry_after_secs)),
            other => panic!("expected 429, got {other:?}"),
        }
        check(&table, &b, 3).await.expect("another tenant has its own budget");
    }
}
