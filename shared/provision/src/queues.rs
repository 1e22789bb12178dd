//! Creating the template's SQS queues. Dead-letter queues are created before the queues that
//! point at them, because a redrive policy names its target by ARN, which only exists once the
//! target does. Each queue gets the template's visibility timeout, retention, delay, long-poll
//! wait and redrive policy.

use std::collections::BTreeMap;

use aws_sdk_sqs::Client;
use aws_sdk_sqs::operation::create_queue::CreateQueueError;
use aws_sdk_sqs::types::QueueAttributeName;
use kushim_template::{QueueDef, Template};

use crate::ProvisionError;
use crate::names::queue_name;

/// The attributes `CreateQueue` gets for `def`; `dlq_arn` is the ARN of its dead-letter queue.
pub(crate) fn queue_attributes(def: &QueueDef, dlq_arn: Option<&str>) -> BTreeMap<QueueAttributeName, String> {
    let mut attributes = BTreeMap::from([
        (QueueAttributeName::VisibilityTimeout, def.visibility_timeout_seconds.to_string()),
        (QueueAttributeName::MessageRetentionPeriod, def.message_retention_seconds.to_string()),
        (QueueAttributeName::DelaySeconds, def.delay_seconds.to_string()),
        (QueueAttributeName::ReceiveMessageWaitTimeSeconds, def.receive_wait_seconds.to_string()),
    ]);
    if let (Some(arn), Some(max)) = (dlq_arn, def.max_receive_count) {
        let policy = serde_json::json!({ "deadLetterTargetArn": arn, "maxReceiveCount": max });
        attributes.insert(QueueAttributeName::RedrivePolicy, policy.to_string());
    }
    if def.fifo {
        attributes.insert(QueueAttributeName::FifoQueue, "true".into());
    }
    attributes
}

/// The template's queues in an order where every dead-letter queue comes before the queues that
/// use it.
fn creation_order(template: &Template) -> Result<Vec<&QueueDef>, ProvisionError> {
    let mut order: Vec<&QueueDef> = Vec::with_capacity(template.queues.len());
    let mut pending: Vec<&QueueDef> = template.queues.iter().collect();
    while !pending.is_empty() {
        let before = pending.len();
        pending.retain(|q| {
            let ready = q.dead_letter_queue.as_ref().is_none_or(|d| order.iter().any(|o| &o.logical_id == d));
            if ready {
                order.push(q);
            }
            !ready
        });
        if pending.len() == before {
            let q = pending[0];
            return Err(ProvisionError::Unsupported {
                resource: format!("queue {}", q.logical_id),
                message: format!(
                    "its dead-letter queue {} is not an AWS::SQS::Queue of the template (or the redrive chain loops)",
                    q.dead_letter_queue.as_deref().unwrap_or("?")
                ),
            });
        }
    }
    Ok(order)
}

/// Creates one queue (or brings an existing one in line with `attributes`) and returns its URL.
pub async fn create_queue(
    client: &Client,
    name: &str,
    attributes: BTreeMap<QueueAttributeName, String>,
) -> Result<String, ProvisionError> {
    let resource = format!("queue {name}");
    let created = client
        .create_queue()
        .queue_name(name)
        .set_attributes(Some(attributes.clone().into_iter().collect()))
        .send()
        .await;
    match created {
        Ok(out) => out.queue_url.ok_or_else(|| ProvisionError::Call {
            resource,
            call: "CreateQueue",
            message: "the response has no queue URL".into(),
        }),
        // Same name, other attributes: reuse the queue and set the template's attributes on it.
        Err(err) if matches!(err.as_service_error(), Some(CreateQueueError::QueueNameExists(_))) => {
            let url = client
                .get_queue_url()
                .queue_name(name)
                .send()
                .await
                .map_err(|e| ProvisionError::call(&resource, "GetQueueUrl", e))?
                .queue_url
                .ok_or_else(|| ProvisionError::Call {
                    resource: resource.clone(),
                    call: "GetQueueUrl",
                    message: "the response has no queue URL".into(),
                })?;
            // FifoQueue cannot be changed after creation, and asking to is an error.
            let settable = attributes.into_iter().filter(|(k, _)| *k != QueueAttributeName::FifoQueue).collect();
            client
                .set_queue_attributes()
                .queue_url(&url)
                .set_attributes(Some(settable))
                .send()
                .await
                .map_err(|e| ProvisionError::call(&resource, "SetQueueAttributes", e))?;
            Ok(url)
        }
        Err(err) => Err(ProvisionError::call(&resource, "CreateQueue", err)),
    }
}

/// The ARN of the queue at `url` (a redrive policy needs it).
pub async fn queue_arn(client: &Client, url: &str) -> Result<String, ProvisionError> {
    let out = client
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| ProvisionError::call(format!("queue {url}"), "GetQueueAttributes", e))?;
    out.attributes.and_then(|mut a| a.remove(&QueueAttributeName::QueueArn)).ok_or_else(|| ProvisionError::Call {
        resource: format!("queue {url}"),
        call: "GetQueueAttributes",
        message: "the response has no QueueArn".into(),
    })
}

/// Creates every queue of the template under `prefix` (dead-letter queues first) and returns
/// their URLs by logical id.
pub async fn create_queues(
    client: &Client,
    template: &Template,
    prefix: &str,
) -> Result<BTreeMap<String, String>, ProvisionError> {
    let order = creation_order(template)?;
    let mut urls: BTreeMap<String, String> = BTreeMap::new();
    let mut arns: BTreeMap<&str, String> = BTreeMap::new();
    for def in order {
        let name = queue_name(prefix, &def.logical_id, def.fifo)?;
        if def.dead_letter_queue.is_some() && def.max_receive_count.is_none() {
            return Err(ProvisionError::Unsupported {
                resource: format!("queue {}", def.logical_id),
                message: "a RedrivePolicy needs maxReceiveCount".into(),
            });
        }
        let dlq_arn = match &def.dead_letter_queue {
            None => None,
            Some(dlq) => Some(match arns.get(dlq.as_str()) {
                Some(arn) => arn.clone(),
                None => {
                    let arn = queue_arn(client, &urls[dlq]).await?;
                    arns.insert(dlq.as_str(), arn.clone());
                    arn
                }
            }),
        };
        let url = create_queue(client, &name, queue_attributes(def, dlq_arn.as_deref())).await?;
        tracing::info!(queue = name, url, "queue ready");
        urls.insert(def.logical_id.clone(), url);
    }
    Ok(urls)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dead_letter_queues_come_first() {
        let template = kushim_template::bundled();
        let order = creation_order(template).unwrap();
        assert_eq!(order.len(), template.queues.len());
        for (i, q) in order.iter().enumerate() {
            if let Some(dlq) = &q.dead_letter_queue {
                let at = order.iter().position(|o| &o.logical_id == dlq).expect("the DLQ is created");
                assert!(at < i, "{dlq} must be created before {}", q.logical_id);
            }
        }
    }

    #[test]
    fn attributes_mirror_the_definition() {
        let jobs = kushim_template::bundled().queue("JobsQueue").expect("JobsQueue");
        let attrs = queue_attributes(jobs, Some("arn:aws:sqs:us-east-1:123456789012:dlq"));
        assert_eq!(attrs[&QueueAttributeName::VisibilityTimeout], jobs.visibility_timeout_seconds.to_string());
        assert_eq!(attrs[&QueueAttributeName::MessageRetentionPeriod], jobs.message_retention_seconds.to_string());
        let policy: serde_json::Value = serde_json::from_str(&attrs[&QueueAttributeName::RedrivePolicy]).unwrap();
        assert_eq!(policy["deadLetterTargetArn"], "arn:aws:sqs:us-east-1:123456789012:dlq");
        assert_eq!(policy["maxReceiveCount"], jobs.max_receive_count.unwrap());
        assert!(!attrs.contains_key(&QueueAttributeName::FifoQueue));
    }

    #[test]
    fn a_missing_dead_letter_queue_is_reported() {
        let mut template = kushim_template::bundled().clone();
        let mut orphan = template.queues[0].clone();
        orphan.logical_id = "Orphan".into();
        orphan.dead_letter_queue = Some("Nowhere".into());
        orphan.max_receive_count = Some(3);
        template.queues.push(orphan);
        match creation_order(&template) {
            Err(ProvisionError::Unsupported { resource, message }) => {
                assert_eq!(resource, "queue Orphan");
                assert!(message.contains("Nowhere"), "{message}");
            }
            other => panic!("expected Unsupported, got {other:?}"),
        }
    }
}
