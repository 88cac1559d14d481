//! Everything the webhook functions share: the domain model and its validation, the one
//! error type and its problem+json form, the caller's claims, the store and the queue with
//! their two implementations each, publishing (`publish`), delivering (`delivery`) and replaying (`replay`), and
//! the HTTP adapters (`api`) the Lambda binaries and the local runner call.

pub mod api;
pub(crate) mod auth;
pub mod aws;
pub mod config;
pub mod console;
pub mod delivery;
pub mod deps;
pub mod dev_auth;
pub mod error;
pub mod ingest;
pub mod metrics;
pub mod model;
pub mod portal;
pub(crate) mod publish;
pub mod queue;
pub mod rate_limit;
pub(crate) mod replay;
mod reservations;
pub mod retry;
pub mod runtime;
pub mod sealing;
mod service;
pub(crate) mod signing;
pub mod store;
pub mod telemetry;

#[cfg(test)]
mod testing;

pub use error::{Error, FieldError};
