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

use pactum_events::RecordedEvent;
use sqlx::sqlite::{Sqlite, SqliteConnection};
use sqlx::{Acquire, Connection};
use tokio::sync::{mpsc, oneshot, watch};

use crate::metrics::METRICS;

use super::{
    AppendError, AppendOutcome, AppendRequest, HashInput, InlineProjection, StoredResponse,
    chain_hash,
};

/// How many jobs may wait for the writer before `append` itself waits.
pub(super) const QUEUE_DEPTH: usize = 4096;
/// The most jobs committed in one transaction.
const MAX_BATCH: usize = 512;

pub(super) enum Message {
    Append(Job),
    /// Stop after everything queued before this message; answers once stopped.
    Close(oneshot::Sender<()>),
}

pub(super) struct Job {
    pub requests: Vec<AppendRequest>,
    pub reply: oneshot::Sender<Result<Vec<AppendOutcome>, AppendError>>,
}

#[derive(Clone)]
struct Head {
    sequence: u64,
    hash: String,
}

type AggregateKey = (String, String);

pub(super) async fn run(
    mut conn: SqliteConnection,
    mut messages: mpsc::Receiver<Message>,
    head: watch::Sender<u64>,
    inline: Vec<Arc<dyn InlineProjection>>,
) {
    let mut closing = None;
    while closing.is_none() {
        let Some(first) = messages.recv().await else {
            break;
        };
        let mut batch = match first {
            Message::Append(job) => vec![job],
            Message::Close(done) => {
                closing = Some(done);
                break;
            }
        };
        while batch.len() < MAX_BATCH {
            match messages.try_recv() {
                Ok(Message::Append(job)) => batch.push(job),
                Ok(Message::Close(done)) => {
                    closing = Some(done);
                    break;
                }
                Err(_) => break,
            }
        }
        let started = std::time::Instant::now();
        let results = match commit_batch(&mut conn, &batch, &inline).await {
            Ok(results) => {
                record_batch(&batch, &results, started.elapsed());
                results
            }
            Err(error) => {
                tracing::error!(%error, jobs = batch.len(), "commit of a batch failed");
                let error = AppendError::from(error);
                batch.iter().map(|_| Err(error.clone())).collect()
            }
        };
        let newest = results
            .iter()
            .flatten()
            .flatten()
            .filter_map(|outcome| match outcome {
                AppendOutcome::Committed(events) => events.last().map(|e| e.position),
                AppendOutcome::Replayed(_) => None,
            })
            .max();
        if let Some(newest) = newest {
            METRICS.head_position.set(newest as i64);
            head.send_if_modified(|current| {
                let moved = newest > *current;
                *current = (*current).max(newest);
                moved
            });
        }
        for (job, result) in batch.into_iter().zip(results) {
            // The caller may have gone away; its events are committed regardless.
            let _ = job.reply.send(result);
        }
    }
    // Appends sent after the close find the channel shut and fail as `Closed`.
    messages.close();
    drop(conn);
    if let Some(done) = closing {
        let _ = done.send(());
    }
}

fn record_batch(
    batch: &[Job],
    results: &[Result<Vec<AppendOutcome>, AppendError>],
    elapsed: std::time::Duration,
) {
    let events: usize = results
        .iter()
        .flatten()
        .flatten()
        .map(|outcome| match outcome {
            AppendOutcome::Committed(events) => events.len(),
            AppendOutcome::Replayed(_) => 0,
        })
        .sum();
    METRICS.events_appended.inc_by(events as u64);
    METRICS.append_batches.inc();
    METRICS.append_batch_jobs.observe(batch.len() as f64);
    METRICS.commit_duration.observe(elapsed.as_secs_f64());
}

async fn commit_batch(
    conn: &mut SqliteConnection,
    batch: &[Job],
    inline: &[Arc<dyn InlineProjection>],
) -> Result<Vec<Result<Vec<AppendOutcome>, AppendError>>, sqlx::Error> {
    // IMMEDIATE takes the write lock up front: another process writing the same
    // file makes us wait (busy_timeout) instead of failing at the first INSERT.
    let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
    let mut heads: HashMap<AggregateKey, Head> = HashMap::new();
    let mut results = Vec::with_capacity(batch.len());
    for job in batch {
        let mut savepoint = tx.begin().await?;
        let mut staged = HashMap::new();
        match append_job(&mut savepoint, &job.requests, &heads, &mut staged, inline).await {
            Ok(outcomes) => {
                savepoint.commit().await?;
                heads.extend(staged);
                results.push(Ok(outcomes));
            }
            Err(refusal) => {
                savepoint.rollback().await?;
                results.push(Err(refusal));
            }
        }
    }
    tx.commit().await?;
    Ok(results)
}

async fn append_job(
    conn: &mut SqliteConnection,
    requests: &[AppendRequest],
    heads: &HashMap<AggregateKey, Head>,
    staged: &mut HashMap<AggregateKey, Head>,
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
            let position: i64 = sqlx::query_scalar(
                "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, \
                 schema_version, recorded_at, actor_subject, actor_role, actor_org, \
                 correlation_id, causation_id, idempotency_key, payload, hash) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING position",
            )
            .bind(&request.aggregate_type)
            .bind(&request.aggregate_id)
            .bind(sequence as i64)
            .bind(&event.event_type)
            .bind(event.schema_version)
            .bind(recorded_at_us)
            .bind(&meta.actor.subject)
            .bind(&meta.actor.role)
            .bind(&meta.actor.org)
            .bind(&meta.correlation_id)
            .bind(&meta.causation_id)
            .bind(&meta.idempotency_key)
            .bind(&payload)
            .bind(&hash)
            .fetch_one(&mut *conn)
            .await?;
            let event = RecordedEvent {
                position: position as u64,
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

        if let (Some(response), Some(last)) = (&request.response, recorded.last()) {
            sqlx::query(
                "INSERT INTO idempotency (scope, key, request_hash, status, body, position, created_at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(&response.scope)
            .bind(&response.key)
            .bind(&response.request_hash)
            .bind(response.status)
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

async fn read_head(conn: &mut SqliteConnection, key: &AggregateKey) -> Result<Head, sqlx::Error> {
    let row: Option<(i64, String)> = sqlx::query_as(
        "SELECT sequence, hash FROM events WHERE aggregate_type = ? AND aggregate_id = ? \
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
    E: sqlx::Executor<'e, Database = Sqlite>,
{
    let row: Option<(String, i64, String, i64)> = sqlx::query_as(
        "SELECT request_hash, status, body, position FROM idempotency WHERE scope = ? AND key = ?",
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
