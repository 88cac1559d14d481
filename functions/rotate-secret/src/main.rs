//! Lambda for POST .../webhook/{webhookId}/secret/rotate: a new signing secret, the previous
//! one still signing for the overlap.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::aws::serve_api(shared::api::Function::RotateSecret).await
}
