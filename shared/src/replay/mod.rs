//! Replaying deliveries (docs/contract.md 5.2 and 12): a resend is a new delivery of a delivery's
//! event to the same webhook, its attempts counted from 1; a recovery resends every delivery
//! of a time window in the statuses asked for, oldest first, a page at a time (`pages`), its
//! memory bounded by a page and its time by a budget, the rest going on from the queue.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::error::Error;
use crate::model::fields::{Fields, as_str, as_string_array};
use crate::model::{
    CarriedEvent, Delivery, DeliveryMessage, DeliveryStatus, DeliveryStep, Ordering, QueueMessage, RecoveryPage,
    Timestamp, WebhookRecord,
};
use crate::queue::DeliveryEnqueue;
use crate::runtime::IdGenerator;
use crate::store::{DeliveryGet, DeliveryList, DeliveryRecord, EventGet, RETENTION, WebhookGet};

mod pages;

/// How long a recovery's request resends before the rest of its window goes on from the queue:
/// well within API Gateway's 29 s.
const REQUEST_BUDGET: Duration = Duration::from_secs(10);
/// How long the deliver step works on one page of a recovery: well within its 60 s.
const PAGE_BUDGET: Duration = Duration::from_secs(20);

/// A recovery's window and the statuses it resends.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Recovery {
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

    /// The recovery's first page, for `webhook` at `now`: a window without an end ends now, so
    /// that it never reaches the deliveries it makes.
    pub fn first_page(&self, webhook: &WebhookRecord, now: Timestamp) -> RecoveryPage {
        RecoveryPage {
            webhook_id: webhook.info.id,
            owner_identifier: webhook.info.owner_identifier,
            since: self.since,
            until: self.until.map_or(now, |until| until.min(now)),
            statuses: self.statuses.clone(),
            after: Some(first_id_of(self.since)),
            deferrals: 0,
        }
    }
}

/// When a delivery was created: its id is a UUIDv7.
fn created_at(delivery: Uuid) -> Option<Timestamp> {
    let (seconds, nanos) = delivery.get_timestamp()?.to_unix();
    DateTime::from_timestamp(i64::try_from(seconds).ok()?, nanos).map(Timestamp::new)
}

/// A UUIDv7 of `at` below every other of its millisecond: the delivery ids created from `at` on
/// come after it.
fn first_id_of(at: Timestamp) -> Uuid {
    let millis = u128::try_from(at.get().timestamp_millis()).unwrap_or(0);
    Uuid::from_u128(millis << 80 | 0x7 << 76 | 0x2 << 62)
}

/// The message of a new delivery, `id`, of `delivery`'s event to `webhook`, naming the event
/// (the deliver step reads it from its plan); none when the delivery's entity is unknown.
fn again(webhook: &WebhookRecord, delivery: &Delivery, id: Uuid, resent: bool) -> Option<DeliveryMessage> {
    // An entity's own webhook's deliveries are all of its entity.
    let entity = delivery.owner_identifier.or(webhook.info.owner_identifier)?;
    let event = CarriedEvent::Named { id: delivery.event_id.clone(), event_type: delivery.event_type.clone() };
    Some(DeliveryMessage {
        global: webhook.info.owner_identifier.is_none(),
        plan: delivery.plan,
        resent,
        fifo: webhook.info.options.ordering == Ordering::Fifo,
        ..DeliveryMessage::first(id, webhook.info.id, entity, event)
    })
}

/// Sends `delivery` of `webhook` again, as a new delivery of its event, and answers the new
/// delivery's id; 404 when its event is no longer kept. A finished delivery is marked with the
/// new one's id (`resentAs`).
pub async fn resend<S, Q>(
    store: &S,
    queue: &Q,
    ids: &dyn IdGenerator,
    webhook: &WebhookRecord,
    delivery: &Delivery,
) -> Result<Uuid, Error>
where
    S: EventGet + DeliveryRecord + ?Sized,
    Q: DeliveryEnqueue + ?Sized,
{
    let id = ids.new_id();
    let message = again(webhook, delivery, id, false).ok_or(Error::NotFound)?;
    let kept = store.published_event(message.owner_identifier, &delivery.event_id, delivery.plan).await?;
    if kept.is_none() {
        return Err(Error::NotFound);
    }
    queue.enqueue(&[message.into()], Duration::ZERO).await?;
    if delivery.status != DeliveryStatus::Pending {
        // Only a note on the old delivery: a concurrent step leaves it unwritten.
        store.record_step(&DeliveryStep::resent(delivery, id)).await?;
    }
    tracing::info!(webhook_id = %webhook.info.id, from = %delivery.delivery_id, to = %id, "delivery resent");
    Ok(id)
}

/// What a recovery's request did: the deliveries it resent, and whether the rest of the window
/// goes on from the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub(crate) struct Recovered {
    pub deliveries: usize,
    pub continues: bool,
}

/// Resends every delivery of `webhook` that `recovery` holds, oldest first, for up to
/// `REQUEST_BUDGET`; the rest of the window continues from the queue (`recover_page`). A copy
/// of a delivery an earlier try of the same recovery made waits `copy_delay`.
pub async fn recover<S, Q>(
    store: &S,
    queue: &Q,
    ids: &dyn IdGenerator,
    webhook: &WebhookRecord,
    recovery: &Recovery,
    (now, copy_delay): (Timestamp, Duration),
) -> Result<Recovered, Error>
where
    S: DeliveryList + DeliveryGet + DeliveryRecord + ?Sized,
    Q: DeliveryEnqueue + ?Sized,
{
    let first = recovery.first_page(webhook, now);
    let (deliveries, rest) = pages::resend_for(store, queue, ids, webhook, first, (REQUEST_BUDGET, copy_delay)).await?;
    tracing::info!(webhook_id = %webhook.info.id, resent = deliveries, continues = rest.is_some(), "deliveries recovered");
    if let Some(rest) = &rest {
        queue.enqueue(&[QueueMessage::Recovery { recovery: rest.clone() }], Duration::ZERO).await?;
    }
    Ok(Recovered { deliveries, continues: rest.is_some() })
}

/// The deliver step of a recovery's page: resends for up to `PAGE_BUDGET`, then sends the rest
/// of the window on as the next page. A webhook deleted since ends it. A copy waits
/// `copy_delay` (`recover`).
pub(crate) async fn recover_page<S, Q>(
    store: &S,
    queue: &Q,
    ids: &dyn IdGenerator,
    page: &RecoveryPage,
    copy_delay: Duration,
) -> Result<(), Error>
where
    S: WebhookGet + DeliveryList + DeliveryGet + DeliveryRecord + ?Sized,
    Q: DeliveryEnqueue + ?Sized,
{
    let Some(webhook) = store.get_webhook(page.owner(), page.webhook_id).await? else { return Ok(()) };
    let (deliveries, rest) =
        pages::resend_for(store, queue, ids, &webhook, page.clone(), (PAGE_BUDGET, copy_delay)).await?;
    tracing::info!(webhook_id = %webhook.info.id, resent = deliveries, continues = rest.is_some(), "recovery page");
    if let Some(rest) = rest {
        queue.enqueue(&[QueueMessage::Recovery { recovery: rest }], Duration::ZERO).await?;
    }
    Ok(())
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
