//! Lambda for GET /api/managing-entity/{entityId}/webhook/{webhookId}.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::serve_api!(shared::api::get_webhook)
}
