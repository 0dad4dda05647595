//! Service-level compliance through the API: agreements bound to monitored
//! endpoints, probe results and heartbeats in, ARGO's figures and APEL usage
//! in, each day's and month's figures out, months closed with their causes,
//! corrections, mails, tenancy, and the monthly report as JSON, CSV and PDF.

use std::sync::Arc;

use jiff::civil::Date;
use jiff::{Timestamp, ToSpan};
use pactum::clock::ManualClock;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::agreements::{Cast, active_order, cast, download, pdf_text};
use crate::helpers::*;

/// Local time in Amsterdam.
fn local(date: &str, time: &str) -> Timestamp {
    format!("{date}T{time}[Europe/Amsterdam]")
        .parse::<jiff::Zoned>()
        .unwrap()
        .timestamp()
}

/// Every 5 minutes of `[from, to)`, the status `at` says.
fn results(
    from: Timestamp,
    to: Timestamp,
    status: impl Fn(Timestamp) -> &'static str,
) -> Vec<Value> {
    let mut out = Vec::new();
    let mut t = from;
    while t < to {
        out.push(json!({"timestamp": t.to_string(), "status": status(t)}));
        t += 5.minutes();
    }
    out
}

/// March 2027 in Amsterdam: OK all month, but CRITICAL 02:00–04:00 on the
/// 3rd, UNKNOWN 06:00–12:00 on the 10th, a scheduled DOWNTIME 20:00–24:00 on
/// the 15th, WARNING (still up) 09:00–12:00 on the 20th; on the 28th clocks
/// go forward at 02:00 (a 23-hour day).
fn march(t: Timestamp) -> &'static str {
    let within = |date: &str, a: &str, b: &str| local(date, a) <= t && t < local(date, b);
    if within("2027-03-03", "02:00", "04:00") {
        "CRITICAL"
    } else if within("2027-03-10", "06:00", "12:00") {
        "UNKNOWN"
    } else if t >= local("2027-03-15", "20:00") && t < local("2027-03-16", "00:00") {
        "DOWNTIME"
    } else if within("2027-03-20", "09:00", "12:00") {
        "WARNING"
    } else {
        "OK"
    }
}

struct Desk {
    app: TestApp,
    clock: Arc<ManualClock>,
    cast: Cast,
    sam: String,
    admin: String,
    probe: String,
    order: String,
    sla: String,
    ola_cesnet: String,
    ola_in2p3: String,
}

impl Desk {
    async fn open() -> Self {
        let clock = Arc::new(ManualClock::starting_at(
            "2026-12-07T09:00:00Z".parse().unwrap(),
        ));
        let app = spawn_app_with_clock(clock.clone()).await;
        let cast = cast(&app).await;
        let (order, body) = active_order(&app, &cast).await;
        let agreements = body["agreements"].as_array().unwrap();
        let id = |i: usize| agreements[i]["agreement_id"].as_str().unwrap().to_owned();
        Self {
            sam: cast.sam.clone(),
            admin: app.role("ada", "admin").await,
            probe: app.role("argo-probe", "monitoring").await,
            sla: id(0),
            ola_cesnet: id(1),
            ola_in2p3: id(2),
            order,
            cast,
            clock,
            app,
        }
    }

    async fn put(&self, path: &str, token: &str, body: &Value) -> (StatusCode, Value) {
        send(
            self.app
                .client
                .put(self.app.url(path))
                .bearer_auth(token)
                .json(body),
        )
        .await
    }

    async fn bind(&self, agreement: &str, body: Value) -> Value {
        let (status, bound) = self
            .put(
                &format!("/v1/agreements/{agreement}/monitoring"),
                &self.sam,
                &body,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{bound}");
        bound
    }

    async fn push(&self, token: &str, endpoint: &str, results: &[Value]) -> (StatusCode, Value) {
        self.app
            .post_json(
                "/v1/monitoring/status",
                token,
                &json!({"endpoint": endpoint, "results": results}),
            )
            .await
    }

    /// Moves the clock to `now`: the timers record what fell due.
    async fn at(&self, now: &str) {
        let (status, body) = self
            .app
            .post_json("/v1/admin/clock", &self.admin, &json!({"now": now}))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let _ = &self.clock;
    }

    async fn compliance(&self, agreement: &str, query: &str, token: &str) -> (StatusCode, Value) {
        self.app
            .get_json(
                &format!("/v1/agreements/{agreement}/compliance?{query}"),
                token,
            )
            .await
    }

    /// The compliance events of `agreement`, as `(type, payload)`.
    async fn events(&self, agreement: &str) -> Vec<(String, Value)> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT event_type, payload FROM events WHERE aggregate_type = 'compliance' \
             AND aggregate_id = $1 ORDER BY position",
        )
        .bind(agreement)
        .fetch_all(self.app.app.store.reader())
        .await
        .unwrap();
        rows.into_iter()
            .map(|(t, p)| (t, serde_json::from_str(&p).unwrap()))
            .collect()
    }

    /// The rows of stored projection `name`, once it has caught up with the log.
    async fn rows(&self, name: &str) -> Vec<Value> {
        let app = &self.app.app;
        app.projections
            .handle(name)
            .unwrap()
            .wait_for(self.app.head(), std::time::Duration::from_secs(10))
            .await
            .expect("the projection catches up");
        pactum::projector::dump(&app.store, name)
            .await
            .unwrap()
            .iter()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }

    /// `columns` of the reporting view `view` (as text) where `filter` holds,
    /// once `projection` has caught up, ordered by the first two columns.
    async fn view(
        &self,
        projection: &str,
        view: &str,
        columns: &[&str],
        filter: &str,
    ) -> Vec<Vec<Option<String>>> {
        self.rows(projection).await;
        let name = match crate::backend::backend() {
            crate::backend::Backend::Sqlite => format!("reporting_{view}"),
            crate::backend::Backend::Postgres => format!("reporting.{view}"),
        };
        let select: Vec<String> = columns
            .iter()
            .map(|c| format!("CAST({c} AS TEXT)"))
            .collect();
        let sql = format!(
            "SELECT {} FROM {name} WHERE {filter} ORDER BY 1, 2",
            select.join(", ")
        );
        let rows = sqlx::query(&sql)
            .fetch_all(self.app.app.store.reader())
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        rows.iter()
            .map(|r| {
                (0..columns.len())
                    .map(|i| sqlx::Row::get::<Option<String>, _>(r, i))
                    .collect()
            })
            .collect()
    }

    /// March pushed week by week, out of order, one week twice.
    async fn push_march(&self, endpoint: &str, status: impl Fn(Timestamp) -> &'static str) {
        let all = results(
            local("2027-03-01", "00:00"),
            local("2027-04-01", "00:00"),
            status,
        );
        let weeks: Vec<&[Value]> = all.chunks(2016).collect();
        for i in [2, 0, 4, 1, 3, 0] {
            let (status, body) = self.push(&self.probe, endpoint, weeks[i]).await;
            assert_eq!(status, StatusCode::OK, "{body}");
        }
    }
}

#[tokio::test]
async fn a_hand_computed_month_gives_the_stated_figures() {
    let d = Desk::open().await;
    // Just before March ends in Amsterdam (22:00 UTC on the 31st).
    d.at("2027-03-31T21:58:00Z").await;
    let bound = d
        .bind(
            &d.sla,
            json!({"endpoints": ["cloud.acme.test"], "time_zone": "Europe/Amsterdam"}),
        )
        .await;
    assert_eq!(
        bound["from"], "2027-01-04",
        "the first binding: from the agreement's start"
    );
    assert_eq!(bound["combine"], "all");
    d.push_march("cloud.acme.test", march).await;
    // The month closes when it has ended in Amsterdam.
    let events = d.events(&d.sla).await;
    assert!(
        !events
            .iter()
            .any(|(t, p)| t == "ServiceLevelMeasured" && p["month"] == "2027-03"),
        "March has not ended yet"
    );
    // Nothing is known of what has not happened: the last OK does not hold
    // into April.
    let (_, ahead) = d
        .compliance(&d.sla, "from=2027-04-01&to=2027-04-02", &d.admin)
        .await;
    assert_eq!(ahead["days"][0]["availability"], Value::Null, "{ahead}");
    d.at("2027-04-01T08:00:00Z").await;

    // Repeated results were compacted: the changes and the ends of runs.
    let (status, endpoint) = d
        .app
        .get_json("/v1/monitoring/endpoints/cloud.acme.test", &d.admin)
        .await;
    assert_eq!(status, StatusCode::OK, "{endpoint}");
    let points = endpoint["points"].as_u64().unwrap();
    assert!(points < 40, "8,928 results kept as {points} points");

    let (status, view) = d
        .compliance(&d.sla, "from=2027-03-01&to=2027-03-31", &d.cast.alice)
        .await;
    assert_eq!(status, StatusCode::OK, "{view}");
    let day = |n: usize| &view["days"][n - 1];
    // The 3rd: 22 of 24 hours up.
    assert_eq!(day(3)["availability"], 91.66667);
    assert_eq!(day(3)["reliability"], 91.66667);
    // The 10th: 6 hours unknown, the 18 known all up.
    assert_eq!(day(10)["availability"], 100.0);
    assert_eq!(day(10)["unknown_pct"], 25.0);
    // The 15th: 4 scheduled hours, out of reliability only.
    assert_eq!(day(15)["availability"], 83.33333);
    assert_eq!(day(15)["reliability"], 100.0);
    assert_eq!(day(15)["downtime_pct"], 16.66667);
    // The 20th: WARNING is up.
    assert_eq!(day(20)["availability"], 100.0);
    // The 28th is 23 hours long, all up.
    assert_eq!(day(28)["availability"], 100.0);
    assert_eq!(day(28)["period"], "2027-03-28");
    // The month, as ARGO averages the days: up 0.983871 over 0.991935 known,
    // 0.986559 known and scheduled.
    let month = &view["months"][0];
    assert_eq!(month["period"], "2027-03");
    assert_eq!(month["availability"], 99.18699);
    assert_eq!(month["reliability"], 99.72752);
    assert_eq!(month["target_availability"], 80.0);
    assert_eq!(month["availability_met"], true);
    assert_eq!(month["source"], "measured");

    // Monthly granularity: months only.
    let (_, monthly) = d
        .compliance(
            &d.sla,
            "from=2027-03-01&to=2027-03-31&granularity=monthly",
            &d.admin,
        )
        .await;
    assert_eq!(monthly["days"], json!([]));
    assert_eq!(monthly["months"][0]["availability"], 99.18699);

    let measured = |events: &[(String, Value)], month: &str| {
        events
            .iter()
            .find(|(t, p)| t == "ServiceLevelMeasured" && p["month"] == month)
            .map(|(_, p)| p.clone())
    };
    let events = d.events(&d.sla).await;
    let march_measured = measured(&events, "2027-03").expect("March measured");
    assert_eq!(march_measured["figures"]["availability"], 99.18699);
    assert_eq!(march_measured["met"], true);
    // It carries each day as the view shows it, and the month's usage.
    let measured_days = march_measured["days"].as_array().unwrap();
    assert_eq!(measured_days.len(), 31, "{march_measured}");
    for (n, day) in measured_days.iter().enumerate() {
        let shown = &view["days"][n];
        assert_eq!(day["day"], shown["period"]);
        for figure in ["availability", "reliability", "unknown_pct", "downtime_pct"] {
            assert_eq!(day[figure], shown[figure], "{} {figure}", shown["period"]);
        }
    }
    for field in [
        "used_core_hours",
        "committed_core_hours",
        "used_pct",
        "records",
    ] {
        assert_eq!(
            march_measured["usage"][field], view["usage"][0][field],
            "{field}"
        );
    }
    assert_eq!(march_measured["usage"]["flag"], view["usage"][0]["flag"]);
    assert!(measured(&events, "2027-01").is_some() && measured(&events, "2027-02").is_some());
    assert!(
        measured(&events, "2027-04").is_none(),
        "April has not ended"
    );
    assert!(events.iter().all(|(t, _)| t != "ServiceLevelMissed"));

    // As known before the results came: nothing.
    let (_, before) = d
        .compliance(
            &d.sla,
            "from=2027-03-01&to=2027-03-31&as_of=2027-01-01T00:00:00Z",
            &d.admin,
        )
        .await;
    assert_eq!(before["months"][0]["availability"], Value::Null);
}

#[tokio::test]
async fn a_missed_target_records_its_cause_and_mails_and_late_data_corrects_it() {
    let d = Desk::open().await;
    d.at("2027-03-01T00:00:00Z").await;
    // The OLA of CESNET: its endpoint becomes CESNET's.
    d.bind(
        &d.ola_cesnet,
        json!({"endpoints": ["cloud.cesnet.test"], "time_zone": "Europe/Prague"}),
    )
    .await;
    // Down from the 5th 06:00 to the 12th 06:00 (Prague = Amsterdam time).
    let down = |t: Timestamp| {
        if local("2027-03-05", "06:00") <= t && t < local("2027-03-12", "06:00") {
            "CRITICAL"
        } else {
            "OK"
        }
    };
    d.at("2027-03-31T21:58:00Z").await;
    // The provider's own operator pushes; the month then ends.
    let all = results(
        local("2027-03-01", "00:00"),
        local("2027-04-01", "00:00"),
        down,
    );
    for chunk in all.chunks(3000) {
        let (status, body) = d.push(&d.cast.cesnet, "cloud.cesnet.test", chunk).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    // A spare endpoint, up all month. The SLA needs both (the worst holds);
    // the other OLA needs either (the best holds).
    let spare = results(
        local("2027-03-01", "00:00"),
        local("2027-04-01", "00:00"),
        |_| "OK",
    );
    let (status, body) = d.push(&d.probe, "spare.acme.test", &spare).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let both = json!(["cloud.cesnet.test", "spare.acme.test"]);
    d.bind(
        &d.sla,
        json!({"endpoints": both, "combine": "all", "from": "2027-01-04"}),
    )
    .await;
    d.bind(
        &d.ola_in2p3,
        json!({"endpoints": both, "combine": "any", "from": "2027-01-04"}),
    )
    .await;
    d.at("2027-04-01T09:00:00Z").await;
    let march_of = |agreement: &str| {
        let (d, agreement) = (&d, agreement.to_owned());
        async move {
            let (status, view) = d
                .compliance(
                    &agreement,
                    "from=2027-03-01&to=2027-03-31&granularity=monthly",
                    &d.admin,
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{view}");
            view["months"][0]["availability"].clone()
        }
    };
    assert_eq!(march_of(&d.sla).await, 77.41935);
    assert_eq!(march_of(&d.ola_in2p3).await, 100.0);
    let events = d.events(&d.ola_cesnet).await;
    let missed = events
        .iter()
        .find(|(t, p)| t == "ServiceLevelMissed" && p["month"] == "2027-03")
        .map(|(_, p)| p.clone())
        .unwrap_or_else(|| panic!("a miss: {events:?}"));
    // 7 of 31 days down: availability (31 − 7) / 31.
    assert_eq!(missed["figures"]["availability"], 77.41935);
    assert_eq!(missed["missed"], json!(["availability", "reliability"]));
    assert_eq!(
        missed["causes"][0],
        json!({
            "endpoint": "cloud.cesnet.test",
            "status": "CRITICAL",
            "from": local("2027-03-05", "06:00").to_string(),
            "to": local("2027-03-12", "06:00").to_string(),
        })
    );
    // Mail: the provider hears (its contact), in the transaction of the miss.
    let mails: Vec<(String, String, String)> =
        sqlx::query_as("SELECT kind, recipient, body FROM outbox WHERE kind = 'service_level'")
            .fetch_all(d.app.app.store.reader())
            .await
            .unwrap();
    assert!(
        mails
            .iter()
            .any(|(_, to, body)| to == "cesnet-mcc@example.org"
                && body.contains("cloud.cesnet.test CRITICAL")
                && body.contains("168.0 h")),
        "{mails:?}"
    );

    // Late data: the monitoring system had the 8th to the 11th wrong; it was up.
    let fixed = results(
        local("2027-03-08", "06:00"),
        local("2027-03-12", "06:00"),
        |_| "OK",
    );
    let (status, body) = d.push(&d.probe, "cloud.cesnet.test", &fixed).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let events = d.events(&d.ola_cesnet).await;
    let corrected: Vec<&Value> = events
        .iter()
        .filter(|(t, _)| t == "ServiceLevelCorrected")
        .map(|(_, p)| p)
        .collect();
    assert_eq!(corrected.len(), 1, "{events:?}");
    assert_eq!(corrected[0]["month"], "2027-03");
    assert_eq!(corrected[0]["old"]["availability"], 77.41935);
    // Down 3 days now: (31 − 3) / 31.
    assert_eq!(corrected[0]["new"]["availability"], 90.32258);
    assert_eq!(corrected[0]["met"], true);
    // With the month's days as now computed: the 9th was up after all.
    assert_eq!(corrected[0]["days"].as_array().unwrap().len(), 31);
    assert_eq!(corrected[0]["days"][8]["day"], "2027-03-09");
    assert_eq!(corrected[0]["days"][8]["availability"], 100.0);
    assert!(corrected[0]["usage"].is_object(), "{}", corrected[0]);
    // The stored service levels follow the correction.
    let rows = d.rows("service_levels").await;
    let row = rows
        .iter()
        .find(|r| r["agreement_id"] == d.ola_cesnet.as_str() && r["month"] == "2027-03")
        .expect("a row for the OLA's March");
    assert_eq!(row["availability"], "90.32258", "{row}");
    assert_eq!(
        (row["met"].clone(), row["corrections"].clone()),
        (json!(1), json!(1))
    );
    let days: Value = serde_json::from_str(row["days"].as_str().unwrap()).unwrap();
    assert_eq!(days, corrected[0]["days"]);
    assert_eq!(row["usage_flag"], corrected[0]["usage"]["flag"]);
    assert!(
        row["measured_at"].is_i64() && row["updated_at"].is_i64(),
        "{row}"
    );
    // Reporting jobs read the same through the views.
    let ola = format!("agreement_id = '{}'", d.ola_cesnet);
    let monthly = d
        .view(
            "service_levels",
            "service_levels_monthly",
            &[
                "month",
                "kind",
                "provider",
                "availability",
                "corrections",
                "met",
            ],
            &ola,
        )
        .await;
    assert_eq!(monthly.len(), 3, "January to March: {monthly:?}");
    let march = &monthly[2];
    assert_eq!(march[0].as_deref(), Some("2027-03"));
    assert_eq!(march[1].as_deref(), Some("ola"));
    assert!(march[2].is_some(), "an OLA names its provider");
    assert_eq!(
        march[3].as_deref().map(|a| a.parse::<f64>().unwrap()),
        Some(90.32258)
    );
    assert_eq!(march[4].as_deref(), Some("1"));
    assert!(
        matches!(march[5].as_deref(), Some("true" | "1")),
        "{march:?}"
    );
    let daily = d
        .view(
            "service_levels",
            "service_levels_daily",
            &["day", "availability"],
            &format!("{ola} AND month = '2027-03'"),
        )
        .await;
    assert_eq!(daily.len(), 31);
    let day = |n: usize| daily[n - 1][1].as_deref().unwrap().parse::<f64>().unwrap();
    assert_eq!(daily[8][0].as_deref(), Some("2027-03-09"));
    assert_eq!(day(9), 100.0);
    assert!(day(6) < 100.0, "the 6th was down: {:?}", daily[5]);
    let usage = d
        .view("service_levels", "usage_monthly", &["month", "flag"], &ola)
        .await;
    assert_eq!(
        usage[2][1].as_deref(),
        corrected[0]["usage"]["flag"].as_str()
    );
    // The measured event stays as it was.
    assert_eq!(
        events
            .iter()
            .filter(|(t, p)| t == "ServiceLevelMeasured" && p["month"] == "2027-03")
            .count(),
        1
    );
    // The same late data again changes nothing.
    let (status, body) = d.push(&d.probe, "cloud.cesnet.test", &fixed).await;
    assert_eq!(
        (status, body["recorded"].clone()),
        (StatusCode::OK, json!(0))
    );
    assert_eq!(d.events(&d.ola_cesnet).await.len(), events.len());
}

#[tokio::test]
async fn heartbeats_that_stop_turn_the_endpoint_down_until_the_next() {
    let d = Desk::open().await;
    let (status, declared) = d
        .put(
            "/v1/monitoring/endpoints/hb.acme.test",
            &d.admin,
            &json!({"provider": "cesnet-mcc", "heartbeat": {"interval_seconds": 60, "grace_seconds": 60}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{declared}");
    // Only admins declare endpoints; a customer does not see them.
    let (status, _) = d
        .put(
            "/v1/monitoring/endpoints/hb.acme.test",
            &d.sam,
            &json!({"heartbeat": {"interval_seconds": 10}}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = d
        .put(
            "/v1/monitoring/endpoints/hb.acme.test",
            &d.admin,
            &json!({"heartbeat": {"interval_seconds": 5}, "provider": "nobody"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, _) = d
        .app
        .get_json("/v1/monitoring/endpoints/hb.acme.test", &d.cast.alice)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let beat = |token: String| {
        let app = &d.app;
        async move {
            app.post("/v1/monitoring/heartbeats/hb.acme.test", &token)
                .send()
                .await
                .unwrap()
        }
    };
    let response = beat(d.cast.cesnet.clone()).await;
    assert_eq!(response.status(), StatusCode::OK);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["status"], "OK");
    // Another provider's operator may not beat for it; a customer neither.
    assert_eq!(
        beat(d.cast.in2p3.clone()).await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        beat(d.cast.alice.clone()).await.status(),
        StatusCode::FORBIDDEN
    );

    // 90 s of silence: within the grace.
    d.at("2026-12-07T09:01:30Z").await;
    let status_now = || async {
        let (_, e) = d
            .app
            .get_json("/v1/monitoring/endpoints/hb.acme.test", &d.admin)
            .await;
        (e["status"].as_str().unwrap().to_owned(), e["since"].clone())
    };
    assert_eq!(status_now().await.0, "OK");
    // Past interval + grace: CRITICAL from the instant the grace ran out.
    d.at("2026-12-07T09:05:00Z").await;
    assert_eq!(
        status_now().await,
        ("CRITICAL".to_owned(), json!("2026-12-07T09:02:00Z"))
    );
    // The next beat: OK again.
    assert_eq!(beat(d.probe.clone()).await.status(), StatusCode::OK);
    assert_eq!(
        status_now().await,
        ("OK".to_owned(), json!("2026-12-07T09:05:00Z"))
    );
    // An endpoint without a heartbeat takes none.
    let (status, _) = d
        .push(
            &d.probe,
            "plain.acme.test",
            &[json!({"timestamp": "2026-12-07T09:00:00Z", "status": "OK"})],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let response = d
        .app
        .post("/v1/monitoring/heartbeats/plain.acme.test", &d.probe)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CONFLICT);
}

#[tokio::test]
async fn pushes_are_checked_and_only_a_providers_own_endpoints_take_its_results() {
    let d = Desk::open().await;
    d.bind(&d.ola_cesnet, json!({"endpoints": ["cloud.cesnet.test"]}))
        .await;
    let one = [json!({"timestamp": "2026-12-07T08:00:00Z", "status": "OK"})];
    for (token, expected) in [
        (&d.cast.cesnet, StatusCode::OK),
        (&d.probe, StatusCode::OK),
        (&d.admin, StatusCode::OK),
        (&d.cast.in2p3, StatusCode::FORBIDDEN),
        (&d.cast.alice, StatusCode::FORBIDDEN),
        (&d.sam, StatusCode::FORBIDDEN),
    ] {
        let (status, body) = d.push(token, "cloud.cesnet.test", &one).await;
        assert_eq!(status, expected, "{body}");
    }
    // Bad results: each named, nothing recorded.
    let head = d.app.head();
    let (status, body) = d
        .push(
            &d.probe,
            "cloud.cesnet.test",
            &[
                json!({"timestamp": "2026-12-07T08:05:00Z", "status": "OK"}),
                json!({"timestamp": "yesterday", "status": "OK"}),
                json!({"timestamp": "2026-12-07T08:10:00Z", "status": "DOWN"}),
                json!({"timestamp": "2027-12-07T08:10:00Z", "status": "OK"}),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "results[1].timestamp",
            "results[2].status",
            "results[3].timestamp"
        ]
    );
    assert_eq!(d.app.head(), head, "nothing recorded");
    let (status, _) = d.push(&d.probe, "bad/name", &one).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    // Binding: a customer may not; an unknown time zone or combine is named.
    let (status, _) = d
        .put(
            &format!("/v1/agreements/{}/monitoring", d.sla),
            &d.cast.alice,
            &json!({"endpoints": ["x.test"]}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = d
        .put(
            &format!("/v1/agreements/{}/monitoring", d.sla),
            &d.sam,
            &json!({"endpoints": [], "combine": "most", "time_zone": "Mars/Olympus"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["endpoints", "combine", "time_zone"]);
    // No service level is owed before the agreement's first day.
    let (status, body) = d
        .put(
            &format!("/v1/agreements/{}/monitoring", d.sla),
            &d.sam,
            &json!({"endpoints": ["x.test"], "from": "2025-01-01"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["errors"][0]["field"], "from");
}

#[tokio::test]
async fn customers_see_their_slas_compliance_and_providers_their_olas_only() {
    let d = Desk::open().await;
    for agreement in [&d.sla, &d.ola_cesnet, &d.ola_in2p3] {
        d.bind(agreement, json!({"endpoints": ["cloud.shared.test"]}))
            .await;
    }
    let bob = d.app.customer("bob", "globex").await;
    let query = "from=2027-01-04&to=2027-01-10";
    for (who, agreement, expected) in [
        (&d.cast.alice, &d.sla, StatusCode::OK),
        (&d.cast.alice, &d.ola_cesnet, StatusCode::NOT_FOUND),
        (&bob, &d.sla, StatusCode::NOT_FOUND),
        (&d.cast.cesnet, &d.ola_cesnet, StatusCode::OK),
        (&d.cast.cesnet, &d.ola_in2p3, StatusCode::NOT_FOUND),
        (&d.cast.cesnet, &d.sla, StatusCode::NOT_FOUND),
        (&d.probe, &d.sla, StatusCode::NOT_FOUND),
        (&d.sam, &d.ola_in2p3, StatusCode::OK),
    ] {
        let (status, body) = d.compliance(agreement, query, who).await;
        assert_eq!(status, expected, "{agreement}: {body}");
    }
    // Ranges that make no sense are named, not computed.
    for query in [
        "from=9999-12-31",
        "as_of=9999-01-01T00:00:00Z",
        "from=2027-03-01&to=2027-02-01",
        "from=2027-01-01&to=2028-06-01",
        "granularity=hourly",
        "from=March",
    ] {
        let (status, body) = d.compliance(&d.sla, query, &d.admin).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
    }
    // The report lists what each may see.
    let listed = |token: String| {
        let app = &d.app;
        async move {
            let (status, report) = app
                .get_json("/v1/reports/compliance?period=2027-01", &token)
                .await;
            assert_eq!(status, StatusCode::OK, "{report}");
            report["agreements"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a["agreement_id"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(listed(d.cast.alice.clone()).await, vec![d.sla.clone()]);
    assert_eq!(listed(bob).await, Vec::<String>::new());
    assert_eq!(
        listed(d.cast.cesnet.clone()).await,
        vec![d.ola_cesnet.clone()]
    );
    assert_eq!(listed(d.admin.clone()).await.len(), 3);
    let _ = &d.order;
}

const APEL: &str = "APEL-cloud-message: v0.4
VMUUID: vm-0001
SiteName: CESNET-MCC
LocalGroupId: acme
Status: completed
StartTime: 1804032000
EndTime: 1804118400
WallDuration: 86400
CpuDuration: 80000
CpuCount: 4
Memory: 8192
Disk: 40
%%
VMUUID: vm-0002
SiteName: CESNET-MCC
FQAN: /acme/Role=NULL/Capability=NULL
Status: started
StartTime: 1804032000
WallDuration: 43200
CpuCount: 2
%%
VMUUID: vm-0003
SiteName: CESNET-MCC
LocalGroupId: globex
Status: completed
StartTime: 1804032000
WallDuration: 86400
CpuCount: 64
%%
";

#[tokio::test]
async fn apel_records_are_taken_whole_and_matched_to_the_customers_agreement() {
    let d = Desk::open().await;
    d.bind(
        &d.sla,
        json!({"endpoints": ["cloud.acme.test"], "accounting": {"sites": ["CESNET-MCC"]}}),
    )
    .await;
    let post = |token: String, body: String| {
        let app = &d.app;
        async move {
            send(
                app.post("/v1/accounting/records", &token)
                    .header("content-type", "text/plain")
                    .body(body),
            )
            .await
        }
    };
    // A bad message: every bad record and field named, nothing stored.
    let head = d.app.head();
    let bad = APEL
        .replace("StartTime: 1804032000\nEndTime", "StartTime: soon\nEndTime")
        .replace("CpuCount: 2", "CpuCount: two");
    let (status, body) = post(d.probe.clone(), bad).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        ["records[1].StartTime", "records[2].CpuCount"],
        "{body}"
    );
    assert_eq!(d.app.head(), head);
    // Customers may not report usage.
    assert_eq!(
        post(d.cast.alice.clone(), APEL.into()).await.0,
        StatusCode::FORBIDDEN
    );

    let (status, body) = post(d.probe.clone(), APEL.into()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({"records": 3, "sites": ["CESNET-MCC"]}));
    // 2027-03-03: acme's two VMs, 4 cores × 24 h + 2 cores × 12 h = 120
    // core-hours; globex's is not acme's. Committed: 4 cores × 2 instances ×
    // 24 h × 31 days.
    let (status, view) = d
        .compliance(
            &d.sla,
            "from=2027-03-01&to=2027-03-31&granularity=monthly",
            &d.cast.alice,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{view}");
    let usage = &view["usage"][0];
    assert_eq!(usage["period"], "2027-03");
    assert_eq!(usage["used_core_hours"], 120.0);
    assert_eq!(usage["committed_core_hours"], 5952.0);
    assert_eq!(usage["records"], 2);
    assert_eq!(usage["flag"], "under");
    // The stored usage records: the site's, each VM's latest.
    let rows = d.rows("usage_records").await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["site"], "CESNET-MCC");
    let records: Value = serde_json::from_str(rows[0]["records"].as_str().unwrap()).unwrap();
    let vms: Vec<&str> = records
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["vm_uuid"].as_str().unwrap())
        .collect();
    assert_eq!(vms, ["vm-0001", "vm-0002", "vm-0003"]);
    let viewed = d
        .view(
            "usage_records",
            "usage_records",
            &["site", "vm_uuid", "start_time", "cpu_count"],
            "site = 'CESNET-MCC'",
        )
        .await;
    let vms: Vec<&str> = viewed.iter().map(|r| r[1].as_deref().unwrap()).collect();
    assert_eq!(vms, ["vm-0001", "vm-0002", "vm-0003"]);
    assert!(
        viewed[0][2].as_deref().unwrap().starts_with("2027-03-03"),
        "{viewed:?}"
    );
}

#[tokio::test]
async fn the_monthly_report_renders_as_csv_and_a_pdf_with_its_figures_and_chart() {
    let d = Desk::open().await;
    d.at("2027-03-31T21:58:00Z").await;
    d.bind(
        &d.sla,
        json!({"endpoints": ["cloud.acme.test"], "time_zone": "Europe/Amsterdam"}),
    )
    .await;
    d.push_march("cloud.acme.test", march).await;
    d.at("2027-04-01T08:00:00Z").await;

    let (status, csv) = {
        let response = d
            .app
            .get("/v1/reports/compliance?period=2027-03&format=csv", &d.admin)
            .send()
            .await
            .unwrap();
        (response.status(), response.text().await.unwrap())
    };
    assert_eq!(status, StatusCode::OK);
    let month_row = csv.lines().nth(1).unwrap();
    assert!(month_row.contains(",2027-03,99.18699,99.72752,"), "{csv}");
    assert_eq!(csv.lines().count(), 1 + 1 + 31);

    let path = "/v1/reports/compliance?period=2027-03&format=pdf";
    let (status, headers, pdf) = download(&d.app, path, &d.cast.alice).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "application/pdf");
    let text = pdf_text(&pdf);
    let reference = {
        let (_, a) = d
            .app
            .get_json(&format!("/v1/agreements/{}", d.sla), &d.admin)
            .await;
        a["reference"].as_str().unwrap().to_owned()
    };
    for needle in [reference.as_str(), "99.18699", "99.72752", "2027-03"] {
        assert!(text.contains(needle), "{needle:?} missing:\n{text}");
    }
    // The chart: the page is not blank below the title.
    assert!(ink_below_title(&pdf) > 500, "the chart is drawn");
    // The same history renders the same bytes.
    let (_, _, again) = download(&d.app, path, &d.cast.alice).await;
    assert_eq!(pdf, again);

    // Bad periods and formats are named.
    for query in [
        "period=2027-13",
        "period=March",
        "period=2027-03&format=xlsx",
        "",
    ] {
        let (status, _) = d
            .app
            .get_json(&format!("/v1/reports/compliance?{query}"), &d.admin)
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
    }
    let _ = Date::new(2027, 3, 1);
}

/// Dark pixels on the lower four fifths of page 1 (rendered at 30 dpi).
fn ink_below_title(pdf: &[u8]) -> usize {
    let dir = tempfile::TempDir::new().unwrap();
    let path = dir.path().join("report.pdf");
    std::fs::write(&path, pdf).unwrap();
    let output = std::process::Command::new("pdftoppm")
        .args(["-r", "30", "-gray", "-f", "1", "-l", "1"])
        .arg(&path)
        .output()
        .expect("pdftoppm (Debian poppler-utils)");
    assert!(output.status.success());
    // A binary PGM: "P5\n<w> <h>\n255\n" then w × h bytes.
    let data = output.stdout;
    let mut fields = Vec::new();
    let mut at = 0;
    while fields.len() < 4 {
        while data[at].is_ascii_whitespace() {
            at += 1;
        }
        let start = at;
        while !data[at].is_ascii_whitespace() {
            at += 1;
        }
        fields.push(String::from_utf8_lossy(&data[start..at]).into_owned());
    }
    let (w, h): (usize, usize) = (fields[1].parse().unwrap(), fields[2].parse().unwrap());
    let pixels = &data[at + 1..];
    pixels[w * h / 5..w * h]
        .iter()
        .filter(|p| **p < 128)
        .count()
}

/// An ARGO web API stand-in: daily endpoint A/R results of report `Critical`
/// for key `k3y`, numbers as strings, −1 where undefined.
async fn argo_stand_in() -> String {
    use axum::extract::{Path, Query};
    use axum::http::HeaderMap;
    use axum::routing::get;
    async fn results(
        Path(report): Path<String>,
        Query(query): Query<std::collections::HashMap<String, String>>,
        headers: HeaderMap,
    ) -> (StatusCode, axum::Json<Value>) {
        if headers.get("x-api-key").and_then(|v| v.to_str().ok()) != Some("k3y") {
            return (
                StatusCode::UNAUTHORIZED,
                axum::Json(json!({"status": {"message": "Unauthorized", "code": "401"}})),
            );
        }
        assert_eq!(report, "Critical");
        assert_eq!(query["granularity"], "daily");
        assert_eq!(query["start_time"], "2027-03-01T00:00:00Z");
        let day = |d: &str, a: &str, r: &str, u: &str| json!({"timestamp": d, "availability": a, "reliability": r, "unknown": u, "uptime": "0", "downtime": "0"});
        (
            StatusCode::OK,
            axum::Json(json!({"results": [
                {"name": "se01.example.org", "service": "webdav", "supergroup": "CESNET-MCC", "type": "endpoint",
                 "results": [day("2027-03-01", "100", "100", "0"), day("2027-03-02", "75.5", "80", "0.1"), day("2027-03-03", "-1", "-1", "1")]},
                {"name": "se02.example.org", "service": "webdav", "supergroup": "CESNET-MCC", "type": "endpoint",
                 "results": [day("2027-03-01", "50", "50", "0")]}
            ]})),
        )
    }
    let router = axum::Router::new().route("/api/v2/results/{report}/endpoints", get(results));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    address
}

// The command line runs as a blocking child process: the stand-in answers
// from another worker thread meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn argos_daily_figures_are_pulled_by_the_command_line_and_count_as_the_days() {
    let dir = tempfile::TempDir::new().unwrap();
    let clock = Arc::new(ManualClock::starting_at(
        "2026-12-07T09:00:00Z".parse().unwrap(),
    ));
    let app = spawn_app_at_with(
        dir.path(),
        Options {
            clock: pactum::startup::ClockConfig::Manual(clock),
            ..Options::default()
        },
    )
    .await;
    let cast = cast(&app).await;
    let (_, order) = active_order(&app, &cast).await;
    let sla = order["agreements"][0]["agreement_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, body) = send(
        app.client
            .put(app.url(&format!("/v1/agreements/{sla}/monitoring")))
            .bearer_auth(&cast.sam)
            .json(&json!({"endpoints": ["webdav@se01.example.org"]})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let argo = argo_stand_in().await;
    let pull = |key: &str| {
        pactum(
            &[
                "monitoring",
                "pull",
                "--argo-url",
                &argo,
                "--report",
                "Critical",
                "--api-key",
                key,
                "--from",
                "2027-03-01",
                "--to",
                "2027-03-03",
            ],
            dir.path(),
        )
    };
    let refused = pull("wrong");
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("401"),
        "{refused:?}"
    );
    let pulled = pull("k3y");
    assert!(pulled.status.success(), "{pulled:?}");
    let out = String::from_utf8_lossy(&pulled.stdout);
    assert!(
        out.contains("pulled 4 daily figures") && out.contains("4 new day(s)"),
        "{out}"
    );
    // Again: nothing new.
    let again = pull("k3y");
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("0 new day(s)"),
        "{again:?}"
    );

    let (status, view) = app
        .get_json(
            &format!("/v1/agreements/{sla}/compliance?from=2027-03-01&to=2027-03-04"),
            &cast.alice,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{view}");
    let days = view["days"].as_array().unwrap();
    assert_eq!(days[0]["availability"], 100.0);
    assert_eq!(days[0]["source"], "imported");
    assert_eq!(days[1]["availability"], 75.5);
    assert_eq!(days[1]["unknown_pct"], 10.0);
    assert_eq!(days[2]["availability"], Value::Null);
    assert_eq!(days[3]["source"], "none");
}

// The command line runs as a blocking child process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_figures_are_the_same_from_the_restored_log() {
    let temp = tempfile::TempDir::new().unwrap();
    let (original, restored) = (temp.path().join("original"), temp.path().join("restored"));
    let clock = Arc::new(ManualClock::starting_at(
        "2026-12-07T09:00:00Z".parse().unwrap(),
    ));
    let app = spawn_app_at_with(
        &original,
        Options {
            clock: pactum::startup::ClockConfig::Manual(clock.clone()),
            ..Options::default()
        },
    )
    .await;
    let cast = cast(&app).await;
    let (_, order) = active_order(&app, &cast).await;
    let sla = order["agreements"][0]["agreement_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, body) = send(
        app.client
            .put(app.url(&format!("/v1/agreements/{sla}/monitoring")))
            .bearer_auth(&cast.sam)
            .json(&json!({"endpoints": ["cloud.acme.test"], "time_zone": "Europe/Amsterdam"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    clock.set("2027-03-31T21:58:00Z".parse().unwrap()).unwrap();
    let probe = app.role("argo-probe", "monitoring").await;
    let all = results(
        local("2027-03-01", "00:00"),
        local("2027-04-01", "00:00"),
        march,
    );
    for chunk in all.chunks(4000) {
        let (status, body) = app
            .post_json(
                "/v1/monitoring/status",
                &probe,
                &json!({"endpoint": "cloud.acme.test", "results": chunk}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    clock.set("2027-04-01T08:00:00Z".parse().unwrap()).unwrap();
    let path = format!("/v1/agreements/{sla}/compliance?from=2027-03-01&to=2027-03-31");
    let (_, view) = app.get_json(&path, &cast.alice).await;
    let report_path = "/v1/reports/compliance?period=2027-03";
    let (_, report) = app.get_json(report_path, &cast.alice).await;
    assert_eq!(
        report["agreements"][0]["months"][0]["availability"],
        99.18699
    );
    app.stop().await;

    let export = pactum(&["export"], &original);
    assert!(export.status.success());
    let file = temp.path().join("log.jsonl");
    std::fs::write(&file, &export.stdout).unwrap();
    let import = pactum(&["import", file.to_str().unwrap()], &restored);
    assert!(import.status.success(), "{import:?}");
    let server = serve(&restored).await;
    let (status, again) = server.get_json(&path, &cast.alice).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again, view, "the same days and months");
    let (_, report_again) = server.get_json(report_path, &cast.alice).await;
    assert_eq!(
        report_again, report,
        "the same report, bound agreements included"
    );
}
