use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// Who caused an event: the authenticated subject, its role and, for customers, its
/// organisation. System work (catalogue seeding, legacy import) uses role `system`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub subject: String,
    pub role: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org: Option<String>,
}

/// One event as stored in the log, with its envelope. This is the line format of
/// `pactum export` and the item of `GET /v1/events`.
///
/// `payload` is the event's data at the schema version it was written with;
/// decode it with [`crate::EventPayload::decode`], which upcasts old versions.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RecordedEvent {
    /// Global position: gap-free, in commit order, starting at 1.
    pub position: u64,
    pub aggregate_type: String,
    pub aggregate_id: String,
    /// The aggregate's sequence number, starting at 1.
    pub sequence: u64,
    pub event_type: String,
    pub schema_version: u32,
    /// When the log recorded the event (UTC, microsecond precision).
    pub recorded_at: Timestamp,
    pub actor: Actor,
    pub correlation_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub causation_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    pub payload: serde_json::Value,
    /// Hex SHA-256 chained to the previous event of the same aggregate.
    pub hash: String,
}
