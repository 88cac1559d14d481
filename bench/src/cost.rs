//! Turns what a workload used (`make bench` section 3) into dollars per million deliveries:
//! list prices, us-east-1, arm64, DynamoDB on demand and provisioned (docs/cost.md).

/// Dollars per unit, as published on the AWS pricing pages (see docs/cost.md).
pub const DYNAMODB_WRITE_UNIT: f64 = 0.625e-6;
pub const DYNAMODB_READ_UNIT: f64 = 0.125e-6;
pub const DYNAMODB_WCU_HOUR: f64 = 0.000_65;
pub const DYNAMODB_RCU_HOUR: f64 = 0.000_13;
/// The share of provisioned capacity a workload uses: auto scaling's target in `template.yaml`.
pub const PROVISIONED_UTILISATION: f64 = 0.7;
pub const SQS_REQUEST: f64 = 0.40e-6;
/// An EventBridge Scheduler invocation: a wait past SQS's 15 minutes (its SQS send is an SQS
/// request besides).
pub const SCHEDULER_INVOCATION: f64 = 1.00e-6;
pub const HTTP_API_REQUEST: f64 = 1.00e-6;
pub const LAMBDA_REQUEST: f64 = 0.20e-6;
pub const LAMBDA_ARM_GB_SECOND: f64 = 0.000_013_333_4;
pub const LAMBDA_MEMORY_GB: f64 = 128.0 / 1024.0;
/// CloudWatch Logs ingestion, standard log class, per byte (storage, $0.03 a GB-month, is left
/// out: the template keeps logs 30 days, `LogRetentionInDays`).
pub const CLOUDWATCH_LOGS_BYTE: f64 = 0.50e-9;
/// How long one ingest invocation takes: up to ten publishes one after the other, each a few
/// requests to DynamoDB and one to SQS, about 45 ms (what the publish route's requests take
/// through the runner here). Assumed: the ingest function is in the runner's process, and its
/// time is not on the wire.
pub const INGEST_INVOCATION_SECONDS: f64 = 0.45;
/// How long one deliver invocation waits on its receivers: ten concurrent POSTs to receivers
/// answering in about this much. Loopback receivers answer in microseconds, so this is assumed.
pub const DELIVER_INVOCATION_SECONDS: f64 = 0.2;

/// Dollars per unit of capacity actually used, when it is bought by the hour and used at
/// `PROVISIONED_UTILISATION`.
pub fn provisioned_per_unit(unit_hour: f64) -> f64 {
    unit_hour / 3600.0 / PROVISIONED_UTILISATION
}

/// What a workload used, in billable units.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Usage {
    pub write_units: f64,
    pub read_units: f64,
    pub sqs_requests: f64,
    pub api_requests: f64,
    pub publish_seconds: f64,
    pub deliver_invocations: f64,
    /// Invocations of the ingest function: receives of the ingest queue that found messages.
    pub ingest_invocations: f64,
    pub timer_sends: f64,
    /// What the functions log: the runner's JSON lines at the template's level, measured.
    pub log_bytes: f64,
}

/// Lines of a bill: a name and its dollars on demand and provisioned.
pub fn bill(usage: &Usage) -> Vec<(&'static str, f64, f64)> {
    let lambda_seconds = usage.publish_seconds
        + usage.deliver_invocations * DELIVER_INVOCATION_SECONDS
        + usage.ingest_invocations * INGEST_INVOCATION_SECONDS;
    let lambda = (usage.api_requests + usage.deliver_invocations + usage.ingest_invocations) * LAMBDA_REQUEST
        + lambda_seconds * LAMBDA_MEMORY_GB * LAMBDA_ARM_GB_SECOND;
    let same = |dollars: f64| (dollars, dollars);
    let lines = [
        (
            "DynamoDB writes",
            (usage.write_units * DYNAMODB_WRITE_UNIT, usage.write_units * provisioned_per_unit(DYNAMODB_WCU_HOUR)),
        ),
        (
            "DynamoDB reads",
            (usage.read_units * DYNAMODB_READ_UNIT, usage.read_units * provisioned_per_unit(DYNAMODB_RCU_HOUR)),
        ),
        ("SQS", same(usage.sqs_requests * SQS_REQUEST)),
        ("EventBridge Scheduler", same(usage.timer_sends * SCHEDULER_INVOCATION)),
        ("API Gateway HTTP API", same(usage.api_requests * HTTP_API_REQUEST)),
        ("Lambda 128 MB arm64", same(lambda)),
        ("CloudWatch Logs", same(usage.log_bytes * CLOUDWATCH_LOGS_BYTE)),
    ];
    lines.into_iter().map(|(name, (on_demand, provisioned))| (name, on_demand, provisioned)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bill_prices_each_unit() {
        let usage = Usage {
            write_units: 1e6,
            read_units: 2e6,
            sqs_requests: 1e6,
            timer_sends: 1e6,
            log_bytes: 1e9,
            ..Usage::default()
        };
        let lines = bill(&usage);
        let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
        assert_eq!(lines[0].0, "DynamoDB writes");
        assert!(close(lines[0].1, 0.625) && close(lines[0].2, 0.000_65 / 3600.0 / 0.7 * 1e6));
        assert!(close(lines[1].1, 0.25) && close(lines[2].1, 0.4) && close(lines[3].1, 1.0), "{lines:?}");
        assert!(close(lines[4].1, 0.0) && close(lines[6].1, 0.5), "{lines:?}");
        // A provisioned write unit used 70% of the hour costs about 41% of an on-demand one.
        assert!((lines[0].2 / lines[0].1 - 0.413).abs() < 0.001);
    }
}
