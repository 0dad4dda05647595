//! Harness of the relay tests: the real server in-process on a fresh
//! PostgreSQL database (port 0), a customer token and orders over HTTP, waiting on
//! a relay's status, and reading a JetStream stream back through a consumer.

use std::sync::LazyLock;
use std::time::Duration;

use async_nats::jetstream::{self, consumer::pull};
use futures::StreamExt;
use pactum::access::tokens::{self, TokenRequest};
use pactum::app::App;
use pactum::execute::CommandMeta;
use pactum::relay::{POSITION_HEADER, RelayConfig, RelayStatus};
use pactum::startup::{ClockConfig, ServeConfig, Server};
use pactum::store::StorageLocation;
use pactum_testkit::{Database, Postgres};
use reqwest::StatusCode;
use serde_json::Value;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

static TRACING: LazyLock<()> = LazyLock::new(|| {
    if std::env::var_os("TEST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter("info,sqlx=warn,async_nats=warn")
            .with_test_writer()
            .try_init();
    }
});

/// A fresh database on the run's cluster (`PACTUM_TEST_POSTGRES_URL`), or on one
/// started for this test.
pub fn database() -> Database {
    Postgres::shared().database()
}

pub fn location(database: &Database) -> StorageLocation {
    StorageLocation::DatabaseUrl(database.url.clone())
}

/// A relay configuration that retries quickly, for tests.
pub fn relay_config(nats_url: &str) -> RelayConfig {
    let mut config = RelayConfig::new(nats_url, pactum::relay::DEFAULT_STREAM);
    config.retry_min = Duration::from_millis(50);
    config.retry_max = Duration::from_millis(500);
    config.lock_retry = Duration::from_millis(100);
    config.idle_check = Duration::from_millis(200);
    config.batch = 16;
    config
}

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub app: App,
    pub relay: Option<watch::Receiver<RelayStatus>>,
    shutdown: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<()>>,
}

/// The real server over `database`, relaying to NATS when `relay` is given.
pub async fn spawn_app(database: &Database, relay: Option<RelayConfig>) -> TestApp {
    LazyLock::force(&TRACING);
    let server = Server::build(ServeConfig {
        listen: "127.0.0.1:0".into(),
        storage: location(database),
        clock: ClockConfig::System,
        hooks: Default::default(),
        projectors: Default::default(),
        relay,
        mail: None,
        streams: Default::default(),
        limits: Default::default(),
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
        address,
        client: reqwest::Client::new(),
        app,
        relay,
        shutdown: Some(tx),
        handle: Some(handle),
    }
}

impl TestApp {
    pub fn head(&self) -> u64 {
        self.app.store.head()
    }

    /// Mints a customer token in this app's store, as `pactum token create` does.
    pub async fn customer(&self, subject: &str, org: &str) -> String {
        let request = TokenRequest {
            subject: subject.into(),
            role: "customer".into(),
            org: Some(org.into()),
            ..Default::default()
        };
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

    /// Submits a cloud-compute order; returns the response status.
    pub async fn submit(&self, customer: &str) -> StatusCode {
        let order = crate::support::cloud_order();
        let response = self
            .client
            .post(format!("{}/v1/orders", self.address))
            .bearer_auth(customer)
            .json(&order)
            .send()
            .await
            .expect("the server answers");
        response.status()
    }

    /// Submits `n` orders, several at a time; each must be accepted.
    pub async fn submit_many(&self, customer: &str, n: usize) {
        let statuses: Vec<StatusCode> = futures::stream::iter(0..n)
            .map(|_| self.submit(customer))
            .buffer_unordered(8)
            .collect()
            .await;
        for status in statuses {
            assert_eq!(status, StatusCode::CREATED);
        }
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(handle) = self.handle.take() {
            handle.await.expect("the server task ends cleanly");
        }
    }
}

/// Waits (at most `secs` seconds) until the status satisfies `done`.
pub async fn wait_for(
    status: &mut watch::Receiver<RelayStatus>,
    secs: u64,
    what: &str,
    done: impl FnMut(&RelayStatus) -> bool,
) -> RelayStatus {
    let outcome = tokio::time::timeout(Duration::from_secs(secs), async {
        status.wait_for(done).await.map(|s| s.clone())
    })
    .await;
    match outcome {
        Ok(Ok(status)) => status,
        Ok(Err(_)) => panic!("the relay went away while waiting until {what}"),
        Err(_) => panic!(
            "timed out waiting until {what}; relay status {:?}",
            *status.borrow()
        ),
    }
}

/// One message as a consumer received it.
#[derive(Clone, Debug)]
pub struct Received {
    pub subject: String,
    pub message_id: String,
    pub position: u64,
    pub body: Value,
}

/// Every message of `stream`, in stream order, through a new pull consumer
/// that acknowledges each one.
pub async fn consume_all(nats_url: &str, stream: &str) -> Vec<Received> {
    let client = async_nats::connect(nats_url).await.expect("NATS answers");
    let js = jetstream::new(client);
    let stream = js.get_stream(stream).await.expect("the stream exists");
    let consumer = stream
        .create_consumer(pull::Config {
            ack_policy: jetstream::consumer::AckPolicy::Explicit,
            ..Default::default()
        })
        .await
        .expect("a consumer");
    let mut received = Vec::new();
    loop {
        let mut batch = consumer
            .fetch()
            .max_messages(500)
            .expires(Duration::from_millis(500))
            .messages()
            .await
            .expect("a fetch");
        let mut got = 0;
        while let Some(message) = batch.next().await {
            let message = message.expect("a message");
            let headers = message.headers.clone().expect("headers");
            received.push(Received {
                subject: message.subject.to_string(),
                message_id: headers
                    .get("Nats-Msg-Id")
                    .expect("Nats-Msg-Id")
                    .as_str()
                    .to_owned(),
                position: headers
                    .get(POSITION_HEADER)
                    .expect("Pactum-Position")
                    .as_str()
                    .parse()
                    .expect("a position"),
                body: serde_json::from_slice(&message.payload).expect("a JSON body"),
            });
            message.ack().await.expect("acked");
            got += 1;
        }
        if got == 0 {
            return received;
        }
    }
}

/// Asserts that `received` is the log of `app` up to `head`, each event exactly
/// once and in global order, with the right subject, id and body.
pub async fn assert_exactly_once(app: &App, received: &[Received], head: u64) {
    let positions: Vec<u64> = received.iter().map(|r| r.position).collect();
    let expected: Vec<u64> = (1..=head).collect();
    assert_eq!(
        positions, expected,
        "each committed event once, in global order"
    );
    let events = app
        .store
        .read_after(0, head as u32)
        .await
        .expect("the log reads");
    for (event, got) in events.iter().zip(received) {
        assert_eq!(got.subject, pactum::relay::subject(event));
        assert_eq!(
            got.subject,
            format!(
                "pactum.events.{}.{}",
                event.aggregate_type, event.aggregate_id
            )
        );
        assert_eq!(
            got.message_id,
            format!(
                "{}/{}/{}",
                event.aggregate_type, event.aggregate_id, event.sequence
            )
        );
        assert_eq!(
            got.body,
            serde_json::to_value(event).expect("serializes"),
            "the body is the exported JSON"
        );
    }
}
