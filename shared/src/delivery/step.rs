//! One delivery's message, in named steps: (time) a message early for its time waits again, a
//! FIFO webhook's passes its gate (`fifo`); `classify`, where the delivery stands; `target`, its
//! webhook and its event; `take_turn`, its place in the webhook's rate; `attempt`, the POST,
//! recorded with its next attempt's time; then the next message when there is one.

use std::borrow::Cow;

use aws_lambda_events::event::sqs::SqsMessage;

use super::fifo::Gate;
use super::{Deliverer, EventFor, attempt_delivery, from_fifo_queue, random_unit, receive_count};
use crate::error::Error;
use crate::model::{DeliveryMessage, DeliveryState, DeliveryStatus, DeliveryStep, Event, Timestamp, WebhookRecord};
use crate::publish::FailedDelivery;
use crate::store::{DeliveryStore, Recorded, Tally};

/// What became of a delivery's message once handled.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Outcome {
    /// Succeeded, failed for good or skipped: nothing follows.
    Finished,
    /// The delivery's next message, due later: a retry, or a turn in the webhook's rate.
    Waiting(DeliveryMessage),
    /// A copy of a message another copy carries: nothing to do.
    Dropped,
}

/// Where a delivery's message stands before any attempt.
enum Standing {
    /// Nothing to attempt: a copy of a message another carries, or a step recorded before.
    Settled(Outcome),
    /// Step `number` is to be made.
    Due(u32),
}

/// Records `step` of the message's delivery; a copy of the message that recorded it first
/// makes it `Stale`, and this one stops.
async fn record_step<'a>(
    tally: &Tally<'a, dyn DeliveryStore + 'a>,
    message: &DeliveryMessage,
    step: DeliveryStep,
) -> Result<Recorded, Error> {
    let recorded = tally.record(&step).await?;
    if recorded == Recorded::Stale {
        let (webhook_id, delivery_id) = (message.webhook_id, message.delivery_id);
        tracing::warn!(%webhook_id, %delivery_id, "another copy of the message recorded first; this one stops");
    }
    Ok(recorded)
}

/// The error recorded for a delivery whose event is no longer kept (at the retention's edge).
const EVENT_GONE: &str = "its event is no longer kept";
/// The error a failed attempt that named none is told with.
const ATTEMPT_FAILED: &str = "the attempt failed";
/// A next message more than this late is taken as lost, and sent again.
const OVERDUE: chrono::Duration = chrono::Duration::minutes(1);

impl<'a> Deliverer<'a> {
    pub(super) async fn deliver_record(
        &self,
        record: &SqsMessage,
        message: &DeliveryMessage,
        tally: &Tally<'a, dyn DeliveryStore + 'a>,
    ) -> Result<(), Error> {
        if let Some(due) = message.due.filter(|due| self.far_off(*due))
            && !from_fifo_queue(record)
        {
            // A timer's wake, early by its lead: the rest is an SQS delay, to the second.
            return self.wait_until(message, due).await;
        }
        let head = if message.fifo {
            match self.gate(message).await? {
                Gate::Through(head) => head,
                Gate::Parked => return Ok(()),
            }
        } else {
            None
        };
        self.wait_in_process(message.due).await;
        crate::metrics::taken(record, message, self.clock.now());
        match self.deliver(record, message, tally).await? {
            Outcome::Dropped => Ok(()),
            Outcome::Finished if head == Some(message.delivery_id) => {
                self.release(message.webhook_id, message.delivery_id).await
            }
            Outcome::Finished => Ok(()),
            Outcome::Waiting(next) => {
                if message.fifo {
                    // Its webhook's later messages wait behind it, parked, not on the queue.
                    self.store.hold_fifo(message.webhook_id, message.delivery_id).await?;
                }
                let due = next.due.unwrap_or_else(|| Timestamp::new(self.clock.now()));
                self.wait_until(&next, due).await
            }
        }
    }

    /// Classifies, takes a turn, attempts, records: what became of the message.
    async fn deliver(
        &self,
        record: &SqsMessage,
        message: &DeliveryMessage,
        tally: &Tally<'a, dyn DeliveryStore + 'a>,
    ) -> Result<Outcome, Error> {
        let number = match self.classify(record, message).await? {
            Standing::Settled(outcome) => return Ok(outcome),
            Standing::Due(number) => number,
        };
        let Some((webhook, event)) = self.target(message, number, tally).await? else {
            return Ok(Outcome::Finished);
        };
        if let Some(later) = self.take_turn(&webhook, message).await? {
            let (webhook_id, delivery_id) = (message.webhook_id, message.delivery_id);
            tracing::info!(%webhook_id, %delivery_id, due = ?later.due, "over the webhook's rate: later, not an attempt");
            return Ok(Outcome::Waiting(later));
        }
        self.attempt(message, number, (&webhook, &event), tally).await
    }

    /// Where the message's delivery stands: the step it is to make, or settled already.
    async fn classify(&self, record: &SqsMessage, message: &DeliveryMessage) -> Result<Standing, Error> {
        let (webhook_id, delivery_id) = (message.webhook_id, message.delivery_id);
        // Read every time: SQS's receive count is approximate, so a first receive may not be one.
        let state = self.store.delivery_state(webhook_id, delivery_id).await?;
        let number = if message.step == 0 { state.map_or(1, |s| s.step + 1) } else { message.step };
        let Some(state) = state else { return Ok(Standing::Due(number)) };
        if message.resent {
            tracing::info!(%webhook_id, %delivery_id, "a retried publish's copy: its original carries it");
            // A finished one's copy that a FIFO gate let through as its head still lets the
            // gate go (`deliver_record`).
            let finished = state.status != DeliveryStatus::Pending;
            return Ok(Standing::Settled(if finished { Outcome::Finished } else { Outcome::Dropped }));
        }
        if state.status != DeliveryStatus::Pending || state.step >= number {
            return self.recorded_before(record, message, state).await.map(Standing::Settled);
        }
        Ok(Standing::Due(number))
    }

    /// The webhook and the event of step `number`; none when there is nothing to attempt, the
    /// step recorded as skipped (the webhook gone, disabled or no longer covering the entity)
    /// or failed (the event no longer kept).
    async fn target<'m>(
        &self,
        message: &'m DeliveryMessage,
        number: u32,
        tally: &Tally<'a, dyn DeliveryStore + 'a>,
    ) -> Result<Option<(WebhookRecord, Cow<'m, Event>)>, Error> {
        let (webhook_id, delivery_id) = (message.webhook_id, message.delivery_id);
        let read = self.store.get_webhook_eventually(message.webhook_owner(), webhook_id).await?;
        let webhook = match read {
            // A global webhook that stopped covering the entity gets none of its events any more.
            Some(webhook) if webhook.info.enabled && webhook.covers(message.owner_identifier) => webhook,
            read => {
                self.notice_again(read.as_ref(), delivery_id).await?;
                tracing::info!(%webhook_id, %delivery_id, "webhook gone, disabled or no longer covering the entity: skipped");
                record_step(tally, message, self.step_of(message, number, DeliveryStatus::Skipped)).await?;
                return Ok(None);
            }
        };
        let Some(event) = self.event_of(message).await? else {
            let mut step = self.step_of(message, number, DeliveryStatus::Failed);
            step.error = Some(EVENT_GONE.into());
            record_step(tally, message, step).await?;
            return Ok(None);
        };
        Ok(Some((webhook, event)))
    }

    /// Attempt `number`, recorded with its next attempt's time when the schedule has one.
    async fn attempt(
        &self,
        message: &DeliveryMessage,
        number: u32,
        (webhook, event): (&WebhookRecord, &Event),
        tally: &Tally<'a, dyn DeliveryStore + 'a>,
    ) -> Result<Outcome, Error> {
        let (webhook_id, delivery_id) = (message.webhook_id, message.delivery_id);
        let published = EventFor { event, entity: Some(message.owner_identifier), test: false };
        let outcome = attempt_delivery(self.sender, self.store, self.clock, webhook, published, number).await?;
        // A success is in the attempt log and the stats: a line each would be most of what a
        // healthy delivery pays CloudWatch Logs (docs/cost.md). A failure is logged.
        if outcome.delivered {
            tracing::debug!(%webhook_id, %delivery_id, attempt = number, status = ?outcome.attempt.status_code, "delivered");
        } else {
            tracing::info!(%webhook_id, %delivery_id, attempt = number, status = ?outcome.attempt.status_code,
                error = ?outcome.attempt.error, "attempt failed");
        }
        let schedule = &self.settings.schedule;
        let delay =
            if outcome.delivered { None } else { schedule.next_delay(number, outcome.retry_after, random_unit()) };
        let next = delay.map(|d| chrono::Duration::from_std(d).map(|d| Timestamp::new(self.clock.now() + d)));
        let next = next.transpose().map_err(Error::internal)?;
        let status = match (outcome.delivered, next) {
            (true, _) => DeliveryStatus::Succeeded,
            (false, None) => DeliveryStatus::Failed,
            (false, Some(_)) => DeliveryStatus::Pending,
        };
        let mut step = self.step_of(message, number, status);
        step.attempt = Some(outcome.attempt.clone());
        step.next_attempt_at = next;
        if record_step(tally, message, step).await? == Recorded::Stale {
            return Ok(Outcome::Dropped);
        }
        let error = outcome.attempt.error.as_deref().unwrap_or(ATTEMPT_FAILED);
        let (event_id, event_type) = (event.id.as_str(), event.event_type.as_str());
        let failed = FailedDelivery { webhook_id, delivery_id, event_id, event_type, attempt: number, error };
        self.after_attempt(webhook, &outcome, &failed).await?;
        if status == DeliveryStatus::Failed {
            // Not published: the message comes back, and `recorded_before` publishes it again.
            self.tell_exhausted(message, &failed).await?;
        }
        Ok(match next {
            None => Outcome::Finished,
            Some(due) => Outcome::Waiting(message.for_step(number + 1, Some(due))),
        })
    }

    /// A message whose step is recorded already. Finished: nothing follows (but a notice its
    /// failure owes). Pending: the next message may not have been sent (the invocation that
    /// recorded it stopped before, or an outage stopped it and sent it back), so a message
    /// received again or sent back, or one whose next is overdue, sends it; a copy received
    /// once while the next waits is dropped, or copies would follow the delivery for the rest
    /// of its schedule.
    async fn recorded_before(
        &self,
        record: &SqsMessage,
        message: &DeliveryMessage,
        state: DeliveryState,
    ) -> Result<Outcome, Error> {
        let (webhook_id, delivery_id) = (message.webhook_id, message.delivery_id);
        tracing::info!(%webhook_id, %delivery_id, status = ?state.status, step = state.step, "step recorded before");
        match state.status {
            DeliveryStatus::Pending => {
                let now = self.clock.now();
                let due = state.next_attempt_at.unwrap_or(Timestamp::new(now));
                let overdue = due.get() + OVERDUE < now;
                Ok(if receive_count(record) > 1 || message.deferrals > 0 || overdue {
                    Outcome::Waiting(message.for_step(state.step + 1, Some(due)))
                } else {
                    Outcome::Dropped
                })
            }
            DeliveryStatus::Failed => {
                // Back because its last attempt's notices could not be published, perhaps.
                let webhook = self.store.get_webhook_eventually(message.webhook_owner(), webhook_id).await?;
                self.notice_again(webhook.as_ref(), delivery_id).await?;
                if state.step >= self.settings.schedule.max_attempts() {
                    self.exhausted_again(message).await?;
                }
                Ok(Outcome::Finished)
            }
            DeliveryStatus::Succeeded | DeliveryStatus::Skipped => Ok(Outcome::Finished),
        }
    }

    /// Publishes `delivery.exhausted` for `failed`, the last attempt of `message`'s delivery,
    /// unless it is a notice's or to a global webhook (no entity's own).
    async fn tell_exhausted(&self, message: &DeliveryMessage, failed: &FailedDelivery<'_>) -> Result<(), Error> {
        if message.global || !failed.is_told() {
            return Ok(());
        }
        let now = Timestamp::new(self.clock.now());
        self.notices.delivery_exhausted(Some(message.owner_identifier), failed, now).await
    }

    /// `delivery.exhausted` again for `message`'s delivery, which failed after its last
    /// attempt, as its record says (publishing it twice plans it once).
    async fn exhausted_again(&self, message: &DeliveryMessage) -> Result<(), Error> {
        let (webhook_id, delivery_id) = (message.webhook_id, message.delivery_id);
        let Some(delivery) = self.store.get_delivery(webhook_id, delivery_id).await? else { return Ok(()) };
        let error = delivery.last_error.as_deref().unwrap_or(ATTEMPT_FAILED);
        let (event_id, event_type) = (delivery.event_id.as_str(), delivery.event_type.as_str());
        let failed = FailedDelivery { webhook_id, delivery_id, event_id, event_type, attempt: delivery.step, error };
        self.tell_exhausted(message, &failed).await
    }

    /// Step `number` of the message's delivery, in its plan.
    fn step_of(&self, message: &DeliveryMessage, number: u32, status: DeliveryStatus) -> DeliveryStep {
        let mut step = message.step(number, status);
        step.plan = message.plan;
        step
    }

    /// The event the message carries (borrowed: it is most of the message), or the one its
    /// plan holds for a message that only names it; none once it is no longer kept.
    async fn event_of<'m>(&self, message: &'m DeliveryMessage) -> Result<Option<Cow<'m, Event>>, Error> {
        if let Some(event) = message.event.whole() {
            return Ok(Some(Cow::Borrowed(event)));
        }
        let stored = self.store.published_event(message.owner_identifier, message.event.id(), message.plan).await?;
        Ok(stored.map(Cow::Owned))
    }
}
