//! The cost guard's scenario (issue 18): a fixed amount of pactum's work, run
//! in-process, whose instruction count `scripts/guard` measures under
//! callgrind and holds against `benches/guard.baseline`. Instruction counts
//! repeat on a noisy, shared machine where times do not.
//!
//! The scenario, one request at a time so that batches and their order repeat:
//! `pactum serve` in this process (embedded SQLite store, full durability, a
//! manual clock so no timer fires) with every feature that costs per command
//! on: handling targets defined for the group (each order's clocks are
//! computed), customers and shifters with e-mail addresses (mail is queued and
//! delivered as `.eml` files), every projection running, an agreement bound to
//! monitoring. Then `--orders N` (default 200) orders each go submit → assign
//! → public comment → approve, with one queue read each, over HTTP on
//! loopback; and the read models are awaited.
//!
//! Run on its own: `cargo bench --bench guard -- --orders 50` (prints what it
//! did and how long it took; the time is not the guard's business).

mod common;

use std::sync::Arc;
use std::time::Instant;

use common::{arg, order};
use jiff::Timestamp;
use pactum::clock::ManualClock;
use pactum::notify::deliver::MailConfig;
use pactum::startup::ClockConfig;
use pactum_testkit::harness::{Options, spawn};
use pactum_testkit::principals;
use reqwest::StatusCode;
use serde_json::json;

fn main() {
    let orders: usize = arg("--orders").and_then(|n| n.parse().ok()).unwrap_or(200);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(scenario(orders));
}

async fn scenario(orders: usize) {
    let dir = tempfile::TempDir::new().expect("a temporary directory");
    let clock = Arc::new(ManualClock::starting_at(
        "2026-12-07T09:00:00Z".parse::<Timestamp>().unwrap(),
    ));
    let app = spawn(
        pactum::store::StorageLocation::DataDir(dir.path().join("data")),
        Options {
            clock: ClockConfig::Manual(clock),
            mail: Some(
                MailConfig::new(None, dir.path().join("mail"), "pactum@localhost")
                    .expect("a mail directory"),
            ),
            ..Options::default()
        },
    )
    .await;
    let with_mail = |mut request: pactum::access::tokens::TokenRequest, address: &str| {
        request.email = Some(address.to_owned());
        request
    };
    let alice = app
        .token(with_mail(
            principals::customer("alice", "acme"),
            "alice@acme.example",
        ))
        .await;
    let sam = app
        .token(with_mail(
            principals::shifter("sam", &["compute"]),
            "sam@egi.example",
        ))
        .await;
    let admin = app.role("ada", "admin").await;
    let ok = |(status, body): (StatusCode, serde_json::Value)| {
        assert!(status.is_success(), "{status}: {body}");
        body
    };
    let day = json!(["09:00-12:00", "13:00-18:00"]);
    ok(send(
        app.client
            .put(app.url("/v1/handling-targets/compute"))
            .bearer_auth(&admin)
            .json(&json!({
                "first_response": "PT4H",
                "decision": "PT8H",
                "calendar": {"time_zone": "Europe/Paris", "hours": {
                    "monday": day, "tuesday": day, "wednesday": day, "thursday": day, "friday": day}}
            })),
    )
    .await);

    let started = Instant::now();
    for i in 0..orders {
        let body = ok(app.post_json("/v1/orders", &alice, &order()).await);
        let id = body["id"].as_str().expect("an order id").to_owned();
        ok(app
            .command(&id, "assign", &sam, json!({"assignee": "sam"}))
            .await);
        ok(app
            .command(
                &id,
                "comments",
                &sam,
                json!({"body": format!("Looking at it ({i})"), "visibility": "public"}),
            )
            .await);
        ok(app.command(&id, "approve", &sam, json!({})).await);
        // Read at the head: the projections' batches repeat run to run.
        ok(app.queue(&sam, "status=approved&limit=20").await);
    }
    // One order activated and its SLA bound to monitoring, with results in.
    let body = ok(app.post_json("/v1/orders", &alice, &order()).await);
    let id = body["id"].as_str().expect("an order id").to_owned();
    ok(app.command(&id, "approve", &sam, json!({})).await);
    let activated = ok(app.command(&id, "activate", &sam, json!({})).await);
    let sla = activated["agreements"][0]["agreement_id"]
        .as_str()
        .expect("an SLA")
        .to_owned();
    ok(send(
        app.client
            .put(app.url(&format!("/v1/agreements/{sla}/monitoring")))
            .bearer_auth(&sam)
            .json(&json!({"endpoints": ["cloud.acme.test"]})),
    )
    .await);
    // The queue caught up with the log (`queue` reads at the head).
    ok(app.queue(&sam, "limit=1").await);
    eprintln!(
        "guard scenario: {orders} orders × 4 commands + 1 queue read, {} events, {:.2?}",
        app.head(),
        started.elapsed()
    );
    app.stop().await;
}

async fn send(request: reqwest::RequestBuilder) -> (StatusCode, serde_json::Value) {
    pactum_testkit::http::send(request).await
}
