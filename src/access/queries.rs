//! Every SQL statement of access: the `access_tokens` and
//! `access_token_groups` tables that [`TokenTable`] keeps in the transaction of
//! each token event, and the reads that authenticate a bearer token, find a
//! group's shifters and list tokens. Everything answers [`StoreError`].

use std::collections::BTreeSet;

use futures::future::BoxFuture;
use jiff::Timestamp;
use pactum_events::RecordedEvent;
use pactum_events::access::AccessEvent;

use crate::store::direct::Param;
use crate::store::{DbConnection, DbPool, EventStore, InlineProjection, StoreError, decode_own};

/// The groups a token carries.
pub async fn groups_of(pool: &DbPool, token_id: &str) -> Result<BTreeSet<String>, StoreError> {
    let groups: Vec<String> =
        sqlx::query_scalar("SELECT group_id FROM access_token_groups WHERE token_id = $1")
            .bind(token_id)
            .fetch_all(pool)
            .await?;
    Ok(groups.into_iter().collect())
}

/// A live token's subject, role, organisation and whether it is capped, with
/// one membership of its subject (none if it has none): kind, scope, whether
/// it was recorded from a token's grant, and whether this token grants it.
pub type TokenRow = (
    String,
    String,
    Option<String>,
    i64,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<i64>,
);

/// The token with this hash, once per membership its subject holds now (once
/// with none if none), if it is unrevoked and unexpired at `now`. One indexed
/// read: what the caller may work on comes from its memberships. Every
/// request makes it: on SQLite it runs on the caller's thread
/// ([`EventStore::read_rows`]).
pub async fn live_token(
    store: &EventStore,
    token_sha256: &str,
    now: Timestamp,
) -> Result<Vec<TokenRow>, StoreError> {
    const LIVE_TOKEN: &str = "SELECT t.subject, t.role, t.org, t.capped, m.kind, m.scope, m.by_token, \
         CAST(CASE WHEN m.kind = 'provider' AND m.scope = t.provider THEN 1 \
                   WHEN m.kind = 'group' AND EXISTS (SELECT 1 FROM access_token_groups g \
                        WHERE g.token_id = t.token_id AND g.group_id = m.scope) THEN 1 \
                   ELSE 0 END AS BIGINT) \
         FROM access_tokens t \
         LEFT JOIN memberships m ON m.subject = t.subject \
         WHERE t.token_sha256 = $1 AND t.revoked_at IS NULL \
         AND (t.expires_at IS NULL OR t.expires_at > $2)";
    let params = [Param::Text(token_sha256), Param::Int(now.as_microsecond())];
    store
        .read_rows(LIVE_TOKEN, &params, |row| {
            Ok((
                row.get(0)?,
                row.get(1)?,
                row.get(2)?,
                row.get(3)?,
                row.get(4)?,
                row.get(5)?,
                row.get(6)?,
                row.get(7)?,
            ))
        })
        .await
}

/// When the token with this hash expires: `None` if there is no such token,
/// `Some(None)` if it never expires.
pub async fn expiry(
    pool: &DbPool,
    token_sha256: &str,
) -> Result<Option<Option<Timestamp>>, StoreError> {
    let found: Option<Option<i64>> =
        sqlx::query_scalar("SELECT expires_at FROM access_tokens WHERE token_sha256 = $1")
            .bind(token_sha256)
            .fetch_optional(pool)
            .await?;
    Ok(found.map(|expires| expires.and_then(|micros| Timestamp::from_microsecond(micros).ok())))
}

/// token id, subject, role, organisation, provider, issued, expires and
/// revoked at (microseconds).
pub type ListingRow = (
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    i64,
    Option<i64>,
    Option<i64>,
);

/// Every token, in the order they were issued.
pub async fn tokens(pool: &DbPool) -> Result<Vec<ListingRow>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT token_id, subject, role, org, provider, issued_at, expires_at, revoked_at \
         FROM access_tokens ORDER BY issued_at, token_id",
    )
    .fetch_all(pool)
    .await?)
}

/// Which tokens [`token_records`] reads.
#[derive(Clone, Copy, Debug)]
pub enum TokenFilter<'a> {
    All,
    /// Those issued to this subject.
    Subject(&'a str),
    /// The one with this id.
    Id(&'a str),
}

/// token id, subject, role, organisation, provider, e-mail, issued, expires and
/// revoked at (microseconds).
pub type RecordRow = (
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    i64,
    Option<i64>,
    Option<i64>,
);

/// The tokens `filter` picks, in the order they were issued; never their hashes.
pub async fn token_records(
    pool: &DbPool,
    filter: TokenFilter<'_>,
) -> Result<Vec<RecordRow>, StoreError> {
    let (condition, value) = match filter {
        TokenFilter::All => ("", None),
        TokenFilter::Subject(subject) => ("WHERE subject = $1 ", Some(subject)),
        TokenFilter::Id(token_id) => ("WHERE token_id = $1 ", Some(token_id)),
    };
    let sql = format!(
        "SELECT token_id, subject, role, org, provider, email, issued_at, expires_at, \
         revoked_at FROM access_tokens {condition}ORDER BY issued_at, token_id"
    );
    let mut query = sqlx::query_as(&sql);
    if let Some(value) = value {
        query = query.bind(value);
    }
    Ok(query.fetch_all(pool).await?)
}

/// Keeps `access_tokens` in step with the token events, in their transaction.
pub struct TokenTable;

impl InlineProjection for TokenTable {
    fn apply<'a>(
        &'a self,
        conn: &'a mut DbConnection,
        event: &'a RecordedEvent,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let Some(decoded) = decode_own::<AccessEvent>(event)? else {
                return Ok(());
            };
            let at = event.recorded_at.as_microsecond();
            match decoded {
                AccessEvent::TokenIssued(issued) => {
                    // A token not issued by an admin (or pactum) acts with at
                    // most what it names: someone narrowing its own rights.
                    let capped = !matches!(event.actor.role.as_str(), "admin" | "system");
                    sqlx::query(
                        "INSERT INTO access_tokens (token_id, token_sha256, subject, role, org, \
                         provider, issued_at, expires_at, email, capped) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                    )
                    .bind(&issued.token_id)
                    .bind(&issued.token_sha256)
                    .bind(&issued.subject)
                    .bind(&issued.role)
                    .bind(&issued.org)
                    .bind(&issued.provider)
                    .bind(at)
                    .bind(issued.expires_at.map(|t| t.as_microsecond()))
                    .bind(&issued.email)
                    .bind(i64::from(capped))
                    .execute(&mut *conn)
                    .await?;
                    for group in &issued.groups {
                        sqlx::query(
                            "INSERT INTO access_token_groups (token_id, group_id) VALUES ($1, $2)",
                        )
                        .bind(&issued.token_id)
                        .bind(group)
                        .execute(&mut *conn)
                        .await?;
                    }
                }
                AccessEvent::TokenRevoked(revoked) => {
                    sqlx::query("UPDATE access_tokens SET revoked_at = $1 WHERE token_id = $2")
                        .bind(at)
                        .bind(&revoked.token_id)
                        .execute(&mut *conn)
                        .await?;
                }
            }
            Ok(())
        })
    }

    fn check(&self, event: &RecordedEvent) -> Result<(), String> {
        crate::store::check_decodes::<AccessEvent>(event)
    }
}
