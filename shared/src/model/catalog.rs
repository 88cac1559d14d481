//! The event catalog as data (docs/contract.md 13): the default types shipped in
//! `catalog/event-types.json`, the operator's stored types in their place or beside them, and
//! the platform's own types (`catalog/platform-event-types.json`). A type's JSON Schema (draft 2020-12) checks the `data` of every
//! publish of it.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, LazyLock, Mutex};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::fields::{Fields, as_str};
use crate::error::{Error, FieldError};

/// The platform's own types (docs/contract.md 12), `catalog/platform-event-types.json`.
pub const CREATED_EVENT_TYPE: &str = "webhook.created";
pub const UPDATED_EVENT_TYPE: &str = "webhook.updated";
pub const DELETED_EVENT_TYPE: &str = "webhook.deleted";
pub const DISABLED_EVENT_TYPE: &str = "webhook.disabled";
pub const FAILING_EVENT_TYPE: &str = "webhook.failing";
pub const EXHAUSTED_EVENT_TYPE: &str = "delivery.exhausted";
/// Every one of the platform's own types.
pub(crate) const PLATFORM_EVENT_TYPES: [&str; 6] = [
    CREATED_EVENT_TYPE,
    UPDATED_EVENT_TYPE,
    DELETED_EVENT_TYPE,
    DISABLED_EVENT_TYPE,
    FAILING_EVENT_TYPE,
    EXHAUSTED_EVENT_TYPE,
];
/// The families of the platform's own types, which the operator may not define.
const PLATFORM_FAMILIES: [&str; 2] = ["webhook.", "delivery."];
const MAX_NAME_CHARS: usize = 100;
const MAX_DESCRIPTION_CHARS: usize = 1000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventType {
    pub name: String,
    pub description: String,
    /// The JSON Schema of `data`; none accepts any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<Value>,
    /// An example `data`, which satisfies the schema.
    #[serde(default)]
    pub example: Value,
    /// Listed and still delivered to those subscribed, but not for a new `eventList`.
    #[serde(default)]
    pub archived: bool,
    /// The platform's own notice: published by the service, never through the API, and sent
    /// only to webhooks that name it (or its family) in their `eventList`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub platform: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DefaultCatalog {
    event_types: Vec<EventType>,
}

static DEFAULTS: LazyLock<Vec<EventType>> = LazyLock::new(|| {
    let read = |name: &str, text: &str| -> Vec<EventType> {
        let file: DefaultCatalog =
            serde_json::from_str(text).unwrap_or_else(|err| panic!("catalog/{name} is not a catalog: {err}"));
        file.event_types
    };
    let platform = read("platform-event-types.json", include_str!("../../../catalog/platform-event-types.json"));
    let platform = platform.into_iter().map(|t| EventType { platform: true, ..t });
    read("event-types.json", include_str!("../../../catalog/event-types.json")).into_iter().chain(platform).collect()
});

/// The default type named `name`, if there is one (a stored type of that name replaces it).
pub fn default_event_type(name: &str) -> Option<&'static EventType> {
    DEFAULTS.iter().find(|t| t.name == name)
}

pub fn is_platform_event_type(name: &str) -> bool {
    PLATFORM_FAMILIES.iter().any(|family| name.starts_with(family))
}

/// Every event type: the defaults, with the operator's stored types in their place or beside
/// them, by name.
#[derive(Debug, Clone, PartialEq)]
pub struct Catalog(BTreeMap<String, EventType>);

impl Default for Catalog {
    /// The defaults alone, as on a fresh deployment.
    fn default() -> Self {
        Self::with(Vec::new())
    }
}

static DEFAULT_CATALOG: LazyLock<Catalog> = LazyLock::new(Catalog::default);

impl Catalog {
    /// The defaults alone, as on a fresh deployment.
    pub fn defaults() -> &'static Self {
        &DEFAULT_CATALOG
    }

    pub fn with(stored: Vec<EventType>) -> Self {
        let types = DEFAULTS.iter().cloned().chain(stored).map(|t| (t.name.clone(), t));
        Self(types.collect())
    }

    pub fn get(&self, name: &str) -> Option<&EventType> {
        self.0.get(name)
    }

    pub fn types(&self) -> impl Iterator<Item = &EventType> {
        self.0.values()
    }
}

/// `PUT /api/event-types/{name}`'s body for `name`: `{"description", "schema"?, "example"?}`.
pub fn parse_event_type(name: &str, body: &Map<String, Value>) -> Result<EventType, Error> {
    let mut fields = Fields::new(body);
    if let Err(message) = check_name(name) {
        fields.push("name", message);
    }
    let description = fields.required("description", |v| {
        let text = as_str(v)?.trim();
        if text.is_empty() || text.chars().count() > MAX_DESCRIPTION_CHARS {
            Err(format!("must be 1 to {MAX_DESCRIPTION_CHARS} characters"))
        } else {
            Ok(text.to_string())
        }
    });
    let schema = fields.optional(
        "schema",
        || None,
        |v| {
            if !v.is_object() {
                return Err("must be a JSON Schema object (draft 2020-12)".into());
            }
            jsonschema::draft202012::meta::validate(v)
                .map_err(|e| format!("is not a JSON Schema (draft 2020-12): {e}"))?;
            jsonschema::draft202012::new(v).map(|_| Some(v.clone())).map_err(|e| format!("cannot be used: {e}"))
        },
    );
    let example = fields.optional("example", || Value::Null, |v| Ok(v.clone()));
    if let (Some(Some(schema)), Some(example)) = (&schema, &example)
        && !example.is_null()
    {
        for violation in violations(schema, example) {
            fields.push(&format!("/example{}", violation.field), violation.message);
        }
    }
    match (description, schema, example) {
        (Some(description), Some(schema), Some(example)) if fields.errors.is_empty() => {
            Ok(EventType { name: name.to_string(), description, schema, example, archived: false, platform: false })
        }
        _ => Err(fields.into_error()),
    }
}

/// Dot-separated lowercase words, at most 100 characters, outside the platform's family.
fn check_name(name: &str) -> Result<(), String> {
    let word = |w: &str| !w.is_empty() && w.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if name.len() > MAX_NAME_CHARS || !name.contains('.') || !name.split('.').all(word) {
        return Err(format!("must be dot-separated lowercase words, at most {MAX_NAME_CHARS} characters"));
    }
    if is_platform_event_type(name) {
        return Err("webhook.* and delivery.* types are the platform's own".into());
    }
    Ok(())
}

/// Where `data` breaks `schema`: each violation's JSON pointer (from `data`) and message.
fn violations(schema: &Value, data: &Value) -> Vec<FieldError> {
    match compiled(schema) {
        Ok(validator) => validator
            .iter_errors(data)
            .map(|e| FieldError { field: e.instance_path().as_str().to_string(), message: e.to_string() })
            .collect(),
        // Stored schemas were checked when written: one that no longer compiles refuses all.
        Err(err) => {
            vec![FieldError { field: String::new(), message: format!("the type's schema cannot be used: {err}") }]
        }
    }
}

/// Schemas compiled by this process, by their JSON text: compiling one takes about 70 µs,
/// more than the rest of a publish's work in process, and a catalog has few types. A changed
/// schema is another text, so it is compiled anew; the cache is emptied when it holds
/// `MAX_COMPILED`, which only a catalog rewritten that often reaches.
static COMPILED: LazyLock<Mutex<HashMap<String, Arc<jsonschema::Validator>>>> = LazyLock::new(Mutex::default);
const MAX_COMPILED: usize = 256;

fn compiled(schema: &Value) -> Result<Arc<jsonschema::Validator>, String> {
    let text = schema.to_string();
    if let Some(validator) = COMPILED.lock().ok().and_then(|cache| cache.get(&text).cloned()) {
        return Ok(validator);
    }
    let validator = Arc::new(jsonschema::draft202012::new(schema).map_err(|err| err.to_string())?);
    if let Ok(mut cache) = COMPILED.lock() {
        if cache.len() >= MAX_COMPILED {
            cache.clear();
        }
        cache.insert(text, validator.clone());
    }
    Ok(validator)
}

impl EventType {
    /// Whether `data` may be published as this type: 422 listing each violation, named by its
    /// JSON pointer into the body (`/data/...`).
    pub fn check(&self, data: &Value) -> Result<(), Error> {
        let Some(schema) = &self.schema else { return Ok(()) };
        let errors: Vec<FieldError> = violations(schema, data)
            .into_iter()
            .map(|v| FieldError { field: format!("/data{}", v.field), message: v.message })
            .collect();
        if errors.is_empty() { Ok(()) } else { Err(Error::Validation(errors)) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(value: Value) -> Map<String, Value> {
        value.as_object().cloned().expect("an object")
    }

    #[test]
    fn the_defaults_are_the_data_file_and_every_example_satisfies_its_schema() {
        let catalog = Catalog::default();
        let names: Vec<&str> = catalog.types().map(|t| t.name.as_str()).collect();
        assert_eq!(names.len(), 12, "{names:?}");
        for event_type in catalog.types() {
            assert!(event_type.check(&event_type.example).is_ok(), "{}", event_type.name);
        }
        for name in PLATFORM_EVENT_TYPES {
            let event_type = catalog.get(name).expect("a platform type");
            assert!(event_type.platform && event_type.schema.is_some() && is_platform_event_type(name), "{name}");
        }
        assert_eq!(catalog.types().filter(|t| t.platform).count(), PLATFORM_EVENT_TYPES.len());
    }

    #[test]
    fn a_changed_schema_is_checked_as_changed_though_the_old_one_was_compiled() {
        let mut event_type = default_event_type("booking.created").expect("default").clone();
        event_type.schema = Some(json!({"type": "object", "required": ["a"]}));
        assert!(event_type.check(&json!({"b": 1})).is_err());
        event_type.schema = Some(json!({"type": "object", "required": ["b"]}));
        assert!(event_type.check(&json!({"b": 1})).is_ok(), "the new schema, not the compiled old one");
        assert!(event_type.check(&json!({"a": 1})).is_err());
    }

    #[test]
    fn a_stored_type_takes_a_defaults_place() {
        let mut archived = default_event_type("booking.created").expect("default").clone();
        archived.archived = true;
        let catalog = Catalog::with(vec![archived]);
        assert!(catalog.get("booking.created").is_some_and(|t| t.archived));
        assert_eq!(catalog.types().count(), 12);
    }

    #[test]
    fn a_schema_is_checked_at_write_and_names_each_violation_by_its_pointer() {
        let schema = json!({"type": "object", "required": ["rating"],
            "properties": {"rating": {"type": "integer", "minimum": 1, "maximum": 5}}});
        let review = parse_event_type(
            "review.posted",
            &body(json!({"description": "A guest posted a review.", "schema": schema, "example": {"rating": 5}})),
        )
        .expect("valid");
        assert!(review.check(&json!({"rating": 4})).is_ok());
        let Err(Error::Validation(errors)) = review.check(&json!({"rating": 9})) else { panic!("invalid data") };
        assert_eq!(errors.iter().map(|e| e.field.as_str()).collect::<Vec<_>>(), ["/data/rating"]);

        let boolean = parse_event_type("review.posted", &body(json!({"description": "d", "schema": false})));
        assert!(matches!(boolean, Err(Error::Validation(_))), "a schema is an object");
        let bad = json!({"description": " ", "schema": {"type": "nope"}, "example": 3});
        let Err(Error::Validation(errors)) = parse_event_type("Review", &body(bad)) else { panic!("invalid") };
        assert_eq!(errors.iter().map(|e| e.field.as_str()).collect::<Vec<_>>(), ["name", "description", "schema"]);
        let mismatch = json!({"description": "d", "schema": schema, "example": {"rating": "five"}});
        let Err(Error::Validation(errors)) = parse_event_type("review.posted", &body(mismatch)) else {
            panic!("an example breaking its schema")
        };
        assert_eq!(errors[0].field, "/example/rating");
        for own in ["webhook.test", "delivery.late"] {
            let own = parse_event_type(own, &body(json!({"description": "mine"})));
            assert!(matches!(own, Err(Error::Validation(_))), "the platform's families");
        }
    }
}
