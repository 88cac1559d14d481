//! Test helper: real API Gateway HTTP API (payload 2.0) events from `events/`, adapted
//! to a route, and parsed by `lambda_http` exactly as the Lambda runtime parses them.

use lambda_http::Request;
use serde_json::{Value, json};

pub(crate) const ENTITY: &str = "d5b8a3c2-9e6f-4a1b-8d34-7c2e1f0a5b69";
pub(crate) const OTHER_ENTITY: &str = "0d9e8f7a-6b5c-4d3e-8f2a-1b0c9d8e7f6a";

pub(crate) struct ApiEvent(Value);

impl ApiEvent {
    pub(crate) fn create_webhook() -> Self {
        Self::fixture(include_str!("../../../events/create-webhook.json"))
    }

    pub(crate) fn list_webhooks() -> Self {
        Self::fixture(include_str!("../../../events/list-webhooks.json"))
    }

    fn fixture(text: &str) -> Self {
        Self(serde_json::from_str(text).expect("fixture is JSON"))
    }

    /// The same event for another route: `template` as in the route key, `params` filling it.
    pub(crate) fn route(mut self, method: &str, template: &str, params: &[(&str, &str)]) -> Self {
        let mut path = template.to_string();
        let mut path_params = serde_json::Map::new();
        for (name, value) in params {
            path = path.replace(&format!("{{{name}}}"), value);
            path_params.insert((*name).to_string(), json!(value));
        }
        let route_key = format!("{method} {template}");
        self.0["routeKey"] = json!(route_key);
        self.0["requestContext"]["routeKey"] = json!(route_key);
        self.0["rawPath"] = json!(path);
        self.0["requestContext"]["http"]["path"] = json!(path);
        self.0["requestContext"]["http"]["method"] = json!(method);
        self.0["pathParameters"] = Value::Object(path_params);
        self.0["rawQueryString"] = json!("");
        self.0.as_object_mut().map(|o| o.remove("queryStringParameters"));
        self.0.as_object_mut().map(|o| o.remove("body"));
        self
    }

    pub(crate) fn query(mut self, pairs: &[(&str, &str)]) -> Self {
        let raw: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
        self.0["rawQueryString"] = json!(raw.join("&"));
        self.0["queryStringParameters"] = pairs.iter().map(|(k, v)| ((*k).to_string(), json!(v))).collect();
        self
    }

    pub(crate) fn body(self, body: &Value) -> Self {
        self.raw_body(&body.to_string())
    }

    pub(crate) fn raw_body(mut self, text: &str) -> Self {
        self.0["body"] = json!(text);
        self
    }

    pub(crate) fn header(mut self, name: &str, value: &str) -> Self {
        self.0["headers"][name.to_ascii_lowercase()] = json!(value);
        self
    }

    pub(crate) fn entities_claim(self, value: &str) -> Self {
        self.claim("entities", value)
    }

    pub(crate) fn claim(mut self, name: &str, value: &str) -> Self {
        self.0["requestContext"]["authorizer"]["jwt"]["claims"][name] = json!(value);
        self
    }

    /// The request as the portal routes' Lambda authorizer lets it in, with `context`.
    pub(crate) fn portal_context(mut self, context: Value) -> Self {
        self.0["requestContext"]["authorizer"] = json!({ "lambda": context });
        self
    }

    pub(crate) fn without_authorizer(mut self) -> Self {
        self.0["requestContext"].as_object_mut().map(|o| o.remove("authorizer"));
        self
    }

    pub(crate) fn request(&self) -> Request {
        lambda_http::request::from_str(&self.0.to_string()).expect("lambda_http parses the event")
    }
}
