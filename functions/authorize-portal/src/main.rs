//! Lambda authorizer of the portal routes (docs/contract.md 16): lets in a request whose bearer
//! token is a portal session this deployment signed, and hands the session's grant to the
//! function, which checks its expiry and what it allows.

use aws_lambda_events::event::apigw::ApiGatewayV2CustomAuthorizerV2Request;
use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use shared::portal::{PortalKeys, authorize, simple_response};
use shared::{aws, telemetry};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let (store, keys) = (&aws::dynamo_store(&aws::sdk_config().await)?, &PortalKeys::default());
    run(service_fn(move |event: LambdaEvent<ApiGatewayV2CustomAuthorizerV2Request>| async move {
        Ok::<_, Error>(simple_response(authorize(keys, store, &event.payload.headers).await?))
    }))
    .await
}
