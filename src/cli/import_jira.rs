//! `pactum import-jira FILE`: see [`crate::orders::jira`].

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use super::StorageArgs;
use crate::orders::jira::mapping::Mapping;
use crate::orders::jira::{self, Defaults, TicketError, export};

#[derive(Debug, Args)]
pub struct ImportJiraArgs {
    /// JIRA's REST search answer with `expand=changelog` (`{"issues": [...]}`),
    /// an array of issues, or an array of such answers; `-` reads standard
    /// input.
    #[arg(required_unless_present = "print_mapping")]
    file: Option<PathBuf>,
    /// A mapping file (TOML): JIRA status names to pactum statuses, users to
    /// subjects, organisations; added to the built-in mapping (printed by
    /// --print-mapping).
    #[arg(long)]
    mapping: Option<PathBuf>,
    /// The customer's organisation, for tickets the mapping file does not place.
    #[arg(long)]
    org: Option<String>,
    /// Check every ticket and report, but store nothing.
    #[arg(long)]
    dry_run: bool,
    /// Print the built-in mapping file and exit.
    #[arg(long, conflicts_with_all = ["mapping", "org", "dry_run"])]
    print_mapping: bool,
    #[command(flatten)]
    storage: StorageArgs,
}

pub async fn run(args: ImportJiraArgs) -> Result<ExitCode, String> {
    let Some(file) = args.file.filter(|_| !args.print_mapping) else {
        print!("{}", jira::mapping::DEFAULT);
        return Ok(ExitCode::SUCCESS);
    };
    let mapping = match &args.mapping {
        None => Mapping::default(),
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            match Mapping::with_file(&text) {
                Ok(mapping) => mapping,
                Err(e) => {
                    eprintln!("error: mapping file {}: {e}", path.display());
                    return Ok(ExitCode::from(2));
                }
            }
        }
    };
    let content = if file.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin()).map_err(|e| format!("standard input: {e}"))?
    } else {
        std::fs::read_to_string(&file)
            .map_err(|e| format!("cannot read {}: {e}", file.display()))?
    };
    let file_name = file
        .file_name()
        .map_or_else(|| "-".to_owned(), |n| n.to_string_lossy().into_owned());
    let issues = match export::read(&content) {
        Ok(issues) => issues,
        Err(errors) => return Ok(refuse(&errors)),
    };
    drop(content);

    let app = args.storage.open().await?;
    let defaults = Defaults { org: args.org };
    let catalogue = app.catalogue().await.map_err(|e| e.to_string())?;
    let prepared = match jira::prepare(&catalogue, &issues, &mapping, &defaults, &file_name) {
        Ok(prepared) => prepared,
        Err(errors) => {
            app.store.close().await;
            return Ok(refuse(&errors));
        }
    };
    drop(issues);
    if args.dry_run {
        let events: usize = prepared.iter().map(jira::Prepared::events).sum();
        eprintln!(
            "{} tickets ({events} events) are valid; nothing stored (--dry-run)",
            prepared.len()
        );
        app.store.close().await;
        return Ok(ExitCode::SUCCESS);
    }

    let bar = ProgressBar::new(prepared.len() as u64).with_style(
        ProgressStyle::with_template(
            "{spinner} importing [{bar:30}] {pos}/{len} tickets, {per_sec}, eta {eta}",
        )
        .expect("a valid template")
        .progress_chars("=> "),
    );
    let result = jira::import(&app.store, &prepared, |done| bar.set_position(done as u64)).await;
    bar.finish_and_clear();
    app.store.close().await;
    let summary = result.map_err(|e| {
        format!(
            "import failed, nothing of the failed chunk was stored (run it again to import \
             the rest): {e}"
        )
    })?;
    for (key, id) in &summary.imported {
        println!("{key}\t{id}\timported");
    }
    for (key, id) in &summary.already_imported {
        println!("{key}\t{id}\talready-imported");
    }
    let imported: std::collections::BTreeSet<&str> = summary
        .imported
        .iter()
        .map(|(key, _)| key.as_str())
        .collect();
    let events: usize = prepared
        .iter()
        .filter(|p| imported.contains(p.key.as_str()))
        .map(jira::Prepared::events)
        .sum();
    eprintln!(
        "imported {} tickets ({events} events) from {file_name} ({} were already imported)",
        summary.imported.len(),
        summary.already_imported.len()
    );
    Ok(ExitCode::SUCCESS)
}

/// Reports every bad ticket; nothing was stored.
fn refuse(errors: &[TicketError]) -> ExitCode {
    for error in errors {
        eprintln!("error: {error}");
    }
    let tickets: std::collections::BTreeSet<&str> = errors.iter().map(|e| e.key.as_str()).collect();
    eprintln!(
        "{} problem(s) in {} ticket(s); nothing was imported",
        errors.len(),
        tickets.len()
    );
    ExitCode::from(2)
}
