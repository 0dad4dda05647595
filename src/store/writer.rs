//! The single writer: owns the one connection that writes, and commits the appends
//! queued while the previous commit was in flight as one transaction (group commit).
//!
//! One durable SQLite commit costs an fsync (~3 ms here), so committing one command
//! at a time caps the store at a few hundred commands per second. Here each job
//! (one command, or one atomic import chunk) runs inside its own SAVEPOINT of a
//! shared `BEGIN IMMEDIATE` transaction: a job refused for a conflict or a reused
//! idempotency key is rolled back alone, the rest of the batch commits, and every
//! job is answered only after the batch's COMMIT returned, i.e. once it is durable.

use std::collections::HashMap;
use std::sync::Arc;

use futures::future::BoxFuture;
use pactum_events::RecordedEvent;
use sqlx::{Acquire, Connection};
use tokio::sync::{mpsc, oneshot, watch};

use crate::metrics::METRICS;

use super::{
    AppendError, AppendOutcome, AppendRequest, Attachment, Db, DbConnection, Dialect, HashInput,
    InlineProjection, StoredResponse, chain_hash,
};

/// How many jobs may wait for the writer before `append` itself waits.
pub(super) const QUEUE_DEPTH: usize = 4096;
/// The most jobs committed in one transaction.
const MAX_BATCH: usize = 512;

pub(super) enum Message {
    Work(Work),
    /// Stop after everything queued before this message; answers once stopped.
    Close(oneshot::Sender<()>),
}

/// One job: it runs in its own SAVEPOINT of the batch's transaction and is
/// answered after the batch's COMMIT.
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
    /// Events it appended (for the head position and metrics).
    appended: Vec<u64>,
}

#[derive(Clone)]
struct Head {
    sequence: u64,
    hash: String,
}

type AggregateKey = (String, String);

pub(super) async fn run(
    conn: DbConnection,
    url: String,
    dialect: Dialect,
    mut messages: mpsc::Receiver<Message>,
    head: Arc<watch::Sender<u64>>,
    inline: Vec<Arc<dyn InlineProjection>>,
) {
    let mut closing = None;
    let mut conn = Some(conn);
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
        let committed = commit_batch(connection, dialect, batch, &inline, &mut done).await;
        if committed.as_ref().is_err_and(lost_connection) {
            tracing::warn!("the event store's writer lost its connection");
            conn = None;
        }
        let outcome = match committed {
            Ok(()) => {
                let positions: Vec<u64> = done
                    .iter()
                    .flat_map(|d| d.appended.iter().copied())
                    .collect();
                METRICS.events_appended.inc_by(positions.len() as u64);
                METRICS.append_batches.inc();
                METRICS.append_batch_jobs.observe(jobs as f64);
                METRICS
                    .commit_duration
                    .observe(started.elapsed().as_secs_f64());
                if let Some(&newest) = positions.iter().max() {
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

/// Runs every job of the batch in its own savepoint and commits the batch. Jobs
/// that ran are pushed to `done` even when the commit then fails, so every caller
/// gets an answer.
async fn commit_batch(
    conn: &mut DbConnection,
    dialect: Dialect,
    batch: Vec<Work>,
    inline: &[Arc<dyn InlineProjection>],
    done: &mut Vec<Done>,
) -> Result<(), sqlx::Error> {
    let (mut tx, head) = match begin(conn, dialect).await {
        Ok(begun) => begun,
        Err(error) => {
            done.extend(batch.into_iter().map(|work| refuse(work, error_of(&error))));
            return Err(error);
        }
    };
    // Positions are given here, in commit order; a job rolled back gives its
    // positions back, so the log stays gap-free.
    let mut next = head + 1;
    let mut heads: HashMap<AggregateKey, Head> = HashMap::new();
    let mut work = batch.into_iter();
    while let Some(job) = work.next() {
        let mut savepoint = match tx.begin().await {
            Ok(savepoint) => savepoint,
            Err(error) => {
                done.push(refuse(job, error_of(&error)));
                done.extend(work.map(|job| refuse(job, error_of(&error))));
                return Err(error);
            }
        };
        let next_before = next;
        let (keep, job_done, staged) =
            run_job(&mut savepoint, job, &heads, &mut next, inline).await;
        let finished = if keep {
            savepoint.commit().await
        } else {
            savepoint.rollback().await
        };
        done.push(job_done);
        if let Err(error) = finished {
            done.extend(work.map(|job| refuse(job, error_of(&error))));
            return Err(error);
        }
        if keep {
            heads.extend(staged);
        } else {
            next = next_before;
        }
    }
    if dialect == Dialect::Postgres && next > head + 1 {
        // Delivered to every node's listener when (and only if) this commits.
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(HEAD_CHANNEL)
            .bind((next - 1).to_string())
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await
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

/// Runs one job; returns whether to keep its writes, its answer, and the
/// aggregate heads it moved.
async fn run_job(
    conn: &mut DbConnection,
    work: Work,
    heads: &HashMap<AggregateKey, Head>,
    next: &mut u64,
    inline: &[Arc<dyn InlineProjection>],
) -> (bool, Done, HashMap<AggregateKey, Head>) {
    let mut staged = HashMap::new();
    match work {
        Work::Append { requests, reply } => {
            let result = append_job(conn, &requests, heads, &mut staged, next, inline).await;
            let keep = result.is_ok();
            let appended = committed_positions(&result);
            let deliver: Deliver = Box::new(move |commit| {
                let _ = reply.send(commit.and(result));
            });
            (keep, Done { deliver, appended }, staged)
        }
        Work::Import { events, reply } => {
            let result = import_job(conn, &events, next, inline).await;
            let keep = result.is_ok();
            let appended = if keep {
                events.iter().map(|e| e.position).collect()
            } else {
                Vec::new()
            };
            let deliver: Deliver = Box::new(move |commit| {
                let _ = reply.send(commit.and(result));
            });
            (keep, Done { deliver, appended }, staged)
        }
        Work::Task(task) => {
            let (keep, deliver) = task(conn).await;
            (
                keep,
                Done {
                    deliver,
                    appended: Vec::new(),
                },
                staged,
            )
        }
    }
}

fn committed_positions(result: &Result<Vec<AppendOutcome>, AppendError>) -> Vec<u64> {
    result
        .iter()
        .flatten()
        .flat_map(|outcome| match outcome {
            AppendOutcome::Committed(events) => events.iter().map(|e| e.position).collect(),
            AppendOutcome::Replayed(_) => Vec::new(),
        })
        .collect()
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
            projection.apply(&mut *conn, event).await?;
        }
    }
    Ok(())
}

async fn append_job(
    conn: &mut DbConnection,
    requests: &[AppendRequest],
    heads: &HashMap<AggregateKey, Head>,
    staged: &mut HashMap<AggregateKey, Head>,
    next: &mut u64,
    inline: &[Arc<dyn InlineProjection>],
) -> Result<Vec<AppendOutcome>, AppendError> {
    let mut outcomes = Vec::with_capacity(requests.len());
    for request in requests {
        if let Some(response) = &request.response
            && let Some(stored) =
                stored_response(&mut *conn, &response.scope, &response.key).await?
        {
            if stored.request_hash != response.request_hash {
                return Err(AppendError::IdempotencyKeyReused {
                    key: response.key.clone(),
                });
            }
            outcomes.push(AppendOutcome::Replayed(stored));
            continue;
        }

        let key = (request.aggregate_type.clone(), request.aggregate_id.clone());
        let head = match staged.get(&key).or_else(|| heads.get(&key)) {
            Some(head) => head.clone(),
            None => read_head(&mut *conn, &key).await?,
        };
        if head.sequence != request.expected_sequence {
            return Err(AppendError::Conflict {
                aggregate_type: request.aggregate_type.clone(),
                aggregate_id: request.aggregate_id.clone(),
                expected: request.expected_sequence,
                actual: head.sequence,
            });
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
            insert_event(
                &mut *conn,
                position,
                &request.aggregate_type,
                &request.aggregate_id,
                sequence,
                &event.event_type,
                event.schema_version,
                recorded_at_us,
                &meta.actor,
                &meta.correlation_id,
                meta.causation_id.as_deref(),
                meta.idempotency_key.as_deref(),
                &payload,
                &hash,
            )
            .await?;
            let event = RecordedEvent {
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
            };
            for projection in inline {
                projection.apply(&mut *conn, &event).await?;
            }
            prev_hash = hash;
            recorded.push(event);
        }

        for attachment in &request.attachments {
            insert_attachment(&mut *conn, attachment, recorded_at_us).await?;
        }
        if let (Some(response), Some(last)) = (&request.response, recorded.last()) {
            sqlx::query(
                "INSERT INTO idempotency (scope, key, request_hash, status, body, position, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&response.scope)
            .bind(&response.key)
            .bind(&response.request_hash)
            .bind(i64::from(response.status))
            .bind(&response.body)
            .bind(last.position as i64)
            .bind(recorded_at_us)
            .execute(&mut *conn)
            .await?;
        }
        staged.insert(
            key,
            Head {
                sequence: request.expected_sequence + recorded.len() as u64,
                hash: prev_hash,
            },
        );
        outcomes.push(AppendOutcome::Committed(recorded));
    }
    Ok(outcomes)
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
