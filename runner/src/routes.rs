//! The HTTP API's routes, as `template.yaml` declares them to API Gateway, and the function
//! each one invokes.

use std::collections::HashMap;

/// One Lambda function of the API.
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
    GetEvent,
    TestWebhook,
    ListDeliveries,
    RotateSecret,
    ResendDelivery,
    RecoverDeliveries,
    WebhookStats,
    Console,
}

const WEBHOOKS: &str = "/api/managing-entity/{entityId}/webhook";
const WEBHOOK: &str = "/api/managing-entity/{entityId}/webhook/{webhookId}";
const GLOBAL_WEBHOOKS: &str = "/api/webhook";
const GLOBAL_WEBHOOK: &str = "/api/webhook/{webhookId}";

/// Method, path template (API Gateway's syntax), function.
pub const ROUTES: &[(&str, &str, Function)] = &[
    ("POST", WEBHOOKS, Function::CreateWebhook),
    ("GET", WEBHOOKS, Function::ListWebhooks),
    ("GET", WEBHOOK, Function::GetWebhook),
    ("PUT", WEBHOOK, Function::UpdateWebhook),
    ("PATCH", WEBHOOK, Function::UpdateWebhook),
    ("DELETE", WEBHOOK, Function::DeleteWebhook),
    ("GET", "/api/event-types", Function::ListEventTypes),
    ("PUT", "/api/event-types/{name}", Function::WriteEventType),
    ("DELETE", "/api/event-types/{name}", Function::WriteEventType),
    ("POST", "/api/managing-entity/{entityId}/event", Function::PublishEvent),
    ("GET", "/api/managing-entity/{entityId}/event/{eventId}", Function::GetEvent),
    ("POST", "/api/managing-entity/{entityId}/webhook/{webhookId}/test", Function::TestWebhook),
    ("GET", "/api/managing-entity/{entityId}/webhook/{webhookId}/deliveries", Function::ListDeliveries),
    ("POST", GLOBAL_WEBHOOKS, Function::CreateWebhook),
    ("GET", GLOBAL_WEBHOOKS, Function::ListWebhooks),
    ("GET", GLOBAL_WEBHOOK, Function::GetWebhook),
    ("PUT", GLOBAL_WEBHOOK, Function::UpdateWebhook),
    ("PATCH", GLOBAL_WEBHOOK, Function::UpdateWebhook),
    ("DELETE", GLOBAL_WEBHOOK, Function::DeleteWebhook),
    ("POST", "/api/webhook/{webhookId}/test", Function::TestWebhook),
    ("GET", "/api/webhook/{webhookId}/deliveries", Function::ListDeliveries),
    ("POST", "/api/managing-entity/{entityId}/webhook/{webhookId}/secret/rotate", Function::RotateSecret),
    ("POST", "/api/webhook/{webhookId}/secret/rotate", Function::RotateSecret),
    (
        "POST",
        "/api/managing-entity/{entityId}/webhook/{webhookId}/deliveries/{deliveryId}/resend",
        Function::ResendDelivery,
    ),
    ("POST", "/api/webhook/{webhookId}/deliveries/{deliveryId}/resend", Function::ResendDelivery),
    ("POST", "/api/managing-entity/{entityId}/webhook/{webhookId}/recover", Function::RecoverDeliveries),
    ("POST", "/api/webhook/{webhookId}/recover", Function::RecoverDeliveries),
    ("GET", "/api/managing-entity/{entityId}/webhook/{webhookId}/stats", Function::WebhookStats),
    ("GET", "/api/webhook/{webhookId}/stats", Function::WebhookStats),
    ("GET", "/", Function::Console),
    ("GET", "/console/{proxy+}", Function::Console),
    ("GET", "/api/openapi.yaml", Function::Console),
];

/// A request matched to its route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matched {
    pub function: Function,
    /// `"GET /api/event-types"`, as API Gateway's `routeKey`.
    pub route_key: String,
    pub path_parameters: HashMap<String, String>,
}

pub struct RouteTable {
    paths: matchit::Router<Vec<(&'static str, Function, &'static str)>>,
}

impl RouteTable {
    pub fn new() -> Self {
        let mut by_path: HashMap<&str, Vec<(&'static str, Function, &'static str)>> = HashMap::new();
        for (method, path, function) in ROUTES {
            by_path.entry(path).or_default().push((method, *function, path));
        }
        let mut paths = matchit::Router::new();
        for (path, methods) in by_path {
            // API Gateway's greedy `{proxy+}` is matchit's catch-all `{*proxy}`.
            let path = path.replace("{proxy+}", "{*proxy}");
            // The table above is fixed; a conflict is a programming error caught by the tests.
            if let Err(err) = paths.insert(path, methods) {
                panic!("route table: {err}");
            }
        }
        Self { paths }
    }

    /// The route API Gateway would pick for this method and path, if any.
    pub fn find(&self, method: &str, path: &str) -> Option<Matched> {
        let found = self.paths.at(path).ok()?;
        let (_, function, template) = found.value.iter().find(|(m, _, _)| *m == method)?;
        Some(Matched {
            function: *function,
            route_key: format!("{method} {template}"),
            path_parameters: found.params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        })
    }
}

impl Default for RouteTable {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_like_api_gateway() {
        let table = RouteTable::new();
        let found = table.find("PATCH", "/api/managing-entity/e1/webhook/w1").expect("route");
        assert_eq!(found.function, Function::UpdateWebhook);
        assert_eq!(found.route_key, format!("PATCH {WEBHOOK}"));
        assert_eq!(found.path_parameters["entityId"], "e1");
        assert_eq!(found.path_parameters["webhookId"], "w1");
        let deliveries = table.find("GET", "/api/managing-entity/e1/webhook/w1/deliveries").map(|m| m.function);
        assert_eq!(deliveries, Some(Function::ListDeliveries));
        assert_eq!(table.find("GET", "/api/event-types").map(|m| m.function), Some(Function::ListEventTypes));
        let global = table.find("DELETE", "/api/webhook/w1").expect("global route");
        assert_eq!((global.function, global.path_parameters.get("entityId")), (Function::DeleteWebhook, None));
        assert_eq!(table.find("POST", "/api/event-types"), None);
        assert_eq!(table.find("GET", "/api/nothing"), None);
        let asset = table.find("GET", "/console/app.js").expect("console route");
        assert_eq!((asset.function, asset.path_parameters["proxy"].as_str()), (Function::Console, "app.js"));
        assert_eq!(asset.route_key, "GET /console/{proxy+}");
    }
}
