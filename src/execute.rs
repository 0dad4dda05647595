//! Running a command against a cqrs-es aggregate: load its events, let it decide,
//! and turn the decision into an [`AppendRequest`].
//!
//! cqrs-es supplies the `Aggregate` trait and its test framework; its stock
//! repositories store no global position, timestamp or actor, so pactum loads and
//! appends through its own store (`docs/adr/0001`). Aggregates never see the clock
//! or the database: "now" and every outside fact arrive inside the command.

use std::sync::Arc;

use cqrs_es::Aggregate;
use cqrs_es::event_sink::EventSink;
use jiff::Timestamp;
use pactum_events::{Actor, EventPayload, RecordedEvent};
use pactum_projections::EventContext;

use crate::access::Principal;
use crate::store::{
    AppendRequest, EventMeta, EventStore, IdempotentResponse, NewEvent, StoreError,
};

/// What a command does when it succeeds: creates something or changes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    Created,
    Changed,
}

impl Effect {
    /// How an answer's effect is kept with it under its idempotency key: the
    /// number the record has always held (ADR 0004), 201 for a creation.
    pub(crate) fn recorded(self) -> u16 {
        match self {
            Self::Created => 201,
            Self::Changed => 200,
        }
    }

    pub(crate) fn from_recorded(code: u16) -> Self {
        if code == 201 {
            Self::Created
        } else {
            Self::Changed
        }
    }
}

/// Everything about a command that is not the command itself.
#[derive(Clone, Debug)]
pub struct CommandMeta {
    pub principal: Principal,
    pub now: Timestamp,
    /// Ties together everything one request (or one import) caused.
    pub correlation_id: String,
    /// The id of this command; the events it produces record it as their cause.
    pub command_id: String,
    pub idempotency: Option<Idempotency>,
}

/// A client's idempotency key with the fingerprint of the request it came with.
#[derive(Clone, Debug)]
pub struct Idempotency {
    pub key: String,
    pub request_hash: String,
}

impl CommandMeta {
    /// Metadata for work pactum does on its own behalf (seeding, imports).
    pub fn system(subject: &str, now: Timestamp) -> Self {
        let id = uuid::Uuid::now_v7().to_string();
        Self {
            principal: Principal::system(subject),
            now,
            correlation_id: id.clone(),
            command_id: id,
            idempotency: None,
        }
    }

    fn event_meta(&self) -> EventMeta {
        EventMeta {
            recorded_at: self.now,
            actor: self.principal.actor(),
            correlation_id: self.correlation_id.clone(),
            causation_id: Some(self.command_id.clone()),
            idempotency_key: self.idempotency.as_ref().map(|i| i.key.clone()),
        }
    }
}

/// One event of an aggregate's history, as recorded and typed; shared, so a
/// history is copied by reference counts (the hot aggregates keep theirs).
pub type Recorded<A> = Arc<(RecordedEvent, <A as Aggregate>::Event)>;

/// An aggregate rebuilt from its events, with its typed history.
pub struct Loaded<A: Aggregate> {
    pub id: String,
    pub aggregate: A,
    /// The sequence number of its last event (0 if it has none).
    pub version: u64,
    pub history: Vec<Recorded<A>>,
    /// The store's cache generation if the events came from memory
    /// ([`load_cached`]).
    pub cached: Option<u64>,
}

impl<A: Aggregate> Loaded<A> {
    /// A new aggregate that has no events yet (its id was just generated).
    pub fn fresh(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            aggregate: A::default(),
            version: 0,
            history: Vec::new(),
            cached: None,
        }
    }

    pub fn exists(&self) -> bool {
        self.version > 0
    }

    /// The aggregate as it is after `events`.
    pub fn after(&self, events: &[A::Event]) -> A
    where
        A: Clone,
        A::Event: Clone,
    {
        let mut aggregate = self.aggregate.clone();
        for event in events {
            aggregate.apply(event.clone());
        }
        aggregate
    }

    /// The history as a read model's fold takes it.
    pub fn contexts(&self) -> impl Iterator<Item = (EventContext<'_>, &A::Event)> {
        self.history.iter().map(|entry| {
            let (recorded, event) = &**entry;
            (EventContext::from(recorded), event)
        })
    }

    /// The history followed by `events`, as if `actor` committed them at `now`:
    /// the view a command's answer shows before its events are durable.
    pub fn contexts_with<'a>(
        &'a self,
        events: &'a [A::Event],
        actor: &'a Actor,
        now: Timestamp,
    ) -> impl Iterator<Item = (EventContext<'a>, &'a A::Event)> {
        let next = self.version + 1;
        self.contexts()
            .chain(events.iter().enumerate().map(move |(offset, event)| {
                (
                    EventContext {
                        sequence: next + offset as u64,
                        recorded_at: now,
                        actor,
                    },
                    event,
                )
            }))
    }
}

/// Loads and folds every event of one aggregate, upcasting old schema versions.
pub async fn load<A>(store: &EventStore, id: &str) -> Result<Loaded<A>, StoreError>
where
    A: Aggregate,
    A::Event: EventPayload,
{
    fold(id, store.load(A::TYPE, id).await?.into_iter(), None, None)
}

/// Like [`load`], from memory when the aggregate is hot. For commands: if the
/// append of what was decided on a cached aggregate conflicts after the cache's
/// generation moved, the cache may have lagged another node's appends, and the
/// command is decided again on [`load`].
///
/// A hot aggregate is kept decoded too ([`EventStore::keep_decoded`]): a
/// command folds only the events committed since the last one decoded it.
pub async fn load_cached<A>(store: &EventStore, id: &str) -> Result<Loaded<A>, StoreError>
where
    A: Aggregate + Clone + 'static,
    A::Event: EventPayload + 'static,
{
    let hot = store.load_cached(A::TYPE, id).await?;
    let start = hot
        .decoded
        .and_then(|(_, decoded)| decoded.downcast::<Folded<A>>().ok())
        .map(|decoded| (decoded.aggregate.clone(), decoded.history.clone()));
    let from = start
        .as_ref()
        .and_then(|(_, history)| history.last())
        .map_or(0, |entry| entry.0.sequence);
    // Only the events after the decoded prefix are copied out of the cache.
    let newer = hot
        .events
        .iter()
        .skip_while(|recorded| recorded.sequence <= from);
    let loaded = fold(id, newer.cloned(), start, hot.generation)?;
    if loaded.version > from {
        let folded = Folded {
            aggregate: loaded.aggregate.clone(),
            history: loaded.history.clone(),
        };
        store.keep_decoded(A::TYPE, id, loaded.version, Arc::new(folded));
    }
    Ok(loaded)
}

/// An aggregate folded from a prefix of its events, kept beside them in memory.
struct Folded<A: Aggregate> {
    aggregate: A,
    history: Vec<Recorded<A>>,
}

/// Folds `events` in sequence order onto `start` (the aggregate folded from
/// the events before them, and those events).
fn fold<A>(
    id: &str,
    events: impl Iterator<Item = RecordedEvent>,
    start: Option<(A, Vec<Recorded<A>>)>,
    cached: Option<u64>,
) -> Result<Loaded<A>, StoreError>
where
    A: Aggregate,
    A::Event: EventPayload,
{
    let (mut aggregate, mut history) = start.unwrap_or_default();
    for recorded in events {
        let event = A::Event::decode(
            &recorded.event_type,
            recorded.schema_version,
            recorded.payload.clone(),
        )
        .map_err(|e| StoreError::Corrupt {
            position: recorded.position,
            reason: e.to_string(),
        })?;
        aggregate.apply(event.clone());
        history.push(Arc::new((recorded, event)));
    }
    Ok(Loaded {
        id: id.to_owned(),
        version: history.last().map_or(0, |entry| entry.0.sequence),
        aggregate,
        history,
        cached,
    })
}

/// Lets the aggregate decide `command`; returns its events and its state after them.
pub async fn decide<A>(
    loaded: &Loaded<A>,
    command: A::Command,
    services: &A::Services,
) -> Result<(Vec<A::Event>, A), A::Error>
where
    A: Aggregate + Clone,
{
    let mut aggregate = loaded.aggregate.clone();
    let sink = EventSink::default();
    aggregate.handle(command, services, &sink).await?;
    Ok((sink.collect().await, aggregate))
}

/// The append for events decided on `loaded`, remembering `response` under the
/// command's idempotency key if it has one.
pub fn append_request<A>(
    loaded: &Loaded<A>,
    events: &[A::Event],
    meta: &CommandMeta,
    response: Option<(Effect, String)>,
) -> AppendRequest
where
    A: Aggregate,
    A::Event: EventPayload,
{
    AppendRequest {
        aggregate_type: A::TYPE.to_owned(),
        aggregate_id: loaded.id.clone(),
        expected_sequence: loaded.version,
        events: events.iter().map(NewEvent::encode).collect(),
        meta: meta.event_meta(),
        response: match (&meta.idempotency, response) {
            (Some(idempotency), Some((effect, body))) => Some(IdempotentResponse {
                scope: meta.principal.idempotency_scope(),
                key: idempotency.key.clone(),
                request_hash: idempotency.request_hash.clone(),
                status: effect.recorded(),
                body,
            }),
            _ => None,
        },
        attachments: Vec::new(),
        history: false,
    }
}
