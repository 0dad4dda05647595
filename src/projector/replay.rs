//! `pactum replay` (and the read models of `pactum import`): read models rebuilt
//! from the whole log into fresh generations, then swapped in.
//!
//! It keeps a runner's guarantees — each chunk's rows and checkpoint commit
//! together, guarded by the compare-and-set on the checkpoint; a generation goes
//! live in one transaction with whatever was appended meanwhile
//! ([`Runner::promote`]); a crash leaves the old generation live and the new one
//! building, consistent at its last checkpoint — and is faster, because:
//!
//! - the log is read once for every read model being rebuilt: one reader task
//!   reads each range of positions ([`source::Log::read_raw`], on SQLite
//!   through a connection of its own) and hands the same undecoded events to
//!   every rebuild;
//! - each rebuild decodes and keys its own events on a blocking thread while
//!   its last chunk is written, and the rebuilds take turns on the writer, so
//!   reading, decoding and writing overlap on every core;
//! - a chunk is at least [`CHUNK`] events (one commit each, not one per 2,000
//!   events), and rows are written many per statement ([`tables::upsert_all`]),
//!   into a table whose indexes are created once the log is loaded
//!   ([`Indexes::AfterLoad`]).
//!
//! Memory stays flat whatever the size of the log: the reader waits for the
//! slowest rebuild, and each rebuild holds at most a range being decoded, one
//! waiting and one being written, and rows only while their chunk is written.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::{BoxFuture, join_all};
use pactum_projections::projection::{EventTypes, Projection};
use sqlx::Executor;
use tokio::sync::mpsc;

use super::AnyProjection;
use super::errors::ProjectorError;
use super::registry::{self, Generation};
use super::runner::{Hooks, Runner, Step};
use super::source::{self, Events, Log, Raw, Readers};
use super::tables::{self, Indexes};
use crate::clock::Clock;
use crate::store::{Dialect, EventStore};

/// Events per chunk: per commit, and positions per read of the log.
pub const CHUNK: usize = 10_000;

/// Reports a rebuild's checkpoint: the rebuild's place among those started
/// together, and the position it has applied up to.
pub type Progress<'a> = &'a (dyn Fn(usize, u64) + Send + Sync);

/// A finished rebuild: the generation now live, and how long it took from the
/// start of the replay.
#[derive(Clone, Debug)]
pub struct Rebuilt {
    pub generation: Generation,
    pub took: Duration,
}

/// Builds a new generation of `projection` from position 0 and swaps it in.
pub async fn rebuild<P: Projection>(
    projection: Arc<P>,
    store: &EventStore,
    clock: &dyn Clock,
    progress: &(dyn Fn(u64) + Send + Sync),
) -> Result<Generation, ProjectorError> {
    let begun = Rebuild::begin(projection, store, clock).await?;
    let progress = |_, checkpoint| progress(checkpoint);
    let mut results = run(vec![Ok(Box::new(begun))], store, clock, &progress, CHUNK).await;
    results
        .pop()
        .expect("one rebuild, one result")
        .map(|r| r.generation)
}

/// Builds a new generation of each of `projections` from position 0, reading
/// the log once for all of them, and swaps each in when it is caught up. One
/// result per projection, in their order: a failing one leaves the others' be.
pub async fn rebuild_all(
    projections: &[Box<dyn AnyProjection>],
    store: &EventStore,
    clock: &dyn Clock,
    progress: Progress<'_>,
) -> Vec<Result<Rebuilt, ProjectorError>> {
    rebuild_all_in_chunks(projections, store, clock, progress, CHUNK).await
}

/// [`rebuild_all`] with chunks of `chunk` events instead of [`CHUNK`] (tests:
/// small chunks put one aggregate's events in several).
pub async fn rebuild_all_in_chunks(
    projections: &[Box<dyn AnyProjection>],
    store: &EventStore,
    clock: &dyn Clock,
    progress: Progress<'_>,
    chunk: usize,
) -> Vec<Result<Rebuilt, ProjectorError>> {
    let mut begun = Vec::with_capacity(projections.len());
    for projection in projections {
        begun.push(projection.begin_rebuild(store, clock).await);
    }
    run(begun, store, clock, progress, chunk.max(1)).await
}

/// A rebuild whose generation exists, whatever its projection.
pub trait Rebuilding: Send {
    fn event_types(&self) -> EventTypes;

    /// Applies the shared reading's `feed` (the events of bit `bit` of each
    /// range) up to where it ends.
    fn load<'a>(
        &'a mut self,
        feed: Feed,
        bit: u32,
        chunk: usize,
        progress: &'a (dyn Fn(u64) + Send + Sync),
    ) -> BoxFuture<'a, Result<Step, ProjectorError>>;

    /// Creates the table's indexes, applies what was appended since the load,
    /// and swaps the generation in.
    fn finish<'a>(
        &'a mut self,
        clock: &'a dyn Clock,
        progress: &'a (dyn Fn(u64) + Send + Sync),
    ) -> BoxFuture<'a, Result<Generation, ProjectorError>>;
}

/// The shared reading as one rebuild receives it: ranges of the log, in order.
pub type Feed = mpsc::Receiver<Arc<Range>>;

/// A range `(.., upto]` of the log: the events in it that any rebuild takes.
pub struct Range {
    events: Vec<Raw>,
    upto: u64,
}

/// One projection's rebuild.
pub struct Rebuild<P: Projection> {
    runner: Runner<P>,
}

impl<P: Projection> Rebuild<P> {
    /// Creates the new generation (building, indexes left for after the load).
    pub async fn begin(
        projection: Arc<P>,
        store: &EventStore,
        clock: &dyn Clock,
    ) -> Result<Self, ProjectorError> {
        let name = projection.name();
        let version = projection.version();
        let spec = projection.table();
        let now = clock.now();
        let dialect = store.dialect();
        let generation = store
            .write(move |conn| {
                Box::pin(async move {
                    registry::create(conn, dialect, name, version, spec, Indexes::AfterLoad, now)
                        .await
                })
            })
            .await??;
        let runner = Runner::new(projection, store.clone(), generation, Hooks::default());
        Ok(Self { runner })
    }

    fn replaced(&self) -> ProjectorError {
        ProjectorError::Apply {
            name: self.runner.generation().name.clone(),
            position: self.runner.checkpoint(),
            reason: "another rebuild replaced this one".into(),
        }
    }
}

impl<P: Projection> Rebuilding for Rebuild<P> {
    fn event_types(&self) -> EventTypes {
        self.runner.projection().event_types()
    }

    fn load<'a>(
        &'a mut self,
        feed: Feed,
        bit: u32,
        chunk: usize,
        progress: &'a (dyn Fn(u64) + Send + Sync),
    ) -> BoxFuture<'a, Result<Step, ProjectorError>> {
        Box::pin(async move {
            match load(&mut self.runner, feed, bit, chunk, progress).await? {
                Step::Retired => Err(self.replaced()),
                step => Ok(step),
            }
        })
    }

    fn finish<'a>(
        &'a mut self,
        clock: &'a dyn Clock,
        progress: &'a (dyn Fn(u64) + Send + Sync),
    ) -> BoxFuture<'a, Result<Generation, ProjectorError>> {
        Box::pin(async move {
            // One write task per index: each holds the writer (and SQLite's
            // lock) only for the time one index takes to build.
            let table = self.runner.generation().table();
            let spec = self.runner.projection().table();
            for statement in tables::index_statements(spec, &table) {
                self.runner
                    .store()
                    .write(move |conn| {
                        Box::pin(async move { conn.execute(statement.as_str()).await.map(drop) })
                    })
                    .await??;
            }
            // What was appended since, in runner batches, then the swap.
            loop {
                if self.runner.catch_up(progress).await? == Step::Retired {
                    return Err(self.replaced());
                }
                if self.runner.promote(clock.now()).await? {
                    progress(self.runner.checkpoint());
                    return Ok(self.runner.generation().clone());
                }
            }
        })
    }
}

/// Loads every begun rebuild from one reading of the log, then finishes each.
async fn run(
    begun: Vec<Result<Box<dyn Rebuilding>, ProjectorError>>,
    store: &EventStore,
    clock: &dyn Clock,
    progress: Progress<'_>,
    chunk: usize,
) -> Vec<Result<Rebuilt, ProjectorError>> {
    let started = Instant::now();
    let reports: Vec<_> = (0..begun.len())
        .map(|place| move |checkpoint| progress(place, checkpoint))
        .collect();
    let (mut rebuilds, mut failed): (Vec<_>, Vec<_>) = (Vec::new(), Vec::new());
    for (place, result) in begun.into_iter().enumerate() {
        match result {
            Ok(rebuild) => rebuilds.push((place, rebuild)),
            Err(error) => failed.push((place, Err(error))),
        }
    }
    let loaded = load_together(&mut rebuilds, store, &reports, chunk).await;
    let finishing = rebuilds
        .iter_mut()
        .zip(loaded)
        .map(|((place, rebuild), loaded)| {
            let report = &reports[*place];
            async move {
                let result = match loaded {
                    Ok(_) => rebuild.finish(clock, report).await,
                    Err(error) => Err(error),
                };
                let result = result.map(|generation| Rebuilt {
                    generation,
                    took: started.elapsed(),
                });
                (*place, result)
            }
        });
    let mut results = join_all(finishing).await;
    results.append(&mut failed);
    results.sort_by_key(|(place, _)| *place);
    results.into_iter().map(|(_, result)| result).collect()
}

/// Reads the log up to its head once, feeding every rebuild, while each loads
/// what it takes. One step (or error) per rebuild.
async fn load_together(
    rebuilds: &mut [(usize, Box<dyn Rebuilding>)],
    store: &EventStore,
    reports: &[impl Fn(u64) + Send + Sync],
    chunk: usize,
) -> Vec<Result<Step, ProjectorError>> {
    let prepared = async {
        let head = source::head(store.reader()).await?;
        let log = Log::of(store)?;
        set_temp_store(store, "MEMORY").await?;
        Ok::<_, ProjectorError>((head, log))
    };
    let (head, log) = match prepared.await {
        Ok(prepared) => prepared,
        Err(error) => {
            let reason = error.to_string();
            return rebuilds
                .iter()
                .map(|_| Err(shared_failure(&reason)))
                .collect();
        }
    };
    let readers = Arc::new(Readers::new(
        rebuilds.iter().map(|(_, r)| r.event_types()).collect(),
    ));
    let mut feeds = Vec::with_capacity(rebuilds.len());
    let mut senders = Vec::with_capacity(rebuilds.len());
    for _ in 0..rebuilds.len() {
        // One range waits while the rebuild decodes the next.
        let (sender, feed) = mpsc::channel(1);
        senders.push(sender);
        feeds.push(feed);
    }
    let reader = tokio::spawn(read_ranges(log, readers, head, chunk, senders));
    let loads =
        rebuilds
            .iter_mut()
            .zip(feeds)
            .enumerate()
            .map(|(bit, ((place, rebuild), feed))| {
                rebuild.load(feed, bit as u32, chunk, &reports[*place])
            });
    let steps = join_all(loads).await;
    // A rebuild whose feed ended early (the reader failed) catches up through
    // its runner in `finish`, which reports the error if it persists.
    if let Ok(Err(error)) = reader.await {
        tracing::warn!(%error, "replay's reading of the log stopped; the read models catch up on their own");
    }
    if let Err(error) = set_temp_store(store, "DEFAULT").await {
        let reason = error.to_string();
        return steps
            .into_iter()
            .map(|step| step.and(Err(shared_failure(&reason))))
            .collect();
    }
    steps
}

fn shared_failure(reason: &str) -> ProjectorError {
    ProjectorError::Apply {
        name: "replay".into(),
        position: 0,
        reason: reason.to_owned(),
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

/// Reads `(0, head]` in ranges of `chunk` positions and sends each to every
/// rebuild still listening, in order; stops at the first error, or when none
/// listens.
async fn read_ranges(
    log: Log,
    readers: Arc<Readers>,
    head: u64,
    chunk: usize,
    mut feeds: Vec<mpsc::Sender<Arc<Range>>>,
) -> Result<(), ProjectorError> {
    let mut after = 0;
    while after < head && !feeds.is_empty() {
        let upto = head.min(after + chunk as u64);
        let range = Arc::new(Range {
            events: log.read_raw(&readers, after, upto).await?,
            upto,
        });
        let mut listening = Vec::with_capacity(feeds.len());
        for feed in feeds {
            if feed.send(Arc::clone(&range)).await.is_ok() {
                listening.push(feed);
            }
        }
        feeds = listening;
        after = upto;
    }
    Ok(())
}

/// A chunk of one projection's events up to `upto`.
struct Chunk<P: Projection> {
    events: Events<P>,
    upto: u64,
}

/// Applies the feed to the runner's generation, chunk by chunk, folding the
/// next chunk while the last is written (and decoding the one after). Stops
/// early (returning that step) if the generation was retired or someone else
/// moved its checkpoint: the runner's own catching up takes over from there.
async fn load<P: Projection>(
    runner: &mut Runner<P>,
    feed: Feed,
    bit: u32,
    size: usize,
    progress: &(dyn Fn(u64) + Send + Sync),
) -> Result<Step, ProjectorError> {
    // One chunk waits while one is folded and the next decoded.
    let (sender, mut chunks) = mpsc::channel(1);
    let projection = Arc::clone(runner.projection());
    tokio::spawn(decode_chunks(
        projection,
        feed,
        1 << bit,
        runner.checkpoint(),
        size,
        sender,
    ));
    let Some(first) = chunks.recv().await else {
        return Ok(Step::CaughtUp);
    };
    let Chunk { events, upto } = first?;
    let mut pending = runner.prepare(events, upto, None).await?;
    loop {
        // Dropping the receiver on return stops the decoder at its next chunk.
        let write = runner.write(&pending);
        let next = async {
            match chunks.recv().await {
                None => Ok(None),
                Some(chunk) => {
                    let Chunk { events, upto } = chunk?;
                    runner.prepare(events, upto, Some(&pending)).await.map(Some)
                }
            }
        };
        let (written, next) = tokio::join!(write, next);
        match runner.written(written, &pending)? {
            Step::Applied { checkpoint, .. } => progress(checkpoint),
            other => return Ok(other),
        }
        match next? {
            Some(next) => pending = next,
            None => return Ok(Step::CaughtUp),
        }
    }
}

/// Decodes the feed's events of `mask` after `after`, on a blocking thread, into
/// chunks of at least `size` events (or what is left) and sends them in
/// order; stops at the first error, which it sends too.
async fn decode_chunks<P: Projection>(
    projection: Arc<P>,
    mut feed: Feed,
    mask: u64,
    after: u64,
    size: usize,
    chunks: mpsc::Sender<Result<Chunk<P>, ProjectorError>>,
) {
    let mut events: Events<P> = Vec::new();
    // Decoded up to `reached`, sent up to `sent`.
    let (mut reached, mut sent) = (after, after);
    while let Some(range) = feed.recv().await {
        let projection = Arc::clone(&projection);
        // Decoded onto the end of the chunk being filled, with room made for
        // the range's events at once: a chunk grown event by event is copied
        // whenever it doubles, onto fresh pages the kernel must clear.
        let decoded = tokio::task::spawn_blocking(move || {
            let taken = |raw: &&Raw| raw.readers & mask != 0 && raw.envelope.position > after;
            events.reserve(range.events.iter().filter(taken).count());
            for raw in range.events.iter().filter(taken) {
                events.push(raw.keyed(&*projection)?);
            }
            Ok((events, range.upto))
        })
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
        let upto;
        (events, upto) = match decoded {
            Ok(decoded) => decoded,
            Err(error) => {
                let _ = chunks.send(Err(error)).await;
                return;
            }
        };
        reached = upto;
        // A projection that reads few event types gets few events per range:
        // ranges are joined until the chunk is full, so it commits rarely.
        if events.len() >= size {
            let chunk = Chunk {
                events: std::mem::take(&mut events),
                upto: reached,
            };
            if chunks.send(Ok(chunk)).await.is_err() {
                return;
            }
            sent = reached;
        }
    }
    if reached > sent {
        let _ = chunks
            .send(Ok(Chunk {
                events,
                upto: reached,
            }))
            .await;
    }
}
