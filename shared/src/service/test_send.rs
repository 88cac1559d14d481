//! The test send: one synchronous signed attempt to a webhook, whatever its filter says, and
//! whether the filter would let the event through.

use serde::Serialize;
use serde_json::{Map, Value, json};

use super::Scoped;
use crate::auth::PUBLISH_SCOPE;
use crate::delivery::{EventFor, WebhookSender, attempt_delivery};
use crate::error::Error;
use crate::model::{Event, EventData, Timestamp, WebhookId, event_body};
use crate::runtime::ApiContext;
use crate::store::{AccessTokenStore, EventTypeGet, WebhookGet, event_type};

/// The type of the event the test route sends unless the body names a catalog type.
pub(crate) const TEST_EVENT_TYPE: &str = "webhook.test";

/// What a test send asks: a catalog type to send its example, or the caller's `data` for it.
pub(crate) struct TestRequest {
    event_type: Option<String>,
    data: Option<Value>,
}

impl TestRequest {
    pub fn parse(body: &Map<String, Value>) -> Self {
        let field = |name: &str| body.get(name).filter(|v| !v.is_null());
        let event_type = field("eventType").map(|name| name.as_str().unwrap_or_default().to_string());
        Self { event_type, data: field("data").cloned() }
    }
}

/// What the test send's attempt came to.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TestOutcome {
    delivered: bool,
    status_code: Option<u16>,
    duration_ms: u64,
    error: Option<String>,
    response_body: Option<String>,
    filter_matches: bool,
}

/// Sends webhook `id` the event `asked` describes, as attempt 1 of no delivery.
pub(crate) async fn send_test<S: WebhookGet + AccessTokenStore + EventTypeGet + ?Sized>(
    ctx: &ApiContext,
    (store, sender): (&S, &dyn WebhookSender),
    scope: &Scoped,
    id: WebhookId,
    asked: TestRequest,
) -> Result<TestOutcome, Error> {
    let webhook = scope.webhook(store, id).await?;
    // The caller's `data`, to ask whether the filter would let such an event through: a
    // signed event of the caller's making, so it needs the right to publish one.
    if asked.data.is_some() {
        scope.caller.require(PUBLISH_SCOPE)?;
    }
    let (event_type, data) = match (asked.event_type, asked.data) {
        (None, None) => (TEST_EVENT_TYPE.to_string(), json!({"message": "A test event sent from the webhook service"})),
        (None, Some(_)) => return Err(Error::validation("eventType", "is required with data")),
        (Some(name), custom) => {
            let known = event_type(store, &name).await?;
            let known =
                known.ok_or_else(|| Error::validation("eventType", format!("{name:?} is not a known event type")))?;
            match custom {
                None => (known.name, known.example),
                Some(_) if known.platform => {
                    return Err(Error::validation(
                        "data",
                        "the platform's own event types are sent with their example only",
                    ));
                }
                Some(data) => {
                    known.check(&data)?;
                    (known.name, data)
                }
            }
        }
    };
    let occurred_at = Timestamp::new(ctx.clock.now());
    let event = Event {
        id: ctx.ids.new_id().to_string(),
        event_type,
        occurred_at,
        data: EventData::of(&data).map_err(Error::internal)?,
    };
    let entity = webhook.info.owner_identifier;
    let filter_matches =
        webhook.info.options.filter.as_ref().is_none_or(|f| f.matches(&event_body(&event, &data, entity)));
    let published = EventFor { event: &event, entity, test: true };
    let outcome = attempt_delivery(sender, store, ctx.clock.as_ref(), &webhook, published, 1).await?;
    let attempt = outcome.attempt;
    Ok(TestOutcome {
        delivered: outcome.delivered,
        status_code: attempt.status_code,
        duration_ms: attempt.duration_ms,
        error: attempt.error,
        response_body: attempt.response_body,
        filter_matches,
    })
}
