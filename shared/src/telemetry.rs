//! Logging setup: JSON lines in Lambda (CloudWatch), readable lines on a terminal; in Lambda,
//! metrics as EMF lines too (`metrics`).

use tracing_subscriber::EnvFilter;

pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // stderr: the local runner keeps stdout for what it tells its user.
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_target(false).with_writer(std::io::stderr);
    // Lambda sets AWS_LAMBDA_FUNCTION_NAME; CloudWatch wants one JSON object per line.
    let in_lambda = std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some();
    let result =
        if in_lambda { builder.json().with_current_span(true).without_time().try_init() } else { builder.try_init() };
    // A second init (tests, the runner embedding handlers) keeps the first subscriber.
    drop(result);
    if in_lambda {
        let namespace = std::env::var("WEBHOOKS_METRICS_NAMESPACE").unwrap_or_else(|_| "webhooks".into());
        crate::metrics::install_emf(namespace);
    }
}
