//! AWS clients from the standard SDK environment (region, credentials, `AWS_ENDPOINT_URL*`).

use aws_config::{BehaviorVersion, SdkConfig};

use crate::config::{ConfigError, env_required};
use crate::store::DynamoStore;

pub async fn sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest()).load().await
}

/// The webhook store on the table named by `TABLE_NAME`.
pub async fn dynamo_store_from_env() -> Result<DynamoStore, ConfigError> {
    let table = env_required("TABLE_NAME")?;
    Ok(DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk_config().await), table))
}
