//! Logging setup: JSON lines in Lambda (CloudWatch), readable lines on a terminal.

use tracing_subscriber::EnvFilter;

pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // stderr: the local runner keeps stdout for what it tells its user.
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_target(false).with_writer(std::io::stderr);
    // Lambda sets AWS_LAMBDA_FUNCTION_NAME; CloudWatch wants one JSON object per line.
    let result = if std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some() {
        builder.json().with_current_span(true).without_time().try_init()
    } else {
        builder.try_init()
    };
    // A second init (tests, the runner embedding handlers) keeps the first subscriber.
    drop(result);
}
