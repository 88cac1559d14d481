//! The deliver step's part in keeping endpoints healthy (docs/contract.md 12): each attempt moves its
//! webhook's failing clock (and its latency mark, `throttle`); the first failure after a success
//! publishes the `webhook.failing` notice, and a failure once the clock has run the
//! disable-after disables the webhook and publishes `webhook.disabled`.

use uuid::Uuid;

use super::throttle::slowness;
use super::{AttemptOutcome, Deliverer};
use crate::error::Error;
use crate::model::{HealthChange, Timestamp, WebhookRecord};
use crate::publish::FailedDelivery;
use crate::store::StoreError;

impl Deliverer<'_> {
    /// Moves `webhook`'s failing clock after `outcome`, an attempt that, if it failed, is
    /// `failed`. The clock's own writes may fail: the next attempt moves it again.
    pub(super) async fn after_attempt(
        &self,
        webhook: &WebhookRecord,
        outcome: &AttemptOutcome,
        failed: &FailedDelivery<'_>,
    ) -> Result<(), Error> {
        let (owner, id, at) = (webhook.owner(), webhook.info.id, outcome.attempt.at);
        let written = match HealthChange::after_attempt(webhook, outcome.delivered, at, self.settings.disable_after) {
            HealthChange::Unchanged => Ok(()),
            HealthChange::Recovered => self.store.mark_recovered(owner, id).await,
            HealthChange::StartedFailing(since) => {
                self.tell_failing(webhook, since, failed).await;
                self.store.mark_failing(owner, id, since).await
            }
            HealthChange::Disable { .. } => return self.disable(webhook, outcome, failed).await,
        };
        if let Err(err) = written {
            tracing::warn!(webhook_id = %id, error = %crate::error::chain(&err), "the failing clock was not moved");
        }
        if let Some(mark) = slowness(webhook.slow_ms, outcome.attempt.duration_ms) {
            // A mark that is not written leaves the pace as it was until the next attempt.
            if let Err(err) = self.store.mark_slow(owner, id, mark).await {
                tracing::warn!(webhook_id = %id, error = %crate::error::chain(&err), "the latency mark was not moved");
            }
        }
        Ok(())
    }

    /// Publishes `webhook.failing`, unless `failed` is a notice's delivery. At most once a day,
    /// it is not retried: one that cannot be published now is logged.
    async fn tell_failing(&self, webhook: &WebhookRecord, since: Timestamp, failed: &FailedDelivery<'_>) {
        if !failed.is_told() {
            return;
        }
        let now = Timestamp::new(self.clock.now());
        if let Err(err) = self.notices.webhook_failing(webhook, since, failed, now).await {
            let error = crate::error::chain(&err);
            tracing::warn!(webhook_id = %webhook.info.id, %error, "the webhook.failing notice was not published");
        }
    }

    /// Disables the webhook `read` (eventually consistent) showed failing for long enough, if a
    /// consistent read still does, and publishes the notice.
    async fn disable(
        &self,
        read: &WebhookRecord,
        outcome: &AttemptOutcome,
        failed: &FailedDelivery<'_>,
    ) -> Result<(), Error> {
        let Some(current) = self.store.get_webhook(read.owner(), read.info.id).await? else { return Ok(()) };
        let change = HealthChange::after_attempt(&current, false, outcome.attempt.at, self.settings.disable_after);
        let HealthChange::Disable { failing_since } = change else { return Ok(()) };
        if !current.info.enabled {
            return Ok(());
        }
        let now = Timestamp::new(self.clock.now());
        let disabled = current.auto_disabled(failing_since, failed.error, failed.delivery_id, now);
        // On condition that neither a write nor a success (which stops the clock without a new
        // version) came between the read and this write.
        match self.store.disable_webhook(&disabled, &current).await {
            Ok(()) => {}
            // Written since (through the API, which restarts the clock) or deleted: not now.
            Err(StoreError::VersionConflict { .. } | StoreError::NotFound) => return Ok(()),
            Err(err) => return Err(err.into()),
        }
        tracing::warn!(webhook_id = %disabled.info.id, reason = ?disabled.info.disabled_reason, "webhook disabled");
        self.notices.webhook_disabled(&disabled, now).await
    }

    /// Publishes again the notice of `webhook` if `delivery`'s attempt disabled it: its
    /// message came back because the first publish failed (publishing it twice plans it once).
    pub(super) async fn notice_again(&self, webhook: Option<&WebhookRecord>, delivery: Uuid) -> Result<(), Error> {
        match webhook {
            Some(webhook) if !webhook.info.enabled && webhook.disabled_by == Some(delivery) => {
                self.notices.webhook_disabled(webhook, Timestamp::new(self.clock.now())).await
            }
            _ => Ok(()),
        }
    }
}
