//! `pactum worker`: keeps read models in a process of its own, for servers started
//! with `--projectors external` (or beside servers that keep them too: each batch
//! is applied once, by whoever claims it first).

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;

use super::StorageArgs;
use crate::clock::SystemClock;
use crate::projector::{self, Hooks, Projections};

#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// Keep this read model (repeat for several; default: all of them).
    #[arg(long = "projection", value_name = "NAME")]
    projections: Vec<String>,
    /// Exit once every kept read model has caught up with the log as it was at
    /// start (a batch job), instead of following new commits until stopped.
    #[arg(long)]
    until_caught_up: bool,
    #[command(flatten)]
    storage: StorageArgs,
}

pub async fn run(args: WorkerArgs) -> Result<ExitCode, String> {
    let known: Vec<&str> = projector::all().iter().map(|p| p.name()).collect();
    if let Some(unknown) = args
        .projections
        .iter()
        .find(|n| !known.contains(&n.as_str()))
    {
        return Err(format!(
            "no projection {unknown:?} (known: {})",
            known.join(", ")
        ));
    }
    let store = args.storage.open_log().await?;
    let projections = Projections::default();
    let cancel = tokio_util::sync::CancellationToken::new();
    let only = (!args.projections.is_empty()).then_some(args.projections.as_slice());
    let names: Vec<&str> = known
        .iter()
        .copied()
        .filter(|name| only.is_none_or(|only| only.iter().any(|n| n == name)))
        .collect();
    tracing::info!(projections = ?names, "worker starting");
    // Returns once each projection is live at this version (built if needed).
    let tasks = projector::start(
        &store,
        &projections,
        &Hooks::default(),
        Arc::new(SystemClock),
        &cancel,
        only,
    )
    .await;
    if args.until_caught_up {
        let head = store.head();
        for name in &names {
            let handle = projections.handle(name).expect("a known projection");
            while handle
                .wait_for(head, Duration::from_secs(60))
                .await
                .is_none()
            {
                tracing::info!(projection = name, head, "still catching up");
            }
        }
        eprintln!("caught up with position {head}: {}", names.join(", "));
    } else {
        super::shutdown_signal().await;
    }
    cancel.cancel();
    for task in tasks {
        let _ = task.await;
    }
    store.close().await;
    Ok(ExitCode::SUCCESS)
}
