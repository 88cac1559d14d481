//! Publishing an event: every matching webhook is planned a delivery, and each enabled one gets
//! a queue message (its record starts with its first attempt); a paused webhook gets a
//! `skipped` record, so its log shows what it missed.
//!
//! The fan-out is crash-safe without bookkeeping writes. Its plan (targets and delivery ids)
//! is stored once, with the event, under the event id; then the messages are sent, in one
//! `SendMessageBatch` whatever the number of webhooks: the deliveries' own messages when they
//! fit, else one message per page of the plan, whose deliver step sends that page's
//! (`fan_out`). A publish that fails after the plan is stored answers the event's id with its
//! error; retried with that id (or the same `Idempotency-Key`), it answers as for any duplicate
//! and sends a copy, marked `resent` and delayed by the resend delay, of every planned delivery
//! that has no step yet (one it cannot tell was sent). The deliver step drops a copy whose
//! delivery has started by the time it arrives (the original carries it) and otherwise carries
//! the delivery itself. Nothing is lost; the receiver gets an event twice only if an original is
//! still unstarted after the delay (a queue backed up that long), which at-least-once delivery
//! allows: the `webhook-id` is the same.

mod fan_out;
mod notices;

use std::time::Duration;

use sha2::{Digest, Sha256};
use uuid::Uuid;

pub use fan_out::{page_targets, send_page};
pub use notices::Notices;
pub(crate) use notices::{FailedDelivery, WebhookWrite};

use crate::error::Error;
use crate::model::{
    CarriedEvent, DeliveryMessage, EntityId, Event, EventData, EventIn, FanOutPlan, FanOutTarget, Ordering, Timestamp,
    WebhookId, event_body, is_platform_event_type,
};
use crate::queue::{DeliveryEnqueue, message_body};
use crate::rate_limit::{Verdict, take_publish};
use crate::runtime::ApiContext;
use crate::runtime::IdGenerator;
use crate::store::{EventTypeGet, PublishStore, RateLimitStore, event_type};

/// How long a published event id is remembered, so a repeat publishes nothing.
pub(crate) const EVENT_ID_TTL: Duration = Duration::from_secs(24 * 3600);
/// Events of a batch published at once: a batch of 100 takes about a tenth of one after the
/// other, well inside API Gateway's 29 s, without one batch taking a burst of connections.
const BATCH_CONCURRENCY: usize = 10;

/// What came of a publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Published {
    /// Planned and enqueued: `deliveries` enabled webhooks will be POSTed.
    Accepted { event_id: String, deliveries: usize },
    /// The event id was published before: nothing new is planned, and a copy of each
    /// delivery that has not started is sent, delayed, in case the first try stopped midway.
    Duplicate { event_id: String },
}

/// The id of an event published without one under `Idempotency-Key` `key`: the same for the
/// same entity and key, so that a retry finds the first try's plan.
fn keyed_event_id(owner: EntityId, key: &str) -> String {
    let digest = Sha256::digest(format!("{owner}\n{key}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid().to_string()
}

/// An event sent apart from a request's body (an event of a batch, an ingest message's), as
/// the publish route takes its body, held to the same size.
pub(crate) fn event_in(event: serde_json::Map<String, serde_json::Value>) -> Result<EventIn, Error> {
    // Serialising a JSON value cannot fail.
    if serde_json::to_vec(&event).map_or(0, |bytes| bytes.len()) > crate::api::MAX_BODY_BYTES {
        return Err(Error::PayloadTooLarge { limit: crate::api::MAX_BODY_BYTES });
    }
    EventIn::parse(&event)
}

/// Publishes one event as the publish route and the ingest queue do: its type checked against
/// the catalog, then the entity's limit taken (only for an event that may be published), then
/// `publish`; answers the limit's verdict with what came of it.
pub(crate) async fn publish_checked<S, Q>(
    ctx: &ApiContext,
    store: &S,
    queue: &Q,
    entity: EntityId,
    input: EventIn,
) -> Result<(Verdict, Published), Error>
where
    S: PublishStore + EventTypeGet + RateLimitStore + ?Sized,
    Q: DeliveryEnqueue + ?Sized,
{
    input.check_type(event_type(store, &input.event_type).await?.as_ref())?;
    let verdict = take_publish(ctx, store, entity, 1).await?;
    let now = Timestamp::new(ctx.clock.now());
    let published = publish(store, queue, ctx.ids.as_ref(), entity, input, now, ctx.settings.resend_delay).await?;
    Ok((verdict, published))
}

/// Publishes each of `inputs` as `publish` does, up to `BATCH_CONCURRENCY` at once; answers
/// what came of each, in their order. One that fails stops no other.
pub(crate) async fn publish_all<S, Q>(
    store: &S,
    queue: &Q,
    ids: &dyn IdGenerator,
    owner: EntityId,
    inputs: Vec<EventIn>,
    now: Timestamp,
    resend_delay: Duration,
) -> Vec<Result<Published, Error>>
where
    S: PublishStore + ?Sized,
    Q: DeliveryEnqueue + ?Sized,
{
    use futures::StreamExt;
    futures::stream::iter(inputs)
        .map(|input| publish(store, queue, ids, owner, input, now, resend_delay))
        .buffered(BATCH_CONCURRENCY)
        .collect()
        .await
}

/// Publishes `input` for `owner` at `now`.
pub async fn publish<S, Q>(
    store: &S,
    queue: &Q,
    ids: &dyn IdGenerator,
    owner: EntityId,
    input: EventIn,
    now: Timestamp,
    resend_delay: Duration,
) -> Result<Published, Error>
where
    S: PublishStore + ?Sized,
    Q: DeliveryEnqueue + ?Sized,
{
    let event_id = match (&input.id, &input.idempotency_key) {
        (Some(id), _) => id.clone(),
        (None, Some(key)) => keyed_event_id(owner, key),
        (None, None) => ids.new_id().to_string(),
    };
    let occurred_at = input.occurred_at.unwrap_or(now);
    let data = EventData::of(&input.data).map_err(Error::internal)?;
    let event = Event { id: event_id, event_type: input.event_type.clone(), occurred_at, data };
    // The queue takes messages up to its limit: refuse a larger one before planning anything.
    let sample = DeliveryMessage::first(Uuid::nil(), WebhookId(Uuid::nil()), owner, CarriedEvent::Whole(event.clone()));
    message_body(&sample.into())?;

    // The event as a filter sees it: a copy of its data, made once and only for a filter.
    let body = std::cell::OnceCell::new();
    let platform = is_platform_event_type(&event.event_type);
    // The platform's notices are the entity's, not its partners', and go to the few that list them.
    let subscribers = if platform { store.notice_subscribers(owner).await? } else { store.subscribers(owner).await? };
    let targets: Vec<FanOutTarget> = subscribers
        .iter()
        // An event a webhook's filter refuses is neither delivered nor recorded for it.
        .filter(|w| w.info.event_list.matches(&event.event_type))
        .filter(|w| {
            let as_filtered = || event_body(&event, &input.data, Some(owner));
            w.info.options.filter.as_ref().is_none_or(|filter| filter.matches(body.get_or_init(as_filtered)))
        })
        .map(|w| FanOutTarget {
            webhook_id: w.info.id,
            delivery_id: ids.new_id(),
            enabled: w.info.enabled,
            global: w.info.owner_identifier.is_none(),
            account: w.info.account_identifier.clone(),
            fifo: w.info.options.ordering == Ordering::Fifo,
        })
        .collect();
    if platform && targets.is_empty() {
        // A notice no webhook lists is kept nowhere: its write would be all it cost, for no one.
        return Ok(Published::Accepted { event_id: event.id, deliveries: 0 });
    }
    let Event { id, event_type, occurred_at, data } = event;
    let fresh = FanOutPlan { plan: Some(ids.new_id()), event_id: id, event_type, occurred_at, data, targets };
    let (plan, created) = store.open_fan_out(owner, &fresh, now, EVENT_ID_TTL).await?;
    if !created && input.idempotency_key.is_some() && (plan.event_type != input.event_type || plan.data != fresh.data) {
        let why = format!("was used with another event (type {:?}) within the last 24 hours", plan.event_type);
        return Err(Error::validation("Idempotency-Key", why));
    }
    // The event is stored from here on: an error says its id, for the retry that finishes it.
    let sent = fan_out::send(store, queue, owner, &plan, created, resend_delay)
        .await
        .map_err(|err| Error::published_but(plan.event_id.clone(), err))?;
    if !created {
        tracing::info!(event_id = %plan.event_id, resent = sent, "duplicate publish");
        return Ok(Published::Duplicate { event_id: plan.event_id });
    }
    // In the event's own record: at INFO, a line per event would cost more than its deliveries.
    tracing::debug!(event_id = %plan.event_id, event_type = %plan.event_type, deliveries = sent, "event published");
    if !platform {
        crate::metrics::published(sent);
    }
    Ok(Published::Accepted { event_id: plan.event_id, deliveries: sent })
}

#[cfg(test)]
mod fan_out_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_keyed_event_id_is_the_same_for_the_same_entity_and_key_only() {
        let (a, b) = (
            EntityId::parse("d5b8a3c2-9e6f-4a1b-8d34-7c2e1f0a5b69").expect("uuid"),
            EntityId::parse("0d9e8f7a-6b5c-4d3e-8f2a-1b0c9d8e7f6a").expect("uuid"),
        );
        assert_eq!(keyed_event_id(a, "order-1"), keyed_event_id(a, "order-1"));
        assert_ne!(keyed_event_id(a, "order-1"), keyed_event_id(a, "order-2"));
        assert_ne!(keyed_event_id(a, "order-1"), keyed_event_id(b, "order-1"));
        assert!(Uuid::parse_str(&keyed_event_id(a, "order-1")).is_ok());
    }
}
