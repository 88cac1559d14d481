//! Handler tests: real API Gateway events in, responses and store state out.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use lambda_http::{Body, Request, Response};
use serde_json::{Value, json};

use super::event_types::list_event_types;
use super::webhooks::{self, get_webhook, list_webhooks};
use super::*;
use crate::config::Settings;
use crate::model::{EntityId, Owner};
use crate::model::{WebhookId, WebhookRecord};
use crate::runtime::{ApiContext, Clock};
use crate::store::{
    EventTypeGet, MemoryStore, PageRequest, StoreError, WebhookDelete, WebhookGet, WebhookInsert, WebhookList as _,
    WebhookReplace,
};
use crate::testing::{ApiEvent, ENTITY, OTHER_ENTITY, Unheard};

const ITEM: &str = "/api/managing-entity/{entityId}/webhook/{webhookId}";

struct FixedClock;

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-22T10:00:00.000Z").expect("time").with_timezone(&Utc)
    }
}

pub(super) fn context() -> ApiContext {
    ApiContext { clock: Arc::new(FixedClock), ..ApiContext::new(Settings::default()) }
}

async fn create_webhook<S: WebhookInsert + EventTypeGet + ?Sized>(
    ctx: &ApiContext,
    store: &S,
    request: Request,
) -> Handled {
    webhooks::create_webhook(ctx, store, &Unheard::new().notices(ctx), request).await
}

async fn update_webhook<S>(ctx: &ApiContext, store: &S, request: Request) -> Handled
where
    S: WebhookGet + WebhookReplace + EventTypeGet + ?Sized,
{
    webhooks::update_webhook(ctx, store, &Unheard::new().notices(ctx), request).await
}

async fn delete_webhook<S: WebhookGet + WebhookDelete + ?Sized>(
    ctx: &ApiContext,
    store: &S,
    request: Request,
) -> Handled {
    webhooks::delete_webhook(ctx, store, &Unheard::new().notices(ctx), request).await
}

pub(super) fn json_of(response: &Response<Body>) -> Value {
    serde_json::from_slice(response.body().as_ref()).expect("JSON body")
}

pub(super) async fn create(ctx: &ApiContext, store: &MemoryStore) -> Value {
    let response = serve(ApiEvent::create_webhook().request(), |request| create_webhook(ctx, store, request)).await;
    assert_eq!(response.status(), 201, "{:?}", response.body());
    json_of(&response)
}

fn item_event(method: &str, id: &str) -> ApiEvent {
    ApiEvent::create_webhook().route(method, ITEM, &[("entityId", ENTITY), ("webhookId", id)])
}

async fn stored_count(store: &MemoryStore) -> usize {
    let entity = Owner::Entity(EntityId::parse(ENTITY).expect("uuid"));
    store.list_webhooks(entity, PageRequest { limit: 100, after: None }).await.expect("list").items.len()
}

#[tokio::test]
async fn create_answers_201_with_secret_location_and_etag() {
    let (ctx, store) = (context(), MemoryStore::new());
    let response = serve(ApiEvent::create_webhook().request(), |request| create_webhook(&ctx, &store, request)).await;
    assert_eq!(response.status(), 201);
    let body = json_of(&response);
    let id = body["id"].as_str().expect("id");
    assert_eq!(response.headers()["location"], format!("/api/managing-entity/{ENTITY}/webhook/{id}").as_str());
    assert_eq!(response.headers()["etag"], "\"1\"");
    assert_eq!(body["version"], 1);
    assert!(body["secret"].as_str().expect("secret").starts_with("whsec_"));
    assert_eq!(body["userIdentifier"], "user-123");
    assert_eq!(body["ownerIdentifier"], ENTITY);
    assert_eq!(body["ownerName"], "The Siam Residences, Bangkok");
    assert_eq!(body["createdDate"], "2026-11-22T10:00:00.000Z");
    assert_eq!(body["eventList"], json!(["booking.created", "payment.*"]));
    assert_eq!(body["headers"], json!({}));
    assert_eq!(body["sendData"], true);
    assert_eq!(body["disabledReason"], Value::Null);
}

#[tokio::test]
async fn get_and_list_never_show_the_secret() {
    let (ctx, store) = (context(), MemoryStore::new());
    let created = create(&ctx, &store).await;
    let id = created["id"].as_str().expect("id");
    let got = serve(item_event("GET", id).request(), |request| get_webhook(&ctx, &store, request)).await;
    assert_eq!(got.status(), 200);
    assert_eq!(got.headers()["etag"], "\"1\"");
    let listed = serve(ApiEvent::list_webhooks().request(), |request| list_webhooks(&ctx, &store, request)).await;
    for text in [got.body(), listed.body()] {
        let text = std::str::from_utf8(text.as_ref()).expect("utf-8");
        assert!(!text.contains("whsec_") && !text.contains("secret"), "{text}");
    }
    let mut expected = created.clone();
    expected.as_object_mut().map(|o| o.remove("secret"));
    assert_eq!(json_of(&got), expected);
}

#[tokio::test]
async fn list_pages_through_45_webhooks_without_loss_or_repeats() {
    let (ctx, store) = (context(), MemoryStore::new());
    let mut created = Vec::new();
    for _ in 0..45 {
        created.push(create(&ctx, &store).await["id"].as_str().expect("id").to_string());
    }
    let (mut seen, mut cursor, mut pages) = (Vec::new(), None::<String>, 0);
    loop {
        let mut query = vec![("limit", "20")];
        if let Some(c) = cursor.as_deref() {
            query.push(("cursor", c));
        }
        let response =
            serve(ApiEvent::list_webhooks().query(&query).request(), |request| list_webhooks(&ctx, &store, request))
                .await;
        assert_eq!(response.status(), 200);
        let body = json_of(&response);
        pages += 1;
        seen.extend(body["items"].as_array().expect("items").iter().map(|w| w["id"].as_str().expect("id").to_string()));
        match body["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, created, "every webhook once, in creation order");
}

#[tokio::test]
async fn bad_list_queries_are_400() {
    let (ctx, store) = (context(), MemoryStore::new());
    for query in [[("limit", "0")], [("limit", "101")], [("limit", "ten")], [("cursor", "!!not-ours")]] {
        let response =
            serve(ApiEvent::list_webhooks().query(&query).request(), |request| list_webhooks(&ctx, &store, request))
                .await;
        assert_eq!(response.status(), 400, "{query:?}");
        assert_eq!(response.headers()["content-type"], "application/problem+json");
    }
}

#[tokio::test]
async fn optimistic_locking_on_put() {
    let (ctx, store) = (context(), MemoryStore::new());
    let created = create(&ctx, &store).await;
    let id = created["id"].as_str().expect("id");
    let mut body = created.clone();
    body["name"] = json!("Renamed");

    body["version"] = json!(1);
    let ok = serve(item_event("PUT", id).body(&body).request(), |request| update_webhook(&ctx, &store, request)).await;
    assert_eq!(ok.status(), 200);
    assert_eq!(json_of(&ok)["version"], 2);
    assert_eq!(json_of(&ok)["name"], "Renamed");
    assert_eq!(ok.headers()["etag"], "\"2\"");

    let stale =
        serve(item_event("PUT", id).body(&body).request(), |request| update_webhook(&ctx, &store, request)).await;
    assert_eq!(stale.status(), 409);
    assert_eq!(json_of(&stale)["properties"]["currentVersion"], 2);

    body.as_object_mut().map(|o| o.remove("version"));
    let stale_if_match = serve(item_event("PUT", id).header("If-Match", "\"1\"").body(&body).request(), |request| {
        update_webhook(&ctx, &store, request)
    })
    .await;
    assert_eq!(stale_if_match.status(), 412);
    assert_eq!(json_of(&stale_if_match)["properties"]["currentVersion"], 2);

    let fresh_if_match = serve(item_event("PUT", id).header("If-Match", "\"2\"").body(&body).request(), |request| {
        update_webhook(&ctx, &store, request)
    })
    .await;
    assert_eq!(fresh_if_match.status(), 200);
    assert_eq!(json_of(&fresh_if_match)["version"], 3);

    let unversioned =
        serve(item_event("PUT", id).body(&body).request(), |request| update_webhook(&ctx, &store, request)).await;
    assert_eq!(unversioned.status(), 422);
    assert_eq!(json_of(&unversioned)["properties"]["errors"][0]["field"], "version");
}

#[tokio::test]
async fn patch_pauses_and_merges() {
    let (ctx, store) = (context(), MemoryStore::new());
    let created = create(&ctx, &store).await;
    let id = created["id"].as_str().expect("id");
    let paused = serve(
        item_event("PATCH", id)
            .body(&json!({"enabled": false, "headers": {"X-Api-Key": "abc"}, "version": 1}))
            .request(),
        |request| update_webhook(&ctx, &store, request),
    )
    .await;
    assert_eq!(paused.status(), 200);
    let body = json_of(&paused);
    assert_eq!(body["enabled"], false);
    assert_eq!(body["version"], 2);
    assert_eq!(body["name"], created["name"]);
    assert_eq!(body["eventList"], created["eventList"]);
    assert_eq!(body["headers"], json!({"X-Api-Key": "abc"}));

    let removed = serve(
        item_event("PATCH", id).body(&json!({"headers": {"X-Api-Key": null}, "version": 2})).request(),
        |request| update_webhook(&ctx, &store, request),
    )
    .await;
    assert_eq!(json_of(&removed)["headers"], json!({}));

    let invalid =
        serve(item_event("PATCH", id).body(&json!({"eventUrl": "ftp://x", "version": 3})).request(), |request| {
            update_webhook(&ctx, &store, request)
        })
        .await;
    assert_eq!(invalid.status(), 422);
}

#[tokio::test]
async fn delete_with_and_without_if_match() {
    let (ctx, store) = (context(), MemoryStore::new());
    let id = create(&ctx, &store).await["id"].as_str().expect("id").to_string();
    let stale = serve(item_event("DELETE", &id).header("If-Match", "\"7\"").request(), |request| {
        delete_webhook(&ctx, &store, request)
    })
    .await;
    assert_eq!(stale.status(), 412);
    let deleted = serve(item_event("DELETE", &id).header("If-Match", "\"1\"").request(), |request| {
        delete_webhook(&ctx, &store, request)
    })
    .await;
    assert_eq!(deleted.status(), 204);
    assert_eq!(
        serve(item_event("GET", &id).request(), |request| get_webhook(&ctx, &store, request)).await.status(),
        404
    );
    assert_eq!(
        serve(item_event("DELETE", &id).request(), |request| delete_webhook(&ctx, &store, request)).await.status(),
        404
    );
}

#[tokio::test]
async fn another_tenants_entity_is_404_on_every_route() {
    let (ctx, store) = (context(), MemoryStore::new());
    let id = create(&ctx, &store).await["id"].as_str().expect("id").to_string();
    let foreign = |e: ApiEvent| e.entities_claim(OTHER_ENTITY).request();
    let body = json!({"name": "x", "eventUrl": "https://a.example.com", "version": 1});
    let statuses = [
        serve(foreign(ApiEvent::create_webhook()), |request| create_webhook(&ctx, &store, request)).await.status(),
        serve(foreign(ApiEvent::list_webhooks()), |request| list_webhooks(&ctx, &store, request)).await.status(),
        serve(foreign(item_event("GET", &id)), |request| get_webhook(&ctx, &store, request)).await.status(),
        serve(foreign(item_event("PUT", &id).body(&body)), |request| update_webhook(&ctx, &store, request))
            .await
            .status(),
        serve(foreign(item_event("PATCH", &id).body(&body)), |request| update_webhook(&ctx, &store, request))
            .await
            .status(),
        serve(foreign(item_event("DELETE", &id)), |request| delete_webhook(&ctx, &store, request)).await.status(),
    ];
    assert!(statuses.iter().all(|s| *s == 404), "{statuses:?}");
    assert_eq!(stored_count(&store).await, 1);
    let fetched = serve(item_event("GET", &id).request(), |request| get_webhook(&ctx, &store, request)).await;
    assert_eq!(json_of(&fetched)["version"], 1, "nothing changed");
}

#[tokio::test]
async fn refused_requests_change_nothing() {
    let (ctx, store) = (context(), MemoryStore::new());
    let create_with = |e: ApiEvent| serve(e.request(), |request| create_webhook(&ctx, &store, request));
    let cases = [
        (create_with(ApiEvent::create_webhook().without_authorizer()).await, 401, "/problems/unauthorized"),
        (create_with(ApiEvent::create_webhook().raw_body("{\"name\": ")).await, 400, "/problems/bad-request"),
        (create_with(ApiEvent::create_webhook().raw_body("[1, 2]")).await, 400, "/problems/bad-request"),
        (create_with(ApiEvent::create_webhook().header("Wink-Version", "9.9")).await, 400, "/problems/bad-request"),
        (
            create_with(ApiEvent::create_webhook().body(&json!({"name": "x", "blob": "a".repeat(300 * 1024)}))).await,
            413,
            "/problems/payload-too-large",
        ),
        (
            create_with(
                ApiEvent::create_webhook().body(&json!({"name": "", "eventUrl": "http://x", "eventList": ["nope"]})),
            )
            .await,
            422,
            "/problems/validation",
        ),
    ];
    for (response, status, problem) in &cases {
        assert_eq!(response.status(), *status);
        assert_eq!(response.headers()["content-type"], "application/problem+json");
        assert_eq!(json_of(response)["type"], *problem);
    }
    let fields: Vec<Value> = json_of(&cases[5].0)["properties"]["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| e["field"].clone())
        .collect();
    assert_eq!(fields, [json!("name"), json!("eventUrl"), json!("eventList")]);
    assert_eq!(stored_count(&store).await, 0);
    let bad_path = serve(item_event("GET", "not-a-uuid").request(), |request| get_webhook(&ctx, &store, request)).await;
    assert_eq!(bad_path.status(), 400);
}

#[tokio::test]
async fn event_types_need_claims_and_list_the_catalog() {
    let ctx = context();
    let (event, store) = (ApiEvent::list_webhooks().route("GET", "/api/event-types", &[]), MemoryStore::new());
    let response = serve(event.request(), |request| list_event_types(&ctx, &store, request)).await;
    assert_eq!(response.status(), 200);
    let names: Vec<String> = json_of(&response)["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|t| t["name"].as_str().expect("name").into())
        .collect();
    for expected in [
        "booking.created",
        "booking.updated",
        "booking.cancelled",
        "payment.completed",
        "payment.failed",
        "payment.refunded",
    ] {
        assert!(names.iter().any(|n| n == expected), "{expected} missing");
    }
    let refused = serve(event.without_authorizer().request(), |request| list_event_types(&ctx, &store, request)).await;
    assert_eq!(refused.status(), 401);
}

/// A store where another writer changes a webhook right after each read of it.
struct ChangedAfterRead(MemoryStore);

#[async_trait::async_trait]
impl crate::store::WebhookGet for ChangedAfterRead {
    async fn get_webhook(&self, owner: Owner, id: WebhookId) -> Result<Option<WebhookRecord>, StoreError> {
        use crate::store::WebhookReplace as _;
        let read = self.0.get_webhook(owner, id).await?;
        if let Some(webhook) = &read {
            let mut changed = webhook.clone();
            changed.info.version += 1;
            self.0.replace_webhook(&changed, webhook).await?;
        }
        Ok(read)
    }
}

#[async_trait::async_trait]
impl crate::store::WebhookDelete for ChangedAfterRead {
    async fn delete_webhook(&self, owner: Owner, id: WebhookId, expected: Option<u64>) -> Result<(), StoreError> {
        self.0.delete_webhook(owner, id, expected).await
    }
}

#[tokio::test]
async fn a_global_webhook_changed_after_its_check_is_not_deleted() {
    let (ctx, store) = (context(), MemoryStore::new());
    let body = json!({"name": "Partner", "eventUrl": "https://partner.example.com/hooks", "entities": [ENTITY]});
    let create = ApiEvent::create_webhook().route("POST", "/api/webhook", &[]).body(&body);
    let created = serve(create.request(), |request| create_webhook(&ctx, &store, request)).await;
    assert_eq!(created.status(), 201, "{:?}", created.body());
    let id = json_of(&created)["id"].as_str().expect("id").to_string();
    let item = || ApiEvent::create_webhook().route("DELETE", "/api/webhook/{webhookId}", &[("webhookId", &id)]);
    let changing = ChangedAfterRead(store);
    let refused = serve(item().request(), |request| delete_webhook(&ctx, &changing, request)).await;
    assert_eq!(refused.status(), 409, "the version checked is no longer the stored one");
    let stale =
        serve(item().header("If-Match", "\"1\"").request(), |request| delete_webhook(&ctx, &changing, request)).await;
    assert_eq!(stale.status(), 412, "If-Match of a version other than the one checked");
    let webhook_id = WebhookId::parse(&id).expect("uuid");
    let kept = changing.0.get_webhook(Owner::Global, webhook_id).await.expect("read");
    assert!(kept.is_some(), "nothing deleted");
}
