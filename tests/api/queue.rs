//! `GET /v1/orders`: the queue read model over HTTP.

use std::collections::BTreeSet;
use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use pactum::clock::ManualClock;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

fn ids(page: &Value) -> Vec<String> {
    page["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_submitted_order_is_in_the_queue_at_once_with_min_position() {
    let app = spawn_app().await;
    let alice = app.customer("alice", "acme").await;
    let response = app
        .post("/v1/orders", &alice)
        .json(&cloud_order())
        .send()
        .await
        .unwrap();
    let position = response.headers()["pactum-position"]
        .to_str()
        .unwrap()
        .to_owned();
    let order: Value = response.json().await.unwrap();
    for path in [
        format!("/v1/orders?min_position={position}"),
        "/v1/orders".to_owned(),
    ] {
        let mut request = app.get(&path, &alice);
        if !path.contains("min_position") {
            request = request.header("pactum-min-position", &position);
        }
        let (status, page) = send(request).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert_eq!(ids(&page), [order["id"].as_str().unwrap()]);
        assert!(page["position"].as_u64().unwrap() >= position.parse::<u64>().unwrap());
    }
}

#[tokio::test]
async fn a_position_beyond_the_log_is_400_at_once() {
    let app = spawn_app().await;
    let alice = app.customer("alice", "acme").await;
    let far = app.head() + 1_000;
    let response = app
        .get(&format!("/v1/orders?min_position={far}"), &alice)
        .send()
        .await
        .unwrap();
    let problem = expect_problem(response, StatusCode::BAD_REQUEST).await;
    assert!(
        problem["detail"].as_str().unwrap().contains("beyond"),
        "{problem}"
    );
}

#[tokio::test]
async fn pages_walk_every_order_once_newest_or_oldest_first() {
    let clock = Arc::new(ManualClock::starting_at(
        "2026-03-01T09:00:00Z".parse().unwrap(),
    ));
    let app = spawn_app_with_clock(clock.clone()).await;
    let alice = app.customer("alice", "acme").await;
    let mut submitted = Vec::new();
    for _ in 0..23 {
        clock.advance(SignedDuration::from_mins(1)).unwrap();
        submitted.push(app.submit(&alice).await);
    }
    for (sort, expected) in [
        (
            "newest",
            submitted.iter().rev().cloned().collect::<Vec<_>>(),
        ),
        ("oldest", submitted.clone()),
    ] {
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        let mut pages = 0;
        loop {
            let mut query = format!("limit=10&sort={sort}");
            if let Some(cursor) = &cursor {
                query.push_str(&format!("&cursor={cursor}"));
            }
            let (status, page) = app.queue(&alice, &query).await;
            assert_eq!(status, StatusCode::OK, "{page}");
            seen.extend(ids(&page));
            pages += 1;
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => break,
            }
        }
        assert_eq!(pages, 3);
        assert_eq!(seen, expected, "{sort}");
    }
    // A cursor of one sort order is refused in the other.
    let (_, page) = app.queue(&alice, "limit=5&sort=newest").await;
    let cursor = page["next_cursor"].as_str().unwrap();
    let (status, _) = app
        .queue(&alice, &format!("sort=oldest&cursor={cursor}"))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn each_role_sees_its_own_queue() {
    let app = spawn_app().await;
    let alice = app.customer("alice", "acme").await;
    let gina = app.customer("gina", "globex").await;
    let sam = app.shifter("sam", &["compute"]).await;
    let stella = app.shifter("stella", &["storage"]).await;
    let audrey = app.role("audrey", "auditor").await;
    let acme_order = app.submit(&alice).await;
    let globex_order = app.submit(&gina).await;
    let storage = json!({
        "service": "online-storage",
        "parameters": {
            "storage_size_gb": 500, "storage_type": "object", "replicas": 2,
            "start_date": "2027-01-01", "duration_days": 365
        }
    });
    let (status, body) = app.post_json("/v1/orders", &alice, &storage).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let storage_order = body["id"].as_str().unwrap().to_owned();

    let set = |page: Value| ids(&page).into_iter().collect::<BTreeSet<_>>();
    let (_, page) = app.queue(&alice, "").await;
    assert_eq!(
        set(page),
        BTreeSet::from([acme_order.clone(), storage_order.clone()])
    );
    let (_, page) = app.queue(&gina, "").await;
    assert_eq!(set(page), BTreeSet::from([globex_order.clone()]));
    let (_, page) = app.queue(&alice, "customer=globex").await;
    assert!(ids(&page).is_empty(), "a customer cannot widen its view");
    let (_, page) = app.queue(&sam, "").await;
    assert_eq!(
        set(page),
        BTreeSet::from([acme_order.clone(), globex_order.clone()])
    );
    let (_, page) = app.queue(&stella, "").await;
    assert_eq!(set(page), BTreeSet::from([storage_order.clone()]));
    let (_, page) = app.queue(&sam, "group=storage").await;
    assert!(ids(&page).is_empty(), "not its group");
    let (_, page) = app.queue(&audrey, "").await;
    assert_eq!(ids(&page).len(), 3);
    let (_, page) = app.queue(&audrey, "customer=globex").await;
    assert_eq!(set(page), BTreeSet::from([globex_order]));
    let (_, page) = app.queue(&audrey, "service=online-storage").await;
    assert_eq!(set(page), BTreeSet::from([storage_order]));
}

#[tokio::test]
async fn filters_by_status_and_assignee() {
    let app = spawn_app().await;
    let alice = app.customer("alice", "acme").await;
    let sam = app.shifter("sam", &["compute"]).await;
    app.shifter("tess", &["compute"]).await;
    let fresh = app.submit(&alice).await;
    let mine = app.submit(&alice).await;
    let theirs = app.submit(&alice).await;
    let approved = app.submit(&alice).await;
    app.command(&mine, "assign", &sam, json!({"assignee": "sam"}))
        .await;
    app.command(&theirs, "assign", &sam, json!({"assignee": "tess"}))
        .await;
    app.command(&approved, "approve", &sam, json!({})).await;

    let (_, page) = app.queue(&sam, "status=submitted").await;
    assert_eq!(ids(&page), [fresh]);
    let (_, page) = app.queue(&sam, "status=submitted,in_review").await;
    assert_eq!(ids(&page).len(), 3);
    let (_, page) = app.queue(&sam, "assignee=sam").await;
    assert_eq!(ids(&page), [mine]);
    let (_, page) = app.queue(&sam, "status=approved").await;
    assert_eq!(ids(&page), [approved]);
    let (status, problem) = app.queue(&sam, "status=lost").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
    for bad in [
        "limit=0",
        "limit=501",
        "sort=sideways",
        "cursor=nonsense",
        "colour=blue",
    ] {
        let (status, _) = app.queue(&sam, bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    }
}

#[tokio::test]
async fn rows_carry_what_a_queue_needs_and_hide_internal_activity_from_customers() {
    let start: Timestamp = "2026-03-02T08:00:00Z".parse().unwrap();
    let clock = Arc::new(ManualClock::starting_at(start));
    let app = spawn_app_with_clock(clock.clone()).await;
    let alice = app.customer("alice", "acme").await;
    let sam = app.shifter("sam", &["compute"]).await;
    let id = app.submit(&alice).await;
    clock.advance(SignedDuration::from_mins(10)).unwrap();
    app.command(&id, "assign", &sam, json!({"assignee": "sam"}))
        .await;
    clock.advance(SignedDuration::from_mins(10)).unwrap();
    app.command(&id, "questions", &sam, json!({"body": "Which VO?"}))
        .await;
    clock.advance(SignedDuration::from_mins(10)).unwrap();
    app.command(
        &id,
        "comments",
        &sam,
        json!({"body": "chasing", "visibility": "internal"}),
    )
    .await;

    let (_, page) = app.queue(&sam, "").await;
    let row = &page["orders"][0];
    assert_eq!(row["id"], id.as_str());
    assert_eq!(row["service"], "cloud-compute");
    assert_eq!(row["group"], "compute");
    assert_eq!(row["status"], "waiting_for_customer");
    assert_eq!(row["customer"], json!({"org": "acme", "subject": "alice"}));
    assert_eq!(row["assignee"], "sam");
    assert_eq!(row["title"], "Lab cloud");
    assert_eq!(row["created_at"], "2026-03-02T08:00:00Z");
    assert_eq!(row["status_since"], "2026-03-02T08:20:00Z");
    assert_eq!(row["waiting_since"], "2026-03-02T08:20:00Z");
    assert_eq!(row["last_activity_at"], "2026-03-02T08:30:00Z");
    assert_eq!(row["version"], 4);

    let (_, page) = app.queue(&alice, "").await;
    assert_eq!(
        page["orders"][0]["last_activity_at"], "2026-03-02T08:20:00Z",
        "the internal comment is not activity a customer can see"
    );

    clock.advance(SignedDuration::from_mins(5)).unwrap();
    app.command(&id, "answers", &alice, json!({"body": "vo.acme"}))
        .await;
    let (_, page) = app.queue(&sam, "").await;
    assert_eq!(page["orders"][0]["status"], "in_review");
    assert_eq!(page["orders"][0]["waiting_since"], Value::Null);
}

#[tokio::test]
async fn providers_have_no_queue_and_tokens_are_required() {
    let app = spawn_app().await;
    let operator = app.provider("op", "cesnet-mcc").await;
    let (status, _) = app.queue(&operator, "").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let response = app.client.get(app.url("/v1/orders")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}
