//! Lambda for POST /api/managing-entity/{entityId}/webhook/{webhookId}/test: one signed attempt.

use shared::{api, aws, delivery::DeliverySettings};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let sender = DeliverySettings::from_env()?.sender()?;
    aws::serve_api(|deps, request| api::test_webhook(&deps.ctx, &deps.store, &sender, request)).await
}
