//! A webhook's pace, held across every deliver instance by one shared counter per webhook (the
//! store's GCRA): its `rateLimit` (docs/contract.md 14), and for a slow receiver its share of
//! the deliver concurrency: attempts that take `slowMs` each, at most `receiver_concurrency` at
//! once, is one every `slowMs / receiver_concurrency` (Little's law). A delivery reserves its
//! turn up to SQS's longest delay ahead and its message waits for it as any wait does, off the
//! queue's in-flight count; a turn further off is asked for again then. Waiting is not an attempt.

use std::time::Duration;

use super::waiting::IN_PROCESS_WAIT;
use super::{Deliverer, random_unit};
use crate::error::Error;
use crate::model::{DeliveryMessage, Timestamp, WebhookRecord};
use crate::queue::MAX_SEND_DELAY;
use crate::rate_limit::RatePolicy;

/// An attempt at least this slow marks its receiver slow, so that its concurrency is capped;
/// one under half of it clears the mark.
pub(super) const SLOW_ATTEMPT_MS: u64 = 1000;

/// How the latency mark of a webhook marked `current` changes after an attempt of `took_ms`:
/// `Some(new mark)`, or `None` for no change (a mark is written only when it halves or doubles).
pub(super) fn slowness(current: Option<u32>, took_ms: u64) -> Option<Option<u32>> {
    let took = u32::try_from(took_ms).unwrap_or(u32::MAX);
    if took_ms >= SLOW_ATTEMPT_MS {
        let close = current.is_some_and(|mark| took <= mark.saturating_mul(2) && took.saturating_mul(2) >= mark);
        (!close).then_some(Some(took))
    } else if took_ms < SLOW_ATTEMPT_MS / 2 && current.is_some() {
        Some(None)
    } else {
        None
    }
}

impl Deliverer<'_> {
    /// The time between the webhook's attempts its rate limit and its receiver's slowness allow,
    /// if either limits it.
    fn pace(&self, webhook: &WebhookRecord) -> Option<Duration> {
        let by_rate = webhook.info.options.rate_limit.map(|n| Duration::from_secs(1) / n.max(1));
        let by_share =
            webhook.slow_ms.map(|ms| Duration::from_millis(u64::from(ms)) / self.settings.receiver_concurrency);
        by_rate.into_iter().chain(by_share).max()
    }

    /// Waits for this delivery's turn in the webhook's pace when it is near; answers the message
    /// to send for a turn further off (reserved, the message due at it) or not yet reservable.
    pub(super) async fn take_turn(
        &self,
        webhook: &WebhookRecord,
        message: &DeliveryMessage,
    ) -> Result<Option<DeliveryMessage>, Error> {
        let Some(interval) = self.pace(webhook) else { return Ok(None) };
        let now = self.clock.now();
        let late =
            |due: Timestamp| chrono::Duration::from_std(interval).is_ok_and(|interval| now > due.get() + interval);
        if message.turn && !message.due.is_some_and(late) {
            // Its turn was taken, and the message sent to arrive at it.
            return Ok(None);
        }
        // No turn yet, or one that passed while the message was held up: going now would put it
        // beside the next turn's, so it takes another.
        let ahead = MAX_SEND_DELAY.as_micros() / interval.as_micros().max(1);
        let policy = RatePolicy::every(interval, u32::try_from(ahead).unwrap_or(u32::MAX).max(1));
        let key = format!("webhook#{}", webhook.info.id);
        let decision = self.store.take(&key, &policy, now.timestamp_micros()).await?;
        let later = |wait: Duration, turn: bool| {
            let due =
                chrono::Duration::from_std(wait).map(|wait| Timestamp::new(now + wait)).map_err(Error::internal)?;
            Ok::<_, Error>(Some(DeliveryMessage { due: Some(due), turn, ..message.clone() }))
        };
        if !decision.allowed {
            // Every turn SQS's longest delay holds is taken: this one's is half of that away at
            // least, and a backlog asking every second would only crowd the counter.
            let wait = Duration::from_secs(decision.retry_after_seconds).max(MAX_SEND_DELAY / 2);
            return later(wait.mul_f64(1.0 + 0.2 * random_unit()).min(MAX_SEND_DELAY), false);
        }
        let wait = Duration::from_micros(u64::try_from(decision.wait_us).unwrap_or(0));
        if wait > IN_PROCESS_WAIT {
            return later(wait, true);
        }
        tokio::time::sleep(wait).await;
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_receiver_is_marked_slow_when_its_pace_changes_by_half_or_double() {
        assert_eq!(slowness(None, 200), None, "fast and unmarked");
        assert_eq!(slowness(None, 1500), Some(Some(1500)));
        assert_eq!(slowness(Some(1500), 2500), None, "close to the mark: no write");
        assert_eq!(slowness(Some(1500), 15_000), Some(Some(15_000)));
        assert_eq!(slowness(Some(15_000), 1500), Some(Some(1500)));
        assert_eq!(slowness(Some(1500), 700), None, "between the two thresholds");
        assert_eq!(slowness(Some(1500), 100), Some(None), "fast again: the mark goes");
    }
}
