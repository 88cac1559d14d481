//! One integration-test binary: the store contract on both stores, and the API over HTTP
//! through the local runner on both backends. DynamoDB Local is started by `make test`.

mod api;
mod delivery;
mod faults;
mod helpers;
mod process;
mod receiver;
mod security;
mod store_contract;
