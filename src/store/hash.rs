//! The per-aggregate hash chain that makes tampering with the log evident.
//!
//! `hash = hex(SHA-256(canonical))` where `canonical` is the compact JSON array
//! `["pactum-event-v1", prev_hash, aggregate_type, aggregate_id, sequence,
//! event_type, schema_version, recorded_at_us, actor_subject, actor_role, actor_org,
//! correlation_id, causation_id, idempotency_key, payload]` — `prev_hash` is the
//! previous event's hash of the same aggregate ("" for the first), `recorded_at_us`
//! microseconds since the epoch, absent options are `null`, and `payload` is the
//! stored payload text. Anyone holding an export can recompute it.

use pactum_events::RecordedEvent;
use sha2::{Digest, Sha256};

/// The fields of one event that its hash covers.
pub struct HashInput<'a> {
    pub aggregate_type: &'a str,
    pub aggregate_id: &'a str,
    pub sequence: u64,
    pub event_type: &'a str,
    pub schema_version: u32,
    pub recorded_at_us: i64,
    pub actor_subject: &'a str,
    pub actor_role: &'a str,
    pub actor_org: Option<&'a str>,
    pub correlation_id: &'a str,
    pub causation_id: Option<&'a str>,
    pub idempotency_key: Option<&'a str>,
    pub payload: &'a str,
}

pub fn chain_hash(prev_hash: &str, e: &HashInput<'_>) -> String {
    let canonical = serde_json::json!([
        "pactum-event-v1",
        prev_hash,
        e.aggregate_type,
        e.aggregate_id,
        e.sequence,
        e.event_type,
        e.schema_version,
        e.recorded_at_us,
        e.actor_subject,
        e.actor_role,
        e.actor_org,
        e.correlation_id,
        e.causation_id,
        e.idempotency_key,
        e.payload,
    ]);
    hex::encode(Sha256::digest(canonical.to_string().as_bytes()))
}

/// The hash `event` should carry if `prev_hash` is its predecessor's: recomputed
/// from its stored fields (`pactum verify`, `pactum import`).
///
/// The payload is hashed as its compact serialization, which is the stored text:
/// the writer stores `payload.to_string()` and a `serde_json::Value` (keys sorted)
/// serializes back to exactly that text.
pub fn recorded_hash(prev_hash: &str, event: &RecordedEvent) -> String {
    let payload = event.payload.to_string();
    chain_hash(
        prev_hash,
        &HashInput {
            aggregate_type: &event.aggregate_type,
            aggregate_id: &event.aggregate_id,
            sequence: event.sequence,
            event_type: &event.event_type,
            schema_version: event.schema_version,
            recorded_at_us: event.recorded_at.as_microsecond(),
            actor_subject: &event.actor.subject,
            actor_role: &event.actor.role,
            actor_org: event.actor.org.as_deref(),
            correlation_id: &event.correlation_id,
            causation_id: event.causation_id.as_deref(),
            idempotency_key: event.idempotency_key.as_deref(),
            payload: &payload,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(payload: &str) -> HashInput<'_> {
        HashInput {
            aggregate_type: "order",
            aggregate_id: "o-1",
            sequence: 1,
            event_type: "OrderSubmitted",
            schema_version: 1,
            recorded_at_us: 1_700_000_000_000_000,
            actor_subject: "alice",
            actor_role: "customer",
            actor_org: Some("acme"),
            correlation_id: "c-1",
            causation_id: None,
            idempotency_key: None,
            payload,
        }
    }

    #[test]
    fn hash_covers_payload_and_previous_hash() {
        let a = chain_hash("", &input(r#"{"a":1}"#));
        assert_eq!(a.len(), 64);
        assert_eq!(a, chain_hash("", &input(r#"{"a":1}"#)));
        assert_ne!(a, chain_hash("", &input(r#"{"a":2}"#)));
        assert_ne!(a, chain_hash(&a, &input(r#"{"a":1}"#)));
    }

    #[test]
    fn field_boundaries_cannot_be_shifted() {
        // "ab"+"c" and "a"+"bc" must not collide: the JSON array keeps fields apart.
        let mut x = input("{}");
        x.aggregate_type = "ab";
        x.aggregate_id = "c";
        let mut y = input("{}");
        y.aggregate_type = "a";
        y.aggregate_id = "bc";
        assert_ne!(chain_hash("", &x), chain_hash("", &y));
    }
}
