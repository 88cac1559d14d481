//! Lambda for POST .../webhook/{webhookId}/deliveries/{deliveryId}/resend: the delivery's event sent again, as a new delivery.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::aws::serve_api(|deps, request| async move {
        shared::api::resend_delivery(&deps.ctx, &deps.store, &deps.queues(), request).await
    })
    .await
}
