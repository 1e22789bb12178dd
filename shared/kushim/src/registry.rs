//! The table of every function the template declares, mapped to its handler in its own crate.
//! The local platform calls these exactly as Lambda would; a test proves the table and the
//! template name the same binaries.

use std::sync::Arc;

use std::collections::HashMap;

use aws_lambda_events::apigw::{ApiGatewayV2CustomAuthorizerSimpleResponse, ApiGatewayV2CustomAuthorizerV2Request};
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use futures::future::BoxFuture;
use kushim_lambda::{Backends, Config, ConfigError, Error};
use lambda_http::{Body, Request, Response};
use lambda_runtime::LambdaEvent;
use serde_json::Value;

/// An HTTP (API Gateway) function.
pub type HttpHandler = Arc<dyn Fn(Request) -> BoxFuture<'static, Result<Response<Body>, Error>> + Send + Sync>;
/// An SQS-triggered function.
pub type SqsHandler =
    Arc<dyn Fn(LambdaEvent<SqsEvent>) -> BoxFuture<'static, Result<SqsBatchResponse, Error>> + Send + Sync>;
/// An HTTP API Lambda authorizer (payload 2.0, simple responses).
pub type AuthorizerHandler = Arc<
    dyn Fn(
            LambdaEvent<ApiGatewayV2CustomAuthorizerV2Request>,
        )
            -> BoxFuture<'static, Result<ApiGatewayV2CustomAuthorizerSimpleResponse<HashMap<String, Value>>, Error>>
        + Send
        + Sync,
>;
/// A function invoked with a JSON event (schedules).
pub type EventHandler = Arc<dyn Fn(LambdaEvent<Value>) -> BoxFuture<'static, Result<Value, Error>> + Send + Sync>;

/// A function's handler, by the kind of event it takes.
#[derive(Clone)]
pub enum Handler {
    /// HTTP.
    Http(HttpHandler),
    /// SQS batches.
    Sqs(SqsHandler),
    /// JSON events.
    Event(EventHandler),
    /// Request authorizer.
    Authorizer(AuthorizerHandler),
}

/// The SDK configuration connectors use to reach customers' clouds, when the platform was given
/// one (tests point it at moto); otherwise connectors read the environment on first use.
pub static CONNECTOR_SDK: std::sync::OnceLock<kushim_adapters::aws::SdkConfig> = std::sync::OnceLock::new();

/// Every binary this build knows, in the template's naming.
pub const BINARIES: &[&str] = &[
    "api-health",
    "worker-jobs",
    "planner",
    "authorizer",
    "api-auth",
    "api-users",
    "api-api-keys",
    "api-tenant",
    "api-audit",
    "api-docs",
    "api-exceptions",
    "api-checks",
    "api-frameworks",
    "api-controls",
    "api-reports",
    "api-evidence",
    "api-exports",
    "api-dead-letters",
    "connector-aws",
    "api-integrations",
    "api-runs",
];

macro_rules! http {
    ($krate:ident, $config:expr, $backends:expr) => {{
        let state = Arc::new($krate::State::new($config, $backends)?);
        Handler::Http(Arc::new(move |req| {
            let state = state.clone();
            Box::pin(async move { $krate::handle(&state, req).await })
        }))
    }};
}

/// Builds the handler of `binary` with its configuration and the shared backends.
pub fn build(binary: &str, config: &Config, backends: &Backends) -> Result<Option<Handler>, ConfigError> {
    Ok(Some(match binary {
        "api-health" => http!(api_health, config, backends),
        "api-auth" => http!(api_auth, config, backends),
        "api-users" => http!(api_users, config, backends),
        "api-api-keys" => http!(api_api_keys, config, backends),
        "api-tenant" => http!(api_tenant, config, backends),
        "api-audit" => http!(api_audit, config, backends),
        "api-docs" => http!(api_docs, config, backends),
        "api-exceptions" => http!(api_exceptions, config, backends),
        "api-checks" => http!(api_checks, config, backends),
        "api-frameworks" => http!(api_frameworks, config, backends),
        "api-controls" => http!(api_controls, config, backends),
        "api-reports" => http!(api_reports, config, backends),
        "api-evidence" => http!(api_evidence, config, backends),
        "api-integrations" => {
            let tester = Arc::new(connector_aws::AwsTester::new(CONNECTOR_SDK.get().cloned()));
            let state = Arc::new(api_integrations::State::new(config, backends)?.with_tester(tester));
            Handler::Http(Arc::new(move |req| {
                let state = state.clone();
                Box::pin(async move { api_integrations::handle(&state, req).await })
            }))
        }
        "api-runs" => http!(api_runs, config, backends),
        "api-exports" => http!(api_exports, config, backends),
        "api-dead-letters" => http!(api_dead_letters, config, backends),
        "authorizer" => {
            let state = Arc::new(authorizer::State::new(config, backends)?);
            Handler::Authorizer(Arc::new(move |event| {
                let state = state.clone();
                Box::pin(async move { authorizer::handle(&state, event).await })
            }))
        }
        "worker-jobs" => {
            let state = Arc::new(worker_jobs::State::new(config, backends)?);
            Handler::Sqs(Arc::new(move |event| {
                let state = state.clone();
                Box::pin(async move { worker_jobs::handle(&state, event).await })
            }))
        }
        "connector-aws" => {
            let sdk = CONNECTOR_SDK.get().cloned();
            let state = Arc::new(connector_aws::State::new(config, backends, sdk)?);
            Handler::Sqs(Arc::new(move |event| {
                let state = state.clone();
                Box::pin(async move { connector_aws::handle(&state, event).await })
            }))
        }
        "planner" => {
            let state = Arc::new(planner::State::new(config, backends)?);
            Handler::Event(Arc::new(move |event| {
                let state = state.clone();
                Box::pin(async move {
                    let summary = planner::handle(&state, event).await?;
                    Ok(serde_json::to_value(summary)?)
                })
            }))
        }
        _ => return Ok(None),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_function_has_a_handler_and_every_handler_a_template_function() {
        let template = kushim_template::bundled();
        let mut declared: Vec<&str> = template.functions.iter().map(|f| f.binary.as_str()).collect();
        declared.sort_unstable();
        let mut known = BINARIES.to_vec();
        known.sort_unstable();
        assert_eq!(declared, known);
    }

    #[test]
    fn every_route_belongs_to_an_http_function_and_each_function_has_one_trigger_kind() {
        let dir = tempfile::tempdir().unwrap();
        let set = kushim_lambda::backends::EmbeddedSet::open(dir.path()).unwrap();
        let template = kushim_template::bundled();
        let names = crate::env::ResourceNames::embedded(template);
        for f in &template.functions {
            // Each function with its own variables, resolved as the local platform resolves them.
            let config = Config::from_lookup(crate::env::function_env(template, f, &names, &[])).unwrap();
            let handler = build(&f.binary, &config, &set.backends()).unwrap().expect("registered");
            let kinds = [!f.routes.is_empty(), !f.sqs_sources.is_empty(), !f.schedules.is_empty()];
            let triggers = kinds.iter().filter(|k| **k).count();
            match handler {
                Handler::Authorizer(_) => assert_eq!(triggers, 0, "{} is an authorizer and has no event", f.binary),
                _ => assert_eq!(triggers, 1, "{} must have exactly one kind of trigger", f.binary),
            }
            match handler {
                Handler::Authorizer(_) => {}
                Handler::Http(_) => assert!(!f.routes.is_empty(), "{} is HTTP but has no route", f.binary),
                Handler::Sqs(_) => assert!(!f.sqs_sources.is_empty(), "{} takes SQS but has no queue", f.binary),
                Handler::Event(_) => assert!(!f.schedules.is_empty(), "{} takes events but has no schedule", f.binary),
            }
        }
    }
}

/// One route a function serves and the access it requires, as the function itself declares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeclaredRoute {
    /// The function's binary.
    pub binary: &'static str,
    /// HTTP method.
    pub method: &'static str,
    /// Path template.
    pub path: &'static str,
    /// What the caller needs.
    pub access: kushim_api::Access,
}

macro_rules! declared {
    ($out:ident, $binary:literal, $krate:ident) => {
        $out.extend($krate::routes().into_iter().map(|r| DeclaredRoute {
            binary: $binary,
            method: r.method,
            path: r.path,
            access: r.access,
        }));
    };
}

/// Every route every API function declares in its own route table (the template must match).
pub fn declared_routes() -> Vec<DeclaredRoute> {
    let mut out = vec![DeclaredRoute {
        binary: "api-health",
        method: "GET",
        path: "/v1/health",
        access: kushim_api::Access::Public,
    }];
    declared!(out, "api-auth", api_auth);
    declared!(out, "api-users", api_users);
    declared!(out, "api-api-keys", api_api_keys);
    declared!(out, "api-tenant", api_tenant);
    declared!(out, "api-audit", api_audit);
    declared!(out, "api-docs", api_docs);
    declared!(out, "api-exceptions", api_exceptions);
    declared!(out, "api-checks", api_checks);
    declared!(out, "api-frameworks", api_frameworks);
    declared!(out, "api-controls", api_controls);
    declared!(out, "api-reports", api_reports);
    declared!(out, "api-evidence", api_evidence);
    declared!(out, "api-integrations", api_integrations);
    declared!(out, "api-runs", api_runs);
    declared!(out, "api-exports", api_exports);
    declared!(out, "api-dead-letters", api_dead_letters);
    out
}
