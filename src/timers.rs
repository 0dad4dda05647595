//! The loop every timer of the server shares (agreement expiry, handling
//! clocks, mail delivery): sweep what is due, then sleep until the next due instant the sweep
//! reported — waking early when the log moves (something new may fall due
//! sooner; at most once a second however busy the log is) or when a manual clock
//! jumps. Timers never scan on a fixed period.

use std::future::Future;
use std::time::Duration;

use jiff::{Timestamp, ToSpan};
use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::store::EventStore;

/// The least time between sweeps woken by commits, unless a timer says
/// otherwise ([`run_rechecking`]).
const COMMIT_RECHECK: Duration = Duration::from_secs(1);

/// Runs `sweep` until cancelled, following `store`'s commits and `clock`.
/// `sweep` records what is due now and returns when the next thing falls due
/// (`None`: nothing pending); an error is logged under `name` and retried 30 s
/// later.
pub async fn run_on<F, Fut, E>(
    store: &EventStore,
    clock: &dyn Clock,
    cancel: CancellationToken,
    name: &'static str,
    sweep: F,
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<Timestamp>, E>>,
    E: std::fmt::Display,
{
    run_rechecking(store, clock, cancel, name, COMMIT_RECHECK, sweep).await
}

/// [`run_on`], looking after a commit at most every `recheck`.
pub async fn run_rechecking<F, Fut, E>(
    store: &EventStore,
    clock: &dyn Clock,
    cancel: CancellationToken,
    name: &'static str,
    recheck: Duration,
    mut sweep: F,
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<Timestamp>, E>>,
    E: std::fmt::Display,
{
    let mut head = store.subscribe();
    let mut jumps = clock.jumps();
    loop {
        head.borrow_and_update();
        let next = match sweep().await {
            Ok(next) => next,
            Err(error) => {
                tracing::error!(%error, timer = name, "timer sweep failed; retrying");
                Some(clock.now() + 30.seconds())
            }
        };
        let wait = next.map(|due| {
            let millis = due.duration_since(clock.now()).as_millis().max(0);
            Duration::from_millis(u64::try_from(millis).unwrap_or(u64::MAX))
        });
        tokio::select! {
            () = cancel.cancelled() => return,
            changed = head.changed() => {
                if changed.is_err() {
                    return;
                }
                tokio::select! {
                    () = cancel.cancelled() => return,
                    () = tokio::time::sleep(recheck) => {}
                }
            }
            () = async {
                match wait {
                    Some(wait) => tokio::time::sleep(wait).await,
                    None => std::future::pending().await,
                }
            } => {}
            () = async {
                match jumps.as_mut() {
                    Some(jumps) => { let _ = jumps.changed().await; }
                    None => std::future::pending().await,
                }
            } => {}
        }
    }
}
