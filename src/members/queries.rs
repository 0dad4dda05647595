//! Every SQL statement of memberships: the `memberships` table that
//! [`MembershipTable`] keeps in the transaction of each membership event, and
//! the reads that authenticate (a subject's memberships) and upgrade a store
//! from before memberships (the grants of live tokens).

use futures::future::BoxFuture;
use pactum_events::RecordedEvent;
use pactum_events::membership::MembershipEvent;

use crate::store::direct::Param;
use crate::store::{DbConnection, DbPool, EventStore, InlineProjection, StoreError, decode_own};

/// Whether `subject` is a member of `kind` `scope` now.
pub async fn is_member(
    store: &EventStore,
    kind: &str,
    scope: &str,
    subject: &str,
) -> Result<bool, StoreError> {
    let found = store
        .read_rows(
            "SELECT 1 FROM memberships WHERE kind = $1 AND scope = $2 AND subject = $3",
            &[Param::Text(kind), Param::Text(scope), Param::Text(subject)],
            |row| row.get::<i64>(0),
        )
        .await?;
    Ok(!found.is_empty())
}

/// The members of group `group` now, by subject (for mail to a group's shifters).
pub async fn group_members(
    conn: &mut DbConnection,
    group: &str,
) -> Result<Vec<String>, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT subject FROM memberships WHERE kind = 'group' AND scope = $1 ORDER BY subject",
    )
    .bind(group)
    .fetch_all(&mut *conn)
    .await?)
}

/// Whether any membership event was ever recorded.
pub async fn any_recorded(pool: &DbPool) -> Result<bool, StoreError> {
    let found: Option<i64> =
        sqlx::query_scalar("SELECT 1 FROM events WHERE aggregate_type = 'membership' LIMIT 1")
            .fetch_optional(pool)
            .await?;
    Ok(found.is_some())
}

/// `(kind, scope, subject, token id)` of every grant an unrevoked token
/// carries: its groups (shifters) and its provider (operators).
pub async fn token_grants(
    pool: &DbPool,
) -> Result<Vec<(String, String, String, String)>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT 'group', g.group_id, t.subject, t.token_id FROM access_tokens t \
         JOIN access_token_groups g ON g.token_id = t.token_id \
         WHERE t.role = 'shifter' AND t.revoked_at IS NULL \
         UNION \
         SELECT 'provider', t.provider, t.subject, t.token_id FROM access_tokens t \
         WHERE t.role = 'provider' AND t.provider IS NOT NULL AND t.revoked_at IS NULL \
         ORDER BY 1, 2, 3, 4",
    )
    .fetch_all(pool)
    .await?)
}

/// Keeps `memberships` in step with the membership events, in their transaction.
pub struct MembershipTable;

impl InlineProjection for MembershipTable {
    fn apply<'a>(
        &'a self,
        conn: &'a mut DbConnection,
        event: &'a RecordedEvent,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let Some(decoded) = decode_own::<MembershipEvent>(event)? else {
                return Ok(());
            };
            match decoded {
                MembershipEvent::MemberAdded(added) => {
                    // An admin's direct decision widens one recorded from a
                    // token's grant; nothing narrows it back.
                    sqlx::query(
                        "INSERT INTO memberships (kind, scope, subject, since, by_token) \
                         VALUES ($1, $2, $3, $4, $5) \
                         ON CONFLICT (kind, scope, subject) DO UPDATE SET by_token = 0 \
                         WHERE excluded.by_token = 0",
                    )
                    .bind(added.of.as_str())
                    .bind(&added.scope)
                    .bind(&added.subject)
                    .bind(event.recorded_at.as_microsecond())
                    .bind(i64::from(added.token.is_some()))
                    .execute(&mut *conn)
                    .await?;
                }
                MembershipEvent::MemberRemoved(removed) => {
                    sqlx::query(
                        "DELETE FROM memberships WHERE kind = $1 AND scope = $2 AND subject = $3",
                    )
                    .bind(removed.of.as_str())
                    .bind(&removed.scope)
                    .bind(&removed.subject)
                    .execute(&mut *conn)
                    .await?;
                }
            }
            Ok(())
        })
    }

    fn check(&self, event: &RecordedEvent) -> Result<(), String> {
        crate::store::check_decodes::<MembershipEvent>(event)
    }
}

/// `(kind, scope)` of the memberships an admin gave `subject` directly (not
/// recorded from a token's grant): they hold for every credential it has.
pub async fn direct_memberships(
    pool: &DbPool,
    subject: &str,
) -> Result<Vec<(String, String)>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT kind, scope FROM memberships WHERE subject = $1 AND by_token = 0 \
         ORDER BY kind, scope",
    )
    .bind(subject)
    .fetch_all(pool)
    .await?)
}
