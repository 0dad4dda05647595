//! Clients without a token must not exhaust the server: idle and trickling
//! connections, slow headers and bodies, more connections than the cap. Each
//! test shortens the limits it exercises.

use std::time::{Duration, Instant};

use futures::StreamExt;
use pactum::startup::HttpLimits;
use reqwest::StatusCode;
use tokio::io::AsyncWriteExt;

use crate::helpers::*;

fn limits(header: Duration, body: Duration, idle: Duration) -> HttpLimits {
    HttpLimits {
        header_timeout: header,
        body_timeout: body,
        idle_timeout: idle,
        ..HttpLimits::default()
    }
}

async fn spawn_with(limits: HttpLimits) -> TestApp {
    spawn_app_with(Options {
        limits,
        ..Options::default()
    })
    .await
}

/// Writes `bytes` one at a time, `every` apart, until the server closes.
fn trickle(mut writer: tokio::net::tcp::OwnedWriteHalf, bytes: &'static [u8], every: Duration) {
    tokio::spawn(async move {
        for byte in bytes.iter().cycle().take(1000) {
            tokio::time::sleep(every).await;
            if writer.write_all(&[*byte]).await.is_err() {
                return;
            }
        }
    });
}

#[tokio::test]
async fn under_a_thousand_idle_and_trickling_connections_health_and_commands_answer_within_a_second()
 {
    let app = spawn_with(limits(
        Duration::from_secs(60),
        Duration::from_secs(60),
        Duration::from_secs(60),
    ))
    .await;
    let alice = app.customer("alice", "acme").await;

    let mut idle = Vec::new();
    for _ in 0..1000 {
        idle.push(app.raw().await);
    }
    let mut trickling = Vec::new();
    for _ in 0..100 {
        let mut conn = app.raw().await;
        conn.send(b"GET /healthz HTTP/1.1\r\nhost: pactum\r\n")
            .await;
        trickle(
            conn.take_writer(),
            b"x-slow: lorisssss\r\n",
            Duration::from_millis(300),
        );
        trickling.push(conn);
    }
    // Let the server take them all in.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let client = reqwest::Client::new();
    let started = Instant::now();
    let response = tokio::time::timeout(
        Duration::from_secs(1),
        client.get(app.url("/healthz")).send(),
    )
    .await
    .expect("/healthz answers within a second")
    .unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    let (status, body) = tokio::time::timeout(
        Duration::from_secs(1),
        send(
            client
                .post(app.url("/v1/orders"))
                .bearer_auth(&alice)
                .json(&cloud_order()),
        ),
    )
    .await
    .expect("a command answers within a second");
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert!(started.elapsed() < Duration::from_secs(2));
    drop(idle);
    drop(trickling);
}

#[tokio::test]
async fn a_slowloris_connection_is_closed_after_the_header_timeout() {
    let app = spawn_with(limits(
        Duration::from_millis(500),
        Duration::from_secs(10),
        Duration::from_secs(10),
    ))
    .await;
    let mut conn = app.raw().await;
    conn.send(b"GET /healthz HTTP/1.1\r\nhost: pactum\r\n")
        .await;
    trickle(
        conn.take_writer(),
        b"x-slow: loris\r\n",
        Duration::from_millis(100),
    );
    let closed = conn
        .closed_within(Duration::from_secs(5))
        .await
        .expect("the server closes a slowloris connection");
    assert!(
        closed >= Duration::from_millis(400) && closed < Duration::from_millis(2500),
        "closed after {closed:?}"
    );
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    let app = spawn_with(limits(
        Duration::from_secs(10),
        Duration::from_secs(10),
        Duration::from_secs(1),
    ))
    .await;
    let mut conn = app.raw().await;
    for _ in 0..2 {
        conn.send(b"GET /healthz HTTP/1.1\r\nhost: pactum\r\n\r\n")
            .await;
        let response = conn.response().await.expect("an answer");
        assert_eq!(response.status, 200);
        // Well inside the idle timeout, the connection is still there.
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let closed = conn
        .closed_within(Duration::from_secs(5))
        .await
        .expect("the server closes an idle connection");
    assert!(
        closed >= Duration::from_millis(500) && closed < Duration::from_millis(2500),
        "closed after {closed:?}"
    );

    // A connection that never sends anything is idle too.
    let mut silent = app.raw().await;
    let closed = silent
        .closed_within(Duration::from_secs(5))
        .await
        .expect("the server closes a silent connection");
    assert!(
        closed < Duration::from_millis(2500),
        "closed after {closed:?}"
    );
}

#[tokio::test]
async fn beyond_the_cap_a_connection_waits_until_another_leaves() {
    let app = spawn_with(HttpLimits {
        max_connections: 4,
        ..limits(
            Duration::from_secs(30),
            Duration::from_secs(30),
            Duration::from_secs(30),
        )
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..4 {
        let mut conn = app.raw().await;
        conn.send(b"GET /healthz HTTP/1.1\r\nhost: pactum\r\n\r\n")
            .await;
        assert_eq!(conn.response().await.expect("an answer").status, 200);
        held.push(conn);
    }
    let mut waiting = app.raw().await;
    waiting
        .send(b"GET /healthz HTTP/1.1\r\nhost: pactum\r\n\r\n")
        .await;
    let early = tokio::time::timeout(Duration::from_millis(500), waiting.response()).await;
    assert!(early.is_err(), "answered beyond the cap: {early:?}");

    drop(held.pop());
    let response = tokio::time::timeout(Duration::from_secs(1), waiting.response())
        .await
        .expect("served once another connection left")
        .expect("an answer");
    assert_eq!(response.status, 200);
}

#[tokio::test]
async fn a_trickling_body_is_cut_after_the_body_timeout_with_a_408_problem() {
    let app = spawn_with(limits(
        Duration::from_secs(10),
        Duration::from_secs(1),
        Duration::from_secs(10),
    ))
    .await;
    let alice = app.customer("alice", "acme").await;
    let head = app.head();
    let mut conn = app.raw().await;
    conn.send(
        format!(
            "POST /v1/orders HTTP/1.1\r\nhost: pactum\r\nauthorization: Bearer {alice}\r\ncontent-type: application/json\r\ncontent-length: 500\r\n\r\n{{"
        )
        .as_bytes(),
    )
    .await;
    trickle(conn.take_writer(), b" ", Duration::from_millis(100));
    let started = Instant::now();
    let response = conn.response().await.expect("an answer");
    let problem = response.expect_problem(408);
    assert_eq!(
        problem["type"],
        "https://pactum.dev/problems/request-timeout"
    );
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(app.head(), head);
}

#[tokio::test]
async fn an_event_stream_outlives_the_idle_timeout() {
    let app = spawn_with(limits(
        Duration::from_millis(500),
        Duration::from_millis(500),
        Duration::from_millis(500),
    ))
    .await;
    let alice = app.customer("alice", "acme").await;
    let audrey = app.role("audrey", "auditor").await;
    let response = app.get("/v1/events/stream", &audrey).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let mut stream = response.bytes_stream();
    // Three idle timeouts with nothing new to send.
    let quiet_until = tokio::time::Instant::now() + Duration::from_millis(1500);
    while let Ok(chunk) = tokio::time::timeout_at(quiet_until, stream.next()).await {
        chunk.expect("the stream stays open").unwrap();
    }
    let id = app.submit(&alice).await;
    let mut seen = String::new();
    while !seen.contains(&id) {
        let chunk = tokio::time::timeout(Duration::from_secs(5), stream.next())
            .await
            .expect("the new event within 5 s")
            .expect("the stream stays open")
            .unwrap();
        seen.push_str(std::str::from_utf8(&chunk).unwrap());
    }
}

#[tokio::test]
async fn pipelined_requests_are_answered_in_order_and_a_bad_one_last_with_a_problem() {
    let app = spawn_app().await;
    let mut conn = app.raw().await;
    conn.send(
        b"GET /healthz HTTP/1.1\r\nhost: pactum\r\n\r\nGET /v1/nowhere HTTP/1.1\r\nhost: pactum\r\n\r\nGET /healthz HTTP/1.1\r\nhost: pactum\r\n\r\nBAD REQUEST\r\n\r\n",
    )
    .await;
    assert_eq!(conn.response().await.expect("first").status, 200);
    conn.response().await.expect("second").expect_problem(404);
    let third = conn.response().await.expect("third");
    assert_eq!(third.status, 200);
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&third.body).unwrap()["status"],
        "ok"
    );
    conn.response()
        .await
        .expect("an answer to the bad one")
        .expect_problem(400);
}

#[tokio::test]
async fn expect_100_continue_still_works() {
    let app = spawn_app().await;
    let alice = app.customer("alice", "acme").await;
    let body = cloud_order().to_string();
    let mut conn = app.raw().await;
    conn.send(
        format!(
            "POST /v1/orders HTTP/1.1\r\nhost: pactum\r\nauthorization: Bearer {alice}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nexpect: 100-continue\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    )
    .await;
    assert_eq!(
        conn.response().await.expect("an interim answer").status,
        100
    );
    conn.send(body.as_bytes()).await;
    let response = conn.response().await.expect("an answer");
    assert_eq!(
        response.status,
        201,
        "{:?}",
        String::from_utf8_lossy(&response.body)
    );
}
