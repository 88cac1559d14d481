//! The value types' parsing and their JSON forms.

use super::*;

#[test]
fn names_are_not_blank_and_not_too_long() {
    assert!(WebhookName::parse("Booking confirmation sync").is_ok());
    assert!(WebhookName::parse("   ").is_err());
    assert!(WebhookName::parse(&"é".repeat(100)).is_ok());
    assert!(WebhookName::parse(&"é".repeat(101)).is_err());
}

#[test]
fn event_patterns_match_as_documented() {
    let catalog = Catalog::default();
    let list = EventList::parse(["booking.created", "payment.*", "booking.created"], &catalog, None).expect("valid");
    assert_eq!(list.to_strings(), ["booking.created", "payment.*"]);
    assert!(list.matches("booking.created"));
    assert!(list.matches("payment.refunded"));
    assert!(!list.matches("booking.cancelled"));
    assert!(EventList::parse([], &catalog, None).expect("empty").matches("booking.cancelled"));
    assert!(EventList::parse(["*"], &catalog, None).expect("star").matches("payment.failed"));
    assert!(!EventList::parse(["*"], &catalog, None).expect("star").matches("webhook.disabled"), "a notice");
    assert!(EventList::parse(["webhook.*"], &catalog, None).expect("named").matches("webhook.disabled"));
}

#[test]
fn a_stored_list_is_read_back_as_written_and_never_widens() {
    let gone: EventList = serde_json::from_value(serde_json::json!(["booking.exploded"])).expect("stored");
    assert_eq!(gone.to_strings(), ["booking.exploded"]);
    assert!(!gone.matches("booking.created"), "a type the catalog no longer has does not mean every event");
    let mixed: EventList =
        serde_json::from_value(serde_json::json!(["booking.exploded", "payment.*"])).expect("stored");
    assert!(mixed.matches("payment.completed") && !mixed.matches("booking.created"));
}

#[test]
fn unknown_event_types_are_refused() {
    let catalog = Catalog::default();
    let err = EventList::parse(["booking.created", "booking.exploded", "nothing.*", ".*"], &catalog, None)
        .expect_err("unknown");
    assert!(err.contains("booking.exploded") && err.contains("nothing.*") && err.contains("\".*\""), "{err}");
}

#[test]
fn an_archived_type_is_refused_in_a_new_list_and_kept_in_a_stored_one() {
    let mut archived = super::super::catalog::default_event_type("payment.failed").expect("default").clone();
    archived.archived = true;
    let catalog = Catalog::with(vec![archived]);
    let err = EventList::parse(["payment.failed"], &catalog, None).expect_err("archived");
    assert!(err.contains("archived"), "{err}");
    let kept = EventList(vec![EventPattern::Exact("payment.failed".into())]);
    let list = EventList::parse(["payment.failed", "payment.*"], &catalog, Some(&kept)).expect("kept");
    assert_eq!(list.to_strings(), ["payment.failed", "payment.*"]);
}

#[test]
fn header_rules() {
    let ok = |pairs: &[(&str, &str)]| {
        CustomHeaders::parse(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
    };
    assert!(ok(&[("X-Api-Key", "abc")]).is_ok());
    for reserved in ["Host", "content-type", "Content-Length", "webhook-signature", "Transfer-Encoding"] {
        assert!(ok(&[(reserved, "x")]).is_err(), "{reserved}");
    }
    assert!(ok(&[("bad header", "x")]).is_err());
    assert!(ok(&[("X-Injected", "a\r\nHost: evil")]).is_err());
    assert!(ok(&[("X-Latin", "caf\u{e9}")]).is_err(), "non-ASCII is refused");
    assert!(ok(&[("X-Control", "\u{84}")]).is_err());
    assert!(ok(&[("X-A", "1"), ("x-a", "2")]).is_err());
    let many: Vec<(String, String)> = (0..21).map(|i| (format!("X-H{i}"), "v".into())).collect();
    assert!(CustomHeaders::parse(many.into_iter().collect()).is_err());
}

#[test]
fn timestamps_have_milliseconds_and_z() {
    let at = DateTime::parse_from_rfc3339("2026-11-22T10:00:00.123456Z").expect("time");
    let ts = Timestamp::new(at.with_timezone(&Utc));
    assert_eq!(ts.to_string(), "2026-11-22T10:00:00.123Z");
    let back: Timestamp = serde_json::from_value(serde_json::json!(ts)).expect("round trip");
    assert_eq!(back, ts);
}
