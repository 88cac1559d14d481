//! Delivering events: the signed POST of one attempt, and the SQS-triggered batch handler
//! that records every attempt and schedules the next through the message's visibility.

mod dead_letter;
mod health;
mod receiver_auth;
mod sender;
mod throttle;

use std::time::Duration;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use futures::future::join_all;

pub use dead_letter::{DEAD_LETTERED, record_dead_letters};
pub use receiver_auth::IssuedToken;
use receiver_auth::authorization;
pub use sender::{Answer, HttpSender, MAX_RESPONSE_BODY, Outgoing, WebhookSender, parse_retry_after};

use crate::config::{ConfigError, env_bool, env_duration, env_or, env_resend_delay};
use crate::error::Error;
use crate::model::{
    Attempt, DeliveryMessage, DeliveryStatus, DeliveryStep, EntityId, Event, ReceiverAuth, Timestamp, UrlPolicy,
    Webhook, payload,
};
use crate::publish::DisableNotice;
use crate::queue::VisibilityDelay;
use crate::retry::RetrySchedule;
use crate::runtime::Clock;
use crate::signing::sign;
use crate::store::{AccessTokenStore, DeliveryStore, Recorded, Tally};

#[derive(Debug, Clone)]
pub struct DeliverySettings {
    pub schedule: RetrySchedule,
    pub timeout: Duration,
    pub url_policy: UrlPolicy,
    /// How long a webhook may fail, with no success, before its next failure disables it.
    pub disable_after: Duration,
    /// How long a retried publish of a notice delays its copies (`crate::publish`).
    pub resend_delay: Duration,
}

impl Default for DeliverySettings {
    fn default() -> Self {
        Self {
            schedule: RetrySchedule::default(),
            timeout: Duration::from_secs(15),
            url_policy: UrlPolicy::default(),
            disable_after: Duration::from_secs(5 * 86_400),
            resend_delay: crate::config::ApiSettings::default().resend_delay,
        }
    }
}

impl DeliverySettings {
    pub fn from_env() -> Result<Self, ConfigError> {
        let text = env_or("WEBHOOKS_RETRY_SCHEDULE", "5s,5m,30m,2h,5h,10h,10h");
        let schedule = RetrySchedule::parse(&text).map_err(|reason| ConfigError::Invalid {
            name: "WEBHOOKS_RETRY_SCHEDULE",
            value: text.clone(),
            reason,
        })?;
        Ok(Self {
            schedule,
            timeout: env_duration("WEBHOOKS_DELIVERY_TIMEOUT", "15s")?,
            url_policy: UrlPolicy { allow_private: env_bool("WEBHOOKS_ALLOW_PRIVATE_URLS")? },
            disable_after: env_duration("WEBHOOKS_DISABLE_AFTER", "5d")?,
            resend_delay: env_resend_delay()?,
        })
    }

    pub fn sender(&self) -> Result<HttpSender, Error> {
        HttpSender::new(self.timeout, self.url_policy)
    }
}

/// An event published for `entity` (none for a global webhook's test send).
#[derive(Debug, Clone, Copy)]
pub struct EventFor<'a> {
    pub event: &'a Event,
    pub entity: Option<EntityId>,
}

/// The POST of the event to `webhook`, signed for `timestamp` (unix seconds) per Standard
/// Webhooks, with the `Authorization` of the webhook's `auth` when it has one.
pub fn signed_request(
    webhook: &Webhook,
    published: EventFor<'_>,
    timestamp: i64,
    authorization: Option<String>,
) -> Result<Outgoing, Error> {
    let (info, event) = (&webhook.info, published.event);
    let body = payload(event, published.entity, info.id, info.send_data);
    // During a rotation's overlap both secrets sign, so receivers verify with either.
    let at = Timestamp::new(chrono::DateTime::from_timestamp(timestamp, 0).unwrap_or_default());
    let signatures = webhook
        .signing_secrets(at)
        .map(|secret| Ok(sign(&secret.key()?, &event.id, timestamp, &body)))
        .collect::<Result<Vec<_>, base64::DecodeError>>()
        .map_err(Error::internal)?;
    let mut headers: Vec<(String, String)> = info.headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    headers.extend(authorization.map(|value| ("authorization".to_string(), value)));
    headers.push(("webhook-id".into(), event.id.clone()));
    headers.push(("webhook-timestamp".into(), timestamp.to_string()));
    headers.push(("webhook-signature".into(), signatures.join(" ")));
    Ok(Outgoing { url: info.event_url.as_url().clone(), headers, body })
}

/// One attempt and what came of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptOutcome {
    pub attempt: Attempt,
    /// The receiver answered 2xx.
    pub delivered: bool,
    pub retry_after: Option<Duration>,
}

/// Makes attempt number `number` of delivering the event to `webhook`; `tokens` keeps the
/// access tokens of OAuth 2.0 receivers.
pub async fn attempt_delivery<T: AccessTokenStore + ?Sized>(
    sender: &dyn WebhookSender,
    tokens: &T,
    clock: &dyn Clock,
    webhook: &Webhook,
    published: EventFor<'_>,
    number: u32,
) -> Result<AttemptOutcome, Error> {
    let now = clock.now();
    let started = std::time::Instant::now();
    let credentials = webhook.receiver_credentials();
    let authorization = match &credentials {
        Some(credentials) => authorization(sender, tokens, now, webhook.info.id, credentials).await?.map(Some),
        None => Ok(None),
    };
    let result = match &authorization {
        Ok(value) => sender.send(signed_request(webhook, published, now.timestamp(), value.clone())?).await,
        Err(error) => Err(error.clone()),
    };
    let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let at = Timestamp::new(now);
    if let (Ok(Answer { status: 401, .. }), Some(credentials), Ok(Some(value))) =
        (&result, &credentials, &authorization)
        && let Some(token) =
            value.strip_prefix("Bearer ").filter(|_| matches!(credentials.auth, ReceiverAuth::OAuth2 { .. }))
    {
        // The token may have been revoked before it expired: every instance gets a new one.
        tokens.drop_access_token(webhook.info.id, &credentials.fingerprint(), token).await?;
    }
    Ok(match result {
        Ok(answer) => {
            let delivered = (200..300).contains(&answer.status);
            let error = (!delivered).then(|| format!("the receiver answered {}", answer.status));
            AttemptOutcome {
                attempt: Attempt {
                    attempt: number,
                    at,
                    status_code: Some(answer.status),
                    duration_ms,
                    error,
                    response_body: Some(answer.body),
                },
                delivered,
                retry_after: answer.retry_after,
            }
        }
        Err(error) => AttemptOutcome {
            attempt: Attempt {
                attempt: number,
                at,
                status_code: None,
                duration_ms,
                error: Some(error),
                response_body: None,
            },
            delivered: false,
            retry_after: None,
        },
    })
}

/// The clients of the deliver function.
pub struct Deliverer<'a> {
    pub store: &'a dyn DeliveryStore,
    /// The queue of unordered deliveries, where a retry hides its message.
    pub queue: &'a dyn VisibilityDelay,
    /// The FIFO queue, where a FIFO webhook's retry holds its later messages back.
    pub fifo_queue: &'a dyn VisibilityDelay,
    pub sender: &'a dyn WebhookSender,
    pub clock: &'a dyn Clock,
    pub notices: &'a dyn DisableNotice,
    pub settings: &'a DeliverySettings,
}

/// What became of one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Disposition {
    /// Delivered, skipped, or failed for good: the message can go.
    Done,
    /// Hidden until its next attempt: report it as a batch item failure.
    RetryLater,
}

impl<'a> Deliverer<'a> {
    /// Lambda's SQS handler: delivers the batch concurrently and reports the messages to keep.
    pub async fn deliver_batch(&self, event: SqsEvent) -> SqsBatchResponse {
        let tally = Tally::new(self.store);
        let outcomes = join_all(event.records.iter().map(|record| self.deliver_record(record, &tally))).await;
        tally.flush().await;
        let mut response = SqsBatchResponse::default();
        for (record, outcome) in event.records.iter().zip(outcomes) {
            let id = record.message_id.clone().unwrap_or_default();
            match outcome {
                Ok(Disposition::Done) => {}
                Ok(Disposition::RetryLater) => response.add_failure(id),
                // It comes back after the queue's visibility timeout: delayed, not lost.
                Err(err) => {
                    tracing::error!(message_id = %id, error = %crate::error::chain(&err), "delivery step failed");
                    response.add_failure(id);
                }
            }
        }
        response
    }

    #[tracing::instrument(skip_all, fields(message_id = record.message_id.as_deref().unwrap_or("")))]
    async fn deliver_record(
        &self,
        record: &SqsMessage,
        tally: &Tally<'a, dyn DeliveryStore + 'a>,
    ) -> Result<Disposition, Error> {
        let body = record.body.as_deref().unwrap_or_default();
        let message: DeliveryMessage =
            serde_json::from_str(body).map_err(|e| Error::internal(format!("unreadable delivery message: {e}")))?;
        let (webhook_id, delivery_id) = (message.webhook_id, message.delivery_id);
        // A message received for the first time, and not a retried publish's copy, has
        // no step recorded: its read is saved. (SQS may, rarely, hand out two copies at once;
        // the step's conditional write then lets only one be recorded.)
        let state = if receive_count(record) == 1 && !message.resent {
            None
        } else {
            self.store.delivery_state(webhook_id, delivery_id).await?
        };
        if let Some(state) = state.filter(|s| s.status != DeliveryStatus::Pending) {
            // A copy of a finished delivery's message: the receiver had it already.
            tracing::info!(%webhook_id, %delivery_id, status = ?state.status, "already finished");
            if state.status == DeliveryStatus::Failed {
                // Back because its last attempt's notice could not be published, perhaps.
                let webhook = self.store.get_webhook_eventually(message.webhook_owner(), webhook_id).await?;
                self.notice_again(webhook.as_ref(), delivery_id).await?;
            }
            return Ok(Disposition::Done);
        }
        if message.resent && receive_count(record) == 1 && state.is_some() {
            // A retried publish's copy of a delivery its original message is carrying.
            tracing::info!(%webhook_id, %delivery_id, "started by its original message");
            return Ok(Disposition::Done);
        }
        // Numbered from the steps recorded, not from SQS's receive count: a crash, a store
        // outage or a redelivered message uses up no attempt.
        let number = state.map_or(1, |s| s.step + 1);
        let record_step = |step: DeliveryStep| async move {
            let outcome = tally.record(&step).await?;
            if outcome == Recorded::Stale {
                tracing::warn!(%webhook_id, %delivery_id, "another copy of the message recorded first; this one stops");
            }
            Ok::<_, Error>(outcome)
        };

        let read = self.store.get_webhook_eventually(message.webhook_owner(), webhook_id).await?;
        let webhook = match read {
            // A global webhook that stopped covering the entity gets none of its events any more.
            Some(webhook) if webhook.info.enabled && webhook.covers(message.owner_identifier) => webhook,
            read => {
                self.notice_again(read.as_ref(), delivery_id).await?;
                tracing::info!(%webhook_id, %delivery_id, "webhook gone, disabled or no longer covering the entity: skipped");
                record_step(message.step(number, DeliveryStatus::Skipped)).await?;
                return Ok(Disposition::Done);
            }
        };

        let receipt = record.receipt_handle.as_deref().unwrap_or_default();
        if let Some(delay) = self.take_turn(&webhook).await? {
            tracing::info!(%webhook_id, %delivery_id, ?delay, "over the webhook's rate limit: later, not an attempt");
            self.queue_of(&message).delay_message(receipt, delay).await?;
            return Ok(Disposition::RetryLater);
        }
        let published = EventFor { event: &message.event, entity: Some(message.owner_identifier) };
        let outcome = attempt_delivery(self.sender, self.store, self.clock, &webhook, published, number).await?;
        tracing::info!(%webhook_id, %delivery_id, attempt = number, delivered = outcome.delivered,
            status = ?outcome.attempt.status_code, error = ?outcome.attempt.error, "attempt made");
        let schedule = &self.settings.schedule;
        let delay =
            if outcome.delivered { None } else { schedule.next_delay(number, outcome.retry_after, random_unit()) };
        let status = match (outcome.delivered, delay) {
            (true, _) => DeliveryStatus::Succeeded,
            (false, None) => DeliveryStatus::Failed,
            (false, Some(_)) => DeliveryStatus::Pending,
        };
        let mut step = message.step(number, status);
        step.attempt = Some(outcome.attempt.clone());
        let Some(delay) = delay else {
            if record_step(step).await? == Recorded::Written {
                self.after_attempt(&webhook, &outcome, delivery_id).await?;
            }
            return Ok(Disposition::Done);
        };
        let next = chrono::Duration::from_std(delay).map_err(Error::internal)?;
        step.next_attempt_at = Some(Timestamp::new(self.clock.now() + next));
        if record_step(step).await? == Recorded::Stale {
            return Ok(Disposition::Done);
        }
        self.after_attempt(&webhook, &outcome, delivery_id).await?;
        self.queue_of(&message).delay_message(receipt, delay).await?;
        Ok(Disposition::RetryLater)
    }
}

impl Deliverer<'_> {
    /// The queue `message` came from.
    fn queue_of(&self, message: &DeliveryMessage) -> &dyn VisibilityDelay {
        if message.fifo { self.fifo_queue } else { self.queue }
    }
}

/// SQS's `ApproximateReceiveCount` of `record`; 0 (unknown) when missing.
fn receive_count(record: &SqsMessage) -> u32 {
    record.attributes.get("ApproximateReceiveCount").and_then(|n| n.parse().ok()).unwrap_or(0)
}

/// A random number from -1 to 1, for retry jitter; 0 if the OS has no randomness to give.
fn random_unit() -> f64 {
    let mut bytes = [0u8; 4];
    match getrandom::fill(&mut bytes) {
        Ok(()) => f64::from(u32::from_le_bytes(bytes)) / f64::from(u32::MAX) * 2.0 - 1.0,
        Err(_) => 0.0,
    }
}

#[cfg(test)]
pub(crate) mod tests;

#[cfg(test)]
mod health_tests;
