//! Events the projections' unit tests fold, shared so each test file says only
//! what differs.

use jiff::Timestamp;
use pactum_events::order::{Customer, OrderEvent, OrderSource, OrderSubmitted};

/// Order o-1 of acme's alice for cloud-compute (group compute), untitled,
/// submitted at `at`.
pub fn submitted_at(at: Timestamp) -> OrderEvent {
    OrderEvent::OrderSubmitted(OrderSubmitted {
        order_id: "o-1".into(),
        service: "cloud-compute".into(),
        group: "compute".into(),
        customer: Customer {
            org: "acme".into(),
            subject: "alice".into(),
        },
        parameters: Default::default(),
        title: None,
        note: None,
        submitted_at: at,
        source: OrderSource::Api,
        service_version: None,
    })
}
