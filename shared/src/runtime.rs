//! The clock and the id and secret source, behind traits so tests can fix them.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::model::WebhookSecret;

pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock tests set and move.
#[cfg(test)]
pub(crate) struct ManualClock(pub(crate) std::sync::Mutex<DateTime<Utc>>);

#[cfg(test)]
impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().expect("lock")
    }
}

#[cfg(test)]
impl ManualClock {
    pub(crate) fn at(at: DateTime<Utc>) -> Self {
        Self(std::sync::Mutex::new(at))
    }

    pub(crate) fn advance(&self, seconds: i64) {
        *self.0.lock().expect("lock") += chrono::Duration::seconds(seconds);
    }

    pub(crate) fn advance_by(&self, by: std::time::Duration) {
        *self.0.lock().expect("lock") += chrono::Duration::from_std(by).expect("a duration");
    }
}

pub trait IdGenerator: Send + Sync {
    /// A time-ordered id (UUIDv7), so that key order is creation order.
    fn new_id(&self) -> Uuid;
    fn new_secret(&self) -> Result<WebhookSecret, getrandom::Error>;
}

pub struct RandomIds;

impl IdGenerator for RandomIds {
    fn new_id(&self) -> Uuid {
        Uuid::now_v7()
    }

    fn new_secret(&self) -> Result<WebhookSecret, getrandom::Error> {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key)?;
        Ok(WebhookSecret::from_key(&key))
    }
}

/// The clock, the id source and the settings, handed to every API handler.
#[derive(Clone)]
pub struct Context {
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn IdGenerator>,
    pub settings: crate::config::ApiSettings,
}

impl Context {
    pub fn new(settings: crate::config::ApiSettings) -> Self {
        Self { clock: Arc::new(SystemClock), ids: Arc::new(RandomIds), settings }
    }

    /// The system clock and random ids, with settings from the environment.
    pub fn from_env() -> Result<Self, crate::config::ConfigError> {
        crate::config::ApiSettings::from_env().map(Self::new)
    }
}
