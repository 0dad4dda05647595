//! Expiring agreements when their validity ends.
//!
//! The timer sleeps until the next due instant — the day after the earliest end
//! date among active agreements, at 00:00 UTC — read from the `agreements` index
//! (ordered by status and end date), not by scanning every agreement
//! periodically. It also wakes when the log moves (a new agreement may end
//! sooner) and when a manual clock jumps. After a restart its first sweep expires
//! everything that ended while it was down. Expiring twice is refused by the
//! aggregate, so each agreement expires exactly once, whoever races.

use std::sync::Arc;
use std::time::Duration;

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use tokio_util::sync::CancellationToken;

use crate::agreements::{queries, service};
use crate::clock::Clock;
use crate::orders::service::ServiceError;
use crate::projector::{ProjectionHandle, tables};
use crate::store::EventStore;
use pactum_projections::agreement_index::TABLE;

/// Agreements expired per sweep at most; the next sweep follows at once.
const SWEEP: i64 = 200;

/// Runs until cancelled (see [`crate::timers`]): sweeps `index` (the
/// `agreements` projection) on `clock`.
pub async fn run(
    store: EventStore,
    index: ProjectionHandle,
    clock: Arc<dyn Clock>,
    cancel: CancellationToken,
) {
    crate::timers::run_on(&store, clock.as_ref(), cancel, "agreement expiry", || {
        let (store, index, now) = (store.clone(), index.clone(), clock.now());
        async move { sweep(&store, &index, now).await }
    })
    .await
}

/// The first instant after `end` (the last day covered): the next midnight, UTC.
pub fn due_after(end: Date) -> Timestamp {
    end.checked_add(1.day())
        .unwrap_or(end)
        .to_zoned(TimeZone::UTC)
        .map_or(Timestamp::MAX, |z| z.timestamp())
}

/// Expires what is due at `now`, read from the `agreements` projection
/// (`index`); returns when the next agreement falls due.
pub async fn sweep(
    store: &EventStore,
    index: &ProjectionHandle,
    now: Timestamp,
) -> Result<Option<Timestamp>, ServiceError> {
    let Some(live) = index.current() else {
        return Ok(None);
    };
    // Read what the log says now, not what the index had got to.
    let _ = index.wait_for(store.head(), Duration::from_secs(2)).await;
    let live = index.current().unwrap_or(live);
    let hint = tables::index_hint(store.dialect(), &live.table, expiry_index());
    let today = now.to_zoned(TimeZone::UTC).date().to_string();
    let due = queries::ended_before(store, &live.table, &hint, &today, SWEEP).await?;
    for agreement_id in &due {
        match service::expire(store, agreement_id, now).await {
            Ok(()) => tracing::info!(agreement = %agreement_id, "expired"),
            // Already expired or terminated meanwhile: nothing to do.
            Err(error) => tracing::debug!(agreement = %agreement_id, %error, "not expired"),
        }
    }
    if due.len() as i64 == SWEEP {
        return Ok(Some(now));
    }
    let next = queries::next_end(store, &live.table, &hint, &today).await?;
    Ok(next.and_then(|end| end.parse::<Date>().ok()).map(due_after))
}

/// The index on (status, end_date).
fn expiry_index() -> usize {
    TABLE
        .indexes
        .iter()
        .position(|columns| columns.starts_with(&["status", "end_date"]))
        .expect("the agreements index has (status, end_date)")
}
