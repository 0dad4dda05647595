//! The nodes' harness, on `pactum-testkit`'s: the real binary against a
//! database, the real server in-process on a fresh PostgreSQL database (port 0),
//! waiting on a relay's status, and reading a JetStream stream back through a
//! consumer.

use std::time::Duration;

use async_nats::jetstream::{self, consumer::pull};
use futures::StreamExt;
use pactum::app::App;
use pactum::relay::{POSITION_HEADER, RelayConfig, RelayStatus};
use pactum::store::StorageLocation;
use pactum_testkit::harness::{self, Options, TestApp};
use pactum_testkit::process::{Node, Pactum};
use pactum_testkit::{Database, Postgres, principals};
use serde_json::Value;
use tokio::sync::watch;

pub use pactum_testkit::fixtures::cloud_order;

/// The `pactum` binary cargo built for this suite.
pub fn binary() -> Pactum {
    Pactum::new(env!("CARGO_BIN_EXE_pactum"))
}

/// Runs the binary and insists it succeeds; returns its standard output.
pub fn pactum_ok(args: &[&str]) -> String {
    binary().run_ok(args)
}

/// `pactum token create` on the store at `url` for `request`; returns the token.
pub fn token(url: &str, request: &pactum::access::tokens::TokenRequest) -> String {
    let mut args = principals::args(request);
    args.extend(["--database-url".to_owned(), url.to_owned()]);
    binary().token(args)
}

/// A customer of acme.
pub fn customer(url: &str, subject: &str) -> String {
    token(url, &principals::customer(subject, "acme"))
}

/// A shifter of the compute group.
pub fn shifter(url: &str, subject: &str) -> String {
    token(url, &principals::shifter(subject, &["compute"]))
}

/// Starts `pactum serve` on the store at `url` with `extra` arguments.
pub async fn start_node(url: &str, extra: &[&str]) -> Node {
    binary()
        .serve(|command| {
            command.args(["--database-url", url]).args(extra);
        })
        .await
}

/// Every event of the store at `url`, as `pactum export` prints them.
pub fn export(url: &str) -> Vec<Value> {
    pactum_ok(&["export", "--database-url", url])
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect()
}

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

/// The real server over `database`, relaying to NATS when `relay` is given.
pub async fn spawn_app(database: &Database, relay: Option<RelayConfig>) -> TestApp {
    harness::spawn(
        location(database),
        Options {
            relay,
            ..Options::default()
        },
    )
    .await
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
