//! The one command path every aggregate's commands take.
//!
//! In the caller's turn on the aggregate: load it (from memory when it is hot,
//! else from the log) → may the caller see it? → a retry's first answer →
//! `If-Match` → gather outside facts (`prepare`) → the aggregate decides → the
//! answer is shaped from the state after the events → append, with the answer
//! under the idempotency key and the appends that must commit with it. Nothing
//! is appended unless every step passed.
//!
//! A refusal met on an aggregate served from memory may come from the memory
//! being stale, and a command that asked for no version check has no business
//! losing a race: both are decided again on the log, a bounded number of times.
//!
//! Services call [`run`]; what an answer means over HTTP (status, `Location`,
//! `ETag`) is `src/http/`'s business, told by the request's [`Effect`].

use std::time::Duration;

use cqrs_es::Aggregate;
use pactum_events::EventPayload;
use serde::Serialize;

use crate::access::Principal;
pub use crate::execute::Effect;
use crate::execute::{self, CommandMeta, Loaded};
use crate::store::{
    AppendError, AppendOutcome, AppendRequest, Attachment, EventStore, StoreError, StoredResponse,
};

/// An aggregate that commands run on.
pub trait Runnable: Aggregate<Services = (), Event: 'static> + Clone + 'static
where
    Self::Event: EventPayload,
{
    /// Refuses `principal` a command on this aggregate if it may not see it
    /// (as if it did not exist). Everyone sees an aggregate by default.
    fn visible(&self, _principal: &Principal) -> Result<(), Self::Error> {
        Ok(())
    }

    /// Whether events of `event_type` are the aggregate's own bookkeeping
    /// (a timer's records): losing a race only to them is no reason to refuse
    /// a command.
    fn is_bookkeeping(_event_type: &str) -> bool {
        false
    }
}

/// How a command was asked for, besides the command itself.
#[derive(Clone, Debug)]
pub struct CommandRequest {
    pub meta: CommandMeta,
    /// The version the caller last saw (`If-Match`), if it asked for a check.
    pub if_match: Option<u64>,
    pub effect: Effect,
}

impl CommandRequest {
    /// A command pactum gives itself: no version check, no idempotency key.
    pub fn system(meta: CommandMeta) -> Self {
        Self {
            meta,
            if_match: None,
            effect: Effect::Changed,
        }
    }
}

/// Where a command reads its aggregate from first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// From memory when the aggregate is hot ([`execute::load_cached`]).
    Hot,
    /// From the log.
    Log,
}

/// A command ready to decide, with what must commit with its events.
pub struct Step<A: Aggregate> {
    pub command: A::Command,
    /// Appends of other aggregates (the agreements an activation issues).
    pub together: Vec<AppendRequest>,
    /// Documents stored with the events.
    pub attachments: Vec<Attachment>,
    /// The one role a person with several acts as here, if it is not its
    /// credential's (`policy::acting`): its events record that role.
    pub acting: Option<crate::access::Principal>,
}

impl<A: Aggregate> Step<A> {
    pub fn alone(command: A::Command) -> Self {
        Self {
            command,
            together: Vec::new(),
            attachments: Vec::new(),
            acting: None,
        }
    }
}

/// The answer to a command.
#[derive(Clone, Debug)]
pub enum Ran<T> {
    /// The command ran now.
    Done {
        answer: T,
        /// The aggregate's version after the command.
        version: u64,
        /// Global position of the newest event the command wrote (or of the
        /// aggregate's newest, if it wrote none).
        position: u64,
    },
    /// A retry of a command that already ran: its first answer.
    Replayed(Replayed),
}

/// A retried command's first answer, as it was kept.
#[derive(Clone, Debug)]
pub struct Replayed {
    pub effect: Effect,
    /// The answer's JSON.
    pub body: String,
    pub position: u64,
}

impl<T> Ran<T> {
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Ran<U> {
        match self {
            Self::Done {
                answer,
                version,
                position,
            } => Ran::Done {
                answer: f(answer),
                version,
                position,
            },
            Self::Replayed(replayed) => Ran::Replayed(replayed),
        }
    }
}

/// Why the runner itself refused a command.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("the {kind} is at version {current}, not the one given in If-Match")]
    PreconditionFailed { kind: &'static str, current: u64 },
    /// Another command changed the aggregate first (and the caller asked for
    /// a version, or the race went on too long).
    #[error("another command changed the {kind} first; reload and retry")]
    Conflict { kind: &'static str },
    #[error(transparent)]
    Append(AppendError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// How often a command is decided again on the log before a lost race is the
/// caller's conflict.
const RETRIES: u32 = 16;

/// Runs one command on aggregate `id`: `prepare` turns the loaded aggregate into
/// the command to decide (after visibility, replay and `If-Match` passed), and
/// `answer` shapes what the caller sees from the aggregate and the events it
/// decided. Both may run more than once (on a stale or raced aggregate).
pub async fn run<A, T, E>(
    store: &EventStore,
    id: &str,
    request: &CommandRequest,
    source: Source,
    prepare: impl AsyncFnOnce(&Loaded<A>) -> Result<Step<A>, E> + Clone,
    answer: impl Fn(&Loaded<A>, &[A::Event]) -> Result<T, E>,
) -> Result<Ran<T>, E>
where
    A: Runnable,
    A::Event: EventPayload,
    T: Serialize,
    E: From<RunError> + From<A::Error>,
{
    // Commands on one aggregate in this process take turns: each decides on
    // what the one before it wrote. Races with other nodes remain; retried.
    let _turn = store.turn(A::TYPE, id).await;
    let mut source = source;
    let mut round = 0;
    loop {
        match attempt(store, id, request, source, &prepare, &answer).await {
            Ok(ran) => return Ok(ran),
            Err(Failure::Failed(error)) => return Err(error),
            Err(Failure::Again) if round == RETRIES => {
                return Err(RunError::Conflict { kind: A::TYPE }.into());
            }
            Err(Failure::Again) => {
                // Each round of a race has a winner, so a bounded number of
                // rounds serves each of a few concurrent callers; a short
                // random pause spreads them.
                if round > 0 {
                    let pause = rand::random_range(0..=(2u64 << round.min(5)));
                    tokio::time::sleep(Duration::from_millis(pause)).await;
                }
                source = Source::Log;
                round += 1;
            }
        }
    }
}

/// Runs a command that sets something (a brand, handling targets, mail
/// preferences, a token): no version check, decided on the log, answered with
/// the aggregate as it is after its events. Setting twice is harmless, so no
/// answer is kept under an idempotency key.
pub async fn set<A, E>(
    store: &EventStore,
    id: &str,
    meta: &CommandMeta,
    command: A::Command,
) -> Result<A, E>
where
    A: Runnable,
    A::Event: EventPayload,
    A::Command: Clone,
    E: From<RunError> + From<A::Error>,
{
    let request = CommandRequest {
        meta: CommandMeta {
            idempotency: None,
            ..meta.clone()
        },
        if_match: None,
        effect: Effect::Changed,
    };
    let command = &command;
    let ran = run(
        store,
        id,
        &request,
        Source::Log,
        async |_| Ok::<_, E>(Step::alone(command.clone())),
        |loaded, events| Ok::<_, E>(loaded.after(events)),
    )
    .await?;
    match ran {
        Ran::Done { answer, .. } => Ok(answer),
        Ran::Replayed(_) => unreachable!("a command without an idempotency key is never replayed"),
    }
}

/// The append of a command on another aggregate that must commit with the one
/// being run ([`Step::together`]): an order's closing when its SLA ends, the
/// agreements an activation issues.
pub async fn together<A>(
    loaded: &Loaded<A>,
    command: A::Command,
    meta: &CommandMeta,
) -> Result<AppendRequest, A::Error>
where
    A: Runnable,
    A::Event: EventPayload,
{
    let (events, _) = execute::decide(loaded, command, &()).await?;
    Ok(execute::append_request(loaded, &events, meta, None))
}

enum Failure<E> {
    /// Decide the command again on the log.
    Again,
    Failed(E),
}

/// How one attempt went wrong, before it is known whether to try again.
enum Attempt<E> {
    /// A refusal that depends on the aggregate's state.
    Refused(E),
    /// The append found the aggregate moved on.
    Conflict,
    /// The store failed, or the idempotency key belongs to another request.
    Broken(E),
}

async fn attempt<A, T, E>(
    store: &EventStore,
    id: &str,
    request: &CommandRequest,
    source: Source,
    prepare: &(impl AsyncFnOnce(&Loaded<A>) -> Result<Step<A>, E> + Clone),
    answer: &impl Fn(&Loaded<A>, &[A::Event]) -> Result<T, E>,
) -> Result<Ran<T>, Failure<E>>
where
    A: Runnable,
    A::Event: EventPayload,
    T: Serialize,
    E: From<RunError> + From<A::Error>,
{
    let broken = |error: RunError| Failure::Failed(E::from(error));
    let loaded = match source {
        Source::Hot => execute::load_cached::<A>(store, id).await,
        Source::Log => execute::load::<A>(store, id).await,
    }
    .map_err(|e| broken(e.into()))?;
    let cached = loaded.cached;
    let version = loaded.version;
    let outcome = decide_and_append(store, request, &loaded, prepare, answer).await;
    match outcome {
        Ok(ran) => Ok(ran),
        Err(Attempt::Broken(error)) => Err(Failure::Failed(error)),
        // From memory, a refusal may come from the memory being stale.
        Err(Attempt::Refused(_)) if cached.is_some() => Err(Failure::Again),
        Err(Attempt::Refused(error)) => Err(Failure::Failed(error)),
        Err(Attempt::Conflict) => {
            // With only this process appending, the cache is exact and a
            // conflict is a real race; not so once the store has found
            // someone else's appends.
            let stale = cached.is_some_and(|generation| generation != store.cache_generation());
            // Without If-Match a lost race is not the caller's business.
            if stale
                || request.if_match.is_none()
                || only_bookkeeping_since::<A>(store, id, version)
                    .await
                    .map_err(|e| broken(e.into()))?
            {
                Err(Failure::Again)
            } else {
                Err(broken(RunError::Conflict { kind: A::TYPE }))
            }
        }
    }
}

async fn decide_and_append<A, T, E>(
    store: &EventStore,
    request: &CommandRequest,
    loaded: &Loaded<A>,
    prepare: &(impl AsyncFnOnce(&Loaded<A>) -> Result<Step<A>, E> + Clone),
    answer: &impl Fn(&Loaded<A>, &[A::Event]) -> Result<T, E>,
) -> Result<Ran<T>, Attempt<E>>
where
    A: Runnable,
    A::Event: EventPayload,
    T: Serialize,
    E: From<RunError> + From<A::Error>,
{
    let meta = &request.meta;
    let refused = |error: E| Attempt::Refused(error);
    // A retry is answered only while the caller may still see the aggregate.
    if loaded.exists() {
        loaded
            .aggregate
            .visible(&meta.principal)
            .map_err(|e| refused(e.into()))?;
    }
    if let Some(replayed) = replay(store, meta)
        .await
        .map_err(|e| Attempt::Broken(e.into()))?
    {
        return Ok(Ran::Replayed(replayed));
    }
    if let Some(expected) = request.if_match
        && expected != loaded.version
    {
        return Err(refused(
            RunError::PreconditionFailed {
                kind: A::TYPE,
                current: loaded.version,
            }
            .into(),
        ));
    }
    let step = prepare.clone()(loaded).await.map_err(refused)?;
    let (events, _) = execute::decide(loaded, step.command, &())
        .await
        .map_err(|e| refused(e.into()))?;
    let shown = answer(loaded, &events).map_err(refused)?;
    if events.is_empty() {
        return Ok(Ran::Done {
            answer: shown,
            version: loaded.version,
            position: loaded.history.last().map_or(0, |entry| entry.0.position),
        });
    }
    let kept = meta.idempotency.as_ref().map(|_| {
        (
            request.effect,
            serde_json::to_string(&shown).expect("answers serialize"),
        )
    });
    let acting_meta = step.acting.map(|principal| CommandMeta {
        principal,
        ..meta.clone()
    });
    let mut append =
        execute::append_request(loaded, &events, acting_meta.as_ref().unwrap_or(meta), kept);
    append.attachments = step.attachments;
    let mut appends = vec![append];
    appends.extend(step.together);
    let outcomes = store
        .append_all(appends)
        .await
        .map_err(|error| match error {
            AppendError::Conflict { .. } => Attempt::Conflict,
            other => Attempt::Broken(RunError::Append(other).into()),
        })?;
    // Read-your-writes: the newest position of everything this command wrote.
    let position = outcomes
        .iter()
        .filter_map(|outcome| match outcome {
            AppendOutcome::Committed(events) => events.last().map(|e| e.position),
            AppendOutcome::Replayed(_) => None,
        })
        .max();
    Ok(match (outcomes.into_iter().next(), position) {
        (Some(AppendOutcome::Replayed(stored)), _) => Ran::Replayed(replayed(stored)),
        (_, position) => Ran::Done {
            answer: shown,
            version: loaded.version + events.len() as u64,
            position: position.unwrap_or(0),
        },
    })
}

/// The first answer to a retried command, if this is a retry.
async fn replay(store: &EventStore, meta: &CommandMeta) -> Result<Option<Replayed>, RunError> {
    let Some(idempotency) = &meta.idempotency else {
        return Ok(None);
    };
    let Some(stored) = store
        .stored_response(&meta.principal.idempotency_scope(), &idempotency.key)
        .await
        .map_err(|e| RunError::Append(AppendError::from(e)))?
    else {
        return Ok(None);
    };
    if stored.request_hash != idempotency.request_hash {
        return Err(RunError::Append(AppendError::IdempotencyKeyReused {
            key: idempotency.key.clone(),
        }));
    }
    Ok(Some(replayed(stored)))
}

fn replayed(stored: StoredResponse) -> Replayed {
    Replayed {
        effect: Effect::from_recorded(stored.status),
        body: stored.body,
        position: stored.position,
    }
}

/// Whether everything appended to the aggregate after `version` is its own
/// bookkeeping ([`Runnable::is_bookkeeping`]).
async fn only_bookkeeping_since<A>(
    store: &EventStore,
    id: &str,
    version: u64,
) -> Result<bool, StoreError>
where
    A: Runnable,
    A::Event: EventPayload,
{
    let events = store.load(A::TYPE, id).await?;
    let newer: Vec<_> = events.iter().filter(|e| e.sequence > version).collect();
    Ok(!newer.is_empty() && newer.iter().all(|e| A::is_bookkeeping(&e.event_type)))
}
