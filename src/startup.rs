//! Building and running the server: open the store, bind the listener (port 0
//! works, for tests), start the background work (projections, agreement expiry,
//! handling clocks, mail delivery, and the NATS relay and the EOSC Marketplace
//! adapter when configured), serve until told to stop, then drain the writer.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use jiff::Timestamp;

use axum::Router;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::app::{App, OpenError};
use crate::clock::{Clock, ManualClock, SystemClock};
use crate::execute::CommandMeta;
use crate::handling::timer::{CheckError, Checked, OrderClocks, TIMER};
use crate::http;
use crate::http::events::StreamLimits;
use crate::notify::deliver::{self, MailConfig};
use crate::orders::commands::OrderAction;
use crate::orders::service::{self, ServiceError};
use crate::projector::{self, Hooks};
use crate::relay::{Relay, RelayConfig, RelayStatus};
use crate::runner::{CommandRequest, Ran};
use crate::store::StorageLocation;

pub use crate::http::serve::HttpLimits;

#[derive(Clone)]
pub struct ServeConfig {
    pub listen: String,
    pub storage: StorageLocation,
    pub clock: ClockConfig,
    /// Test hooks of the projection runners (failure injection, pacing).
    pub hooks: Hooks,
    /// Publish the log to NATS JetStream (`serve --nats-url`); the relay runs
    /// beside the server, independent of the command path.
    pub relay: Option<RelayConfig>,
    /// Who keeps the read models.
    pub projectors: Projectors,
    /// Where notification mail goes. `None`: `.eml` files in `<data dir>/outbox`
    /// on the embedded store; on PostgreSQL mail stays queued until a server
    /// with a mail directory or SMTP relay delivers it.
    pub mail: Option<MailConfig>,
    /// How many event streams may be open at once.
    pub streams: StreamLimits,
    /// Timeouts and caps that keep clients from exhausting the server.
    pub limits: HttpLimits,
    /// Sign-in with an OpenID provider (`--oidc-issuer` and friends).
    pub signin: Option<crate::signin::OidcConfig>,
    /// Pull ARGO's A/R figures this often (`--argo-url` and friends).
    pub argo: Option<(crate::compliance::service::ArgoSource, std::time::Duration)>,
    /// Act as an order management system of the EOSC Marketplace
    /// (`--eosc-url`, `--eosc-oms-id` and friends).
    pub eosc: Option<crate::eosc::EoscConfig>,
}

/// Who keeps the read models a server reads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Projectors {
    /// This server's own tasks (several servers on one database may all do it:
    /// each batch is applied once, by whoever claims it first).
    #[default]
    InProcess,
    /// Another process (`pactum worker`); this server only reads them.
    External,
}

#[derive(Clone, Default)]
pub enum ClockConfig {
    #[default]
    System,
    /// A clock admins move forward through `POST /v1/admin/clock`
    /// (`serve --manual-clock`: demos and black-box tests of timers).
    Manual(Arc<ManualClock>),
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Open(#[from] OpenError),
    #[error("cannot listen on {address}: {source}")]
    Bind {
        address: String,
        source: std::io::Error,
    },
    #[error("cannot set up sign-in: {0}")]
    Signin(crate::signin::OidcError),
    #[error("cannot start the EOSC Marketplace adapter: {0}")]
    Eosc(crate::eosc::sync::SyncError),
}

pub struct Server {
    listener: TcpListener,
    router: Router,
    app: App,
    projectors: Vec<JoinHandle<()>>,
    relay: Option<tokio::sync::watch::Receiver<RelayStatus>>,
    limits: HttpLimits,
}

impl Server {
    pub async fn build(config: ServeConfig) -> Result<Self, StartError> {
        let (clock, manual): (Arc<dyn Clock>, Option<Arc<ManualClock>>) = match config.clock {
            ClockConfig::Manual(manual) => (manual.clone(), Some(manual)),
            ClockConfig::System => (Arc::new(SystemClock), None),
        };
        let mut app = App::open(&config.storage, clock).await?;
        if let Some(signin) = config.signin.clone() {
            let oidc = crate::signin::Oidc::discover(signin)
                .await
                .map_err(StartError::Signin)?;
            app.signin = Some(crate::signin::Signin {
                oidc: Arc::new(oidc),
            });
        }
        let mut projectors: Vec<JoinHandle<()>> = match config.projectors {
            Projectors::InProcess => {
                projector::start(
                    &app.store,
                    &app.projections,
                    &config.hooks,
                    Arc::clone(&app.clock),
                    &app.shutdown,
                    None,
                )
                .await
            }
            Projectors::External => projector::observe(&app.store, &app.projections, &app.shutdown),
        };
        projectors.push(tokio::spawn(crate::agreements::expiry::run(
            app.store.clone(),
            app.projections.agreements.clone(),
            app.clock.clone(),
            app.shutdown.child_token(),
        )));
        if let Some((source, every)) = config.argo.clone() {
            projectors.push(tokio::spawn(crate::compliance::service::pull_argo_every(
                app.store.clone(),
                Arc::clone(&app.clock),
                source,
                every,
                app.shutdown.child_token(),
            )));
        }
        if let Some(eosc) = config.eosc.clone() {
            let handle = crate::eosc::EoscHandle::new(&eosc);
            let poll_every = eosc.poll_every;
            let sync = crate::eosc::sync::Sync::open(
                app.store.clone(),
                app.catalogues.clone(),
                Arc::clone(&app.clock),
                eosc,
                handle.clone(),
            )
            .await
            .map_err(StartError::Eosc)?;
            app.eosc = Some(handle);
            projectors.push(tokio::spawn(crate::eosc::sync::run(
                sync,
                poll_every,
                app.shutdown.child_token(),
            )));
        }
        projectors.push(tokio::spawn(crate::compliance::timer::run(
            app.store.clone(),
            Arc::clone(&app.clock),
            app.shutdown.child_token(),
        )));
        projectors.push(tokio::spawn(crate::handling::timer::run(
            app.store.clone(),
            app.projections.order_queue.clone(),
            Arc::clone(&app.clock),
            app.clone(),
            app.shutdown.child_token(),
        )));
        let mail = config.mail.clone().or_else(|| match &config.storage {
            StorageLocation::DataDir(dir) => {
                MailConfig::new(None, dir.join("outbox"), deliver::DEFAULT_FROM).ok()
            }
            StorageLocation::DatabaseUrl(_) => None,
        });
        match mail {
            Some(mail) => projectors.push(tokio::spawn(deliver::run(
                app.store.clone(),
                Arc::clone(&app.clock),
                mail,
                app.shutdown.child_token(),
            ))),
            None => tracing::warn!(
                "no --mail-dir or --smtp-url: notification mail stays queued in the outbox"
            ),
        }
        let mut relay_status = None;
        if let Some(relay_config) = config.relay {
            let relay = Relay::new(app.store.clone(), config.storage.clone(), relay_config);
            relay_status = Some(relay.status());
            let cancel = app.shutdown.child_token();
            projectors.push(tokio::spawn(async move {
                if let Err(error) = relay.run(cancel).await {
                    tracing::error!(%error, "the relay stopped");
                }
            }));
        }
        // A panicked background task leaves the process unready (`/readyz`).
        let projectors = projectors
            .into_iter()
            .map(|task| tokio::spawn(app.health.clone().watch("background", task)))
            .collect();
        let listener =
            TcpListener::bind(&config.listen)
                .await
                .map_err(|source| StartError::Bind {
                    address: config.listen.clone(),
                    source,
                })?;
        let mut router = http::router(app.clone(), config.streams);
        if let Some(manual) = manual {
            router = router.merge(http::admin::clock_router(app.clone(), manual));
        }
        Ok(Self {
            listener,
            router,
            app,
            projectors,
            relay: relay_status,
            limits: config.limits,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    pub fn app(&self) -> &App {
        &self.app
    }

    /// What the relay does, when the server runs one.
    pub fn relay_status(&self) -> Option<tokio::sync::watch::Receiver<RelayStatus>> {
        self.relay.clone()
    }

    /// Serves until `shutdown` completes, then lets in-flight requests finish and
    /// the store's writer commit what it was given.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        tracing::info!(address = %self.local_addr(), "pactum is serving");
        let cancel = self.app.shutdown.clone();
        // Ending the token first ends event streams, which would otherwise keep
        // graceful shutdown waiting forever; the server then drains connections.
        let serving = http::serve::serve(self.listener, self.router, self.limits, cancel.clone());
        tokio::pin!(serving);
        tokio::select! {
            () = &mut serving => {}
            () = shutdown => {
                cancel.cancel();
                serving.await;
            }
        }
        self.app.shutdown.cancel();
        for task in self.projectors {
            let _ = task.await;
        }
        self.app.store.close().await;
        tracing::info!("pactum stopped");
        Ok(())
    }
}

/// The handling timer sends `CheckClocks` through the order service.
impl OrderClocks for App {
    async fn check_clocks(&self, order_id: &str, now: Timestamp) -> Result<Checked, CheckError> {
        let request = CommandRequest::system(CommandMeta::system(TIMER, now));
        match service::execute(&self.store, order_id, OrderAction::CheckClocks, &request).await {
            Ok(Ran::Done { .. }) => Ok(Checked::Done),
            Ok(Ran::Replayed(_)) => Ok(Checked::Replayed),
            Err(ServiceError::Conflict { .. }) => Ok(Checked::Raced),
            Err(error) => Err(error.into()),
        }
    }
}
