//! The single writer: owns the one connection that writes, and commits the appends
//! queued while the previous commit was in flight as one transaction (group commit).
//!
//! One durable SQLite commit costs an fsync, so committing one command at a time
//! caps the store at a few hundred commands per second. Here a batch of jobs (one
//! command, one atomic import chunk, or one projection write each) shares one
//! transaction, and every job is answered only after the batch's COMMIT returned,
//! i.e. once it is durable.
//!
//! Each command is checked before anything of it is written ([`stage`]): its
//! idempotency key, then the sequence it was decided at against its aggregate's
//! head. A refused command (conflict, key reused) writes nothing and fails alone;
//! the others' events are written together, a few multi-row INSERTs per batch
//! ([`rows::insert_events`], also the way imported events go in) rather than a
//! round trip to the database per event. The heads of aggregates the writer
//! appended to are kept between batches, valid as long as nobody else appends:
//! each batch starts by reading the newest position, and if it is not the
//! writer's own last one, the heads (and the [`AggregateCache`]) are dropped.
//! Imports and projection writes run in a SAVEPOINT of their own. A storage error while writing fails the
//! whole batch: nothing of it is committed and every job gets the error.

use std::collections::HashMap;
use std::sync::Arc;

use futures::future::BoxFuture;
use pactum_events::RecordedEvent;
use sqlx::{Acquire, Connection};
use tokio::sync::{mpsc, oneshot, watch};

use crate::metrics::METRICS;

use super::cache::AggregateCache;
use super::rows;
use super::stage::{self, AggregateKey, Batch, Head, Staged};
use super::types::TypeIndex;
use super::{
    AppendError, AppendOutcome, AppendRequest, Db, DbConnection, Dialect, InlineProjection,
};

/// How many jobs may wait for the writer before `append` itself waits.
pub(super) const QUEUE_DEPTH: usize = 4096;
/// The most jobs committed in one transaction.
const MAX_BATCH: usize = 512;
/// The most aggregate heads kept between batches (all are dropped beyond it).
const MAX_HEADS: usize = 65_536;

pub(super) enum Message {
    Work(Work),
    /// Stop after everything queued before this message; answers once stopped.
    Close(oneshot::Sender<()>),
}

/// One job of a batch, answered after the batch's COMMIT.
pub(super) enum Work {
    /// Events decided by commands (see [`AppendRequest`]).
    Append {
        requests: Vec<AppendRequest>,
        reply: oneshot::Sender<Result<Vec<AppendOutcome>, AppendError>>,
    },
    /// Events recorded elsewhere, kept exactly as they are (`pactum import`).
    Import {
        events: Vec<RecordedEvent>,
        reply: oneshot::Sender<Result<(), AppendError>>,
    },
    /// Arbitrary writes that must share the writer's connection (projection
    /// batches with their checkpoints).
    Task(Task),
}

/// Called after the batch's COMMIT with its outcome.
pub(super) type Deliver = Box<dyn FnOnce(Result<(), AppendError>) + Send>;

/// A write task: returns whether to keep its writes, and how to answer its caller.
pub(super) type Task =
    Box<dyn for<'c> FnOnce(&'c mut DbConnection) -> BoxFuture<'c, (bool, Deliver)> + Send>;

/// What one job did inside the batch.
struct Done {
    deliver: Deliver,
    /// The events it appended, by request (for the head, the cache and metrics).
    appended: Vec<Committed>,
}

/// One request's committed events, decided at `expected_sequence`.
struct Committed {
    expected_sequence: u64,
    events: Vec<RecordedEvent>,
}

/// What the writer knows between batches.
struct Known {
    /// The newest position after the writer's last commit; `None` when unsure
    /// (at start, after a failed batch or an import).
    position: Option<u64>,
    /// Heads of the aggregates the writer appended to or read, as of `position`.
    heads: HashMap<AggregateKey, Head>,
    /// The event types it appended lately, for the store's readers.
    types: Arc<TypeIndex>,
}

/// What the writer keeps for the store's readers.
pub(super) struct Shared {
    pub(super) head: Arc<watch::Sender<u64>>,
    pub(super) cache: Arc<AggregateCache>,
    pub(super) types: Arc<TypeIndex>,
}

pub(super) async fn run(
    conn: DbConnection,
    url: String,
    dialect: Dialect,
    mut messages: mpsc::Receiver<Message>,
    inline: Vec<Arc<dyn InlineProjection>>,
    shared: Shared,
) {
    let Shared { head, cache, types } = shared;
    let mut closing = None;
    let mut conn = Some(conn);
    let mut known = Known {
        position: None,
        heads: HashMap::new(),
        types: Arc::clone(&types),
    };
    while closing.is_none() {
        let Some(first) = messages.recv().await else {
            break;
        };
        let mut batch = match first {
            Message::Work(work) => vec![work],
            Message::Close(done) => {
                closing = Some(done);
                break;
            }
        };
        while batch.len() < MAX_BATCH {
            match messages.try_recv() {
                Ok(Message::Work(work)) => batch.push(work),
                Ok(Message::Close(done)) => {
                    closing = Some(done);
                    break;
                }
                Err(_) => break,
            }
        }
        let jobs = batch.len();
        let started = std::time::Instant::now();
        let mut done = Vec::with_capacity(jobs);
        // A connection lost with the database is opened again for the next batch;
        // while the database is down, each batch fails at once (no queue builds up).
        if conn.is_none() {
            match super::connect(dialect, &url).await {
                Ok(reopened) => {
                    tracing::info!("the event store's writer reconnected");
                    conn = Some(reopened);
                }
                Err(error) => {
                    let refused = error_of(&error);
                    for work in batch {
                        (refuse(work, refused.clone()).deliver)(Err(refused.clone()));
                    }
                    continue;
                }
            }
        }
        let connection = conn.as_mut().expect("connected above");
        let committed = commit_batch(
            connection, dialect, batch, &inline, &mut known, &cache, &mut done,
        )
        .await;
        if committed.as_ref().is_err_and(lost_connection) {
            tracing::warn!("the event store's writer lost its connection");
            conn = None;
        }
        let outcome = match committed {
            Ok(()) => {
                let mut appended = 0;
                let mut newest = None;
                for committed in done.iter().flat_map(|d| &d.appended) {
                    cache.committed(committed.expected_sequence, &committed.events);
                    appended += committed.events.len();
                    newest = newest.max(committed.events.last().map(|e| e.position));
                }
                // Before the head moves, so whoever it wakes finds them.
                // Staged in position order (a stretch out of order would make
                // the index forget, never guess).
                if known.position.is_some() {
                    types.committed(
                        done.iter()
                            .flat_map(|d| &d.appended)
                            .flat_map(|c| &c.events),
                    );
                } else {
                    types.forget();
                }
                METRICS.events_appended.inc_by(appended as u64);
                METRICS.append_batches.inc();
                METRICS.append_batch_jobs.observe(jobs as f64);
                METRICS
                    .commit_duration
                    .observe(started.elapsed().as_secs_f64());
                if let Some(newest) = newest {
                    METRICS.head_position.set(newest as i64);
                    head.send_if_modified(|current| {
                        let moved = newest > *current;
                        *current = (*current).max(newest);
                        moved
                    });
                }
                Ok(())
            }
            Err(error) => {
                tracing::error!(%error, jobs, "commit of a batch failed");
                known.position = None;
                forget(&inline);
                Err(AppendError::from(error))
            }
        };
        for job in done {
            // The caller may have gone away; what was committed stays committed.
            (job.deliver)(outcome.clone());
        }
    }
    // Appends sent after the close find the channel shut and fail as `Closed`.
    messages.close();
    drop(conn);
    if let Some(done) = closing {
        let _ = done.send(());
    }
}

/// The PostgreSQL notification channel on which each commit announces the newest
/// position, so every node's head (and the projectors, feeds and relay that
/// follow it) moves when any node appends.
pub(super) const HEAD_CHANNEL: &str = "pactum_head";

/// The advisory lock that serialises appends on PostgreSQL ("pactum" in ASCII).
pub const APPEND_LOCK: i64 = 0x7061_6374_756d;

/// Opens the batch's transaction holding the log's write lock, and reads the
/// newest position. On SQLite, `BEGIN IMMEDIATE` takes the file's write lock
/// (another process writing waits, busy_timeout, instead of failing at the first
/// INSERT). On PostgreSQL, a transaction-scoped advisory lock makes appends from
/// every node take turns: positions are then given in commit order, gap-free, and
/// a reader catching up by position can never skip an event committed late
/// (docs/adr/0008).
async fn begin<'c>(
    conn: &'c mut DbConnection,
    dialect: Dialect,
) -> Result<(sqlx::Transaction<'c, Db>, u64), sqlx::Error> {
    let mut tx = match dialect {
        Dialect::Sqlite => conn.begin_with("BEGIN IMMEDIATE").await?,
        Dialect::Postgres => {
            let mut tx = sqlx::Connection::begin(conn).await?;
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(APPEND_LOCK)
                .execute(&mut *tx)
                .await?;
            tx
        }
    };
    let head: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(position), 0) FROM events")
        .fetch_one(&mut *tx)
        .await?;
    Ok((tx, head as u64))
}

/// Runs every job of the batch and commits it. Jobs that ran are pushed to
/// `done` even when the commit then fails, so every caller gets an answer.
async fn commit_batch(
    conn: &mut DbConnection,
    dialect: Dialect,
    jobs: Vec<Work>,
    inline: &[Arc<dyn InlineProjection>],
    known: &mut Known,
    cache: &AggregateCache,
    done: &mut Vec<Done>,
) -> Result<(), sqlx::Error> {
    let (mut tx, head) = match begin(conn, dialect).await {
        Ok(begun) => begun,
        Err(error) => {
            done.extend(jobs.into_iter().map(|work| refuse(work, error_of(&error))));
            return Err(error);
        }
    };
    if known.position != Some(head) {
        // Someone else appended since this writer's last commit (or it does not
        // know): what it remembers of aggregates may be stale.
        known.heads.clear();
        cache.clear();
        forget(inline);
        known.types.restart_at(head);
    }
    let first = head + 1;
    let mut batch = Batch::starting_at(first);
    // Whether a job wrote events the writer did not number itself (an import).
    let mut foreign = false;
    // Write tasks (projectors' batches, mostly) run after the commands: they
    // came in concurrently, so any order is one they could have arrived in,
    // and the commands' events are then written in one go rather than once
    // before each task (a task sees what is staged before it).
    let (tasks, jobs): (Vec<Work>, Vec<Work>) = jobs
        .into_iter()
        .partition(|job| matches!(job, Work::Task(_)));
    let mut work = jobs.into_iter().chain(tasks);
    while let Some(job) = work.next() {
        let ran = match job {
            Work::Append { requests, reply } => {
                stage_append(&mut tx, requests, reply, &mut batch, known, cache)
                    .await
                    .map(|job| done.push(job))
            }
            Work::Import { events, reply } => {
                let job = Isolated::Import { events, reply };
                isolated(&mut tx, job, &mut batch, &mut foreign, inline, done).await
            }
            Work::Task(task) => {
                let job = Isolated::Task(task);
                isolated(&mut tx, job, &mut batch, &mut foreign, inline, done).await
            }
        };
        if let Err(error) = ran {
            done.extend(work.map(|job| refuse(job, error_of(&error))));
            return Err(error);
        }
    }
    flush(&mut tx, &mut batch.staged, inline).await?;
    if dialect == Dialect::Postgres && batch.next > first {
        // Delivered to every node's listener when (and only if) this commits.
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(HEAD_CHANNEL)
            .bind((batch.next - 1).to_string())
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    if foreign {
        known.position = None;
    } else {
        if known.heads.len() + batch.heads.len() > MAX_HEADS {
            known.heads.clear();
        }
        known.heads.extend(batch.heads);
        known.position = Some(batch.next - 1);
    }
    Ok(())
}

/// Checks one command (all its requests) and stages its events ([`stage`]); a
/// refused command stages nothing, and a conflict drops the aggregate from the
/// cache. Errors only for a storage failure.
async fn stage_append(
    conn: &mut DbConnection,
    requests: Vec<AppendRequest>,
    reply: oneshot::Sender<Result<Vec<AppendOutcome>, AppendError>>,
    batch: &mut Batch,
    known: &mut Known,
    cache: &AggregateCache,
) -> Result<Done, sqlx::Error> {
    let checked = match stage::stage_command(conn, &requests, batch, &mut known.heads).await {
        Ok(checked) => checked,
        Err(error) => {
            // The batch fails with this error; its caller hears it too.
            let _ = reply.send(Err(error_of(&error)));
            return Err(error);
        }
    };
    let mut appended = Vec::new();
    match &checked {
        Ok(outcomes) => {
            for (request, outcome) in requests.iter().zip(outcomes) {
                if let AppendOutcome::Committed(events) = outcome {
                    appended.push(Committed {
                        expected_sequence: request.expected_sequence,
                        events: events.clone(),
                    });
                }
            }
        }
        Err(AppendError::Conflict {
            aggregate_type,
            aggregate_id,
            ..
        }) => cache.evict(aggregate_type, aggregate_id),
        Err(_) => {}
    }
    let deliver: Deliver = Box::new(move |commit| {
        let _ = reply.send(commit.and(checked));
    });
    Ok(Done { deliver, appended })
}

/// Writes the staged events, their inline projections, stored responses and
/// attachments.
async fn flush(
    conn: &mut DbConnection,
    staged: &mut Staged,
    inline: &[Arc<dyn InlineProjection>],
) -> Result<(), sqlx::Error> {
    let events = std::mem::take(&mut staged.events);
    let history = std::mem::take(&mut staged.history);
    rows::insert_events(&mut *conn, &events).await?;
    for (event, history) in events.iter().zip(history) {
        for projection in inline {
            let applied = if history {
                projection.apply_imported(&mut *conn, event).await
            } else {
                projection.apply(&mut *conn, event).await
            };
            applied.map_err(super::inline_failure)?;
        }
    }
    for (scope, key, stored, at_us) in std::mem::take(&mut staged.responses) {
        rows::insert_response(&mut *conn, scope, key, stored, at_us).await?;
    }
    for (attachment, at_us) in std::mem::take(&mut staged.attachments) {
        rows::insert_attachment(&mut *conn, &attachment, at_us).await?;
    }
    Ok(())
}

/// A job that runs in a savepoint of its own.
enum Isolated {
    Import {
        events: Vec<RecordedEvent>,
        reply: oneshot::Sender<Result<(), AppendError>>,
    },
    Task(Task),
}

/// Writes what is staged (an import or a task sees the commands before it), then
/// runs `job` in a savepoint: kept if it succeeds, rolled back alone if it fails.
/// An import that is kept sets `foreign`.
async fn isolated(
    tx: &mut DbConnection,
    job: Isolated,
    batch: &mut Batch,
    foreign: &mut bool,
    inline: &[Arc<dyn InlineProjection>],
    done: &mut Vec<Done>,
) -> Result<(), sqlx::Error> {
    let begun = match flush(&mut *tx, &mut batch.staged, inline).await {
        Ok(()) => Acquire::begin(&mut *tx).await,
        Err(error) => Err(error),
    };
    let mut savepoint = match begun {
        Ok(savepoint) => savepoint,
        Err(error) => {
            let work = match job {
                Isolated::Import { events, reply } => Work::Import { events, reply },
                Isolated::Task(task) => Work::Task(task),
            };
            done.push(refuse(work, error_of(&error)));
            return Err(error);
        }
    };
    let (keep, deliver) = match job {
        Isolated::Import { events, reply } => {
            let mut next = batch.next;
            let result = import_job(&mut savepoint, &events, &mut next, inline).await;
            if result.is_ok() {
                batch.next = next;
                *foreign = true;
            } else {
                // Its inline projections' writes are rolled back below.
                forget(inline);
            }
            let keep = result.is_ok();
            let deliver: Deliver = Box::new(move |commit| {
                let _ = reply.send(commit.and(result));
            });
            (keep, deliver)
        }
        Isolated::Task(task) => task(&mut savepoint).await,
    };
    let finished = if keep {
        savepoint.commit().await
    } else {
        savepoint.rollback().await
    };
    done.push(Done {
        deliver,
        appended: Vec::new(),
    });
    finished
}

/// Tells the inline projections that what they remember may be stale.
fn forget(inline: &[Arc<dyn InlineProjection>]) {
    for projection in inline {
        projection.forget();
    }
}

/// Whether an error means the connection itself is gone (the server stopped or
/// restarted), rather than a statement failing.
fn lost_connection(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolClosed
        | sqlx::Error::Protocol(_) => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            // PostgreSQL: admin shutdown, crash shutdown, cannot connect now.
            matches!(code.as_ref(), "57P01" | "57P02" | "57P03")
        }),
        _ => false,
    }
}

fn error_of(error: &sqlx::Error) -> AppendError {
    AppendError::Storage(Arc::new(sqlx::Error::Protocol(error.to_string())))
}

/// Answers a job that never ran.
fn refuse(work: Work, error: AppendError) -> Done {
    let deliver: Deliver = match work {
        Work::Append { reply, .. } => Box::new(move |_| {
            let _ = reply.send(Err(error));
        }),
        Work::Import { reply, .. } => Box::new(move |_| {
            let _ = reply.send(Err(error));
        }),
        Work::Task(task) => {
            // A task answers through its own deliver; a task that cannot run is
            // answered with the error by dropping its reply channel.
            drop(task);
            Box::new(|_| {})
        }
    };
    Done {
        deliver,
        appended: Vec::new(),
    }
}

/// Inserts recorded events exactly as they are, positions and hashes included,
/// through the same INSERTs as appended events; their positions must continue
/// the log. Events before the first that does not are inserted (the savepoint
/// the import runs in is then rolled back), so storage errors come first, as
/// they would one event at a time.
async fn import_job(
    conn: &mut DbConnection,
    events: &[RecordedEvent],
    next: &mut u64,
    inline: &[Arc<dyn InlineProjection>],
) -> Result<(), AppendError> {
    let continuing = events
        .iter()
        .zip(*next..)
        .take_while(|(event, position)| event.position == *position)
        .count();
    let (valid, rest) = events.split_at(continuing);
    rows::insert_events(&mut *conn, valid).await?;
    for event in valid {
        for projection in inline {
            projection
                .apply_imported(&mut *conn, event)
                .await
                .map_err(super::inline_failure)?;
        }
    }
    *next += continuing as u64;
    if let Some(event) = rest.first() {
        return Err(AppendError::Storage(Arc::new(sqlx::Error::Protocol(
            format!(
                "imported position {} does not continue the log at {}",
                event.position, next
            ),
        ))));
    }
    Ok(())
}
