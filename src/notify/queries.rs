//! Every SQL statement of notifications: the tables the outbox keeps in the
//! transaction of each event (`outbox`, `notification_orders`,
//! `notification_opt_outs`) and reads to address a mail (`access_tokens`, the
//! catalogue's `ProviderRegistered` events), and delivery's claims and outcomes.
//! Each answers [`StoreError`]; only the [`Outbox`]'s inline projection speaks
//! sqlx, as the store's trait asks.

use jiff::Timestamp;
use pactum_events::EventPayload;
use pactum_events::catalogue::CatalogueEvent;

use crate::store::{DbConnection, EventStore, StoreError};

/// What the outbox knows of an order.
#[derive(Clone, Debug)]
pub struct OrderFacts {
    pub customer: String,
    pub group: String,
    pub service: String,
    pub title: Option<String>,
    pub assignee: Option<String>,
}

/// One queued mail.
#[derive(Clone, Debug)]
pub struct Mail {
    pub id: String,
    pub recipient: String,
    pub subject_line: String,
    pub body: String,
    pub created_at: i64,
    pub attempts: i64,
    pub next_attempt_at: Option<i64>,
}

/// Replaces the kinds `subject` opted out of.
pub async fn set_opt_outs(
    conn: &mut DbConnection,
    subject: &str,
    kinds: &[String],
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM notification_opt_outs WHERE subject = $1")
        .bind(subject)
        .execute(&mut *conn)
        .await?;
    for kind in kinds {
        sqlx::query("INSERT INTO notification_opt_outs (subject, kind) VALUES ($1, $2)")
            .bind(subject)
            .bind(kind)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// What the outbox keeps of a submitted order.
pub async fn insert_order(
    conn: &mut DbConnection,
    order_id: &str,
    facts: &OrderFacts,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO notification_orders (order_id, customer_subject, group_id, service, \
         title) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(order_id)
    .bind(&facts.customer)
    .bind(&facts.group)
    .bind(&facts.service)
    .bind(&facts.title)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn set_assignee(
    conn: &mut DbConnection,
    order_id: &str,
    assignee: &str,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE notification_orders SET assignee = $1 WHERE order_id = $2")
        .bind(assignee)
        .bind(order_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// customer, group, service, title, assignee.
type FactsRow = (String, String, String, Option<String>, Option<String>);

/// What the outbox knows of an order, if it knows it.
pub async fn order_facts(
    conn: &mut DbConnection,
    order_id: &str,
) -> Result<Option<OrderFacts>, StoreError> {
    let row: Option<FactsRow> = sqlx::query_as(
        "SELECT customer_subject, group_id, service, title, assignee FROM notification_orders \
         WHERE order_id = $1",
    )
    .bind(order_id)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(
        row.map(|(customer, group, service, title, assignee)| OrderFacts {
            customer,
            group,
            service,
            title,
            assignee,
        }),
    )
}

/// Every shifter of `group` now (its members).
pub async fn shifters(conn: &mut DbConnection, group: &str) -> Result<Vec<String>, StoreError> {
    crate::members::queries::group_members(conn, group).await
}

/// In one statement: the e-mail of `subject`'s newest unrevoked token that has
/// one, and whether the subject opted out of `kind`.
pub async fn address_and_opt_out(
    conn: &mut DbConnection,
    subject: &str,
    kind: &str,
) -> Result<(Option<String>, bool), StoreError> {
    let (email, opted_out): (Option<String>, i64) = sqlx::query_as(
        "SELECT (SELECT email FROM access_tokens WHERE subject = $1 AND email IS NOT NULL \
         AND revoked_at IS NULL ORDER BY issued_at DESC LIMIT 1), \
         (SELECT COUNT(*) FROM notification_opt_outs WHERE subject = $1 AND kind = $2)",
    )
    .bind(subject)
    .bind(kind)
    .fetch_one(&mut *conn)
    .await?;
    Ok((email, opted_out > 0))
}

/// A provider's contact address, from its newest registration.
pub async fn provider_contact(
    conn: &mut DbConnection,
    provider: &str,
) -> Result<Option<String>, StoreError> {
    let rows: Vec<(String, i64, String)> = sqlx::query_as(
        "SELECT event_type, schema_version, payload FROM events \
         WHERE aggregate_type = 'catalogue' AND event_type = 'ProviderRegistered' \
         ORDER BY position DESC",
    )
    .fetch_all(&mut *conn)
    .await?;
    for (event_type, version, payload) in rows {
        if let Ok(CatalogueEvent::ProviderRegistered(registered)) =
            CatalogueEvent::decode_str(&event_type, version as u32, &payload)
            && registered.provider_id == provider
        {
            return Ok(registered.contact_email);
        }
    }
    Ok(None)
}

/// A mail as the outbox queues it.
pub struct QueuedMail<'a> {
    /// `<position>-<n>`: the n-th mail of the event at that position.
    pub id: String,
    pub position: u64,
    pub kind: &'a str,
    pub order_id: &'a str,
    pub recipient: &'a str,
    pub subject_line: &'a str,
    pub body: String,
    pub created_at: Timestamp,
}

/// Queues one mail, due at once.
pub async fn queue(conn: &mut DbConnection, mail: &QueuedMail<'_>) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO outbox (id, position, kind, order_id, recipient, subject_line, body, \
         created_at, status, attempts, next_attempt_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', 0, $9)",
    )
    .bind(&mail.id)
    .bind(mail.position as i64)
    .bind(mail.kind)
    .bind(mail.order_id)
    .bind(mail.recipient)
    .bind(mail.subject_line)
    .bind(&mail.body)
    .bind(mail.created_at.as_microsecond())
    // Due at once: delivery runs on real time, whatever clock commands use.
    .bind(0_i64)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// id, recipient, subject line, body, created at, attempts, next attempt at.
type MailRow = (String, String, String, String, i64, i64, Option<i64>);

/// Up to `limit` pending mails due by `now`, soonest first.
pub async fn due(store: &EventStore, now: Timestamp, limit: i64) -> Result<Vec<Mail>, StoreError> {
    let rows: Vec<MailRow> = sqlx::query_as(&format!(
        "SELECT id, recipient, subject_line, body, created_at, attempts, next_attempt_at \
         FROM outbox WHERE status = 'pending' AND next_attempt_at <= $1 \
         ORDER BY next_attempt_at, id LIMIT {limit}"
    ))
    .bind(now.as_microsecond())
    .fetch_all(store.reader())
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(id, recipient, subject_line, body, created_at, attempts, next_attempt_at)| Mail {
                id,
                recipient,
                subject_line,
                body,
                created_at,
                attempts,
                next_attempt_at,
            },
        )
        .collect())
}

/// When the next pending mail falls due, if any is pending.
pub async fn next_due(store: &EventStore) -> Result<Option<Timestamp>, StoreError> {
    let next: Option<i64> =
        sqlx::query_scalar("SELECT MIN(next_attempt_at) FROM outbox WHERE status = 'pending'")
            .fetch_one(store.reader())
            .await?;
    Ok(next.and_then(|micros| Timestamp::from_microsecond(micros).ok()))
}

/// Takes mail `id` until `until` and counts the attempt, if it is still pending
/// and due at `seen` (nobody claimed it since it was read); whether it did.
pub async fn claim(
    conn: &mut DbConnection,
    id: &str,
    seen: Option<i64>,
    until: i64,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE outbox SET next_attempt_at = $1, attempts = attempts + 1 \
         WHERE id = $2 AND status = 'pending' AND next_attempt_at = $3",
    )
    .bind(until)
    .bind(id)
    .bind(seen)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Records mail `id` as delivered at `now` (microseconds).
pub async fn delivered(conn: &mut DbConnection, id: &str, now: i64) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE outbox SET status = 'delivered', delivered_at = $1, \
         next_attempt_at = NULL, last_error = NULL WHERE id = $2",
    )
    .bind(now)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Records a failed attempt at mail `id`: its new `status` (`pending` or
/// `failed`), the next attempt if any, and the error.
pub async fn failed_attempt(
    conn: &mut DbConnection,
    id: &str,
    status: &str,
    next: Option<i64>,
    error: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE outbox SET status = $1, next_attempt_at = $2, \
         last_error = $3 WHERE id = $4",
    )
    .bind(status)
    .bind(next)
    .bind(error)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
