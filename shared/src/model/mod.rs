//! The domain: webhook records, the parsed types their fields are made of, the event catalog.

mod catalog;
mod coverage;
mod delivery;
mod delivery_options;
mod event_data;
mod event_url;
pub(crate) mod fields;
mod filter;
mod health;
mod message;
mod receiver_auth;
mod refusal;
mod rotation;
mod secret;
mod stats;
mod types;
mod webhook;

pub use catalog::{
    CREATED_EVENT_TYPE, Catalog, DELETED_EVENT_TYPE, DISABLED_EVENT_TYPE, EXHAUSTED_EVENT_TYPE, EventType,
    FAILING_EVENT_TYPE, UPDATED_EVENT_TYPE, default_event_type, is_platform_event_type, parse_event_type,
};
pub use coverage::{Coverage, Owner};
pub use delivery::{
    Attempt, Delivery, DeliveryState, DeliveryStatus, DeliveryStep, Event, EventIn, FanOutPlan, FanOutTarget,
    event_body, payload,
};
pub use delivery_options::{DeliveryOptions, Ordering};
pub use event_data::EventData;
pub use event_url::{EventUrl, UrlPolicy, is_forbidden_ip};
pub use filter::Filter;
pub use health::{AUTO_DISABLE_USER, HealthChange};
pub use message::{CarriedEvent, DeliveryMessage, FanOutPage, QueueMessage, RecoveryPage};
pub use receiver_auth::{ReceiverAuth, ReceiverCredentials};
pub use refusal::Refusal;
pub use rotation::{NewKey, PreviousSecret, Rotation};
pub(crate) use secret::SigningKey;
pub use secret::{InvalidSecret, PublicKey, SignatureScheme, WebhookSecret};
pub use stats::{HourCounters, Stats, StatsWindow};
pub use types::{CustomHeaders, EntityId, EventList, Timestamp, WebhookId, WebhookName};
pub use webhook::{WebhookCreated, WebhookIn, WebhookOut, WebhookRecord, WebhookRules};
