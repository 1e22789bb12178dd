//! The "permissions doctor": a connection test behind a trait, so the API can hold any
//! implementation (the AWS connector's real probe, a fake in tests). The default answers that
//! testing is not wired for the kind yet.

use async_trait::async_trait;
use serde::Serialize;
use thiserror::Error;

use crate::model::{Credentials, Integration, IntegrationKind};

/// What a connection test found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConnectionReport {
    /// Whether Kushim can collect everything its checks declare.
    pub ok: bool,
    /// Declared permissions the credentials lack (e.g. `iam:GenerateCredentialReport`).
    pub missing_permissions: Vec<String>,
    /// Every permission or call that was checked.
    pub checked: Vec<String>,
    /// Why the test could not connect at all (sanitized), if it could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What a test may need besides the integration.
#[derive(Debug, Clone, Default)]
pub struct TestContext {
    /// The tenant's AWS ExternalId (AWS integrations).
    pub external_id: Option<String>,
    /// The stored credentials (GitHub, Okta).
    pub credentials: Option<Credentials>,
}

/// Why a test could not run.
#[derive(Debug, Error)]
pub enum TestError {
    /// No tester is wired for this kind of integration yet.
    #[error("connection tests for {0} integrations are not available yet")]
    NotWired(IntegrationKind),
    /// The tester itself failed (not the customer's configuration); retrying may work.
    #[error("connection test unavailable: {0}")]
    Unavailable(String),
}

/// Tests an integration's connection and permissions.
#[async_trait]
pub trait ConnectionTester: Send + Sync {
    /// Runs the test. A misconfigured customer side is an `Ok` report with `ok: false`.
    async fn test(&self, integration: &Integration, context: &TestContext) -> Result<ConnectionReport, TestError>;
}

/// The default tester: not wired for any kind.
#[derive(Debug, Clone, Copy, Default)]
pub struct NotWiredTester;

#[async_trait]
impl ConnectionTester for NotWiredTester {
    async fn test(&self, integration: &Integration, _context: &TestContext) -> Result<ConnectionReport, TestError> {
        Err(TestError::NotWired(integration.kind()))
    }
}
