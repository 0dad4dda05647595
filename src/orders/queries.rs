//! The one SQL statement of orders: which orders have provisioning steps
//! addressed to a provider (the console's list of an operator's steps; the
//! steps themselves are read from each order).

use crate::store::{DbPool, StoreError};

/// The ids of the orders, newest plan first, whose plans address `provider`
/// (at most `limit`). A provider id is lower-kebab-case: nothing in it is a
/// `LIKE` wildcard.
pub async fn orders_with_steps_for(
    pool: &DbPool,
    provider: &str,
    limit: i64,
) -> Result<Vec<String>, StoreError> {
    let pattern = format!("%\"provider\":\"{provider}\"%");
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT aggregate_id, MAX(position) AS latest FROM events \
         WHERE aggregate_type = 'order' AND event_type = 'ProvisioningPlanned' \
         AND payload LIKE $1 GROUP BY aggregate_id ORDER BY latest DESC LIMIT $2",
    )
    .bind(pattern)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(|(id, _)| id).collect())
}
