//! Applying the log to one generation of one projection, a batch at a time.
//!
//! A batch (the events this projection reads among the next positions after the
//! generation's checkpoint, [`source`]) is read, decoded and keyed outside the
//! writer, then applied in one write task on the store's writer:
//! check the generation is still ours at the expected checkpoint, read each
//! touched row once, fold, write each row once (many rows per statement), move the
//! checkpoint — all in one
//! savepoint of one transaction. A crash anywhere before the commit leaves rows
//! and checkpoint as they were; after it, both have moved. So an event is applied
//! exactly once, whoever restarts, and two runners on one generation (two
//! processes) cannot both apply a batch: the second finds the checkpoint moved.

use std::collections::HashMap;
use std::sync::Arc;

use jiff::Timestamp;
use pactum_projections::projection::{ApplyError, Column, Projection, TableSpec};
use tokio::sync::Semaphore;

use super::errors::ProjectorError;
use super::registry::{self, Generation, State};
use super::source::{self, Events, Keyed};
use super::tables;
use crate::store::{DbConnection, Dialect, EventStore};

/// Events read per batch.
pub const BATCH: u32 = 2_000;

/// Batches of at least this many events (replay's) are folded on a blocking
/// thread.
const FOLD_APART: usize = 4_096;

/// How far a run of batches with none of a projection's events may move its
/// checkpoint in memory only. Such a batch writes nothing else, and under load
/// every commit brings one per projection (the agreement index reads four
/// event types of dozens): writing each would be a write task per commit for
/// nothing. The checkpoint as stored then trails by at most this many
/// positions, and is written when the log goes quiet; a restart re-reads the
/// positions in between and finds nothing in them.
const UNWRITTEN: u64 = 10_000;

/// Decides, given a projection's name and a batch's last position, whether to
/// fail that batch just before its commit.
pub type FailPoint = Arc<dyn Fn(&str, u64) -> bool + Send + Sync>;

/// Test hooks: failure injection and pacing. Empty in production.
#[derive(Clone, Default)]
pub struct Hooks {
    /// Called after a batch's rows and checkpoint are written, before the commit;
    /// `true` fails the batch there, as a crash would.
    pub fail_before_commit: Option<FailPoint>,
    /// Every batch takes a permit first, so a test can hold a build mid-way.
    pub gate: Option<Arc<Semaphore>>,
}

/// What a step did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// A batch was applied; the checkpoint is now here.
    Applied { checkpoint: u64, events: usize },
    /// Nothing after the checkpoint.
    CaughtUp,
    /// Another generation replaced this one.
    Retired,
    /// Someone else (another process) moved this generation's checkpoint.
    Moved { checkpoint: u64 },
}

enum BatchError {
    Retired,
    Moved(u64),
    Apply { position: u64, reason: String },
    Injected(u64),
    Database(sqlx::Error),
}

impl From<sqlx::Error> for BatchError {
    fn from(error: sqlx::Error) -> Self {
        Self::Database(error)
    }
}

impl From<ProjectorError> for BatchError {
    fn from(error: ProjectorError) -> Self {
        match error {
            ProjectorError::Apply {
                position, reason, ..
            } => Self::Apply { position, reason },
            ProjectorError::Database(e) => Self::Database(e),
            other => Self::Apply {
                position: 0,
                reason: other.to_string(),
            },
        }
    }
}

/// Folds a batch into the table: each touched row read once, written once.
async fn write_batch<P: Projection>(
    conn: &mut DbConnection,
    dialect: Dialect,
    projection: &P,
    table: &str,
    events: Events<P>,
) -> Result<(), BatchError> {
    if events.is_empty() {
        return Ok(());
    }
    let spec = projection.table();
    let keys = touched(&events);
    let stored = tables::load(conn, dialect, spec, table, &keys).await?;
    let folded = fold_rows(projection, &events, stored)?;
    write_folded(conn, dialect, spec, table, &folded).await
}

/// The keys of the rows a batch touches, each once, in the order it first
/// touches them.
fn touched<E>(events: &[Keyed<E>]) -> Vec<&str> {
    let mut seen = std::collections::HashSet::new();
    events
        .iter()
        .map(|e| e.key.as_str())
        .filter(|key| seen.insert(*key))
        .collect()
}

/// What a folded batch writes: rows in key order, and keys to delete (in key
/// order too).
#[derive(Default)]
struct Folded {
    upserts: Vec<(String, Vec<Column>)>,
    deletes: Vec<String>,
}

impl Folded {
    /// Whether it writes or deletes the row of `key`.
    fn has(&self, key: &str) -> bool {
        self.row(key).is_some()
            || self
                .deletes
                .binary_search_by(|k| k.as_str().cmp(key))
                .is_ok()
    }

    /// The row of `key` it writes.
    fn row(&self, key: &str) -> Option<&Vec<Column>> {
        let found = self.upserts.binary_search_by(|(k, _)| k.as_str().cmp(key));
        found.ok().map(|at| &self.upserts[at].1)
    }
}

/// A batch folded and not yet written ([`Runner::prepare`]).
pub struct Prepared {
    folded: Arc<Folded>,
    upto: u64,
    events: usize,
}

/// What writing a [`Prepared`] batch did, for [`Runner::written`].
pub struct Written(Result<(), BatchError>);

/// Folds `events` onto the `stored` rows they touch.
fn fold_rows<P: Projection>(
    projection: &P,
    events: &Events<P>,
    stored: HashMap<String, Vec<Column>>,
) -> Result<Folded, BatchError> {
    // Each touched row once, in the order the batch first touches it; `slot_of`
    // gives each event its row's place, so the fold does not hash keys again.
    // The rows are made once they are counted: a vector of rows grown one at a
    // time would be copied each time it doubled.
    let mut slots: HashMap<&str, usize> = HashMap::new();
    let mut keys: Vec<&str> = Vec::new();
    let slot_of: Vec<usize> = events
        .iter()
        .map(|e| {
            *slots.entry(e.key.as_str()).or_insert_with(|| {
                keys.push(e.key.as_str());
                keys.len() - 1
            })
        })
        .collect();
    let mut rows: Vec<(&str, Option<P::Row>)> = keys.into_iter().map(|key| (key, None)).collect();
    for (key, columns) in stored {
        let row = projection
            .row_from_columns(key.clone(), columns)
            .map_err(|e| BatchError::Apply {
                position: 0,
                reason: format!("stored row unreadable: {e}"),
            })?;
        rows[slots[key.as_str()]].1 = Some(row);
    }
    for (
        Keyed {
            envelope, event, ..
        },
        &slot,
    ) in events.iter().zip(&slot_of)
    {
        let row = &mut rows[slot].1;
        *row = projection
            .apply(row.take(), envelope, event)
            .map_err(|ApplyError(reason)| BatchError::Apply {
                position: envelope.position,
                reason,
            })?;
    }
    // In key order: neighbours in the table's b-tree are written together.
    rows.sort_unstable_by(|a, b| a.0.cmp(b.0));
    let mut folded = Folded {
        upserts: Vec::with_capacity(rows.len()),
        deletes: Vec::new(),
    };
    for (key, row) in &rows {
        match row {
            Some(row) => folded
                .upserts
                .push(((*key).to_owned(), projection.row_to_columns(row))),
            None => folded.deletes.push((*key).to_owned()),
        }
    }
    Ok(folded)
}

/// Writes a folded batch.
async fn write_folded(
    conn: &mut DbConnection,
    dialect: Dialect,
    spec: &TableSpec,
    table: &str,
    folded: &Folded,
) -> Result<(), BatchError> {
    tables::upsert_all(conn, dialect, spec, table, &folded.upserts).await?;
    tables::delete_all(conn, dialect, spec, table, &folded.deletes).await?;
    Ok(())
}

/// Why [`registry::advance`] found the generation not at `expected`: retired, or
/// moved on by another runner.
async fn refusal(
    conn: &mut DbConnection,
    name: &str,
    generation: u64,
    expected: u64,
) -> BatchError {
    match claim(conn, name, generation, expected).await {
        Err(error) => error,
        // The UPDATE matched no row, yet the row says it would have: nothing
        // else writes inside this transaction, so the store is not what it
        // seems. Fail the batch rather than guess.
        Ok(()) => BatchError::Database(sqlx::Error::Protocol(format!(
            "the checkpoint of {name} generation {generation} did not move from {expected}"
        ))),
    }
}

/// Checks, inside the write transaction, that the generation is still ours to
/// write at the checkpoint we read from: not retired, not moved on by another runner.
async fn claim(
    conn: &mut DbConnection,
    name: &str,
    generation: u64,
    expected: u64,
) -> Result<(), BatchError> {
    match registry::current(conn, name, generation).await? {
        None | Some((State::Retired, _)) => Err(BatchError::Retired),
        Some((_, stored)) if stored != expected => Err(BatchError::Moved(stored)),
        Some(_) => Ok(()),
    }
}

/// Drives one generation of a projection.
pub struct Runner<P: Projection> {
    projection: Arc<P>,
    store: EventStore,
    generation: Generation,
    /// The checkpoint as the registry has it (`generation.checkpoint` may be
    /// ahead of it by batches with none of this projection's events).
    stored: u64,
    hooks: Hooks,
    batch: u32,
    /// See [`Runner::defer_quiet_checkpoints`].
    defer_quiet: bool,
}

impl<P: Projection> Runner<P> {
    pub fn new(
        projection: Arc<P>,
        store: EventStore,
        generation: Generation,
        hooks: Hooks,
    ) -> Self {
        Self {
            projection,
            store,
            stored: generation.checkpoint,
            generation,
            hooks,
            batch: BATCH,
            defer_quiet: false,
        }
    }

    /// Reads `batch` events at a time instead of [`BATCH`].
    pub fn with_batch(mut self, batch: u32) -> Self {
        self.batch = batch.max(1);
        self
    }

    pub fn projection(&self) -> &Arc<P> {
        &self.projection
    }

    pub fn store(&self) -> &EventStore {
        &self.store
    }

    pub fn generation(&self) -> &Generation {
        &self.generation
    }

    pub fn checkpoint(&self) -> u64 {
        self.generation.checkpoint
    }

    fn error(&self, error: BatchError) -> Result<Step, ProjectorError> {
        match error {
            BatchError::Retired => Ok(Step::Retired),
            BatchError::Moved(checkpoint) => Ok(Step::Moved { checkpoint }),
            BatchError::Apply { position, reason } => Err(ProjectorError::Apply {
                name: self.generation.name.clone(),
                position,
                reason,
            }),
            BatchError::Injected(position) => Err(ProjectorError::Injected(position)),
            BatchError::Database(e) => Err(e.into()),
        }
    }

    /// Applies the next batch, if there is one.
    pub async fn step(&mut self) -> Result<Step, ProjectorError> {
        if let Some(gate) = &self.hooks.gate
            && let Ok(permit) = gate.acquire().await
        {
            permit.forget();
        }
        let after = self.generation.checkpoint;
        let (upto, events) =
            source::next_batch(&self.store, &self.projection, after, u64::from(self.batch)).await?;
        if upto <= after {
            if self.stored < after && !self.defer_quiet {
                // The log is quiet: write down where empty batches moved to.
                return self.write_checkpoint().await;
            }
            return Ok(Step::CaughtUp);
        }
        if events.is_empty() && upto - self.stored <= UNWRITTEN {
            self.generation.checkpoint = upto;
            return Ok(Step::Applied {
                checkpoint: upto,
                events: 0,
            });
        }
        self.apply(events, upto).await
    }

    /// Folds `events`, the events this projection reads in `(checkpoint, upto]`,
    /// into the table and moves the checkpoint to `upto`.
    ///
    /// The rows the batch touches are read as committed and folded here, and
    /// only the writes go to the writer, in one task that first moves the
    /// checkpoint on if it is still the one those rows were read at
    /// ([`registry::advance`], one statement; [`claim`] says why not): every
    /// write to the table moves the checkpoint in the same transaction, so an
    /// unmoved checkpoint means unchanged rows. The writer, which every command
    /// waits for, then spends on a batch its writes alone.
    pub async fn apply(&mut self, events: Events<P>, upto: u64) -> Result<Step, ProjectorError> {
        let prepared = self.prepare(events, upto, None).await?;
        let outcome = self.write(&prepared).await;
        self.written(outcome, &prepared)
    }

    /// Folds `events`, the events this projection reads in `(checkpoint, upto]`
    /// (or, with `pending`, in `(pending.upto, upto]`), for [`Self::write`]. The
    /// rows they touch are read as committed, except those `pending` (the chunk
    /// before, folded but not yet written) wrote: those are taken from it. This
    /// lets replay fold a chunk while the one before is written.
    pub async fn prepare(
        &self,
        events: Events<P>,
        upto: u64,
        pending: Option<&Prepared>,
    ) -> Result<Prepared, ProjectorError> {
        let count = events.len();
        if events.is_empty() {
            return Ok(Prepared {
                folded: Arc::default(),
                upto,
                events: 0,
            });
        }
        let spec = self.projection.table();
        let keys = touched(&events);
        let (unwritten, committed): (Vec<&str>, Vec<&str>) = keys
            .iter()
            .partition(|key| pending.is_some_and(|p| p.folded.has(key)));
        let mut stored =
            tables::load_committed(&self.store, spec, &self.generation.table(), &committed).await?;
        if let Some(pending) = pending {
            for key in unwritten {
                if let Some(columns) = pending.folded.row(key) {
                    stored.insert(key.to_owned(), columns.clone());
                }
            }
        }
        drop(keys);
        let folded = if count < FOLD_APART {
            fold_rows(&*self.projection, &events, stored)
        } else {
            // A replay's chunk: folded off the async threads, beside the
            // writes of the other read models rebuilt together.
            let projection = Arc::clone(&self.projection);
            tokio::task::spawn_blocking(move || fold_rows(&*projection, &events, stored))
                .await
                .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
        };
        match folded {
            Ok(folded) => Ok(Prepared {
                folded: Arc::new(folded),
                upto,
                events: count,
            }),
            Err(BatchError::Apply { position, reason }) => Err(ProjectorError::Apply {
                name: self.generation.name.clone(),
                position,
                reason,
            }),
            Err(other) => Err(self.error(other).expect_err("a fold fails only to apply")),
        }
    }

    /// Writes a prepared chunk and moves the checkpoint to its end, in one write
    /// task that first moves the checkpoint if it is still the one its rows were
    /// read at ([`registry::advance`]). Owns what it needs: [`Self::prepare`] may
    /// run meanwhile. Its outcome goes to [`Self::written`].
    pub fn write(
        &self,
        prepared: &Prepared,
    ) -> impl Future<Output = Result<Written, ProjectorError>> + Send + 'static {
        let name = self.generation.name.clone();
        let number = self.generation.generation;
        let table = self.generation.table();
        let expected = self.stored;
        let fail = self.hooks.fail_before_commit.clone();
        let dialect = self.store.dialect();
        let spec = self.projection.table();
        let store = self.store.clone();
        let folded = Arc::clone(&prepared.folded);
        let upto = prepared.upto;
        async move {
            let outcome = store
                .write(move |conn| {
                    Box::pin(async move {
                        if !registry::advance(conn, &name, number, expected, upto).await? {
                            return Err(refusal(conn, &name, number, expected).await);
                        }
                        write_folded(conn, dialect, spec, &table, &folded).await?;
                        if fail.is_some_and(|fail| fail(&name, upto)) {
                            return Err(BatchError::Injected(upto));
                        }
                        Ok(())
                    })
                })
                .await?;
            Ok(Written(outcome))
        }
    }

    /// Takes in what [`Self::write`] of `prepared` did.
    pub fn written(
        &mut self,
        outcome: Result<Written, ProjectorError>,
        prepared: &Prepared,
    ) -> Result<Step, ProjectorError> {
        match outcome?.0 {
            Ok(()) => {
                self.generation.checkpoint = prepared.upto;
                self.stored = prepared.upto;
                Ok(Step::Applied {
                    checkpoint: prepared.upto,
                    events: prepared.events,
                })
            }
            Err(BatchError::Moved(checkpoint)) => {
                self.generation.checkpoint = checkpoint;
                self.stored = checkpoint;
                Ok(Step::Moved { checkpoint })
            }
            Err(error) => self.error(error),
        }
    }

    /// Whether empty batches moved the checkpoint beyond the stored one.
    pub fn unwritten(&self) -> bool {
        self.stored < self.generation.checkpoint
    }

    /// Leaves the checkpoint that empty batches moved unwritten when the log is
    /// quiet, for the caller to write with [`Self::write_checkpoint`] once the
    /// log has stayed quiet a while (the supervisor: a commit every few
    /// milliseconds would otherwise cost a write of each read model's
    /// checkpoint after each one).
    pub fn defer_quiet_checkpoints(&mut self) {
        self.defer_quiet = true;
    }

    /// Writes the checkpoint empty batches moved (if they did).
    pub async fn write_checkpoint(&mut self) -> Result<Step, ProjectorError> {
        if !self.unwritten() {
            return Ok(Step::CaughtUp);
        }
        match self.apply(Vec::new(), self.generation.checkpoint).await? {
            Step::Applied { .. } => Ok(Step::CaughtUp),
            other => Ok(other),
        }
    }

    /// Steps until caught up with the log (or retired), reporting the checkpoint
    /// after every batch.
    pub async fn catch_up(
        &mut self,
        mut progress: impl FnMut(u64),
    ) -> Result<Step, ProjectorError> {
        loop {
            match self.step().await? {
                Step::Applied { checkpoint, .. } | Step::Moved { checkpoint } => {
                    progress(checkpoint)
                }
                done @ (Step::CaughtUp | Step::Retired) => return Ok(done),
            }
        }
    }

    /// Makes this (building) generation live: applies whatever arrived since the
    /// last step and swaps it in, in one transaction, so nothing can slip in
    /// between. Returns `false` if too much arrived meanwhile (catch up again).
    pub async fn promote(&mut self, now: Timestamp) -> Result<bool, ProjectorError> {
        /// More than this since the last step: catch up outside the writer first.
        const REMAINDER: u64 = 10_000;
        let projection = Arc::clone(&self.projection);
        let name = self.generation.name.clone();
        let number = self.generation.generation;
        let table = self.generation.table();
        let expected = self.stored;
        let dialect = self.store.dialect();
        let outcome = self
            .store
            .write(move |conn| {
                Box::pin(async move {
                    claim(conn, &name, number, expected).await?;
                    let last = EventStore::head_on(conn).await?.max(expected);
                    if last - expected > REMAINDER {
                        return Ok(None);
                    }
                    let rest = source::read(&mut *conn, &*projection, expected, last).await?;
                    write_batch(conn, dialect, &*projection, &table, rest).await?;
                    registry::set_checkpoint(conn, &name, number, last).await?;
                    // A replay that stopped before creating them left a building
                    // generation without indexes (tables::Indexes::AfterLoad).
                    tables::create_indexes(conn, projection.table(), &table).await?;
                    registry::promote(conn, &name, number, now).await?;
                    // The reporting views follow, in the same transaction.
                    crate::reporting::refresh(conn, dialect).await?;
                    Ok(Some(last))
                })
            })
            .await?;
        match outcome {
            Ok(Some(checkpoint)) => {
                self.generation.checkpoint = checkpoint;
                self.stored = checkpoint;
                self.generation.state = State::Live;
                Ok(true)
            }
            Ok(None) => Ok(false),
            Err(BatchError::Moved(checkpoint)) => {
                self.generation.checkpoint = checkpoint;
                self.stored = checkpoint;
                Ok(false)
            }
            Err(error) => self.error(error).map(|_| false),
        }
    }
}
