//! A pactum server's address and an HTTP client for it, with the requests every
//! kind of test sends (JSON in and out, the standard order, problem+json checks),
//! and a raw HTTP/1.1 connection for clients no library would be.
//!
//! The same [`Http`] talks to a server in-process ([`crate::harness::TestApp`])
//! and to the real binary ([`crate::process::Node`]); both dereference to it.

use std::time::Duration;

use reqwest::{RequestBuilder, StatusCode};
use serde_json::Value;

use crate::fixtures::cloud_order;

/// Where a server listens, and a client for it.
pub struct Http {
    /// `http://127.0.0.1:PORT`.
    pub address: String,
    pub client: reqwest::Client,
}

impl Http {
    pub fn new(address: String, client: reqwest::Client) -> Self {
        Self { address, client }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
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

    /// Submits the standard cloud order; returns its id.
    pub async fn submit(&self, customer: &str) -> String {
        let (status, body) = self.post_json("/v1/orders", customer, &cloud_order()).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["id"].as_str().expect("an order id").to_owned()
    }

    /// Submits `n` standard orders, eight at a time; each must be accepted.
    pub async fn submit_many(&self, customer: &str, n: usize) {
        use futures::StreamExt;
        let order = cloud_order();
        let statuses: Vec<StatusCode> = futures::stream::iter(0..n)
            .map(|_| async {
                let response = self
                    .post("/v1/orders", customer)
                    .json(&order)
                    .send()
                    .await
                    .expect("the server answers");
                response.status()
            })
            .buffer_unordered(8)
            .collect()
            .await;
        for status in statuses {
            assert_eq!(status, StatusCode::CREATED);
        }
    }

    /// POSTs `body` to `/v1/orders/{id}/{action}`.
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

/// Sends `request`; the status and the body, parsed as JSON if it is (`null` when
/// empty, else a JSON string of the text).
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
        tokio::time::timeout(Duration::from_secs(10), self.read_response())
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
    pub async fn closed_within(&mut self, within: Duration) -> Option<Duration> {
        let started = std::time::Instant::now();
        tokio::time::timeout(within, async { while self.fill().await {} })
            .await
            .ok()
            .map(|()| started.elapsed())
    }
}
