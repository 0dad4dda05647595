//! Handling clocks through HTTP, with a clock the test moves: targets defined
//! by an admin, deadlines in business time, pauses while waiting for the
//! customer, warnings and breaches recorded by the timer (also after a restart,
//! once), and the queue's view of them.

use std::sync::Arc;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use pactum::clock::ManualClock;
use pactum::startup::ClockConfig;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tempfile::TempDir;

use crate::helpers::{Options, TestApp, send, spawn_app_at_with, spawn_app_with_clock};

/// Paris wall-clock time.
fn paris(local: &str) -> Timestamp {
    local
        .parse::<jiff::civil::DateTime>()
        .unwrap()
        .to_zoned(TimeZone::get("Europe/Paris").unwrap())
        .unwrap()
        .timestamp()
}

/// 09:00–18:00 on weekdays with lunch 12:00–13:00: 8 business hours a day.
fn office() -> Value {
    let day = json!(["09:00-12:00", "13:00-18:00"]);
    json!({
        "time_zone": "Europe/Paris",
        "hours": {"monday": day, "tuesday": day, "wednesday": day, "thursday": day, "friday": day}
    })
}

/// Monday 30 November 2026 off, as a holiday calendar exports it.
const HOLIDAY_ICS: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n\
BEGIN:VEVENT\r\nUID:closure-1@example.org\r\nDTSTAMP:20261101T000000Z\r\n\
DTSTART;VALUE=DATE:20261130\r\nDTEND;VALUE=DATE:20261201\r\nSUMMARY:Site closure\r\n\
END:VEVENT\r\nEND:VCALENDAR\r\n";

struct Desk {
    app: TestApp,
    clock: Arc<ManualClock>,
    admin: String,
    alice: String,
    sam: String,
}

impl Desk {
    /// Friday 2026-11-27 17:30 in Paris.
    async fn open() -> Self {
        let clock = Arc::new(ManualClock::starting_at(paris("2026-11-27T17:30")));
        let app = spawn_app_with_clock(clock.clone()).await;
        Self::with(app, clock).await
    }

    async fn with(app: TestApp, clock: Arc<ManualClock>) -> Self {
        Self {
            admin: app.role("ada", "admin").await,
            alice: app.customer("alice", "acme").await,
            sam: app.shifter("sam", &["compute"]).await,
            app,
            clock,
        }
    }

    async fn define(&self, path: &str, body: Value) -> (StatusCode, Value) {
        send(
            self.app
                .client
                .put(self.app.url(path))
                .bearer_auth(&self.admin)
                .json(&body),
        )
        .await
    }

    /// Eight business hours to decide, four to respond.
    async fn targets(&self, extra: Value) {
        let mut body = json!({"first_response": "PT4H", "decision": "PT8H", "calendar": office()});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let (status, defined) = self.define("/v1/handling-targets/compute", body).await;
        assert_eq!(status, StatusCode::OK, "{defined}");
    }

    /// Moves the clock through the admin endpoint: timers have fired when it
    /// answers.
    async fn at(&self, local: &str) {
        let (status, body) = self
            .app
            .post_json(
                "/v1/admin/clock",
                &self.admin,
                &json!({"now": paris(local).to_string()}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    async fn order(&self, id: &str) -> Value {
        let (status, order) = self
            .app
            .get_json(&format!("/v1/orders/{id}"), &self.sam)
            .await;
        assert_eq!(status, StatusCode::OK, "{order}");
        order
    }

    async fn history(&self, id: &str) -> Vec<Value> {
        let (status, history) = self
            .app
            .get_json(&format!("/v1/orders/{id}/history"), &self.sam)
            .await;
        assert_eq!(status, StatusCode::OK, "{history}");
        history["events"]
            .as_array()
            .or_else(|| history.as_array())
            .cloned()
            .expect("a list of events")
    }

    async fn of_type(&self, id: &str, event_type: &str) -> Vec<Value> {
        self.history(id)
            .await
            .into_iter()
            .filter(|e| e["type"] == event_type)
            .collect()
    }
}

fn instant(value: &Value) -> Timestamp {
    value.as_str().expect("an instant").parse().unwrap()
}

#[tokio::test]
async fn friday_evening_with_eight_business_hours_is_due_monday_evening() {
    let desk = Desk::open().await;
    desk.targets(json!({})).await;
    let id = desk.app.submit(&desk.alice).await;

    let order = desk.order(&id).await;
    let decision = &order["handling"]["clocks"]["decision"];
    assert_eq!(instant(&decision["due_at"]), paris("2026-11-30T17:30"));
    assert_eq!(instant(&decision["warn_at"]), paris("2026-11-30T15:30"));
    assert_eq!(decision["state"], "running");
    assert_eq!(decision["remaining_seconds"], 8 * 3600);
    assert_eq!(
        order["handling"]["targets"],
        json!({"key": "compute", "version": 1})
    );

    // The customer sees no clocks.
    let (_, mine) = desk
        .app
        .get_json(&format!("/v1/orders/{id}"), &desk.alice)
        .await;
    assert!(mine["handling"].is_null(), "{mine}");

    // Monday 11:00: 30 min on Friday and 2 h this morning are gone.
    desk.at("2026-11-30T11:00").await;
    let (_, page) = desk.app.queue(&desk.sam, "sort=due_at").await;
    let row = &page["orders"][0];
    assert_eq!(instant(&row["due_at"]), paris("2026-11-30T13:30"));
    let decision = &row["handling"]["clocks"]["decision"];
    assert_eq!(decision["remaining_seconds"], 8 * 3600 - 150 * 60);
    assert_eq!(decision["remaining"], "PT5H30M");
    assert_eq!(decision["warning"], false);
    assert_eq!(decision["breached"], false);
}

#[tokio::test]
async fn a_holiday_from_an_ics_file_moves_the_deadline_to_tuesday() {
    let desk = Desk::open().await;
    desk.targets(json!({"holidays_ics": HOLIDAY_ICS})).await;
    let (_, defined) = desk
        .app
        .get_json("/v1/handling-targets/compute", &desk.sam)
        .await;
    assert_eq!(
        defined["calendar"]["holidays"],
        json!(["2026-11-30"]),
        "{defined}"
    );

    let id = desk.app.submit(&desk.alice).await;
    let order = desk.order(&id).await;
    assert_eq!(
        instant(&order["handling"]["clocks"]["decision"]["due_at"]),
        paris("2026-12-01T17:30")
    );
}

#[tokio::test]
async fn a_question_pauses_the_clock_and_the_answer_resumes_it() {
    let desk = Desk::open().await;
    desk.targets(json!({})).await;
    let id = desk.app.submit(&desk.alice).await;

    desk.at("2026-11-30T10:00").await;
    let (status, _) = desk
        .app
        .command(
            &id,
            "questions",
            &desk.sam,
            json!({"body": "Which region?"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let order = desk.order(&id).await;
    let decision = &order["handling"]["clocks"]["decision"];
    assert_eq!(decision["state"], "paused");
    assert_eq!(decision["elapsed_seconds"], 90 * 60);
    // Answering the question was the first response.
    let first = &order["handling"]["clocks"]["first_response"];
    assert_eq!(first["state"], "stopped");
    assert_eq!(first["within_target"], true);

    // A whole business day passes while the customer thinks: nothing counts,
    // nothing falls due.
    desk.at("2026-12-01T10:00").await;
    assert_eq!(
        desk.order(&id).await["handling"]["clocks"]["decision"]["elapsed_seconds"],
        90 * 60
    );
    assert!(desk.of_type(&id, "HandlingTargetBreached").await.is_empty());

    let (status, _) = desk
        .app
        .command(&id, "answers", &desk.alice, json!({"body": "Amsterdam"}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let resumed = desk.of_type(&id, "HandlingClockResumed").await;
    assert_eq!(resumed.len(), 1);
    let resumed = &resumed[0]["payload"];
    // Paused Monday 10:00 to Tuesday 10:00: 8 business hours, so Monday 17:30
    // becomes Tuesday 17:30.
    assert_eq!(resumed["paused_seconds"], 8 * 3600);
    assert_eq!(instant(&resumed["due_at"]), paris("2026-12-01T17:30"));
    assert_eq!(resumed["cause"], "question 1 answered");
    let paused = desk.of_type(&id, "HandlingClockPaused").await;
    assert_eq!(
        paused[0]["payload"]["cause"],
        "question 1 asked: waiting for the customer"
    );
}

#[tokio::test]
async fn warning_at_three_quarters_then_breach_with_its_cause() {
    let desk = Desk::open().await;
    desk.targets(json!({})).await;
    let id = desk.app.submit(&desk.alice).await;
    desk.app
        .command(&id, "assign", &desk.sam, json!({"assignee": "sam"}))
        .await;

    desk.at("2026-11-30T15:29").await;
    assert!(desk.of_type(&id, "HandlingTargetAtRisk").await.is_empty());
    desk.at("2026-11-30T15:30").await;
    let risks = desk.of_type(&id, "HandlingTargetAtRisk").await;
    assert_eq!(risks.len(), 1, "{risks:?}");
    assert_eq!(risks[0]["payload"]["clock"], "decision");
    assert_eq!(
        instant(&risks[0]["payload"]["at"]),
        paris("2026-11-30T15:30")
    );
    assert_eq!(risks[0]["payload"]["elapsed_seconds"], 6 * 3600);
    let (_, page) = desk.app.queue(&desk.sam, "").await;
    assert_eq!(
        page["orders"][0]["handling"]["clocks"]["decision"]["warning"],
        true
    );

    desk.at("2026-11-30T17:31").await;
    let breaches = desk.of_type(&id, "HandlingTargetBreached").await;
    assert_eq!(breaches.len(), 1, "{breaches:?}");
    let breach = &breaches[0];
    assert_eq!(breach["actor"]["subject"], "pactum-handling-timer");
    assert_eq!(instant(&breach["payload"]["at"]), paris("2026-11-30T17:30"));
    let cause = breach["payload"]["cause"].as_str().unwrap();
    assert!(cause.contains("no decision"), "{cause}");
    assert!(cause.contains("8h"), "{cause}");
    let (_, page) = desk.app.queue(&desk.sam, "").await;
    let decision = &page["orders"][0]["handling"]["clocks"]["decision"];
    assert_eq!(decision["breached"], true);
    assert_eq!(decision["remaining_seconds"], -60);

    // Moving on records nothing twice.
    desk.at("2026-12-02T09:00").await;
    assert_eq!(desk.of_type(&id, "HandlingTargetBreached").await.len(), 1);
    assert_eq!(desk.of_type(&id, "HandlingTargetAtRisk").await.len(), 1);
}

#[tokio::test]
async fn a_deadline_that_passes_while_the_server_is_down_fires_once_after_restart() {
    let dir = TempDir::new().unwrap();
    let start = |at: &str| {
        let clock = Arc::new(ManualClock::starting_at(paris(at)));
        let options = Options {
            clock: ClockConfig::Manual(clock.clone()),
            ..Options::default()
        };
        (clock, options)
    };
    let (clock, options) = start("2026-11-27T17:30");
    let desk = Desk::with(spawn_app_at_with(dir.path(), options).await, clock).await;
    desk.targets(json!({})).await;
    let id = desk.app.submit(&desk.alice).await;
    desk.app.stop().await;

    // Back on Tuesday: the timer's first sweep records what fell due, unasked.
    let (clock, options) = start("2026-12-01T09:00");
    let desk = Desk::with(spawn_app_at_with(dir.path(), options).await, clock).await;
    let mut breaches = Vec::new();
    for _ in 0..200 {
        breaches = desk.of_type(&id, "HandlingTargetBreached").await;
        if breaches.len() == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let clocks: Vec<&Value> = breaches.iter().map(|b| &b["payload"]["clock"]).collect();
    assert_eq!(
        clocks,
        [&json!("first_response"), &json!("decision")],
        "{breaches:?}"
    );
    desk.app.stop().await;

    // Another restart and sweep: still once.
    let (clock, options) = start("2026-12-02T09:00");
    let desk = Desk::with(spawn_app_at_with(dir.path(), options).await, clock).await;
    desk.at("2026-12-02T09:05").await;
    assert_eq!(desk.of_type(&id, "HandlingTargetBreached").await.len(), 2);
    assert_eq!(desk.of_type(&id, "HandlingTargetAtRisk").await.len(), 2);
    let _ = desk.clock;
}

#[tokio::test]
async fn targets_are_versioned_and_orders_keep_theirs() {
    let desk = Desk::open().await;
    desk.targets(json!({})).await;
    let first = desk.app.submit(&desk.alice).await;
    let (status, defined) = desk
        .define(
            "/v1/handling-targets/compute",
            json!({"first_response": "PT1H", "decision": "PT2H", "calendar": office()}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(defined["version"], 2);
    let second = desk.app.submit(&desk.alice).await;

    let old = desk.order(&first).await;
    assert_eq!(old["handling"]["targets"]["version"], 1);
    assert_eq!(
        old["handling"]["clocks"]["decision"]["target_seconds"],
        8 * 3600
    );
    let new = desk.order(&second).await;
    assert_eq!(new["handling"]["targets"]["version"], 2);
    assert_eq!(
        new["handling"]["clocks"]["decision"]["target_seconds"],
        2 * 3600
    );

    // A service's own targets win over its group's.
    let (status, _) = desk
        .define(
            "/v1/handling-targets/compute/cloud-compute",
            json!({"decision": "PT16H", "calendar": office()}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let third = desk.app.submit(&desk.alice).await;
    let order = desk.order(&third).await;
    assert_eq!(order["handling"]["targets"]["key"], "compute/cloud-compute");
    assert!(order["handling"]["clocks"]["first_response"].is_null());

    // The queue sorts by the soonest deadline.
    let (_, page) = desk.app.queue(&desk.sam, "sort=due_at").await;
    let ids: Vec<&str> = page["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [second.as_str(), first.as_str(), third.as_str()]);
}

#[tokio::test]
async fn bad_definitions_are_refused_whole() {
    let desk = Desk::open().await;
    let (status, problem) = desk
        .define(
            "/v1/handling-targets/compute",
            json!({"decision": "soon", "warning_percent": 120, "calendar": {"time_zone": "Mars/Olympus", "hours": {"monday": ["18:00-09:00"]}}}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    let text = problem.to_string();
    for field in ["decision", "warning_percent", "calendar"] {
        assert!(text.contains(field), "{field} not named in {text}");
    }
    let (status, _) = desk
        .define(
            "/v1/handling-targets/nosuchgroup",
            json!({"decision": "PT8H", "calendar": office()}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = send(
        desk.app
            .client
            .put(desk.app.url("/v1/handling-targets/compute"))
            .bearer_auth(&desk.sam)
            .json(&json!({"decision": "PT8H", "calendar": office()})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, list) = desk.app.get_json("/v1/handling-targets", &desk.sam).await;
    assert_eq!(list["targets"], json!([]));
}
