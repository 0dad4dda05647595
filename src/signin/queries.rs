//! Every SQL statement of sign-in: attempts under way and sessions. Writes go
//! through the store's writer (one writing connection on SQLite).

use futures::FutureExt;
use jiff::Timestamp;

use crate::store::{AppendError, EventStore, StoreError};

/// An attempt's PKCE verifier, nonce and where to go after it.
pub type Attempt = (String, String, String);

fn written<T>(result: Result<Result<T, sqlx::Error>, AppendError>) -> Result<T, AppendError> {
    result?.map_err(AppendError::from)
}

/// Records an attempt under its `state`, dropping attempts older than `stale`.
pub async fn begin(
    store: &EventStore,
    state: String,
    attempt: Attempt,
    now: Timestamp,
    stale: Timestamp,
) -> Result<(), AppendError> {
    written(
        store
            .write(move |conn| {
                async move {
                    sqlx::query("DELETE FROM signin_attempts WHERE created_at < $1")
                        .bind(stale.as_microsecond())
                        .execute(&mut *conn)
                        .await?;
                    sqlx::query(
                        "INSERT INTO signin_attempts (state, verifier, nonce, return_to, created_at) \
                         VALUES ($1, $2, $3, $4, $5)",
                    )
                    .bind(&state)
                    .bind(&attempt.0)
                    .bind(&attempt.1)
                    .bind(&attempt.2)
                    .bind(now.as_microsecond())
                    .execute(&mut *conn)
                    .await?;
                    Ok(())
                }
                .boxed()
            })
            .await,
    )
}

/// Takes the attempt of `state` (once: a replayed answer finds none), if it
/// is not older than `stale`.
pub async fn take(
    store: &EventStore,
    state: String,
    stale: Timestamp,
) -> Result<Option<Attempt>, AppendError> {
    written(
        store
            .write(move |conn| {
                async move {
                    let found: Option<(String, String, String, i64)> = sqlx::query_as(
                        "SELECT verifier, nonce, return_to, created_at FROM signin_attempts \
                         WHERE state = $1",
                    )
                    .bind(&state)
                    .fetch_optional(&mut *conn)
                    .await?;
                    sqlx::query("DELETE FROM signin_attempts WHERE state = $1")
                        .bind(&state)
                        .execute(&mut *conn)
                        .await?;
                    Ok(found
                        .filter(|found| found.3 >= stale.as_microsecond())
                        .map(|(verifier, nonce, return_to, _)| (verifier, nonce, return_to)))
                }
                .boxed()
            })
            .await,
    )
}

/// A session: who (as JSON), the ID token (for signing out at the provider),
/// the token its forms carry.
pub struct SessionRow {
    pub identity: String,
    pub id_token: Option<String>,
    pub csrf: String,
}

/// A session to open.
pub struct NewSession {
    pub id_sha256: String,
    pub subject: String,
    pub identity: String,
    pub id_token: Option<String>,
    pub csrf: String,
}

/// Opens a session under the hash of its id.
pub async fn open(
    store: &EventStore,
    session: NewSession,
    now: Timestamp,
    until: Timestamp,
) -> Result<(), AppendError> {
    written(
        store
            .write(move |conn| {
                async move {
                    sqlx::query("DELETE FROM sessions WHERE expires_at < $1")
                        .bind(now.as_microsecond())
                        .execute(&mut *conn)
                        .await?;
                    sqlx::query(
                        "INSERT INTO sessions (id_sha256, subject, identity, id_token, csrf, \
                         created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    )
                    .bind(&session.id_sha256)
                    .bind(&session.subject)
                    .bind(&session.identity)
                    .bind(&session.id_token)
                    .bind(&session.csrf)
                    .bind(now.as_microsecond())
                    .bind(until.as_microsecond())
                    .execute(&mut *conn)
                    .await?;
                    Ok(())
                }
                .boxed()
            })
            .await,
    )
}

/// The live session with this id hash.
pub async fn find(
    store: &EventStore,
    id_sha256: &str,
    now: Timestamp,
) -> Result<Option<SessionRow>, StoreError> {
    let row: Option<(String, Option<String>, String)> = sqlx::query_as(
        "SELECT identity, id_token, csrf FROM sessions WHERE id_sha256 = $1 AND expires_at > $2",
    )
    .bind(id_sha256)
    .bind(now.as_microsecond())
    .fetch_optional(store.reader())
    .await?;
    Ok(row.map(|(identity, id_token, csrf)| SessionRow {
        identity,
        id_token,
        csrf,
    }))
}

/// Ends the session with this id hash.
pub async fn close(store: &EventStore, id_sha256: String) -> Result<(), AppendError> {
    written(
        store
            .write(move |conn| {
                async move {
                    sqlx::query("DELETE FROM sessions WHERE id_sha256 = $1")
                        .bind(&id_sha256)
                        .execute(&mut *conn)
                        .await?;
                    Ok(())
                }
                .boxed()
            })
            .await,
    )
}
