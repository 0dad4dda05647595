//! The one SQL statement of brands: their events read straight from the log,
//! for a logo by its hash.

use crate::store::{EventStore, StoreError};

/// event type, schema version, payload (JSON text).
pub type StoredBrandEvent = (String, i64, String);

/// Every event of the `brand` aggregates, newest first.
pub async fn brand_events_newest_first(
    store: &EventStore,
) -> Result<Vec<StoredBrandEvent>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT event_type, schema_version, payload FROM events WHERE aggregate_type = 'brand' \
         ORDER BY position DESC",
    )
    .fetch_all(store.reader())
    .await?)
}
