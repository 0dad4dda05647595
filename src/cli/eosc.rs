//! `pactum eosc sync`: one pass of the EOSC Marketplace adapter, and the
//! flags `pactum serve` shares with it (`--eosc-url`, `--eosc-oms-id`...).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Subcommand};

use super::{StorageArgs, parse_duration};
use crate::clock::SystemClock;
use crate::eosc::sync::Sync;
use crate::eosc::{Credentials, EoscConfig, EoscHandle, Mapping};

#[derive(Debug, Subcommand)]
pub enum EoscCommand {
    /// One pass of the EOSC Marketplace adapter, then exit: read the
    /// Marketplace's events feed (new project items become orders, the
    /// customers' messages comments or answers), then tell the Marketplace
    /// what changed in pactum (statuses, the staff's public messages).
    ///
    /// Safe to repeat, and to run beside nothing else that syncs the same OMS.
    /// Exits 1 when the Marketplace refuses the OMS's credentials or a push
    /// fails (it is tried again by the next pass).
    Sync(SyncArgs),
}

/// The EOSC Marketplace, and pactum as one of its order management systems.
#[derive(Clone, Debug, Args)]
pub struct EoscArgs {
    /// The Marketplace's root URL, e.g. https://marketplace.eosc-portal.eu
    /// (its Ordering API is under /api/v1).
    #[arg(long, env = "PACTUM_EOSC_URL")]
    pub eosc_url: Option<String>,
    /// The id of the OMS the Marketplace registered pactum as.
    #[arg(long, env = "PACTUM_EOSC_OMS_ID")]
    pub eosc_oms_id: Option<String>,
    /// The OMS user's API token (better: the environment variable; never logged).
    #[arg(long, env = "PACTUM_EOSC_TOKEN", hide_env_values = true)]
    pub eosc_token: Option<String>,
    /// How offers, offer properties and organisations map to services,
    /// parameters and organisation ids (TOML; without it: the legacy paths and
    /// labels of the catalogue).
    #[arg(long, env = "PACTUM_EOSC_MAPPING")]
    pub eosc_mapping: Option<PathBuf>,
    /// How often to read the Marketplace's events when its trigger does not
    /// call (`10s`, `5m`...).
    #[arg(long, env = "PACTUM_EOSC_POLL", default_value = "10s", value_parser = parse_duration)]
    pub eosc_poll: Duration,
    /// The user the Marketplace's trigger calls authenticate as (HTTP Basic on
    /// POST /v1/integrations/eosc/trigger); with the password, the trigger is served.
    #[arg(
        long,
        env = "PACTUM_EOSC_TRIGGER_USER",
        requires = "eosc_trigger_password"
    )]
    pub eosc_trigger_user: Option<String>,
    /// The trigger's password (better: the environment variable; never logged).
    #[arg(
        long,
        env = "PACTUM_EOSC_TRIGGER_PASSWORD",
        hide_env_values = true,
        requires = "eosc_trigger_user"
    )]
    pub eosc_trigger_password: Option<String>,
    /// The e-mail address of the messages pactum posts in the Marketplace.
    #[arg(long, env = "PACTUM_EOSC_AUTHOR_EMAIL", default_value = crate::eosc::DEFAULT_AUTHOR_EMAIL)]
    pub eosc_author_email: String,
}

impl EoscArgs {
    /// The adapter's configuration, if `--eosc-url` was given (then the OMS
    /// id and the token are required).
    pub fn config(&self) -> Result<Option<EoscConfig>, String> {
        let Some(url) = &self.eosc_url else {
            if self.eosc_oms_id.is_some() {
                return Err("--eosc-oms-id needs --eosc-url (or PACTUM_EOSC_URL)".into());
            }
            return Ok(None);
        };
        let oms_id = self
            .eosc_oms_id
            .clone()
            .filter(|id| !id.trim().is_empty())
            .ok_or("--eosc-oms-id (or PACTUM_EOSC_OMS_ID) is required with --eosc-url")?;
        let token = self
            .eosc_token
            .clone()
            .filter(|token| !token.is_empty())
            .ok_or("PACTUM_EOSC_TOKEN (the OMS user's token) is required with --eosc-url")?;
        crate::eosc::client::Client::new(url, &oms_id, &token).map_err(|e| e.to_string())?;
        let mapping = match &self.eosc_mapping {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                Mapping::parse(&text).map_err(|e| format!("{}: {e}", path.display()))?
            }
            None => Mapping::none(),
        };
        let mut config = EoscConfig::new(url.clone(), oms_id, token);
        config.mapping = mapping;
        config.poll_every = self.eosc_poll;
        config.author_email = self.eosc_author_email.clone();
        config.trigger = match (&self.eosc_trigger_user, &self.eosc_trigger_password) {
            (Some(user), Some(password)) => Some(Credentials::new(user, password)),
            _ => None,
        };
        Ok(Some(config))
    }
}

#[derive(Debug, Args)]
pub struct SyncArgs {
    #[command(flatten)]
    eosc: EoscArgs,
    #[command(flatten)]
    storage: StorageArgs,
}

pub async fn run(command: EoscCommand) -> Result<ExitCode, String> {
    match command {
        EoscCommand::Sync(args) => sync(args).await,
    }
}

async fn sync(args: SyncArgs) -> Result<ExitCode, String> {
    let config = args
        .eosc
        .config()?
        .ok_or("--eosc-url (or PACTUM_EOSC_URL) is required")?;
    let app = args.storage.open().await?;
    let handle = EoscHandle::new(&config);
    let result = async {
        let mut sync = Sync::open(
            app.store.clone(),
            app.catalogues.clone(),
            Arc::new(SystemClock),
            config,
            handle,
        )
        .await?;
        sync.pass().await
    }
    .await;
    app.store.close().await;
    let report = result.map_err(|e| e.to_string())?;
    eprintln!(
        "EOSC sync: {} feed event(s), {} new order(s), {} unmapped item(s), {} message(s) imported, {} push(es) delivered, {} failed, {} pending",
        report.feed_events,
        report.orders,
        report.unmapped,
        report.messages,
        report.pushed,
        report.failed,
        report.pending
    );
    if report.failed > 0 {
        return Err(format!(
            "{} push(es) to the EOSC Marketplace failed; the next pass tries them again",
            report.failed
        ));
    }
    Ok(ExitCode::SUCCESS)
}
