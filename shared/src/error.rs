//! The one error type of the service, and the one place it becomes an HTTP response.

use lambda_http::http::header::{CONTENT_TYPE, RETRY_AFTER};
use lambda_http::{Body, Response};
use serde::Serialize;

use crate::rate_limit::Verdict;

pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A field that failed validation, as listed in `properties.errors` of a 422.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    BadRequest(String),
    #[error("the request carries no valid authorizer claims")]
    Unauthorized,
    /// A valid token without the scope the route needs.
    #[error("this route needs the scope {0}")]
    Forbidden(&'static str),
    /// A write in a read-only portal session (docs/contract.md 16).
    #[error("this portal session is read-only")]
    ReadOnly,
    #[error("not found")]
    NotFound,
    #[error("the version in the body is stale; the current version is {current}")]
    VersionConflict { current: u64 },
    #[error("If-Match does not match the current version {current}")]
    PreconditionFailed { current: u64 },
    #[error("the request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("{}", summary(.0))]
    Validation(Vec<FieldError>),
    /// Over a rate limit (docs/contract.md 5.5): nothing was done.
    #[error("the {} rate limit of {} is used up; retry in {} s", .0.name, .0.policy, .0.decision.retry_after_seconds)]
    RateLimited(Verdict),
    /// A dependency (DynamoDB, SQS) failed or could not be reached; the client may retry.
    #[error("a dependency is unavailable")]
    Unavailable(#[source] BoxError),
    #[error("internal error")]
    Internal(#[source] BoxError),
    /// `cause` stopped a publish after its event was stored: the problem says the event's id,
    /// for the retry that finishes the fan-out (docs/contract.md 5.2).
    #[error("the event {event_id} was stored, then: {cause}")]
    Published { event_id: String, cause: Box<Error> },
}

impl Error {
    pub fn validation(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError::new(field, message)])
    }

    pub fn internal(source: impl Into<BoxError>) -> Self {
        Self::Internal(source.into())
    }

    pub fn unavailable(source: impl Into<BoxError>) -> Self {
        Self::Unavailable(source.into())
    }

    /// `cause`, which stopped the publish of the stored event `event_id`.
    pub fn published_but(event_id: String, cause: Self) -> Self {
        Self::Published { event_id, cause: Box::new(cause) }
    }

    /// Its status, problem type and title: the one table of them (docs/contract.md 7).
    fn problem(&self) -> (u16, &'static str, &'static str) {
        match self {
            Self::BadRequest(_) => (400, "/problems/bad-request", "Bad request"),
            Self::Unauthorized => (401, "/problems/unauthorized", "Unauthorized"),
            Self::Forbidden(_) | Self::ReadOnly => (403, "/problems/forbidden", "Forbidden"),
            Self::NotFound => (404, "/problems/not-found", "Not found"),
            Self::VersionConflict { .. } => (409, "/problems/version-conflict", "Version conflict"),
            Self::PreconditionFailed { .. } => (412, "/problems/precondition-failed", "Precondition failed"),
            Self::PayloadTooLarge { .. } => (413, "/problems/payload-too-large", "Payload too large"),
            Self::Validation(_) => (422, "/problems/validation", "Invalid request"),
            Self::RateLimited(_) => (429, "/problems/rate-limited", "Too many requests"),
            Self::Internal(_) => (500, "/problems/internal", "Internal error"),
            Self::Unavailable(_) => (503, "/problems/unavailable", "Service unavailable"),
            Self::Published { cause, .. } => cause.problem(),
        }
    }

    pub fn status(&self) -> u16 {
        self.problem().0
    }

    fn properties(&self) -> Option<Properties<'_>> {
        match self {
            Self::VersionConflict { current } | Self::PreconditionFailed { current } => {
                Some(Properties { current_version: Some(*current), ..Properties::default() })
            }
            Self::Validation(errors) => Some(Properties { errors: Some(errors), ..Properties::default() }),
            Self::Published { event_id, cause } => {
                Some(Properties { event_id: Some(event_id), ..cause.properties().unwrap_or_default() })
            }
            _ => None,
        }
    }
}

fn summary(errors: &[FieldError]) -> String {
    errors.iter().map(|e| format!("{} {}", e.field, e.message)).collect::<Vec<_>>().join("; ")
}

/// The error with every cause after it, for logs: "a: b: c".
pub fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// An RFC 9457 problem: the body of every error response, and the item of a refused event in
/// a batch publish's answer.
#[derive(Serialize)]
pub(crate) struct Problem<'a> {
    #[serde(rename = "type")]
    problem_type: &'a str,
    title: &'a str,
    status: u16,
    detail: String,
    instance: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    properties: Option<Properties<'a>>,
}

/// What a problem says beyond its detail, as docs/contract.md 7 lists it.
#[derive(Default, Serialize)]
#[serde(rename_all = "camelCase")]
struct Properties<'a> {
    /// The version stored, for a 409 or a 412.
    #[serde(skip_serializing_if = "Option::is_none")]
    current_version: Option<u64>,
    /// Every field that failed validation, for a 422.
    #[serde(skip_serializing_if = "Option::is_none")]
    errors: Option<&'a [FieldError]>,
    /// The event a failed publish stored, to retry it with.
    #[serde(skip_serializing_if = "Option::is_none")]
    event_id: Option<&'a str>,
}

/// The RFC 9457 problem of `err` at `instance`. Server errors are logged with their cause and
/// told with a detail that says nothing about internals.
pub(crate) fn problem<'a>(err: &'a Error, instance: &'a str) -> Problem<'a> {
    let (status, problem_type, title) = err.problem();
    if status >= 500 {
        tracing::error!(status, error = %chain(err), instance, "request failed");
    } else if let Error::Validation(errors) = err {
        // The fields only: a schema's messages quote the event's data, which is not for logs.
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        tracing::info!(status, ?fields, instance, "request refused: invalid fields");
    } else {
        tracing::info!(status, error = %err, instance, "request refused");
    }
    let detail = if status >= 500 { title.to_string() } else { err.to_string() };
    Problem { problem_type, title, status, detail, instance, properties: err.properties() }
}

/// Turns an error into an RFC 9457 problem+json response.
pub(crate) fn problem_response(err: &Error, instance: &str) -> Response<Body> {
    let problem = problem(err, instance);
    let status = problem.status;
    // A problem of strings and numbers always serialises; the fallback keeps the status.
    let body = serde_json::to_string(&problem).unwrap_or_default();
    let mut response = Response::new(Body::Text(body));
    *response.status_mut() =
        lambda_http::http::StatusCode::from_u16(status).unwrap_or(lambda_http::http::StatusCode::INTERNAL_SERVER_ERROR);
    response
        .headers_mut()
        .insert(CONTENT_TYPE, lambda_http::http::HeaderValue::from_static("application/problem+json"));
    if let Error::RateLimited(verdict) = err {
        response.headers_mut().insert(RETRY_AFTER, verdict.decision.retry_after_seconds.into());
        add_rate_limit_headers(&mut response, verdict);
    }
    response
}

/// Adds a limit's `RateLimit-Policy` and `RateLimit` to a response, after those of any other
/// limit it answers to (the draft's headers are lists).
pub(crate) fn add_rate_limit_headers(response: &mut Response<Body>, verdict: &Verdict) {
    for (name, value) in [("ratelimit-policy", verdict.policy_header()), ("ratelimit", verdict.limit_header())] {
        let headers = response.headers_mut();
        let joined = match headers.get(name).and_then(|v| v.to_str().ok()) {
            Some(before) => format!("{before}, {value}"),
            None => value,
        };
        if let Ok(value) = joined.parse() {
            headers.insert(name, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn body_json(response: &Response<Body>) -> serde_json::Value {
        serde_json::from_slice(response.body().as_ref()).expect("problem body is JSON")
    }

    #[test]
    fn validation_lists_every_field() {
        let err = Error::Validation(vec![
            FieldError::new("name", "must not be blank"),
            FieldError::new("eventUrl", "must be an https URL"),
        ]);
        let response = problem_response(&err, "/api/x");
        assert_eq!(response.status(), 422);
        assert_eq!(response.headers()[CONTENT_TYPE], "application/problem+json");
        let body = body_json(&response);
        assert_eq!(body["type"], "/problems/validation");
        assert_eq!(body["instance"], "/api/x");
        assert_eq!(body["properties"]["errors"][1]["field"], "eventUrl");
        assert_eq!(body["detail"], "name must not be blank; eventUrl must be an https URL");
    }

    #[test]
    fn conflict_carries_current_version() {
        let body = body_json(&problem_response(&Error::VersionConflict { current: 7 }, "/i"));
        assert_eq!(body["status"], 409);
        assert_eq!(body["properties"]["currentVersion"], 7);
    }

    #[test]
    fn a_publish_stopped_after_its_event_was_stored_says_the_event_id() {
        let cause = Error::unavailable(std::io::Error::other("queue down"));
        let response = problem_response(&Error::published_but("evt-1".into(), cause), "/i");
        assert_eq!(response.status(), 503);
        let body = body_json(&response);
        assert_eq!(
            (body["type"].clone(), body["properties"]["eventId"].clone()),
            (json!("/problems/unavailable"), json!("evt-1"))
        );
    }

    #[test]
    fn server_errors_hide_their_cause() {
        let err = Error::internal(std::io::Error::other("table webhooks-prod: secret detail"));
        let response = problem_response(&err, "/i");
        assert_eq!(response.status(), 500);
        let text = std::str::from_utf8(response.body().as_ref()).expect("utf-8");
        assert!(!text.contains("secret detail"), "{text}");
        assert_eq!(chain(&err), "internal error: table webhooks-prod: secret detail");
    }
}
