//! Live read models equal replayed ones, whatever commands ran.

use std::sync::Arc;
use std::time::Duration;

use pactum::projector::{self, ProjectorError};
use pactum_projections::order_queue::OrderQueue;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

#[derive(Clone, Debug)]
enum Op {
    Submit {
        customer: usize,
    },
    Assign {
        order: usize,
        to: usize,
    },
    Comment {
        order: usize,
        by_shifter: bool,
        internal: bool,
    },
    Ask {
        order: usize,
    },
    Answer {
        order: usize,
    },
    Approve {
        order: usize,
    },
    Reject {
        order: usize,
    },
    Cancel {
        order: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..2usize).prop_map(|customer| Op::Submit { customer }),
        2 => (0..8usize, 0..2usize).prop_map(|(order, to)| Op::Assign { order, to }),
        2 => (0..8usize, any::<bool>(), any::<bool>())
            .prop_map(|(order, by_shifter, internal)| Op::Comment { order, by_shifter, internal }),
        1 => (0..8usize).prop_map(|order| Op::Ask { order }),
        1 => (0..8usize).prop_map(|order| Op::Answer { order }),
        1 => (0..8usize).prop_map(|order| Op::Approve { order }),
        1 => (0..8usize).prop_map(|order| Op::Reject { order }),
        1 => (0..8usize).prop_map(|order| Op::Cancel { order }),
    ]
}

async fn check(ops: Vec<Op>) {
    let app = spawn_app().await;
    let customers = [
        app.customer("alice", "acme").await,
        app.customer("gina", "globex").await,
    ];
    let shifters = ["sam", "tess"];
    let tokens = [
        app.shifter("sam", &["compute"]).await,
        app.shifter("tess", &["compute"]).await,
    ];
    let mut orders: Vec<(String, usize)> = Vec::new();
    for op in ops {
        let pick = |n: usize| (!orders.is_empty()).then(|| orders[n % orders.len()].clone());
        // Refused commands (409, 403...) are part of the game: they append nothing.
        match op {
            Op::Submit { customer } => {
                let id = app.submit(&customers[customer]).await;
                orders.push((id, customer));
            }
            Op::Assign { order, to } => {
                if let Some((id, _)) = pick(order) {
                    app.command(&id, "assign", &tokens[0], json!({"assignee": shifters[to]}))
                        .await;
                }
            }
            Op::Comment {
                order,
                by_shifter,
                internal,
            } => {
                if let Some((id, customer)) = pick(order) {
                    let token = if by_shifter {
                        &tokens[1]
                    } else {
                        &customers[customer]
                    };
                    let visibility = if internal { "internal" } else { "public" };
                    app.command(
                        &id,
                        "comments",
                        token,
                        json!({"body": "x", "visibility": visibility}),
                    )
                    .await;
                }
            }
            Op::Ask { order } => {
                if let Some((id, _)) = pick(order) {
                    app.command(&id, "questions", &tokens[0], json!({"body": "?"}))
                        .await;
                }
            }
            Op::Answer { order } => {
                if let Some((id, customer)) = pick(order) {
                    app.command(&id, "answers", &customers[customer], json!({"body": "!"}))
                        .await;
                }
            }
            Op::Approve { order } => {
                if let Some((id, _)) = pick(order) {
                    app.command(&id, "approve", &tokens[1], json!({})).await;
                }
            }
            Op::Reject { order } => {
                if let Some((id, _)) = pick(order) {
                    app.command(&id, "reject", &tokens[0], json!({"reason": "no"}))
                        .await;
                }
            }
            Op::Cancel { order } => {
                if let Some((id, customer)) = pick(order) {
                    app.command(&id, "cancel", &customers[customer], json!({}))
                        .await;
                }
            }
        }
    }

    let handle = &app.app.projections.order_queue;
    handle
        .wait_for(app.head(), Duration::from_secs(10))
        .await
        .expect("the live queue catches up");
    let live = projector::dump(&app.app.store, OrderQueue::NAME)
        .await
        .unwrap();
    assert_eq!(live.len(), orders.len());

    // Each queue row agrees with the order's own view, folded from its events.
    let audrey = app.role("audrey", "auditor").await;
    let (_, page) = app.queue(&audrey, "limit=500").await;
    for row in page["orders"].as_array().unwrap() {
        let (status, view) = app
            .get_json(
                &format!("/v1/orders/{}", row["id"].as_str().unwrap()),
                &audrey,
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        for field in [
            "status",
            "assignee",
            "version",
            "created_at",
            "service",
            "customer",
        ] {
            assert_eq!(row[field], view[field], "{field} of {}", row["id"]);
        }
        assert_eq!(row["last_activity_at"], view["updated_at"]);
    }

    projector::rebuild(
        Arc::new(OrderQueue),
        &app.app.store,
        &*app.app.clock,
        &|_| {},
    )
    .await
    .unwrap();
    let replayed = projector::dump(&app.app.store, OrderQueue::NAME)
        .await
        .unwrap();
    assert_eq!(
        replayed, live,
        "replay gives the same read model as live updates"
    );

    // Every read model rebuilt together from one reading of the log, in chunks
    // of 3 events: an order's events fall in several chunks, each folded while
    // the one before is being written.
    let all = projector::all();
    let mut live = Vec::new();
    for projection in &all {
        live.push(caught_up(&app, projection.name()).await);
    }
    let rebuilt =
        projector::rebuild_all_in_chunks(&all, &app.app.store, &*app.app.clock, &|_, _| {}, 3)
            .await;
    for ((projection, result), live) in all.iter().zip(rebuilt).zip(live) {
        let name = projection.name();
        let rebuilt = result.unwrap_or_else(|e| panic!("rebuilding {name}: {e}"));
        assert!(
            rebuilt.generation.checkpoint >= app.head(),
            "{name} caught up"
        );
        let replayed = projector::dump(&app.app.store, name).await.unwrap();
        assert_eq!(
            replayed, live,
            "{name} rebuilt with the others, in chunks of 3"
        );
    }
    app.stop().await;
}

/// The rows of read model `name` once it has applied the whole log.
async fn caught_up(app: &TestApp, name: &str) -> Vec<String> {
    let handle = app.app.projections.handle(name).unwrap();
    handle
        .wait_for(app.head(), Duration::from_secs(10))
        .await
        .expect("the live read model catches up");
    projector::dump(&app.app.store, name).await.unwrap()
}

#[test]
fn random_command_sequences_give_the_same_queue_live_and_after_replay() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut runner = TestRunner::new(Config {
        cases: 12,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&proptest::collection::vec(op(), 1..40), |ops| {
            runtime.block_on(check(ops));
            Ok(())
        })
        .unwrap();
}

/// An event that cannot be decoded fails the rebuilds of the read models that
/// read it, naming its position, and only those: the others are rebuilt and go
/// live, and the failed ones keep serving their previous generation unchanged.
#[tokio::test]
async fn an_undecodable_event_fails_only_the_rebuilds_that_read_it() {
    let app = spawn_app().await;
    let customer = app.customer("alice", "acme").await;
    let shifter = app.shifter("sam", &["compute"]).await;
    let mut orders = Vec::new();
    for _ in 0..4 {
        orders.push(app.submit(&customer).await);
    }
    for id in &orders {
        app.command(id, "assign", &shifter, json!({"assignee": "sam"}))
            .await;
    }
    let all = projector::all();
    let mut before = Vec::new();
    for projection in &all {
        let rows = caught_up(&app, projection.name()).await;
        let live = projector::registry::live(app.app.store.reader(), projection.name())
            .await
            .unwrap()
            .expect("a live generation");
        before.push((live.generation, rows));
    }

    // The third order's assignment, rewritten behind the store's back into
    // something no order event decodes from.
    let store = &app.app.store;
    let positions: Vec<i64> = sqlx::query_scalar(
        "SELECT position FROM events WHERE event_type = 'OrderAssigned' ORDER BY position",
    )
    .fetch_all(store.reader())
    .await
    .unwrap();
    let broken = positions[2];
    store
        .write(move |conn| {
            Box::pin(async move {
                sqlx::query("UPDATE events SET payload = $1 WHERE position = $2")
                    .bind(r#"{"assignee":17}"#)
                    .bind(broken)
                    .execute(conn)
                    .await
            })
        })
        .await
        .unwrap()
        .unwrap();

    // Chunks of 3: the failure comes after chunks already written.
    let rebuilt =
        projector::rebuild_all_in_chunks(&all, store, &*app.app.clock, &|_, _| {}, 3).await;
    for ((projection, result), (generation, rows)) in all.iter().zip(rebuilt).zip(before) {
        let name = projection.name();
        let live = projector::registry::live(store.reader(), name)
            .await
            .unwrap()
            .expect("a live generation");
        // Of the read models, only the queue reads assignments.
        let reads_it = name == OrderQueue::NAME;
        match result {
            Err(ProjectorError::Apply { position, .. }) if reads_it => {
                assert_eq!(position, broken as u64, "{name} names the event");
                assert_eq!(live.generation, generation, "{name} keeps its generation");
                let now = projector::dump(store, name).await.unwrap();
                assert_eq!(now, rows, "{name} serves what it served");
            }
            Ok(done) if !reads_it => {
                assert_eq!(
                    live.generation, done.generation.generation,
                    "{name} went live"
                );
                assert_ne!(live.generation, generation, "{name} is a new generation");
            }
            other => panic!("{name}: unexpected outcome {other:?}"),
        }
    }
    app.stop().await;
}
