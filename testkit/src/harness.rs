//! pactum in-process: the real server (`startup::Server`) on port 0 over a store
//! the caller names, run on the test's runtime and stopped with
//! [`TestApp::stop`]; tokens minted in its store as `pactum token create` does.
//! `tests/api` runs it over a fresh store per test on the run's backend,
//! `tests/nodes` over a fresh PostgreSQL database, relaying to NATS.

use std::ops::Deref;
use std::sync::LazyLock;

use pactum::access::tokens::{self, TokenRequest};
use pactum::app::App;
use pactum::execute::CommandMeta;
use pactum::projector::Hooks;
use pactum::relay::{RelayConfig, RelayStatus};
use pactum::startup::{ClockConfig, ServeConfig, Server};
use pactum::store::StorageLocation;
use reqwest::StatusCode;
use serde_json::Value;
use tempfile::TempDir;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use crate::http::Http;
use crate::principals;

static TRACING: LazyLock<()> = LazyLock::new(|| {
    if std::env::var_os("TEST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter("info,sqlx=warn,async_nats=warn")
            .with_test_writer()
            .try_init();
    }
});

/// Logs of the code under test go to the test's output when `TEST_LOG` is set.
pub fn init_tracing() {
    LazyLock::force(&TRACING);
}

/// How to start a test server.
#[derive(Clone, Default)]
pub struct Options {
    pub clock: ClockConfig,
    pub hooks: Hooks,
    pub projectors: pactum::startup::Projectors,
    /// Where mail goes (default: files in `<dir>/outbox` on SQLite, queued only
    /// on PostgreSQL).
    pub mail: Option<pactum::notify::deliver::MailConfig>,
    /// Event stream caps (default: the server's).
    pub streams: pactum::http::events::StreamLimits,
    /// Timeouts and caps of the HTTP server (default: production's).
    pub limits: pactum::startup::HttpLimits,
    /// Publish the log to NATS JetStream (default: no relay).
    pub relay: Option<RelayConfig>,
    /// Where to listen (default: a free loopback port).
    pub listen: Option<String>,
    /// Sign-in with an OpenID provider (default: none).
    pub signin: Option<pactum::signin::OidcConfig>,
    /// Pull ARGO's figures on a schedule (`serve --argo-url`).
    pub argo: Option<(pactum::compliance::service::ArgoSource, std::time::Duration)>,
    /// Act as an OMS of the EOSC Marketplace (`serve --eosc-url`).
    pub eosc: Option<pactum::eosc::EoscConfig>,
}

/// A server running in-process; dereferences to its [`Http`] client.
pub struct TestApp {
    http: Http,
    pub app: App,
    /// The relay's progress, when the server runs one.
    pub relay: Option<watch::Receiver<RelayStatus>>,
    // Kept so the directory lives as long as the app (see `owning`).
    _temp: Option<TempDir>,
    shutdown: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<()>>,
}

impl Deref for TestApp {
    type Target = Http;

    fn deref(&self) -> &Http {
        &self.http
    }
}

/// Starts the server over `storage` on a free loopback port.
pub async fn spawn(storage: StorageLocation, options: Options) -> TestApp {
    init_tracing();
    let server = Server::build(ServeConfig {
        listen: options.listen.unwrap_or_else(|| "127.0.0.1:0".into()),
        signin: options.signin,
        argo: options.argo,
        eosc: options.eosc,
        storage,
        clock: options.clock,
        hooks: options.hooks,
        projectors: options.projectors,
        relay: options.relay,
        mail: options.mail,
        streams: options.streams,
        limits: options.limits,
    })
    .await
    .expect("the server starts");
    let address = format!("http://{}", server.local_addr());
    let app = server.app().clone();
    let relay = server.relay_status();
    let (tx, rx) = oneshot::channel::<()>();
    let handle = tokio::spawn(async move {
        server
            .run_until_stopped(async {
                let _ = rx.await;
            })
            .await
            .expect("the server runs");
    });
    TestApp {
        http: Http::new(address, reqwest::Client::new()),
        app,
        relay,
        _temp: None,
        shutdown: Some(tx),
        handle: Some(handle),
    }
}

impl TestApp {
    /// Keeps `dir` (the store's directory) until the app is dropped.
    pub fn owning(mut self, dir: TempDir) -> Self {
        self._temp = Some(dir);
        self
    }

    /// Mints a token in this app's store, as `pactum token create` does.
    pub async fn token(&self, request: TokenRequest) -> String {
        tokens::issue(
            &self.app.store,
            &self.app.catalogue().await.expect("the catalogue reads"),
            &request,
            &CommandMeta::system("test", self.app.now()),
        )
        .await
        .expect("the token is issued")
        .token
    }

    pub async fn customer(&self, subject: &str, org: &str) -> String {
        self.token(principals::customer(subject, org)).await
    }

    pub async fn shifter(&self, subject: &str, groups: &[&str]) -> String {
        self.token(principals::shifter(subject, groups)).await
    }

    pub async fn provider(&self, subject: &str, provider: &str) -> String {
        self.token(principals::provider(subject, provider)).await
    }

    pub async fn role(&self, subject: &str, role: &str) -> String {
        self.token(principals::role(subject, role)).await
    }

    /// Lists the queue as `token` sees it, after the read model has caught up
    /// with everything committed so far (read-your-writes).
    pub async fn queue(&self, token: &str, query: &str) -> (StatusCode, Value) {
        let separator = if query.is_empty() { "" } else { "&" };
        let path = format!("/v1/orders?min_position={}{separator}{query}", self.head());
        self.get_json(&path, token).await
    }

    /// The global position of the newest event: equal before and after a
    /// refused command, since nothing may be appended.
    pub fn head(&self) -> u64 {
        self.app.store.head()
    }

    /// Stops the server and waits until its writer has finished.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(handle) = self.handle.take() {
            handle.await.expect("the server task ends cleanly");
        }
    }
}
