//! Which route of `shared::api::routes()` a request takes, matched as API Gateway matches it.

use std::collections::HashMap;

use shared::api::{Authorizer, Function, Route, routes};

/// A request matched to its route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matched {
    pub function: Function,
    pub authorizer: Authorizer,
    /// `"GET /api/event-types"`, as API Gateway's `routeKey`.
    pub route_key: String,
    pub path_parameters: HashMap<String, String>,
}

/// The routes of one path template.
type Methods = Vec<Route>;

pub struct RouteTable {
    paths: matchit::Router<Methods>,
}

impl RouteTable {
    pub fn new() -> Self {
        let mut by_path: HashMap<String, Methods> = HashMap::new();
        for route in routes() {
            by_path.entry(route.path.clone()).or_default().push(route);
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
        let route = found.value.iter().find(|route| route.method == method)?;
        Some(Matched {
            function: route.function,
            authorizer: route.authorizer,
            route_key: format!("{method} {}", route.path),
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
        assert_eq!(found.route_key, "PATCH /api/managing-entity/{entityId}/webhook/{webhookId}");
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
