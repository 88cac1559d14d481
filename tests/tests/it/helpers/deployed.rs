//! Targets outside this process, each described in a JSON file its script writes: the stack
//! that `tests/stack/run.py` deployed, and the functions `tests/stack/sam_local.py` serves with
//! `sam local start-api`.

use serde_json::Value;
use shared::dev_auth;

use super::{DISABLE_AFTER, Queues, STACK_SCHEDULE, TIMEOUT, TestApp, emulator_config};
use crate::tokens::Tokens;

/// The file `variable` names, read as JSON, and its path (for messages).
fn description(variable: &str, script: &str) -> (String, Value) {
    let path = std::env::var(variable).unwrap_or_else(|_| panic!("{variable} is not set: run {script}"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    (path.clone(), serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path} is not JSON: {e}")))
}

fn field<'a>(path: &str, description: &'a Value, name: &str) -> &'a str {
    description[name].as_str().unwrap_or_else(|| panic!("{path} has no {name}"))
}

impl TestApp {
    /// The stack that `tests/stack/run.py` deployed, described in the file `WEBHOOKS_STACK` names.
    pub(super) fn stack() -> Self {
        let (path, stack) = description("WEBHOOKS_STACK", "scripts/stack-test.sh");
        let field = |name: &str| field(&path, &stack, name);
        let deployed = (field("retrySchedule"), field("deliveryTimeout"), field("disableAfter"));
        let timeout = format!("{}s", TIMEOUT.as_secs());
        assert_eq!(deployed, (STACK_SCHEDULE, timeout.as_str(), DISABLE_AFTER), "the stack's delivery settings");
        let tokens =
            Tokens::rs256(field("keyPem"), field("foreignKeyPem"), field("kid"), field("issuer"), field("audience"));
        let queues = Queues::Remote {
            endpoint: field("awsEndpoint").into(),
            url: field("deliveryQueueUrl").into(),
            ingest_url: field("ingestQueueUrl").into(),
        };
        let table = aws_sdk_dynamodb::Client::new(&emulator_config(field("awsEndpoint")));
        Self::with(field("url").to_string(), tokens, queues, Some((table, field("tableName").into())))
    }

    /// The functions behind `sam local start-api`, on DynamoDB Local and the SQS emulator,
    /// checking the runner's dev tokens themselves (no JWT authorizer runs under SAM), described
    /// in the file `WEBHOOKS_SAM_LOCAL` names.
    pub(super) fn sam_local() -> Self {
        let (path, sam) = description("WEBHOOKS_SAM_LOCAL", "scripts/sam-local.sh");
        let field = |name: &str| field(&path, &sam, name);
        let tokens = Tokens::hs256(field("devSecret").as_bytes(), dev_auth::ISSUER, dev_auth::AUDIENCE);
        let queues = Queues::Remote {
            endpoint: field("sqsEndpoint").into(),
            url: field("deliveryQueueUrl").into(),
            ingest_url: field("ingestQueueUrl").into(),
        };
        let table = aws_sdk_dynamodb::Client::new(&emulator_config(field("dynamodbEndpoint")));
        Self::with(field("url").to_string(), tokens, queues, Some((table, field("tableName").into())))
    }
}
