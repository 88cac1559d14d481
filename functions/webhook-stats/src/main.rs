//! Lambda for GET .../webhook/{webhookId}/stats: counts, success rate, latency and an hourly
//! series of the webhook's deliveries.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::aws::serve_api(shared::api::Function::WebhookStats).await
}
