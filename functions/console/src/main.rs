//! Lambda for GET / and GET /console/{proxy+}: the web console's files, built in.

use lambda_http::{Error, run, service_fn};
use shared::{console, telemetry};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    run(service_fn(|request| async { Ok::<_, Error>(console::serve_console(request).await) })).await
}
