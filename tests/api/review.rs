//! Review and decision: assign, comment, ask, answer, approve, reject, cancel.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

#[tokio::test]
async fn a_shifter_reviews_asks_and_approves_and_history_tells_it_all() {
    let app = spawn_app().await;
    let alice = app.customer("alice", "acme").await;
    let sam = app.shifter("sam", &["compute"]).await;
    let id = app.submit(&alice).await;

    let (status, order) = app
        .command(&id, "assign", &sam, json!({"assignee": "sam"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{order}");
    assert_eq!(order["status"], "in_review");
    assert_eq!(order["assignee"], "sam");
    assert_eq!(order["version"], 2);

    let (status, order) = app
        .command(
            &id,
            "comments",
            &sam,
            json!({"body": "Quota looks fine", "visibility": "internal"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(order["comments"][0]["visibility"], "internal");

    let (status, order) = app
        .command(
            &id,
            "questions",
            &sam,
            json!({"body": "Which VO will use it?"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(order["status"], "waiting_for_customer");

    let (status, order) = app
        .command(&id, "answers", &alice, json!({"body": "vo.acme.org"}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(order["status"], "in_review");
    assert_eq!(order["questions"][0]["answer"]["body"], "vo.acme.org");

    let (status, order) = app
        .command(&id, "approve", &sam, json!({"note": "Enjoy"}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(order["status"], "approved");
    assert_eq!(order["decision"]["by"], "sam");
    assert_eq!(order["version"], 6);

    let (status, history) = app
        .get_json(&format!("/v1/orders/{id}/history"), &sam)
        .await;
    assert_eq!(status, StatusCode::OK);
    let events = history["events"].as_array().unwrap();
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        [
            "OrderSubmitted",
            "OrderAssigned",
            "CommentAdded",
            "QuestionAsked",
            "QuestionAnswered",
            "OrderApproved"
        ]
    );
    let actors: Vec<(&str, &str)> = events
        .iter()
        .map(|e| {
            (
                e["actor"]["subject"].as_str().unwrap(),
                e["actor"]["role"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(actors[0], ("alice", "customer"));
    assert_eq!(actors[1], ("sam", "shifter"));
    assert_eq!(actors[4], ("alice", "customer"));
    assert_eq!(events[0]["actor"]["org"], "acme");
    let positions: Vec<u64> = events
        .iter()
        .map(|e| e["position"].as_u64().unwrap())
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");
    assert!(
        events
            .iter()
            .all(|e| e["recorded_at"].is_string() && e["payload"].is_object())
    );
    assert_eq!(events[5]["payload"]["note"], "Enjoy");
}

#[tokio::test]
async fn a_rejection_needs_a_reason_and_is_final() {
    let app = spawn_app().await;
    let alice = app.customer("alice", "acme").await;
    let sam = app.shifter("sam", &["compute"]).await;
    let id = app.submit(&alice).await;
    let (status, body) = app.command(&id, "reject", &sam, json!({})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, order) = app
        .command(
            &id,
            "reject",
            &sam,
            json!({"reason": "No capacity until 2027"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(order["status"], "rejected");
    assert_eq!(order["decision"]["note"], "No capacity until 2027");

    let head = app.head();
    for (action, token) in [("approve", &sam), ("cancel", &alice), ("assign", &sam)] {
        let body = if action == "assign" {
            json!({"assignee": "sam"})
        } else {
            json!({})
        };
        let response = app
            .post(&format!("/v1/orders/{id}/{action}"), token)
            .json(&body)
            .send()
            .await
            .unwrap();
        let problem = expect_problem(response, StatusCode::CONFLICT).await;
        assert_eq!(problem["current_status"], "rejected", "{action}");
    }
    assert_eq!(app.head(), head);
}

#[tokio::test]
async fn a_decision_is_made_once() {
    let app = spawn_app().await;
    let alice = app.customer("alice", "acme").await;
    let sam = app.shifter("sam", &["compute"]).await;
    let id = app.submit(&alice).await;
    app.command(&id, "assign", &sam, json!({"assignee": "sam"}))
        .await;
    let (status, _) = app.command(&id, "approve", &sam, json!({})).await;
    assert_eq!(status, StatusCode::OK);
    for (action, body) in [
        ("approve", json!({})),
        ("reject", json!({"reason": "changed my mind"})),
    ] {
        let (status, problem) = app.command(&id, action, &sam, body).await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert_eq!(problem["current_status"], "approved");
    }
}

#[tokio::test]
async fn the_customer_may_cancel_before_activation() {
    let app = spawn_app().await;
    let alice = app.customer("alice", "acme").await;
    let sam = app.shifter("sam", &["compute"]).await;
    let id = app.submit(&alice).await;
    app.command(&id, "approve", &sam, json!({})).await;
    let (status, order) = app
        .command(&id, "cancel", &alice, json!({"reason": "Budget cut"}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(order["status"], "cancelled");
    assert_eq!(order["cancellation"]["reason"], "Budget cut");
    let (status, problem) = app.command(&id, "cancel", &alice, json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(problem["current_status"], "cancelled");
}

#[tokio::test]
async fn an_answer_needs_an_open_question() {
    let app = spawn_app().await;
    let alice = app.customer("alice", "acme").await;
    let id = app.submit(&alice).await;
    let (status, problem) = app
        .command(&id, "answers", &alice, json!({"body": "unprompted"}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(problem["current_status"], "submitted");
}

#[tokio::test]
async fn orders_are_assigned_only_to_shifters_of_their_group() {
    let app = spawn_app().await;
    let alice = app.customer("alice", "acme").await;
    let sam = app.shifter("sam", &["compute"]).await;
    app.shifter("stella", &["storage"]).await;
    app.shifter("tess", &["compute", "storage"]).await;
    let id = app.submit(&alice).await;
    let head = app.head();
    for assignee in ["stella", "alice", "nobody"] {
        let (status, problem) = app
            .command(&id, "assign", &sam, json!({"assignee": assignee}))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{assignee}");
        assert_eq!(problem["errors"][0]["field"], "assignee");
    }
    assert_eq!(app.head(), head);
    let (status, order) = app
        .command(&id, "assign", &sam, json!({"assignee": "tess"}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(order["assignee"], "tess");
}

#[tokio::test]
async fn two_racing_approvals_never_both_win() {
    let app = spawn_app().await;
    let alice = app.customer("alice", "acme").await;
    let sam = app.shifter("sam", &["compute"]).await;
    let tess = app.shifter("tess", &["compute"]).await;
    for _ in 0..10 {
        let id = app.submit(&alice).await;
        let path = format!("/v1/orders/{id}/approve");
        let (a, b) = tokio::join!(
            send(app.post(&path, &sam).json(&json!({}))),
            send(app.post(&path, &tess).json(&json!({}))),
        );
        let mut statuses = [a.0, b.0];
        statuses.sort();
        assert_eq!(
            statuses,
            [StatusCode::OK, StatusCode::CONFLICT],
            "{a:?} {b:?}"
        );
        let (_, history) = app
            .get_json(&format!("/v1/orders/{id}/history"), &sam)
            .await;
        let approvals = history["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["type"] == "OrderApproved")
            .count();
        assert_eq!(approvals, 1);
    }
}

#[tokio::test]
async fn as_of_shows_the_order_as_it_was() {
    let app = spawn_app().await;
    let alice = app.customer("alice", "acme").await;
    let sam = app.shifter("sam", &["compute"]).await;
    let id = app.submit(&alice).await;
    let (_, assigned) = app
        .command(&id, "assign", &sam, json!({"assignee": "sam"}))
        .await;
    let between = assigned["updated_at"].as_str().unwrap().to_owned();
    app.command(&id, "approve", &sam, json!({})).await;

    let (status, then) = app
        .get_json(&format!("/v1/orders/{id}?as_of={between}"), &sam)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(then["status"], "in_review");
    assert_eq!(then["version"], 2);
    let (_, now) = app.get_json(&format!("/v1/orders/{id}"), &sam).await;
    assert_eq!(now["status"], "approved");
    let (status, _) = app
        .get_json(&format!("/v1/orders/{id}?as_of=2000-01-01T00:00:00Z"), &sam)
        .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "the order did not exist then"
    );
    let (status, _) = app
        .get_json(&format!("/v1/orders/{id}?as_of=yesterday"), &sam)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn state_survives_a_restart() {
    let dir = tempfile::TempDir::new().unwrap();
    let app = spawn_app_at(dir.path()).await;
    let alice = app.customer("alice", "acme").await;
    let sam = app.shifter("sam", &["compute"]).await;
    let id = app.submit(&alice).await;
    app.command(&id, "assign", &sam, json!({"assignee": "sam"}))
        .await;
    let (_, before) = app.get_json(&format!("/v1/orders/{id}"), &sam).await;
    let head = app.head();
    app.stop().await;

    let app = spawn_app_at(dir.path()).await;
    assert_eq!(app.head(), head);
    let (status, after) = app.get_json(&format!("/v1/orders/{id}"), &sam).await;
    assert_eq!(status, StatusCode::OK, "tokens and orders survive");
    assert_eq!(after, before);
    let (status, order) = app.command(&id, "approve", &sam, json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(order["version"], 3);
    // The catalogue is seeded once, not again on restart.
    let (_, catalogue) = app.get_json("/v1/services", &alice).await;
    assert_eq!(catalogue["services"].as_array().unwrap().len(), 5);
    app.stop().await;
}

#[tokio::test]
async fn command_responses_carry_version_and_position() {
    let app = spawn_app().await;
    let alice = app.customer("alice", "acme").await;
    let id = app.submit(&alice).await;
    let response = app
        .post(&format!("/v1/orders/{id}/comments"), &alice)
        .json(&json!({"body": "hello"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["etag"], "\"2\"");
    let position: u64 = response.headers()["pactum-position"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(position, app.head());
    let order: Value = response.json().await.unwrap();
    assert_eq!(order["comments"][0]["author"], "alice");
}

#[tokio::test]
async fn as_of_answers_for_any_instant_between_events() {
    use jiff::{SignedDuration, Timestamp};
    use pactum::clock::ManualClock;
    let t0: Timestamp = "2026-03-01T09:00:00Z".parse().unwrap();
    let clock = std::sync::Arc::new(ManualClock::starting_at(t0));
    let app = spawn_app_with_clock(clock.clone()).await;
    let alice = app.customer("alice", "acme").await;
    let sam = app.shifter("sam", &["compute"]).await;
    let id = app.submit(&alice).await;
    clock.set("2026-03-01T10:00:00Z".parse().unwrap()).unwrap();
    app.command(&id, "assign", &sam, json!({"assignee": "sam"}))
        .await;
    clock.set("2026-03-01T11:00:00Z".parse().unwrap()).unwrap();
    app.command(
        &id,
        "comments",
        &sam,
        json!({"body": "internal note", "visibility": "internal"}),
    )
    .await;
    clock.set("2026-03-01T12:00:00Z".parse().unwrap()).unwrap();
    app.command(&id, "approve", &sam, json!({})).await;

    let at = |instant: Timestamp| format!("/v1/orders/{id}?as_of={instant}");
    let micro = SignedDuration::from_micros(1);
    for (instant, status, version) in [
        (t0, "submitted", 1),
        (
            "2026-03-01T09:59:59.999999Z".parse().unwrap(),
            "submitted",
            1,
        ),
        ("2026-03-01T10:00:00Z".parse().unwrap(), "in_review", 2),
        ("2026-03-01T11:30:00Z".parse().unwrap(), "in_review", 3),
        (
            "2026-03-01T12:00:00Z".parse::<Timestamp>().unwrap() - micro,
            "in_review",
            3,
        ),
        ("2026-03-01T12:00:00Z".parse().unwrap(), "approved", 4),
        ("2027-01-01T00:00:00Z".parse().unwrap(), "approved", 4),
    ] {
        let (status_code, view) = app.get_json(&at(instant), &sam).await;
        assert_eq!(status_code, StatusCode::OK, "{instant}");
        assert_eq!(
            (
                view["status"].as_str().unwrap(),
                view["version"].as_u64().unwrap()
            ),
            (status, version),
            "{instant}"
        );
    }
    let (status, _) = app.get_json(&at(t0 - micro), &sam).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "before its submission the order did not exist"
    );
    // As of 11:30 a shifter sees the internal comment, the customer does not.
    let (_, staff) = app
        .get_json(&at("2026-03-01T11:30:00Z".parse().unwrap()), &sam)
        .await;
    assert_eq!(staff["comments"].as_array().unwrap().len(), 1);
    let (_, customer) = app
        .get_json(&at("2026-03-01T11:30:00Z".parse().unwrap()), &alice)
        .await;
    assert!(customer["comments"].as_array().unwrap().is_empty());
    // An offset is accepted ('+' arrives as a space in a query string).
    let (status, view) = app
        .get_json(
            &format!("/v1/orders/{id}?as_of=2026-03-01T11:30:00%2B01:00"),
            &sam,
        )
        .await;
    assert_eq!(
        (status, view["status"].as_str().unwrap()),
        (StatusCode::OK, "in_review")
    );
}
