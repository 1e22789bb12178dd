//! The table of every function the template declares, mapped to its handler in its own crate.
//! The local platform calls these exactly as Lambda would; a test proves the table and the
//! template name the same binaries.

use std::sync::Arc;

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
}

/// Every binary this build knows, in the template's naming.
pub const BINARIES: &[&str] = &["api-health", "worker-jobs", "planner"];

/// Builds the handler of `binary` with its configuration and the shared backends.
pub fn build(binary: &str, config: &Config, backends: &Backends) -> Result<Option<Handler>, ConfigError> {
    Ok(Some(match binary {
        "api-health" => {
            let state = Arc::new(api_health::State::new(config, backends)?);
            Handler::Http(Arc::new(move |req| {
                let state = state.clone();
                Box::pin(async move { api_health::handle(&state, req).await })
            }))
        }
        "worker-jobs" => {
            let state = Arc::new(worker_jobs::State::new(config, backends)?);
            Handler::Sqs(Arc::new(move |event| {
                let state = state.clone();
                Box::pin(async move { worker_jobs::handle(&state, event).await })
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
        let config = Config::from_lookup([("JOBS_QUEUE_URL".to_owned(), "JobsQueue".to_owned())]).unwrap();
        let template = kushim_template::bundled();
        for f in &template.functions {
            let handler = build(&f.binary, &config, &set.backends()).unwrap().expect("registered");
            let kinds = [!f.routes.is_empty(), !f.sqs_sources.is_empty(), !f.schedules.is_empty()];
            assert_eq!(kinds.iter().filter(|k| **k).count(), 1, "{} must have exactly one kind of trigger", f.binary);
            match handler {
                Handler::Http(_) => assert!(!f.routes.is_empty(), "{} is HTTP but has no route", f.binary),
                Handler::Sqs(_) => assert!(!f.sqs_sources.is_empty(), "{} takes SQS but has no queue", f.binary),
                Handler::Event(_) => assert!(!f.schedules.is_empty(), "{} takes events but has no schedule", f.binary),
            }
        }
    }
}
