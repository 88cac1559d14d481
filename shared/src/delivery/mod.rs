//! Delivering events: the SQS-triggered batch handler. Each delivery's message makes one attempt
//! when its time has come, records it, and sends the delivery's next message delayed for its
//! wait (`waiting`): a waiting delivery holds no message in flight. A FIFO webhook's later
//! messages wait behind its head in the table (`fifo`); an outage sends a message back for
//! later without using up its receives (`waiting::defer`); a fan-out's and a recovery's pages
//! go through the same queue (`crate::publish`, `crate::replay`).

mod attempt;
mod dead_letter;
mod fifo;
mod health;
mod receiver_auth;
mod sender;
mod step;
mod throttle;
mod waiting;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use futures::future::join_all;

pub use attempt::{AttemptOutcome, EventFor, attempt_delivery, signed_request};
pub use dead_letter::record_dead_letters;
pub use sender::{Answer, HttpSender, Outgoing, WebhookSender};

use crate::config::Settings;
use crate::error::Error;
use crate::model::QueueMessage;
use crate::publish::Notices;
use crate::queue::{Routed, Timer};
use crate::runtime::{Clock, IdGenerator, RandomIds, SystemClock};
use crate::store::{DeliveryStore, Store, Tally};

/// The clients of the deliver function.
pub struct Deliverer<'a> {
    pub store: &'a dyn DeliveryStore,
    /// The standard queue, where every wait is a delayed message, and the FIFO queue.
    pub queues: Routed<'a>,
    /// Where waits longer than `Settings::timer_after` go.
    pub timer: &'a dyn Timer,
    pub sender: &'a dyn WebhookSender,
    pub clock: &'a dyn Clock,
    /// New delivery ids, for a recovery's pages.
    pub ids: &'a dyn IdGenerator,
    pub notices: Notices<'a>,
    pub settings: &'a Settings,
}

impl<'a> Deliverer<'a> {
    /// The deliver function on `store` and `queues`, publishing its notices through the same, on
    /// the system clock and random ids: what every caller builds, tests changing a field.
    pub fn new(
        store: &'a dyn Store,
        queues: Routed<'a>,
        timer: &'a dyn Timer,
        sender: &'a dyn WebhookSender,
        settings: &'a Settings,
    ) -> Self {
        let ids = &RandomIds;
        let notices = Notices { store, queues, ids, resend_delay: settings.resend_delay };
        Self { store, queues, timer, sender, clock: &SystemClock, ids, notices, settings }
    }
}

/// What became of one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Disposition {
    /// Handled (what follows sent as messages of its own): the message can go.
    Done,
    /// Kept on its queue, hidden for a while: report it as a batch item failure.
    RetryLater,
}

impl<'a> Deliverer<'a> {
    /// Lambda's SQS handler: handles the batch's messages concurrently and reports the ones to keep.
    pub async fn deliver_batch(&self, event: SqsEvent) -> SqsBatchResponse {
        let tally = Tally::new(self.store);
        // Boxed: a message's future holds every step's state, and a profile of section 1 of
        // `make bench` found the join copying them.
        let outcomes = join_all(event.records.iter().map(|record| Box::pin(self.handle(record, &tally)))).await;
        tally.flush().await;
        let mut response = SqsBatchResponse::default();
        for (record, outcome) in event.records.iter().zip(outcomes) {
            let id = record.message_id.clone().unwrap_or_default();
            match outcome {
                Ok(Disposition::Done) => {}
                Ok(Disposition::RetryLater) => response.add_failure(id),
                // It comes back after the queue's visibility timeout: delayed, not lost.
                Err(err) => {
                    tracing::error!(message_id = %id, error = %crate::error::chain(&err), "message not handled");
                    response.add_failure(id);
                }
            }
        }
        response
    }

    #[tracing::instrument(skip_all, fields(message_id = record.message_id.as_deref().unwrap_or("")))]
    async fn handle(
        &self,
        record: &SqsMessage,
        tally: &Tally<'a, dyn DeliveryStore + 'a>,
    ) -> Result<Disposition, Error> {
        let body = record.body.as_deref().unwrap_or_default();
        let message = QueueMessage::from_body(body)?;
        let handled = match &message {
            QueueMessage::Delivery(delivery) => self.deliver_record(record, delivery, tally).await,
            QueueMessage::FanOut { fan_out } => crate::publish::send_page(self.store, &self.queues, fan_out).await,
            QueueMessage::Recovery { recovery } => {
                let copy_delay = self.settings.resend_delay;
                crate::replay::recover_page(self.store, &self.queues, self.ids, recovery, copy_delay).await
            }
        };
        match handled {
            Ok(()) => Ok(Disposition::Done),
            Err(Error::Unavailable(cause)) => self.defer(record, message, &Error::Unavailable(cause)).await,
            Err(err) => Err(err),
        }
    }
}

/// Whether `record` came from a FIFO queue (whose name, and so ARN, ends `.fifo`).
fn from_fifo_queue(record: &SqsMessage) -> bool {
    record.event_source_arn.as_deref().is_some_and(|arn| arn.ends_with(".fifo"))
}

/// SQS's `ApproximateReceiveCount` of `record`; 0 (unknown) when missing.
fn receive_count(record: &SqsMessage) -> u32 {
    record.attributes.get("ApproximateReceiveCount").and_then(|n| n.parse().ok()).unwrap_or(0)
}

/// A random number from -1 to 1, for jitter; 0 if the OS has no randomness to give.
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

#[cfg(test)]
mod waiting_tests;
