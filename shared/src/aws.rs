//! AWS clients from the standard SDK environment (region, credentials, `AWS_ENDPOINT_URL*`):
//! the one way clients are made. Stores and queues take their client in their constructor
//! (`DynamoStore::new`, `SqsQueue::new`); a function's `main` builds them here from its
//! configured names (an API function's all at once, `Deps`, served by `serve_api`), the runner,
//! tests and bench from names of their own.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};

use crate::config::{ConfigError, env_required};
use lambda_http::{Body, Request, Response};

use crate::error::Error;
use crate::queue::{Routed, SchedulerTimer, SqsQueue};
use crate::runtime::Context;
use crate::sealing::{KmsKey, LocalKey, Sealer};
use crate::store::DynamoStore;
use crate::{api, telemetry};

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

/// The timer of long retry waits: EventBridge Scheduler, as the template configures it.
pub fn scheduler_timer(config: &SdkConfig) -> Result<SchedulerTimer, ConfigError> {
    SchedulerTimer::from_env(aws_sdk_scheduler::Client::new(config))
}

/// What every API function's handler is given: built once from the environment in `main`,
/// then borrowed by each request, as the Lambda runtime's examples build their clients.
pub struct Deps {
    pub ctx: Context,
    pub store: DynamoStore,
    unordered: SqsQueue,
    fifo: SqsQueue,
}

impl Deps {
    pub async fn from_env() -> Result<Self, lambda_http::Error> {
        let ctx = Context::from_env()?;
        let config = sdk_config().await;
        let (unordered, fifo) = sqs_queues(&config)?;
        Ok(Self { ctx, store: dynamo_store(&config)?, unordered, fifo })
    }

    /// Both delivery queues, each message to its own.
    pub fn queues(&self) -> Routed<'_> {
        Routed { unordered: &self.unordered, fifo: &self.fifo }
    }
}

/// The `main` of an API function: JSON logs, `Deps` from the environment, and every request
/// under the caller's rate limit (`api::limited`), answered by `handler` as Lambda hands them
/// over.
pub async fn serve_api<F, Fut>(handler: F) -> Result<(), lambda_http::Error>
where
    F: Fn(&'static Deps, Request) -> Fut + Sync,
    Fut: Future<Output = Result<Response<Body>, Error>> + Send,
{
    telemetry::init();
    // Made once and used until the process ends, as the runtime keeps it.
    let deps: &'static Deps = Box::leak(Box::new(Deps::from_env().await?));
    lambda_http::run(lambda_http::service_fn(|request| async {
        let response = api::limited(&deps.ctx, &deps.store, request, |request| handler(deps, request));
        Ok::<_, lambda_http::Error>(response.await)
    }))
    .await
}
