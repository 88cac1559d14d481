//! The rate limits at the HTTP edge: `limited` around any handler, and publishing's own limit.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use lambda_http::{Body, Request, Response};
use serde_json::json;

use super::events::{publish_event, publish_events};
use super::limited;
use super::tests::{context, create, json_of};
use super::webhooks::list_webhooks;
use crate::queue::MemoryQueue;
use crate::rate_limit::RatePolicy;
use crate::runtime::ApiContext;
use crate::store::MemoryStore;
use crate::testing::{ApiEvent, ENTITY};

fn tight(api: &str, publish: &str) -> ApiContext {
    let mut ctx = context();
    ctx.settings.api_rate = RatePolicy::parse(api).expect("rate");
    ctx.settings.publish_rate = RatePolicy::parse(publish).expect("rate");
    ctx
}

fn list(subject: &str) -> Request {
    ApiEvent::list_webhooks().claim("sub", subject).request()
}

fn header<'a>(response: &'a Response<Body>, name: &str) -> &'a str {
    response.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default()
}

#[tokio::test]
async fn a_caller_past_the_burst_gets_429_with_the_headers_and_the_handler_does_not_run() {
    let (ctx, store, runs) = (tight("2/s,3", "200/s,400"), MemoryStore::new(), AtomicUsize::new(0));
    let call = |request: Request| {
        limited(&ctx, &store, request, |request| {
            runs.fetch_add(1, Ordering::SeqCst);
            list_webhooks(&ctx, &store, request)
        })
    };
    // The burst is whole again once the stored arrival time (500 ms a request) has passed.
    for (left, reset) in [(2, 1), (1, 1), (0, 2)] {
        let response = call(list("alice")).await;
        assert_eq!(response.status(), 200);
        assert_eq!(header(&response, "ratelimit-policy"), "\"caller\";q=3;w=2");
        assert_eq!(header(&response, "ratelimit"), format!("\"caller\";r={left};t={reset}"));
    }
    let refused = call(list("alice")).await;
    assert_eq!(refused.status(), 429);
    assert_eq!(json_of(&refused)["type"], "/problems/rate-limited");
    assert_eq!(header(&refused, "content-type"), "application/problem+json");
    assert_eq!((header(&refused, "retry-after"), header(&refused, "ratelimit")), ("1", "\"caller\";r=0;t=2"));
    assert_eq!(runs.load(Ordering::SeqCst), 3, "a refused request runs nothing");

    assert_eq!(call(list("bob")).await.status(), 200, "another caller has a limit of its own");
    let anonymous = call(ApiEvent::list_webhooks().without_authorizer().request()).await;
    assert_eq!((anonymous.status().as_u16(), header(&anonymous, "ratelimit")), (401, ""), "no caller, nothing counted");
}

#[tokio::test]
async fn publishing_is_limited_per_entity_as_well_and_a_refused_event_is_not_published() {
    let (ctx, store) = (tight("100/s,100", "1/s,2"), MemoryStore::new());
    let queue = MemoryQueue::new(Duration::from_secs(60));
    create(&ctx, &store).await;
    let publish = |subject: &str| {
        ApiEvent::create_webhook()
            .route("POST", "/api/managing-entity/{entityId}/event", &[("entityId", ENTITY)])
            .body(&json!({"type": "booking.created", "data": {}}))
            .claim("sub", subject)
            .request()
    };
    let call =
        |request: Request| limited(&ctx, &store, request, |request| publish_event(&ctx, &store, &queue, request));
    for (subject, left, reset) in [("alice", 1, 1), ("bob", 0, 2)] {
        let accepted = call(publish(subject)).await;
        assert_eq!(accepted.status(), 202);
        assert_eq!(header(&accepted, "ratelimit-policy"), "\"publish\";q=2;w=2, \"caller\";q=100;w=1");
        assert!(header(&accepted, "ratelimit").starts_with(&format!("\"publish\";r={left};t={reset}")));
    }
    let refused = call(publish("carol")).await;
    assert_eq!(refused.status(), 429, "the entity's limit holds whoever publishes");
    assert!(json_of(&refused)["detail"].as_str().is_some_and(|d| d.starts_with("the publish rate limit")));
    assert_eq!(queue.len(), 2, "the refused event was not fanned out");
}

#[tokio::test]
async fn a_batch_takes_the_publish_limit_once_for_its_good_events_all_or_none() {
    let (ctx, store) = (tight("100/s,100", "1/s,3"), MemoryStore::new());
    let queue = MemoryQueue::new(Duration::from_secs(60));
    create(&ctx, &store).await;
    let batch = |events: serde_json::Value| {
        ApiEvent::create_webhook()
            .route("POST", "/api/managing-entity/{entityId}/events", &[("entityId", ENTITY)])
            .body(&json!({ "events": events }))
            .request()
    };
    let good = json!({"type": "booking.created", "data": {}});
    let call =
        |request: Request| limited(&ctx, &store, request, |request| publish_events(&ctx, &store, &queue, request));

    let answered = call(batch(json!([good, {"data": {}}, good]))).await;
    assert_eq!(answered.status(), 202);
    let statuses: Vec<u64> =
        json_of(&answered)["items"].as_array().expect("items").iter().filter_map(|i| i["status"].as_u64()).collect();
    assert_eq!(statuses, [202, 422, 202], "the event without a type refuses only itself");
    assert!(header(&answered, "ratelimit").starts_with("\"publish\";r=1;"), "two taken of three");

    let refused = call(batch(json!([good, good]))).await;
    assert_eq!(refused.status(), 429, "two more do not fit the one left");
    assert_eq!(queue.len(), 2, "and none of them was fanned out");
    let wider = call(batch(json!([good, good, good, good]))).await;
    assert_eq!(wider.status(), 400, "more than the burst could never fit: {}", json_of(&wider));
    assert_eq!(call(batch(json!([good]))).await.status(), 202, "the one left");
}
