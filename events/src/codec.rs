use std::fmt;

use serde::Serialize;
use serde::de::value::{MapAccessDeserializer, StrDeserializer};
use serde::de::{DeserializeOwned, DeserializeSeed, IntoDeserializer, MapAccess};
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

    /// Reads a stored payload from its JSON text, as [`EventPayload::decode`] does
    /// from a parsed value. A payload at the current version is deserialized in
    /// place, without building a [`Value`] first (replaying projections reads
    /// millions); an older one is parsed and upcast.
    fn decode_str(event_type: &str, version: u32, payload: &str) -> Result<Self, DecodeError> {
        let error = |reason: String| DecodeError {
            event_type: event_type.to_owned(),
            version,
            reason,
        };
        if Self::current_version(event_type) != Some(version) {
            let value = serde_json::from_str(payload).map_err(|e| error(e.to_string()))?;
            return Self::decode(event_type, version, value);
        }
        let mut data = serde_json::Deserializer::from_str(payload);
        let tagged = Tagged {
            event_type,
            data: &mut data,
            next: 0,
        };
        let event = Self::deserialize(MapAccessDeserializer::new(tagged))
            .and_then(|event| data.end().map(|()| event))
            .map_err(|e| error(e.to_string()))?;
        Ok(event)
    }
}

/// The map `{"type": event_type, "data": payload}` that the event enums'
/// `#[serde(tag = "type", content = "data")]` shape expects, without building it:
/// the tag comes first, so the derived code reads the data once, straight from
/// the payload's text.
struct Tagged<'a, 'de> {
    event_type: &'a str,
    data: &'a mut serde_json::Deserializer<serde_json::de::StrRead<'de>>,
    /// 0: the tag is next, 1: the data, 2: done.
    next: u8,
}

impl<'de> MapAccess<'de> for Tagged<'_, 'de> {
    type Error = serde_json::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Self::Error> {
        let key = match self.next {
            0 => "type",
            1 => "data",
            _ => return Ok(None),
        };
        let key: StrDeserializer<'_, Self::Error> = key.into_deserializer();
        seed.deserialize(key).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, Self::Error> {
        self.next += 1;
        if self.next == 1 {
            let tag: StrDeserializer<'_, Self::Error> = self.event_type.into_deserializer();
            seed.deserialize(tag)
        } else {
            seed.deserialize(&mut *self.data)
        }
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

/// Every event type string of `E` this build knows, in declaration order, read
/// from the enum itself: serde's own list of its variants (the tag values
/// [`EventPayload::decode`] accepts). For tests that must cover every type —
/// golden fixtures, projections' lists of the types they read — without a
/// hand-kept list that a new type could slip past.
pub fn type_names<E: EventPayload>() -> Vec<String> {
    let probe = serde_json::json!({ "type": "\u{1}", "data": null });
    let message = match serde_json::from_value::<E>(probe) {
        Ok(_) => return Vec::new(),
        Err(error) => error.to_string(),
    };
    // "unknown variant `\u{1}`, expected one of `A`, `B`" (or "expected `A`").
    let Some((_, expected)) = message.split_once("expected") else {
        return Vec::new();
    };
    expected
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}
