//! The log as a whole: `pactum verify` against a store tampered with behind
//! pactum's back (a separate SQLite connection), and `pactum export | import`
//! round trips and refusals, through the real binary and the library.

use std::path::Path;
use std::process::{Output, Stdio};
use std::sync::Arc;

use pactum::access::queries::TokenTable;
use pactum::store::verify::{self, EventRef, Finding, Problem, VerifyReport};
use pactum::store::{DbConnection, EventStore};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::Connection;
use tempfile::TempDir;

use crate::helpers::*;

/// A small store: two tokens, three orders, two assigned, one approved. The
/// order events interleave, so order 0's sequence 2 is neither its aggregate's
/// last event nor the log's.
struct Built {
    alice: String,
    sam: String,
    orders: Vec<String>,
    /// Order 0 as alice sees it.
    view: Value,
}

async fn build_store(dir: &Path) -> Built {
    let app = spawn_app_at(dir).await;
    let alice = app.customer("alice", "acme").await;
    let sam = app.shifter("sam", &["compute"]).await;
    // A shifter with an address: each new order queues a mail for her.
    app.token(pactum::access::tokens::TokenRequest {
        subject: "tess".into(),
        role: "shifter".into(),
        groups: vec!["compute".into()],
        email: Some("tess@egi.example".into()),
        ..Default::default()
    })
    .await;
    let mut orders = Vec::new();
    for _ in 0..3 {
        orders.push(app.submit(&alice).await);
    }
    for id in &orders[..2] {
        let (status, body) = app
            .command(id, "assign", &sam, json!({"assignee": "sam"}))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (status, body) = app
        .command(&orders[0], "approve", &sam, json!({"note": "Enjoy"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, view) = app
        .get_json(&format!("/v1/orders/{}", orders[0]), &alice)
        .await;
    assert_eq!(status, StatusCode::OK);
    // Let the read models reflect everything before stopping, so that dumps of
    // this store are complete.
    app.app
        .projections
        .order_queue
        .wait_for(app.head(), std::time::Duration::from_secs(10))
        .await
        .expect("the queue catches up");
    app.stop().await;
    Built {
        alice,
        sam,
        orders,
        view,
    }
}

/// A connection to the store's file that bypasses pactum altogether.
async fn connect(dir: &Path) -> DbConnection {
    crate::backend::raw_connection(dir).await
}

async fn tamper(dir: &Path, statements: &[String]) {
    let mut conn = connect(dir).await;
    for statement in statements {
        sqlx::query(statement)
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("{statement}: {e}"));
    }
    conn.close().await.unwrap();
}

async fn position_of(dir: &Path, order: &str, sequence: u64) -> u64 {
    let mut conn = connect(dir).await;
    let position: i64 = sqlx::query_scalar(
        "SELECT position FROM events WHERE aggregate_type = 'order' AND aggregate_id = $1 \
         AND sequence = $2",
    )
    .bind(order)
    .bind(sequence as i64)
    .fetch_one(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();
    position as u64
}

/// Events and token rows in the store at `dir` (0 if it has no file).
async fn rows_in(dir: &Path) -> (i64, i64) {
    if !crate::backend::store_exists(dir) {
        return (0, 0);
    }
    let mut conn = connect(dir).await;
    let events = sqlx::query_scalar("SELECT COUNT(*) FROM events")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    let tokens = sqlx::query_scalar("SELECT COUNT(*) FROM access_tokens")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    (events, tokens)
}

async fn verify_at(dir: &Path) -> VerifyReport {
    let store = EventStore::open(&crate::backend::storage(dir), vec![Arc::new(TokenTable)])
        .await
        .unwrap();
    let report = verify::verify(&store).await.unwrap();
    store.close().await;
    report
}

fn in_order(order: &str, sequence: u64) -> Option<EventRef> {
    Some(EventRef {
        aggregate_type: "order".into(),
        aggregate_id: order.into(),
        sequence,
    })
}

#[tokio::test]
async fn an_intact_store_verifies() {
    let dir = TempDir::new().unwrap();
    build_store(dir.path()).await;
    let (events, _) = rows_in(dir.path()).await;

    let output = pactum(&["verify"], dir.path());
    assert!(output.status.success(), "{}", stderr(&output));
    let report = verify_at(dir.path()).await;
    assert!(report.is_intact(), "{report:?}");
    assert_eq!(report.events, events as u64);
    assert_eq!(
        stdout(&output).trim(),
        format!(
            "verified {events} events in {} aggregates: every chain intact, \
             0 documents render to their recorded hashes",
            report.aggregates
        )
    );
}

#[tokio::test]
async fn a_changed_payload_fails_verify_naming_that_event() {
    let dir = TempDir::new().unwrap();
    let built = build_store(dir.path()).await;
    let order = &built.orders[0];
    let assigned = position_of(dir.path(), order, 2).await;
    tamper(
        dir.path(),
        &[format!(
            "UPDATE events SET payload = \
             replace(payload, '\"assignee\":\"', '\"assignee\":\"mallory-') \
             WHERE position = {assigned}"
        )],
    )
    .await;

    let output = pactum(&["verify"], dir.path());
    assert_eq!(output.status.code(), Some(1));
    assert!(stdout(&output).is_empty());
    let errors = stderr(&output);
    assert_eq!(
        errors.lines().next().unwrap(),
        format!(
            "first problem: position {assigned} (order {order} sequence 2): \
             hash does not match its contents or its predecessor"
        ),
        "{errors}"
    );
    assert!(errors.contains("does not verify: 1 problem(s)"), "{errors}");

    // The next event of the chain links to the stored hash, which is unchanged:
    // only the changed event is reported.
    let report = verify_at(dir.path()).await;
    assert_eq!(
        report.findings,
        [Finding {
            position: assigned,
            event: in_order(order, 2),
            problem: Problem::HashMismatch,
        }]
    );
}

#[tokio::test]
async fn a_deleted_event_is_named_by_its_missing_position() {
    let dir = TempDir::new().unwrap();
    let built = build_store(dir.path()).await;
    let order = &built.orders[0];
    let assigned = position_of(dir.path(), order, 2).await;
    let approved = position_of(dir.path(), order, 3).await;
    tamper(
        dir.path(),
        &[format!("DELETE FROM events WHERE position = {assigned}")],
    )
    .await;

    let report = verify_at(dir.path()).await;
    assert!(!report.is_intact());
    assert_eq!(
        report.findings,
        [
            Finding {
                position: assigned,
                event: None,
                problem: Problem::MissingPosition { count: 1 },
            },
            Finding {
                position: approved,
                event: in_order(order, 3),
                problem: Problem::MissingSequence { expected: 2 },
            },
        ]
    );

    let output = pactum(&["verify"], dir.path());
    assert_eq!(output.status.code(), Some(1));
    let errors = stderr(&output);
    assert!(
        errors.starts_with(&format!("first problem: position {assigned}: missing")),
        "{errors}"
    );
    assert!(
        errors.contains(&format!(
            "also broken: position {approved} (order {order} sequence 3): sequence 2 is missing"
        )),
        "{errors}"
    );
}

#[tokio::test]
async fn swapped_sequences_fail_verify_at_the_first_of_the_two() {
    let dir = TempDir::new().unwrap();
    let built = build_store(dir.path()).await;
    let order = &built.orders[0];
    let second = position_of(dir.path(), order, 2).await;
    let third = position_of(dir.path(), order, 3).await;
    // Through a spare value: (aggregate, sequence) is unique.
    tamper(
        dir.path(),
        &[
            format!("UPDATE events SET sequence = 1000 WHERE position = {second}"),
            format!("UPDATE events SET sequence = 2 WHERE position = {third}"),
            format!("UPDATE events SET sequence = 3 WHERE position = {second}"),
        ],
    )
    .await;

    let report = verify_at(dir.path()).await;
    assert_eq!(report.total_findings, 1, "{report:?}");
    assert_eq!(
        report.first(),
        Some(&Finding {
            position: second,
            event: in_order(order, 3),
            problem: Problem::HashMismatch,
        })
    );
}

#[tokio::test]
async fn swapped_positions_fail_verify() {
    let dir = TempDir::new().unwrap();
    let built = build_store(dir.path()).await;
    let order = &built.orders[0];
    let second = position_of(dir.path(), order, 2).await;
    let third = position_of(dir.path(), order, 3).await;
    tamper(
        dir.path(),
        &[
            format!("UPDATE events SET position = 1000000 WHERE position = {second}"),
            format!("UPDATE events SET position = {second} WHERE position = {third}"),
            format!("UPDATE events SET position = {third} WHERE position = 1000000"),
        ],
    )
    .await;

    // The hashes do not cover positions; the chain's order does.
    let report = verify_at(dir.path()).await;
    assert_eq!(
        report.findings,
        [Finding {
            position: second,
            event: in_order(order, 3),
            problem: Problem::OutOfOrder {
                predecessor_position: third
            },
        }]
    );
    let output = pactum(&["verify"], dir.path());
    assert_eq!(output.status.code(), Some(1));
}

#[tokio::test]
async fn every_broken_aggregate_is_listed_earliest_first() {
    let dir = TempDir::new().unwrap();
    let built = build_store(dir.path()).await;
    let o = &built.orders;
    let mut targets = [
        (position_of(dir.path(), &o[2], 1).await, &o[2], 1),
        (position_of(dir.path(), &o[0], 3).await, &o[0], 3),
        (position_of(dir.path(), &o[1], 2).await, &o[1], 2),
    ];
    let statements: Vec<String> = targets
        .iter()
        .map(|(position, _, _)| {
            format!(
                "UPDATE events SET payload = '{{\"forged\":1,' || substr(payload, 2) \
                 WHERE position = {position}"
            )
        })
        .collect();
    tamper(dir.path(), &statements).await;

    targets.sort();
    let report = verify_at(dir.path()).await;
    let expected: Vec<Finding> = targets
        .iter()
        .map(|(position, order, sequence)| Finding {
            position: *position,
            event: in_order(order, *sequence),
            problem: Problem::HashMismatch,
        })
        .collect();
    assert_eq!(report.findings, expected);
    assert_eq!(report.total_findings, 3);
}

fn export(dir: &Path) -> Vec<u8> {
    let output = pactum(&["export"], dir);
    assert!(output.status.success(), "{}", stderr(&output));
    output.stdout
}

fn import(file: &Path, dir: &Path) -> Output {
    pactum(&["import", file.to_str().unwrap()], dir)
}

#[tokio::test]
async fn export_then_import_restores_the_log_exactly() {
    let temp = TempDir::new().unwrap();
    let (original, restored, piped) = (
        temp.path().join("original"),
        temp.path().join("restored"),
        temp.path().join("piped"),
    );
    let built = build_store(&original).await;
    let exported = export(&original);
    let text = String::from_utf8(exported.clone()).unwrap();
    let lines = text.lines().count();
    let (events, tokens) = rows_in(&original).await;
    assert_eq!(lines as i64, events);
    let first: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(first["position"], 1);

    let file = temp.path().join("log.jsonl");
    std::fs::write(&file, &exported).unwrap();
    let output = import(&file, &restored);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stderr(&output).contains(&format!("imported {events} events")),
        "{}",
        stderr(&output)
    );
    assert_eq!(export(&restored), exported, "the restored log is the same");
    assert_eq!(rows_in(&restored).await, (events, tokens));
    // Restoring history is not news: the original queued mail, the import none.
    let mails = async |dir: &Path| -> i64 {
        sqlx::query_scalar("SELECT COUNT(*) FROM outbox")
            .fetch_one(&mut connect(dir).await)
            .await
            .unwrap()
    };
    assert_eq!(mails(&original).await, 3);
    assert_eq!(mails(&restored).await, 0);
    let output = pactum(&["verify"], &restored);
    assert!(output.status.success(), "{}", stderr(&output));

    // The read models were built from the imported log: byte-identical dumps.
    let dump = |dir: &Path| stdout(&pactum(&["projections", "dump", "order_queue"], dir));
    let original_queue = dump(&original);
    assert_eq!(original_queue.lines().count(), 3);
    assert_eq!(dump(&restored), original_queue, "identical read models");

    // Standard input works the same (spooled for the second pass).
    let output = binary()
        .command()
        .args(["import", "-"])
        .args(crate::backend::storage_args(&piped))
        .stdin(Stdio::from(std::fs::File::open(&file).unwrap()))
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(export(&piped), exported);

    // The token table was rebuilt: tokens minted in the original work here.
    let server = serve(&restored).await;
    assert_eq!(server.head().await, events as u64, "serve seeded nothing");
    let (status, view) = server
        .get_json(&format!("/v1/orders/{}", built.orders[0]), &built.alice)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(view, built.view);
    let (status, _) = server
        .get_json(&format!("/v1/orders/{}", built.orders[1]), &built.sam)
        .await;
    assert_eq!(status, StatusCode::OK);
}

/// Exports a freshly built store; returns the lines of the export.
async fn exported_lines(dir: &Path) -> Vec<String> {
    build_store(dir).await;
    String::from_utf8(export(dir))
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Imports `lines` into a fresh store; asserts the refusal names `needles` and
/// that the store is still empty.
async fn assert_import_refused(temp: &TempDir, lines: &[String], needles: &[&str]) {
    let file = temp.path().join("bad.jsonl");
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    let target = temp.path().join("target");
    let output = import(&file, &target);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let errors = stderr(&output);
    for needle in needles {
        assert!(errors.contains(needle), "{needle:?} in {errors}");
    }
    assert!(errors.contains("nothing was imported"), "{errors}");
    assert_eq!(rows_in(&target).await, (0, 0), "the target stays empty");
}

#[tokio::test]
async fn import_refuses_a_store_that_is_not_empty() {
    let temp = TempDir::new().unwrap();
    let source = temp.path().join("source");
    let lines = exported_lines(&source).await;
    let file = temp.path().join("log.jsonl");
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();

    let before = rows_in(&source).await;
    let output = import(&file, &source);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("already holds events"),
        "{}",
        stderr(&output)
    );
    assert_eq!(rows_in(&source).await, before);
}

#[tokio::test]
async fn import_refuses_a_changed_payload_naming_its_line() {
    let temp = TempDir::new().unwrap();
    let mut lines = exported_lines(&temp.path().join("source")).await;
    let index = lines.len() - 2;
    let mut event: Value = serde_json::from_str(&lines[index]).unwrap();
    event["payload"]["forged"] = json!(true);
    lines[index] = event.to_string();
    assert_import_refused(
        &temp,
        &lines,
        &[
            &format!("line {}: position {}", index + 1, index + 1),
            "hash does not match its contents or its predecessor",
        ],
    )
    .await;
}

#[tokio::test]
async fn import_refuses_a_gap_in_positions() {
    let temp = TempDir::new().unwrap();
    let mut lines = exported_lines(&temp.path().join("source")).await;
    lines.remove(4);
    assert_import_refused(&temp, &lines, &["line 5: position 6 where 5 was expected"]).await;
}

#[tokio::test]
async fn import_refuses_invalid_json_naming_its_line() {
    let temp = TempDir::new().unwrap();
    let mut lines = exported_lines(&temp.path().join("source")).await;
    lines[2] = r#"{"position": 3, "aggregate_type": "#.into();
    assert_import_refused(&temp, &lines, &["line 3: not a recorded event"]).await;
}

#[tokio::test]
async fn import_refuses_an_event_this_build_cannot_read_before_storing_any() {
    let temp = TempDir::new().unwrap();
    let mut lines = exported_lines(&temp.path().join("source")).await;
    // A token event with a consistent chain but a payload the token table
    // cannot fold: refused in the first pass, not halfway through the insert.
    let index = lines
        .iter()
        .position(|l| l.contains(r#""event_type":"TokenIssued""#))
        .unwrap();
    let mut event: pactum_events::RecordedEvent = serde_json::from_str(&lines[index]).unwrap();
    assert_eq!(event.sequence, 1);
    event.payload = json!({"nonsense": true});
    event.hash = pactum::store::recorded_hash("", &event);
    lines[index] = serde_json::to_string(&event).unwrap();
    assert_import_refused(
        &temp,
        &lines,
        &[&format!(
            "line {}: position {}: this build cannot read it",
            index + 1,
            index + 1
        )],
    )
    .await;
}
