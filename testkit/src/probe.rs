//! Appends straight to the store, below any aggregate: "Probed" events of a
//! `probe` aggregate, for tests of the store itself (group commit in `tests/api`,
//! gap-free positions across nodes in `tests/nodes`).

use jiff::Timestamp;
use pactum::store::{AppendRequest, EventMeta, NewEvent};
use pactum_events::Actor;
use serde_json::json;

/// The aggregate type probes append to.
pub const AGGREGATE: &str = "probe";

/// Appends `events` events to the probe aggregate `id`, decided at
/// `expected_sequence`; `by` tells racing requests' events apart (it is in each
/// payload and the correlation id).
pub fn append(id: &str, expected_sequence: u64, events: u64, by: &str) -> AppendRequest {
    AppendRequest {
        aggregate_type: AGGREGATE.into(),
        aggregate_id: id.into(),
        expected_sequence,
        events: (1..=events)
            .map(|n| NewEvent {
                event_type: "Probed".into(),
                schema_version: 1,
                payload: json!({ "by": by, "sequence": expected_sequence + n }),
            })
            .collect(),
        meta: EventMeta {
            // Whole microseconds, as the log stores them, so that what an append
            // answers equals what a reload reads.
            recorded_at: Timestamp::from_microsecond(Timestamp::now().as_microsecond())
                .expect("now is a valid instant"),
            actor: Actor {
                subject: "tester".into(),
                role: "system".into(),
                org: None,
            },
            correlation_id: format!("{id}/{by}"),
            causation_id: None,
            idempotency_key: None,
        },
        response: None,
        attachments: Vec::new(),
        history: false,
    }
}
