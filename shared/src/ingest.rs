//! The ingest queue: platform backends in AWS publish by sending the publish route's body plus
//! `entityId` to an SQS queue (an EventBridge rule can target it) instead of calling the API
//! (docs/contract.md 5.6). Each message is taken as the publish route takes a request, with the
//! same validation, idempotency by event id and per-entity limit; IAM on the queue stands for
//! the route's token: whoever may send to it may publish for every entity. What comes of one:
//! - published, or a duplicate of an event id published before: deleted;
//! - refused (what the route would answer with a 4xx): recorded with its problem for its entity
//!   (`GET .../refused-events`) when it names one, and kept on the ingest dead-letter queue with
//!   the problem as its `refusal` attribute, whose alarm tells the operator; never delivered;
//! - over its entity's limit: hidden on the queue until the limit lets it through;
//! - a store or queue outage: received again after the visibility timeout.
//!
//! A message received `maxReceiveCount` times (throttled, or failing, that long) moves to the
//! dead-letter queue by SQS's redrive, without a refusal: nothing is lost either way.

use std::time::Duration;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use serde_json::Value;

use crate::error::{Error, chain, problem};
use crate::model::{EntityId, EventIn, Refusal, Timestamp};
use crate::publish::{event_in, publish_checked};
use crate::queue::{RawSend, Routed, VisibilityDelay, sqs_json};
use crate::runtime::ApiContext;
use crate::store::{EventTypeGet, PublishStore, RateLimitStore, RefusalRecord};

/// The message attribute a refused message is kept with: its problem, as JSON.
pub const REFUSAL_ATTRIBUTE: &str = "refusal";

/// The queues an ingest batch uses.
pub struct IngestQueues<'a> {
    /// The ingest queue itself: a message over its entity's limit waits there, hidden.
    pub ingest: &'a dyn VisibilityDelay,
    /// Its dead-letter queue, which keeps refused messages.
    pub refused: &'a dyn RawSend,
    /// The delivery queues, which publishing fills.
    pub deliveries: Routed<'a>,
}

/// What the store is asked for: what publishing reads and writes, the catalog, the limit's
/// counters, and refusals.
pub trait IngestStore: PublishStore + EventTypeGet + RateLimitStore + RefusalRecord {}

impl<T: PublishStore + EventTypeGet + RateLimitStore + RefusalRecord + ?Sized> IngestStore for T {}

/// Takes each message of `event`; those to be received again are the batch's failures.
pub async fn ingest_batch<S>(
    ctx: &ApiContext,
    store: &S,
    queues: &IngestQueues<'_>,
    event: SqsEvent,
) -> SqsBatchResponse
where
    S: IngestStore + ?Sized,
{
    let mut response = SqsBatchResponse::default();
    for message in &event.records {
        if let Err(err) = ingest(ctx, store, queues, message).await {
            tracing::warn!(message_id = ?message.message_id, error = %chain(&err), "an ingest message will be received again");
            response.add_failure(message.message_id.clone().unwrap_or_default());
        }
    }
    response
}

/// Takes one message: `Err` when it must be received again.
async fn ingest<S>(ctx: &ApiContext, store: &S, queues: &IngestQueues<'_>, message: &SqsMessage) -> Result<(), Error>
where
    S: IngestStore + ?Sized,
{
    let body = message.body.as_deref().unwrap_or_default();
    let (entity, mut input) = match parsed(body) {
        Ok(parsed) => parsed,
        Err((entity, err)) => return refuse(ctx, store, queues, message, entity, None, err).await,
    };
    // Without an id, the message's own stands for it, as an `Idempotency-Key` would: a message
    // received again (a retry, a timed-out batch, SQS's at-least-once) publishes nothing twice.
    if input.id.is_none() {
        input.idempotency_key = message.message_id.as_ref().map(|id| format!("sqs-message:{id}"));
    }
    let named = (input.id.clone(), input.event_type.clone());
    let Err(err) = publish_checked(ctx, store, &queues.deliveries, entity, input).await else { return Ok(()) };
    match err.status() {
        429 => {
            if let (Error::RateLimited(verdict), Some(receipt)) = (&err, &message.receipt_handle) {
                let receives = message.attributes.get("ApproximateReceiveCount").and_then(|n| n.parse().ok());
                queues
                    .ingest
                    .delay_message(receipt, throttled_wait(verdict.decision.retry_after_seconds, receives))
                    .await?;
            }
            Err(err)
        }
        status if status >= 500 => Err(err),
        _ => refuse(ctx, store, queues, message, Some(entity), Some(named), err).await,
    }
}

/// How long a message over its entity's limit waits hidden: the limit's `Retry-After` times its
/// receives so far, at most `MAX_THROTTLED_WAIT`. Growing, so that a backlog of many times the
/// burst does not spend its receives: `INGEST_MAX_RECEIVES` (50) of them wait about 21 minutes
/// at a `Retry-After` of 1 s before the redrive keeps the message on the dead-letter queue.
fn throttled_wait(retry_after_seconds: u64, receives: Option<u64>) -> Duration {
    let wait = retry_after_seconds.max(1).saturating_mul(receives.unwrap_or(1).max(1));
    Duration::from_secs(wait).min(MAX_THROTTLED_WAIT)
}

/// The longest a throttled message waits at once: SQS's longest delay, well inside its 12-hour
/// visibility limit.
const MAX_THROTTLED_WAIT: Duration = Duration::from_secs(900);

/// Receives after which SQS's redrive moves an ingest message to its dead-letter queue
/// (`template.yaml`'s `IngestQueue`, the runner's).
pub const INGEST_MAX_RECEIVES: u32 = 50;

/// The message's entity and event: the publish route's body beside `entityId`. A refusal names
/// the entity when the message does.
fn parsed(body: &str) -> Result<(EntityId, EventIn), (Option<EntityId>, Error)> {
    let Ok(Value::Object(mut event)) = serde_json::from_str::<Value>(body) else {
        return Err((None, Error::BadRequest("an ingest message's body must be a JSON object".into())));
    };
    let entity = match event.remove("entityId") {
        Some(Value::String(text)) => EntityId::parse(&text).map_err(|_| (None, invalid_entity()))?,
        _ => return Err((None, invalid_entity())),
    };
    event_in(event).map(|input| (entity, input)).map_err(|err| (Some(entity), err))
}

fn invalid_entity() -> Error {
    Error::validation("entityId", "must be the UUID of the entity the event is published for")
}

/// Records the refusal for its entity, when known (with the event's id and type, when read),
/// then keeps the message on the dead-letter
/// queue with it: in that order, so that a message received again after a failure is kept once
/// more at most, and its record rewritten.
async fn refuse<S>(
    ctx: &ApiContext,
    store: &S,
    queues: &IngestQueues<'_>,
    message: &SqsMessage,
    entity: Option<EntityId>,
    named: Option<(Option<String>, String)>,
    err: Error,
) -> Result<(), Error>
where
    S: IngestStore + ?Sized,
{
    let message_id = message.message_id.clone().unwrap_or_default();
    let problem =
        serde_json::to_value(problem(&err, &format!("urn:sqs:message:{message_id}"))).map_err(Error::internal)?;
    let problem = bounded(problem);
    if let Some(entity) = entity {
        let sent_at = message.attributes.get("SentTimestamp").and_then(|t| t.parse().ok());
        let (event_id, event_type) = named.map_or((None, None), |(id, event_type)| (id, Some(event_type)));
        let refusal = Refusal {
            id: Refusal::id_of(&message_id, sent_at.unwrap_or_else(|| ctx.clock.now().timestamp_millis())),
            message_id,
            refused_at: Timestamp::new(ctx.clock.now()),
            event_id,
            event_type,
            problem: problem.clone(),
        };
        store.record_refusal(entity, &refusal).await?;
    }
    let body = message.body.as_deref().unwrap_or_default();
    queues.refused.send_raw(body, None, &[(REFUSAL_ATTRIBUTE, &sqs_json(problem.to_string()))]).await?;
    Ok(())
}

/// The most of a refusal's problem kept: a schema's messages quote the event's data, and the
/// record (DynamoDB's 400 KB item) and the attribute (within the message's 1 MiB) must fit.
const MAX_PROBLEM_BYTES: usize = 4096;
const KEPT_ERRORS: usize = 10;
const KEPT_CHARS: usize = 300;

/// `problem`, its `detail` and each error's message cut to `KEPT_CHARS` and its errors to the
/// first `KEPT_ERRORS` when it is longer than `MAX_PROBLEM_BYTES`.
fn bounded(mut problem: Value) -> Value {
    if problem.to_string().len() <= MAX_PROBLEM_BYTES {
        return problem;
    }
    let cut = |text: &mut Value| {
        if let Some(long) = text.as_str().filter(|t| t.chars().count() > KEPT_CHARS) {
            *text = Value::String(long.chars().take(KEPT_CHARS).chain(['…']).collect());
        }
    };
    cut(&mut problem["detail"]);
    if let Some(errors) = problem.pointer_mut("/properties/errors").and_then(Value::as_array_mut) {
        errors.truncate(KEPT_ERRORS);
        errors.iter_mut().for_each(|error| cut(&mut error["message"]));
    }
    problem
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Settings;
    use crate::model::default_event_type;
    use crate::queue::{MemoryQueue, QueueConsumer};
    use crate::testing::{ENTITY, sqs_event, store_with};

    #[tokio::test]
    async fn a_message_without_an_id_received_again_plans_its_delivery_once() {
        let store = store_with(true, "http://127.0.0.1:9/hooks").await;
        let ctx = ApiContext::new(Settings::default());
        let queue = || MemoryQueue::new(Duration::from_secs(60));
        let (deliveries, fifo, ingest, refused) = (queue(), queue().fifo(), queue(), queue());
        let queues = IngestQueues {
            ingest: &ingest,
            refused: &refused,
            deliveries: Routed { unordered: &deliveries, fifo: &fifo },
        };
        let data = default_event_type("booking.created").expect("a default type").example.clone();
        let body = serde_json::json!({"entityId": ENTITY, "type": "booking.created", "data": data});
        let message = sqs_event(1, Some(&body.to_string()));
        for receive in 1..=2 {
            let answer = ingest_batch(&ctx, &store, &queues, message.clone()).await;
            assert!(answer.batch_item_failures.is_empty(), "receive {receive}: {answer:?}");
        }
        // The second receive is a duplicate: no new delivery, only a delayed copy of the first's.
        let depths = deliveries.depths().await.expect("depths");
        assert_eq!((depths.visible, depths.delayed), (1, 1), "{depths:?}");
        assert_eq!(refused.depths().await.expect("depths").visible, 0);
    }

    #[test]
    fn a_throttled_message_waits_longer_each_receive_up_to_sqs_longest_delay() {
        assert_eq!(throttled_wait(0, None), Duration::from_secs(1));
        assert_eq!(throttled_wait(2, Some(3)), Duration::from_secs(6));
        assert_eq!(throttled_wait(1, Some(10_000)), MAX_THROTTLED_WAIT);
        let waited: u64 = (1..u64::from(INGEST_MAX_RECEIVES)).map(|n| throttled_wait(1, Some(n)).as_secs()).sum();
        assert!(waited >= 20 * 60, "{waited} s before the redrive");
    }

    #[test]
    fn a_long_problem_is_cut_to_its_first_errors_and_characters() {
        let errors: Vec<Value> =
            (0..50).map(|n| serde_json::json!({"field": format!("/data/{n}"), "message": "x".repeat(1000)})).collect();
        let long = serde_json::json!({"detail": "y".repeat(100_000), "properties": {"errors": errors}});
        let cut = bounded(long);
        assert!(cut.to_string().len() < 2 * MAX_PROBLEM_BYTES, "{}", cut.to_string().len());
        assert_eq!(cut["properties"]["errors"].as_array().map(Vec::len), Some(KEPT_ERRORS));
        let short = serde_json::json!({"detail": "z".repeat(400)});
        assert_eq!(bounded(short.clone()), short, "a short problem is kept whole");
    }

    #[test]
    fn a_message_names_its_entity_beside_the_publish_routes_body() {
        let entity = "d5b8a3c2-9e6f-4a1b-8d34-7c2e1f0a5b69";
        let (parsed_entity, input) =
            parsed(&format!(r#"{{"entityId":"{entity}","id":"e-1","type":"booking.created","data":{{}}}}"#))
                .expect("valid");
        assert_eq!((parsed_entity.to_string().as_str(), input.id.as_deref()), (entity, Some("e-1")));
        let refused = |body: &str| parsed(body).err().map(|(entity, err)| (entity.is_some(), err.status()));
        assert_eq!(refused("not json"), Some((false, 400)));
        assert_eq!(refused(r#"{"type":"booking.created"}"#), Some((false, 422)));
        assert_eq!(refused(r#"{"entityId":"no","type":"booking.created"}"#), Some((false, 422)));
        assert_eq!(refused(&format!(r#"{{"entityId":"{entity}","type":7}}"#)), Some((true, 422)));
        let big = format!(r#"{{"entityId":"{entity}","type":"booking.created","data":"{}"}}"#, "x".repeat(300 * 1024));
        assert_eq!(refused(&big), Some((true, 413)));
    }
}
