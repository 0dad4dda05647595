//! Test harness: a real server on a random port over a fresh store per test
//! (SQLite or PostgreSQL, see `backend.rs`),
//! with typed helpers for tokens and requests.

use std::path::Path;
use std::sync::{Arc, LazyLock};

use pactum::access::tokens::{self, TokenRequest};
use pactum::app::App;
use pactum::clock::ManualClock;
use pactum::execute::CommandMeta;
use pactum::projector::Hooks;
use pactum::startup::{ClockConfig, ServeConfig, Server};
use reqwest::{RequestBuilder, StatusCode};
use serde_json::Value;
use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

static TRACING: LazyLock<()> = LazyLock::new(|| {
    if std::env::var_os("TEST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter("info,sqlx=warn")
            .with_test_writer()
            .try_init();
    }
});

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub app: App,
    // Kept so the directory lives as long as the app; None when the caller owns it.
    _temp: Option<Arc<TempDir>>,
    shutdown: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<()>>,
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
}

/// A server over a fresh, empty store.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(Options::default()).await
}

/// A server over a fresh store whose clock the test moves.
pub async fn spawn_app_with_clock(clock: Arc<ManualClock>) -> TestApp {
    spawn_app_with(Options {
        clock: ClockConfig::Manual(clock),
        ..Options::default()
    })
    .await
}

pub async fn spawn_app_with(options: Options) -> TestApp {
    let temp = Arc::new(TempDir::new().expect("a temp dir"));
    let dir = temp.path().to_owned();
    let mut app = spawn_app_at_with(&dir, options).await;
    app._temp = Some(temp);
    app
}

/// A server over the store in `dir` (which the caller keeps alive).
pub async fn spawn_app_at(dir: &Path) -> TestApp {
    spawn_app_at_with(dir, Options::default()).await
}

pub async fn spawn_app_at_with(dir: &Path, options: Options) -> TestApp {
    LazyLock::force(&TRACING);
    let server = Server::build(ServeConfig {
        listen: "127.0.0.1:0".into(),
        storage: crate::backend::storage(dir),
        clock: options.clock,
        hooks: options.hooks,
        projectors: options.projectors,
        relay: None,
        mail: options.mail,
        streams: options.streams,
        limits: options.limits,
    })
    .await
    .expect("the server starts");
    let address = format!("http://{}", server.local_addr());
    let app = server.app().clone();
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
        address,
        client: reqwest::Client::new(),
        app,
        _temp: None,
        shutdown: Some(tx),
        handle: Some(handle),
    }
}

pub use pactum_testkit::fixtures::{cloud_order, cloud_parameters};

pub const SEED_PLAIN: &str = "SO-1-legacy : Compute/EGI Cloud compute/General purpose?Number of CPU Cores=4&Amount of RAM per CPU core=2&Local disk=40&Number of VM instances=2&Access type=opportunistic&Start of service=02/12/2019&Number of days=2";
pub const SEED_BOLD: &str = "SO-1-legacy : **Compute/EGI Cloud compute/General purpose**?Number of CPU Cores=4&Amount of RAM per CPU core=2&Local disk=40&Number of VM instances=2&Access type=opportunistic&**Start of service=02/12/2019&Number of days=2**";
pub const SEED_LINK: &str = "SO-1-legacy : [Compute/EGI Cloud compute/General purpose](#)?Number of CPU Cores=4&Amount of RAM per CPU core=2&Local disk=40&Number of VM instances=2&Access type=opportunistic&**Start of service=02/12/2019&Number of days=2**";

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// Mints a token in this app's store, as `pactum token create` does.
    pub async fn token(&self, request: TokenRequest) -> String {
        tokens::issue(
            &self.app.store,
            &self.app.catalogue,
            &request,
            &CommandMeta::system("test", self.app.now()),
        )
        .await
        .expect("the token is issued")
        .token
    }

    pub async fn customer(&self, subject: &str, org: &str) -> String {
        self.token(TokenRequest {
            subject: subject.into(),
            role: "customer".into(),
            org: Some(org.into()),
            ..Default::default()
        })
        .await
    }

    pub async fn shifter(&self, subject: &str, groups: &[&str]) -> String {
        self.token(TokenRequest {
            subject: subject.into(),
            role: "shifter".into(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
            ..Default::default()
        })
        .await
    }

    pub async fn role(&self, subject: &str, role: &str) -> String {
        self.token(TokenRequest {
            subject: subject.into(),
            role: role.into(),
            ..Default::default()
        })
        .await
    }

    pub fn get(&self, path: &str, token: &str) -> RequestBuilder {
        self.client.get(self.url(path)).bearer_auth(token)
    }

    pub fn post(&self, path: &str, token: &str) -> RequestBuilder {
        self.client.post(self.url(path)).bearer_auth(token)
    }

    /// POSTs JSON and returns the status and the parsed body.
    pub async fn post_json(&self, path: &str, token: &str, body: &Value) -> (StatusCode, Value) {
        send(self.post(path, token).json(body)).await
    }

    pub async fn get_json(&self, path: &str, token: &str) -> (StatusCode, Value) {
        send(self.get(path, token)).await
    }

    /// Lists the queue as `token` sees it, after the read model has caught up
    /// with everything committed so far (read-your-writes).
    pub async fn queue(&self, token: &str, query: &str) -> (StatusCode, Value) {
        let separator = if query.is_empty() { "" } else { "&" };
        let path = format!("/v1/orders?min_position={}{separator}{query}", self.head());
        self.get_json(&path, token).await
    }

    /// Submits the standard cloud order; returns its id.
    pub async fn submit(&self, customer: &str) -> String {
        let (status, body) = self.post_json("/v1/orders", customer, &cloud_order()).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["id"].as_str().expect("an order id").to_owned()
    }

    pub async fn command(
        &self,
        id: &str,
        action: &str,
        token: &str,
        body: Value,
    ) -> (StatusCode, Value) {
        self.post_json(&format!("/v1/orders/{id}/{action}"), token, &body)
            .await
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

pub async fn send(request: RequestBuilder) -> (StatusCode, Value) {
    let response = request.send().await.expect("the server answers");
    let status = response.status();
    let text = response.text().await.expect("a body");
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    (status, body)
}

/// Asserts an RFC 9457 problem response and returns its body.
pub async fn expect_problem(response: reqwest::Response, status: StatusCode) -> Value {
    assert_eq!(response.status(), status);
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert_eq!(content_type, "application/problem+json");
    let body: Value = response.json().await.expect("a JSON problem");
    assert_eq!(body["status"], status.as_u16());
    assert!(
        body["type"]
            .as_str()
            .is_some_and(|t| t.starts_with("https://pactum.dev/problems/")),
        "{body}"
    );
    body
}

/// A raw HTTP/1.1 connection, for clients no library would be: byte-exact
/// requests, pipelining, trickling.
pub struct RawConn {
    reader: tokio::net::tcp::OwnedReadHalf,
    writer: Option<tokio::net::tcp::OwnedWriteHalf>,
    buffer: Vec<u8>,
}

/// A response read off a [`RawConn`].
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Asserts an RFC 9457 problem of `status` and returns its body.
    pub fn expect_problem(&self, status: u16) -> Value {
        assert_eq!(self.status, status, "{self:?}");
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json"),
            "{self:?}"
        );
        let body: Value = serde_json::from_slice(&self.body).expect("a JSON problem");
        assert_eq!(body["status"], status, "{body}");
        assert!(body["title"].is_string(), "{body}");
        assert!(
            body["type"]
                .as_str()
                .is_some_and(|t| t.starts_with("https://pactum.dev/problems/")),
            "{body}"
        );
        body
    }
}

impl TestApp {
    /// The server's socket address (`127.0.0.1:port`).
    pub fn socket_address(&self) -> &str {
        self.address.trim_start_matches("http://")
    }

    pub async fn raw(&self) -> RawConn {
        let stream = tokio::net::TcpStream::connect(self.socket_address())
            .await
            .expect("the server accepts");
        let (reader, writer) = stream.into_split();
        RawConn {
            reader,
            writer: Some(writer),
            buffer: Vec::new(),
        }
    }

    /// Sends `request` on a new connection and reads one response.
    pub async fn raw_exchange(&self, request: &[u8]) -> RawResponse {
        let mut conn = self.raw().await;
        conn.send(request).await;
        conn.response().await.expect("a response")
    }
}

impl RawConn {
    pub async fn send(&mut self, bytes: &[u8]) {
        use tokio::io::AsyncWriteExt;
        let writer = self.writer.as_mut().expect("the writer is still here");
        writer.write_all(bytes).await.expect("the server reads");
    }

    /// The sending half, for a task that writes while the test reads.
    pub fn take_writer(&mut self) -> tokio::net::tcp::OwnedWriteHalf {
        self.writer.take().expect("the writer is still here")
    }

    /// The next response (within 10 s); `None` if the server closed first.
    pub async fn response(&mut self) -> Option<RawResponse> {
        tokio::time::timeout(std::time::Duration::from_secs(10), self.read_response())
            .await
            .expect("a response within 10 s")
    }

    async fn fill(&mut self) -> bool {
        use tokio::io::AsyncReadExt;
        let mut chunk = [0u8; 16 * 1024];
        match self.reader.read(&mut chunk).await {
            Ok(0) | Err(_) => false,
            Ok(n) => {
                self.buffer.extend_from_slice(&chunk[..n]);
                true
            }
        }
    }

    async fn read_response(&mut self) -> Option<RawResponse> {
        let head_end = loop {
            if let Some(at) = self.buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                break at;
            }
            if !self.fill().await {
                return None;
            }
        };
        let head = String::from_utf8(self.buffer[..head_end].to_vec()).expect("a text head");
        self.buffer.drain(..head_end + 4);
        let mut lines = head.split("\r\n");
        let status = lines
            .next()
            .and_then(|line| line.split(' ').nth(1))
            .and_then(|code| code.parse().ok())
            .expect("a status line");
        let headers: Vec<(String, String)> = lines
            .filter_map(|line| line.split_once(':'))
            .map(|(n, v)| (n.trim().to_lowercase(), v.trim().to_owned()))
            .collect();
        let length = headers
            .iter()
            .find(|(n, _)| n == "content-length")
            .map_or(0, |(_, v)| v.parse::<usize>().expect("a length"));
        while self.buffer.len() < length {
            if !self.fill().await {
                break;
            }
        }
        let body = self.buffer.drain(..length.min(self.buffer.len())).collect();
        Some(RawResponse {
            status,
            headers,
            body,
        })
    }

    /// How long until the server closes the connection (`None`: still open
    /// after `within`). Reads and discards whatever comes before.
    pub async fn closed_within(
        &mut self,
        within: std::time::Duration,
    ) -> Option<std::time::Duration> {
        let started = std::time::Instant::now();
        tokio::time::timeout(within, async { while self.fill().await {} })
            .await
            .ok()
            .map(|()| started.elapsed())
    }
}
