//! The single writer: owns the one connection that writes, and commits the appends
//! queued while the previous commit was in flight as one transaction (group commit).
//!
//! One durable SQLite commit costs an fsync, so committing one command at a time
//! caps the store at a few hundred commands per second. Here a batch of jobs (one
//! command, one atomic import chunk, or one projection write each) shares one
//! transaction, and every job is answered only after the batch's COMMIT returned,
//! i.e. once it is durable.
//!
//! Each command is checked before anything of it is written: its idempotency key,
//! then the sequence it was decided at against its aggregate's head. A refused
//! command (conflict, key reused) writes nothing and fails alone; the others'
//! events are written together, one multi-row INSERT per batch rather than a round
//! trip to the database per event. The heads of aggregates the writer appended to
//! are kept between batches, valid as long as nobody else appends: each batch
//! starts by reading the newest position, and if it is not the writer's own last
//! one, the heads (and the [`AggregateCache`]) are dropped. Imports and projection
//! writes run in a SAVEPOINT of their own. A storage error while writing fails the
//! whole batch: nothing of it is committed and every job gets the error.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use futures::future::BoxFuture;
use pactum_events::RecordedEvent;
use sqlx::{Acquire, Connection};
use tokio::sync::{mpsc, oneshot, watch};

use crate::metrics::METRICS;

use super::cache::AggregateCache;
use super::{
    AppendError, AppendOutcome, AppendRequest, Attachment, Db, DbConnection, Dialect, HashInput,
    InlineProjection, StoredResponse, chain_hash,
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

#[derive(Clone)]
struct Head {
    sequence: u64,
    hash: String,
}

type AggregateKey = (String, String);

/// What the writer knows between batches.
struct Known {
    /// The newest position after the writer's last commit; `None` when unsure
    /// (at start, after a failed batch or an import).
    position: Option<u64>,
    /// Heads of the aggregates the writer appended to or read, as of `position`.
    heads: HashMap<AggregateKey, Head>,
}

pub(super) async fn run(
    conn: DbConnection,
    url: String,
    dialect: Dialect,
    mut messages: mpsc::Receiver<Message>,
    head: Arc<watch::Sender<u64>>,
    inline: Vec<Arc<dyn InlineProjection>>,
    cache: Arc<AggregateCache>,
) {
    let mut closing = None;
    let mut conn = Some(conn);
    let mut known = Known {
        position: None,
        heads: HashMap::new(),
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

/// The batch being built inside the open transaction.
struct Batch {
    /// The position the next appended event gets. Positions are given here, in
    /// commit order; a refused command takes none, so the log stays gap-free.
    next: u64,
    /// Heads of the aggregates appended to in this batch.
    heads: HashMap<AggregateKey, Head>,
    /// Responses stored in this batch, by (scope, key).
    responses: HashMap<(String, String), StoredResponse>,
    /// Appended events and their side rows, not yet written.
    staged: Staged,
    /// Whether a job wrote events the writer did not number itself (an import).
    foreign: bool,
}

#[derive(Default)]
struct Staged {
    events: Vec<RecordedEvent>,
    responses: Vec<(String, String, StoredResponse, i64)>,
    attachments: Vec<(Attachment, i64)>,
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
    }
    let first = head + 1;
    let mut batch = Batch {
        next: first,
        heads: HashMap::new(),
        responses: HashMap::new(),
        staged: Staged::default(),
        foreign: false,
    };
    let mut work = jobs.into_iter();
    while let Some(job) = work.next() {
        let ran = match job {
            Work::Append { requests, reply } => {
                stage_append(&mut tx, requests, reply, &mut batch, known, cache)
                    .await
                    .map(|job| done.push(job))
            }
            Work::Import { events, reply } => {
                let job = Isolated::Import { events, reply };
                isolated(&mut tx, job, &mut batch, inline, done).await
            }
            Work::Task(task) => {
                isolated(&mut tx, Isolated::Task(task), &mut batch, inline, done).await
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
    if batch.foreign {
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

/// Checks one command (all its requests) and stages its events; a refused
/// command stages nothing. Errors only for a storage failure.
async fn stage_append(
    conn: &mut DbConnection,
    requests: Vec<AppendRequest>,
    reply: oneshot::Sender<Result<Vec<AppendOutcome>, AppendError>>,
    batch: &mut Batch,
    known: &mut Known,
    cache: &AggregateCache,
) -> Result<Done, sqlx::Error> {
    let mut staged = Staged::default();
    let mut heads = HashMap::new();
    let mut responses = HashMap::new();
    let mut next = batch.next;
    let mut checked = Ok(Vec::with_capacity(requests.len()));
    for request in &requests {
        let outcome = check_and_stage(
            conn,
            request,
            Scratch {
                batch,
                known,
                heads: &mut heads,
                responses: &mut responses,
                staged: &mut staged,
                next: &mut next,
            },
        )
        .await?;
        match outcome {
            Ok(outcome) => {
                if let Ok(outcomes) = &mut checked {
                    outcomes.push(outcome);
                }
            }
            Err(refused) => {
                if let AppendError::Conflict {
                    aggregate_type,
                    aggregate_id,
                    ..
                } = &refused
                {
                    cache.evict(aggregate_type, aggregate_id);
                }
                checked = Err(refused);
                break;
            }
        }
    }
    let mut appended = Vec::new();
    if let Ok(outcomes) = &checked {
        batch.next = next;
        batch.heads.extend(heads);
        batch.responses.extend(responses);
        batch.staged.events.append(&mut staged.events);
        batch.staged.responses.append(&mut staged.responses);
        batch.staged.attachments.append(&mut staged.attachments);
        for (request, outcome) in requests.iter().zip(outcomes) {
            if let AppendOutcome::Committed(events) = outcome {
                appended.push(Committed {
                    expected_sequence: request.expected_sequence,
                    events: events.clone(),
                });
            }
        }
    }
    let deliver: Deliver = Box::new(move |commit| {
        let _ = reply.send(commit.and(checked));
    });
    Ok(Done { deliver, appended })
}

/// Where one command's checks look and its events go.
struct Scratch<'a> {
    batch: &'a Batch,
    known: &'a mut Known,
    /// Heads moved by the command's earlier requests.
    heads: &'a mut HashMap<AggregateKey, Head>,
    responses: &'a mut HashMap<(String, String), StoredResponse>,
    staged: &'a mut Staged,
    next: &'a mut u64,
}

/// Checks one request's idempotency key and expected sequence, and stages its
/// events. The outer error is a storage failure, the inner one a refusal.
async fn check_and_stage(
    conn: &mut DbConnection,
    request: &AppendRequest,
    scratch: Scratch<'_>,
) -> Result<Result<AppendOutcome, AppendError>, sqlx::Error> {
    let Scratch {
        batch,
        known,
        heads,
        responses,
        staged,
        next,
    } = scratch;
    if let Some(response) = &request.response {
        let scoped = (response.scope.clone(), response.key.clone());
        let stored = match responses
            .get(&scoped)
            .or_else(|| batch.responses.get(&scoped))
        {
            Some(stored) => Some(stored.clone()),
            None => stored_response(&mut *conn, &response.scope, &response.key).await?,
        };
        if let Some(stored) = stored {
            if stored.request_hash != response.request_hash {
                return Ok(Err(AppendError::IdempotencyKeyReused {
                    key: response.key.clone(),
                }));
            }
            return Ok(Ok(AppendOutcome::Replayed(stored)));
        }
    }

    let key = (request.aggregate_type.clone(), request.aggregate_id.clone());
    let head = match heads
        .get(&key)
        .or_else(|| batch.heads.get(&key))
        .or_else(|| known.heads.get(&key))
    {
        Some(head) => head.clone(),
        None => {
            let head = read_head(&mut *conn, &key).await?;
            known.heads.insert(key.clone(), head.clone());
            head
        }
    };
    if head.sequence != request.expected_sequence {
        return Ok(Err(AppendError::Conflict {
            aggregate_type: request.aggregate_type.clone(),
            aggregate_id: request.aggregate_id.clone(),
            expected: request.expected_sequence,
            actual: head.sequence,
        }));
    }

    let meta = &request.meta;
    let recorded_at_us = meta.recorded_at.as_microsecond();
    let mut prev_hash = head.hash;
    let mut recorded = Vec::with_capacity(request.events.len());
    for (offset, event) in request.events.iter().enumerate() {
        let sequence = request.expected_sequence + 1 + offset as u64;
        let payload = event.payload.to_string();
        let hash = chain_hash(
            &prev_hash,
            &HashInput {
                aggregate_type: &request.aggregate_type,
                aggregate_id: &request.aggregate_id,
                sequence,
                event_type: &event.event_type,
                schema_version: event.schema_version,
                recorded_at_us,
                actor_subject: &meta.actor.subject,
                actor_role: &meta.actor.role,
                actor_org: meta.actor.org.as_deref(),
                correlation_id: &meta.correlation_id,
                causation_id: meta.causation_id.as_deref(),
                idempotency_key: meta.idempotency_key.as_deref(),
                payload: &payload,
            },
        );
        let position = *next;
        *next += 1;
        recorded.push(RecordedEvent {
            position,
            aggregate_type: request.aggregate_type.clone(),
            aggregate_id: request.aggregate_id.clone(),
            sequence,
            event_type: event.event_type.clone(),
            schema_version: event.schema_version,
            recorded_at: meta.recorded_at,
            actor: meta.actor.clone(),
            correlation_id: meta.correlation_id.clone(),
            causation_id: meta.causation_id.clone(),
            idempotency_key: meta.idempotency_key.clone(),
            payload: event.payload.clone(),
            hash: hash.clone(),
        });
        prev_hash = hash;
    }
    staged.events.extend(recorded.iter().cloned());
    staged.attachments.extend(
        request
            .attachments
            .iter()
            .map(|attachment| (attachment.clone(), recorded_at_us)),
    );
    if let (Some(response), Some(last)) = (&request.response, recorded.last()) {
        let stored = StoredResponse {
            request_hash: response.request_hash.clone(),
            status: response.status,
            body: response.body.clone(),
            position: last.position,
        };
        let scoped = (response.scope.clone(), response.key.clone());
        responses.insert(scoped.clone(), stored.clone());
        staged
            .responses
            .push((scoped.0, scoped.1, stored, recorded_at_us));
    }
    heads.insert(
        key,
        Head {
            sequence: request.expected_sequence + recorded.len() as u64,
            hash: prev_hash,
        },
    );
    Ok(Ok(AppendOutcome::Committed(recorded)))
}

/// Writes the staged events (a few multi-row INSERTs), their inline projections,
/// stored responses and attachments.
async fn flush(
    conn: &mut DbConnection,
    staged: &mut Staged,
    inline: &[Arc<dyn InlineProjection>],
) -> Result<(), sqlx::Error> {
    let events = std::mem::take(&mut staged.events);
    let mut rest = events.as_slice();
    while !rest.is_empty() {
        // Statements of 64, 32, ... 1 rows: a handful of distinct statements to
        // prepare once, whatever the batch's size.
        let rows = INSERT_ROWS
            .iter()
            .copied()
            .find(|&rows| rows <= rest.len())
            .expect("one row always fits");
        let (chunk, after) = rest.split_at(rows);
        insert_events(&mut *conn, chunk).await?;
        rest = after;
    }
    for event in &events {
        for projection in inline {
            projection.apply(&mut *conn, event).await?;
        }
    }
    for (scope, key, stored, at_us) in std::mem::take(&mut staged.responses) {
        sqlx::query(
            "INSERT INTO idempotency (scope, key, request_hash, status, body, position, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(scope)
        .bind(key)
        .bind(stored.request_hash)
        .bind(i64::from(stored.status))
        .bind(stored.body)
        .bind(stored.position as i64)
        .bind(at_us)
        .execute(&mut *conn)
        .await?;
    }
    for (attachment, at_us) in std::mem::take(&mut staged.attachments) {
        insert_attachment(&mut *conn, &attachment, at_us).await?;
    }
    Ok(())
}

/// Row counts of the multi-row event INSERTs.
const INSERT_ROWS: [usize; 7] = [64, 32, 16, 8, 4, 2, 1];

const EVENT_INSERT_COLUMNS: usize = 15;

/// `INSERT INTO events ... VALUES (...), (...)` for each of [`INSERT_ROWS`].
static INSERT_SQL: LazyLock<Vec<(usize, String)>> = LazyLock::new(|| {
    INSERT_ROWS
        .iter()
        .map(|&rows| {
            let values: Vec<String> = (0..rows)
                .map(|row| {
                    let placeholders: Vec<String> = (1..=EVENT_INSERT_COLUMNS)
                        .map(|column| format!("${}", row * EVENT_INSERT_COLUMNS + column))
                        .collect();
                    format!("({})", placeholders.join(", "))
                })
                .collect();
            (
                rows,
                format!(
                    "INSERT INTO events (position, aggregate_type, aggregate_id, sequence, \
                     event_type, schema_version, recorded_at, actor_subject, actor_role, \
                     actor_org, correlation_id, causation_id, idempotency_key, payload, hash) \
                     VALUES {}",
                    values.join(", ")
                ),
            )
        })
        .collect()
});

/// Inserts events in one statement; `events.len()` is one of [`INSERT_ROWS`].
async fn insert_events(
    conn: &mut DbConnection,
    events: &[RecordedEvent],
) -> Result<(), sqlx::Error> {
    let sql = INSERT_SQL
        .iter()
        .find(|(rows, _)| *rows == events.len())
        .map(|(_, sql)| sql.as_str())
        .expect("a statement for each row count");
    let mut query = sqlx::query(sql);
    for event in events {
        query = query
            .bind(event.position as i64)
            .bind(event.aggregate_type.as_str())
            .bind(event.aggregate_id.as_str())
            .bind(event.sequence as i64)
            .bind(event.event_type.as_str())
            .bind(i64::from(event.schema_version))
            .bind(event.recorded_at.as_microsecond())
            .bind(event.actor.subject.as_str())
            .bind(event.actor.role.as_str())
            .bind(event.actor.org.as_deref())
            .bind(event.correlation_id.as_str())
            .bind(event.causation_id.as_deref())
            .bind(event.idempotency_key.as_deref())
            .bind(event.payload.to_string())
            .bind(event.hash.as_str());
    }
    query.execute(conn).await?;
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
async fn isolated(
    tx: &mut DbConnection,
    job: Isolated,
    batch: &mut Batch,
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
                batch.foreign = true;
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

/// Inserts recorded events exactly as they are, positions and hashes included.
/// Inserts one event row.
#[allow(clippy::too_many_arguments)]
async fn insert_event(
    conn: &mut DbConnection,
    position: u64,
    aggregate_type: &str,
    aggregate_id: &str,
    sequence: u64,
    event_type: &str,
    schema_version: u32,
    recorded_at_us: i64,
    actor: &pactum_events::Actor,
    correlation_id: &str,
    causation_id: Option<&str>,
    idempotency_key: Option<&str>,
    payload: &str,
    hash: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO events (position, aggregate_type, aggregate_id, sequence, event_type, \
         schema_version, recorded_at, actor_subject, actor_role, actor_org, \
         correlation_id, causation_id, idempotency_key, payload, hash) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
    )
    .bind(position as i64)
    .bind(aggregate_type)
    .bind(aggregate_id)
    .bind(sequence as i64)
    .bind(event_type)
    .bind(i64::from(schema_version))
    .bind(recorded_at_us)
    .bind(&actor.subject)
    .bind(&actor.role)
    .bind(&actor.org)
    .bind(correlation_id)
    .bind(causation_id)
    .bind(idempotency_key)
    .bind(payload)
    .bind(hash)
    .execute(conn)
    .await?;
    Ok(())
}

/// Inserts recorded events exactly as they are, positions and hashes included;
/// their positions must continue the log.
async fn import_job(
    conn: &mut DbConnection,
    events: &[RecordedEvent],
    next: &mut u64,
    inline: &[Arc<dyn InlineProjection>],
) -> Result<(), AppendError> {
    for event in events {
        if event.position != *next {
            return Err(AppendError::Storage(Arc::new(sqlx::Error::Protocol(
                format!(
                    "imported position {} does not continue the log at {}",
                    event.position, next
                ),
            ))));
        }
        *next += 1;
        insert_event(
            conn,
            event.position,
            &event.aggregate_type,
            &event.aggregate_id,
            event.sequence,
            &event.event_type,
            event.schema_version,
            event.recorded_at.as_microsecond(),
            &event.actor,
            &event.correlation_id,
            event.causation_id.as_deref(),
            event.idempotency_key.as_deref(),
            &event.payload.to_string(),
            &event.hash,
        )
        .await?;
        for projection in inline {
            projection.apply_imported(&mut *conn, event).await?;
        }
    }
    Ok(())
}

pub(super) async fn insert_attachment(
    conn: &mut DbConnection,
    attachment: &Attachment,
    at_us: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO documents (sha256, media_type, size, bytes, created_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (sha256) DO NOTHING",
    )
    .bind(&attachment.sha256)
    .bind(&attachment.media_type)
    .bind(attachment.bytes.len() as i64)
    .bind(attachment.bytes.as_slice())
    .bind(at_us)
    .execute(conn)
    .await?;
    Ok(())
}

async fn read_head(conn: &mut DbConnection, key: &AggregateKey) -> Result<Head, sqlx::Error> {
    let row: Option<(i64, String)> = sqlx::query_as(
        "SELECT sequence, hash FROM events WHERE aggregate_type = $1 AND aggregate_id = $2 \
         ORDER BY sequence DESC LIMIT 1",
    )
    .bind(&key.0)
    .bind(&key.1)
    .fetch_optional(conn)
    .await?;
    Ok(row.map_or(
        Head {
            sequence: 0,
            hash: String::new(),
        },
        |(sequence, hash)| Head {
            sequence: sequence as u64,
            hash,
        },
    ))
}

pub(super) async fn stored_response<'e, E>(
    executor: E,
    scope: &str,
    key: &str,
) -> Result<Option<StoredResponse>, sqlx::Error>
where
    E: sqlx::Executor<'e, Database = Db>,
{
    let row: Option<(String, i64, String, i64)> = sqlx::query_as(
        "SELECT request_hash, status, body, position FROM idempotency WHERE scope = $1 AND key = $2",
    )
    .bind(scope)
    .bind(key)
    .fetch_optional(executor)
    .await?;
    Ok(
        row.map(|(request_hash, status, body, position)| StoredResponse {
            request_hash,
            status: status as u16,
            body,
            position: position as u64,
        }),
    )
}
