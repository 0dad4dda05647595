//! Keeping one projection live inside the server: build it if it has no live
//! generation of this version (serving the old one meanwhile), then follow the log
//! as commits land; start over when another process (`pactum replay`) swaps a new
//! generation in.

use std::sync::Arc;
use std::time::Duration;

use pactum_projections::projection::Projection;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use super::errors::ProjectorError;
use super::registry::{self, Generation, State};
use super::runner::{Hooks, Runner, Step};
use super::tables::Indexes;
use super::{LiveView, ProjectionHandle};
use crate::clock::Clock;
use crate::store::EventStore;

/// Appends by other processes (CLI imports, token minting) do not wake the
/// in-process notification; this slow tick picks them up.
const CROSS_PROCESS_TICK: Duration = Duration::from_secs(2);
/// How long the log stays quiet before a read model writes a checkpoint that
/// batches without its events moved (`pactum projections status`, a restart
/// and servers whose read models a worker keeps read it).
const QUIET: Duration = Duration::from_millis(250);

pub struct Supervisor<P: Projection> {
    pub projection: Arc<P>,
    pub store: EventStore,
    pub handle: ProjectionHandle,
    pub hooks: Hooks,
    pub clock: Arc<dyn Clock>,
    pub cancel: CancellationToken,
}

impl<P: Projection> Supervisor<P> {
    /// Runs until cancelled. `ready` fires once a generation can serve reads.
    pub async fn run(self, ready: oneshot::Sender<()>) {
        let mut ready = Some(ready);
        let mut backoff = Duration::from_millis(100);
        while !self.cancel.is_cancelled() {
            match self.cycle(&mut ready).await {
                Ok(()) => backoff = Duration::from_millis(100),
                Err(error) => {
                    tracing::error!(projection = self.projection.name(), %error, "projection stalled; retrying");
                    tokio::select! {
                        () = tokio::time::sleep(backoff) => {}
                        () = self.cancel.cancelled() => break,
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                }
            }
        }
    }

    async fn cycle(&self, ready: &mut Option<oneshot::Sender<()>>) -> Result<(), ProjectorError> {
        let name = self.projection.name();
        let version = self.projection.version();
        let dropped = self
            .store
            .write(move |conn| {
                Box::pin(async move { registry::drop_stale(conn, name, version).await })
            })
            .await??;
        if dropped > 0 {
            tracing::info!(
                projection = name,
                dropped,
                "dropped tables of replaced generations"
            );
        }
        let generations = registry::of(self.store.reader(), name).await?;
        let live = generations.iter().find(|g| g.state == State::Live);
        if let Some(live) = live.filter(|g| g.version == version) {
            self.handle.publish(Some(LiveView::of(live)));
            if let Some(ready) = ready.take() {
                let _ = ready.send(());
            }
            return self.follow(live.clone()).await;
        }
        // Register (or resume) the new generation first, so that whoever waits for
        // readiness finds it.
        let resumable = generations
            .iter()
            .filter(|g| g.state == State::Building && g.version == version)
            .max_by_key(|g| g.generation)
            .cloned();
        let generation = match resumable {
            Some(generation) => generation,
            None => {
                let spec = self.projection.table();
                let now = self.clock.now();
                let dialect = self.store.dialect();
                self.store
                    .write(move |conn| {
                        Box::pin(async move {
                            registry::create(conn, dialect, name, version, spec, Indexes::Now, now)
                                .await
                        })
                    })
                    .await??
            }
        };
        if let Some(old) = live {
            // Serve the old version, frozen, while the new one builds.
            self.handle.publish(Some(LiveView::of(old)));
            if let Some(ready) = ready.take() {
                let _ = ready.send(());
            }
            tracing::info!(
                projection = name,
                from = old.version,
                to = version,
                "rebuilding into fresh tables; the old version serves meanwhile"
            );
        }
        self.build(generation).await
    }

    /// Catches a building generation up and makes it live.
    async fn build(&self, generation: Generation) -> Result<(), ProjectorError> {
        let name = self.projection.name();
        let started = std::time::Instant::now();
        let mut runner = Runner::new(
            Arc::clone(&self.projection),
            self.store.clone(),
            generation,
            self.hooks.clone(),
        );
        loop {
            let mut last_log = std::time::Instant::now();
            let step = runner
                .catch_up(|checkpoint| {
                    if last_log.elapsed() > Duration::from_secs(5) {
                        tracing::info!(projection = name, checkpoint, "building");
                        last_log = std::time::Instant::now();
                    }
                })
                .await?;
            if step == Step::Retired || self.cancel.is_cancelled() {
                return Ok(());
            }
            if runner.promote(self.clock.now()).await? {
                tracing::info!(
                    projection = name,
                    generation = runner.generation().generation,
                    checkpoint = runner.checkpoint(),
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    "built and swapped in"
                );
                return Ok(());
            }
        }
    }

    /// Follows the log on the live generation until retired or cancelled.
    async fn follow(&self, generation: Generation) -> Result<(), ProjectorError> {
        let number = generation.generation;
        let mut runner = Runner::new(
            Arc::clone(&self.projection),
            self.store.clone(),
            generation,
            self.hooks.clone(),
        );
        runner.defer_quiet_checkpoints();
        let mut head = self.store.subscribe();
        loop {
            head.borrow_and_update();
            match runner.step().await? {
                Step::Applied { checkpoint, .. } | Step::Moved { checkpoint } => {
                    self.handle.advance(number, checkpoint);
                }
                Step::Retired => return Ok(()),
                Step::CaughtUp => {
                    // A checkpoint that empty batches moved is written once the
                    // log stays quiet for a moment, not after every commit.
                    let unwritten = runner.unwritten();
                    let wait = if unwritten { QUIET } else { CROSS_PROCESS_TICK };
                    tokio::select! {
                        changed = head.changed() => {
                            if changed.is_err() {
                                return Ok(());
                            }
                        }
                        () = tokio::time::sleep(wait) => {
                            if unwritten && runner.write_checkpoint().await? == Step::Retired {
                                return Ok(());
                            }
                        }
                        () = self.cancel.cancelled() => {
                            // Stopping: leave the checkpoint where it got to (a
                            // writer already closed refuses, which is no loss).
                            if unwritten && let Err(error) = runner.write_checkpoint().await {
                                tracing::debug!(%error, "checkpoint left unwritten at stop");
                            }
                            return Ok(());
                        }
                    }
                }
            }
        }
    }
}
