//! `pactum reporting grant | snapshot | views`: the stable views dashboards read
//! (the work is in [`crate::reporting`]; this is the terminal side).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use super::StorageArgs;
use crate::reporting::{self, ReportingError, VIEWS};

#[derive(Debug, Subcommand)]
pub enum ReportingCommand {
    /// Create or update a PostgreSQL login role that reads the reporting views
    /// (schema `reporting`) and nothing else: no event log, no tokens, no other
    /// table. With --org, it sees only those organisations' rows.
    Grant(GrantArgs),
    /// Copy the reporting views of the embedded store into a new, read-only
    /// SQLite file (one consistent read), for tools that open a file.
    Snapshot(SnapshotArgs),
    /// List the reporting views and their columns (docs/reporting.md explains them).
    Views(StorageArgs),
}

#[derive(Debug, Args)]
pub struct GrantArgs {
    /// The role's name: lower-case letters, digits and underscores.
    #[arg(long)]
    role: String,
    /// See only this organisation's rows (repeat for several).
    #[arg(long = "org", value_name = "ORG")]
    orgs: Vec<String>,
    /// The name of an environment variable holding the role's password
    /// (default: `PACTUM_REPORTING_PASSWORD`, if set); without one, a new role
    /// has none (trust or peer authentication) and an existing one keeps its own.
    #[arg(long, value_name = "VAR")]
    password_env: Option<String>,
    #[command(flatten)]
    storage: StorageArgs,
}

#[derive(Debug, Args)]
pub struct SnapshotArgs {
    /// The file to write (must not exist).
    file: PathBuf,
    #[command(flatten)]
    storage: StorageArgs,
}

/// Exit code when a reporting command refuses (bad role name, wrong store).
const REFUSED: u8 = 2;

pub async fn run(command: ReportingCommand) -> Result<ExitCode, String> {
    match command {
        ReportingCommand::Grant(args) => grant(args).await,
        ReportingCommand::Snapshot(args) => snapshot(args).await,
        ReportingCommand::Views(storage) => views(storage).await,
    }
}

fn refused(error: ReportingError) -> Result<ExitCode, String> {
    match error {
        ReportingError::Refused(message) => {
            eprintln!("error: {message}");
            Ok(ExitCode::from(REFUSED))
        }
        other => Err(other.to_string()),
    }
}

async fn grant(args: GrantArgs) -> Result<ExitCode, String> {
    let password = match &args.password_env {
        Some(var) => Some(
            std::env::var(var)
                .map_err(|_| format!("--password-env {var}: the variable is not set"))?,
        ),
        None => std::env::var("PACTUM_REPORTING_PASSWORD").ok(),
    };
    let store = args.storage.open_existing_log().await?;
    let result = reporting::grant(&store, &args.role, &args.orgs, password).await;
    store.close().await;
    let granted = match result {
        Ok(granted) => granted,
        Err(error) => return refused(error),
    };
    let scope = if granted.orgs.is_empty() {
        "every organisation's rows".to_owned()
    } else {
        format!("only the rows of {}", granted.orgs.join(", "))
    };
    println!(
        "{} role {}: reads the {} views of schema reporting, {scope}; nothing else",
        if granted.created {
            "created"
        } else {
            "updated"
        },
        args.role,
        granted.views,
    );
    Ok(ExitCode::SUCCESS)
}

async fn snapshot(args: SnapshotArgs) -> Result<ExitCode, String> {
    let store = args.storage.open_existing_log().await?;
    let result = reporting::snapshot(&store, &args.file).await;
    store.close().await;
    let snapshot = match result {
        Ok(snapshot) => snapshot,
        Err(error) => return refused(error),
    };
    for (view, rows) in &snapshot.views {
        println!("{view}: {rows} rows");
    }
    eprintln!("wrote {} (read-only)", args.file.display());
    Ok(ExitCode::SUCCESS)
}

async fn views(storage: StorageArgs) -> Result<ExitCode, String> {
    let store = storage.open_existing_log().await?;
    let dialect = store.dialect();
    store.close().await;
    for view in VIEWS {
        println!("{}", view.qualified(dialect));
        for column in view.columns {
            println!("  {:<24} {}", column.name, column.kind.contract_name());
        }
    }
    Ok(ExitCode::SUCCESS)
}
