//! `pactum replay` (and the read models of `pactum import`): a projection rebuilt
//! from the whole log into a fresh generation, then swapped in.
//!
//! It keeps a runner's guarantees — each chunk's rows and checkpoint commit
//! together, guarded by the compare-and-set on the checkpoint; the generation goes
//! live in one transaction with whatever was appended meanwhile
//! ([`Runner::promote`]); a crash leaves the old generation live and the new one
//! building, consistent at its last checkpoint — and is faster, because:
//!
//! - reading and writing overlap: a reader task reads and decodes the next chunk
//!   while the writer folds and writes this one;
//! - a chunk is [`CHUNK`] events (one commit each, not one per 2,000 events), read
//!   on SQLite through a connection of its own ([`source::SqliteLog`]);
//! - rows are written many per statement ([`tables::upsert_all`]), into a table
//!   whose indexes are created once the log is loaded ([`Indexes::AfterLoad`]).
//!
//! Memory stays flat whatever the size of the log: at most three chunks are held
//! (one being read, one waiting, one being written), and rows only while their
//! chunk is written.

use std::sync::Arc;

use pactum_projections::projection::Projection;
use sqlx::Executor;
use tokio::sync::mpsc;

use super::errors::ProjectorError;
use super::registry::{self, Generation};
use super::runner::{Hooks, Runner, Step};
use super::source::{self, Events, Log};
use super::tables::{self, Indexes};
use crate::clock::Clock;
use crate::store::{Dialect, EventStore};

/// Events per chunk: per commit, and per read of the log (as a range of positions).
pub const CHUNK: usize = 10_000;

/// Builds a new generation of `projection` from position 0 and swaps it in.
pub async fn rebuild<P: Projection>(
    projection: Arc<P>,
    store: &EventStore,
    clock: &dyn Clock,
    progress: &(dyn Fn(u64) + Send + Sync),
) -> Result<Generation, ProjectorError> {
    let name = projection.name();
    let version = projection.version();
    let spec = projection.table();
    let now = clock.now();
    let dialect = store.dialect();
    let generation = store
        .write(move |conn| {
            Box::pin(async move {
                registry::create(conn, dialect, name, version, spec, Indexes::AfterLoad, now).await
            })
        })
        .await??;
    let replaced = |runner: &Runner<P>| ProjectorError::Apply {
        name: name.to_owned(),
        position: runner.checkpoint(),
        reason: "another rebuild replaced this one".into(),
    };
    let mut runner = Runner::new(
        Arc::clone(&projection),
        store.clone(),
        generation,
        Hooks::default(),
    );
    let head = source::head(store.reader()).await?;
    set_temp_store(store, "MEMORY").await?;
    let loaded = load(&mut runner, store, head, progress).await;
    set_temp_store(store, "DEFAULT").await?;
    if loaded? == Step::Retired {
        return Err(replaced(&runner));
    }
    // One write task per index: each holds the writer (and SQLite's lock) only
    // for the time one index takes to build.
    let table = runner.generation().table();
    for statement in tables::index_statements(spec, &table) {
        store
            .write(move |conn| {
                Box::pin(async move { conn.execute(statement.as_str()).await.map(drop) })
            })
            .await??;
    }
    // What was appended since, in runner batches, then the swap.
    loop {
        if runner.catch_up(progress).await? == Step::Retired {
            return Err(replaced(&runner));
        }
        if runner.promote(clock.now()).await? {
            progress(runner.checkpoint());
            return Ok(runner.generation().clone());
        }
    }
}

/// Sets where SQLite keeps the writer's temporary data. While a chunk is written,
/// `MEMORY`: a statement writing a hundred rows journals more than SQLite keeps
/// in memory by default (64 KiB), and would otherwise create and delete a
/// temporary file each time (a fifth of the writer's time). Back to `DEFAULT` for
/// building indexes, whose sort spills to temporary files past the cache: in
/// memory, it would grow with the log.
async fn set_temp_store(store: &EventStore, place: &'static str) -> Result<(), ProjectorError> {
    if store.dialect() == Dialect::Sqlite {
        let pragma = format!("PRAGMA temp_store = {place}");
        store
            .write(move |conn| {
                Box::pin(async move { conn.execute(pragma.as_str()).await.map(drop) })
            })
            .await??;
    }
    Ok(())
}

/// A chunk of the log: the events a projection reads up to `upto`.
struct Chunk<P: Projection> {
    events: Events<P>,
    upto: u64,
}

/// Applies the log up to `upto` to the runner's generation, chunk by chunk, reading
/// the next chunk while the last is written. Stops early (returning that step) if
/// the generation was retired or someone else moved its checkpoint: the runner's
/// own catching up takes over from there.
async fn load<P: Projection>(
    runner: &mut Runner<P>,
    store: &EventStore,
    upto: u64,
    progress: &(dyn Fn(u64) + Send + Sync),
) -> Result<Step, ProjectorError> {
    let log = Log::of(store)?;
    // One chunk waits while one is written and the next is read.
    let (sender, mut chunks) = mpsc::channel(1);
    let projection = Arc::clone(runner.projection());
    tokio::spawn(read_chunks(
        log,
        projection,
        runner.checkpoint(),
        upto,
        sender,
    ));
    while let Some(chunk) = chunks.recv().await {
        let Chunk { events, upto } = chunk?;
        match runner.apply(events, upto).await? {
            Step::Applied { checkpoint, .. } => progress(checkpoint),
            // Dropping the receiver stops the reader at its next chunk.
            other => return Ok(other),
        }
    }
    Ok(Step::CaughtUp)
}

/// Reads `(after, upto]` in chunks of at least [`CHUNK`] events (or what is left)
/// and sends them in order; stops at the first error, which it sends too.
async fn read_chunks<P: Projection>(
    log: Log,
    projection: Arc<P>,
    mut after: u64,
    upto: u64,
    chunks: mpsc::Sender<Result<Chunk<P>, ProjectorError>>,
) {
    while after < upto {
        let mut events = Vec::new();
        let mut reached = after;
        // A projection that reads few event types gets few events per range:
        // ranges are joined until the chunk is full, so it commits rarely.
        while reached < upto && events.len() < CHUNK {
            let to = upto.min(reached + CHUNK as u64);
            match log.read(&projection, reached, to).await {
                Ok(more) if events.is_empty() => events = more,
                Ok(mut more) => events.append(&mut more),
                Err(error) => {
                    let _ = chunks.send(Err(error)).await;
                    return;
                }
            }
            reached = to;
        }
        let chunk = Chunk {
            events,
            upto: reached,
        };
        if chunks.send(Ok(chunk)).await.is_err() {
            return;
        }
        after = reached;
    }
}
