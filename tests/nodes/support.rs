//! Running the binary against a database, and talking to it over HTTP.

use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

pub fn pactum(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pactum"))
        .args(args)
        .output()
        .expect("the binary runs")
}

/// Runs the binary and insists it succeeds; returns its standard output.
pub fn pactum_ok(args: &[&str]) -> String {
    let output = pactum(args);
    assert!(
        output.status.success(),
        "pactum {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// `pactum token create` on the store at `url`; returns the token.
pub fn token(url: &str, args: &[&str]) -> String {
    let mut all = vec!["token", "create", "--database-url", url];
    all.extend_from_slice(args);
    let out = pactum_ok(&all);
    out.lines().last().expect("a token").trim().to_owned()
}

pub fn customer(url: &str, subject: &str) -> String {
    token(
        url,
        &["--subject", subject, "--role", "customer", "--org", "acme"],
    )
}

pub fn shifter(url: &str, subject: &str) -> String {
    token(
        url,
        &[
            "--subject",
            subject,
            "--role",
            "shifter",
            "--group",
            "compute",
        ],
    )
}

pub fn free_port() -> u16 {
    pactum_testkit::free_port()
}

/// A `pactum serve` process, killed (SIGKILL) on drop.
pub struct Node {
    pub child: Child,
    pub base: String,
    pub client: reqwest::Client,
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

impl Node {
    /// Starts `pactum serve` on `url` with `extra` arguments and waits until ready.
    pub async fn start(url: &str, extra: &[&str]) -> Self {
        let port = free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_pactum"))
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .args(["--database-url", url])
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("serve starts");
        let node = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
        };
        for _ in 0..600 {
            if let Ok(response) = node.client.get(node.url("/readyz")).send().await
                && response.status() == StatusCode::OK
            {
                return node;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("pactum serve did not become ready");
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// SIGKILL: no shutdown, nothing flushed beyond what was committed.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        send(self.client.get(self.url(path)).bearer_auth(token)).await
    }

    pub async fn post(&self, path: &str, token: &str, body: &Value) -> (StatusCode, Value) {
        send(
            self.client
                .post(self.url(path))
                .bearer_auth(token)
                .json(body),
        )
        .await
    }

    /// Submits the standard cloud order; returns its id.
    pub async fn submit(&self, customer: &str) -> String {
        let (status, body) = self.post("/v1/orders", customer, &cloud_order()).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["id"].as_str().expect("an order id").to_owned()
    }
}

pub async fn send(request: reqwest::RequestBuilder) -> (StatusCode, Value) {
    let response = request.send().await.expect("the server answers");
    let status = response.status();
    let text = response.text().await.expect("a body");
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, body)
}

pub use pactum_testkit::fixtures::cloud_order;

/// Every event of the store at `url`, as `pactum export` prints them.
pub fn export(url: &str) -> Vec<Value> {
    pactum_ok(&["export", "--database-url", url])
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect()
}
