//! Bad input: every error is problem+json, and nothing is appended.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn malformed_json_is_400() {
    let app = spawn_app().await;
    let alice = app.customer("alice", "acme").await;
    let head = app.head();
    for body in [
        "{\"service\": ",
        "not json",
        "{\"service\": \"cloud-compute\"} extra",
    ] {
        let response = app
            .post("/v1/orders", &alice)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        expect_problem(response, StatusCode::BAD_REQUEST).await;
    }
    let id = app.submit(&alice).await;
    let head_after_submit = app.head();
    let response = app
        .post(&format!("/v1/orders/{id}/comments"), &alice)
        .body("{body: nope}")
        .send()
        .await
        .unwrap();
    expect_problem(response, StatusCode::BAD_REQUEST).await;
    assert_eq!(app.head(), head_after_submit);
    assert_eq!(head_after_submit, head + 1);
}

#[tokio::test]
async fn wrong_types_in_command_bodies_are_422_naming_the_field() {
    let app = spawn_app().await;
    let alice = app.customer("alice", "acme").await;
    let sam = app.shifter("sam", &["compute"]).await;
    let id = app.submit(&alice).await;
    for (action, body, field) in [
        ("assign", json!({"assignee": 42}), "assignee"),
        ("assign", json!({}), "assignee"),
        (
            "comments",
            json!({"body": "x", "visibility": "secret"}),
            "visibility",
        ),
        ("comments", json!({"body": ""}), "body"),
        ("reject", json!({"reason": "ok", "extra": true}), "extra"),
    ] {
        let response = app
            .post(&format!("/v1/orders/{id}/{action}"), &sam)
            .json(&body)
            .send()
            .await
            .unwrap();
        let problem = expect_problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(
            problem["errors"][0]["field"], field,
            "{action} {body}: {problem}"
        );
    }
}

#[tokio::test]
async fn oversized_bodies_are_413() {
    let app = spawn_app().await;
    let alice = app.customer("alice", "acme").await;
    let id = app.submit(&alice).await;
    let head = app.head();
    let huge = "x".repeat(200 * 1024);
    let response = app
        .post(&format!("/v1/orders/{id}/comments"), &alice)
        .json(&json!({ "body": huge }))
        .send()
        .await
        .unwrap();
    expect_problem(response, StatusCode::PAYLOAD_TOO_LARGE).await;
    let response = app
        .post("/v1/orders:legacy", &alice)
        .body(huge)
        .send()
        .await
        .unwrap();
    expect_problem(response, StatusCode::PAYLOAD_TOO_LARGE).await;
    assert_eq!(app.head(), head);
}

#[tokio::test]
async fn unknown_orders_and_routes_are_404_and_wrong_methods_405() {
    let app = spawn_app().await;
    let alice = app.customer("alice", "acme").await;
    let response = app
        .get("/v1/orders/0190b7e4-0000-7000-8000-000000000000", &alice)
        .send()
        .await
        .unwrap();
    expect_problem(response, StatusCode::NOT_FOUND).await;
    let (status, _) = app
        .command("no-such-order", "approve", &alice, json!({}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let response = app.get("/v1/nowhere", &alice).send().await.unwrap();
    expect_problem(response, StatusCode::NOT_FOUND).await;
    let response = app
        .client
        .delete(app.url("/v1/orders"))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap();
    expect_problem(response, StatusCode::METHOD_NOT_ALLOWED).await;
}

#[tokio::test]
async fn if_match_guards_against_lost_updates() {
    let app = spawn_app().await;
    let alice = app.customer("alice", "acme").await;
    let sam = app.shifter("sam", &["compute"]).await;
    let id = app.submit(&alice).await;
    let response = app
        .get(&format!("/v1/orders/{id}"), &sam)
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["etag"], "\"1\"");

    let head = app.head();
    let response = app
        .post(&format!("/v1/orders/{id}/assign"), &sam)
        .header("if-match", "\"7\"")
        .json(&json!({"assignee": "sam"}))
        .send()
        .await
        .unwrap();
    let problem = expect_problem(response, StatusCode::PRECONDITION_FAILED).await;
    assert_eq!(problem["current_version"], 1);
    assert_eq!(app.head(), head);

    let response = app
        .post(&format!("/v1/orders/{id}/assign"), &sam)
        .header("if-match", "\"1\"")
        .json(&json!({"assignee": "sam"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["etag"], "\"2\"");

    let response = app
        .post(&format!("/v1/orders/{id}/approve"), &sam)
        .header("if-match", "one")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    expect_problem(response, StatusCode::BAD_REQUEST).await;
}

#[tokio::test]
async fn racing_commands_with_the_same_if_match_cannot_both_win() {
    let app = spawn_app().await;
    let alice = app.customer("alice", "acme").await;
    let sam = app.shifter("sam", &["compute"]).await;
    let tess = app.shifter("tess", &["compute"]).await;
    for _ in 0..10 {
        let id = app.submit(&alice).await;
        let comment = |token: &str, body: &str| {
            app.post(&format!("/v1/orders/{id}/comments"), token)
                .header("if-match", "\"1\"")
                .json(&json!({"body": body}))
        };
        let (a, b) = tokio::join!(
            send(comment(&sam, "mine")),
            send(comment(&tess, "no, mine"))
        );
        let mut statuses = [a.0.as_u16(), b.0.as_u16()];
        statuses.sort();
        assert!(
            statuses == [201, 409] || statuses == [201, 412],
            "exactly one wins: {a:?} {b:?}"
        );
    }
}

#[tokio::test]
async fn a_path_id_that_is_not_utf8_is_a_400_problem() {
    let app = spawn_app().await;
    let alice = app.customer("alice", "acme").await;
    let sam = app.shifter("sam", &["compute"]).await;
    let response = app.get("/v1/orders/%ff", &alice).send().await.unwrap();
    expect_problem(response, StatusCode::BAD_REQUEST).await;
    let response = app
        .post("/v1/orders/%ff/proposals/1/accept", &alice)
        .send()
        .await
        .unwrap();
    expect_problem(response, StatusCode::BAD_REQUEST).await;
    let response = app.get("/v1/agreements/%ff", &sam).send().await.unwrap();
    expect_problem(response, StatusCode::BAD_REQUEST).await;
}

#[tokio::test]
async fn a_long_request_target_is_a_414_problem() {
    let app = spawn_app().await;
    let alice = app.customer("alice", "acme").await;
    // 9 KiB: over our limit; 70 KiB: over hyper's own (64 KiB), which it answers itself.
    for size in [9 * 1024, 70 * 1024] {
        let request = format!(
            "GET /v1/orders/{} HTTP/1.1\r\nhost: pactum\r\nauthorization: Bearer {alice}\r\n\r\n",
            "x".repeat(size)
        );
        let response = app.raw_exchange(request.as_bytes()).await;
        let problem = response.expect_problem(414);
        assert_eq!(problem["type"], "https://pactum.dev/problems/uri-too-long");
    }
}

#[tokio::test]
async fn too_many_or_too_large_headers_are_a_431_problem() {
    let app = spawn_app().await;
    let alice = app.customer("alice", "acme").await;
    let many = |count: usize| {
        (0..count)
            .map(|i| format!("x-filler-{i}: {i}\r\n"))
            .collect::<String>()
    };
    // 150 fields: over our limit; 300: over hyper's, which it answers itself;
    // one field of 40 KiB: over our byte limit.
    for extra in [
        many(150),
        many(300),
        format!("x-huge: {}\r\n", "y".repeat(40 * 1024)),
    ] {
        let request = format!(
            "GET /v1/orders HTTP/1.1\r\nhost: pactum\r\nauthorization: Bearer {alice}\r\n{extra}\r\n"
        );
        let response = app.raw_exchange(request.as_bytes()).await;
        let problem = response.expect_problem(431);
        assert_eq!(
            problem["type"],
            "https://pactum.dev/problems/headers-too-large"
        );
    }
}

#[tokio::test]
async fn differing_content_lengths_are_a_400_problem() {
    let app = spawn_app().await;
    let alice = app.customer("alice", "acme").await;
    let head = app.head();
    let request = format!(
        "POST /v1/orders HTTP/1.1\r\nhost: pactum\r\nauthorization: Bearer {alice}\r\ncontent-type: application/json\r\ncontent-length: 2\r\ncontent-length: 3\r\n\r\n{{}}"
    );
    let response = app.raw_exchange(request.as_bytes()).await;
    let problem = response.expect_problem(400);
    assert_eq!(problem["type"], "https://pactum.dev/problems/bad-request");
    assert_eq!(response.header("connection"), Some("close"));
    assert_eq!(app.head(), head);
}

#[tokio::test]
async fn an_unparsable_request_head_is_a_400_problem() {
    let app = spawn_app().await;
    for request in [
        &b"GET /healthz HTTP/1.1 nonsense\r\n\r\n"[..],
        b"G\x01T /healthz HTTP/1.1\r\n\r\n",
        // Transfer-Encoding is not HTTP/1.0.
        b"GET /healthz HTTP/1.0\r\ntransfer-encoding: chunked\r\n\r\n",
    ] {
        app.raw_exchange(request).await.expect_problem(400);
    }
}
