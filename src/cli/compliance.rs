//! `pactum monitoring pull`: ARGO's daily A/R figures into the log;
//! `pactum accounting import FILE`: an APEL cloud message into the log.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use jiff::ToSpan;
use jiff::civil::Date;
use jiff::tz::TimeZone;

use super::StorageArgs;
use crate::compliance::service::{self, ArgoSource, Error};
use crate::execute::CommandMeta;
use crate::runner::{CommandRequest, Ran};

#[derive(Debug, Subcommand)]
pub enum MonitoringCommand {
    /// Pull daily availability and reliability of every endpoint of an ARGO
    /// report (its web API, `/api/v2/results/{report}/endpoints`) and record
    /// the days not recorded yet. Safe to repeat.
    Pull(PullArgs),
}

/// Where ARGO is.
#[derive(Clone, Debug, Args)]
pub struct ArgoArgs {
    /// The ARGO web API's root, e.g. https://api.argo.example.org.
    #[arg(long, env = "PACTUM_ARGO_URL")]
    pub argo_url: Option<String>,
    /// The A/R report to read, e.g. Critical.
    #[arg(long = "report", env = "PACTUM_ARGO_REPORT")]
    pub report: Option<String>,
    /// The API key (better: the environment variable; never logged).
    #[arg(long, env = "PACTUM_ARGO_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
}

impl ArgoArgs {
    /// The source, if `--argo-url` was given (then the others are required).
    pub fn source(&self) -> Result<Option<ArgoSource>, String> {
        let Some(url) = &self.argo_url else {
            return Ok(None);
        };
        let report = self
            .report
            .clone()
            .ok_or("--report is required with --argo-url")?;
        let api_key = self
            .api_key
            .clone()
            .ok_or("--api-key (or PACTUM_ARGO_API_KEY) is required with --argo-url")?;
        Ok(Some(ArgoSource {
            url: url.clone(),
            report,
            api_key,
        }))
    }
}

#[derive(Debug, Args)]
pub struct PullArgs {
    #[command(flatten)]
    argo: ArgoArgs,
    /// First day (default: a week ago).
    #[arg(long)]
    from: Option<Date>,
    /// Last day (default: yesterday).
    #[arg(long)]
    to: Option<Date>,
    #[command(flatten)]
    storage: StorageArgs,
}

pub async fn run(command: MonitoringCommand) -> Result<ExitCode, String> {
    match command {
        MonitoringCommand::Pull(args) => pull(args).await,
    }
}

async fn pull(args: PullArgs) -> Result<ExitCode, String> {
    let source = args
        .argo
        .source()?
        .ok_or("--argo-url is required (or PACTUM_ARGO_URL)")?;
    let app = args.storage.open().await?;
    let now = app.now();
    let today = now.to_zoned(TimeZone::UTC).date();
    let to = args
        .to
        .unwrap_or_else(|| today.yesterday().unwrap_or(today));
    let from = args
        .from
        .unwrap_or_else(|| to.checked_sub(6.days()).unwrap_or(to));
    let result = service::pull_argo(&app.store, &source, from, to, now).await;
    app.store.close().await;
    let (pulled, imported) = result?;
    println!(
        "pulled {pulled} daily figures of report {} ({from} to {to}); {imported} new day(s) recorded",
        source.report
    );
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Subcommand)]
pub enum AccountingCommand {
    /// Record the usage records of an APEL cloud message (APEL-cloud-message:
    /// v0.4): all of them, or none if any is bad (each bad record and field
    /// named; exit 2).
    Import(ImportArgs),
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The message file (`-`: standard input).
    file: PathBuf,
    #[command(flatten)]
    storage: StorageArgs,
}

pub async fn run_accounting(command: AccountingCommand) -> Result<ExitCode, String> {
    match command {
        AccountingCommand::Import(args) => import(args).await,
    }
}

async fn import(args: ImportArgs) -> Result<ExitCode, String> {
    let text = if args.file.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin()).map_err(|e| format!("standard input: {e}"))?
    } else {
        std::fs::read_to_string(&args.file)
            .map_err(|e| format!("cannot read {}: {e}", args.file.display()))?
    };
    let app = args.storage.open().await?;
    let meta = CommandMeta::system("pactum-cli", app.now());
    let result = service::record_usage(&app.store, &text, &CommandRequest::system(meta)).await;
    app.store.close().await;
    match result {
        Ok(Ran::Done { answer, .. }) => {
            println!(
                "recorded {} usage record(s) of {}",
                answer.records,
                answer.sites.join(", ")
            );
            Ok(ExitCode::SUCCESS)
        }
        Ok(Ran::Replayed(_)) => Ok(ExitCode::SUCCESS),
        Err(Error::Invalid(errors)) => {
            for error in errors {
                eprintln!("{error}");
            }
            eprintln!("nothing recorded");
            Ok(ExitCode::from(2))
        }
        Err(error) => Err(error.to_string()),
    }
}
