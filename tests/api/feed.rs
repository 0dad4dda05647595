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

/// An auditor's token, with its id for revoking it.
async fn auditor_token(app: &TestApp, expires_at: Option<jiff::Timestamp>) -> (String, String) {
    let issued = pactum::access::tokens::issue(
        &app.app.store,
        &app.app.catalogue().await.unwrap(),
        &pactum::access::tokens::TokenRequest {
            subject: "audrey".into(),
            role: "auditor".into(),
            expires_at,
            ..Default::default()
        },
        &pactum::execute::CommandMeta::system("test", app.app.now()),
    )
    .await
    .expect("the token is issued");
    (issued.token, issued.token_id)
}

#[tokio::test]
async fn a_stream_ends_when_its_token_is_revoked() {
    let app = spawn_app().await;
    let alice = app.customer("alice", "acme").await;
    let (audrey, token_id) = auditor_token(&app, None).await;
    app.submit(&alice).await;
    let response = app
        .get("/v1/events/stream?after=0", &audrey)
        .send()
        .await
        .unwrap();
    let mut reader = SseReader::new(response);
    reader.events(app.head() as usize).await;

    pactum::access::tokens::revoke(
        &app.app.store,
        &token_id,
        Some("left the project".into()),
        &pactum::execute::CommandMeta::system("test", app.app.now()),
    )
    .await
    .unwrap();
    // The revocation is itself an event; what follows it is not delivered, and
    // the stream ends within a few seconds even while nothing more is committed.
    assert!(reader.ended().await, "the stream ends with its token");
    let response = app.get("/v1/events/stream", &audrey).send().await.unwrap();
    expect_problem(response, StatusCode::UNAUTHORIZED).await;
}

#[tokio::test]
async fn a_stream_ends_when_its_token_expires() {
    let start: jiff::Timestamp = "2026-03-02T09:00:00Z".parse().unwrap();
    let clock = std::sync::Arc::new(pactum::clock::ManualClock::starting_at(start));
    let app = spawn_app_with_clock(clock).await;
    let admin = app.role("ada", "admin").await;
    let expires = start + jiff::SignedDuration::from_hours(1);
    let (audrey, _) = auditor_token(&app, Some(expires)).await;
    let response = app
        .get("/v1/events/stream?after=0", &audrey)
        .send()
        .await
        .unwrap();
    let mut reader = SseReader::new(response);
    reader.events(app.head() as usize).await;
    let (status, _) = app
        .post_json(
            "/v1/admin/clock",
            &admin,
            &serde_json::json!({"advance": "PT2H"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        reader.ended().await,
        "the stream ends when its token expires"
    );
}

#[tokio::test]
async fn streams_are_capped_per_caller_and_in_total() {
    let app = spawn_app_with(Options {
        streams: pactum::http::events::StreamLimits {
            per_principal: 2,
            total: 3,
        },
        ..Options::default()
    })
    .await;
    let audrey = app.role("audrey", "auditor").await;
    let root = app.role("root", "admin").await;
    let open = async |token: &str| app.get("/v1/events/stream", token).send().await.unwrap();

    let first = open(&audrey).await;
    let second = open(&audrey).await;
    assert_eq!(
        (first.status(), second.status()),
        (StatusCode::OK, StatusCode::OK)
    );
    let refused = open(&audrey).await;
    assert!(refused.headers().contains_key("retry-after"));
    let problem = expect_problem(refused, StatusCode::TOO_MANY_REQUESTS).await;
    assert!(problem["detail"].as_str().unwrap().contains("per caller"));

    let third = open(&root).await;
    assert_eq!(third.status(), StatusCode::OK);
    let problem = expect_problem(open(&root).await, StatusCode::TOO_MANY_REQUESTS).await;
    assert!(problem["detail"].as_str().unwrap().contains("server"));

    // A stream given up frees its place (the server notices when it next writes:
    // at the latest with the keep-alive comment).
    drop(first);
    let mut reopened = None;
    for _ in 0..40 {
        let response = open(&audrey).await;
        if response.status() == StatusCode::OK {
            reopened = Some(response);
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(
        reopened.is_some(),
        "the closed stream's place is given back"
    );
    drop((second, third));
}

#[tokio::test]
async fn a_position_beyond_the_head_is_a_bad_request_at_once() {
    let app = spawn_app().await;
    let alice = app.customer("alice", "acme").await;
    let audrey = app.role("audrey", "auditor").await;
    app.submit(&alice).await;
    let beyond = app.head() + 100;
    // Before, these waited 5 s for the read model and answered 503, or streamed
    // nothing: a position from the future is the client's mistake.
    for request in [
        app.get("/v1/events/stream", &audrey)
            .header("last-event-id", beyond.to_string()),
        app.get(&format!("/v1/events/stream?after={beyond}"), &audrey),
        app.get(&format!("/v1/events?after={beyond}"), &audrey),
        app.get(&format!("/v1/orders?min_position={beyond}"), &audrey),
        app.get(&format!("/v1/agreements?min_position={beyond}"), &audrey),
        app.get("/v1/orders", &audrey)
            .header("pactum-min-position", beyond.to_string()),
    ] {
        let problem = expect_problem(request.send().await.unwrap(), StatusCode::BAD_REQUEST).await;
        assert!(
            problem["detail"].as_str().unwrap().contains("beyond"),
            "{problem}"
        );
    }
    // The head itself is fine.
    let head = app.head();
    let (status, _) = app
        .get_json(&format!("/v1/orders?min_position={head}"), &audrey)
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_misspelt_query_parameter_is_refused_naming_it() {
    let app = spawn_app().await;
    let audrey = app.role("audrey", "auditor").await;
    for (path, name) in [
        ("/v1/events?aftr=3", "aftr"),
        (
            "/v1/reports/orders?from=2026-01-01&to=2026-02-01&fromat=csv",
            "fromat",
        ),
        ("/v1/orders?stauts=submitted&limit=5", "stauts"),
        ("/v1/agreements?knd=sla&limit=5", "knd"),
    ] {
        let problem = expect_problem(
            app.get(path, &audrey).send().await.unwrap(),
            StatusCode::BAD_REQUEST,
        )
        .await;
        let detail = problem["detail"].as_str().unwrap();
        assert!(detail.contains(name), "{path}: {detail}");
    }
    // The stream, which browsers' EventSource users call, ignores what it does
    // not know, as before.
    let response = app
        .get("/v1/events/stream?cache=1", &audrey)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}
