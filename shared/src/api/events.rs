//! `POST /api/managing-entity/{entityId}/event`, the HTTP adapter of `crate::publish`;
//! `POST .../events`, a batch of them; and `GET .../event/{eventId}`: the event as published
//! and every delivery it planned; `GET .../refused-events`, what the ingest queue refused.

use std::collections::HashMap;

use lambda_http::http::StatusCode;
use lambda_http::{Request, RequestExt};
use serde::Serialize;
use serde_json::{Map, Value};

use super::{
    Handled, ListOut, encode_cursor, json_object, json_object_within, json_response, page_request, path_text, scoped,
};
use crate::auth::PUBLISH_SCOPE;
use crate::error::{Error, Problem, add_rate_limit_headers, problem};
use crate::model::{EntityId, EventIn, EventType, Timestamp};
use crate::publish::{Published, event_in, publish, publish_all, publish_checked};
use crate::queue::DeliveryEnqueue;
use crate::rate_limit::take_publish;
use crate::runtime::ApiContext;
use crate::service::event_view;
use crate::store::{DeliveryGet, EventGet, EventTypeGet, PublishStore, RateLimitStore, RefusalList, event_type};

/// A publish that planned `deliveries` (202).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AcceptedOut {
    event_id: String,
    deliveries: usize,
}

/// A publish of an event id published before (200).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DuplicateOut {
    event_id: String,
    duplicate: bool,
}

pub(crate) async fn publish_event<S, Q>(ctx: &ApiContext, store: &S, queue: &Q, request: Request) -> Handled
where
    S: PublishStore + EventTypeGet + RateLimitStore + ?Sized,
    Q: DeliveryEnqueue + ?Sized,
{
    let entity = publishing_entity(ctx, &request)?;
    let input = EventIn { idempotency_key: idempotency_key(&request)?, ..EventIn::parse(&json_object(&request)?)? };
    // Counted only once the caller may publish for the entity and the event is well formed.
    let (verdict, published) = publish_checked(ctx, store, queue, entity, input).await?;
    let mut response = match published {
        Published::Accepted { event_id, deliveries } => {
            json_response(StatusCode::ACCEPTED, &AcceptedOut { event_id, deliveries })
        }
        Published::Duplicate { event_id } => json_response(StatusCode::OK, &DuplicateOut { event_id, duplicate: true }),
    }?;
    add_rate_limit_headers(&mut response, &verdict);
    Ok(response)
}

/// Most events of a batch publish.
const MAX_BATCH_EVENTS: usize = 100;
/// Largest batch body: 100 events of 10 KiB, well inside a Lambda's 6 MB request; each event
/// is held to the publish route's own limit as well, since each is published on its own.
const MAX_BATCH_BODY_BYTES: usize = 1024 * 1024;

/// What a batch publish answers for one of its events: what the publish route would have.
#[derive(Serialize)]
#[serde(untagged)]
enum ItemOut<'a> {
    Accepted {
        status: u16,
        #[serde(flatten)]
        out: AcceptedOut,
    },
    Duplicate {
        status: u16,
        #[serde(flatten)]
        out: DuplicateOut,
    },
    Refused(Problem<'a>),
}

#[derive(Serialize)]
struct BatchOut<'a> {
    items: Vec<ItemOut<'a>>,
}

/// `{"events": [...]}`: each event is published, or refused with its own problem, as the
/// publish route would answer it; a refusal refuses only its event. The publish limit is taken
/// once, for every event that may be published.
pub(crate) async fn publish_events<S, Q>(ctx: &ApiContext, store: &S, queue: &Q, request: Request) -> Handled
where
    S: PublishStore + EventTypeGet + RateLimitStore + ?Sized,
    Q: DeliveryEnqueue + ?Sized,
{
    let entity = publishing_entity(ctx, &request)?;
    if request.headers().contains_key("idempotency-key") {
        return Err(Error::BadRequest("Idempotency-Key names one event: give each event of a batch its own id".into()));
    }
    let events = batch_of(json_object_within(&request, MAX_BATCH_BODY_BYTES)?)?;
    let (checked, inputs) = check_batch(store, events).await?;
    // Every event that may be published counts, a repeat too, as the publish route counts one.
    let publishable = checked.iter().filter(|c| !matches!(c, Checked::Refused(_))).count();
    let verdict = match publishable {
        0 => None,
        count => Some(take_publish(ctx, store, entity, count).await?),
    };
    let (now, delay) = (Timestamp::new(ctx.clock.now()), ctx.settings.resend_delay);
    let firsts = publish_all(store, queue, ctx.ids.as_ref(), entity, inputs, now, delay).await;
    let published: Vec<bool> = firsts.iter().map(Result::is_ok).collect();
    let (mut firsts, mut outcomes) = (firsts.into_iter(), Vec::with_capacity(checked.len()));
    for checked in checked {
        outcomes.push(match checked {
            Checked::Publish => firsts.next().unwrap_or_else(|| Err(Error::internal("a lost publish"))),
            Checked::Repeat { first, input } if published.get(first) == Some(&true) => {
                Ok(Published::Duplicate { event_id: input.id.unwrap_or_default() })
            }
            // Its first was not published: it is published now, as it would be after it.
            Checked::Repeat { input, .. } => publish(store, queue, ctx.ids.as_ref(), entity, input, now, delay).await,
            Checked::Refused(err) => Err(err),
        });
    }
    let path = request.raw_http_path();
    let instances: Vec<String> = (0..outcomes.len()).map(|n| format!("{path}#/events/{n}")).collect();
    let items = outcomes.iter().zip(&instances).map(|(outcome, instance)| item(outcome, instance)).collect();
    let mut response = json_response(StatusCode::ACCEPTED, &BatchOut { items })?;
    if let Some(verdict) = verdict {
        add_rate_limit_headers(&mut response, &verdict);
    }
    Ok(response)
}

/// What a batch does with one of its events.
enum Checked {
    /// Publishes it with the others: the next of the batch's inputs.
    Publish,
    /// Its id is that of input `first`, an earlier event of the batch: answered as a duplicate
    /// when that one was published, published itself otherwise, as the publish route would
    /// answer the two sent one after the other.
    Repeat {
        first: usize,
        input: EventIn,
    },
    Refused(Error),
}

/// What the batch does with each of `events`, and the inputs of those it publishes, in order.
/// The catalog is read once per type named.
async fn check_batch<S>(store: &S, events: Vec<Value>) -> Result<(Vec<Checked>, Vec<EventIn>), Error>
where
    S: EventTypeGet + ?Sized,
{
    let (mut checked, mut inputs) = (Vec::with_capacity(events.len()), Vec::new());
    let (mut types, mut firsts) = (HashMap::<String, Option<EventType>>::new(), HashMap::new());
    for event in events {
        let input = match batch_event(event) {
            Ok(input) => input,
            Err(err) => {
                checked.push(Checked::Refused(err));
                continue;
            }
        };
        let known = match types.get(&input.event_type) {
            Some(known) => known.clone(),
            None => event_type(store, &input.event_type).await?,
        };
        let check = input.check_type(known.as_ref());
        types.insert(input.event_type.clone(), known);
        let first = input.id.as_ref().and_then(|id| firsts.get(id).copied());
        checked.push(match (check, first) {
            (Err(err), _) => Checked::Refused(err),
            (Ok(()), Some(first)) => Checked::Repeat { first, input },
            (Ok(()), None) => {
                if let Some(id) = &input.id {
                    firsts.insert(id.clone(), inputs.len());
                }
                inputs.push(input);
                Checked::Publish
            }
        });
    }
    Ok((checked, inputs))
}

/// The events of a batch's body: 1 to `MAX_BATCH_EVENTS` of them.
fn batch_of(mut body: Map<String, Value>) -> Result<Vec<Value>, Error> {
    match body.remove("events") {
        Some(Value::Array(events)) if (1..=MAX_BATCH_EVENTS).contains(&events.len()) => Ok(events),
        Some(Value::Array(events)) => Err(Error::validation(
            "events",
            format!("holds {} events; a batch holds 1 to {MAX_BATCH_EVENTS}", events.len()),
        )),
        _ => Err(Error::validation("events", "must be an array of events")),
    }
}

/// One event of a batch, as the publish route would take it as its body.
fn batch_event(event: Value) -> Result<EventIn, Error> {
    let Value::Object(event) = event else {
        return Err(Error::BadRequest("an event of a batch must be a JSON object".into()));
    };
    event_in(event)
}

fn item<'a>(outcome: &'a Result<Published, Error>, instance: &'a str) -> ItemOut<'a> {
    match outcome {
        Ok(Published::Accepted { event_id, deliveries }) => ItemOut::Accepted {
            status: StatusCode::ACCEPTED.as_u16(),
            out: AcceptedOut { event_id: event_id.clone(), deliveries: *deliveries },
        },
        Ok(Published::Duplicate { event_id }) => ItemOut::Duplicate {
            status: StatusCode::OK.as_u16(),
            out: DuplicateOut { event_id: event_id.clone(), duplicate: true },
        },
        Err(err) => ItemOut::Refused(problem(err, instance)),
    }
}

/// The path's entity, which the caller manages and may publish for.
fn publishing_entity(ctx: &ApiContext, request: &Request) -> Result<EntityId, Error> {
    let scope = scoped(request, &ctx.settings)?;
    scope.caller.require(PUBLISH_SCOPE)?;
    scope.entity()
}

/// The longest `Idempotency-Key` taken, as event ids.
const MAX_IDEMPOTENCY_KEY_CHARS: usize = 255;

/// The `Idempotency-Key` header, when given: 1 to 255 printable characters.
fn idempotency_key(request: &Request) -> Result<Option<String>, Error> {
    let Some(value) = request.headers().get("idempotency-key") else { return Ok(None) };
    let key = value.to_str().ok().map(str::trim).filter(|k| !k.is_empty() && k.len() <= MAX_IDEMPOTENCY_KEY_CHARS);
    key.map(|k| Some(k.to_string())).ok_or_else(|| {
        Error::BadRequest(format!("Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY_CHARS} printable characters"))
    })
}

/// `GET .../refused-events`: the entity's ingest messages refused in the last 14 days, newest
/// first, each with the problem the publish route would have answered.
pub(crate) async fn list_refused_events<S>(ctx: &ApiContext, store: &S, request: Request) -> Handled
where
    S: RefusalList + ?Sized,
{
    let entity = scoped(&request, &ctx.settings)?.entity()?;
    let page = store.list_refusals(entity, page_request(&request)?).await?;
    json_response(StatusCode::OK, &ListOut { items: page.items, next_cursor: page.next.map(encode_cursor) })
}

pub(crate) async fn get_event<S>(ctx: &ApiContext, store: &S, request: Request) -> Handled
where
    S: EventGet + DeliveryGet + ?Sized,
{
    let scope = scoped(&request, &ctx.settings)?;
    let event_id = path_text(&request, "eventId")?;
    json_response(StatusCode::OK, &event_view(store, &scope, &event_id).await?)
}
