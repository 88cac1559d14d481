//! Lambda for POST /api/managing-entity/{entityId}/portal-session: a portal session's token for
//! one entity's webhooks (docs/contract.md 16).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::aws::serve_api(shared::api::Function::CreatePortalSession).await
}
