//! Tokens over the API: `POST /v1/tokens` (an admin for anyone, anyone else for
//! itself within its own role and scope), `GET /v1/tokens[/{id}]` (own; admins
//! all), `DELETE /v1/tokens/{id}` (own or admin; at once).

use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use pactum::clock::ManualClock;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

/// Mints a token that must be issued; its secret and id.
async fn created(app: &TestApp, by: &str, body: Value) -> (String, String) {
    let response = app.post("/v1/tokens", by).json(&body).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    let id = body["token_id"].as_str().unwrap().to_owned();
    assert_eq!(location, format!("/v1/tokens/{id}"));
    (body["token"].as_str().unwrap().to_owned(), id)
}

async fn delete(app: &TestApp, path: &str, token: &str) -> reqwest::Response {
    app.client
        .delete(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn an_admin_issues_a_token_for_someone_that_works_and_records_the_admin() {
    let app = spawn_app().await;
    let ada = app.role("ada", "admin").await;
    let response = app
        .post("/v1/tokens", &ada)
        .json(
            &json!({"subject": "alice", "role": "customer", "org": "acme",
                      "email": "alice@acme.example"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.unwrap();
    assert!(
        body["token"].as_str().unwrap().starts_with("pct_"),
        "{body}"
    );
    assert_eq!(body["subject"], "alice");
    assert_eq!(body["role"], "customer");
    assert_eq!(body["org"], "acme");
    assert_eq!(body["groups"], json!([]));
    assert_eq!(body["email"], "alice@acme.example");
    assert_eq!(body["expires_at"], Value::Null);
    assert!(body["issued_at"].is_string(), "{body}");
    let alice = body["token"].as_str().unwrap();

    // It works: alice orders for acme.
    app.submit(alice).await;

    // The issue is an event with the admin as its actor.
    let (status, log) = app.get_json("/v1/events?limit=100", &ada).await;
    assert_eq!(status, StatusCode::OK, "{log}");
    let issued = log["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["event_type"] == "TokenIssued" && e["aggregate_id"] == body["token_id"])
        .expect("the issue is in the log");
    assert_eq!(issued["actor"]["subject"], "ada");
    assert_eq!(issued["actor"]["role"], "admin");
}

#[tokio::test]
async fn a_shifter_issues_itself_a_token_for_some_of_its_groups_but_no_more() {
    let app = spawn_app().await;
    let alice = app.customer("alice", "acme").await;
    let sam = app.shifter("sam", &["compute", "storage"]).await;
    let (narrow, _) = created(
        &app,
        &sam,
        json!({"subject": "sam", "role": "shifter", "groups": ["compute"]}),
    )
    .await;
    // It works for its group: the queue of compute orders.
    let id = app.submit(&alice).await;
    let (status, order) = app.get_json(&format!("/v1/orders/{id}"), &narrow).await;
    assert_eq!(status, StatusCode::OK, "{order}");

    let head = app.head();
    for (body, why) in [
        (
            json!({"subject": "sam", "role": "shifter", "groups": ["storage", "compute"]}),
            "more groups than its own",
        ),
        (json!({"subject": "sam", "role": "admin"}), "admin"),
        (json!({"subject": "sam", "role": "auditor"}), "auditor"),
        (
            json!({"subject": "sam", "role": "customer", "org": "acme"}),
            "another role",
        ),
        (
            json!({"subject": "sasha", "role": "shifter", "groups": ["compute"]}),
            "another subject",
        ),
    ] {
        let response = app
            .post("/v1/tokens", &narrow)
            .json(&body)
            .send()
            .await
            .unwrap();
        let problem = expect_problem(response, StatusCode::FORBIDDEN).await;
        assert_eq!(
            problem["type"], "https://pactum.dev/problems/forbidden",
            "{why}"
        );
    }
    assert_eq!(app.head(), head, "nothing appended");
}

#[tokio::test]
async fn a_customer_issues_only_for_itself_and_its_organisation() {
    let app = spawn_app().await;
    let alice = app.customer("alice", "acme").await;
    for body in [
        json!({"subject": "bob", "role": "customer", "org": "acme"}),
        json!({"subject": "alice", "role": "customer", "org": "globex"}),
        json!({"subject": "alice", "role": "admin"}),
    ] {
        let response = app
            .post("/v1/tokens", &alice)
            .json(&body)
            .send()
            .await
            .unwrap();
        expect_problem(response, StatusCode::FORBIDDEN).await;
    }
    let (own, _) = created(
        &app,
        &alice,
        json!({"subject": "alice", "role": "customer", "org": "acme"}),
    )
    .await;
    app.submit(&own).await;
}

#[tokio::test]
async fn bad_bodies_are_refused_naming_the_field() {
    let app = spawn_app().await;
    let ada = app.role("ada", "admin").await;
    let head = app.head();
    for (body, field) in [
        (json!({"role": "customer", "org": "acme"}), "subject"),
        (json!({"subject": "bob", "role": "customer"}), "org"),
        (json!({"subject": "bob", "role": "wizard"}), "role"),
        (
            json!({"subject": "bob", "role": "shifter", "groups": ["nope"]}),
            "groups",
        ),
        (
            json!({"subject": "bob", "role": "customer", "org": "acme", "colour": "red"}),
            "colour",
        ),
        (
            json!({"subject": "bob", "role": "customer", "org": "acme", "expires_at": "soon"}),
            "expires_at",
        ),
        (
            json!({"subject": "bob", "role": "customer", "org": "acme",
                   "expires_at": "2000-01-01T00:00:00Z"}),
            "expires_at",
        ),
    ] {
        let response = app
            .post("/v1/tokens", &ada)
            .json(&body)
            .send()
            .await
            .unwrap();
        let problem = expect_problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
        let fields: Vec<&str> = problem["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        assert!(fields.contains(&field), "{field}: {problem}");
    }
    assert_eq!(app.head(), head, "nothing appended");
}

#[tokio::test]
async fn lists_show_ones_own_tokens_and_admins_all_never_a_secret() {
    let app = spawn_app().await;
    let ada = app.role("ada", "admin").await;
    let alice = app.customer("alice", "acme").await;
    let _sam = app.shifter("sam", &["compute"]).await;
    let (_, second) = created(
        &app,
        &alice,
        json!({"subject": "alice", "role": "customer", "org": "acme"}),
    )
    .await;

    let (status, list) = app.get_json("/v1/tokens", &alice).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let tokens = list["tokens"].as_array().unwrap();
    assert_eq!(tokens.len(), 2, "{list}");
    for token in tokens {
        assert_eq!(token["subject"], "alice");
        assert_eq!(token["status"], "active");
        assert_eq!(token["org"], "acme");
        for field in ["token", "token_sha256", "hash"] {
            assert!(token.get(field).is_none(), "{field} shown: {token}");
        }
    }
    assert!(!list.to_string().contains("pct_"), "{list}");
    // A non-admin's filter cannot reach another subject.
    let (_, filtered) = app.get_json("/v1/tokens?subject=sam", &alice).await;
    assert_eq!(filtered["tokens"].as_array().unwrap().len(), 2);

    let (_, all) = app.get_json("/v1/tokens", &ada).await;
    let subjects: Vec<&str> = all["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["subject"].as_str().unwrap())
        .collect();
    assert_eq!(subjects, ["ada", "alice", "sam", "alice"]);
    let (_, sams) = app.get_json("/v1/tokens?subject=sam", &ada).await;
    assert_eq!(sams["tokens"][0]["groups"], json!(["compute"]));
    assert_eq!(sams["tokens"].as_array().unwrap().len(), 1);

    let (status, one) = app.get_json(&format!("/v1/tokens/{second}"), &alice).await;
    assert_eq!(status, StatusCode::OK, "{one}");
    assert_eq!(one["token_id"], second.as_str());
    let other = app.customer("bob", "acme").await;
    let response = app
        .get(&format!("/v1/tokens/{second}"), &other)
        .send()
        .await
        .unwrap();
    expect_problem(response, StatusCode::NOT_FOUND).await;
}

#[tokio::test]
async fn a_revoked_token_is_refused_at_once_and_revoking_again_is_harmless() {
    let app = spawn_app().await;
    let alice = app.customer("alice", "acme").await;
    let (spare, spare_id) = created(
        &app,
        &alice,
        json!({"subject": "alice", "role": "customer", "org": "acme"}),
    )
    .await;
    app.submit(&spare).await;

    let bob = app.customer("bob", "acme").await;
    let response = delete(&app, &format!("/v1/tokens/{spare_id}"), &bob).await;
    expect_problem(response, StatusCode::NOT_FOUND).await;
    let response = delete(&app, "/v1/tokens/tok_nonexistent", &alice).await;
    expect_problem(response, StatusCode::NOT_FOUND).await;

    let response = delete(&app, &format!("/v1/tokens/{spare_id}"), &alice).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let response = app.get("/v1/orders", &spare).send().await.unwrap();
    expect_problem(response, StatusCode::UNAUTHORIZED).await;

    let head = app.head();
    let response = delete(&app, &format!("/v1/tokens/{spare_id}"), &alice).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.head(), head, "revoking twice appends nothing");
    let (_, list) = app.get_json("/v1/tokens", &alice).await;
    let revoked = list["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["token_id"] == spare_id.as_str())
        .unwrap();
    assert_eq!(revoked["status"], "revoked");
    assert!(revoked["revoked_at"].is_string(), "{revoked}");
}

#[tokio::test]
async fn an_admin_revokes_anyones_token() {
    let app = spawn_app().await;
    let ada = app.role("ada", "admin").await;
    let (alice, id) = created(
        &app,
        &ada,
        json!({"subject": "alice", "role": "customer", "org": "acme"}),
    )
    .await;
    let response = delete(&app, &format!("/v1/tokens/{id}"), &ada).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let response = app.get("/v1/orders", &alice).send().await.unwrap();
    expect_problem(response, StatusCode::UNAUTHORIZED).await;
}

#[tokio::test]
async fn a_token_stops_working_when_it_expires() {
    let start: Timestamp = "2026-12-01T09:00:00Z".parse().unwrap();
    let clock = Arc::new(ManualClock::starting_at(start));
    let app = spawn_app_with_clock(clock.clone()).await;
    let ada = app.role("ada", "admin").await;
    let expires_at = start + SignedDuration::from_secs(2);
    let (alice, _) = created(
        &app,
        &ada,
        json!({"subject": "alice", "role": "customer", "org": "acme",
               "expires_at": expires_at.to_string()}),
    )
    .await;
    let (status, _) = app.get_json("/v1/orders", &alice).await;
    assert_eq!(status, StatusCode::OK);
    clock.advance(SignedDuration::from_secs(2)).unwrap();
    let response = app.get("/v1/orders", &alice).send().await.unwrap();
    expect_problem(response, StatusCode::UNAUTHORIZED).await;
    let (_, list) = app.get_json("/v1/tokens?subject=alice", &ada).await;
    assert_eq!(list["tokens"][0]["status"], "expired");
    assert_eq!(list["tokens"][0]["expires_at"], expires_at.to_string());
}

#[tokio::test]
async fn a_retried_issue_mints_no_second_token() {
    let app = spawn_app().await;
    let ada = app.role("ada", "admin").await;
    let body = json!({"subject": "alice", "role": "customer", "org": "acme"});
    let issue = |body: &Value| {
        app.post("/v1/tokens", &ada)
            .header("idempotency-key", "alice-token-1")
            .json(body)
    };
    let first = issue(&body).send().await.unwrap();
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: Value = first.json().await.unwrap();
    let head = app.head();

    let retry = issue(&body).send().await.unwrap();
    let problem = expect_problem(retry, StatusCode::CONFLICT).await;
    assert_eq!(
        problem["type"],
        "https://pactum.dev/problems/token-already-issued"
    );
    assert_eq!(problem["token_id"], first["token_id"]);
    assert!(!problem.to_string().contains("pct_"), "{problem}");
    assert_eq!(app.head(), head, "the retry appended nothing");

    let other = json!({"subject": "bob", "role": "customer", "org": "acme"});
    let reused = issue(&other).send().await.unwrap();
    expect_problem(reused, StatusCode::UNPROCESSABLE_ENTITY).await;
    let (_, list) = app.get_json("/v1/tokens?subject=alice", &ada).await;
    assert_eq!(list["tokens"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn an_expiring_token_mints_no_token_that_outlives_it() {
    let start: Timestamp = "2026-12-01T09:00:00Z".parse().unwrap();
    let clock = Arc::new(ManualClock::starting_at(start));
    let app = spawn_app_with_clock(clock.clone()).await;
    let ada = app.role("ada", "admin").await;
    let own = start + SignedDuration::from_hours(24);
    let (sam, _) = created(
        &app,
        &ada,
        json!({"subject": "sam", "role": "shifter", "groups": ["compute"],
               "expires_at": own.to_string()}),
    )
    .await;
    // Asking for no expiry gets the issuer's own.
    let response = app
        .post("/v1/tokens", &sam)
        .json(&json!({"subject": "sam", "role": "shifter", "groups": ["compute"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["expires_at"], own.to_string());
    // A later expiry is refused, naming the field; a sooner one is fine.
    let later = own + SignedDuration::from_hours(1);
    let response = app
        .post("/v1/tokens", &sam)
        .json(
            &json!({"subject": "sam", "role": "shifter", "groups": ["compute"],
                      "expires_at": later.to_string()}),
        )
        .send()
        .await
        .unwrap();
    let problem = expect_problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(problem["errors"][0]["field"], "expires_at", "{problem}");
    let sooner = own - SignedDuration::from_hours(1);
    created(
        &app,
        &sam,
        json!({"subject": "sam", "role": "shifter", "groups": ["compute"],
               "expires_at": sooner.to_string()}),
    )
    .await;
    // An admin may still issue a token that outlives the admin's own.
    let (ada_expiring, _) = created(
        &app,
        &ada,
        json!({"subject": "ada", "role": "admin", "expires_at": own.to_string()}),
    )
    .await;
    let (_, lasting) = app
        .post_json(
            "/v1/tokens",
            &ada_expiring,
            &json!({"subject": "alice", "role": "customer", "org": "acme"}),
        )
        .await;
    assert_eq!(lasting["expires_at"], Value::Null, "{lasting}");
}
