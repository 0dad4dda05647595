use std::fmt;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::upcast;

/// An aggregate's event enum: each variant is one event type, stored as its type
/// string plus the variant's payload (not wrapped in the variant name).
///
/// Implementors are serde enums with `#[serde(tag = "type", content = "data")]`;
/// [`EventPayload::encode`] and [`EventPayload::decode`] split and join that shape.
pub trait EventPayload: Serialize + DeserializeOwned + Sized {
    /// The aggregate type string these events belong to (`order`, `catalogue`, ...).
    const AGGREGATE_TYPE: &'static str;

    /// The stable type string of this event, e.g. `OrderSubmitted`.
    fn event_type(&self) -> &'static str;

    /// The schema version this build writes for `event_type`.
    fn current_version(event_type: &str) -> Option<u32>;

    /// The payload as stored: type string, schema version, data.
    fn encode(&self) -> (&'static str, u32, Value) {
        let event_type = self.event_type();
        let version =
            Self::current_version(event_type).expect("every variant has a current schema version");
        let tagged = serde_json::to_value(self).expect("event payloads serialize");
        let data = match tagged {
            Value::Object(mut map) => map.remove("data").unwrap_or(Value::Null),
            other => other,
        };
        (event_type, version, data)
    }

    /// Reads a stored payload, upcasting it from `version` to the current one.
    fn decode(event_type: &str, version: u32, payload: Value) -> Result<Self, DecodeError> {
        let current = Self::current_version(event_type).ok_or_else(|| DecodeError {
            event_type: event_type.to_owned(),
            version,
            reason: "unknown event type".into(),
        })?;
        let payload = upcast::upcast(Self::AGGREGATE_TYPE, event_type, version, current, payload)?;
        let tagged = serde_json::json!({ "type": event_type, "data": payload });
        serde_json::from_value(tagged).map_err(|e| DecodeError {
            event_type: event_type.to_owned(),
            version,
            reason: e.to_string(),
        })
    }
}

/// A stored event that this build cannot read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    pub event_type: String,
    pub version: u32,
    pub reason: String,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cannot decode {} v{}: {}",
            self.event_type, self.version, self.reason
        )
    }
}

impl std::error::Error for DecodeError {}
