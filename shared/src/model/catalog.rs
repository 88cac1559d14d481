//! The catalog of event types customers can subscribe to, each with an example payload.

use std::sync::LazyLock;

use serde::Serialize;
use serde_json::{Value, json};

#[derive(Debug, Clone, Serialize)]
pub struct EventType {
    pub name: &'static str,
    pub description: &'static str,
    pub example: Value,
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
        },
        EventType {
            name: "booking.updated",
            description: "Details of a booking have changed (dates, guests, rooms or price).",
            example: booking("confirmed"),
        },
        EventType {
            name: "booking.cancelled",
            description: "A booking has been cancelled by the guest or the property.",
            example: booking("cancelled"),
        },
        EventType {
            name: "payment.completed",
            description: "A payment has been captured.",
            example: payment("completed"),
        },
        EventType {
            name: "payment.failed",
            description: "A payment attempt was declined or failed.",
            example: payment("failed"),
        },
        EventType {
            name: "payment.refunded",
            description: "A payment has been refunded in full or in part.",
            example: payment("refunded"),
        },
    ]
});

pub fn catalog() -> &'static [EventType] {
    &CATALOG
}

pub fn is_known_event_type(name: &str) -> bool {
    catalog().iter().any(|t| t.name == name)
}
