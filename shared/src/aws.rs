//! AWS clients from the standard SDK environment (region, credentials, `AWS_ENDPOINT_URL*`):
//! the one way clients are made. Stores and queues take their client in their constructor
//! (`DynamoStore::new`, `SqsQueue::new`); a function's `main` builds them here from its
//! configured names (all at once, `deps`; an API function's served by `serve_api`), the runner,
//! tests and bench from names of their own.

use std::sync::Arc;
use std::time::Duration;

use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};

use crate::api::Function;
use crate::config::{ConfigError, env_required};
use crate::deps::Deps;
use crate::dev_auth::DevAuth;
use crate::queue::{DeliveryQueue, SchedulerTimer, SqsQueue};
use crate::runtime::ApiContext;
use crate::sealing::{KmsKey, LocalKey, Sealer};
use crate::store::DynamoStore;
use crate::telemetry;

/// Every AWS call is bounded, so that a dependency that accepts connections and never answers
/// costs a 503 within an API function's 10 s timeout rather than the whole invocation. An
/// attempt leaves DynamoDB's and SQS's slowest ordinary answers ample room, and the SDK's
/// retry of a timed-out attempt still fits in the operation's bound.
fn timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(2))
        .operation_attempt_timeout(Duration::from_secs(4))
        .operation_timeout(Duration::from_secs(8))
        .build()
}

pub async fn sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest()).timeout_config(timeouts()).load().await
}

/// The store on the table named by `TABLE_NAME`, sealing secrets as `sealer` says.
pub fn dynamo_store(config: &SdkConfig) -> Result<DynamoStore, ConfigError> {
    let sealer = Arc::new(sealer(config)?);
    Ok(DynamoStore::new(aws_sdk_dynamodb::Client::new(config), env_required("TABLE_NAME")?, sealer))
}

/// What seals stored secrets: the KMS key `SECRETS_KEY_ID` names (the template sets it), or
/// else the local key `WEBHOOKS_SECRETS_KEY` holds (base64 of 32 bytes).
pub fn sealer(config: &SdkConfig) -> Result<Sealer, ConfigError> {
    if let Ok(key) = env_required("SECRETS_KEY_ID") {
        return Ok(Sealer::new(KmsKey::new(aws_sdk_kms::Client::new(config), key)));
    }
    let text = env_required("WEBHOOKS_SECRETS_KEY").map_err(|_| ConfigError::Missing { name: "SECRETS_KEY_ID" })?;
    local_key(&text).map(Sealer::new)
}

/// The local key `text` holds, the value itself never in an error.
pub fn local_key(text: &str) -> Result<LocalKey, ConfigError> {
    LocalKey::from_base64(text).map_err(|reason| ConfigError::Invalid {
        name: "WEBHOOKS_SECRETS_KEY",
        value: "(not shown)".into(),
        reason: format!("{reason}; expected the base64 of 32 bytes"),
    })
}

/// The queues at `DELIVERY_QUEUE_URL` and `DELIVERY_FIFO_QUEUE_URL` (FIFO webhooks').
pub fn sqs_queues(config: &SdkConfig) -> Result<(SqsQueue, SqsQueue), ConfigError> {
    let client = aws_sdk_sqs::Client::new(config);
    let fifo = SqsQueue::new(client.clone(), env_required("DELIVERY_FIFO_QUEUE_URL")?);
    Ok((SqsQueue::new(client, env_required("DELIVERY_QUEUE_URL")?), fifo))
}

/// The ingest queue at `INGEST_QUEUE_URL` and its dead-letter queue at `INGEST_DLQ_URL`.
pub fn ingest_queues(config: &SdkConfig) -> Result<(SqsQueue, SqsQueue), ConfigError> {
    let client = aws_sdk_sqs::Client::new(config);
    let dead_letters = SqsQueue::new(client.clone(), env_required("INGEST_DLQ_URL")?);
    Ok((SqsQueue::new(client, env_required("INGEST_QUEUE_URL")?), dead_letters))
}

/// The timer of long retry waits: EventBridge Scheduler, as the template configures it.
pub fn scheduler_timer(config: &SdkConfig) -> Result<SchedulerTimer, ConfigError> {
    SchedulerTimer::from_env(aws_sdk_scheduler::Client::new(config))
}

/// Every function's clients from the environment, for `Deps`: the table, both delivery queues,
/// and the settings.
pub fn deps(config: &SdkConfig) -> Result<Deps, lambda_http::Error> {
    let (unordered, fifo) = sqs_queues(config)?;
    let queues: (Arc<dyn DeliveryQueue>, Arc<dyn DeliveryQueue>) = (Arc::new(unordered), Arc::new(fifo));
    Ok(Deps::new(ApiContext::from_env()?, Arc::new(dynamo_store(config)?), queues))
}

/// The `main` of an API function: JSON logs, `Deps` from the environment, and each request
/// answered by `function` (`Function::answer`) as Lambda hands them over.
pub async fn serve_api(function: Function) -> Result<(), lambda_http::Error> {
    telemetry::init();
    let deps = deps(&sdk_config().await)?;
    let (deps, dev_auth) = (&deps, &DevAuth::from_env());
    lambda_http::run(lambda_http::service_fn(|request| async move {
        let request = match dev_auth {
            Some(dev_auth) => dev_auth.authorize(request),
            None => request,
        };
        Ok::<_, lambda_http::Error>(crate::metrics::flushed(function.answer(deps, request)).await)
    }))
    .await
}
