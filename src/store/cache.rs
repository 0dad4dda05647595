//! Hot aggregates served from memory: the events of recently used aggregates, so a
//! command on an order does not read the order's events back from the database.
//!
//! The cache is kept by the writer: after each commit it appends the committed
//! events to the aggregates it holds, before any caller is answered, so a client
//! that saw its command succeed finds the new events here. A command decided on a
//! cached history is validated by sequence number like any other: the writer
//! refuses it with a conflict if the log moved on (another node or process
//! appended), and the command is decided again on events read from the database
//! ([`crate::execute::load_cached`]).
//!
//! Beside an aggregate's events the cache may hold it decoded: the aggregate
//! folded from a prefix of them and that prefix's typed events, left by the
//! last command that decoded it ([`AggregateCache::decoded`]). A command then
//! decodes only the events committed since. The log is append-only, so any two
//! histories of one aggregate agree on what they both hold: a decoded prefix
//! stays true of every later history of that aggregate, and is dropped only
//! with its entry.
//!
//! Where the cache may lag the log, it is dropped: the writer empties it when it
//! finds, at the start of a batch, that someone else appended since its last
//! commit, and counts that in the cache's generation. A read that raced a commit
//! is kept only if it is as new as that commit. So a history served from memory
//! lags the log only if someone else appended; a command decided on it that
//! conflicts in the same generation met a real race, and one that conflicts in a
//! later generation may have been decided on a stale history.

use std::any::Any;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use lru::LruCache;
use pactum_events::RecordedEvent;

/// How many aggregates are held. An order's events take a few kilobytes, so a
/// full cache stays within a few tens of megabytes.
const CAPACITY: usize = 2_048;

type Key = (String, String);

/// An aggregate folded from its events up to a sequence number, in whatever
/// type its command path folds it into (see [`crate::execute::load_cached`]).
pub(crate) type Decoded = Arc<dyn Any + Send + Sync>;

/// One aggregate's events as a command finds them, from memory or not
/// ([`crate::store::EventStore::load_cached`]).
pub(crate) struct Hot {
    /// Every event of the aggregate, in sequence order.
    pub events: Arc<Vec<RecordedEvent>>,
    /// The aggregate decoded up to the sequence number given, if memory held it.
    pub decoded: Option<(u64, Decoded)>,
    /// The cache's generation at the read, if the events came from memory.
    pub generation: Option<u64>,
}

enum Entry {
    /// Every event of the aggregate, in sequence order, and the aggregate
    /// decoded from a prefix of them.
    Events(Arc<Vec<RecordedEvent>>, Option<(u64, Decoded)>),
    /// The writer committed up to this sequence, but the history is not held:
    /// only a read that reached this sequence may fill the entry.
    CommittedUpTo(u64),
}

pub(crate) struct AggregateCache {
    entries: Mutex<LruCache<Key, Entry>>,
    /// How many times the cache was dropped for someone else's appends.
    generation: AtomicU64,
}

impl AggregateCache {
    pub(crate) fn new() -> Self {
        Self {
            entries: Mutex::new(LruCache::new(
                NonZeroUsize::new(CAPACITY).expect("capacity is not zero"),
            )),
            generation: AtomicU64::new(0),
        }
    }

    /// The aggregate's events, if held, with the cache's generation.
    pub(crate) fn get(&self, aggregate_type: &str, aggregate_id: &str) -> Option<Hot> {
        let key = (aggregate_type.to_owned(), aggregate_id.to_owned());
        let mut entries = self.lock();
        match entries.get(&key) {
            Some(Entry::Events(events, decoded)) => Some(Hot {
                events: Arc::clone(events),
                decoded: decoded.clone(),
                generation: Some(self.generation()),
            }),
            _ => None,
        }
    }

    /// Keeps the aggregate decoded up to `sequence` beside its events, if they
    /// are held and reach that far, and nothing newer is kept.
    pub(crate) fn decoded(
        &self,
        aggregate_type: &str,
        aggregate_id: &str,
        sequence: u64,
        decoded: Decoded,
    ) {
        let key = (aggregate_type.to_owned(), aggregate_id.to_owned());
        let mut entries = self.lock();
        if let Some(Entry::Events(events, kept)) = entries.peek_mut(&key)
            && events.last().is_some_and(|e| e.sequence >= sequence)
            && kept.as_ref().is_none_or(|(older, _)| *older < sequence)
        {
            *kept = Some((sequence, decoded));
        }
    }

    /// How many times the cache was dropped for someone else's appends.
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// Keeps events just read from the database, unless the writer has committed
    /// newer ones meanwhile (the read would then be stale).
    pub(crate) fn fill(&self, aggregate_type: &str, aggregate_id: &str, events: &[RecordedEvent]) {
        let Some(last) = events.last() else {
            // An aggregate with no events is not worth holding.
            return;
        };
        let key = (aggregate_type.to_owned(), aggregate_id.to_owned());
        let mut entries = self.lock();
        let fresh = match entries.peek(&key) {
            None => true,
            Some(Entry::CommittedUpTo(sequence)) => *sequence == last.sequence,
            Some(Entry::Events(held, _)) => held.last().map_or(0, |e| e.sequence) < last.sequence,
        };
        if fresh {
            entries.put(key, Entry::Events(Arc::new(events.to_vec()), None));
        }
    }

    /// Records events the writer just committed for one aggregate, decided at
    /// `expected_sequence`.
    pub(crate) fn committed(&self, expected_sequence: u64, events: &[RecordedEvent]) {
        let (Some(first), Some(last)) = (events.first(), events.last()) else {
            return;
        };
        let key = (first.aggregate_type.clone(), first.aggregate_id.clone());
        let mut entries = self.lock();
        if expected_sequence > 0
            && let Some(Entry::Events(held, _)) = entries.get_mut(&key)
            && held.last().map_or(0, |e| e.sequence) == expected_sequence
        {
            // Extended in place: readers clone the history out and let go of
            // it at once, so it is rarely shared (and copied only then).
            Arc::make_mut(held).extend_from_slice(events);
            return;
        }
        let entry = match expected_sequence {
            // A new aggregate: these events are its whole history.
            0 => Entry::Events(Arc::new(events.to_vec()), None),
            _ => Entry::CommittedUpTo(last.sequence),
        };
        entries.put(key, entry);
    }

    /// Forgets one aggregate (its held history was found stale).
    pub(crate) fn evict(&self, aggregate_type: &str, aggregate_id: &str) {
        self.lock()
            .pop(&(aggregate_type.to_owned(), aggregate_id.to_owned()));
    }

    /// Forgets everything and starts a new generation (someone else appended to
    /// the log).
    pub(crate) fn clear(&self) {
        let mut entries = self.lock();
        entries.clear();
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LruCache<Key, Entry>> {
        // The map is consistent after every operation: a panic elsewhere cannot
        // leave it half-updated.
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pactum_events::Actor;

    fn event(id: &str, sequence: u64) -> RecordedEvent {
        RecordedEvent {
            position: sequence,
            aggregate_type: "order".into(),
            aggregate_id: id.into(),
            sequence,
            event_type: "OrderCommented".into(),
            schema_version: 1,
            recorded_at: jiff::Timestamp::UNIX_EPOCH,
            actor: Actor {
                subject: "sam".into(),
                role: "shifter".into(),
                org: None,
            },
            correlation_id: "c".into(),
            causation_id: None,
            idempotency_key: None,
            payload: serde_json::json!({}),
            hash: format!("h{sequence}"),
        }
    }

    fn sequences(cache: &AggregateCache, id: &str) -> Option<Vec<u64>> {
        cache
            .get("order", id)
            .map(|hot| hot.events.iter().map(|e| e.sequence).collect())
    }

    #[test]
    fn commits_extend_a_held_history_and_start_a_new_one() {
        let cache = AggregateCache::new();
        cache.committed(0, &[event("a", 1)]);
        cache.committed(1, &[event("a", 2), event("a", 3)]);
        assert_eq!(sequences(&cache, "a"), Some(vec![1, 2, 3]));
    }

    #[test]
    fn a_commit_on_an_unheld_aggregate_refuses_older_reads() {
        let cache = AggregateCache::new();
        // The writer commits sequence 3 of an aggregate whose history it lacks...
        cache.committed(2, &[event("a", 3)]);
        assert_eq!(sequences(&cache, "a"), None);
        // ...so a read that saw only 1..2 (it raced the commit) is not kept,
        cache.fill("order", "a", &[event("a", 1), event("a", 2)]);
        assert_eq!(sequences(&cache, "a"), None);
        // while a read that saw the commit is.
        cache.fill("order", "a", &[event("a", 1), event("a", 2), event("a", 3)]);
        assert_eq!(sequences(&cache, "a"), Some(vec![1, 2, 3]));
    }

    #[test]
    fn a_stale_read_never_replaces_a_newer_history() {
        let cache = AggregateCache::new();
        cache.committed(0, &[event("a", 1), event("a", 2)]);
        cache.fill("order", "a", &[event("a", 1)]);
        assert_eq!(sequences(&cache, "a"), Some(vec![1, 2]));
    }

    #[test]
    fn a_gap_drops_the_held_history() {
        let cache = AggregateCache::new();
        cache.committed(0, &[event("a", 1)]);
        // Someone else appended sequence 2; this node committed 3.
        cache.committed(2, &[event("a", 3)]);
        assert_eq!(sequences(&cache, "a"), None);
    }

    #[test]
    fn dropping_the_cache_starts_a_generation() {
        let cache = AggregateCache::new();
        cache.committed(0, &[event("a", 1)]);
        let before = cache.get("order", "a").unwrap().generation.unwrap();
        cache.clear();
        assert_eq!(sequences(&cache, "a"), None);
        assert_eq!(cache.generation(), before + 1);
    }

    /// The sequence the held decoded aggregate reaches, and its value.
    fn decoded(cache: &AggregateCache, id: &str) -> Option<(u64, &'static str)> {
        let (sequence, decoded) = cache.get("order", id)?.decoded?;
        Some((sequence, *decoded.downcast::<&'static str>().ok()?))
    }

    #[test]
    fn a_decoded_prefix_is_kept_while_commits_extend_its_history() {
        let cache = AggregateCache::new();
        cache.committed(0, &[event("a", 1), event("a", 2)]);
        cache.decoded("order", "a", 2, Arc::new("at 2"));
        cache.committed(2, &[event("a", 3)]);
        assert_eq!(decoded(&cache, "a"), Some((2, "at 2")));
        // An older one never replaces it; a newer one does.
        cache.decoded("order", "a", 1, Arc::new("at 1"));
        assert_eq!(decoded(&cache, "a"), Some((2, "at 2")));
        cache.decoded("order", "a", 3, Arc::new("at 3"));
        assert_eq!(decoded(&cache, "a"), Some((3, "at 3")));
    }

    #[test]
    fn nothing_decoded_is_kept_beyond_the_held_events_or_without_them() {
        let cache = AggregateCache::new();
        cache.committed(0, &[event("a", 1)]);
        cache.decoded("order", "a", 2, Arc::new("at 2"));
        assert_eq!(decoded(&cache, "a"), None, "beyond the held events");
        cache.decoded("order", "b", 1, Arc::new("b"));
        assert!(cache.get("order", "b").is_none(), "no entry is made for it");
        // A gap drops the events, and what was decoded of them with them.
        cache.decoded("order", "a", 1, Arc::new("at 1"));
        cache.committed(2, &[event("a", 3)]);
        cache.fill("order", "a", &[event("a", 1), event("a", 2), event("a", 3)]);
        assert_eq!(sequences(&cache, "a"), Some(vec![1, 2, 3]));
        assert_eq!(decoded(&cache, "a"), None);
    }

    #[test]
    fn the_cache_is_bounded() {
        let cache = AggregateCache::new();
        for n in 0..CAPACITY + 10 {
            cache.committed(0, &[event(&n.to_string(), 1)]);
        }
        assert_eq!(sequences(&cache, "0"), None, "the oldest was evicted");
        assert!(sequences(&cache, &(CAPACITY + 9).to_string()).is_some());
        assert_eq!(cache.lock().len(), CAPACITY);
    }
}
