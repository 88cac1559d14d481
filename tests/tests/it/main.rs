//! One integration-test binary: the store and queue contracts on both backends, faults and
//! processes, and the black-box suite over HTTP (`helpers::targets`): the local runner on both
//! backends, and the deployed stack when `scripts/stack-test.sh` runs its `stack` cases.
//! DynamoDB Local and the SQS emulator are started by `make test`.

mod api;
mod at_scale;
mod batch;
mod catalog;
mod contract;
mod delivery;
mod faults;
mod fifo;
mod filters;
mod globals;
mod health;
mod helpers;
mod ingest;
mod latency;
mod metrics;
mod notices;
mod portal;
mod process;
mod queue_contract;
mod rate_limits;
mod receiver;
mod receiver_auth;
mod replay;
mod rotation;
mod security;
mod store_contract;
mod store_engine;
mod throttle;
mod tokens;
