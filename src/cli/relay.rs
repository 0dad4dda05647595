//! `pactum relay`: the relay of [`crate::relay`] as a process of its own.
//!
//! It opens the bare event store (seeding nothing: a relay only reads the log and
//! writes its checkpoint) and runs until a signal.

use std::process::ExitCode;

use clap::Args;
use tokio_util::sync::CancellationToken;

use super::{StorageArgs, shutdown_signal};
use crate::relay::{DEFAULT_STREAM, Relay, RelayConfig};

#[derive(Debug, Args)]
pub struct RelayArgs {
    /// The NATS server (JetStream enabled).
    #[arg(long, env = "PACTUM_NATS_URL", default_value = "nats://127.0.0.1:4222")]
    nats_url: String,
    /// The JetStream stream to publish to (created if missing, subjects
    /// `pactum.events.>`).
    #[arg(long, default_value = DEFAULT_STREAM)]
    stream: String,
    #[command(flatten)]
    storage: StorageArgs,
}

pub async fn run(args: RelayArgs) -> Result<ExitCode, String> {
    let store = args.storage.open_log().await?;
    let relay = Relay::new(
        store.clone(),
        args.storage.location(),
        RelayConfig::new(args.nats_url, args.stream),
    );
    let cancel = CancellationToken::new();
    let stop = cancel.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        stop.cancel();
    });
    let result = relay.run(cancel).await;
    store.close().await;
    result.map_err(|e| format!("the relay failed: {e}"))?;
    Ok(ExitCode::SUCCESS)
}
