//! The AWS EventBus adapter: publishes to an EventBridge event bus with one `PutEvents` call per
//! [`EventBus::publish`]. EventBridge accepts or refuses each entry on its own; refused entries come
//! back as [`PublishOutcome::Failed`], marked retryable when EventBridge says the failure was on its
//! side (throttling or an internal error).

use async_trait::async_trait;
use aws_sdk_eventbridge::Client;
use aws_sdk_eventbridge::config::http::HttpResponse;
use aws_sdk_eventbridge::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_eventbridge::types::PutEventsRequestEntry;

use super::{Event, EventBus, PublishOutcome, validate_events};
use crate::{AdapterError, Result};

/// Entry error codes worth retrying: EventBridge throttled us or failed internally.
const RETRYABLE_ENTRY_CODES: &[&str] = &["ThrottlingException", "InternalException", "InternalFailure"];

/// EventBridge adapter for the EventBus port.
#[derive(Debug, Clone)]
pub struct EventBridgeBus {
    client: Client,
    bus_name: String,
}

impl EventBridgeBus {
    /// Publishes to the event bus `bus_name` (a name or an ARN).
    pub fn new(client: Client, bus_name: impl Into<String>) -> Self {
        Self { client, bus_name: bus_name.into() }
    }

    /// The event bus this adapter publishes to.
    pub fn bus_name(&self) -> &str {
        &self.bus_name
    }
}

#[async_trait]
impl EventBus for EventBridgeBus {
    async fn publish(&self, events: Vec<Event>) -> Result<Vec<PublishOutcome>> {
        validate_events(&events)?;
        let entries = events
            .iter()
            .map(|e| {
                PutEventsRequestEntry::builder()
                    .event_bus_name(&self.bus_name)
                    .source(&e.source)
                    .detail_type(&e.detail_type)
                    .detail(e.detail.to_string())
                    .build()
            })
            .collect();
        let output = self.client.put_events().set_entries(Some(entries)).send().await.map_err(|e| classify(&e))?;

        let results = output.entries();
        if results.len() != events.len() {
            return Err(AdapterError::Unavailable(format!(
                "PutEvents returned {} results for {} events",
                results.len(),
                events.len()
            )));
        }
        Ok(results
            .iter()
            .map(|entry| match (entry.error_code(), entry.event_id()) {
                (Some(code), _) => {
                    tracing::warn!(code, message = entry.error_message().unwrap_or(""), "EventBridge refused an event");
                    PublishOutcome::Failed { code: code.to_owned(), retryable: RETRYABLE_ENTRY_CODES.contains(&code) }
                }
                (None, Some(id)) => PublishOutcome::Published(id.to_owned()),
                // Neither an id nor an error: we cannot tell whether it was accepted.
                (None, None) => PublishOutcome::Failed { code: "MissingEventId".into(), retryable: true },
            })
            .collect())
    }
}

/// Maps an SDK error onto the port's error kinds.
fn classify<E>(err: &SdkError<E, HttpResponse>) -> AdapterError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let detail = DisplayErrorContext(err).to_string();
    match err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            return AdapterError::Unavailable(detail);
        }
        SdkError::ConstructionFailure(_) => return AdapterError::Invalid(detail),
        _ => {}
    }
    let status = err.raw_response().map(|r| r.status().as_u16()).unwrap_or_default();
    match err.code().unwrap_or_default() {
        "ThrottlingException" | "Throttling" | "TooManyRequestsException" | "RequestLimitExceeded" => {
            AdapterError::Throttled(detail)
        }
        "AccessDeniedException"
        | "AccessDenied"
        | "UnrecognizedClientException"
        | "InvalidSignatureException"
        | "ExpiredTokenException"
        | "NotAuthorized" => AdapterError::AccessDenied(detail),
        "ResourceNotFoundException" => AdapterError::NotFound(detail),
        "InternalException" | "InternalFailure" | "ServiceUnavailable" => AdapterError::Unavailable(detail),
        _ if status == 429 => AdapterError::Throttled(detail),
        _ if status == 403 => AdapterError::AccessDenied(detail),
        _ if status >= 500 => AdapterError::Unavailable(detail),
        _ => AdapterError::Invalid(detail),
    }
}
