//! How a delivery waits without holding a message in flight: its next message is sent delayed
//! for the wait (an SQS delay of up to 15 minutes, or the timer for a longer one, which wakes it
//! a little early to wait the rest as a delay), and a message an outage stops is sent back for
//! later, a new message whose receives start again: waiting is never failing. Only a FIFO
//! message, which must keep its place, waits hidden on its queue during an outage.

use std::time::Duration;

use aws_lambda_events::event::sqs::SqsMessage;

use super::{Deliverer, Disposition, from_fifo_queue, random_unit, receive_count};
use crate::error::Error;
use crate::model::{DeliveryMessage, QueueMessage, Timestamp};
use crate::queue::{MAX_SEND_DELAY, TIMER_LEAD};

/// The longest a deliverer waits in its invocation for a message's time: less than a second's
/// rounding of SQS delays, plus their lateness.
pub(super) const IN_PROCESS_WAIT: Duration = Duration::from_secs(2);

/// The outage backoff after `times` sends back: 2, 4, 8, ... seconds, at most SQS's 15 minutes,
/// spread by ±20%.
pub(super) fn backoff(times: u32) -> Duration {
    let seconds = 2u64.saturating_pow(times.min(10)).min(MAX_SEND_DELAY.as_secs());
    Duration::from_secs(seconds).mul_f64(1.0 + 0.2 * random_unit()).min(MAX_SEND_DELAY)
}

impl Deliverer<'_> {
    /// Whether `due` is further off than a deliverer waits in its invocation.
    pub(super) fn far_off(&self, due: Timestamp) -> bool {
        (due.get() - self.clock.now()).to_std().is_ok_and(|wait| wait > IN_PROCESS_WAIT)
    }

    /// Waits in the invocation for a `due` time that is near.
    pub(super) async fn wait_in_process(&self, due: Option<Timestamp>) {
        if let Some(wait) = due.and_then(|due| (due.get() - self.clock.now()).to_std().ok()) {
            tokio::time::sleep(wait.min(IN_PROCESS_WAIT)).await;
        }
    }

    /// Sends `message` to arrive at `due`: as a delayed message on the standard queue (a FIFO
    /// webhook's too: its gate keeps its order, `fifo`), or through the timer, which sends it up
    /// to `TIMER_LEAD` before `due` and never past it, a long wait's rest being a delay again.
    pub(super) async fn wait_until(&self, message: &DeliveryMessage, due: Timestamp) -> Result<(), Error> {
        let message = DeliveryMessage { due: Some(due), ..message.clone() };
        let wait = (due.get() - self.clock.now()).to_std().unwrap_or(Duration::ZERO);
        if wait <= self.settings.timer_after {
            // Whole seconds, rounded down: the rest is waited in the invocation. A turn in a
            // webhook's pace comes a second earlier still (within `IN_PROCESS_WAIT` of it), so
            // that the trigger's batching makes it on time, not late: a late turn is taken again
            // (`throttle`).
            let early = if message.turn { IN_PROCESS_WAIT.as_secs() - 1 } else { 0 };
            let delay = Duration::from_secs(wait.as_secs().saturating_sub(early));
            self.queues.unordered.enqueue(&[message.into()], delay).await?;
            return Ok(());
        }
        let lead = TIMER_LEAD.min(wait / 2);
        let at =
            chrono::Duration::from_std(lead).map(|lead| Timestamp::new(due.get() - lead)).map_err(Error::internal)?;
        self.timer.send_at(&DeliveryMessage { event: message.event.named(), ..message }, at).await?;
        Ok(())
    }

    /// The message an outage stopped, for later: sent back delayed, backing off, as a new
    /// message (its receives start again); a FIFO one hidden on its queue instead, keeping its
    /// place. A failure to do even that leaves the message to come back after the queue's
    /// visibility timeout.
    pub(super) async fn defer(
        &self,
        record: &SqsMessage,
        message: QueueMessage,
        cause: &Error,
    ) -> Result<Disposition, Error> {
        if from_fifo_queue(record) {
            let wait = backoff(receive_count(record));
            tracing::warn!(error = %crate::error::chain(cause), ?wait, "an outage: the FIFO message waits on its queue");
            let receipt = record.receipt_handle.as_deref().unwrap_or_default();
            self.queues.fifo.delay_message(receipt, wait).await?;
            return Ok(Disposition::RetryLater);
        }
        let (message, times) = message.deferred();
        let mut wait = backoff(times);
        if matches!(message, QueueMessage::FanOut { .. }) {
            // Sent back, a page sends copies of what it sent before the outage: as a retried
            // publish's, they wait long enough for those messages to start first.
            wait = wait.max(self.settings.resend_delay);
        }
        tracing::warn!(error = %crate::error::chain(cause), times, ?wait, "an outage: the message is sent back for later");
        self.queues.unordered.enqueue(&[message], wait).await?;
        Ok(Disposition::Done)
    }
}
