//! A webhook's `rateLimit` (docs/contract.md 14), held across every deliver instance: each delivery
//! reserves its turn in the webhook's steady rate in the store's shared counter, and waits for
//! it when it is near; one further off hides its message until then. Waiting is not an attempt.

use std::time::Duration;

use super::Deliverer;
use crate::error::Error;
use crate::model::Webhook;
use crate::rate_limit::RatePolicy;

/// How far ahead a delivery may reserve its turn and wait for it in the invocation.
const RESERVE_AHEAD_SECONDS: u32 = 5;

impl Deliverer<'_> {
    /// Waits for this delivery's turn in `webhook`'s rate; `Some(delay)` when it is too far
    /// off, for the message to be hidden that long (nothing is taken then).
    pub(super) async fn take_turn(&self, webhook: &Webhook) -> Result<Option<Duration>, Error> {
        let Some(per_second) = webhook.info.options.rate_limit else { return Ok(None) };
        let policy = RatePolicy { per_second, burst: per_second.saturating_mul(RESERVE_AHEAD_SECONDS) };
        let key = format!("webhook#{}", webhook.info.id);
        let decision = self.store.take(&key, &policy, self.clock.now().timestamp_micros()).await?;
        if !decision.allowed {
            return Ok(Some(Duration::from_secs(decision.retry_after_seconds)));
        }
        let wait = Duration::from_micros(u64::try_from(decision.wait_us).unwrap_or(0));
        tokio::time::sleep(wait).await;
        Ok(None)
    }
}
