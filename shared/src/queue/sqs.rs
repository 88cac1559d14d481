//! The SQS delivery queue.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::{
    DeleteMessageBatchRequestEntry, MessageAttributeValue, MessageSystemAttributeName, QueueAttributeName,
    SendMessageBatchRequestEntry,
};

use super::{
    DeliveryEnqueue, ENQUEUE_BATCH, MAX_MESSAGE_BYTES, MAX_SEND_DELAY, QueueConfig, QueueConsumer, QueueDepths,
    RawSend, Received, VisibilityDelay, batches,
};
use crate::model::QueueMessage;
use crate::queue::QueueError;

const FIFO_SUFFIX: &str = ".fifo";

#[derive(Clone)]
pub struct SqsQueue {
    client: Client,
    url: String,
}

impl SqsQueue {
    pub fn new(client: Client, url: impl Into<String>) -> Self {
        Self { client, url: url.into() }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// A FIFO queue's: each webhook's messages in order, one in flight at a time.
    fn is_fifo(&self) -> bool {
        self.url.ends_with(FIFO_SUFFIX)
    }

    /// Creates the queue `name` and its dead-letter queue `name-dlq` if missing (local runner,
    /// tests), as `config` says: messages received `max_receives` times move to the DLQ.
    /// Answers both. A name ending `.fifo` makes FIFO queues (the DLQ `{stem}-dlq.fifo`).
    pub async fn ensure(client: Client, name: &str, config: &QueueConfig) -> Result<(Self, Self), QueueError> {
        let stem = name.strip_suffix(FIFO_SUFFIX);
        let fifo = stem.is_some().to_string();
        let dlq_name = stem.map_or_else(|| format!("{name}-dlq"), |stem| format!("{stem}-dlq{FIFO_SUFFIX}"));
        let fifo_attributes = |request: aws_sdk_sqs::operation::create_queue::builders::CreateQueueFluentBuilder| {
            if stem.is_some() { request.attributes(QueueAttributeName::FifoQueue, fifo.clone()) } else { request }
        };
        let dlq_url = fifo_attributes(client.create_queue().queue_name(dlq_name))
            .attributes(QueueAttributeName::MessageRetentionPeriod, "1209600")
            .attributes(QueueAttributeName::MaximumMessageSize, MAX_MESSAGE_BYTES.to_string())
            .send()
            .await
            .map_err(QueueError::from_sdk)?
            .queue_url
            .ok_or_else(|| QueueError::internal("CreateQueue returned no URL"))?;
        let dlq_arn = client
            .get_queue_attributes()
            .queue_url(&dlq_url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .map_err(QueueError::from_sdk)?
            .attributes
            .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
            .ok_or_else(|| QueueError::internal("the DLQ has no ARN"))?;
        let redrive = serde_json::json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": config.max_receives});
        let url = fifo_attributes(client.create_queue().queue_name(name))
            .attributes(QueueAttributeName::VisibilityTimeout, config.visibility_timeout.as_secs().to_string())
            .attributes(QueueAttributeName::MessageRetentionPeriod, config.retention.as_secs().to_string())
            .attributes(QueueAttributeName::MaximumMessageSize, MAX_MESSAGE_BYTES.to_string())
            .attributes(QueueAttributeName::RedrivePolicy, redrive.to_string())
            .send()
            .await
            .map_err(QueueError::from_sdk)?
            .queue_url
            .ok_or_else(|| QueueError::internal("CreateQueue returned no URL"))?;
        Ok((Self::new(client.clone(), url), Self::new(client, dlq_url)))
    }
}

#[async_trait]
impl DeliveryEnqueue for SqsQueue {
    async fn enqueue(&self, messages: &[QueueMessage], delay: Duration) -> Result<(), QueueError> {
        let delay_seconds = i32::try_from(delay.min(MAX_SEND_DELAY).as_secs()).map_err(QueueError::internal)?;
        for batch in batches(messages)? {
            let entries = batch
                .iter()
                .enumerate()
                .map(|(i, (message, body))| {
                    let entry = SendMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .message_body(body)
                        .message_group_id(message.group());
                    // A FIFO queue orders each webhook's messages and drops a copy of a step's
                    // within its 5-minute deduplication window; it takes no delay per message.
                    // The standard queue's groups are its tenants, served in fair shares.
                    let entry = if self.is_fifo() {
                        entry.message_deduplication_id(message.deduplication_id())
                    } else {
                        entry.delay_seconds(delay_seconds)
                    };
                    entry.build().map_err(QueueError::internal)
                })
                .collect::<Result<Vec<_>, _>>()?;
            let output = self
                .client
                .send_message_batch()
                .queue_url(&self.url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(QueueError::from_sdk)?;
            if let Some(failed) = output.failed.first() {
                return Err(QueueError::unavailable(format!(
                    "SQS refused {} of {} messages: {} {}",
                    output.failed.len(),
                    batch.len(),
                    failed.code,
                    failed.message.as_deref().unwrap_or("")
                )));
            }
        }
        Ok(())
    }
}

#[async_trait]
impl RawSend for SqsQueue {
    async fn send_raw(&self, body: &str, group: Option<&str>, attributes: &[(&str, &str)]) -> Result<(), QueueError> {
        let mut send = self
            .client
            .send_message()
            .queue_url(&self.url)
            .message_body(body)
            .set_message_group_id(group.map(str::to_string));
        for (name, value) in attributes {
            let value = MessageAttributeValue::builder()
                .data_type("String")
                .string_value(*value)
                .build()
                .map_err(QueueError::internal)?;
            send = send.message_attributes(*name, value);
        }
        send.send().await.map_err(QueueError::from_sdk)?;
        Ok(())
    }
}

#[async_trait]
impl VisibilityDelay for SqsQueue {
    async fn delay_message(&self, receipt_handle: &str, delay: Duration) -> Result<(), QueueError> {
        // SQS counts whole seconds; a sub-second delay still waits one.
        let seconds = i32::try_from(delay.as_secs_f64().round().max(1.0) as u64).map_err(QueueError::internal)?;
        self.client
            .change_message_visibility()
            .queue_url(&self.url)
            .receipt_handle(receipt_handle)
            .visibility_timeout(seconds)
            .send()
            .await
            .map_err(QueueError::from_sdk)?;
        Ok(())
    }
}

#[async_trait]
impl QueueConsumer for SqsQueue {
    async fn receive(&self, max: usize, wait: Duration) -> Result<Vec<Received>, QueueError> {
        let output = self
            .client
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(i32::try_from(max.min(ENQUEUE_BATCH)).map_err(QueueError::internal)?)
            .wait_time_seconds(i32::try_from(wait.as_secs().min(20)).map_err(QueueError::internal)?)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await
            .map_err(QueueError::from_sdk)?;
        Ok(output
            .messages
            .unwrap_or_default()
            .into_iter()
            .filter_map(|m| {
                let attributes: HashMap<_, _> = m.attributes.unwrap_or_default();
                let attribute = |name| attributes.get(&name).map(String::as_str).unwrap_or_default();
                let named = |name| attributes.get(&name).cloned();
                Some(Received {
                    receive_count: attribute(MessageSystemAttributeName::ApproximateReceiveCount).parse().unwrap_or(1),
                    sent_at_millis: attribute(MessageSystemAttributeName::SentTimestamp).parse().unwrap_or(0),
                    group: named(MessageSystemAttributeName::MessageGroupId),
                    sequence: named(MessageSystemAttributeName::SequenceNumber),
                    message_id: m.message_id?,
                    receipt_handle: m.receipt_handle?,
                    body: m.body?,
                })
            })
            .collect())
    }

    async fn delete(&self, receipt_handles: &[String]) -> Result<(), QueueError> {
        for chunk in receipt_handles.chunks(ENQUEUE_BATCH) {
            let entries = chunk
                .iter()
                .enumerate()
                .map(|(i, receipt)| {
                    DeleteMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .receipt_handle(receipt)
                        .build()
                        .map_err(QueueError::internal)
                })
                .collect::<Result<Vec<_>, _>>()?;
            self.client
                .delete_message_batch()
                .queue_url(&self.url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(QueueError::from_sdk)?;
        }
        Ok(())
    }

    async fn depths(&self) -> Result<QueueDepths, QueueError> {
        let names = [
            QueueAttributeName::ApproximateNumberOfMessages,
            QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
            QueueAttributeName::ApproximateNumberOfMessagesDelayed,
        ];
        let output = self
            .client
            .get_queue_attributes()
            .queue_url(&self.url)
            .set_attribute_names(Some(names.to_vec()))
            .send()
            .await
            .map_err(QueueError::from_sdk)?;
        let attributes = output.attributes.unwrap_or_default();
        let count = |name: &QueueAttributeName| attributes.get(name).and_then(|n| n.parse().ok()).unwrap_or(0);
        Ok(QueueDepths { visible: count(&names[0]), in_flight: count(&names[1]), delayed: count(&names[2]) })
    }

    fn arn(&self) -> String {
        // The URL ends with the account and the queue's name.
        let mut path = self.url.rsplit('/');
        let (name, account) = (path.next().unwrap_or_default(), path.next().unwrap_or_default());
        let region = self.client.config().region().map_or("us-east-1", |r| r.as_ref());
        format!("arn:aws:sqs:{region}:{account}:{name}")
    }
}
