//! AWS clients from the standard SDK environment (region, credentials, `AWS_ENDPOINT_URL*`).

use aws_config::{BehaviorVersion, SdkConfig};

use crate::config::{ConfigError, env_required};
use crate::queue::SqsQueue;
use crate::store::DynamoStore;

pub async fn sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest()).load().await
}

/// The store on the table named by `TABLE_NAME`.
pub fn dynamo_store(config: &SdkConfig) -> Result<DynamoStore, ConfigError> {
    Ok(DynamoStore::new(aws_sdk_dynamodb::Client::new(config), env_required("TABLE_NAME")?))
}

/// The queue at `DELIVERY_QUEUE_URL`.
pub fn sqs_queue(config: &SdkConfig) -> Result<SqsQueue, ConfigError> {
    Ok(SqsQueue::new(aws_sdk_sqs::Client::new(config), env_required("DELIVERY_QUEUE_URL")?))
}

pub async fn dynamo_store_from_env() -> Result<DynamoStore, ConfigError> {
    dynamo_store(&sdk_config().await)
}
