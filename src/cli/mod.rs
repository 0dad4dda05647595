//! The command line: `pactum serve | migrate | token | import-legacy |
//! import-jira | replay | projections | verify | export | import | relay | eosc`.
//!
//! Every command that touches storage takes `--data-dir DIR` or
//! `--database-url URL` (also `PACTUM_DATA_DIR`, `PACTUM_DATABASE_URL`), so a
//! script can point them all at one throwaway store. Output meant for scripts goes
//! to standard output; progress, logs and errors go to standard error.

mod brand;
mod compliance;
mod eosc;
mod import_jira;
mod import_legacy;
mod log;
mod projections;
mod relay;
mod reporting;
mod token;
mod worker;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use tracing_subscriber::EnvFilter;

use crate::app::App;
use crate::clock::{Clock, ManualClock, SystemClock};
use crate::http::events::StreamLimits;
use crate::relay::RelayConfig;
use crate::startup::{ClockConfig, HttpLimits, Projectors, ServeConfig, Server};
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
    Serve(Box<ServeArgs>),
    /// Create or upgrade the store's schema, then exit.
    Migrate(StorageArgs),
    /// Create, list and revoke API tokens.
    #[command(subcommand)]
    Token(token::TokenCommand),
    /// Import legacy order strings: one a line, or a CSV export.
    ImportLegacy(import_legacy::ImportArgs),
    /// Import JIRA tickets (REST search JSON with changelog) as orders with
    /// their history: statuses, assignees, comments, original times and people.
    ///
    /// Every ticket is checked first: one bad ticket stores nothing, every bad
    /// ticket is named (key, field, reason) and the exit code is 2. A ticket
    /// imported before is skipped, so running it again appends nothing.
    ImportJira(import_jira::ImportJiraArgs),
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
    /// Monitoring: pull ARGO's availability and reliability figures.
    #[command(subcommand)]
    Monitoring(compliance::MonitoringCommand),
    /// Accounting: record APEL cloud usage records.
    #[command(subcommand)]
    Accounting(compliance::AccountingCommand),
    /// Publish every committed event, in order, to a NATS JetStream stream.
    ///
    /// Subjects `pactum.events.<aggregate>.<id>`, header `Nats-Msg-Id` =
    /// `<aggregate>/<id>/<sequence>`. Keeps its position in the database and
    /// resumes from it; retries while NATS is down. Only one relay per store is
    /// active at a time (the others wait). Runs until Ctrl-C or SIGTERM.
    Relay(relay::RelayArgs),
    /// Reporting views for dashboards: a read-only role, a snapshot file.
    #[command(subcommand)]
    Reporting(reporting::ReportingCommand),
    /// The EOSC Marketplace: pactum as one of its order management systems.
    #[command(subcommand)]
    Eosc(eosc::EoscCommand),
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
    #[command(flatten)]
    limits: LimitArgs,
    #[command(flatten)]
    signin: SigninArgs,
    /// Pull ARGO's A/R figures on a schedule (with --report and --api-key).
    #[command(flatten)]
    argo: compliance::ArgoArgs,
    /// How often to pull from ARGO (seconds).
    #[arg(long, env = "PACTUM_ARGO_EVERY", default_value_t = 3600)]
    argo_every: u64,
    /// Act as an order management system of the EOSC Marketplace (with
    /// --eosc-oms-id and PACTUM_EOSC_TOKEN).
    #[command(flatten)]
    eosc: eosc::EoscArgs,
}

/// Sign-in with an OpenID provider (EGI Check-in or any OpenID Connect one).
#[derive(Debug, Args)]
struct SigninArgs {
    /// The provider's issuer URL, exactly as it names itself
    /// (e.g. https://aai.egi.eu/auth/realms/egi).
    #[arg(long, env = "PACTUM_OIDC_ISSUER", requires_all = ["oidc_client_id", "public_url"])]
    oidc_issuer: Option<String>,
    /// The client id pactum is registered under at the provider.
    #[arg(long, env = "PACTUM_OIDC_CLIENT_ID")]
    oidc_client_id: Option<String>,
    /// The client secret (better: the environment variable; never logged).
    #[arg(long, env = "PACTUM_OIDC_CLIENT_SECRET", hide_env_values = true)]
    oidc_client_secret: Option<String>,
    /// Where people reach pactum; the redirect URI is <public url>/auth/callback.
    #[arg(long, env = "PACTUM_PUBLIC_URL")]
    public_url: Option<String>,
    /// How entitlements map to roles (TOML; default: EGI Check-in's, see
    /// src/signin/default-roles.toml).
    #[arg(long, env = "PACTUM_OIDC_ROLES")]
    oidc_roles: Option<PathBuf>,
}

impl SigninArgs {
    fn config(self) -> Result<Option<crate::signin::OidcConfig>, String> {
        let Some(issuer) = self.oidc_issuer else {
            return Ok(None);
        };
        let roles = match &self.oidc_roles {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                crate::signin::RoleMap::parse(&text)
                    .map_err(|e| format!("{}: {e}", path.display()))?
            }
            None => crate::signin::RoleMap::shipped(),
        };
        let public_url = self.public_url.unwrap_or_default();
        if !(public_url.starts_with("https://") || public_url.starts_with("http://")) {
            return Err(format!(
                "--public-url must be an http(s) URL, not {public_url:?}"
            ));
        }
        Ok(Some(crate::signin::OidcConfig {
            issuer,
            client_id: self.oidc_client_id.unwrap_or_default(),
            client_secret: self.oidc_client_secret,
            public_url: public_url.trim_end_matches('/').to_owned(),
            roles,
        }))
    }
}

/// Limits on what one client may hold or send (durations like `10s`, `500ms`,
/// `2m`, or plain seconds).
#[derive(Debug, Args)]
struct LimitArgs {
    /// Time from a request's first byte to the end of its headers.
    #[arg(long, env = "PACTUM_HEADER_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    header_timeout: Duration,
    /// Time from the end of a request's headers to the end of its body (then 408).
    #[arg(long, env = "PACTUM_BODY_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
    body_timeout: Duration,
    /// How long a keep-alive connection may wait for its next request, and how
    /// long a client may leave responses unread.
    #[arg(long, env = "PACTUM_IDLE_TIMEOUT", default_value = "60s", value_parser = parse_duration)]
    idle_timeout: Duration,
    /// Open connections at most; more wait to be accepted. Kept below the
    /// descriptor limit.
    #[arg(long, env = "PACTUM_MAX_CONNECTIONS", default_value_t = 4096)]
    max_connections: usize,
    /// Longest request target (path and query) in bytes (then 414).
    #[arg(long, env = "PACTUM_MAX_URI_LENGTH", default_value_t = 8 * 1024)]
    max_uri_length: usize,
    /// Most header fields in one request (then 431).
    #[arg(long, env = "PACTUM_MAX_HEADERS", default_value_t = 100)]
    max_headers: usize,
    /// Most bytes of header fields in one request (then 431).
    #[arg(long, env = "PACTUM_MAX_HEADER_BYTES", default_value_t = 32 * 1024)]
    max_header_bytes: usize,
    /// Event streams (`GET /v1/events/stream`) one caller may hold open at once.
    #[arg(long, env = "PACTUM_MAX_STREAMS_PER_CALLER", default_value_t = StreamLimits::STANDARD.per_principal as u32, value_parser = clap::value_parser!(u32).range(1..))]
    max_streams_per_caller: u32,
    /// Event streams the server holds open at once, everyone together.
    #[arg(long, env = "PACTUM_MAX_STREAMS", default_value_t = StreamLimits::STANDARD.total as u32, value_parser = clap::value_parser!(u32).range(1..))]
    max_streams: u32,
}

impl LimitArgs {
    fn limits(&self) -> HttpLimits {
        HttpLimits {
            header_timeout: self.header_timeout,
            body_timeout: self.body_timeout,
            idle_timeout: self.idle_timeout,
            max_connections: self.max_connections,
            max_uri_length: self.max_uri_length,
            max_headers: self.max_headers,
            max_header_bytes: self.max_header_bytes,
        }
    }
}

/// A positive duration: `10s`, `500ms`, `1m 30s`, ISO 8601 `PT10S`, or seconds.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let duration = match text.trim().parse::<u64>() {
        Ok(seconds) => Duration::from_secs(seconds),
        Err(_) => {
            let signed: jiff::SignedDuration = text.trim().parse().map_err(|e| format!("{e}"))?;
            Duration::try_from(signed).map_err(|_| "a duration must not be negative".to_owned())?
        }
    };
    if duration.is_zero() {
        return Err("a duration must be longer than zero".into());
    }
    Ok(duration)
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
        Command::Serve(args) => serve(*args).await,
        Command::Migrate(storage) => migrate(storage).await,
        Command::Token(command) => token::run(command).await,
        Command::ImportLegacy(args) => import_legacy::run(args).await,
        Command::ImportJira(args) => import_jira::run(args).await,
        Command::Brand(command) => brand::run(command).await,
        Command::Replay(args) => projections::replay(args).await,
        Command::Projections(command) => projections::run(command).await,
        Command::Verify(storage) => log::verify(storage).await,
        Command::Export(storage) => log::export(storage).await,
        Command::Import(args) => log::import(args).await,
        Command::Worker(args) => worker::run(args).await,
        Command::Relay(args) => relay::run(args).await,
        Command::Reporting(command) => reporting::run(command).await,
        Command::Eosc(command) => eosc::run(command).await,
        Command::Monitoring(command) => compliance::run(command).await,
        Command::Accounting(command) => compliance::run_accounting(command).await,
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
        eosc: args.eosc.config()?,
        signin: args.signin.config()?,
        mail,
        streams: StreamLimits {
            per_principal: args.limits.max_streams_per_caller as usize,
            total: args.limits.max_streams as usize,
        },
        limits: args.limits.limits(),
        listen: args.listen,
        storage: args.storage.location(),
        clock,
        hooks: Default::default(),
        projectors: match args.projectors {
            ProjectorsArg::InProcess => Projectors::InProcess,
            ProjectorsArg::External => Projectors::External,
        },
        argo: args
            .argo
            .source()?
            .map(|source| (source, Duration::from_secs(args.argo_every.max(60)))),
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
    crate::reporting::ensure(&app.store)
        .await
        .map_err(|e| format!("cannot create the reporting views: {e}"))?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flags_default_to_the_limits_defaults() {
        let cli = Cli::try_parse_from(["pactum", "serve"]).expect("serve parses");
        let Command::Serve(args) = cli.command else {
            panic!("not serve")
        };
        assert_eq!(args.limits.limits(), HttpLimits::default());
    }

    #[test]
    fn durations_read_as_people_write_them() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("30"), Ok(Duration::from_secs(30)));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("-5s").is_err());
        assert!(parse_duration("soon").is_err());
    }
}
