//! The clock and the id and secret source, behind traits so tests can fix them.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::config::{ConfigError, Settings};
use crate::error::Error;
use crate::model::{SignatureScheme, WebhookSecret};
use crate::reservations::Reservations;

pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

pub trait IdGenerator: Send + Sync {
    /// A time-ordered id (UUIDv7), so that key order is creation order.
    fn new_id(&self) -> Uuid;
    fn new_secret(&self, scheme: SignatureScheme) -> Result<WebhookSecret, Error>;
}

pub(crate) struct RandomIds;

impl IdGenerator for RandomIds {
    fn new_id(&self) -> Uuid {
        Uuid::now_v7()
    }

    fn new_secret(&self, scheme: SignatureScheme) -> Result<WebhookSecret, Error> {
        let mut random = [0u8; 32];
        getrandom::fill(&mut random).map_err(Error::internal)?;
        Ok(WebhookSecret::generate(scheme, &random))
    }
}

/// The clock, the id source and the settings, handed to every API handler (`crate::deps::Deps`
/// holds it beside the clients), and the rate-limit places the process holds.
#[derive(Clone)]
pub struct ApiContext {
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn IdGenerator>,
    pub settings: Settings,
    pub(crate) reservations: Arc<Reservations>,
}

impl ApiContext {
    pub fn new(settings: Settings) -> Self {
        Self { clock: Arc::new(SystemClock), ids: Arc::new(RandomIds), settings, reservations: Arc::default() }
    }

    /// The system clock and random ids, with settings from the environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Settings::from_env().map(Self::new)
    }
}
