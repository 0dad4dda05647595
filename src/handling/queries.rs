//! Every SQL statement of handling targets and their timer: the
//! `handling_targets` inline table (written by [`TargetsTable`], read when an
//! order is submitted and when targets are shown) and the alarm index of the
//! `order_queue` projection the timer sweeps. Everything answers [`StoreError`].

use futures::future::BoxFuture;
use jiff::Timestamp;
use pactum_events::RecordedEvent;
use pactum_events::handling::{HandlingEvent, HandlingTargetsDefined};
use pactum_projections::order_queue::TABLE;

use super::TargetsTable;
use crate::projector::tables;
use crate::store::direct::Param;
use crate::store::{DbConnection, EventStore, InlineProjection, StoreError, decode_own};

const TARGETS: &str = "handling_targets";

/// A stored definition not yet decoded: key, version, JSON.
pub type StoredDefinition = (String, i64, String);

/// The definitions of `keys`, newest version first, decoded with [`decode`]
/// only once picked.
pub async fn newest_first(
    store: &EventStore,
    keys: [&str; 2],
) -> Result<Vec<StoredDefinition>, StoreError> {
    // Every submission asks: on SQLite a read on the caller's thread.
    store
        .read_rows(
            "SELECT target_key, version, definition FROM handling_targets \
             WHERE target_key IN ($1, $2) ORDER BY version DESC",
            &[Param::Text(keys[0]), Param::Text(keys[1])],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )
        .await
}

/// One version of one key's targets.
pub async fn version(
    store: &EventStore,
    key: &str,
    version: u32,
) -> Result<Option<HandlingTargetsDefined>, StoreError> {
    // Each queue page asks (for the calendars of its clocks): on SQLite a
    // read on the caller's thread.
    let rows: Vec<String> = store
        .read_rows(
            "SELECT definition FROM handling_targets WHERE target_key = $1 AND version = $2",
            &[Param::Text(key), Param::Int(i64::from(version))],
            |row| row.get(0),
        )
        .await?;
    rows.into_iter()
        .next()
        .map(|definition| decode(&(key.to_owned(), version.into(), definition)))
        .transpose()
}

/// The current version of every key, by key.
pub async fn current(store: &EventStore) -> Result<Vec<HandlingTargetsDefined>, StoreError> {
    let rows: Vec<StoredDefinition> = sqlx::query_as(
        "SELECT t.target_key, t.version, t.definition FROM handling_targets t WHERE t.version = \
         (SELECT MAX(v.version) FROM handling_targets v WHERE v.target_key = t.target_key) \
         ORDER BY t.target_key",
    )
    .fetch_all(store.reader())
    .await?;
    rows.iter().map(decode).collect()
}

/// A stored definition, read back.
pub fn decode(
    (key, version, definition): &StoredDefinition,
) -> Result<HandlingTargetsDefined, StoreError> {
    serde_json::from_str(definition).map_err(|e| StoreError::CorruptRow {
        table: TARGETS,
        key: format!("({key}, {version})"),
        reason: e.to_string(),
    })
}

/// Up to `limit` orders of the queue's live `table` whose next alarm fell due
/// by `now`, soonest first (through the alarm index).
pub async fn due_orders(
    store: &EventStore,
    table: &str,
    now: Timestamp,
    limit: usize,
) -> Result<Vec<String>, StoreError> {
    let hint = tables::index_hint(store.dialect(), table, alarm_index());
    Ok(sqlx::query_scalar(&format!(
        "SELECT order_id FROM {table}{hint} WHERE next_alarm_at <= $1 \
         ORDER BY next_alarm_at LIMIT {limit}"
    ))
    .bind(now.as_microsecond())
    .fetch_all(store.reader())
    .await?)
}

/// The next alarm after `now` in the queue's live `table`, if any.
pub async fn next_alarm(
    store: &EventStore,
    table: &str,
    now: Timestamp,
) -> Result<Option<Timestamp>, StoreError> {
    let hint = tables::index_hint(store.dialect(), table, alarm_index());
    let next: Option<i64> = sqlx::query_scalar(&format!(
        "SELECT MIN(next_alarm_at) FROM {table}{hint} WHERE next_alarm_at > $1"
    ))
    .bind(now.as_microsecond())
    .fetch_one(store.reader())
    .await?;
    Ok(next.and_then(|micros| Timestamp::from_microsecond(micros).ok()))
}

/// The queue's index on (next_alarm_at, order_id).
fn alarm_index() -> usize {
    TABLE
        .indexes
        .iter()
        .position(|columns| columns.first() == Some(&"next_alarm_at"))
        .expect("the queue has an index on next_alarm_at")
}

impl InlineProjection for TargetsTable {
    fn apply<'a>(
        &'a self,
        conn: &'a mut DbConnection,
        event: &'a RecordedEvent,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let Some(HandlingEvent::HandlingTargetsDefined(defined)) =
                decode_own::<HandlingEvent>(event)?
            else {
                return Ok(());
            };
            sqlx::query(
                "INSERT INTO handling_targets (target_key, version, definition) VALUES ($1, $2, $3)",
            )
            .bind(defined.key())
            .bind(i64::from(defined.version))
            .bind(serde_json::to_string(&defined).expect("definitions serialize"))
            .execute(&mut *conn)
            .await?;
            Ok(())
        })
    }

    fn check(&self, event: &RecordedEvent) -> Result<(), String> {
        crate::store::check_decodes::<HandlingEvent>(event)
    }
}
