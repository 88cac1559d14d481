//! The API's routes, as `template.yaml` declares them to API Gateway, and the function each
//! one invokes: the one table the runner dispatches from, each Lambda's `main` names its entry
//! of, and the contract tests read.

use lambda_http::{Body, Request, Response};

use super::Handled;
use crate::deps::Deps;

/// One Lambda function of the API; its package (and binary) is its name in kebab case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    CreateWebhook,
    ListWebhooks,
    GetWebhook,
    UpdateWebhook,
    DeleteWebhook,
    ListEventTypes,
    WriteEventType,
    PublishEvent,
    PublishEvents,
    GetEvent,
    ListRefusedEvents,
    TestWebhook,
    ListDeliveries,
    RotateSecret,
    ResendDelivery,
    RecoverDeliveries,
    WebhookStats,
    Console,
}

/// A route: its method, its path template (API Gateway's syntax) and the function it invokes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub method: &'static str,
    pub path: String,
    pub function: Function,
}

/// The roots of an entity's webhooks and of global ones: every route of `UNDER_EACH_ROOT` is
/// served under both, the same function answering for either owner.
const ROOTS: [&str; 2] = ["/api/managing-entity/{entityId}/webhook", "/api/webhook"];

/// Method, path below a root, function.
const UNDER_EACH_ROOT: &[(&str, &str, Function)] = &[
    ("POST", "", Function::CreateWebhook),
    ("GET", "", Function::ListWebhooks),
    ("GET", "/{webhookId}", Function::GetWebhook),
    ("PUT", "/{webhookId}", Function::UpdateWebhook),
    ("PATCH", "/{webhookId}", Function::UpdateWebhook),
    ("DELETE", "/{webhookId}", Function::DeleteWebhook),
    ("POST", "/{webhookId}/test", Function::TestWebhook),
    ("GET", "/{webhookId}/deliveries", Function::ListDeliveries),
    ("POST", "/{webhookId}/secret/rotate", Function::RotateSecret),
    ("POST", "/{webhookId}/deliveries/{deliveryId}/resend", Function::ResendDelivery),
    ("POST", "/{webhookId}/recover", Function::RecoverDeliveries),
    ("GET", "/{webhookId}/stats", Function::WebhookStats),
];

/// Method, path, function: the catalog, an entity's events, and the console.
const ELSEWHERE: &[(&str, &str, Function)] = &[
    ("GET", "/api/event-types", Function::ListEventTypes),
    ("PUT", "/api/event-types/{name}", Function::WriteEventType),
    ("DELETE", "/api/event-types/{name}", Function::WriteEventType),
    ("POST", "/api/managing-entity/{entityId}/event", Function::PublishEvent),
    ("POST", "/api/managing-entity/{entityId}/events", Function::PublishEvents),
    ("GET", "/api/managing-entity/{entityId}/event/{eventId}", Function::GetEvent),
    ("GET", "/api/managing-entity/{entityId}/refused-events", Function::ListRefusedEvents),
    ("GET", "/", Function::Console),
    ("GET", "/console/{proxy+}", Function::Console),
    ("GET", "/api/openapi.yaml", Function::Console),
];

/// Every route of the API.
pub fn routes() -> Vec<Route> {
    let under_roots = ROOTS.iter().flat_map(|root| {
        UNDER_EACH_ROOT.iter().map(move |(method, below, function)| (*method, format!("{root}{below}"), *function))
    });
    let elsewhere = ELSEWHERE.iter().map(|(method, path, function)| (*method, (*path).to_string(), *function));
    under_roots.chain(elsewhere).map(|(method, path, function)| Route { method, path, function }).collect()
}

impl Function {
    /// Answers `request` as this function does, with the clients of `deps`; an error is
    /// rendered by `super::serve`.
    pub async fn handle(self, deps: &Deps, request: Request) -> Handled {
        use super::{deliveries, event_types, events, replay, secrets, stats, webhooks};
        let (ctx, store) = (&deps.ctx, deps.store.as_ref());
        match self {
            Self::CreateWebhook => webhooks::create_webhook(ctx, store, &deps.notices(), request).await,
            Self::ListWebhooks => webhooks::list_webhooks(ctx, store, request).await,
            Self::GetWebhook => webhooks::get_webhook(ctx, store, request).await,
            Self::UpdateWebhook => webhooks::update_webhook(ctx, store, &deps.notices(), request).await,
            Self::DeleteWebhook => webhooks::delete_webhook(ctx, store, &deps.notices(), request).await,
            Self::ListEventTypes => event_types::list_event_types(ctx, store, request).await,
            Self::WriteEventType => event_types::write_event_type(ctx, store, request).await,
            Self::PublishEvent => events::publish_event(ctx, store, &deps.queues(), request).await,
            Self::PublishEvents => events::publish_events(ctx, store, &deps.queues(), request).await,
            Self::GetEvent => events::get_event(ctx, store, request).await,
            Self::ListRefusedEvents => events::list_refused_events(ctx, store, request).await,
            Self::TestWebhook => deliveries::test_webhook(ctx, store, deps.sender()?, request).await,
            Self::ListDeliveries => deliveries::list_deliveries(ctx, store, request).await,
            Self::RotateSecret => secrets::rotate_secret(ctx, store, request).await,
            Self::ResendDelivery => replay::resend_delivery(ctx, store, &deps.queues(), request).await,
            Self::RecoverDeliveries => replay::recover_deliveries(ctx, store, &deps.queues(), request).await,
            Self::WebhookStats => stats::webhook_stats(ctx, store, request).await,
            Self::Console => Ok(crate::console::serve_console(request).await),
        }
    }

    /// `handle` under the caller's rate limit (the console's requests carry no caller), every
    /// error rendered as problem+json: how a Lambda and the runner answer a request alike.
    pub async fn answer(self, deps: &Deps, request: Request) -> Response<Body> {
        super::limited(&deps.ctx, deps.store.as_ref(), request, |request| self.handle(deps, request)).await
    }
}
