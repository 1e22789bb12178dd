//! Creating the template's EventBridge event bus. An existing bus with the same name is reused.

use aws_sdk_eventbridge::Client;
use aws_sdk_eventbridge::operation::create_event_bus::CreateEventBusError;

use crate::ProvisionError;

/// Creates the event bus `name`, or reuses it when it exists.
pub async fn create_event_bus(client: &Client, name: &str) -> Result<(), ProvisionError> {
    match client.create_event_bus().name(name).send().await {
        Ok(_) => {
            tracing::info!(event_bus = name, "created event bus");
            Ok(())
        }
        Err(err) if matches!(err.as_service_error(), Some(CreateEventBusError::ResourceAlreadyExistsException(_))) => {
            tracing::debug!(event_bus = name, "event bus exists; reusing it");
            Ok(())
        }
        Err(err) => Err(ProvisionError::call(format!("event bus {name}"), "CreateEventBus", err)),
    }
}
