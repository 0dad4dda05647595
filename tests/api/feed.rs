//! The global log for auditors: `GET /v1/events` and the SSE stream.

use std::time::Duration;

use futures::StreamExt;
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::*;

#[tokio::test]
async fn auditors_page_through_the_whole_log() {
    let app = spawn_app().await;
    let alice = app.customer("alice", "acme").await;
    let audrey = app.role("audrey", "auditor").await;
    app.submit(&alice).await;
    app.submit(&alice).await;
    let head = app.head();

    let mut positions = Vec::new();
    let mut after = 0;
    loop {
        let (status, page) = app
            .get_json(&format!("/v1/events?after={after}&limit=7"), &audrey)
            .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let events = page["events"].as_array().unwrap();
        if events.is_empty() {
            assert_eq!(page["next_after"], after);
            break;
        }
        for event in events {
            positions.push(event["position"].as_u64().unwrap());
            for field in [
                "aggregate_type",
                "aggregate_id",
                "sequence",
                "event_type",
                "recorded_at",
                "actor",
                "payload",
                "hash",
            ] {
                assert!(!event[field].is_null(), "{field} missing: {event}");
            }
        }
        after = page["next_after"].as_u64().unwrap();
    }
    assert_eq!(positions, (1..=head).collect::<Vec<_>>());
}

#[tokio::test]
async fn the_log_is_for_auditors_and_admins_only() {
    let app = spawn_app().await;
    let alice = app.customer("alice", "acme").await;
    let sam = app.shifter("sam", &["compute"]).await;
    let root = app.role("root", "admin").await;
    for token in [&alice, &sam] {
        for path in ["/v1/events", "/v1/events/stream"] {
            let response = app.get(path, token).send().await.unwrap();
            expect_problem(response, StatusCode::FORBIDDEN).await;
        }
    }
    let (status, _) = app.get_json("/v1/events", &root).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app.get_json("/v1/events?after=x", &root).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = app.get_json("/v1/events?limit=5000", &root).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

/// An open SSE connection, read frame by frame.
struct SseReader {
    stream: futures::stream::BoxStream<'static, reqwest::Result<bytes::Bytes>>,
    buffer: String,
}

impl SseReader {
    fn new(response: reqwest::Response) -> Self {
        Self {
            stream: response.bytes_stream().boxed(),
            buffer: String::new(),
        }
    }

    /// The next `count` events as (id, data).
    async fn events(&mut self, count: usize) -> Vec<(u64, Value)> {
        let mut events = Vec::new();
        while events.len() < count {
            if let Some(end) = self.buffer.find("\n\n") {
                let frame: String = self.buffer.drain(..end + 2).collect();
                let mut id = None;
                let mut data = String::new();
                for line in frame.lines() {
                    if let Some(v) = line.strip_prefix("id:") {
                        id = Some(v.trim().parse::<u64>().unwrap());
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.trim_start());
                    }
                }
                if let Some(id) = id {
                    events.push((id, serde_json::from_str(&data).unwrap()));
                }
                continue;
            }
            let chunk = tokio::time::timeout(Duration::from_secs(10), self.stream.next())
                .await
                .expect("an event within 10 s")
                .expect("the stream stays open")
                .expect("a chunk");
            self.buffer.push_str(std::str::from_utf8(&chunk).unwrap());
        }
        events
    }

    /// Whether the server ended the stream.
    async fn ended(&mut self) -> bool {
        loop {
            match tokio::time::timeout(Duration::from_secs(10), self.stream.next()).await {
                Ok(None) | Ok(Some(Err(_))) => return true,
                Ok(Some(Ok(_))) => continue,
                Err(_) => return false,
            }
        }
    }
}

#[tokio::test]
async fn a_stream_resumed_with_last_event_id_misses_and_repeats_nothing() {
    let app = spawn_app().await;
    let alice = app.customer("alice", "acme").await;
    let audrey = app.role("audrey", "auditor").await;
    app.submit(&alice).await;

    // First connection: part of the log, then the client goes away.
    let response = app.get("/v1/events/stream", &audrey).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let first = SseReader::new(response).events(10).await;
    let last_seen = first.last().unwrap().0;

    // The log moves on while it is away.
    for _ in 0..3 {
        app.submit(&alice).await;
    }
    let head = app.head();

    // Second connection resumes after the last id it saw and catches up...
    let response = app
        .get("/v1/events/stream", &audrey)
        .header("last-event-id", last_seen.to_string())
        .send()
        .await
        .unwrap();
    let mut reader = SseReader::new(response);
    let mut second = reader.events((head - last_seen) as usize).await;
    // ...then follows a commit made while it is connected.
    app.submit(&alice).await;
    second.extend(reader.events(1).await);

    let positions: Vec<u64> = first.iter().chain(&second).map(|(id, _)| *id).collect();
    assert_eq!(
        positions,
        (1..=head + 1).collect::<Vec<_>>(),
        "no gap, no repeat"
    );
    for (id, event) in first.iter().chain(&second) {
        assert_eq!(event["position"], *id, "the SSE id is the global position");
    }
    assert_eq!(second.last().unwrap().1["event_type"], "OrderSubmitted");
}

#[tokio::test]
async fn shutting_down_ends_open_streams() {
    let app = spawn_app().await;
    let audrey = app.role("audrey", "auditor").await;
    let response = app
        .get("/v1/events/stream?after=0", &audrey)
        .send()
        .await
        .unwrap();
    let mut reader = SseReader::new(response);
    let head = app.head() as usize;
    reader.events(head).await;
    // The stream is open and caught up, waiting for commits; stopping must not
    // hang on it, and must end it.
    let stopping = tokio::spawn(app.stop());
    assert!(reader.ended().await, "the server ends the stream");
    tokio::time::timeout(Duration::from_secs(10), stopping)
        .await
        .expect("graceful shutdown does not wait for event streams")
        .unwrap();
}
