//! Upcasters: functions that lift a stored payload from schema version N to N+1.
//!
//! Stored events are never rewritten; old versions are lifted on every read
//! (aggregate loads, projections, replay). To change a payload incompatibly: bump
//! the event's version in its `current_version`, add a step here keyed by
//! (aggregate type, event type, old version), and add a golden fixture of the old
//! version to `fixtures/` so the step stays tested.

use serde_json::Value;

use crate::DecodeError;

type Step = fn(Value) -> Result<Value, String>;

/// The registered steps. Empty for now: every event type is at version 1.
const STEPS: &[(&str, &str, u32, Step)] = &[];

/// Lifts `payload` from `from` to `to` by applying registered steps in turn.
pub fn upcast(
    aggregate_type: &str,
    event_type: &str,
    from: u32,
    to: u32,
    payload: Value,
) -> Result<Value, DecodeError> {
    upcast_with(STEPS, aggregate_type, event_type, from, to, payload)
}

fn upcast_with(
    steps: &[(&str, &str, u32, Step)],
    aggregate_type: &str,
    event_type: &str,
    from: u32,
    to: u32,
    mut payload: Value,
) -> Result<Value, DecodeError> {
    let error = |version, reason: String| DecodeError {
        event_type: event_type.to_owned(),
        version,
        reason,
    };
    if from > to {
        return Err(error(
            from,
            format!("written by a newer pactum (this build reads up to v{to})"),
        ));
    }
    for version in from..to {
        let step = steps
            .iter()
            .find(|(a, e, v, _)| *a == aggregate_type && *e == event_type && *v == version)
            .map(|(_, _, _, step)| step)
            .ok_or_else(|| error(version, format!("no upcaster from v{version}")))?;
        payload = step(payload).map_err(|reason| error(version, reason))?;
    }
    Ok(payload)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rename_size(mut v: Value) -> Result<Value, String> {
        let size = v
            .as_object_mut()
            .and_then(|m| m.remove("size"))
            .ok_or("missing size")?;
        v["size_gb"] = size;
        Ok(v)
    }

    fn add_unit(mut v: Value) -> Result<Value, String> {
        v["unit"] = json!("GB");
        Ok(v)
    }

    const TEST_STEPS: &[(&str, &str, u32, Step)] = &[
        ("thing", "ThingMade", 1, rename_size),
        ("thing", "ThingMade", 2, add_unit),
    ];

    #[test]
    fn steps_apply_in_order_from_the_stored_version() {
        let v1 = json!({"size": 4});
        let v3 = upcast_with(TEST_STEPS, "thing", "ThingMade", 1, 3, v1).unwrap();
        assert_eq!(v3, json!({"size_gb": 4, "unit": "GB"}));
        let v2 = json!({"size_gb": 5});
        let v3 = upcast_with(TEST_STEPS, "thing", "ThingMade", 2, 3, v2).unwrap();
        assert_eq!(v3, json!({"size_gb": 5, "unit": "GB"}));
    }

    #[test]
    fn current_version_passes_through_untouched() {
        let v = json!({"anything": true});
        assert_eq!(
            upcast_with(TEST_STEPS, "thing", "ThingMade", 3, 3, v.clone()).unwrap(),
            v
        );
    }

    #[test]
    fn missing_step_and_future_versions_are_errors() {
        let err = upcast_with(TEST_STEPS, "thing", "Other", 1, 2, json!({})).unwrap_err();
        assert!(err.reason.contains("no upcaster from v1"), "{err}");
        let err = upcast_with(TEST_STEPS, "thing", "ThingMade", 4, 3, json!({})).unwrap_err();
        assert!(err.reason.contains("newer pactum"), "{err}");
    }

    #[test]
    fn failing_step_names_the_version() {
        let err = upcast_with(TEST_STEPS, "thing", "ThingMade", 1, 2, json!({})).unwrap_err();
        assert_eq!(err.version, 1);
        assert_eq!(err.reason, "missing size");
    }
}
