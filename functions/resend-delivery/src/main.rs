//! Lambda for POST .../webhook/{webhookId}/deliveries/{deliveryId}/resend: the delivery's event sent again, as a new delivery.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::aws::serve_api(shared::api::Function::ResendDelivery).await
}
