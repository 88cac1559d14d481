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
    CreatePortalSession,
    Console,
}

/// Who lets a route's requests in before its function runs (`template.yaml`'s authorizers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Authorizer {
    /// The platform's identity provider's tokens (API Gateway's JWT authorizer).
    Jwt,
    /// Portal sessions' tokens (docs/contract.md 16: the `authorize-portal` Lambda authorizer).
    Portal,
    /// None: the console's files.
    None,
}

/// A route: its method, its path template (API Gateway's syntax) and the function it invokes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub method: &'static str,
    pub path: String,
    pub function: Function,
    pub authorizer: Authorizer,
}

/// The roots of an entity's webhooks, of global ones, and of an entity's through a portal
/// session: every route of `UNDER_EACH_ROOT` is served under each, the same function answering.
const ROOTS: [(&str, Authorizer); 3] = [
    ("/api/managing-entity/{entityId}/webhook", Authorizer::Jwt),
    ("/api/webhook", Authorizer::Jwt),
    ("/portal/api/managing-entity/{entityId}/webhook", Authorizer::Portal),
];

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

/// Method, path, function, authorizer: the catalog, an entity's events and portal sessions, and
/// the console.
const ELSEWHERE: &[(&str, &str, Function, Authorizer)] = &[
    ("GET", "/api/event-types", Function::ListEventTypes, Authorizer::Jwt),
    ("PUT", "/api/event-types/{name}", Function::WriteEventType, Authorizer::Jwt),
    ("DELETE", "/api/event-types/{name}", Function::WriteEventType, Authorizer::Jwt),
    ("POST", "/api/managing-entity/{entityId}/event", Function::PublishEvent, Authorizer::Jwt),
    ("POST", "/api/managing-entity/{entityId}/events", Function::PublishEvents, Authorizer::Jwt),
    ("GET", "/api/managing-entity/{entityId}/event/{eventId}", Function::GetEvent, Authorizer::Jwt),
    ("GET", "/api/managing-entity/{entityId}/refused-events", Function::ListRefusedEvents, Authorizer::Jwt),
    ("POST", "/api/managing-entity/{entityId}/portal-session", Function::CreatePortalSession, Authorizer::Jwt),
    ("GET", "/portal/api/event-types", Function::ListEventTypes, Authorizer::Portal),
    ("GET", "/", Function::Console, Authorizer::None),
    ("GET", "/portal", Function::Console, Authorizer::None),
    ("GET", "/console/{proxy+}", Function::Console, Authorizer::None),
    ("GET", "/api/openapi.yaml", Function::Console, Authorizer::None),
];

/// Every route of the API.
pub fn routes() -> Vec<Route> {
    let under_roots = ROOTS.iter().flat_map(|(root, authorizer)| {
        UNDER_EACH_ROOT.iter().map(move |(method, below, function)| Route {
            method,
            path: format!("{root}{below}"),
            function: *function,
            authorizer: *authorizer,
        })
    });
    let elsewhere = ELSEWHERE.iter().map(|(method, path, function, authorizer)| Route {
        method,
        path: (*path).to_string(),
        function: *function,
        authorizer: *authorizer,
    });
    under_roots.chain(elsewhere).collect()
}

impl Function {
    /// Answers `request` as this function does, with the clients of `deps`; an error is
    /// rendered by `super::serve`.
    pub async fn handle(self, deps: &Deps, request: Request) -> Handled {
        use super::{deliveries, event_types, events, portal, replay, secrets, stats, webhooks};
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
            Self::CreatePortalSession => portal::create_portal_session(ctx, store, &deps.portal_keys, request).await,
            Self::Console => Ok(crate::console::serve_console(request).await),
        }
    }

    /// `handle` under the caller's rate limit (the console's requests carry no caller), every
    /// error rendered as problem+json: how a Lambda and the runner answer a request alike.
    pub async fn answer(self, deps: &Deps, request: Request) -> Response<Body> {
        super::limited(&deps.ctx, deps.store.as_ref(), request, |request| self.handle(deps, request)).await
    }
}
