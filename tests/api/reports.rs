//! `GET /v1/reports/orders` on a fixed scenario, checked against a hand
//! computation, and recomputed from history with `pactum replay`.

use std::sync::Arc;

use jiff::Timestamp;
use pactum::clock::ManualClock;
use pactum::startup::ClockConfig;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tempfile::TempDir;

use crate::helpers::{Options, TestApp, pactum, send, spawn_app_at_with};

/// Open around the clock in UTC: business time is wall time, easy to add up.
fn always() -> Value {
    let day = json!(["00:00-24:00"]);
    json!({"time_zone": "UTC", "hours": {
        "monday": day, "tuesday": day, "wednesday": day, "thursday": day,
        "friday": day, "saturday": day, "sunday": day}})
}

fn storage_order() -> Value {
    json!({"service": "online-storage", "parameters": {
        "storage_size_gb": 500, "storage_type": "object", "replicas": 2,
        "start_date": "2027-01-01", "duration_days": 365}})
}

struct Scenario {
    app: TestApp,
    clock: Arc<ManualClock>,
    admin: String,
    audrey: String,
    sam: String,
    stella: String,
    alice: String,
}

impl Scenario {
    async fn at(&self, at: &str) {
        self.clock.set(at.parse::<Timestamp>().unwrap()).unwrap();
    }

    async fn submit(&self, at: &str, order: &Value) -> String {
        self.at(at).await;
        let (status, body) = self.app.post_json("/v1/orders", &self.alice, order).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["id"].as_str().unwrap().to_owned()
    }

    async fn act(&self, at: &str, id: &str, action: &str, token: &str, body: Value) {
        self.at(at).await;
        let (status, answer) = self.app.command(id, action, token, body).await;
        assert!(status.is_success(), "{action} on {id}: {status} {answer}");
    }

    async fn report(&self, token: &str, query: &str) -> (StatusCode, Value) {
        self.app
            .get_json(&format!("/v1/reports/orders?{query}"), token)
            .await
    }

    async fn csv(&self, query: &str) -> String {
        let response = self
            .app
            .get(
                &format!("/v1/reports/orders?{query}&format=csv"),
                &self.audrey,
            )
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response.headers()["content-type"],
            "text/csv; charset=utf-8"
        );
        response.text().await.unwrap()
    }
}

async fn start(dir: &std::path::Path, at: &str) -> Scenario {
    let clock = Arc::new(ManualClock::starting_at(at.parse().unwrap()));
    let app = spawn_app_at_with(
        dir,
        Options {
            clock: ClockConfig::Manual(clock.clone()),
            ..Options::default()
        },
    )
    .await;
    Scenario {
        admin: app.role("ada", "admin").await,
        audrey: app.role("audrey", "auditor").await,
        sam: app.shifter("sam", &["compute"]).await,
        stella: app.shifter("stella", &["storage"]).await,
        alice: app.customer("alice", "acme").await,
        app,
        clock,
    }
}

const PERIOD: &str = "from=2026-06-01&to=2026-06-02";

#[tokio::test]
async fn the_report_matches_a_hand_computation_and_survives_replay() {
    let dir = TempDir::new().unwrap();
    let s = start(dir.path(), "2026-05-31T23:00:00Z").await;
    for (group, targets) in [
        (
            "compute",
            json!({"first_response": "PT1H", "decision": "PT4H"}),
        ),
        (
            "storage",
            json!({"first_response": "PT2H", "decision": "PT8H"}),
        ),
    ] {
        let mut body = targets;
        body["calendar"] = always();
        let (status, _) = send(
            s.app
                .client
                .put(s.app.url(&format!("/v1/handling-targets/{group}")))
                .bearer_auth(&s.admin)
                .json(&body),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
    }
    let cloud = crate::helpers::cloud_order();
    let assign = |who: &str| json!({"assignee": who});

    // Before the period: not counted.
    let early = s.submit("2026-05-31T23:30:00Z", &cloud).await;
    s.act(
        "2026-05-31T23:35:00Z",
        &early,
        "assign",
        &s.sam,
        json!({"assignee": "sam"}),
    )
    .await;
    s.act("2026-05-31T23:40:00Z", &early, "approve", &s.sam, json!({}))
        .await;

    // cloud-compute (targets 1 h to respond, 4 h to decide):
    // A: assigned after 30 min, approved after 3 h.
    let a = s.submit("2026-06-01T00:00:00Z", &cloud).await;
    s.act("2026-06-01T00:30:00Z", &a, "assign", &s.sam, assign("sam"))
        .await;
    s.act("2026-06-01T03:00:00Z", &a, "approve", &s.sam, json!({}))
        .await;
    // B: assigned after 2 h (late), rejected after 5 h (late).
    let b = s.submit("2026-06-01T04:00:00Z", &cloud).await;
    s.act("2026-06-01T06:00:00Z", &b, "assign", &s.sam, assign("sam"))
        .await;
    s.act(
        "2026-06-01T09:00:00Z",
        &b,
        "reject",
        &s.sam,
        json!({"reason": "no capacity"}),
    )
    .await;
    // C: a question after 10 min (the first response), answered an hour later
    // (the decision clock paused), approved 30 min after that: decided in
    // 10 + 30 = 40 min of counted time.
    let c = s.submit("2026-06-01T10:00:00Z", &cloud).await;
    s.act(
        "2026-06-01T10:10:00Z",
        &c,
        "questions",
        &s.sam,
        json!({"body": "VO?"}),
    )
    .await;
    s.act(
        "2026-06-01T11:10:00Z",
        &c,
        "answers",
        &s.alice,
        json!({"body": "biomed"}),
    )
    .await;
    s.act("2026-06-01T11:40:00Z", &c, "approve", &s.sam, json!({}))
        .await;
    // D: cancelled by the customer after 20 min: measured nothing.
    let d = s.submit("2026-06-01T12:00:00Z", &cloud).await;
    s.act("2026-06-01T12:20:00Z", &d, "cancel", &s.alice, json!({}))
        .await;

    // online-storage (2 h / 8 h): E assigned after 1 h, approved after 2 h,
    // then cancelled (counts as approved and cancelled).
    let e = s.submit("2026-06-01T13:00:00Z", &storage_order()).await;
    s.act(
        "2026-06-01T14:00:00Z",
        &e,
        "assign",
        &s.stella,
        assign("stella"),
    )
    .await;
    s.act("2026-06-01T15:00:00Z", &e, "approve", &s.stella, json!({}))
        .await;
    s.act("2026-06-01T15:30:00Z", &e, "cancel", &s.alice, json!({}))
        .await;

    // After the period: not counted.
    s.submit("2026-06-02T00:00:00Z", &cloud).await;

    // By hand, cloud-compute: first responses A 1800 s, B 7200 s, C 600 s →
    // sorted 600, 1800, 7200: median 1800, p90 the ⌈2.7⌉ = 3rd = 7200, within
    // 1 h: A and C = 66.7 %. Decisions A 10800, B 18000, C 2400 → median
    // 10800, p90 18000, within 4 h: A and C = 66.7 %.
    let (status, report) = s.report(&s.audrey, PERIOD).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["from"], "2026-06-01T00:00:00Z");
    assert_eq!(report["to"], "2026-06-02T00:00:00Z");
    let expected = json!([
        {"service": "cloud-compute", "group": "compute",
         "submitted": 4, "approved": 2, "rejected": 1, "cancelled": 1,
         "first_response": {"measured": 3, "median_seconds": 1800, "p90_seconds": 7200,
                            "within_target": 2, "within_target_percent": 66.7},
         "decision": {"measured": 3, "median_seconds": 10800, "p90_seconds": 18000,
                      "within_target": 2, "within_target_percent": 66.7}},
        {"service": "online-storage", "group": "storage",
         "submitted": 1, "approved": 1, "rejected": 0, "cancelled": 1,
         "first_response": {"measured": 1, "median_seconds": 3600, "p90_seconds": 3600,
                            "within_target": 1, "within_target_percent": 100.0},
         "decision": {"measured": 1, "median_seconds": 7200, "p90_seconds": 7200,
                      "within_target": 1, "within_target_percent": 100.0}}
    ]);
    assert_eq!(report["rows"], expected);

    let csv = s.csv(PERIOD).await;
    assert_eq!(
        csv,
        "service,group,submitted,approved,rejected,cancelled,first_response_measured,\
         first_response_median_seconds,first_response_p90_seconds,\
         first_response_within_target_percent,decision_measured,decision_median_seconds,\
         decision_p90_seconds,decision_within_target_percent\n\
         cloud-compute,compute,4,2,1,1,3,1800,7200,66.7,3,10800,18000,66.7\n\
         online-storage,storage,1,1,0,1,1,3600,3600,100.0,1,7200,7200,100.0\n"
    );

    // A shifter reads its groups only; customers none.
    let (_, mine) = s.report(&s.stella, PERIOD).await;
    assert_eq!(mine["rows"].as_array().unwrap().len(), 1);
    assert_eq!(mine["rows"][0]["group"], "storage");
    let (status, _) = s.report(&s.alice, PERIOD).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Recomputed from history: the same bytes.
    let before = s
        .app
        .get(&format!("/v1/reports/orders?{PERIOD}"), &s.audrey)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    s.app.stop().await;
    let replay = pactum(&["replay"], dir.path());
    assert!(
        replay.status.success(),
        "{}",
        String::from_utf8_lossy(&replay.stderr)
    );
    let s = start(dir.path(), "2026-06-03T00:00:00Z").await;
    let after = s
        .app
        .get(&format!("/v1/reports/orders?{PERIOD}"), &s.audrey)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(after, before);
    assert_eq!(s.csv(PERIOD).await, csv);
}

#[tokio::test]
async fn bad_periods_are_refused() {
    let dir = TempDir::new().unwrap();
    let s = start(dir.path(), "2026-06-01T00:00:00Z").await;
    for query in [
        "to=2026-06-02",
        "from=2026-06-01",
        "from=yesterday&to=2026-06-02",
        "from=2026-06-02&to=2026-06-01",
        "from=2026-06-01&to=2026-06-02&format=pdf",
        "from=2026-06-01&to=2026-06-02&group=compute",
    ] {
        let (status, problem) = s.report(&s.audrey, query).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {problem}");
    }
    let (status, report) = s
        .report(
            &s.audrey,
            "from=2026-06-01T00:00:00Z&to=2026-06-01T12:00:00%2B02:00",
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["to"], "2026-06-01T10:00:00Z");
    assert_eq!(report["rows"], json!([]));
}
