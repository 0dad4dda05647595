//! `Idempotency-Key`: a retried command returns the first answer and appends nothing.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

#[tokio::test]
async fn a_retried_submission_returns_the_first_answer_and_appends_nothing() {
    let app = spawn_app().await;
    let alice = app.customer("alice", "acme").await;
    let submit = || {
        app.post("/v1/orders", &alice)
            .header("idempotency-key", "order-2026-001")
            .json(&cloud_order())
    };
    let first = submit().send().await.unwrap();
    assert_eq!(first.status(), StatusCode::CREATED);
    let first_body: Value = first.json().await.unwrap();
    let head = app.head();

    let retry = submit().send().await.unwrap();
    assert_eq!(retry.status(), StatusCode::CREATED);
    assert_eq!(retry.headers()["idempotent-replayed"], "true");
    let retry_body: Value = retry.json().await.unwrap();
    assert_eq!(retry_body, first_body);
    assert_eq!(app.head(), head, "the retry appended nothing");
}

#[tokio::test]
async fn a_retried_approval_is_not_a_conflict() {
    let app = spawn_app().await;
    let alice = app.customer("alice", "acme").await;
    let sam = app.shifter("sam", &["compute"]).await;
    let id = app.submit(&alice).await;
    let approve = || {
        app.post(&format!("/v1/orders/{id}/approve"), &sam)
            .header("idempotency-key", "approve-once")
            .json(&json!({"note": "ok"}))
    };
    let (first_status, first) = send(approve()).await;
    let head = app.head();
    let (retry_status, retry) = send(approve()).await;
    assert_eq!(
        (first_status, retry_status),
        (StatusCode::OK, StatusCode::OK)
    );
    assert_eq!(first, retry);
    assert_eq!(app.head(), head);
    // Without the key, the same approval is a second decision, refused.
    let (status, _) = app
        .command(&id, "approve", &sam, json!({"note": "ok"}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
}

#[tokio::test]
async fn a_key_reused_for_another_request_is_refused() {
    let app = spawn_app().await;
    let alice = app.customer("alice", "acme").await;
    let (status, _) = send(
        app.post("/v1/orders", &alice)
            .header("idempotency-key", "k1")
            .json(&cloud_order()),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let head = app.head();
    let mut other = cloud_order();
    other["parameters"]["cpu_cores"] = json!(8);
    let response = app
        .post("/v1/orders", &alice)
        .header("idempotency-key", "k1")
        .json(&other)
        .send()
        .await
        .unwrap();
    expect_problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(app.head(), head);
}

#[tokio::test]
async fn keys_belong_to_their_caller() {
    let app = spawn_app().await;
    let alice = app.customer("alice", "acme").await;
    let bob = app.customer("bob", "acme").await;
    let mut ids = Vec::new();
    for token in [&alice, &bob] {
        let (status, body) = send(
            app.post("/v1/orders", token)
                .header("idempotency-key", "same-key")
                .json(&cloud_order()),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED);
        ids.push(body["id"].clone());
    }
    assert_ne!(ids[0], ids[1]);
}

#[tokio::test]
async fn concurrent_retries_create_one_order() {
    let app = spawn_app().await;
    let alice = app.customer("alice", "acme").await;
    let head = app.head();
    let submit = || {
        send(
            app.post("/v1/orders", &alice)
                .header("idempotency-key", "burst")
                .json(&cloud_order()),
        )
    };
    let results = futures::future::join_all((0..8).map(|_| submit())).await;
    let ids: std::collections::BTreeSet<String> = results
        .iter()
        .map(|(status, body)| {
            assert_eq!(*status, StatusCode::CREATED);
            body["id"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert_eq!(app.head(), head + 1);
}
