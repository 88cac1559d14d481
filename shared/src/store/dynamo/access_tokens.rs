//! OAuth 2.0 access tokens of receivers: `WEBHOOK#{webhookId}` / `TOKEN#{fingerprint}`, beside
//! the webhook's deliveries, removed by TTL once no longer good. The token is sealed; its
//! SHA-256 (`tokenDigest`) is what a drop compares, as a sealed value never compares equal.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use serde::{Deserialize, Serialize};

use super::{DynamoStore, Item, TTL_ATTRIBUTE, s, unavailable};
use crate::model::{Timestamp, WebhookId};
use crate::signing::sha256_hex;
use crate::store::{AccessTokenStore, StoreError};

fn token_key(webhook: WebhookId, fingerprint: &str) -> Item {
    HashMap::from([("PK".into(), s(format!("WEBHOOK#{webhook}"))), ("SK".into(), s(format!("TOKEN#{fingerprint}")))])
}

#[derive(Serialize, Deserialize)]
struct KeptToken {
    token: String,
    #[serde(rename = "goodUntil")]
    good_until: Timestamp,
}

#[async_trait]
impl AccessTokenStore for DynamoStore {
    async fn access_token(
        &self,
        webhook: WebhookId,
        fingerprint: &str,
        now: Timestamp,
    ) -> Result<Option<String>, StoreError> {
        // Eventually consistent: a token kept a moment ago and not yet seen costs one more fetch.
        let kept: Option<KeptToken> = self.get_item(token_key(webhook, fingerprint), false).await?;
        Ok(kept.filter(|k| k.good_until > now).map(|k| k.token))
    }

    async fn keep_access_token(
        &self,
        webhook: WebhookId,
        fingerprint: &str,
        token: &str,
        good_until: Timestamp,
    ) -> Result<(), StoreError> {
        let kept = KeptToken { token: token.to_string(), good_until };
        let mut item: Item = serde_dynamo::to_item(&kept).map_err(StoreError::internal)?;
        item.extend(token_key(webhook, fingerprint));
        item.insert("tokenDigest".into(), s(sha256_hex(token)));
        self.seal_secrets(&mut item).await?;
        item.insert(
            TTL_ATTRIBUTE.into(),
            aws_sdk_dynamodb::types::AttributeValue::N(good_until.get().timestamp().to_string()),
        );
        self.client.put_item().table_name(&self.table).set_item(Some(item)).send().await.map_err(unavailable)?;
        Ok(())
    }

    async fn drop_access_token(&self, webhook: WebhookId, fingerprint: &str, token: &str) -> Result<(), StoreError> {
        let dropped = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(token_key(webhook, fingerprint)))
            // A token kept before tokens were sealed is compared as it is.
            .condition_expression("tokenDigest = :digest OR #token = :token")
            .expression_attribute_names("#token", "token")
            .expression_attribute_values(":digest", s(sha256_hex(token)))
            .expression_attribute_values(":token", s(token))
            .send()
            .await;
        match dropped {
            Ok(_) => Ok(()),
            // Another token was kept since, or none: nothing to drop.
            Err(err) if err.as_service_error().is_some_and(DeleteItemError::is_conditional_check_failed_exception) => {
                Ok(())
            }
            Err(err) => Err(unavailable(err)),
        }
    }
}
