//! The command line: `pactum serve | migrate | token | import-legacy | replay |
//! projections | verify | export | import | relay`.
//!
//! Every command that touches storage takes `--data-dir DIR` or
//! `--database-url URL` (also `PACTUM_DATA_DIR`, `PACTUM_DATABASE_URL`), so a
//! script can point them all at one throwaway store. Output meant for scripts goes
//! to standard output; progress, logs and errors go to standard error.

mod brand;
mod import_legacy;
mod log;
mod projections;
mod relay;
mod token;
mod worker;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};
use tracing_subscriber::EnvFilter;

use crate::app::App;
use crate::clock::{Clock, ManualClock, SystemClock};
use crate::http::events::StreamLimits;
use crate::relay::RelayConfig;
use crate::startup::{ClockConfig, Projectors, ServeConfig, Server};
use crate::store::{EventStore, StorageLocation};

#[derive(Debug, Parser)]
#[command(
    name = "pactum",
    version,
    about = "Event-sourced service orders and SLAs"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the HTTP API.
    Serve(ServeArgs),
    /// Create or upgrade the store's schema, then exit.
    Migrate(StorageArgs),
    /// Create, list and revoke API tokens.
    #[command(subcommand)]
    Token(token::TokenCommand),
    /// Import legacy order strings: one a line, or a CSV export.
    ImportLegacy(import_legacy::ImportArgs),
    /// Brands: how an organisation's documents look.
    #[command(subcommand)]
    Brand(brand::BrandCommand),
    /// Rebuild read models from the log, with a progress bar.
    Replay(projections::ReplayArgs),
    /// Inspect read models: their generations, or their rows.
    #[command(subcommand)]
    Projections(projections::ProjectionsCommand),
    /// Check that the log is untampered (hash chains, gap-free positions).
    ///
    /// Walks every aggregate's hash chain, recomputing each hash from the stored
    /// fields, and checks that the global positions run 1, 2, 3… without gaps.
    /// Exits 0 with a summary on standard output if all is intact; otherwise exits
    /// 1 and names, on standard error, the first event that does not match (the
    /// smallest position) and the earliest problem of each other broken aggregate.
    Verify(StorageArgs),
    /// Write the whole log to standard output as JSON lines.
    ///
    /// One stored event a line, in position order, payloads exactly as stored (no
    /// upcasting): a backup, or your data to take elsewhere. Changes nothing.
    Export(StorageArgs),
    /// Load a log written by `export` into an empty store.
    ///
    /// Positions, times and hashes are kept, and the token table is rebuilt. The
    /// whole input is checked first (each line an event, positions 1, 2, 3…, every
    /// hash chain intact), so a bad line anywhere stores nothing. Refuses a store
    /// that holds any event. Exits 2 when it refuses.
    Import(log::ImportArgs),
    /// Keep read models in this process, for servers run with
    /// `--projectors external`; follows the log until stopped.
    Worker(worker::WorkerArgs),
    /// Publish every committed event, in order, to a NATS JetStream stream.
    ///
    /// Subjects `pactum.events.<aggregate>.<id>`, header `Nats-Msg-Id` =
    /// `<aggregate>/<id>/<sequence>`. Keeps its position in the database and
    /// resumes from it; retries while NATS is down. Only one relay per store is
    /// active at a time (the others wait). Runs until Ctrl-C or SIGTERM.
    Relay(relay::RelayArgs),
}

/// Where the store is.
#[derive(Debug, Clone, Args)]
pub struct StorageArgs {
    /// Directory of the embedded store (created if missing).
    #[arg(long, env = "PACTUM_DATA_DIR", default_value = "./pactum-data")]
    data_dir: PathBuf,
    /// Database URL; takes precedence over --data-dir: `postgres://USER@HOST/DB`
    /// (several servers on one log) or `sqlite://FILE`.
    #[arg(long, env = "PACTUM_DATABASE_URL")]
    database_url: Option<String>,
}

impl StorageArgs {
    pub fn location(&self) -> StorageLocation {
        match &self.database_url {
            Some(url) => StorageLocation::DatabaseUrl(url.clone()),
            None => StorageLocation::DataDir(self.data_dir.clone()),
        }
    }

    async fn open(&self) -> Result<App, String> {
        App::open(&self.location(), Arc::new(SystemClock))
            .await
            .map_err(|e| format!("cannot open the store at {}: {e}", self.location()))
    }

    /// Opens the event store alone: unlike [`App::open`] it seeds nothing, so an
    /// empty store stays empty. The inline tables (tokens, handling targets) are kept, as everywhere.
    async fn open_log(&self) -> Result<EventStore, String> {
        EventStore::open(&self.location(), crate::app::inline_projections())
            .await
            .map_err(|e| format!("cannot open the store at {}: {e}", self.location()))
    }

    /// [`Self::open_log`] for commands that read a store: a data directory
    /// without one is an error rather than a new, empty store.
    async fn open_existing_log(&self) -> Result<EventStore, String> {
        let location = self.location();
        if let StorageLocation::DataDir(dir) = &location
            && !dir.join("pactum.db").exists()
        {
            return Err(format!("there is no store at {location}"));
        }
        self.open_log().await
    }
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "PACTUM_LISTEN", default_value = "127.0.0.1:8080")]
    listen: String,
    #[command(flatten)]
    storage: StorageArgs,
    /// Let admins move the clock forward with POST /v1/admin/clock (demos, tests).
    #[arg(long)]
    manual_clock: bool,
    /// Also relay the log to this NATS server (JetStream stream PACTUM_EVENTS),
    /// as `pactum relay` does.
    #[arg(long, env = "PACTUM_NATS_URL")]
    nats_url: Option<String>,
    /// Who keeps the read models: this server (`in-process`), or `pactum worker`
    /// processes (`external`: this server only reads them).
    #[arg(
        long,
        value_enum,
        default_value = "in-process",
        env = "PACTUM_PROJECTORS"
    )]
    projectors: ProjectorsArg,
    /// Send notification mail through this SMTP server (smtp://host:port)
    /// instead of writing .eml files.
    #[arg(long, env = "PACTUM_SMTP_URL")]
    smtp_url: Option<String>,
    /// Write notification mail as .eml files here (default: <data dir>/outbox).
    #[arg(long, env = "PACTUM_MAIL_DIR")]
    mail_dir: Option<std::path::PathBuf>,
    /// The From: address of notification mail.
    #[arg(long, env = "PACTUM_MAIL_FROM", default_value = crate::notify::deliver::DEFAULT_FROM)]
    mail_from: String,
    /// Event streams (`GET /v1/events/stream`) one caller may hold open at once.
    #[arg(long, env = "PACTUM_MAX_STREAMS_PER_CALLER", default_value_t = StreamLimits::STANDARD.per_principal as u32, value_parser = clap::value_parser!(u32).range(1..))]
    max_streams_per_caller: u32,
    /// Event streams the server holds open at once, everyone together.
    #[arg(long, env = "PACTUM_MAX_STREAMS", default_value_t = StreamLimits::STANDARD.total as u32, value_parser = clap::value_parser!(u32).range(1..))]
    max_streams: u32,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum ProjectorsArg {
    InProcess,
    External,
}

pub async fn run() -> ExitCode {
    let cli = Cli::parse();
    let default_level = match cli.command {
        Command::Serve(_) | Command::Relay(_) => "info",
        _ => "warn",
    };
    init_tracing(default_level);
    let result = match cli.command {
        Command::Serve(args) => serve(args).await,
        Command::Migrate(storage) => migrate(storage).await,
        Command::Token(command) => token::run(command).await,
        Command::ImportLegacy(args) => import_legacy::run(args).await,
        Command::Brand(command) => brand::run(command).await,
        Command::Replay(args) => projections::replay(args).await,
        Command::Projections(command) => projections::run(command).await,
        Command::Verify(storage) => log::verify(storage).await,
        Command::Export(storage) => log::export(storage).await,
        Command::Import(args) => log::import(args).await,
        Command::Worker(args) => worker::run(args).await,
        Command::Relay(args) => relay::run(args).await,
    };
    match result {
        Ok(code) => code,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing(default_level: &str) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(format!("{default_level},sqlx=warn")));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

async fn serve(args: ServeArgs) -> Result<ExitCode, String> {
    if args.manual_clock && args.storage.database_url.is_some() {
        return Err("--manual-clock is for the embedded store only; drop --database-url".into());
    }
    let clock = if args.manual_clock {
        ClockConfig::Manual(Arc::new(ManualClock::starting_at(SystemClock.now())))
    } else {
        ClockConfig::System
    };
    let mail = match (&args.smtp_url, &args.mail_dir, args.storage.location()) {
        (None, None, StorageLocation::DatabaseUrl(_)) => None,
        (smtp, dir, location) => {
            let dir = dir.clone().unwrap_or_else(|| match location {
                StorageLocation::DataDir(data) => data.join("outbox"),
                StorageLocation::DatabaseUrl(_) => PathBuf::from("pactum-outbox"),
            });
            Some(crate::notify::deliver::MailConfig::new(
                smtp.as_deref(),
                dir,
                &args.mail_from,
            )?)
        }
    };
    let config = ServeConfig {
        mail,
        streams: StreamLimits {
            per_principal: args.max_streams_per_caller as usize,
            total: args.max_streams as usize,
        },
        listen: args.listen,
        storage: args.storage.location(),
        clock,
        hooks: Default::default(),
        projectors: match args.projectors {
            ProjectorsArg::InProcess => Projectors::InProcess,
            ProjectorsArg::External => Projectors::External,
        },
        relay: args
            .nats_url
            .map(|url| RelayConfig::new(url, crate::relay::DEFAULT_STREAM)),
    };
    let server = Server::build(config).await.map_err(|e| e.to_string())?;
    server
        .run_until_stopped(shutdown_signal())
        .await
        .map_err(|e| format!("server failed: {e}"))?;
    Ok(ExitCode::SUCCESS)
}

async fn migrate(storage: StorageArgs) -> Result<ExitCode, String> {
    let app = storage.open().await?;
    eprintln!("store at {} is up to date", storage.location());
    app.store.close().await;
    Ok(ExitCode::SUCCESS)
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
