//! An event as published, with every delivery it planned and where each stands.

use serde::Serialize;
use uuid::Uuid;

use super::Scoped;
use crate::error::Error;
use crate::model::{DeliveryStatus, EventData, Timestamp, WebhookId};
use crate::store::{DeliveryGet, EventGet, delivery_states};

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EventView {
    id: String,
    #[serde(rename = "type")]
    event_type: String,
    occurred_at: Timestamp,
    data: EventData,
    deliveries: Vec<PlannedDelivery>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct PlannedDelivery {
    webhook_id: WebhookId,
    delivery_id: Uuid,
    status: DeliveryStatus,
}

/// The scope's entity's event `event_id`, with the deliveries the caller may see.
pub(crate) async fn event_view<S: EventGet + DeliveryGet + ?Sized>(
    store: &S,
    scope: &Scoped,
    event_id: &str,
) -> Result<EventView, Error> {
    let plan = store.get_plan(scope.entity()?, event_id, None).await?.ok_or(Error::NotFound)?;
    let keys: Vec<_> = plan.targets.iter().map(|t| (t.webhook_id, t.delivery_id)).collect();
    let recorded = delivery_states(store, &keys).await?;
    // A planned delivery has a record from its first attempt; until then it is what the
    // plan makes it. A delivery to a global webhook is its account's to see: the entity's
    // view does not show another account that a partner's webhook exists.
    let deliveries = plan
        .targets
        .iter()
        .filter(|t| !t.global || (t.account.is_some() && t.account == scope.caller.account))
        .map(|t| {
            let planned = if t.enabled { DeliveryStatus::Pending } else { DeliveryStatus::Skipped };
            let status = recorded.get(&t.delivery_id).map_or(planned, |s| s.status);
            PlannedDelivery { webhook_id: t.webhook_id, delivery_id: t.delivery_id, status }
        })
        .collect();
    let (id, event_type, occurred_at, data) = (plan.event_id, plan.event_type, plan.occurred_at, plan.data);
    Ok(EventView { id, event_type, occurred_at, data, deliveries })
}
