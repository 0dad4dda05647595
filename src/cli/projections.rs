//! `pactum replay` and `pactum projections status | dump`.

use std::process::ExitCode;
use std::time::Instant;

use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

use super::StorageArgs;
use crate::projector::{self, registry};

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
    for projection in selected {
        let bar = ProgressBar::new(head).with_style(
            ProgressStyle::with_template(
                "{msg} [{bar:30}] {human_pos}/{human_len} events, {per_sec}, eta {eta}",
            )
            .expect("a valid template")
            .progress_chars("=> "),
        );
        bar.set_message(format!("replaying {}", projection.name()));
        let started = Instant::now();
        let progress = |checkpoint: u64| {
            bar.set_length(bar.length().unwrap_or(0).max(checkpoint));
            bar.set_position(checkpoint);
        };
        let result = projection.rebuild(&app.store, &*app.clock, &progress).await;
        bar.finish_and_clear();
        let generation = match result {
            Ok(generation) => generation,
            Err(error) => {
                app.store.close().await;
                return Err(format!("replay of {} failed: {error}", projection.name()));
            }
        };
        let seconds = started.elapsed().as_secs_f64();
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
    app.store.close().await;
    Ok(ExitCode::SUCCESS)
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
