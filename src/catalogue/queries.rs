//! The one SQL statement of the catalogue: how far its stream has come, so a
//! process knows when another one changed it.

use crate::store::{EventStore, StoreError};

/// The catalogue aggregate's version (its last sequence number; 0 if empty).
pub async fn catalogue_version(store: &EventStore) -> Result<u64, StoreError> {
    // Every command that reads the catalogue asks: on SQLite a read on the
    // caller's thread.
    let versions = store
        .read_rows(
            "SELECT MAX(sequence) FROM events \
             WHERE aggregate_type = 'catalogue' AND aggregate_id = 'catalogue'",
            &[],
            |row| row.get::<Option<i64>>(0),
        )
        .await?;
    Ok(versions.first().copied().flatten().unwrap_or(0) as u64)
}
