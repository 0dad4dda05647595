//! What the writer knows of the newest stretch of the log: which event types it
//! appended there, and where. A projector that reads only some types asks it
//! before reading a batch, and skips the read when none of its types were
//! appended since its checkpoint (`docs/adr/0018` measured the cost of read
//! models that follow every commit to find nothing).

use std::collections::HashMap;
use std::sync::Mutex;

use pactum_events::RecordedEvent;

/// The writer's record of the positions `(from, head]`: every event there was
/// appended by this process's writer, and `last` holds the newest position of
/// each type among them.
#[derive(Debug)]
pub struct TypeIndex {
    inner: Mutex<Known>,
}

#[derive(Debug)]
struct Known {
    from: u64,
    head: u64,
    last: HashMap<String, u64>,
}

impl Default for TypeIndex {
    fn default() -> Self {
        Self {
            inner: Mutex::new(Known {
                from: u64::MAX,
                head: 0,
                last: HashMap::new(),
            }),
        }
    }
}

impl TypeIndex {
    fn known(&self) -> std::sync::MutexGuard<'_, Known> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The log is at `head` and nothing is known of what it holds: from here on
    /// the writer records what it appends.
    pub(super) fn restart_at(&self, head: u64) {
        let mut known = self.known();
        known.from = head;
        known.head = head;
        known.last.clear();
    }

    /// Someone else may have written events the writer did not see (an import):
    /// nothing is known until the next batch starts.
    pub(super) fn forget(&self) {
        self.known().from = u64::MAX;
    }

    /// A batch of the writer's own events committed, in position order, right
    /// after `head`.
    pub(super) fn committed<'a>(&self, events: impl Iterator<Item = &'a RecordedEvent>) {
        let mut known = self.known();
        for event in events {
            if event.position != known.head + 1 {
                // Not the stretch this records: know nothing rather than guess.
                known.from = u64::MAX;
                return;
            }
            known.head = event.position;
            match known.last.get_mut(event.event_type.as_str()) {
                Some(last) => *last = event.position,
                None => {
                    known.last.insert(event.event_type.clone(), event.position);
                }
            }
        }
    }

    /// When none of `types` was appended after `after`: the newest position up
    /// to which that is known (at most `after + batch`, and beyond `after`).
    pub fn none_of_after(&self, types: &[&str], after: u64, batch: u64) -> Option<u64> {
        let known = self.known();
        if after < known.from || known.head <= after {
            return None;
        }
        if types
            .iter()
            .any(|t| known.last.get(*t).is_some_and(|p| *p > after))
        {
            return None;
        }
        Some(known.head.min(after + batch))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pactum_events::Actor;

    fn event(position: u64, event_type: &str) -> RecordedEvent {
        RecordedEvent {
            position,
            aggregate_type: "order".into(),
            aggregate_id: "o".into(),
            sequence: position,
            event_type: event_type.into(),
            schema_version: 1,
            recorded_at: jiff::Timestamp::UNIX_EPOCH,
            actor: Actor {
                subject: "test".into(),
                role: "system".into(),
                org: None,
            },
            correlation_id: "c".into(),
            causation_id: None,
            idempotency_key: None,
            payload: serde_json::json!({}),
            hash: String::new(),
        }
    }

    #[test]
    fn a_read_is_skipped_only_over_positions_the_writer_appended_without_the_types() {
        let index = TypeIndex::default();
        assert_eq!(
            index.none_of_after(&["A"], 0, 100),
            None,
            "nothing known at start"
        );
        index.restart_at(10);
        let events = [event(11, "B"), event(12, "A"), event(13, "B")];
        index.committed(events.iter());
        assert_eq!(
            index.none_of_after(&["A"], 9, 100),
            None,
            "before what is known"
        );
        assert_eq!(index.none_of_after(&["A"], 10, 100), None, "an A at 12");
        assert_eq!(index.none_of_after(&["A"], 12, 100), Some(13));
        assert_eq!(
            index.none_of_after(&["C"], 10, 2),
            Some(12),
            "at most a batch"
        );
        assert_eq!(
            index.none_of_after(&["C"], 13, 100),
            None,
            "nothing after the head"
        );
        index.forget();
        assert_eq!(
            index.none_of_after(&["C"], 12, 100),
            None,
            "an import: unknown"
        );
        index.restart_at(20);
        index.committed([event(22, "C")].iter());
        assert_eq!(index.none_of_after(&["A"], 20, 100), None, "a gap: unknown");
    }
}
