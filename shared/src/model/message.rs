//! What the delivery queues carry: one delivery's message, and the two kinds of work that make
//! such messages a page at a time (a wide fan-out, a recovery).

use std::ops::Not;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{DeliveryStatus, DeliveryStep, EntityId, Event, EventData, Owner, Timestamp, WebhookId};

/// The event a delivery's message carries: whole, or only named in a message kept small (a
/// timer's, a FIFO webhook's parked one, a recovery's), whose deliverer reads it from its plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
#[serde(from = "Carried")]
pub enum CarriedEvent {
    Whole(Event),
    Named {
        id: String,
        #[serde(rename = "type")]
        event_type: String,
    },
}

/// A carried event as read: whole when it has its time and data. Read through this rather than
/// as an untagged enum, which copies the event, data and all, into a buffer before trying each
/// kind (on every delivery).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Carried {
    id: String,
    #[serde(rename = "type")]
    event_type: String,
    occurred_at: Option<Timestamp>,
    /// Present, even as `null`.
    #[serde(default, deserialize_with = "present")]
    data: Option<EventData>,
}

fn present<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<EventData>, D::Error> {
    EventData::deserialize(deserializer).map(Some)
}

impl From<Carried> for CarriedEvent {
    fn from(carried: Carried) -> Self {
        let Carried { id, event_type, occurred_at, data } = carried;
        match (occurred_at, data) {
            (Some(occurred_at), Some(data)) => Self::Whole(Event { id, event_type, occurred_at, data }),
            _ => Self::Named { id, event_type },
        }
    }
}

impl CarriedEvent {
    pub fn id(&self) -> &str {
        match self {
            Self::Whole(event) => &event.id,
            Self::Named { id, .. } => id,
        }
    }

    pub fn event_type(&self) -> &str {
        match self {
            Self::Whole(event) => &event.event_type,
            Self::Named { event_type, .. } => event_type,
        }
    }

    pub fn whole(&self) -> Option<&Event> {
        match self {
            Self::Whole(event) => Some(event),
            Self::Named { .. } => None,
        }
    }

    /// The same event, named only.
    #[must_use]
    pub fn named(&self) -> Self {
        Self::Named { id: self.id().to_string(), event_type: self.event_type().to_string() }
    }
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// The queue message of one delivery: everything the deliver function needs but the webhook,
/// which it reads again at delivery time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryMessage {
    pub delivery_id: Uuid,
    pub webhook_id: WebhookId,
    /// The entity the event was published for.
    pub owner_identifier: EntityId,
    /// To a global webhook, which covered that entity when the event was published.
    #[serde(default, skip_serializing_if = "Not::not")]
    pub global: bool,
    pub event: CarriedEvent,
    /// The plan the delivery was planned in, which holds the event; none in messages sent before
    /// plans had ids (the event's current plan then).
    #[serde(default, rename = "planId", skip_serializing_if = "Option::is_none")]
    pub plan: Option<Uuid>,
    /// A retried publish's copy: the original may be carrying the delivery, so a copy that
    /// finds it started is dropped.
    #[serde(default, skip_serializing_if = "Not::not")]
    pub resent: bool,
    /// To a FIFO webhook: carried by the FIFO queue, in order, one at a time per webhook.
    #[serde(default, skip_serializing_if = "Not::not")]
    pub fifo: bool,
    /// The step it is to record, from 1; 0 in a message sent before messages said it, which
    /// records the step after the last one recorded.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub step: u32,
    /// Not to be attempted before this time: a retry's, or a reserved turn's in the webhook's
    /// rate. A message that arrives sooner waits again (`crate::delivery`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due: Option<Timestamp>,
    /// `due` is this delivery's turn in its webhook's rate, taken already.
    #[serde(default, skip_serializing_if = "Not::not")]
    pub turn: bool,
    /// How many times an outage (the store or the queue failing) sent it back unattempted.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub deferrals: u32,
}

impl DeliveryMessage {
    /// The first message of delivery `delivery_id` of `event` to `webhook_id`.
    pub fn first(delivery_id: Uuid, webhook_id: WebhookId, owner: EntityId, event: CarriedEvent) -> Self {
        Self {
            delivery_id,
            webhook_id,
            owner_identifier: owner,
            global: false,
            event,
            plan: None,
            resent: false,
            fifo: false,
            step: 1,
            due: None,
            turn: false,
            deferrals: 0,
        }
    }

    /// Step `step` of this delivery.
    pub fn step(&self, step: u32, status: DeliveryStatus) -> DeliveryStep {
        let event = (self.event.id(), self.event.event_type());
        DeliveryStep::of(self.delivery_id, self.webhook_id, self.owner_identifier, event, step, status)
    }

    /// Where the webhook is kept.
    pub fn webhook_owner(&self) -> Owner {
        if self.global { Owner::Global } else { Owner::Entity(self.owner_identifier) }
    }

    /// The message of step `step`, due at `due`, carrying the event named only.
    #[must_use]
    pub fn for_step(&self, step: u32, due: Option<Timestamp>) -> Self {
        Self { step, due, turn: false, deferrals: 0, resent: false, ..self.with_event_named() }
    }

    /// This message carrying its event named only, made without a copy of the event's data.
    #[must_use]
    pub(crate) fn with_event_named(&self) -> Self {
        Self {
            delivery_id: self.delivery_id,
            webhook_id: self.webhook_id,
            owner_identifier: self.owner_identifier,
            global: self.global,
            event: self.event.named(),
            plan: self.plan,
            resent: self.resent,
            fifo: self.fifo,
            step: self.step,
            due: self.due,
            turn: self.turn,
            deferrals: self.deferrals,
        }
    }
}

/// One page of a wide fan-out's plan (docs/contract.md 6): the deliver function sends its
/// deliveries' messages, so that publishing sends one batch however many webhooks there are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FanOutPage {
    pub owner_identifier: EntityId,
    pub event_id: String,
    #[serde(rename = "planId")]
    pub plan: Uuid,
    pub page: u32,
    /// A retried publish's: only the page's deliveries that have not started get a message, a
    /// copy marked `resent`.
    #[serde(default, skip_serializing_if = "Not::not")]
    pub resent: bool,
    /// How many times an outage sent it back.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub deferrals: u32,
}

/// A recovery's next page (docs/contract.md 5.2): the deliveries of the window after `after`,
/// oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecoveryPage {
    pub webhook_id: WebhookId,
    /// The webhook's entity; none for a global webhook.
    pub owner_identifier: Option<EntityId>,
    pub since: Timestamp,
    /// Fixed when the recovery starts, so that it never reaches the deliveries it makes.
    pub until: Timestamp,
    pub statuses: Vec<DeliveryStatus>,
    pub after: Option<Uuid>,
    /// How many times an outage sent it back.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub deferrals: u32,
}

impl RecoveryPage {
    pub fn owner(&self) -> Owner {
        self.owner_identifier.map_or(Owner::Global, Owner::Entity)
    }
}

/// What the delivery queues carry.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum QueueMessage {
    Delivery(DeliveryMessage),
    FanOut {
        #[serde(rename = "fanOut")]
        fan_out: FanOutPage,
    },
    Recovery {
        recovery: RecoveryPage,
    },
}

impl From<DeliveryMessage> for QueueMessage {
    fn from(message: DeliveryMessage) -> Self {
        Self::Delivery(message)
    }
}

/// The kinds of queue message besides a delivery, as read.
#[derive(Deserialize)]
#[serde(untagged)]
enum Work {
    FanOut {
        #[serde(rename = "fanOut")]
        fan_out: FanOutPage,
    },
    Recovery {
        recovery: RecoveryPage,
    },
}

/// A queue message is JSON text: read as a delivery, by far the most common kind, and only
/// then as the others. An untagged enum's reader would copy the whole body into a buffer before
/// trying each kind, and an event's data, kept as text (`EventData`), is not read from one.
impl<'de> Deserialize<'de> for QueueMessage {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let body = Box::<serde_json::value::RawValue>::deserialize(deserializer)?;
        Self::read(body.get()).map_err(serde::de::Error::custom)
    }
}

impl QueueMessage {
    /// Reads a queue message's body.
    pub fn from_body(body: &str) -> Result<Self, crate::error::Error> {
        Self::read(body).map_err(|e| crate::error::Error::internal(format!("unreadable queue message: {e}")))
    }

    fn read(body: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str::<DeliveryMessage>(body).map(Self::Delivery).or_else(|_| {
            serde_json::from_str(body).map(|work| match work {
                Work::FanOut { fan_out } => Self::FanOut { fan_out },
                Work::Recovery { recovery } => Self::Recovery { recovery },
            })
        })
    }

    /// Its message group: on the standard queue the tenant it works for, which SQS fair queues
    /// serve in fair shares; on the FIFO queue the webhook, whose messages go in order.
    pub fn group(&self) -> String {
        match self {
            Self::Delivery(m) if m.fifo => m.webhook_id.to_string(),
            Self::Delivery(m) => m.owner_identifier.to_string(),
            Self::FanOut { fan_out } => fan_out.owner_identifier.to_string(),
            Self::Recovery { recovery } => {
                recovery.owner_identifier.map_or_else(|| format!("global-{}", recovery.webhook_id), |e| e.to_string())
            }
        }
    }

    /// The same message sent back by an outage, and how many times it has been. A fan-out page
    /// may have been sent in part: sent back, it sends only copies of what has not started.
    #[must_use]
    pub fn deferred(mut self) -> (Self, u32) {
        let deferrals = match &mut self {
            Self::Delivery(m) => &mut m.deferrals,
            Self::FanOut { fan_out } => {
                fan_out.resent = true;
                &mut fan_out.deferrals
            }
            Self::Recovery { recovery } => &mut recovery.deferrals,
        };
        *deferrals = deferrals.saturating_add(1);
        let count = *deferrals;
        (self, count)
    }

    /// Whether it goes to the FIFO queue.
    pub fn fifo(&self) -> bool {
        matches!(self, Self::Delivery(m) if m.fifo)
    }

    /// Its deduplication id on the FIFO queue: one per step of a delivery and time it is due,
    /// so that a copy sent within SQS's five minutes (a retried publish's) is dropped and a
    /// later send of the same step (a retry woken, a parked message released) is not.
    pub fn deduplication_id(&self) -> String {
        match self {
            Self::Delivery(m) => match m.due {
                Some(due) => format!("{}-{}-{}", m.delivery_id, m.step, due.get().timestamp_millis()),
                None => format!("{}-{}", m.delivery_id, m.step),
            },
            other => other.group(),
        }
    }
}

#[cfg(test)]
#[path = "message_tests.rs"]
mod tests;
