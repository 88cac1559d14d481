//! Small parsed types: each constructor is the only way in, so a value that exists is valid.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

use super::catalog::{Catalog, PLATFORM_EVENT_TYPES, is_platform_event_type};

macro_rules! uuid_id {
    ($name:ident, $what:literal) => {
        #[doc = concat!("The id of a ", $what, ".")]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            pub fn parse(text: &str) -> Result<Self, String> {
                Uuid::parse_str(text).map(Self).map_err(|_| format!("{} id {text:?} is not a UUID", $what))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }
    };
}

uuid_id!(EntityId, "managing entity");
uuid_id!(WebhookId, "webhook");

/// A webhook's display name: 1 to 100 characters, not blank.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct WebhookName(String);

impl WebhookName {
    pub const MAX_CHARS: usize = 100;

    pub fn parse(text: &str) -> Result<Self, String> {
        if text.trim().is_empty() {
            return Err("must not be blank".into());
        }
        if text.chars().count() > Self::MAX_CHARS {
            return Err(format!("must be at most {} characters", Self::MAX_CHARS));
        }
        Ok(Self(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One entry of `eventList`: every event, a family (`booking.*`) or one known type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum EventPattern {
    All,
    Prefix(String),
    Exact(String),
}

impl EventPattern {
    /// An entry of a new `eventList`: `*`, or a type of `catalog` or a family of some, not
    /// archived.
    pub fn parse(text: &str, catalog: &Catalog) -> Result<Self, String> {
        if text == "*" {
            return Ok(Self::All);
        }
        let in_use = |matches: &dyn Fn(&str) -> bool| catalog.types().any(|t| !t.archived && matches(&t.name));
        if let Some(prefix) = text.strip_suffix(".*") {
            let family = format!("{prefix}.");
            if !prefix.is_empty() && in_use(&|name| name.starts_with(&family)) {
                return Ok(Self::Prefix(family));
            }
            return Err(format!("{text:?} matches no event type in use"));
        }
        if in_use(&|name| name == text) {
            return Ok(Self::Exact(text.to_string()));
        }
        match catalog.get(text) {
            Some(_) => Err(format!("{text:?} is archived")),
            None => Err(format!("{text:?} is not a known event type")),
        }
    }

    /// A stored entry as written, whatever the catalog says now: an entry it no longer knows
    /// matches nothing published, and so never widens the list (an empty list means every
    /// event).
    fn stored(text: &str) -> Self {
        match (text, text.strip_suffix(".*")) {
            ("*", _) => Self::All,
            (_, Some(prefix)) => Self::Prefix(format!("{prefix}.")),
            (_, None) => Self::Exact(text.to_string()),
        }
    }

    pub fn matches(&self, event_type: &str) -> bool {
        match self {
            Self::All => true,
            Self::Prefix(family) => event_type.starts_with(family.as_str()),
            Self::Exact(name) => name == event_type,
        }
    }
}

impl fmt::Display for EventPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::All => f.write_str("*"),
            Self::Prefix(family) => write!(f, "{family}*"),
            Self::Exact(name) => f.write_str(name),
        }
    }
}

/// `eventList`: at most 50 patterns, duplicates dropped, empty meaning every event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventList(Vec<EventPattern>);

impl EventList {
    pub const MAX_ENTRIES: usize = 50;

    /// The entries of a write, checked against `catalog`; those of `kept`, the list as stored
    /// before the write, stay as written whatever the catalog says now.
    pub fn parse<'a>(
        entries: impl IntoIterator<Item = &'a str>,
        catalog: &Catalog,
        kept: Option<&EventList>,
    ) -> Result<Self, String> {
        let mut patterns: Vec<EventPattern> = Vec::new();
        let mut problems = Vec::new();
        for entry in entries {
            let stored = EventPattern::stored(entry);
            let pattern = if kept.is_some_and(|kept| kept.0.contains(&stored)) {
                Ok(stored)
            } else {
                EventPattern::parse(entry, catalog)
            };
            match pattern {
                Ok(pattern) if !patterns.contains(&pattern) => patterns.push(pattern),
                Ok(_) => {}
                Err(problem) => problems.push(problem),
            }
        }
        if !problems.is_empty() {
            return Err(problems.join(", "));
        }
        if patterns.len() > Self::MAX_ENTRIES {
            return Err(format!("must have at most {} entries", Self::MAX_ENTRIES));
        }
        Ok(Self(patterns))
    }

    pub fn matches(&self, event_type: &str) -> bool {
        if is_platform_event_type(event_type) {
            // A notice about the webhooks themselves is not what "every event" subscribed to.
            return self.0.iter().any(|p| *p != EventPattern::All && p.matches(event_type));
        }
        self.0.is_empty() || self.0.iter().any(|p| p.matches(event_type))
    }

    /// Whether some platform type (a notice) matches this list: by its name or its family, never
    /// through `*` or an empty list.
    pub fn lists_platform_types(&self) -> bool {
        PLATFORM_EVENT_TYPES.iter().any(|name| self.matches(name))
    }

    pub fn to_strings(&self) -> Vec<String> {
        self.0.iter().map(ToString::to_string).collect()
    }
}

impl Serialize for EventList {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_strings().serialize(serializer)
    }
}

/// Stored lists were checked against the catalog when written and are read back exactly as
/// written (`EventPattern::stored`).
impl<'de> Deserialize<'de> for EventList {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let entries = Vec::<String>::deserialize(deserializer)?;
        Ok(Self(entries.iter().map(|e| EventPattern::stored(e)).collect()))
    }
}

/// Custom headers sent with every delivery: at most 20, valid names and values, none that the
/// platform sets itself.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CustomHeaders(BTreeMap<String, String>);

impl CustomHeaders {
    pub const MAX_ENTRIES: usize = 20;
    const MAX_VALUE_LEN: usize = 4096;
    const RESERVED: [&'static str; 9] = [
        "host",
        "content-length",
        "content-type",
        "connection",
        "transfer-encoding",
        "te",
        "upgrade",
        "keep-alive",
        "proxy-connection",
    ];

    pub fn parse(entries: BTreeMap<String, String>) -> Result<Self, String> {
        if entries.len() > Self::MAX_ENTRIES {
            return Err(format!("must have at most {} entries", Self::MAX_ENTRIES));
        }
        let mut seen = std::collections::HashSet::new();
        for (name, value) in &entries {
            let header = http::HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| format!("{name:?} is not a valid header name"))?;
            let lower = header.as_str();
            if Self::RESERVED.contains(&lower) || lower.starts_with("webhook-") {
                return Err(format!("{name:?} is set by the platform and cannot be overridden"));
            }
            if !seen.insert(lower.to_string()) {
                return Err(format!("{name:?} is given more than once"));
            }
            // Printable ASCII only: `HeaderValue` would also take obs-text bytes (0x80-0xFF).
            let printable = value.bytes().all(|b| (0x20..=0x7e).contains(&b));
            if value.len() > Self::MAX_VALUE_LEN || !printable {
                return Err(format!(
                    "the value of {name:?} must be printable ASCII without line breaks, at most {} bytes",
                    Self::MAX_VALUE_LEN
                ));
            }
        }
        Ok(Self(entries))
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

/// A UTC instant written as `2026-11-22T10:00:00.000Z`: milliseconds, so that what is stored
/// and read back compares equal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp(DateTime<Utc>);

impl Timestamp {
    pub fn new(at: DateTime<Utc>) -> Self {
        let millis = at.timestamp_millis();
        Self(DateTime::from_timestamp_millis(millis).unwrap_or(at))
    }

    pub fn get(&self) -> DateTime<Utc> {
        self.0
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.to_rfc3339_opts(SecondsFormat::Millis, true))
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        DateTime::parse_from_rfc3339(&text)
            .map(|at| Self::new(at.with_timezone(&Utc)))
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
#[path = "types_tests.rs"]
mod tests;
