//! The SQL agreements read: the expiry timer's questions to the `agreements`
//! projection's table.

use crate::store::{EventStore, StoreError};

/// Active agreements whose last day is before `today` (`YYYY-MM-DD`), soonest
/// first, at most `limit`.
pub async fn ended_before(
    store: &EventStore,
    table: &str,
    hint: &str,
    today: &str,
    limit: i64,
) -> Result<Vec<String>, StoreError> {
    Ok(sqlx::query_scalar(&format!(
        "SELECT agreement_id FROM {table}{hint} \
         WHERE status = 'active' AND end_date < $1 ORDER BY end_date LIMIT {limit}"
    ))
    .bind(today)
    .fetch_all(store.reader())
    .await?)
}

/// The earliest last day among active agreements that end on or after `today`.
pub async fn next_end(
    store: &EventStore,
    table: &str,
    hint: &str,
    today: &str,
) -> Result<Option<String>, StoreError> {
    Ok(sqlx::query_scalar(&format!(
        "SELECT MIN(end_date) FROM {table}{hint} WHERE status = 'active' AND end_date >= $1"
    ))
    .bind(today)
    .fetch_one(store.reader())
    .await?)
}
