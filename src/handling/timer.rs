//! Records handling-clock warnings and breaches as they fall due.
//!
//! The timer sleeps until the next instant an order's clock passes its warning
//! threshold or deadline — the smallest `next_alarm_at` of the `order_queue`
//! projection, read through its index — not by scanning every order
//! periodically. It also wakes when the log moves (a new clock may fall due
//! sooner) and when a manual clock jumps; `POST /v1/admin/clock` runs a sweep
//! itself before answering, so what fell due is recorded when it returns. After
//! a restart, the first sweep records everything that fell due while the server
//! was down. The order aggregate records each warning and breach once (dated when
//! it fell due), whoever races: a second check finds nothing to record.

use std::time::Duration;

use jiff::Timestamp;
use tokio_util::sync::CancellationToken;

use crate::app::App;
use crate::execute::CommandMeta;
use crate::orders::commands::OrderAction;
use crate::orders::service::{self, ServiceError};
use crate::projector::tables;
use crate::runner::{CommandRequest, Ran};
use pactum_projections::order_queue::TABLE;

/// Orders checked per sweep at most; the next sweep follows at once.
const SWEEP: usize = 200;

/// The subject the timer's commands are recorded under.
pub const TIMER: &str = "pactum-handling-timer";

/// Runs until cancelled (see [`crate::timers`]).
pub async fn run(app: App, cancel: CancellationToken) {
    crate::timers::run(app, cancel, "handling clocks", async |app| {
        sweep(&app).await
    })
    .await
}

/// Records what fell due by now; returns when the next alarm falls due.
pub async fn sweep(app: &App) -> Result<Option<Timestamp>, ServiceError> {
    let queue = &app.projections.order_queue;
    if queue.current().is_none() {
        return Ok(None);
    }
    // Read what the log says now, not what the queue had got to.
    let _ = queue
        .wait_for(app.store.head(), Duration::from_secs(2))
        .await;
    let Some(live) = queue.current() else {
        return Ok(None);
    };
    let hint = tables::index_hint(app.store.dialect(), &live.table, alarm_index());
    let now = app.now();
    let due: Vec<String> = sqlx::query_scalar(&format!(
        "SELECT order_id FROM {}{hint} WHERE next_alarm_at <= $1 \
         ORDER BY next_alarm_at LIMIT {SWEEP}",
        live.table
    ))
    .bind(now.as_microsecond())
    .fetch_all(app.store.reader())
    .await?;
    let mut recorded = false;
    for order_id in &due {
        recorded |= check(app, order_id, now).await;
    }
    if due.len() == SWEEP && recorded {
        return Ok(Some(now));
    }
    let next: Option<i64> = sqlx::query_scalar(&format!(
        "SELECT MIN(next_alarm_at) FROM {}{hint} WHERE next_alarm_at > $1",
        live.table
    ))
    .bind(now.as_microsecond())
    .fetch_one(app.store.reader())
    .await?;
    Ok(next.and_then(|micros| Timestamp::from_microsecond(micros).ok()))
}

/// Records what fell due on one order by `now`; whether anything was.
async fn check(app: &App, order_id: &str, now: Timestamp) -> bool {
    // A command racing this one may win; what fell due is then decided again.
    for _ in 0..3 {
        let request = CommandRequest::system(CommandMeta::system(TIMER, now));
        match service::execute(&app.store, order_id, OrderAction::CheckClocks, &request).await {
            Ok(Ran::Done { .. }) => return true,
            Ok(Ran::Replayed(_)) => return false,
            Err(ServiceError::Conflict { .. }) => continue,
            Err(error) => {
                tracing::warn!(order = %order_id, %error, "handling clocks not checked");
                return false;
            }
        }
    }
    false
}

/// The index on (next_alarm_at, order_id).
fn alarm_index() -> usize {
    TABLE
        .indexes
        .iter()
        .position(|columns| columns.first() == Some(&"next_alarm_at"))
        .expect("the queue has an index on next_alarm_at")
}
