//! Replaying deliveries (docs/contract.md 5.2 and 12): a resend is a new delivery of a delivery's
//! event to the same webhook, its attempts counted from 1; a recovery resends every delivery
//! of a time window in the statuses asked for, oldest first.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::error::Error;
use crate::model::fields::{Fields, as_str, as_string_array};
use crate::model::{Delivery, DeliveryMessage, DeliveryStatus, Event, Ordering, Timestamp, Webhook};
use crate::queue::DeliveryEnqueue;
use crate::runtime::IdGenerator;
use crate::store::{DeliveryList, EventGet, PageRequest};

/// How far back a recovery may reach: as long as delivery records are kept.
pub const RETENTION: Duration = Duration::from_secs(30 * 86_400);
/// SendMessageBatch's limit.
const ENQUEUE_BATCH: usize = 10;

/// A recovery's window and the statuses it resends.
#[derive(Debug, Clone, PartialEq)]
pub struct Recovery {
    pub since: Timestamp,
    pub until: Option<Timestamp>,
    pub statuses: Vec<DeliveryStatus>,
}

impl Recovery {
    /// `{"since", "until"?, "statuses"?}` at `now`: `since` within the retention, `statuses`
    /// `["failed"]` unless given.
    pub fn parse(body: &Map<String, Value>, now: Timestamp) -> Result<Self, Error> {
        let mut fields = Fields::new(body);
        let time = |v: &Value| {
            DateTime::parse_from_rfc3339(as_str(v)?)
                .map(|t| Timestamp::new(t.with_timezone(&Utc)))
                .map_err(|_| "must be an RFC 3339 time, e.g. 2026-11-24T09:00:00Z".to_string())
        };
        let oldest = Timestamp::new(now.get() - chrono::Duration::from_std(RETENTION).map_err(Error::internal)?);
        let since = fields.required("since", |v| {
            let since = time(v)?;
            if since < oldest {
                Err("must be within the last 30 days, as long as deliveries are kept".into())
            } else {
                Ok(since)
            }
        });
        let until = fields.optional("until", || None, |v| time(v).map(Some));
        let statuses = fields.optional(
            "statuses",
            || vec![DeliveryStatus::Failed],
            |v| {
                let names = as_string_array(v)?;
                let statuses =
                    names.iter().map(|name| serde_json::from_value(json!(name)).ok()).collect::<Option<Vec<_>>>();
                match statuses {
                    Some(statuses) if !statuses.is_empty() => Ok(statuses),
                    _ => Err("must list one or more of failed, skipped, succeeded, pending".into()),
                }
            },
        );
        if let (Some(since), Some(Some(until))) = (since, until)
            && until <= since
        {
            fields.push("until", "must be after since");
        }
        match (since, until, statuses) {
            (Some(since), Some(until), Some(statuses)) if fields.errors.is_empty() => {
                Ok(Self { since, until, statuses })
            }
            _ => Err(fields.into_error()),
        }
    }

    fn holds(&self, delivery: &Delivery) -> bool {
        let created = created_at(delivery.delivery_id);
        self.statuses.contains(&delivery.status)
            && created.is_some_and(|at| at >= self.since && self.until.is_none_or(|until| at < until))
    }
}

/// When a delivery was created: its id is a UUIDv7.
fn created_at(delivery: Uuid) -> Option<Timestamp> {
    let (seconds, nanos) = delivery.get_timestamp()?.to_unix();
    DateTime::from_timestamp(i64::try_from(seconds).ok()?, nanos).map(Timestamp::new)
}

/// A new delivery of `delivery`'s event to `webhook`; none when the event is no longer kept.
async fn again<S: EventGet + ?Sized>(
    store: &S,
    ids: &dyn IdGenerator,
    webhook: &Webhook,
    delivery: &Delivery,
) -> Result<Option<DeliveryMessage>, Error> {
    // An entity's own webhook's deliveries are all of its entity.
    let Some(entity) = delivery.owner_identifier.or(webhook.info.owner_identifier) else { return Ok(None) };
    let Some(plan) = store.get_event(entity, &delivery.event_id).await? else { return Ok(None) };
    let event =
        Event { id: plan.event_id, event_type: plan.event_type, occurred_at: plan.occurred_at, data: plan.data };
    Ok(Some(DeliveryMessage {
        delivery_id: ids.new_id(),
        webhook_id: webhook.info.id,
        owner_identifier: entity,
        global: webhook.info.owner_identifier.is_none(),
        event,
        resent: false,
        fifo: webhook.info.options.ordering == Ordering::Fifo,
    }))
}

async fn send<Q: DeliveryEnqueue + ?Sized>(queue: &Q, messages: &[DeliveryMessage]) -> Result<(), Error> {
    for batch in messages.chunks(ENQUEUE_BATCH) {
        queue.enqueue(batch, Duration::ZERO).await?;
    }
    Ok(())
}

/// Sends `delivery` of `webhook` again, as a new delivery of its event, and answers the new
/// delivery's id; 404 when its event is no longer kept.
pub async fn resend<S, Q>(
    store: &S,
    queue: &Q,
    ids: &dyn IdGenerator,
    webhook: &Webhook,
    delivery: &Delivery,
) -> Result<Uuid, Error>
where
    S: EventGet + ?Sized,
    Q: DeliveryEnqueue + ?Sized,
{
    let message = again(store, ids, webhook, delivery).await?.ok_or(Error::NotFound)?;
    send(queue, std::slice::from_ref(&message)).await?;
    tracing::info!(webhook_id = %webhook.info.id, from = %delivery.delivery_id, to = %message.delivery_id, "delivery resent");
    Ok(message.delivery_id)
}

/// Resends every delivery of `webhook` that `recovery` holds, oldest first.
pub async fn recover<S, Q>(
    store: &S,
    queue: &Q,
    ids: &dyn IdGenerator,
    webhook: &Webhook,
    recovery: &Recovery,
) -> Result<usize, Error>
where
    S: DeliveryList + EventGet + ?Sized,
    Q: DeliveryEnqueue + ?Sized,
{
    let mut matching = Vec::new();
    let mut after = None;
    // The log is newest first: it is read until it reaches deliveries older than the window.
    loop {
        let page = store.list_deliveries(webhook.info.id, PageRequest { limit: 100, after }, None).await?;
        let older = page.items.last().and_then(|d| created_at(d.delivery_id)).is_some_and(|at| at < recovery.since);
        matching.extend(page.items.into_iter().filter(|d| recovery.holds(d)));
        match page.next {
            Some(next) if !older => after = Some(next),
            _ => break,
        }
    }
    matching.reverse();
    let mut messages = Vec::with_capacity(matching.len());
    for delivery in &matching {
        match again(store, ids, webhook, delivery).await? {
            Some(message) => messages.push(message),
            // Kept as long as the delivery's records, so gone only at the window's oldest edge.
            None => tracing::warn!(delivery_id = %delivery.delivery_id, "its event is no longer kept: not resent"),
        }
    }
    send(queue, &messages).await?;
    tracing::info!(webhook_id = %webhook.info.id, resent = messages.len(), "deliveries recovered");
    Ok(messages.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: Value) -> Result<Recovery, Error> {
        Recovery::parse(body.as_object().expect("object"), Timestamp::new(Utc::now()))
    }

    #[test]
    fn a_window_within_the_retention_and_failed_unless_told() {
        let since = (Utc::now() - chrono::Duration::hours(1)).to_rfc3339();
        let recovery = parse(json!({"since": since})).expect("valid");
        assert_eq!((recovery.statuses, recovery.until), (vec![DeliveryStatus::Failed], None));
        let both = parse(json!({"since": since, "statuses": ["failed", "skipped"]})).expect("valid");
        assert_eq!(both.statuses, [DeliveryStatus::Failed, DeliveryStatus::Skipped]);
        let fields = |body: Value| match parse(body) {
            Err(Error::Validation(errors)) => errors.into_iter().map(|e| e.field).collect::<Vec<_>>(),
            other => panic!("expected a 422, got {other:?}"),
        };
        assert_eq!(fields(json!({})), ["since"]);
        assert_eq!(fields(json!({"since": "2020-01-01T00:00:00Z"})), ["since"], "older than the retention");
        assert_eq!(fields(json!({"since": since, "until": "2020-01-01T00:00:00Z"})), ["until"]);
        assert_eq!(fields(json!({"since": since, "statuses": ["lost"]})), ["statuses"]);
        assert_eq!(fields(json!({"since": "yesterday"})), ["since"]);
    }

    #[test]
    fn a_delivery_is_in_the_window_by_its_creation_time() {
        let id = Uuid::now_v7();
        let created = created_at(id).expect("a UUIDv7 has a time");
        assert!((Utc::now() - created.get()).num_seconds() < 5);
        assert_eq!(created_at(Uuid::new_v4()), None);
    }
}
