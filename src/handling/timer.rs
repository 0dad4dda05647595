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

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use tokio_util::sync::CancellationToken;

use super::queries;
use crate::clock::Clock;
use crate::projector::ProjectionHandle;
use crate::store::{EventStore, StoreError};

/// Orders checked per sweep at most; the next sweep follows at once.
const SWEEP: usize = 200;

/// The subject the timer's commands are recorded under.
pub const TIMER: &str = "pactum-handling-timer";

/// What the timer needs of the orders: to run `CheckClocks` on one as
/// [`TIMER`], which records what fell due by `now`. In the server, the order
/// service answers it (the impl is in `startup.rs`), so handling does not
/// depend on orders.
pub trait OrderClocks: Send + Sync {
    fn check_clocks(
        &self,
        order_id: &str,
        now: Timestamp,
    ) -> impl Future<Output = Result<Checked, CheckError>> + Send;
}

/// How a `CheckClocks` command went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Checked {
    /// It ran: what fell due is recorded.
    Done,
    /// It had run before (an idempotent retry).
    Replayed,
    /// Another command changed the order first: check again.
    Raced,
}

/// Why an order's clocks could not be checked.
pub type CheckError = Box<dyn std::error::Error + Send + Sync>;

/// Runs until cancelled (see [`crate::timers`]): sweeps `queue` (the
/// `order_queue` projection) on `clock`, sending what fell due to `orders`.
pub async fn run<O>(
    store: EventStore,
    queue: ProjectionHandle,
    clock: Arc<dyn Clock>,
    orders: O,
    cancel: CancellationToken,
) where
    O: OrderClocks + Clone + 'static,
{
    crate::timers::run_on(&store, clock.as_ref(), cancel, "handling clocks", || {
        let (store, queue, clock, orders) =
            (store.clone(), queue.clone(), clock.clone(), orders.clone());
        async move { sweep(&store, &queue, clock.as_ref(), &orders).await }
    })
    .await
}

/// Records what fell due by now; returns when the next alarm falls due.
pub async fn sweep(
    store: &EventStore,
    queue: &ProjectionHandle,
    clock: &dyn Clock,
    orders: &impl OrderClocks,
) -> Result<Option<Timestamp>, StoreError> {
    if queue.current().is_none() {
        return Ok(None);
    }
    // Read what the log says now, not what the queue had got to.
    let _ = queue.wait_for(store.head(), Duration::from_secs(2)).await;
    let Some(live) = queue.current() else {
        return Ok(None);
    };
    let now = clock.now();
    let due = queries::due_orders(store, &live.table, now, SWEEP).await?;
    let mut recorded = false;
    for order_id in &due {
        recorded |= check(orders, order_id, now).await;
    }
    if due.len() == SWEEP && recorded {
        return Ok(Some(now));
    }
    queries::next_alarm(store, &live.table, now).await
}

/// Records what fell due on one order by `now`; whether anything was.
async fn check(orders: &impl OrderClocks, order_id: &str, now: Timestamp) -> bool {
    // A command racing this one may win; what fell due is then decided again.
    for _ in 0..3 {
        match orders.check_clocks(order_id, now).await {
            Ok(Checked::Done) => return true,
            Ok(Checked::Replayed) => return false,
            Ok(Checked::Raced) => continue,
            Err(error) => {
                tracing::warn!(order = %order_id, %error, "handling clocks not checked");
                return false;
            }
        }
    }
    false
}
