//! The bench's view of the wire: a proxy between the runner process and an emulator that
//! records every AWS request passing through, by its `X-Amz-Target` header
//! (`DynamoDB_20120810.PutItem`, `AmazonSQS.ReceiveMessage`, ...; both services speak JSON).
//! DynamoDB requests are asked for their `ConsumedCapacity` (DynamoDB Local reports it by
//! DynamoDB's sizing rules and does not check signatures), so what each one used is known.

use std::sync::{Arc, Mutex};

use axum::response::IntoResponse;
use serde_json::Value;
use tokio::net::TcpListener;

/// One request, as it passed.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// `DynamoDB_20120810.PutItem`, `AmazonSQS.SendMessageBatch`, ...
    pub target: String,
    /// DynamoDB's capacity units (read or write, by operation); 0 for SQS.
    pub units: f64,
    /// The delivery attempt it served, when its keys say: the step it wrote, or the step
    /// after the one it read.
    pub attempt: Option<u32>,
    /// Messages a `ReceiveMessage` returned, and the most it asked for.
    pub received: usize,
    pub asked_for: usize,
    /// The SQS queue it named (empty for DynamoDB).
    pub queue: String,
    /// The larger of its request's and its answer's bodies: SQS bills each 64 KiB of payload
    /// as a request.
    pub payload_bytes: usize,
}

impl Call {
    pub fn operation(&self) -> &str {
        self.target.rsplit('.').next().unwrap_or_default()
    }

    pub fn is_dynamodb(&self) -> bool {
        self.target.starts_with("DynamoDB")
    }

    /// The SQS requests it is billed as: one per 64 KiB of payload, at least one. (Its body as
    /// the emulator's JSON protocol carries it: a little more than the payload SQS counts.)
    pub fn sqs_requests(&self) -> f64 {
        self.payload_bytes.div_ceil(SQS_CHUNK_BYTES).max(1) as f64
    }

    /// Whether it was a request to the ingest queue (the runner's `{name}-ingest`).
    pub fn is_ingest(&self) -> bool {
        self.queue.ends_with("-ingest")
    }
}

/// The payload SQS bills as one request.
const SQS_CHUNK_BYTES: usize = 64 * 1024;

pub type Calls = Arc<Mutex<Vec<Call>>>;

/// Forwards a loopback port to the emulator at `target` (`host:port`), recording each call.
pub async fn recording_proxy(target: String, calls: Calls) -> std::io::Result<String> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let client = reqwest::Client::new();
    let app = axum::Router::new().fallback(move |headers: http::HeaderMap, body: axum::body::Bytes| {
        let (client, target, calls) = (client.clone(), target.clone(), calls.clone());
        async move {
            forward(&client, &target, headers, &body, &calls)
                .await
                .unwrap_or_else(|e| (http::StatusCode::BAD_GATEWAY, e.to_string()).into_response())
        }
    });
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(url)
}

async fn forward(
    client: &reqwest::Client,
    target: &str,
    headers: http::HeaderMap,
    body: &[u8],
    calls: &Calls,
) -> Result<axum::response::Response, Box<dyn std::error::Error + Send + Sync>> {
    let name = headers.get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let mut request: Value = serde_json::from_slice(body).unwrap_or_default();
    if name.starts_with("DynamoDB") {
        request["ReturnConsumedCapacity"] = "TOTAL".into();
    }
    let sent_bytes = body.len();
    let body = if request.is_null() { body.to_vec() } else { serde_json::to_vec(&request)? };
    let mut forwarded = client.post(format!("http://{target}/")).body(body);
    for (header, value) in &headers {
        if header != http::header::HOST && header != http::header::CONTENT_LENGTH {
            forwarded = forwarded.header(header.as_str(), value.as_bytes());
        }
    }
    let answer = forwarded.send().await?;
    let status = answer.status().as_u16();
    let content_type = answer.headers().get(http::header::CONTENT_TYPE).cloned();
    let bytes = answer.bytes().await?;
    let response: Value = serde_json::from_slice(&bytes).unwrap_or_default();
    let operation = name.rsplit('.').next().unwrap_or_default();
    let call = Call {
        units: units(&response),
        attempt: attempt(operation, &request, &response),
        received: response["Messages"].as_array().map_or(0, Vec::len),
        asked_for: request["MaxNumberOfMessages"].as_u64().map_or(0, |n| usize::try_from(n).unwrap_or(0)),
        queue: request["QueueUrl"].as_str().unwrap_or_default().to_string(),
        payload_bytes: sent_bytes.max(bytes.len()),
        target: name.clone(),
    };
    if let Ok(mut calls) = calls.lock() {
        calls.push(call);
    }
    let mut reply = axum::response::Response::builder().status(status);
    if let Some(content_type) = content_type {
        reply = reply.header(http::header::CONTENT_TYPE, content_type);
    }
    Ok(reply.body(axum::body::Body::from(bytes))?)
}

/// The capacity units of an answer: one `ConsumedCapacity`, or one per table (batches).
fn units(response: &Value) -> f64 {
    let one = |c: &Value| c["CapacityUnits"].as_f64().unwrap_or(0.0);
    match &response["ConsumedCapacity"] {
        Value::Array(all) => all.iter().map(one).sum(),
        single => one(single),
    }
}

/// The attempt a request served: a step's `PutItem` (its `SK` ends in the step number) or the
/// `Query` of a delivery's last step before the next attempt.
fn attempt(operation: &str, request: &Value, response: &Value) -> Option<u32> {
    match operation {
        "PutItem" => {
            let sk = request["Item"]["SK"]["S"].as_str()?;
            sk.strip_prefix("DELIVERY#")?.rsplit('#').next()?.parse().ok()
        }
        "Query" => {
            let prefix = request["ExpressionAttributeValues"][":prefix"]["S"].as_str()?;
            // One delivery's own steps, not a page of the log.
            let delivery = prefix.strip_prefix("DELIVERY#")?.strip_suffix('#')?;
            if delivery.is_empty() {
                return None;
            }
            let last = response["Items"][0]["step"]["N"].as_str().and_then(|n| n.parse::<u32>().ok()).unwrap_or(0);
            Some(last + 1)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn attributes_step_writes_and_reads_to_their_attempt() {
        let put = json!({"Item": {"SK": {"S": "DELIVERY#0193f0a1-7a2b-7c3d-8e4f-5a6b7c8d9e0f#0008"}}});
        assert_eq!(attempt("PutItem", &put, &json!({})), Some(8));
        let event = json!({"Item": {"SK": {"S": "EVENT#e-1"}}});
        assert_eq!(attempt("PutItem", &event, &json!({})), None);
        let query = json!({"ExpressionAttributeValues": {":prefix": {"S": "DELIVERY#0193f0a1#"}}});
        let last = json!({"Items": [{"step": {"N": "3"}}], "ConsumedCapacity": {"CapacityUnits": 2.0}});
        assert_eq!((attempt("Query", &query, &last), units(&last)), (Some(4), 2.0));
        assert_eq!(attempt("Query", &query, &json!({"Items": []})), Some(1));
        let log = json!({"ExpressionAttributeValues": {":prefix": {"S": "DELIVERY#"}}});
        assert_eq!(attempt("Query", &log, &last), None);
        let batch = json!({"ConsumedCapacity": [{"CapacityUnits": 1.5}, {"CapacityUnits": 2.0}]});
        assert_eq!(units(&batch), 3.5);
    }
}
