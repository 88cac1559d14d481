//! The catalog of event types customers can subscribe to, each with an example payload.

use std::sync::LazyLock;

use serde::Serialize;
use serde_json::{Value, json};

#[derive(Debug, Clone, Serialize)]
pub struct EventType {
    pub name: &'static str,
    pub description: &'static str,
    pub example: Value,
    /// The platform's own notice: published by the service, never through the API, and sent
    /// only to webhooks that name it (or its family) in their `eventList`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub platform: bool,
}

fn booking(status: &str) -> Value {
    json!({
        "bookingId": "b7c1e2d4-5f60-4a7b-9c8d-1e2f3a4b5c6d",
        "reference": "WNK-7Q2X9",
        "status": status,
        "propertyId": "d5b8a3c2-9e6f-4a1b-8d34-7c2e1f0a5b69",
        "propertyName": "The Siam Residences, Bangkok",
        "checkIn": "2026-12-20",
        "checkOut": "2026-12-23",
        "guests": {"adults": 2, "children": 0},
        "total": {"amount": "742.50", "currency": "USD"}
    })
}

fn payment(status: &str) -> Value {
    json!({
        "paymentId": "0d9e8f7a-6b5c-4d3e-8f2a-1b0c9d8e7f6a",
        "bookingId": "b7c1e2d4-5f60-4a7b-9c8d-1e2f3a4b5c6d",
        "status": status,
        "amount": {"amount": "742.50", "currency": "USD"},
        "method": "card"
    })
}

static CATALOG: LazyLock<Vec<EventType>> = LazyLock::new(|| {
    vec![
        EventType {
            name: "booking.created",
            description: "A new booking has been confirmed.",
            example: booking("confirmed"),
            platform: false,
        },
        EventType {
            name: "booking.updated",
            description: "Details of a booking have changed (dates, guests, rooms or price).",
            example: booking("confirmed"),
            platform: false,
        },
        EventType {
            name: "booking.cancelled",
            description: "A booking has been cancelled by the guest or the property.",
            example: booking("cancelled"),
            platform: false,
        },
        EventType {
            name: "payment.completed",
            description: "A payment has been captured.",
            example: payment("completed"),
            platform: false,
        },
        EventType {
            name: "payment.failed",
            description: "A payment attempt was declined or failed.",
            example: payment("failed"),
            platform: false,
        },
        EventType {
            name: "payment.refunded",
            description: "A payment has been refunded in full or in part.",
            example: payment("refunded"),
            platform: false,
        },
        EventType {
            name: DISABLED_EVENT_TYPE,
            description: "The platform disabled one of your webhooks after it failed for too long.",
            example: json!({
                "webhookId": "0193f0a0-1111-7222-8333-444455556666",
                "reason": "failing since 2026-11-17T09:00:00.000Z: the receiver answered 503",
                "failingSince": "2026-11-17T09:00:00.000Z"
            }),
            platform: true,
        },
    ]
});

/// The notice that a webhook was disabled for failing (DESIGN.md 12).
pub const DISABLED_EVENT_TYPE: &str = "webhook.disabled";

pub fn catalog() -> &'static [EventType] {
    &CATALOG
}

pub fn is_known_event_type(name: &str) -> bool {
    catalog().iter().any(|t| t.name == name)
}

pub fn is_platform_event_type(name: &str) -> bool {
    catalog().iter().any(|t| t.name == name && t.platform)
}
