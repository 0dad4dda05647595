//! The compliance timer: records heartbeat silences as they fall due and
//! closes each month once it has ended in its agreement's time zone. It
//! sleeps until the next deadline or month end (read from the inline tables
//! of [`super::queries`]), waking when the log moves or a manual clock jumps
//! (see [`crate::timers`]). After a restart the first sweep records
//! everything that fell due meanwhile; the aggregates record each silence and
//! each month once, whoever races.

use std::sync::Arc;

use jiff::Timestamp;
use tokio_util::sync::CancellationToken;

use super::service::{self, Error};
use crate::clock::Clock;
use crate::store::EventStore;

/// Runs until cancelled.
pub async fn run(store: EventStore, clock: Arc<dyn Clock>, cancel: CancellationToken) {
    crate::timers::run_on(&store, clock.as_ref(), cancel, "compliance", || {
        let (store, now) = (store.clone(), clock.now());
        async move { sweep(&store, now).await }
    })
    .await
}

/// Records what fell due by `now`; answers when the next thing falls due.
pub async fn sweep(store: &EventStore, now: Timestamp) -> Result<Option<Timestamp>, Error> {
    let beats = service::sweep_heartbeats(store, now).await?;
    let months = service::sweep_months(store, now).await?;
    Ok(match (beats, months) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    })
}
