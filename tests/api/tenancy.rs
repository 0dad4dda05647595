//! Authorization in the core: organisations, groups, roles, internal comments.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn another_organisations_order_does_not_exist_for_a_customer() {
    let app = spawn_app().await;
    let alice = app.customer("alice", "acme").await;
    let carol = app.customer("carol", "acme").await;
    let mallory = app.customer("mallory", "globex").await;
    let id = app.submit(&alice).await;

    let (status, _) = app.get_json(&format!("/v1/orders/{id}"), &carol).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "colleagues of one organisation share orders"
    );

    let head = app.head();
    for path in [
        format!("/v1/orders/{id}"),
        format!("/v1/orders/{id}/history"),
    ] {
        let response = app.get(&path, &mallory).send().await.unwrap();
        expect_problem(response, StatusCode::NOT_FOUND).await;
    }
    for (action, body) in [
        ("cancel", json!({})),
        ("comments", json!({"body": "mine now"})),
        ("answers", json!({"body": "x"})),
    ] {
        let (status, _) = app.command(&id, action, &mallory, body).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{action}");
    }
    assert_eq!(app.head(), head);
}

#[tokio::test]
async fn shifters_work_only_their_groups() {
    let app = spawn_app().await;
    let alice = app.customer("alice", "acme").await;
    let stella = app.shifter("stella", &["storage"]).await;
    let id = app.submit(&alice).await;
    let (status, _) = app.get_json(&format!("/v1/orders/{id}"), &stella).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app.command(&id, "approve", &stella, json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn roles_that_may_see_but_not_act_are_forbidden() {
    let app = spawn_app().await;
    let alice = app.customer("alice", "acme").await;
    let audrey = app.role("audrey", "auditor").await;
    let root = app.role("root", "admin").await;
    let id = app.submit(&alice).await;
    let head = app.head();
    let (status, _) = app.command(&id, "approve", &alice, json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app
        .command(
            &id,
            "comments",
            &alice,
            json!({"body": "psst", "visibility": "internal"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    for token in [&audrey, &root] {
        let (status, _) = app.get_json(&format!("/v1/orders/{id}"), token).await;
        assert_eq!(status, StatusCode::OK);
        let (status, _) = app
            .command(&id, "comments", token, json!({"body": "hi"}))
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }
    assert_eq!(app.head(), head);
}

#[tokio::test]
async fn providers_see_no_orders() {
    let app = spawn_app().await;
    let alice = app.customer("alice", "acme").await;
    let (_, providers) = app.get_json("/v1/providers", &alice).await;
    let provider = providers["providers"][0]["id"].as_str().unwrap().to_owned();
    let operator = app.provider("op", &provider).await;
    let id = app.submit(&alice).await;
    let (status, _) = app.get_json(&format!("/v1/orders/{id}"), &operator).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn internal_comments_never_reach_the_customer() {
    let app = spawn_app().await;
    let alice = app.customer("alice", "acme").await;
    let sam = app.shifter("sam", &["compute"]).await;
    let audrey = app.role("audrey", "auditor").await;
    let id = app.submit(&alice).await;
    let secret = "SECRET-margin-is-thin";
    app.command(
        &id,
        "comments",
        &sam,
        json!({"body": secret, "visibility": "internal"}),
    )
    .await;
    app.command(
        &id,
        "comments",
        &sam,
        json!({"body": "We are on it", "visibility": "public"}),
    )
    .await;
    app.command(&id, "questions", &sam, json!({"body": "Which VO?"}))
        .await;

    // Every response the customer gets: reads and its own commands.
    let mut seen = Vec::new();
    seen.push(app.get_json(&format!("/v1/orders/{id}"), &alice).await.1);
    seen.push(
        app.get_json(&format!("/v1/orders/{id}/history"), &alice)
            .await
            .1,
    );
    seen.push(
        app.command(&id, "comments", &alice, json!({"body": "thanks"}))
            .await
            .1,
    );
    seen.push(
        app.command(&id, "answers", &alice, json!({"body": "vo.acme"}))
            .await
            .1,
    );
    seen.push(app.command(&id, "cancel", &alice, json!({})).await.1);
    for body in &seen {
        let text = body.to_string();
        assert!(!text.contains(secret), "leaked: {text}");
        assert!(!text.contains("\"internal\""), "leaked: {text}");
    }
    assert!(seen[0].to_string().contains("We are on it"));
    let history = seen[1]["events"].as_array().unwrap();
    assert!(
        history
            .iter()
            .all(|e| e["payload"]["visibility"] != "internal")
    );

    // Staff see it.
    for token in [&sam, &audrey] {
        let (_, history) = app
            .get_json(&format!("/v1/orders/{id}/history"), token)
            .await;
        assert!(history.to_string().contains(secret));
        let (_, order) = app.get_json(&format!("/v1/orders/{id}"), token).await;
        assert!(order.to_string().contains(secret));
    }
}

#[tokio::test]
async fn missing_bad_and_revoked_tokens_are_unauthorized() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(app.url("/v1/services"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.headers()["www-authenticate"],
        "Bearer realm=\"pactum\""
    );
    expect_problem(response, StatusCode::UNAUTHORIZED).await;
    for header in [
        "Bearer pct_0000",
        "Bearer nonsense",
        "Basic YWxpY2U6c2VjcmV0",
        "Bearer ",
    ] {
        let response = app
            .client
            .get(app.url("/v1/services"))
            .header("authorization", header)
            .send()
            .await
            .unwrap();
        expect_problem(response, StatusCode::UNAUTHORIZED).await;
    }
    let response = app
        .client
        .post(app.url("/v1/orders"))
        .json(&cloud_order())
        .send()
        .await
        .unwrap();
    expect_problem(response, StatusCode::UNAUTHORIZED).await;

    let issued = pactum::access::tokens::issue(
        &app.app.store,
        &app.app.catalogue().await.unwrap(),
        &pactum::access::tokens::TokenRequest {
            subject: "eve".into(),
            role: "customer".into(),
            org: Some("acme".into()),
            ..Default::default()
        },
        &pactum::execute::CommandMeta::system("test", app.app.now()),
    )
    .await
    .unwrap();
    let (status, _) = app.get_json("/v1/services", &issued.token).await;
    assert_eq!(status, StatusCode::OK);
    pactum::access::tokens::revoke(
        &app.app.store,
        &issued.token_id,
        None,
        &pactum::execute::CommandMeta::system("test", app.app.now()),
    )
    .await
    .unwrap();
    let (status, _) = app.get_json("/v1/services", &issued.token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn health_needs_no_token() {
    let app = spawn_app().await;
    for path in ["/healthz", "/readyz"] {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
    }
}

#[tokio::test]
async fn metrics_are_for_admins_and_auditors() {
    let app = spawn_app().await;
    let alice = app.customer("alice", "acme").await;
    let root = app.role("root", "admin").await;
    app.submit(&alice).await;
    let response = app.get("/metrics", &root).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let text = response.text().await.unwrap();
    assert!(
        text.contains(
            "pactum_http_requests_total{method=\"POST\",route=\"/v1/orders\",status=\"201\"}"
        ),
        "{text}"
    );
    assert!(text.contains("pactum_events_appended_total"));
    assert!(text.contains("pactum_append_batch_jobs_bucket"));
    let (status, _) = app.get_json("/metrics", &alice).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let response = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}
