//! The one SQL statement of the catalogue: how far its stream has come, so a
//! process knows when another one changed it.

use crate::store::{EventStore, StoreError};

/// The catalogue aggregate's version (its last sequence number; 0 if empty).
pub async fn catalogue_version(store: &EventStore) -> Result<u64, StoreError> {
    let version: Option<i64> = sqlx::query_scalar(
        "SELECT MAX(sequence) FROM events \
         WHERE aggregate_type = 'catalogue' AND aggregate_id = 'catalogue'",
    )
    .fetch_one(store.reader())
    .await?;
    Ok(version.unwrap_or(0) as u64)
}
