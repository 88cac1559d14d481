//! How a webhook's events are delivered (docs/contract.md 14): which of them (`filter`), how fast
//! (`rateLimit`), and in which order (`ordering`).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::Filter;
use super::fields::Fields;

/// The highest `rateLimit`, in deliveries a second.
pub(crate) const MAX_RATE_LIMIT: u32 = 10_000;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Ordering {
    /// Delivered concurrently.
    #[default]
    Unordered,
    /// One at a time, in publish order: a delivery being retried holds back the ones after it.
    Fifo,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryOptions {
    #[serde(default)]
    pub filter: Option<Filter>,
    /// Deliveries a second across every deliver instance; none for no limit.
    #[serde(default)]
    pub rate_limit: Option<u32>,
    #[serde(default)]
    pub ordering: Ordering,
}

impl DeliveryOptions {
    /// The options of a webhook body, each absent or null one at its default; problems go to
    /// `fields`.
    pub(crate) fn parse(body: &Map<String, Value>, fields: &mut Fields<'_>) -> Option<Self> {
        let filter = match Filter::parse(body.get("filter").unwrap_or(&Value::Null)) {
            Ok(filter) => Some(filter),
            Err(errors) => {
                fields.errors.extend(errors);
                None
            }
        };
        let rate_limit = fields.optional(
            "rateLimit",
            || None,
            |v| {
                v.as_u64()
                    .and_then(|n| u32::try_from(n).ok())
                    .filter(|n| (1..=MAX_RATE_LIMIT).contains(n))
                    .map(Some)
                    .ok_or_else(|| {
                        format!("must be a whole number of deliveries a second from 1 to {MAX_RATE_LIMIT}, or null")
                    })
            },
        );
        let ordering = fields.optional("ordering", Ordering::default, |v| {
            serde_json::from_value(v.clone()).map_err(|_| "must be \"unordered\" or \"fifo\"".to_string())
        });
        Some(Self { filter: filter?, rate_limit: rate_limit?, ordering: ordering? })
    }
}
