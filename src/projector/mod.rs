//! Keeping read models: projections (defined in `pactum-projections`) stored in
//! tables of their own, each with a checkpoint written in the same transaction as
//! its rows.
//!
//! - [`runner`]: applies the log to one generation of one projection, batch by batch,
//!   exactly once; [`source`] reads the log for it.
//! - [`supervisor`]: in the server, keeps each projection live — builds a new
//!   generation when the version changed (the old one serves meanwhile), then
//!   follows new commits, notified in-process.
//! - [`registry`]: the generations and their checkpoints; [`tables`]: their SQL.
//! - [`ProjectionHandle`]: what reads use to find the live table and to wait for a
//!   position (read-your-writes).
//! - [`observe`]: in a server whose read models a worker keeps (`pactum worker`),
//!   follows their live generations and checkpoints in the registry instead.
//! - [`rebuild_all`] ([`replay`]): `pactum replay`, runners fed by one
//!   pipelined bulk reading of the log.

mod errors;
pub mod listing;
pub mod registry;
pub mod replay;
pub mod runner;
pub mod source;
pub mod supervisor;
pub mod tables;

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures::future::BoxFuture;
use pactum_projections::agreement_index::AgreementIndex;
use pactum_projections::order_queue::OrderQueue;
use pactum_projections::order_report::OrderReport;
use pactum_projections::projection::{Projection, TableSpec};
use pactum_projections::service_levels::ServiceLevels;
use pactum_projections::usage_records::UsageRecords;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::store::EventStore;
pub use errors::ProjectorError;
use registry::Generation;
pub use replay::{Rebuilding, Rebuilt, rebuild, rebuild_all, rebuild_all_in_chunks};
pub use runner::{Hooks, Runner, Step};
use supervisor::Supervisor;

/// The live generation of a projection as a reader needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveView {
    pub generation: u64,
    pub version: u32,
    /// Every event up to this global position is reflected in the table.
    pub checkpoint: u64,
    pub table: Arc<str>,
}

impl LiveView {
    fn of(generation: &Generation) -> Self {
        Self {
            generation: generation.generation,
            version: generation.version,
            checkpoint: generation.checkpoint,
            table: generation.table().into(),
        }
    }
}

/// Where one projection can be read, and how far it has got.
#[derive(Clone)]
pub struct ProjectionHandle {
    state: Arc<watch::Sender<Option<LiveView>>>,
}

impl Default for ProjectionHandle {
    fn default() -> Self {
        Self {
            state: Arc::new(watch::Sender::new(None)),
        }
    }
}

impl ProjectionHandle {
    /// The live generation, if one can serve reads.
    pub fn current(&self) -> Option<LiveView> {
        self.state.borrow().clone()
    }

    /// Notified each time the live generation moves (the console's queue
    /// refreshes on it).
    pub fn subscribe(&self) -> watch::Receiver<Option<LiveView>> {
        self.state.subscribe()
    }

    fn publish(&self, view: Option<LiveView>) {
        self.state.send_replace(view);
    }

    fn advance(&self, generation: u64, checkpoint: u64) {
        self.state.send_if_modified(|view| match view {
            Some(view) if view.generation == generation && view.checkpoint < checkpoint => {
                view.checkpoint = checkpoint;
                true
            }
            _ => false,
        });
    }

    /// Waits (notified, not polling) until the live generation reflects every
    /// event up to `position`; `None` if that does not happen within `timeout`.
    pub async fn wait_for(&self, position: u64, timeout: Duration) -> Option<LiveView> {
        self.wait_until(|view| view.checkpoint >= position, timeout)
            .await
    }

    /// Waits until the live generation satisfies `condition`.
    pub async fn wait_until(
        &self,
        condition: impl Fn(&LiveView) -> bool,
        timeout: Duration,
    ) -> Option<LiveView> {
        let mut receiver = self.state.subscribe();
        let reached = receiver.wait_for(|view| view.as_ref().is_some_and(&condition));
        match tokio::time::timeout(timeout, reached).await {
            Ok(Ok(view)) => view.clone(),
            _ => None,
        }
    }
}

/// The handles of every projection the server keeps.
#[derive(Clone, Default)]
pub struct Projections {
    pub order_queue: ProjectionHandle,
    pub agreements: ProjectionHandle,
    pub order_report: ProjectionHandle,
    pub service_levels: ProjectionHandle,
    pub usage_records: ProjectionHandle,
}

impl Projections {
    /// The handle of the projection called `name`.
    pub fn handle(&self, name: &str) -> Option<&ProjectionHandle> {
        handle_of(self, name)
    }
}

/// A registered projection, whatever its row type.
pub trait AnyProjection: Send + Sync {
    fn name(&self) -> &'static str;
    fn version(&self) -> u32;
    fn table(&self) -> &'static TableSpec;

    /// Starts its supervisor; the receiver fires when it can serve reads.
    fn spawn(
        &self,
        store: EventStore,
        handle: ProjectionHandle,
        hooks: Hooks,
        clock: Arc<dyn Clock>,
        cancel: CancellationToken,
    ) -> (JoinHandle<()>, oneshot::Receiver<()>);

    /// Creates a fresh generation to build from the whole log
    /// ([`replay::rebuild_all`] loads and swaps it in).
    fn begin_rebuild<'a>(
        &'a self,
        store: &'a EventStore,
        clock: &'a dyn Clock,
    ) -> BoxFuture<'a, Result<Box<dyn Rebuilding>, ProjectorError>>;
}

struct Registered<P>(Arc<P>);

impl<P: Projection> AnyProjection for Registered<P> {
    fn name(&self) -> &'static str {
        self.0.name()
    }

    fn version(&self) -> u32 {
        self.0.version()
    }

    fn table(&self) -> &'static TableSpec {
        self.0.table()
    }

    fn spawn(
        &self,
        store: EventStore,
        handle: ProjectionHandle,
        hooks: Hooks,
        clock: Arc<dyn Clock>,
        cancel: CancellationToken,
    ) -> (JoinHandle<()>, oneshot::Receiver<()>) {
        let (ready, is_ready) = oneshot::channel();
        let supervisor = Supervisor {
            projection: Arc::clone(&self.0),
            store,
            handle,
            hooks,
            clock,
            cancel,
        };
        (tokio::spawn(supervisor.run(ready)), is_ready)
    }

    fn begin_rebuild<'a>(
        &'a self,
        store: &'a EventStore,
        clock: &'a dyn Clock,
    ) -> BoxFuture<'a, Result<Box<dyn Rebuilding>, ProjectorError>> {
        Box::pin(async move {
            let begun = replay::Rebuild::begin(Arc::clone(&self.0), store, clock).await?;
            Ok(Box::new(begun) as Box<dyn Rebuilding>)
        })
    }
}

/// Every projection, in the order they are built.
pub fn all() -> Vec<Box<dyn AnyProjection>> {
    vec![
        Box::new(Registered(Arc::new(OrderQueue))),
        Box::new(Registered(Arc::new(AgreementIndex))),
        Box::new(Registered(Arc::new(OrderReport))),
        Box::new(Registered(Arc::new(ServiceLevels))),
        Box::new(Registered(Arc::new(UsageRecords))),
    ]
}

fn handle_of<'a>(projections: &'a Projections, name: &str) -> Option<&'a ProjectionHandle> {
    match name {
        OrderQueue::NAME => Some(&projections.order_queue),
        AgreementIndex::NAME => Some(&projections.agreements),
        OrderReport::NAME => Some(&projections.order_report),
        ServiceLevels::NAME => Some(&projections.service_levels),
        UsageRecords::NAME => Some(&projections.usage_records),
        _ => None,
    }
}

/// Starts a supervisor per projection (or only those named in `only`) and waits
/// until each can serve reads (immediately if it is live at this version; after
/// building it otherwise).
pub async fn start(
    store: &EventStore,
    projections: &Projections,
    hooks: &Hooks,
    clock: Arc<dyn Clock>,
    cancel: &CancellationToken,
    only: Option<&[String]>,
) -> Vec<JoinHandle<()>> {
    // The reporting views exist from the start (empty until a generation is
    // live), and point at what is live now.
    if let Err(error) = crate::reporting::ensure(store).await {
        tracing::error!(%error, "cannot create the reporting views");
    }
    let mut tasks = Vec::new();
    let mut waiting = Vec::new();
    let wanted = |name: &str| only.is_none_or(|names| names.iter().any(|n| n == name));
    for projection in all().into_iter().filter(|p| wanted(p.name())) {
        let handle = handle_of(projections, projection.name())
            .expect("every registered projection has a handle")
            .clone();
        let (task, ready) = projection.spawn(
            store.clone(),
            handle,
            hooks.clone(),
            Arc::clone(&clock),
            cancel.child_token(),
        );
        tasks.push(task);
        waiting.push((projection.name(), ready));
    }
    for (name, ready) in waiting {
        if ready.await.is_err() {
            tracing::warn!(projection = name, "stopped before it could serve");
        }
    }
    tasks
}

/// For a server whose read models another process keeps (`pactum worker`): follows
/// each projection's live generation and checkpoint in the registry, so reads find
/// the live table and wait for a position as they do with in-process projectors.
/// Reads answer 503 until a worker has made a generation live.
pub fn observe(
    store: &EventStore,
    projections: &Projections,
    cancel: &CancellationToken,
) -> Vec<JoinHandle<()>> {
    all()
        .into_iter()
        .map(|projection| {
            let name = projection.name();
            let handle = handle_of(projections, name)
                .expect("every registered projection has a handle")
                .clone();
            let store = store.clone();
            let cancel = cancel.child_token();
            tokio::spawn(async move {
                let mut head = store.subscribe();
                while !cancel.is_cancelled() {
                    head.borrow_and_update();
                    match registry::live(store.reader(), name).await {
                        Ok(Some(live)) => {
                            let view = LiveView::of(&live);
                            if handle
                                .current()
                                .is_none_or(|v| v.generation != view.generation)
                            {
                                handle.publish(Some(view));
                            } else {
                                handle.advance(live.generation, live.checkpoint);
                            }
                        }
                        Ok(None) => {}
                        Err(error) => {
                            tracing::warn!(projection = name, %error, "cannot read the registry")
                        }
                    }
                    // The worker commits a moment after the head moves: look again
                    // shortly, and at least every OBSERVE_TICK.
                    tokio::select! {
                        _ = head.changed() => tokio::time::sleep(OBSERVE_DELAY).await,
                        () = tokio::time::sleep(OBSERVE_TICK) => {}
                        () = cancel.cancelled() => {}
                    }
                }
            })
        })
        .collect()
}

const OBSERVE_DELAY: Duration = Duration::from_millis(5);
const OBSERVE_TICK: Duration = Duration::from_millis(100);

/// Every row of the live generation of `name`, one JSON line each, by key.
pub async fn dump(store: &EventStore, name: &str) -> Result<Vec<String>, ProjectorError> {
    let projection = all()
        .into_iter()
        .find(|p| p.name() == name)
        .ok_or_else(|| ProjectorError::Apply {
            name: name.to_owned(),
            position: 0,
            reason: "no such projection".into(),
        })?;
    let Some(live) = registry::live(store.reader(), name).await? else {
        return Ok(Vec::new());
    };
    Ok(tables::dump(store.reader(), projection.table(), &live.table()).await?)
}

/// The most SQL texts a [`memo_sql`] keeps; all are dropped beyond it (table
/// names change with each generation).
const MEMO_MOST: usize = 4096;

/// The SQL text kept in `memo` under `key`, built by `build` the first time.
/// Projectors run the same few statements for every batch; building their
/// text each time (a list of event types, a multi-row upsert) cost more than
/// running them in a scenario of small batches (BENCHMARKS.md).
pub(crate) fn memo_sql<K: Hash + Eq>(
    memo: &Mutex<HashMap<K, Arc<str>>>,
    key: K,
    build: impl FnOnce() -> String,
) -> Arc<str> {
    let mut kept = memo.lock().unwrap_or_else(PoisonError::into_inner);
    if kept.len() >= MEMO_MOST {
        kept.clear();
    }
    Arc::clone(kept.entry(key).or_insert_with(|| build().into()))
}
