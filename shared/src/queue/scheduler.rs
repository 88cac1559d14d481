//! `Timer` on EventBridge Scheduler: a one-time schedule per waiting step, which sends the
//! step's message to the delivery queue and deletes itself. A schedule that cannot reach the
//! queue is retried by Scheduler for a day, then put on the dead-letter queue, whose consumer
//! records the delivery (`crate::delivery::record_dead_letters`).

use async_trait::async_trait;
use aws_sdk_scheduler::Client;
use aws_sdk_scheduler::types::{
    ActionAfterCompletion, DeadLetterConfig, FlexibleTimeWindow, FlexibleTimeWindowMode, RetryPolicy, Target,
};

use super::{QueueError, Timer, message_body};
use crate::config::{ConfigError, env_required};
use crate::model::{DeliveryMessage, QueueMessage, Timestamp};

/// Scheduler's own limits: a day of retries, at most 185 of them.
const RETRY_FOR_SECONDS: i32 = 86_400;
const RETRY_ATTEMPTS: i32 = 185;

pub struct SchedulerTimer {
    client: Client,
    /// The schedule group the template made for these schedules.
    group: String,
    /// The standard delivery queue, and its dead-letter queue.
    queue_arn: String,
    dead_letter_arn: String,
    /// The role Scheduler sends to the queue as.
    role_arn: String,
}

impl SchedulerTimer {
    /// From `RETRY_SCHEDULE_GROUP`, `DELIVERY_QUEUE_ARN`, `DELIVERY_DLQ_ARN` and
    /// `RETRY_SCHEDULER_ROLE_ARN`, which `template.yaml` sets.
    pub fn from_env(client: Client) -> Result<Self, ConfigError> {
        Ok(Self {
            client,
            group: env_required("RETRY_SCHEDULE_GROUP")?,
            queue_arn: env_required("DELIVERY_QUEUE_ARN")?,
            dead_letter_arn: env_required("DELIVERY_DLQ_ARN")?,
            role_arn: env_required("RETRY_SCHEDULER_ROLE_ARN")?,
        })
    }
}

/// The schedule of `message`'s wait: its delivery, step and due time (else `at`), so that
/// another wait of the same step is a schedule of its own.
fn schedule_name(message: &DeliveryMessage, at: Timestamp) -> String {
    let due = message.due.unwrap_or(at).get().timestamp();
    format!("{}-{}-{due}", message.delivery_id, message.step)
}

/// Scheduler's one-time expression for `at`, in whole seconds (UTC).
fn at_expression(at: Timestamp) -> String {
    format!("at({})", at.get().format("%Y-%m-%dT%H:%M:%S"))
}

#[async_trait]
impl Timer for SchedulerTimer {
    async fn send_at(&self, message: &DeliveryMessage, at: Timestamp) -> Result<(), QueueError> {
        let body = message_body(&QueueMessage::Delivery(message.clone()))?;
        let dead_letters = DeadLetterConfig::builder().arn(&self.dead_letter_arn).build();
        let retries = RetryPolicy::builder()
            .maximum_event_age_in_seconds(RETRY_FOR_SECONDS)
            .maximum_retry_attempts(RETRY_ATTEMPTS);
        let target = Target::builder()
            .arn(&self.queue_arn)
            .role_arn(&self.role_arn)
            .input(body)
            .dead_letter_config(dead_letters)
            .retry_policy(retries.build())
            .build()
            .map_err(QueueError::internal)?;
        let window =
            FlexibleTimeWindow::builder().mode(FlexibleTimeWindowMode::Off).build().map_err(QueueError::internal)?;
        let created = self
            .client
            .create_schedule()
            // One schedule per step and time: asked twice (a crash between scheduling and
            // deleting the message that asked), it exists already. At most 58 characters of
            // Scheduler's 64.
            .name(schedule_name(message, at))
            .group_name(&self.group)
            .schedule_expression(at_expression(at))
            .schedule_expression_timezone("UTC")
            .flexible_time_window(window)
            .action_after_completion(ActionAfterCompletion::Delete)
            .target(target)
            .send()
            .await;
        match created {
            Ok(_) => Ok(()),
            Err(err) if err.as_service_error().is_some_and(|e| e.is_conflict_exception()) => Ok(()),
            Err(err) => Err(QueueError::from_sdk(err)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wait_is_named_by_its_delivery_step_and_time_within_schedulers_64_characters() {
        use crate::model::{CarriedEvent, EntityId, WebhookId};
        let (id, owner) = (uuid::Uuid::now_v7(), EntityId(uuid::Uuid::now_v7()));
        let event = CarriedEvent::Named { id: "evt".into(), event_type: "booking.created".into() };
        let first = DeliveryMessage::first(id, WebhookId(uuid::Uuid::now_v7()), owner, event);
        let at = |seconds| Timestamp::new(chrono::DateTime::from_timestamp(seconds, 0).expect("time"));
        let waits = [(7, 1_800_000_000), (7, 1_800_000_900), (8, 1_800_000_000)];
        let names: Vec<String> = waits
            .iter()
            .map(|&(step, due)| schedule_name(&DeliveryMessage { step, due: Some(at(due)), ..first.clone() }, at(0)))
            .collect();
        assert_eq!(names[0], format!("{id}-7-1800000000"));
        assert!(names[0] != names[1] && names[0] != names[2], "another time or step, another schedule");
        assert!(names.iter().all(|n| n.len() <= 64));
    }

    #[test]
    fn the_expression_is_in_whole_utc_seconds() {
        let at = chrono::DateTime::parse_from_rfc3339("2026-12-06T21:07:09.876+01:00").expect("time");
        assert_eq!(at_expression(Timestamp::new(at.with_timezone(&chrono::Utc))), "at(2026-12-06T20:07:09)");
    }
}
