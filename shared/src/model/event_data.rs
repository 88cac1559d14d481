//! An event's `data` as the JSON text it is sent as. Publishing parses it once (its schema and
//! the webhooks' filters read it there) and writes it once; each of its deliveries then carries,
//! stores and sends that text, instead of building the tree again from every message and
//! writing it out again for every receiver.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EventData(Box<RawValue>);

impl EventData {
    /// `value` written compactly, as `serde_json` writes a `Value`: its object keys in order,
    /// so equal values are equal texts; and with the two characters SQS refuses escaped
    /// (`queue::sqs_json`), so that the text stored, carried and sent is one and the same.
    pub fn of(value: &Value) -> Result<Self, serde_json::Error> {
        let raw = serde_json::value::to_raw_value(value)?;
        if raw.get().contains(['\u{fffe}', '\u{ffff}']) {
            return Self::from_json(crate::queue::sqs_json(raw.get().to_string()));
        }
        Ok(Self(raw))
    }

    /// Text this project wrote with `of` (a stored event's), checked to be JSON.
    pub(crate) fn from_json(json: String) -> Result<Self, serde_json::Error> {
        RawValue::from_string(json).map(Self)
    }

    pub(crate) fn json(&self) -> &str {
        self.0.get()
    }

    /// The data as a tree (for tests and comparisons: the services use the text).
    pub fn value(&self) -> Result<Value, serde_json::Error> {
        serde_json::from_str(self.json())
    }
}

/// The same data: the same JSON value. Texts written by `of` are equal when their values are;
/// a text read back from a queue may spell a character as an escape (`queue::sqs_json`), so
/// texts that differ are compared as values.
impl PartialEq for EventData {
    fn eq(&self, other: &Self) -> bool {
        self.json() == other.json() || matches!((self.value(), other.value()), (Ok(one), Ok(two)) if one == two)
    }
}

impl Eq for EventData {}

/// `null`, the data of plans stored before they kept it.
impl Default for EventData {
    fn default() -> Self {
        Self(RawValue::NULL.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn equal_values_are_equal_texts_whatever_their_keys_order() {
        let one = EventData::of(&json!({"b": 1, "a": [1.5, "x"]})).expect("JSON");
        let other: Value = serde_json::from_str(r#"{ "a": [1.5, "x"], "b": 1 }"#).expect("JSON");
        assert_eq!(one, EventData::of(&other).expect("JSON"));
        assert_eq!(one.json(), r#"{"a":[1.5,"x"],"b":1}"#);
        assert_ne!(one, EventData::of(&json!({"a": [1.5, "x"], "b": 2})).expect("JSON"));
        let escaped = EventData::from_json(r#"{"a":[1.5,"\u0078"],"b":1}"#.into()).expect("JSON");
        assert_eq!(escaped, one, "the same value, spelt with an escape");
    }

    #[test]
    fn it_is_written_and_read_as_the_json_it_holds() {
        let data = EventData::of(&json!({"total": {"amount": "742.50"}})).expect("JSON");
        assert_eq!(serde_json::to_string(&data).expect("JSON"), r#"{"total":{"amount":"742.50"}}"#);
        let read: EventData = serde_json::from_str(r#"{"total":{"amount":"742.50"}}"#).expect("JSON");
        assert_eq!((read.value().expect("JSON"), read), (json!({"total": {"amount": "742.50"}}), data));
        assert!(EventData::from_json("{not json".into()).is_err());
        let refused = EventData::of(&json!({"text": "a\u{fffe}b\u{ffff}c"})).expect("JSON");
        assert_eq!(refused.json(), r#"{"text":"a\ufffeb\uffffc"}"#, "as SQS takes it, whichever way it goes");
        assert_eq!(refused.value().expect("JSON"), json!({"text": "a\u{fffe}b\u{ffff}c"}));
        assert_eq!(EventData::default().json(), "null");
    }
}
