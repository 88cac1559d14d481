//! Events, the deliveries they fan out to, and the attempts that deliver them.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::fields::{Fields, as_str};
use super::{EntityId, EventData, EventType, Timestamp, WebhookId};
use crate::error::Error;

const MAX_EVENT_ID_CHARS: usize = 256;

/// An event as published: its id (the client's, for deduplication, or ours), type, time, data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    pub id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub occurred_at: Timestamp,
    pub data: EventData,
}

/// The publish body `{id?, type, data, occurredAt?}`, parsed, with the request's
/// `Idempotency-Key`, which stands for the id when there is none.
#[derive(Debug, Clone, PartialEq)]
pub struct EventIn {
    pub id: Option<String>,
    pub idempotency_key: Option<String>,
    pub event_type: String,
    pub data: Value,
    pub occurred_at: Option<Timestamp>,
}

impl EventIn {
    pub fn parse(body: &Map<String, Value>) -> Result<Self, Error> {
        let mut fields = Fields::new(body);
        let id = fields.optional(
            "id",
            || None,
            |v| {
                let id = as_str(v)?;
                let printable = !id.is_empty() && id.len() <= MAX_EVENT_ID_CHARS && !id.chars().any(char::is_control);
                if printable {
                    Ok(Some(id.to_string()))
                } else {
                    Err(format!("must be 1 to {MAX_EVENT_ID_CHARS} printable characters"))
                }
            },
        );
        // Checked against the catalog, which the store holds, by `check_type`.
        let event_type = fields.required("type", |v| as_str(v).map(str::to_string));
        let data = fields.optional("data", || json!({}), |v| Ok(v.clone()));
        let occurred_at = fields.optional(
            "occurredAt",
            || None,
            |v| {
                serde_json::from_value::<Timestamp>(v.clone())
                    .map(Some)
                    .map_err(|_| "must be an RFC 3339 date-time".to_string())
            },
        );
        match (id, event_type, data, occurred_at) {
            (Some(id), Some(event_type), Some(data), Some(occurred_at)) if fields.errors.is_empty() => {
                Ok(Self { id, idempotency_key: None, event_type, data, occurred_at })
            }
            _ => Err(fields.into_error()),
        }
    }
}

impl EventIn {
    /// Whether this event may be published as `event_type`, the catalog's type of its name:
    /// known, not the platform's own, and its `data` as the type's schema says.
    pub(crate) fn check_type(&self, event_type: Option<&EventType>) -> Result<(), Error> {
        match event_type {
            None => Err(Error::validation("type", format!("{:?} is not a known event type", self.event_type))),
            Some(t) if t.platform => {
                Err(Error::validation("type", format!("{:?} is published by the platform itself", t.name)))
            }
            Some(t) => t.check(&self.data),
        }
    }
}

/// The event as a filter sees it (docs/contract.md 14): `{"id", "type", "occurredAt",
/// "ownerIdentifier", "data"}`, `owner` being the entity it was published for and `data` the
/// event's data as the tree it was parsed into (the event itself holds its text).
pub fn event_body(event: &Event, data: &Value, owner: Option<EntityId>) -> Value {
    json!({
        "id": event.id,
        "type": event.event_type,
        "occurredAt": event.occurred_at,
        "ownerIdentifier": owner,
        "data": data,
    })
}

/// What a receiver is POSTed (docs/contract.md 6): the event's body with the webhook's id, `data`
/// left out when the webhook wants ids only. `owner` is the entity the event was published
/// for (none for a global webhook's test); a test send's body says `"test": true`.
pub fn payload(
    event: &Event,
    owner: Option<EntityId>,
    webhook: WebhookId,
    send_data: bool,
    test: bool,
) -> Result<String, Error> {
    /// Written straight from the event, without copying its data into a `Value` first (every
    /// delivery makes one). Fields in the order of their names, as `event_body`'s object
    /// writes them: the bytes are the same.
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Payload<'a> {
        #[serde(skip_serializing_if = "Option::is_none")]
        data: Option<&'a EventData>,
        id: &'a str,
        occurred_at: &'a Timestamp,
        owner_identifier: Option<EntityId>,
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        test: bool,
        #[serde(rename = "type")]
        event_type: &'a str,
        webhook_id: WebhookId,
    }
    let payload = Payload {
        data: send_data.then_some(&event.data),
        id: &event.id,
        occurred_at: &event.occurred_at,
        owner_identifier: owner,
        test,
        event_type: &event.event_type,
        webhook_id: webhook,
    };
    serde_json::to_string(&payload).map_err(Error::internal)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    Pending,
    Succeeded,
    Failed,
    Skipped,
}

/// One POST to the receiver, or one that could not be made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attempt {
    pub attempt: u32,
    pub at: Timestamp,
    pub status_code: Option<u16>,
    pub duration_ms: u64,
    pub error: Option<String>,
    /// The first 1 KiB of what the receiver answered.
    pub response_body: Option<String>,
}

/// One webhook an event fans out to, with the id its delivery has on every try of the publish.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FanOutTarget {
    pub webhook_id: WebhookId,
    pub delivery_id: Uuid,
    /// A paused webhook gets a `skipped` record and no message.
    pub enabled: bool,
    /// A global webhook covering the entity.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub global: bool,
    /// A global webhook's account: only its callers see this delivery in the event view.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// A FIFO webhook's: its message goes to the FIFO queue.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub fifo: bool,
}

/// One published event: the event as published and where it goes, with each delivery's id.
/// A publish that fails midway leaves it behind, and the retry with the same event id
/// finishes it (`crate::publish`). It is kept as long as the delivery records, for the event
/// view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FanOutPlan {
    /// This plan's own id: an event id may be published again once its dedupe window is
    /// over, and its earlier plan is then kept apart under this id. None in plans stored
    /// before plans had ids.
    #[serde(default, rename = "planId", skip_serializing_if = "Option::is_none")]
    pub plan: Option<Uuid>,
    pub event_id: String,
    pub event_type: String,
    pub occurred_at: Timestamp,
    #[serde(default)]
    pub data: EventData,
    pub targets: Vec<FanOutTarget>,
}

impl FanOutPlan {
    /// The event as published.
    pub fn event(&self) -> Event {
        Event {
            id: self.event_id.clone(),
            event_type: self.event_type.clone(),
            occurred_at: self.occurred_at,
            data: self.data.clone(),
        }
    }
}

/// The record of one event's delivery to one webhook, with every attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    /// UUIDv7: key order is time order.
    pub delivery_id: Uuid,
    pub webhook_id: WebhookId,
    /// The entity the event was published for (a global webhook's deliveries are of many);
    /// unknown for deliveries recorded before it was kept.
    pub owner_identifier: Option<EntityId>,
    pub event_id: String,
    pub event_type: String,
    /// The plan that holds its event; an internal key, not shown.
    #[serde(default, skip_serializing)]
    pub plan: Option<Uuid>,
    pub status: DeliveryStatus,
    pub last_status_code: Option<u16>,
    pub last_error: Option<String>,
    pub last_attempt_at: Option<Timestamp>,
    pub next_attempt_at: Option<Timestamp>,
    pub attempts: Vec<Attempt>,
    /// The new delivery a resend or a recovery last made of this one.
    #[serde(default)]
    pub resent_as: Option<Uuid>,
    /// Its last step's number; not shown.
    #[serde(skip)]
    pub step: u32,
}

impl Delivery {
    /// The delivery its steps describe, in step order; `None` for no steps.
    pub fn from_steps(steps: impl IntoIterator<Item = DeliveryStep>) -> Option<Self> {
        let mut steps = steps.into_iter();
        let first = steps.next()?;
        let mut delivery = Self {
            delivery_id: first.delivery_id,
            webhook_id: first.webhook_id,
            owner_identifier: first.owner_identifier,
            event_id: first.event_id.clone(),
            event_type: first.event_type.clone(),
            plan: first.plan,
            status: DeliveryStatus::Pending,
            last_status_code: None,
            last_error: None,
            last_attempt_at: None,
            next_attempt_at: None,
            attempts: Vec::new(),
            resent_as: None,
            step: 0,
        };
        delivery.apply(first);
        steps.for_each(|step| delivery.apply(step));
        Some(delivery)
    }

    fn apply(&mut self, step: DeliveryStep) {
        self.step = step.step;
        self.status = step.status;
        self.next_attempt_at = step.next_attempt_at;
        if step.resent_as.is_some() {
            self.resent_as = step.resent_as;
        }
        match step.attempt {
            Some(attempt) => {
                self.last_status_code = attempt.status_code;
                self.last_error.clone_from(&attempt.error);
                self.last_attempt_at = Some(attempt.at);
                self.attempts.push(attempt);
            }
            None => self.last_error = step.error.or(self.last_error.take()),
        }
    }
}

/// One step of a delivery's life, stored as an item of its own so that recording it costs
/// the same whatever came before: an attempt, or the skip or dead-letter mark that ends a
/// delivery without one. Steps count from 1 and are never rewritten; the delivery stands
/// where its last step says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryStep {
    pub delivery_id: Uuid,
    pub webhook_id: WebhookId,
    /// The entity the event was published for, so that a resend finds the event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_identifier: Option<EntityId>,
    pub event_id: String,
    pub event_type: String,
    /// The plan that holds the event (`FanOutPlan::plan`), when it has an id.
    #[serde(default, rename = "planId", skip_serializing_if = "Option::is_none")]
    pub plan: Option<Uuid>,
    pub step: u32,
    pub status: DeliveryStatus,
    pub attempt: Option<Attempt>,
    /// Why the delivery ended without an attempt (`dead-lettered`).
    pub error: Option<String>,
    pub next_attempt_at: Option<Timestamp>,
    /// A mark, not an attempt: the delivery was sent again as this new delivery.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resent_as: Option<Uuid>,
}

impl DeliveryStep {
    /// Step `step` of delivering `event`, published for `entity`, to `webhook_id`, with no
    /// attempt in it yet.
    pub fn of(
        delivery_id: Uuid,
        webhook_id: WebhookId,
        entity: EntityId,
        (event_id, event_type): (&str, &str),
        step: u32,
        status: DeliveryStatus,
    ) -> Self {
        Self {
            delivery_id,
            webhook_id,
            owner_identifier: Some(entity),
            event_id: event_id.to_string(),
            event_type: event_type.to_string(),
            plan: None,
            step,
            status,
            attempt: None,
            error: None,
            next_attempt_at: None,
            resent_as: None,
        }
    }

    /// The step after `delivery`'s last that marks it, finished, resent as `resent_as` (a
    /// resend's or a recovery's), leaving its status as it was.
    pub fn resent(delivery: &Delivery, resent_as: Uuid) -> Self {
        Self {
            delivery_id: delivery.delivery_id,
            webhook_id: delivery.webhook_id,
            owner_identifier: delivery.owner_identifier,
            event_id: delivery.event_id.clone(),
            event_type: delivery.event_type.clone(),
            plan: delivery.plan,
            step: delivery.step + 1,
            status: delivery.status,
            attempt: None,
            error: None,
            next_attempt_at: None,
            resent_as: Some(resent_as),
        }
    }
}

/// Where a delivery stands: its last step's status and number, and when a pending one's next
/// attempt is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryState {
    pub status: DeliveryStatus,
    pub step: u32,
    #[serde(default)]
    pub next_attempt_at: Option<Timestamp>,
}

impl DeliveryState {
    pub fn of(step: &DeliveryStep) -> Self {
        Self { status: step.status, step: step.step, next_attempt_at: step.next_attempt_at }
    }
}

#[cfg(test)]
#[path = "delivery_tests.rs"]
mod tests;
