//! `pactum replay` and `pactum projections status | dump`.

use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};

use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

use super::StorageArgs;
use crate::projector::{self, Rebuilt, registry};

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// Rebuild only this read model (default: all of them).
    #[arg(long)]
    projection: Option<String>,
    #[command(flatten)]
    storage: StorageArgs,
}

#[derive(Debug, Subcommand)]
pub enum ProjectionsCommand {
    /// Each read model's generations: version, state, checkpoint, lag behind the log.
    Status(StorageArgs),
    /// The live rows of one read model as JSON lines, ordered by key (for
    /// comparing two stores).
    Dump {
        name: String,
        #[command(flatten)]
        storage: StorageArgs,
    },
}

/// Rebuilds read models from the whole log into fresh tables and swaps them in; a
/// running server keeps serving the old ones until then and follows the new ones
/// after.
pub async fn replay(args: ReplayArgs) -> Result<ExitCode, String> {
    let all = projector::all();
    let selected: Vec<_> = match &args.projection {
        None => all,
        Some(name) => {
            let known: Vec<&str> = all.iter().map(|p| p.name()).collect();
            let chosen: Vec<_> = all.into_iter().filter(|p| p.name() == name).collect();
            if chosen.is_empty() {
                return Err(format!(
                    "no projection {name:?} (known: {})",
                    known.join(", ")
                ));
            }
            chosen
        }
    };
    let app = args.storage.open().await?;
    let head = app.store.head();
    // One bar for all: the read models are rebuilt together, from one reading
    // of the log, and the bar shows the one furthest behind.
    let bar = ProgressBar::new(head).with_style(
        ProgressStyle::with_template(
            "{msg} [{bar:30}] {human_pos}/{human_len} events, {per_sec}, eta {eta}",
        )
        .expect("a valid template")
        .progress_chars("=> "),
    );
    let names: Vec<&str> = selected.iter().map(|p| p.name()).collect();
    bar.set_message(format!("replaying {}", names.join(", ")));
    let checkpoints: Vec<AtomicU64> = selected.iter().map(|_| AtomicU64::new(0)).collect();
    let progress = |place: usize, checkpoint: u64| {
        checkpoints[place].store(checkpoint, Ordering::Relaxed);
        let behind = checkpoints
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .min()
            .unwrap_or(checkpoint);
        bar.set_length(bar.length().unwrap_or(0).max(checkpoint));
        bar.set_position(behind);
    };
    let results = projector::rebuild_all(&selected, &app.store, &*app.clock, &progress).await;
    bar.finish_and_clear();
    app.store.close().await;
    let mut failures = Vec::new();
    for (projection, result) in selected.iter().zip(results) {
        let Rebuilt { generation, took } = match result {
            Ok(rebuilt) => rebuilt,
            Err(error) => {
                failures.push(format!("replay of {} failed: {error}", projection.name()));
                continue;
            }
        };
        let seconds = took.as_secs_f64();
        let events = generation.checkpoint;
        let rate = events as f64 / seconds.max(1e-9);
        eprintln!(
            "rebuilt {} v{} as generation {} from {events} events in {seconds:.2} s ({rate:.0} events/s)",
            projection.name(),
            projection.version(),
            generation.generation,
        );
        println!(
            "{}\t{}\t{events}\t{seconds:.3}\t{rate:.0}",
            projection.name(),
            generation.generation
        );
    }
    if failures.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        Err(failures.join("\n"))
    }
}

pub async fn run(command: ProjectionsCommand) -> Result<ExitCode, String> {
    match command {
        ProjectionsCommand::Status(storage) => {
            let app = storage.open().await?;
            let head = app.store.head();
            let generations = registry::all(app.store.reader())
                .await
                .map_err(|e| e.to_string())?;
            println!("NAME\tVERSION\tGENERATION\tSTATE\tCHECKPOINT\tLAG");
            for g in generations {
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}",
                    g.name,
                    g.version,
                    g.generation,
                    g.state.as_str(),
                    g.checkpoint,
                    head.saturating_sub(g.checkpoint)
                );
            }
            app.store.close().await;
            Ok(ExitCode::SUCCESS)
        }
        ProjectionsCommand::Dump { name, storage } => {
            let app = storage.open().await?;
            let rows = projector::dump(&app.store, &name).await;
            app.store.close().await;
            for row in rows.map_err(|e| e.to_string())? {
                println!("{row}");
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
