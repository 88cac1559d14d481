//! The platform's own events (docs/contract.md 12), about an entity's own webhooks: published
//! through the whole publish path for the entity's webhooks that list their type. Each one's id
//! is made of what it tells, so publishing it again (a retry after a failure midway) plans
//! nothing twice. A global webhook belongs to no entity, and no entity is told of it.

use std::time::Duration;

use serde_json::{Value, json};
use uuid::Uuid;

use super::publish;
use crate::error::Error;
use crate::model::{
    CREATED_EVENT_TYPE, DELETED_EVENT_TYPE, DISABLED_EVENT_TYPE, EXHAUSTED_EVENT_TYPE, EntityId, EventIn,
    FAILING_EVENT_TYPE, Owner, Timestamp, UPDATED_EVENT_TYPE, WebhookId, WebhookRecord, is_platform_event_type,
};
use crate::queue::Routed;
use crate::runtime::IdGenerator;
use crate::store::PublishStore;

/// What publishes the notices: the API's webhook writes and the deliver step.
pub struct Notices<'a> {
    pub store: &'a dyn PublishStore,
    pub queues: Routed<'a>,
    pub ids: &'a dyn IdGenerator,
    pub resend_delay: Duration,
}

/// A write of a webhook through the API: the webhook as written, or which one was deleted.
#[derive(Clone, Copy)]
pub(crate) enum WebhookWrite<'a> {
    Created(&'a WebhookRecord),
    Updated(&'a WebhookRecord),
    Deleted(Owner, WebhookId),
}

impl WebhookWrite<'_> {
    /// The webhook written, by its id alone: what a log line may name (its record holds secrets,
    /// and its URL's query string may be one).
    pub(crate) fn webhook_id(&self) -> WebhookId {
        match self {
            Self::Created(webhook) | Self::Updated(webhook) => webhook.info.id,
            Self::Deleted(_, id) => *id,
        }
    }
}

/// A delivery's failed attempt, which `webhook.failing` and `delivery.exhausted` are about.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FailedDelivery<'a> {
    pub webhook_id: WebhookId,
    pub delivery_id: Uuid,
    pub event_id: &'a str,
    pub event_type: &'a str,
    /// The attempt's number: of the last one, all the attempts made.
    pub attempt: u32,
    pub error: &'a str,
}

impl FailedDelivery<'_> {
    /// Whether this failure is told: never a notice's own, or a webhook failing its notices
    /// would be told so by more notices, without end.
    pub(crate) fn is_told(&self) -> bool {
        !is_platform_event_type(self.event_type)
    }
}

impl Notices<'_> {
    /// `webhook.disabled`: the platform disabled `webhook`; once a version.
    pub(crate) async fn webhook_disabled(&self, webhook: &WebhookRecord, now: Timestamp) -> Result<(), Error> {
        let id = format!("{DISABLED_EVENT_TYPE}.{}.{}", webhook.info.id, webhook.info.version);
        let at = webhook.info.last_update;
        self.notify(webhook.info.owner_identifier, id, DISABLED_EVENT_TYPE, webhook.disabled_notice(), at, now).await
    }

    /// `webhook.created`, `.updated` (once a version) or `.deleted`.
    pub(crate) async fn webhook_written(&self, write: WebhookWrite<'_>, now: Timestamp) -> Result<(), Error> {
        let (event_type, webhook) = match write {
            WebhookWrite::Created(webhook) => (CREATED_EVENT_TYPE, webhook),
            WebhookWrite::Updated(webhook) => (UPDATED_EVENT_TYPE, webhook),
            WebhookWrite::Deleted(owner, id) => {
                let (entity, data) = (owner.entity(), json!({"webhookId": id}));
                return self
                    .notify(entity, format!("{DELETED_EVENT_TYPE}.{id}"), DELETED_EVENT_TYPE, data, now, now)
                    .await;
            }
        };
        let info = &webhook.info;
        let id = format!("{event_type}.{}.{}", info.id, info.version);
        let data = json!({"webhookId": info.id, "name": info.name, "version": info.version});
        self.notify(info.owner_identifier, id, event_type, data, now, now).await
    }

    /// `webhook.failing`: `webhook` failed `failed` after a success, failing since `since`; at
    /// most once a UTC day a webhook.
    pub(crate) async fn webhook_failing(
        &self,
        webhook: &WebhookRecord,
        since: Timestamp,
        failed: &FailedDelivery<'_>,
        now: Timestamp,
    ) -> Result<(), Error> {
        let id = format!("{FAILING_EVENT_TYPE}.{}.{}", webhook.info.id, now.get().format("%Y-%m-%d"));
        let data = json!({
            "webhookId": webhook.info.id,
            "failingSince": since,
            "deliveryId": failed.delivery_id,
            "eventId": failed.event_id,
            "error": failed.error,
        });
        self.notify(webhook.info.owner_identifier, id, FAILING_EVENT_TYPE, data, since, now).await
    }

    /// `delivery.exhausted`: the delivery `failed` was of an event published for `entity` to its
    /// own webhook (none: to a global one), and its last attempt failed.
    pub(crate) async fn delivery_exhausted(
        &self,
        entity: Option<EntityId>,
        failed: &FailedDelivery<'_>,
        now: Timestamp,
    ) -> Result<(), Error> {
        let id = format!("{EXHAUSTED_EVENT_TYPE}.{}", failed.delivery_id);
        let data = json!({
            "webhookId": failed.webhook_id,
            "deliveryId": failed.delivery_id,
            "eventId": failed.event_id,
            "eventType": failed.event_type,
            "attempts": failed.attempt,
            "error": failed.error,
        });
        self.notify(entity, id, EXHAUSTED_EVENT_TYPE, data, now, now).await
    }

    async fn notify(
        &self,
        entity: Option<EntityId>,
        id: String,
        event_type: &str,
        data: Value,
        occurred_at: Timestamp,
        now: Timestamp,
    ) -> Result<(), Error> {
        let Some(entity) = entity else { return Ok(()) };
        let input = EventIn {
            id: Some(id),
            idempotency_key: None,
            event_type: event_type.into(),
            data,
            occurred_at: Some(occurred_at),
        };
        publish(self.store, &self.queues, self.ids, entity, input, now, self.resend_delay).await.map(|_| ())
    }
}

#[cfg(test)]
#[path = "notices_tests.rs"]
mod tests;
