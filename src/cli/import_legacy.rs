//! `pactum import-legacy FILE`: see [`crate::orders::import`].

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use super::StorageArgs;
use crate::orders::import::{self, Defaults, LineError};

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// A file of legacy order strings (one a line) or a CSV export (`.csv`, or
    /// --csv); `-` reads standard input.
    file: PathBuf,
    /// The customer's organisation, for lines (or CSV rows) that do not name one.
    #[arg(long)]
    org: Option<String>,
    /// The customer's subject, for lines (or CSV rows) that do not name one.
    #[arg(long)]
    subject: Option<String>,
    /// Read the file as CSV whatever its name.
    #[arg(long)]
    csv: bool,
    /// Check every row and report, but store nothing.
    #[arg(long)]
    dry_run: bool,
    #[command(flatten)]
    storage: StorageArgs,
}

pub async fn run(args: ImportArgs) -> Result<ExitCode, String> {
    let content = if args.file.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin()).map_err(|e| format!("standard input: {e}"))?
    } else {
        std::fs::read_to_string(&args.file)
            .map_err(|e| format!("cannot read {}: {e}", args.file.display()))?
    };
    let file_name = args
        .file
        .file_name()
        .map_or_else(|| "-".to_owned(), |n| n.to_string_lossy().into_owned());
    let is_csv = args.csv
        || args
            .file
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    let defaults = Defaults {
        org: args.org,
        subject: args.subject,
    };
    let rows = if is_csv {
        import::read_csv(&content, &defaults)
    } else {
        import::read_lines(&content, &defaults)
    };
    let rows = match rows {
        Ok(rows) => rows,
        Err(errors) => return Ok(refuse(&errors)),
    };

    let app = args.storage.open().await?;
    let now = app.now();
    let prepared = match import::prepare(
        &*app.catalogue().await.map_err(|e| e.to_string())?,
        rows,
        &file_name,
        now,
    ) {
        Ok(prepared) => prepared,
        Err(errors) => {
            app.store.close().await;
            return Ok(refuse(&errors));
        }
    };
    if args.dry_run {
        eprintln!(
            "{} orders are valid; nothing stored (--dry-run)",
            prepared.len()
        );
        app.store.close().await;
        return Ok(ExitCode::SUCCESS);
    }

    let bar = ProgressBar::new(prepared.len() as u64).with_style(
        ProgressStyle::with_template(
            "{spinner} importing [{bar:30}] {pos}/{len} orders, {per_sec}, eta {eta}",
        )
        .expect("a valid template")
        .progress_chars("=> "),
    );
    let result = import::import(&app.store, prepared, now, |done| {
        bar.set_position(done as u64)
    })
    .await;
    bar.finish_and_clear();
    app.store.close().await;
    let summary = result
        .map_err(|e| format!("import failed, nothing of the failed chunk was stored: {e}"))?;
    for (line, id) in &summary.imported {
        println!("{line}\t{id}\timported");
    }
    for (line, id) in &summary.already_imported {
        println!("{line}\t{id}\talready-imported");
    }
    eprintln!(
        "imported {} orders from {file_name} ({} were already imported)",
        summary.imported.len(),
        summary.already_imported.len()
    );
    Ok(ExitCode::SUCCESS)
}

/// Reports every bad line; nothing was stored.
fn refuse(errors: &[LineError]) -> ExitCode {
    for error in errors {
        eprintln!("error: {error}");
    }
    eprintln!("{} problem(s); nothing was imported", errors.len());
    ExitCode::from(2)
}
