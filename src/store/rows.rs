//! The writer's statements: the rows a batch inserts (events, stored responses,
//! attachments), and the two reads its checks make ([`Lookup`]).
//!
//! [`insert_events`] is the one way events enter the `events` table: commands'
//! events numbered by the writer and imported events kept as they were alike.

use std::sync::LazyLock;

use pactum_events::RecordedEvent;

use super::stage::{AggregateKey, Head, Lookup};
use super::{Attachment, Db, DbConnection, StoredResponse};

/// Row counts of the multi-row event INSERTs: a handful of distinct statements to
/// prepare once, whatever the batch's size.
const INSERT_ROWS: [usize; 7] = [64, 32, 16, 8, 4, 2, 1];

const EVENT_INSERT_COLUMNS: usize = 15;

/// `INSERT INTO events ... VALUES (...), (...)` for each of [`INSERT_ROWS`],
/// with numbered placeholders (PostgreSQL).
static INSERT_SQL: LazyLock<Vec<(usize, String)>> = LazyLock::new(|| insert_sql(true));

/// The same with anonymous `?`s, bound in order (SQLite): sqlx's SQLite driver
/// looks each numbered parameter's name up in a list, quadratic in a statement
/// of 960 of them; it was 6 % of the server's time under load (docs/adr/0011
/// found the same in replay).
static INSERT_SQL_ANONYMOUS: LazyLock<Vec<(usize, String)>> = LazyLock::new(|| insert_sql(false));

fn insert_sql(numbered: bool) -> Vec<(usize, String)> {
    INSERT_ROWS
        .iter()
        .map(|&rows| {
            let values: Vec<String> = (0..rows)
                .map(|row| {
                    let placeholders: Vec<String> = (1..=EVENT_INSERT_COLUMNS)
                        .map(|column| match numbered {
                            true => format!("${}", row * EVENT_INSERT_COLUMNS + column),
                            false => "?".to_owned(),
                        })
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
}

/// Inserts `events` exactly as they are (positions and hashes included), in
/// statements of 64, 32, ... 1 rows.
pub(super) async fn insert_events(
    conn: &mut DbConnection,
    events: &[RecordedEvent],
) -> Result<(), sqlx::Error> {
    let mut rest = events;
    while !rest.is_empty() {
        let rows = INSERT_ROWS
            .iter()
            .copied()
            .find(|&rows| rows <= rest.len())
            .expect("one row always fits");
        let (chunk, after) = rest.split_at(rows);
        insert_chunk(&mut *conn, chunk).await?;
        rest = after;
    }
    Ok(())
}

/// Inserts events in one statement; `events.len()` is one of [`INSERT_ROWS`].
async fn insert_chunk(
    conn: &mut DbConnection,
    events: &[RecordedEvent],
) -> Result<(), sqlx::Error> {
    let statements = match conn.backend_name() {
        "SQLite" => &INSERT_SQL_ANONYMOUS,
        _ => &INSERT_SQL,
    };
    let sql = statements
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

/// Stores the response to replay for an idempotency key.
pub(super) async fn insert_response(
    conn: &mut DbConnection,
    scope: String,
    key: String,
    stored: StoredResponse,
    at_us: i64,
) -> Result<(), sqlx::Error> {
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
    .execute(conn)
    .await?;
    Ok(())
}

/// Stores a document by content; storing it twice is harmless.
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

/// The batch's checks read through the writer's connection, inside the batch's
/// transaction.
impl Lookup for DbConnection {
    async fn stored_response(
        &mut self,
        scope: &str,
        key: &str,
    ) -> Result<Option<StoredResponse>, sqlx::Error> {
        stored_response(self, scope, key).await
    }

    async fn head(&mut self, aggregate: &AggregateKey) -> Result<Head, sqlx::Error> {
        let row: Option<(i64, String)> = sqlx::query_as(
            "SELECT sequence, hash FROM events WHERE aggregate_type = $1 AND aggregate_id = $2 \
             ORDER BY sequence DESC LIMIT 1",
        )
        .bind(&aggregate.0)
        .bind(&aggregate.1)
        .fetch_optional(self)
        .await?;
        Ok(row.map_or(Head::default(), |(sequence, hash)| Head {
            sequence: sequence as u64,
            hash,
        }))
    }
}
