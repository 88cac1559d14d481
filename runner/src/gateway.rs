//! What API Gateway does between the client and the function: turn an HTTP request into an
//! HTTP API (payload 2.0) event, and the function's response back into HTTP.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::Utc;
use http::HeaderMap;
use lambda_http::{Body, Request};
use serde_json::{Map, Value, json};

use crate::routes::Matched;

/// What an authorizer handed over: a JWT authorizer's claims, already stringified, or a Lambda
/// authorizer's context.
pub enum Authorized {
    Jwt(Map<String, Value>),
    Lambda(Map<String, Value>),
}

/// The parts of an incoming request an event is made of.
pub struct Incoming<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub raw_query: &'a str,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
}

/// The HTTP API event for `incoming` on its matched route, with what its authorizer handed over
/// (`None` when the request carried no valid token).
pub fn event(incoming: &Incoming<'_>, route: &Matched, authorizer: Option<Authorized>) -> Value {
    let mut headers: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in incoming.headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        headers.entry(name.as_str().to_string()).and_modify(|v| *v = format!("{v},{value}")).or_insert(value);
    }
    let mut query: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in url::form_urlencoded::parse(incoming.raw_query.as_bytes()) {
        query.entry(name.into_owned()).and_modify(|v| *v = format!("{v},{value}")).or_insert(value.into_owned());
    }
    let now = Utc::now();
    let user_agent = headers.get("user-agent").cloned().unwrap_or_default();
    let mut context = json!({
        "accountId": "000000000000",
        "apiId": "local",
        "domainName": "127.0.0.1",
        "domainPrefix": "127",
        "http": {
            "method": incoming.method,
            "path": incoming.path,
            "protocol": "HTTP/1.1",
            "sourceIp": "127.0.0.1",
            "userAgent": user_agent,
        },
        "requestId": uuid::Uuid::new_v4().to_string(),
        "routeKey": route.route_key,
        "stage": "$default",
        "time": now.format("%d/%b/%Y:%H:%M:%S %z").to_string(),
        "timeEpoch": now.timestamp_millis(),
    });
    match authorizer {
        Some(Authorized::Jwt(claims)) => context["authorizer"] = json!({"jwt": {"claims": claims, "scopes": null}}),
        Some(Authorized::Lambda(context_of)) => context["authorizer"] = json!({"lambda": context_of}),
        None => {}
    }
    let mut event = json!({
        "version": "2.0",
        "routeKey": route.route_key,
        "rawPath": incoming.path,
        "rawQueryString": incoming.raw_query,
        "headers": headers,
        "requestContext": context,
        "pathParameters": route.path_parameters,
        "isBase64Encoded": false,
    });
    if !query.is_empty() {
        event["queryStringParameters"] = json!(query);
    }
    if !incoming.body.is_empty() {
        match std::str::from_utf8(incoming.body) {
            Ok(text) => event["body"] = json!(text),
            Err(_) => {
                event["body"] = json!(STANDARD.encode(incoming.body));
                event["isBase64Encoded"] = json!(true);
            }
        }
    }
    event
}

/// Parses the event as the Lambda runtime does.
pub fn request(event: &Value) -> Result<Request, serde_json::Error> {
    lambda_http::request::from_str(&event.to_string())
}

pub fn into_http(response: lambda_http::Response<Body>) -> http::Response<Vec<u8>> {
    let (parts, body) = response.into_parts();
    let bytes = match body {
        Body::Empty => Vec::new(),
        Body::Text(text) => text.into_bytes(),
        Body::Binary(bytes) => bytes,
        // Only streaming bodies remain; the API's handlers never answer with one.
        _ => Vec::new(),
    };
    http::Response::from_parts(parts, bytes)
}
