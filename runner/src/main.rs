//! `make run`: the webhook API on http://127.0.0.1:3000 with a ready-to-use dev token.

use std::sync::Arc;

use shared::config::{ConfigError, env_duration, env_or, env_required};
use shared::dev_auth;
use shared::runtime::ApiContext;
use shared::store::DynamoStore;
use webhooks_local::{App, Backend, DevAuth};

/// One process serves every function here, many requests at once on every core; glibc's
/// allocator was a fifth of a profile of the deliver path (docs/performance.md 9). The Lambdas
/// keep the system's: one request at a time each, and their size counts.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const DEV_SECRET: &str = "webhooks-local-dev-secret-not-for-production";
/// Every scope (docs/contract.md 5.4): the dev token may publish and change the event catalog.
const DEV_SCOPES: &str = "events:publish event-types:write portal:create";
/// The entity the printed examples and console link use; the dev token may manage any.
const DEMO_ENTITY: &str = "d5b8a3c2-9e6f-4a1b-8d34-7c2e1f0a5b69";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    shared::telemetry::init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    // An operator's commands on a table (README): global webhooks from before accounts, secrets
    // from before sealing, and webhooks from before the notices index. The key is named, never a
    // new one made: a deployed table's secrets sealed with a key its functions cannot use would
    // not open.
    const COMMANDS: [&str; 3] = ["adopt-global-webhooks", "seal-secrets", "index-notices"];
    if let Some(command) = args.first().filter(|c| COMMANDS.contains(&c.as_str())) {
        let config = shared::aws::sdk_config().await;
        let sealer = Arc::new(shared::aws::sealer(&config)?);
        let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&config), env_required("TABLE_NAME")?, sealer);
        if command == "adopt-global-webhooks" {
            return webhooks_local::adopt::run(&store, &args[1..]).await;
        }
        if command == "index-notices" {
            println!("indexed {} webhooks for the platform's notices", store.index_notice_subscribers().await?);
            return Ok(());
        }
        println!("sealed the secrets of {} items", store.seal_stored_secrets().await?);
        return Ok(());
    }
    let backend = match env_or("WEBHOOKS_BACKEND", "memory").as_str() {
        "memory" => Backend::Memory,
        "aws" => Backend::Aws {
            table: env_or("TABLE_NAME", "webhooks"),
            queue_url: std::env::var("DELIVERY_QUEUE_URL").ok().filter(|url| !url.is_empty()),
            fifo_queue_url: std::env::var("DELIVERY_FIFO_QUEUE_URL").ok().filter(|url| !url.is_empty()),
            // Runners sharing one SQS endpoint (the bench's runs one after another) each their own.
            queue_name: env_or("WEBHOOKS_QUEUE_NAME", "webhooks-deliveries"),
            sealer: Arc::new(webhooks_local::secrets_key::sealer(&shared::aws::sdk_config().await)?),
        },
        other => Err(ConfigError::Invalid {
            name: "WEBHOOKS_BACKEND",
            value: other.into(),
            reason: "expected memory or aws".into(),
        })?,
    };
    let port: u16 = env_or("PORT", "3000").parse()?;
    let auth = DevAuth::new(
        env_or("WEBHOOKS_DEV_JWT_SECRET", DEV_SECRET),
        env_or("WEBHOOKS_DEV_JWT_ISSUER", dev_auth::ISSUER),
        env_or("WEBHOOKS_DEV_JWT_AUDIENCE", dev_auth::AUDIENCE),
    );
    let token = auth.issue("local-developer", "*", DEV_SCOPES, chrono::Duration::days(30))?;
    let batch_window = env_duration("WEBHOOKS_DELIVERY_BATCH_WINDOW", "0s")?;
    let app =
        App::new(ApiContext::from_env()?, &backend, auth).await?.with_batch_window(batch_window).with_allowed_hosts(
            env_or("WEBHOOKS_ALLOWED_HOSTS", "")
                .split(',')
                .map(|h| h.trim().to_string())
                .filter(|h| !h.is_empty())
                .collect(),
        );
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let url = format!("http://{}", listener.local_addr()?);
    println!(
        "\nWebhooks API ({backend:?} backend) on {url}\n\n\
         Console (signs you in):\n  {url}/#token={token}&entity={DEMO_ENTITY}\n\n\
         Dev token (sub local-developer, entities *, scopes {DEV_SCOPES}, valid 30 days):\n  export TOKEN={token}\n\n\
         Try:\n  curl -s -H \"Authorization: Bearer $TOKEN\" {url}/api/event-types\n  \
         curl -si -X POST -H \"Authorization: Bearer $TOKEN\" -H 'content-type: application/json' \\\n    \
         {url}/api/managing-entity/{DEMO_ENTITY}/webhook \\\n    \
         -d '{{\"name\":\"Booking sync\",\"eventUrl\":\"https://api.example.com/hooks\",\"eventList\":[\"booking.*\"]}}'\n"
    );
    webhooks_local::serve(listener, Arc::new(app)).await?;
    Ok(())
}
