//! Content filters (docs/contract.md 14): a webhook receives only the events whose body
//! (`{"id", "type", "occurredAt", "ownerIdentifier", "data"}`) its filter matches. A filter is
//! a condition on a value: a plain value must be equal; in an object, each field descends into
//! the value's field of that name and each operator (`$eq $neq $gt $gte $lt $lte $in $nin
//! $exists $startsWith $and $or $not`) compares the value itself, every one of them holding.

use std::cmp::Ordering;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use crate::error::FieldError;

/// The largest filter, as JSON.
pub(crate) const MAX_FILTER_BYTES: usize = 4096;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(transparent)]
pub struct Filter(Map<String, Value>);

/// Stored filters were checked when written.
impl<'de> Deserialize<'de> for Filter {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Map::deserialize(deserializer).map(Self)
    }
}

impl Filter {
    /// A filter from a request body's `filter`: null for none; each problem named by its
    /// JSON pointer into the body (`/filter/data/total/$gtt`).
    pub fn parse(value: &Value) -> Result<Option<Self>, Vec<FieldError>> {
        let object = match value {
            Value::Null => return Ok(None),
            Value::Object(object) => object,
            _ => return Err(vec![FieldError::new("filter", "must be a JSON object or null")]),
        };
        if value.to_string().len() > MAX_FILTER_BYTES {
            return Err(vec![FieldError::new("filter", format!("must be at most {MAX_FILTER_BYTES} bytes as JSON"))]);
        }
        let mut errors = Vec::new();
        check_object(object, "/filter", &mut errors);
        if errors.is_empty() { Ok(Some(Self(object.clone()))) } else { Err(errors) }
    }

    /// Whether the event `body` passes.
    pub fn matches(&self, body: &Value) -> bool {
        holds_object(&self.0, Some(body))
    }
}

fn is_operator(key: &str) -> bool {
    key.starts_with('$')
}

/// `~` and `/` escaped, as a JSON pointer's segment.
fn segment(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

fn check(condition: &Value, path: &str, errors: &mut Vec<FieldError>) {
    if let Value::Object(object) = condition {
        check_object(object, path, errors);
    }
}

fn check_object(object: &Map<String, Value>, path: &str, errors: &mut Vec<FieldError>) {
    for (key, operand) in object {
        let path = format!("{path}/{}", segment(key));
        if !is_operator(key) {
            check(operand, &path, errors);
            continue;
        }
        let problem = match (key.as_str(), operand) {
            ("$eq" | "$neq", _) => None,
            ("$gt" | "$gte" | "$lt" | "$lte", Value::Number(_) | Value::String(_)) => None,
            ("$gt" | "$gte" | "$lt" | "$lte", _) => Some("compares with a number or a string"),
            ("$in" | "$nin", Value::Array(_)) => None,
            ("$in" | "$nin", _) => Some("takes an array of values"),
            ("$exists", Value::Bool(_)) => None,
            ("$exists", _) => Some("takes true or false"),
            ("$startsWith", Value::String(_)) => None,
            ("$startsWith", _) => Some("takes a string"),
            ("$and" | "$or", Value::Array(items)) if !items.is_empty() => {
                items.iter().enumerate().for_each(|(i, item)| check(item, &format!("{path}/{i}"), errors));
                None
            }
            ("$and" | "$or", _) => Some("takes a non-empty array of conditions"),
            ("$not", _) => {
                check(operand, &path, errors);
                None
            }
            _ => Some("is not an operator: use $eq $neq $gt $gte $lt $lte $in $nin $exists $startsWith $and $or $not"),
        };
        if let Some(message) = problem {
            errors.push(FieldError::new(path, message));
        }
    }
}

/// Whether `condition` holds for `value` (none: the field is missing).
fn holds(condition: &Value, value: Option<&Value>) -> bool {
    match condition {
        Value::Object(object) => holds_object(object, value),
        plain => value == Some(plain),
    }
}

fn holds_object(object: &Map<String, Value>, value: Option<&Value>) -> bool {
    object.iter().all(|(key, operand)| {
        if !is_operator(key) {
            return holds(operand, value.and_then(|v| v.get(key)));
        }
        match key.as_str() {
            "$eq" => value == Some(operand),
            "$neq" => value != Some(operand),
            "$gt" => compare(value, operand).is_some_and(Ordering::is_gt),
            "$gte" => compare(value, operand).is_some_and(Ordering::is_ge),
            "$lt" => compare(value, operand).is_some_and(Ordering::is_lt),
            "$lte" => compare(value, operand).is_some_and(Ordering::is_le),
            "$in" => value.is_some_and(|v| operand.as_array().is_some_and(|items| items.contains(v))),
            "$nin" => !value.is_some_and(|v| operand.as_array().is_some_and(|items| items.contains(v))),
            "$exists" => value.is_some() == operand.as_bool().unwrap_or(true),
            "$startsWith" => {
                matches!((value, operand), (Some(Value::String(v)), Value::String(p)) if v.starts_with(p.as_str()))
            }
            "$and" => operand.as_array().is_some_and(|items| items.iter().all(|c| holds(c, value))),
            "$or" => operand.as_array().is_some_and(|items| items.iter().any(|c| holds(c, value))),
            "$not" => !holds(operand, value),
            _ => false,
        }
    })
}

/// Numbers by value, strings (such as RFC 3339 times) in order; nothing else compares.
fn compare(value: Option<&Value>, operand: &Value) -> Option<Ordering> {
    match (value?, operand) {
        (Value::Number(a), Value::Number(b)) => a.as_f64()?.partial_cmp(&b.as_f64()?),
        (Value::String(a), Value::String(b)) => Some(a.cmp(b)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn filter(value: Value) -> Filter {
        Filter::parse(&value).expect("valid").expect("a filter")
    }

    fn booking(currency: &str, adults: i64) -> Value {
        json!({"id": "e", "type": "booking.created", "data": {"total": {"amount": "10.00", "currency": currency},
            "guests": {"adults": adults}, "propertyName": "The Siam Residences"}})
    }

    #[test]
    fn plain_values_must_be_equal_and_objects_descend() {
        let usd_couples = filter(json!({"data": {"total": {"currency": "USD"}, "guests": {"adults": {"$gte": 2}}}}));
        assert!(usd_couples.matches(&booking("USD", 2)));
        assert!(!usd_couples.matches(&booking("EUR", 2)));
        assert!(!usd_couples.matches(&booking("USD", 1)));
        assert!(!usd_couples.matches(&json!({"type": "booking.created"})), "a missing field is not equal");
    }

    #[test]
    fn every_operator_compares_as_documented() {
        let event = booking("USD", 3);
        let holds = |f: Value| filter(f).matches(&event);
        assert!(holds(json!({"type": {"$eq": "booking.created"}})));
        assert!(holds(json!({"type": {"$neq": "booking.cancelled"}})));
        assert!(holds(json!({"data": {"guests": {"adults": {"$gt": 2, "$lt": 4}}}})));
        assert!(!holds(json!({"data": {"guests": {"adults": {"$lte": 2}}}})));
        assert!(holds(json!({"data": {"total": {"currency": {"$in": ["USD", "EUR"]}}}})));
        assert!(holds(json!({"data": {"total": {"currency": {"$nin": ["THB"]}}}})));
        assert!(holds(json!({"data": {"refund": {"$exists": false}}, "id": {"$exists": true}})));
        assert!(holds(json!({"data": {"propertyName": {"$startsWith": "The Siam"}}})));
        assert!(holds(json!({"$or": [{"type": "payment.failed"}, {"data": {"guests": {"adults": 3}}}]})));
        assert!(!holds(json!({"$and": [{"type": "booking.created"}, {"data": {"total": {"currency": "EUR"}}}]})));
        assert!(holds(json!({"$not": {"type": {"$startsWith": "payment."}}})));
        assert!(
            !holds(json!({"data": {"guests": {"adults": {"$gt": "2"}}}})),
            "a number is not compared with a string"
        );
    }

    #[test]
    fn a_bad_filter_is_refused_at_write_naming_the_path_of_each_problem() {
        let bad = json!({"data": {"guests": {"adults": {"$gtee": 2}}, "total": {"$in": "USD"}},
            "$or": [], "type": {"$eq": "x", "name": {"$not": {"$exists": 1}}}});
        let errors = Filter::parse(&bad).expect_err("invalid");
        let paths: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        // In key order.
        let expected = [
            "/filter/$or",
            "/filter/data/guests/adults/$gtee",
            "/filter/data/total/$in",
            "/filter/type/name/$not/$exists",
        ];
        assert_eq!(paths, expected);
        assert!(Filter::parse(&json!("USD")).is_err());
        assert!(Filter::parse(&json!({"data": {"note": "x".repeat(MAX_FILTER_BYTES)}})).is_err(), "too large");
        assert_eq!(Filter::parse(&Value::Null).expect("none"), None);
    }
}
