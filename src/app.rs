//! The application core that HTTP handlers and CLI commands share: the event
//! store, the catalogue, the clock and the read models' handles.

use std::sync::Arc;

use jiff::Timestamp;
use tokio_util::sync::CancellationToken;

use crate::access::queries::TokenTable;
use crate::catalogue::{self, Catalogue, ChangeError};
use crate::clock::Clock;
use crate::documents::{RenderError, Renderer};
use crate::handling::TargetsTable;
use crate::notify::outbox::Outbox;
use crate::projector::Projections;
use crate::store::{EventStore, InlineProjection, StorageLocation, StoreError};

#[derive(Clone)]
pub struct App {
    pub store: EventStore,
    /// The catalogue, read again when it moved ([`App::catalogue`]).
    pub catalogues: catalogue::Current,
    pub clock: Arc<dyn Clock>,
    /// Renders agreement documents (fonts and templates loaded once).
    pub renderer: Renderer,
    /// Where each read model is served from (kept live by the server).
    pub projections: Projections,
    /// Cancelled when the process shuts down: long-running work (event streams,
    /// projection supervisors) ends on it.
    pub shutdown: CancellationToken,
    /// What broke this process for good (a background task that panicked):
    /// `/readyz` answers 503 while it holds anything.
    pub health: Health,
    /// Sign-in with an OpenID provider, if configured (`serve --oidc-issuer`).
    pub signin: Option<crate::signin::Signin>,
    /// The EOSC Marketplace adapter, if this server runs it (`serve
    /// --eosc-url`): its trigger and its status.
    pub eosc: Option<crate::eosc::EoscHandle>,
}

/// Faults that make a process unfit to serve, for readiness.
#[derive(Clone, Debug, Default)]
pub struct Health {
    faults: Arc<std::sync::Mutex<Vec<String>>>,
}

impl Health {
    /// Records a fault; the process stays unready from now on.
    pub fn broken(&self, fault: impl Into<String>) {
        self.lock().push(fault.into());
    }

    /// Every fault recorded so far (empty: healthy).
    pub fn faults(&self) -> Vec<String> {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<String>> {
        // A list that is only ever pushed to is whole after any panic.
        self.faults
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Awaits a background task, recording it as a fault if it panicked.
    pub async fn watch(self, name: &'static str, task: tokio::task::JoinHandle<()>) {
        if let Err(error) = task.await
            && error.is_panic()
        {
            tracing::error!(task = name, "a background task panicked");
            self.broken(format!("the {name} task panicked"));
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot load the catalogue: {0}")]
    Catalogue(#[from] ChangeError),
    #[error("cannot record the memberships of today's tokens: {0}")]
    Members(#[from] crate::members::MembersError),
    #[error("cannot load the document templates: {0}")]
    Templates(#[from] RenderError),
}

/// The read models kept in the same transaction as their events: API tokens (a
/// new token works at once), handling targets (a submission pins the version in
/// force), the mail outbox (a committed event has its mails queued).
pub fn inline_projections() -> Vec<Arc<dyn InlineProjection>> {
    vec![
        Arc::new(TokenTable),
        Arc::new(crate::members::queries::MembershipTable),
        Arc::new(TargetsTable),
        Arc::new(Outbox::default()),
        Arc::new(crate::compliance::queries::ComplianceTables),
    ]
}

impl App {
    /// Opens the store at `location` (creating and migrating it if needed) and
    /// loads the catalogue, seeding the shipped one into a new store.
    pub async fn open(
        location: &StorageLocation,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, OpenError> {
        let store = EventStore::open(location, inline_projections()).await?;
        let catalogue = catalogue::load_or_seed(&store, clock.now()).await?;
        crate::members::upgrade_from_tokens(&store, clock.now()).await?;
        Ok(Self {
            store,
            catalogues: catalogue,
            clock,
            renderer: Renderer::new()?,
            projections: Projections::default(),
            shutdown: CancellationToken::new(),
            health: Health::default(),
            signin: None,
            eosc: None,
        })
    }

    /// The catalogue now, with every change any process made so far.
    pub async fn catalogue(&self) -> Result<Arc<Catalogue>, StoreError> {
        self.catalogues.get(&self.store).await
    }

    /// The compliance report as a PDF (typst, off the async threads; the
    /// renderer is built on first use and kept).
    pub async fn compliance_pdf(
        &self,
        report: &crate::compliance::report::ComplianceReport,
    ) -> Result<Vec<u8>, String> {
        static RENDERER: std::sync::OnceLock<crate::compliance::pdf::ReportRenderer> =
            std::sync::OnceLock::new();
        let report = report.clone();
        tokio::task::spawn_blocking(move || {
            let renderer = match RENDERER.get() {
                Some(renderer) => renderer,
                None => {
                    let built = crate::compliance::pdf::ReportRenderer::new()?;
                    RENDERER.get_or_init(|| built)
                }
            };
            renderer.render(&report)
        })
        .await
        .map_err(|e| e.to_string())?
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// What issuing and rendering agreements takes, with the catalogue of now.
    pub fn issuing<'a>(
        &'a self,
        catalogue: &'a Catalogue,
    ) -> crate::agreements::service::Issuing<'a> {
        crate::agreements::service::Issuing {
            store: &self.store,
            catalogue,
            renderer: &self.renderer,
        }
    }
}
