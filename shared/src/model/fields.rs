//! Reads the fields of a JSON object one by one, collecting every problem instead of
//! stopping at the first, so that a 422 lists each bad field.

use serde_json::{Map, Value};

use crate::error::{Error, FieldError};

pub(crate) struct Fields<'a> {
    object: &'a Map<String, Value>,
    pub(crate) errors: Vec<FieldError>,
}

impl<'a> Fields<'a> {
    pub(crate) fn new(object: &'a Map<String, Value>) -> Self {
        Self { object, errors: Vec::new() }
    }

    /// A field that must be present and not null.
    pub(crate) fn required<T>(&mut self, name: &str, parse: impl FnOnce(&'a Value) -> Result<T, String>) -> Option<T> {
        match self.object.get(name) {
            None | Some(Value::Null) => {
                self.errors.push(FieldError::new(name, "is required"));
                None
            }
            Some(value) => self.check(name, parse(value)),
        }
    }

    /// A field that takes `default` when absent or null.
    pub(crate) fn optional<T>(
        &mut self,
        name: &str,
        default: impl FnOnce() -> T,
        parse: impl FnOnce(&'a Value) -> Result<T, String>,
    ) -> Option<T> {
        match self.object.get(name) {
            None | Some(Value::Null) => Some(default()),
            Some(value) => self.check(name, parse(value)),
        }
    }

    pub(crate) fn push(&mut self, name: &str, message: impl Into<String>) {
        self.errors.push(FieldError::new(name, message));
    }

    pub(crate) fn check<T>(&mut self, name: &str, result: Result<T, String>) -> Option<T> {
        result.map_err(|message| self.errors.push(FieldError::new(name, message))).ok()
    }

    pub(crate) fn into_error(self) -> Error {
        Error::Validation(self.errors)
    }
}

pub(crate) fn as_str(value: &Value) -> Result<&str, String> {
    value.as_str().ok_or_else(|| "must be a string".to_string())
}

pub(crate) fn as_bool(value: &Value) -> Result<bool, String> {
    value.as_bool().ok_or_else(|| "must be true or false".to_string())
}

pub(crate) fn as_string_array(value: &Value) -> Result<Vec<&str>, String> {
    value
        .as_array()
        .and_then(|items| items.iter().map(Value::as_str).collect::<Option<Vec<_>>>())
        .ok_or_else(|| "must be an array of strings".to_string())
}

pub(crate) fn as_string_map(value: &Value) -> Result<std::collections::BTreeMap<String, String>, String> {
    value
        .as_object()
        .and_then(|map| map.iter().map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string()))).collect())
        .ok_or_else(|| "must be an object of string values".to_string())
}
