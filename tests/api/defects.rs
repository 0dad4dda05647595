//! Defects an adversarial probe found (issue 13), each reproduced through HTTP:
//! replayed idempotency keys across callers, orders coming back from a final
//! state, the manual clock moved past what time holds, and commands without
//! `If-Match` losing races they never asked to take part in.

use std::sync::Arc;

use pactum::clock::ManualClock;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

// --- item 1: a replayed Idempotency-Key belongs to its caller -------------------

#[tokio::test]
async fn a_replayed_key_never_returns_another_callers_answer() {
    let app = spawn_app().await;
    let alice = app.customer("alice", "acme").await;
    let sam = app.shifter("sam", &["compute"]).await;
    // Others named sam: a customer of another organisation, one of the order's
    // own organisation, a shifter of another group.
    let globex_sam = app.customer("sam", "globex").await;
    let acme_sam = app.customer("sam", "acme").await;
    let storage_sam = app.shifter("sam", &["storage"]).await;
    let id = app.submit(&alice).await;
    let path = format!("/v1/orders/{id}/comments");
    let body = json!({"body": "quota is tight, keep it quiet", "visibility": "internal"});
    let comment = |token: &str| {
        app.post(&path, token)
            .header("idempotency-key", "k-1")
            .json(&body)
    };
    let (status, first) = send(comment(&sam)).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    let head = app.head();

    // The same shifter's retry: the first answer, nothing appended.
    let (status, again) = send(comment(&sam)).await;
    assert_eq!((status, &again), (StatusCode::CREATED, &first));
    assert_eq!(app.head(), head);

    // A customer of another organisation with the same name: the order is not
    // theirs to see, whatever key they send.
    let response = comment(&globex_sam).send().await.unwrap();
    assert!(!response.headers().contains_key("idempotent-replayed"));
    let problem = expect_problem(response, StatusCode::NOT_FOUND).await;
    assert!(!problem.to_string().contains("keep it quiet"), "{problem}");

    // A customer named sam of the order's own organisation is another caller: the
    // retry is a new command, decided on its rights (a customer may not comment
    // internally), not the shifter's stored staff view.
    let response = comment(&acme_sam).send().await.unwrap();
    assert!(!response.headers().contains_key("idempotent-replayed"));
    let problem = expect_problem(response, StatusCode::FORBIDDEN).await;
    assert!(!problem.to_string().contains("keep it quiet"), "{problem}");

    // A shifter named sam of another group does not see the order either.
    let response = comment(&storage_sam).send().await.unwrap();
    expect_problem(response, StatusCode::NOT_FOUND).await;
    assert_eq!(app.head(), head, "none of them appended anything");

    // And the customer's own view never shows the internal comment.
    let (_, order) = app.get_json(&format!("/v1/orders/{id}"), &alice).await;
    assert_eq!(order["comments"], json!([]));
}

#[tokio::test]
async fn the_same_key_used_by_two_callers_is_two_commands() {
    let app = spawn_app().await;
    let alice = app.customer("alice", "acme").await;
    // Another alice, of another organisation: same subject, another principal.
    let other_alice = app.customer("alice", "globex").await;
    let submit = |token: &str| {
        app.post("/v1/orders", token)
            .header("idempotency-key", "order-1")
            .json(&cloud_order())
    };
    let (status, acme_order) = send(submit(&alice)).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, globex_order) = send(submit(&other_alice)).await;
    assert_eq!(status, StatusCode::CREATED, "{globex_order}");
    assert_ne!(acme_order["id"], globex_order["id"], "a new order");
    assert_eq!(globex_order["customer"]["org"], "globex");
}

// --- item 2: rejected and cancelled are final ----------------------------------

async fn negotiating(app: &TestApp, alice: &str, sam: &str) -> String {
    let id = app.submit(alice).await;
    let (status, _) = app
        .command(&id, "assign", sam, json!({"assignee": "sam"}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, order) = app
        .command(
            &id,
            "proposals",
            sam,
            json!({"parameters": {"cpu_cores": 2}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{order}");
    id
}

#[tokio::test]
async fn a_cancelled_order_does_not_come_back_through_its_open_proposal() {
    let app = spawn_app().await;
    let alice = app.customer("alice", "acme").await;
    let sam = app.shifter("sam", &["compute"]).await;
    let id = negotiating(&app, &alice, &sam).await;
    let (status, order) = app.command(&id, "cancel", &alice, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{order}");
    assert_eq!(order["proposals"][0]["status"], "closed");
    let head = app.head();

    for (path, token, body) in [
        ("proposals/1/accept", &alice, json!({})),
        ("proposals/1/decline", &alice, json!({})),
        ("approve", &sam, json!({})),
        ("reject", &sam, json!({"reason": "r"})),
        (
            "comments",
            &alice,
            json!({"body": "b", "visibility": "public"}),
        ),
        ("questions", &sam, json!({"body": "b"})),
        ("assign", &sam, json!({"assignee": "sam"})),
    ] {
        let response = app
            .post(&format!("/v1/orders/{id}/{path}"), token)
            .json(&body)
            .send()
            .await
            .unwrap();
        let problem = expect_problem(response, StatusCode::CONFLICT).await;
        assert_eq!(problem["current_status"], "cancelled", "{path}: {problem}");
    }
    assert_eq!(app.head(), head, "nothing appended");
    let (_, order) = app.get_json(&format!("/v1/orders/{id}"), &sam).await;
    assert_eq!(order["status"], "cancelled");
    assert_eq!(order["decision"], Value::Null);
}

#[tokio::test]
async fn a_rejected_order_stays_rejected() {
    let app = spawn_app().await;
    let alice = app.customer("alice", "acme").await;
    let sam = app.shifter("sam", &["compute"]).await;
    let id = negotiating(&app, &alice, &sam).await;
    let (status, _) = app
        .command(&id, "reject", &sam, json!({"reason": "no capacity"}))
        .await;
    assert_eq!(status, StatusCode::OK);
    for (path, token, body) in [
        ("proposals/1/accept", &alice, json!({})),
        ("proposals/1/decline", &alice, json!({})),
        ("approve", &sam, json!({})),
        ("cancel", &alice, json!({})),
        ("proposals", &sam, json!({"parameters": {"cpu_cores": 8}})),
    ] {
        let (status, problem) = app.command(&id, path, token, body).await;
        assert_eq!(status, StatusCode::CONFLICT, "{path}: {problem}");
    }
    let (_, order) = app.get_json(&format!("/v1/orders/{id}"), &sam).await;
    assert_eq!(order["status"], "rejected");
    assert_eq!(order["decision"]["outcome"], "rejected");
    assert_eq!(order["proposals"][0]["status"], "closed");
}

#[tokio::test]
async fn racing_decisions_decide_each_order_once() {
    let app = spawn_app().await;
    let alice = app.customer("alice", "acme").await;
    let sam = app.shifter("sam", &["compute"]).await;
    let kim = app.shifter("kim", &["compute"]).await;
    let mut orders = Vec::new();
    for _ in 0..20 {
        orders.push(negotiating(&app, &alice, &sam).await);
    }
    let attempts = orders.iter().flat_map(|id| {
        [
            (id.clone(), "reject", sam.clone()),
            (id.clone(), "cancel", alice.clone()),
            (id.clone(), "proposals/1/accept", alice.clone()),
            (id.clone(), "approve", kim.clone()),
            (id.clone(), "approve", sam.clone()),
        ]
    });
    let results = futures::future::join_all(attempts.map(|(id, path, token)| {
        let app = &app;
        async move {
            let body = match path {
                "reject" => json!({"reason": "race"}),
                _ => json!({}),
            };
            let (status, _) = app.command(&id, path, &token, body).await;
            (id, path, status)
        }
    }))
    .await;
    for id in &orders {
        let decided = results
            .iter()
            .filter(|(order, path, status)| {
                order == id && matches!(*path, "approve" | "reject") && status.is_success()
            })
            .count();
        assert!(decided <= 1, "order {id} was decided {decided} times");
        let (_, history) = app
            .get_json(&format!("/v1/orders/{id}/history"), &sam)
            .await;
        let events: Vec<&str> = history["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["type"].as_str().unwrap())
            .collect();
        let last_final = events
            .iter()
            .rposition(|t| matches!(*t, "OrderRejected" | "OrderCancelled"));
        if let Some(end) = last_final {
            assert_eq!(end, events.len() - 1, "nothing after the end: {events:?}");
        }
        let decisions = events
            .iter()
            .filter(|t| matches!(**t, "OrderApproved" | "OrderRejected"))
            .count();
        assert!(decisions <= 1, "{events:?}");
    }
}

// --- item 5: the manual clock cannot be moved past what time holds -------------

#[tokio::test]
async fn the_manual_clock_refuses_the_end_of_time_and_the_server_keeps_working() {
    let clock = Arc::new(ManualClock::starting_at(
        "2026-03-02T09:00:00Z".parse().unwrap(),
    ));
    let app = spawn_app_with_clock(clock).await;
    let admin = app.role("ada", "admin").await;
    let alice = app.customer("alice", "acme").await;
    let move_clock = async |body: Value| {
        app.post("/v1/admin/clock", &admin)
            .json(&body)
            .send()
            .await
            .unwrap()
    };
    let early = app.submit(&alice).await;

    // The probe's sequence: to the last midnight time can hold, then 48 hours on.
    let response = move_clock(json!({"now": "9999-12-30T00:00:00Z"})).await;
    assert_eq!(response.status(), StatusCode::OK);
    let problem = expect_problem(
        move_clock(json!({"advance": "PT48H"})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "advance", "{problem}");
    let problem = expect_problem(
        move_clock(json!({"advance": "PT2000000000H"})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "advance", "{problem}");
    let problem = expect_problem(
        move_clock(json!({"now": "9999-12-30T12:00:00Z"})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "now", "{problem}");

    // Every authenticated request still works, and the process says it is ready:
    // a deadline past the end of time is simply never reached.
    let (status, order) = app.post_json("/v1/orders", &alice, &cloud_order()).await;
    assert!(
        status == StatusCode::CREATED || status == StatusCode::UNPROCESSABLE_ENTITY,
        "{status} {order}"
    );
    let (status, order) = app.get_json(&format!("/v1/orders/{early}"), &admin).await;
    assert_eq!(status, StatusCode::OK, "{order}");
    let (status, _) = app.get_json("/v1/orders", &alice).await;
    assert_eq!(status, StatusCode::OK);
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
}

// --- item 7: without If-Match a lost race is decided again ----------------------

#[tokio::test]
async fn concurrent_comments_without_if_match_all_land() {
    let app = spawn_app().await;
    let alice = app.customer("alice", "acme").await;
    let sam = app.shifter("sam", &["compute"]).await;
    let id = app.submit(&alice).await;
    let (threads, each) = (8, 25);
    let statuses = futures::future::join_all((0..threads).map(|thread| {
        let (app, id, sam) = (&app, &id, &sam);
        async move {
            let mut statuses = Vec::new();
            for n in 0..each {
                let body = json!({"body": format!("{thread}/{n}"), "visibility": "internal"});
                statuses.push(app.command(id, "comments", sam, body).await.0);
            }
            statuses
        }
    }))
    .await;
    let statuses: Vec<StatusCode> = statuses.into_iter().flatten().collect();
    assert!(
        statuses.iter().all(|s| *s == StatusCode::CREATED),
        "{:?}",
        statuses
            .iter()
            .filter(|s| **s != StatusCode::CREATED)
            .collect::<Vec<_>>()
    );
    let (_, order) = app.get_json(&format!("/v1/orders/{id}"), &sam).await;
    assert_eq!(order["comments"].as_array().unwrap().len(), threads * each);

    // With If-Match the version check stays the client's: a stale version is 412.
    let response = app
        .post(&format!("/v1/orders/{id}/comments"), &sam)
        .header("if-match", "\"1\"")
        .json(&json!({"body": "late", "visibility": "internal"}))
        .send()
        .await
        .unwrap();
    expect_problem(response, StatusCode::PRECONDITION_FAILED).await;
}
