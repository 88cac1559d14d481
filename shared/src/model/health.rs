//! Auto-disable (docs/contract.md 12): a webhook whose attempts have failed, with no success since,
//! for at least the disable-after is disabled by its next failed attempt, with the reason.

use std::time::Duration;

use serde_json::{Value, json};
use uuid::Uuid;

use super::{Timestamp, WebhookOut, WebhookRecord};

/// Who `userIdentifier` says last wrote a webhook the platform disabled.
pub const AUTO_DISABLE_USER: &str = "auto-disable";

/// What one attempt's outcome changes in its webhook's failing clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HealthChange {
    /// Nothing: delivered to a healthy webhook, or failing for less than the disable-after.
    Unchanged,
    /// A success after failures: the clock stops.
    Recovered,
    /// The first failure since a success: the clock starts at it.
    StartedFailing(Timestamp),
    /// Failing since `failing_since`, at least the disable-after ago: disable the webhook.
    Disable { failing_since: Timestamp },
}

impl HealthChange {
    /// The change an attempt made `at` brings to `webhook`.
    pub(crate) fn after_attempt(
        webhook: &WebhookRecord,
        delivered: bool,
        at: Timestamp,
        disable_after: Duration,
    ) -> Self {
        match (delivered, webhook.failing_since) {
            (true, None) => Self::Unchanged,
            (true, Some(_)) => Self::Recovered,
            (false, None) => Self::StartedFailing(at),
            (false, Some(since)) => {
                let failing = (at.get() - since.get()).to_std().unwrap_or_default();
                if failing >= disable_after { Self::Disable { failing_since: since } } else { Self::Unchanged }
            }
        }
    }
}

impl WebhookRecord {
    /// This webhook disabled by the platform, failing since `failing_since` with `error` last,
    /// by the attempt of `delivery`; one version later.
    pub fn auto_disabled(&self, failing_since: Timestamp, error: &str, delivery: Uuid, now: Timestamp) -> Self {
        let info = WebhookOut {
            last_update: now,
            version: self.info.version + 1,
            user_identifier: AUTO_DISABLE_USER.into(),
            enabled: false,
            disabled_reason: Some(format!("failing since {failing_since}: {error}")),
            ..self.info.clone()
        };
        Self { info, failing_since: Some(failing_since), disabled_by: Some(delivery), ..self.clone() }
    }

    /// The `data` of the `webhook.disabled` notice of this webhook, which the platform disabled.
    pub fn disabled_notice(&self) -> Value {
        json!({
            "webhookId": self.info.id,
            "reason": self.info.disabled_reason,
            "failingSince": self.failing_since,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Catalog, Owner, UrlPolicy, WebhookId, WebhookIn, WebhookName, WebhookRules, WebhookSecret};

    fn rules() -> WebhookRules<'static> {
        WebhookRules { owner: Owner::Global, policy: UrlPolicy::default(), catalog: Catalog::defaults() }
    }

    fn input_of(webhook: &WebhookOut) -> WebhookIn {
        let document = WebhookIn::document_of(webhook);
        let body = document.as_object().expect("an object");
        WebhookIn::parse(body, &rules(), None).expect("valid")
    }

    fn webhook() -> WebhookRecord {
        let body = json!({"name": "Sync", "eventUrl": "https://api.example.com/hook", "entities": "*"});
        let input = WebhookIn::parse(body.as_object().expect("object"), &rules(), None);
        let id = WebhookId(Uuid::now_v7());
        WebhookRecord::create(
            input.expect("valid"),
            id,
            Owner::Global,
            "user-1",
            Some("user-1"),
            at(0),
            WebhookSecret::from_key(&[1; 32]),
        )
    }

    fn at(seconds: i64) -> Timestamp {
        Timestamp::new(chrono::DateTime::from_timestamp(1_795_000_000 + seconds, 0).expect("time"))
    }

    #[test]
    fn the_clock_starts_at_a_failure_stops_at_a_success_and_disables_once_old_enough() {
        let after = Duration::from_secs(60);
        let mut hook = webhook();
        assert_eq!(HealthChange::after_attempt(&hook, true, at(0), after), HealthChange::Unchanged);
        assert_eq!(HealthChange::after_attempt(&hook, false, at(0), after), HealthChange::StartedFailing(at(0)));
        hook.failing_since = Some(at(0));
        assert_eq!(HealthChange::after_attempt(&hook, false, at(59), after), HealthChange::Unchanged);
        assert_eq!(
            HealthChange::after_attempt(&hook, false, at(60), after),
            HealthChange::Disable { failing_since: at(0) }
        );
        assert_eq!(HealthChange::after_attempt(&hook, true, at(60), after), HealthChange::Recovered);
    }

    #[test]
    fn a_disabled_webhook_says_why_and_enabling_it_again_clears_the_reason() {
        let hook = webhook();
        let delivery = Uuid::now_v7();
        let disabled = hook.auto_disabled(at(0), "the receiver answered 500", delivery, at(90));
        assert!(!disabled.info.enabled);
        assert_eq!(disabled.info.version, hook.info.version + 1);
        let reason = "failing since 2026-11-18T11:06:40.000Z: the receiver answered 500";
        assert_eq!(disabled.info.disabled_reason.as_deref(), Some(reason));
        assert_eq!(disabled.disabled_notice()["failingSince"], "2026-11-18T11:06:40.000Z");
        assert_eq!(disabled.disabled_by, Some(delivery));

        let mut input = input_of(&disabled.info);
        input.name = WebhookName::parse("Renamed").expect("name");
        let renamed = disabled.updated(input.clone(), "user-1", at(100));
        assert_eq!(renamed.info.disabled_reason.as_deref(), Some(reason), "still disabled, still why");
        input.enabled = true;
        let enabled = renamed.updated(input, "user-1", at(110));
        assert_eq!((enabled.info.disabled_reason, enabled.disabled_by, enabled.failing_since), (None, None, None));
    }
}
