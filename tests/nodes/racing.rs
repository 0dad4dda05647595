//! Two `pactum serve` processes on one PostgreSQL database, behind no balancer at
//! all: the same command sent to both at once commits on exactly one.

use std::collections::HashMap;

use pactum_testkit::Postgres;
use reqwest::StatusCode;
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn the_same_command_sent_to_two_nodes_at_once_has_exactly_one_winner() {
    let postgres = Postgres::shared();
    let database = postgres.database();
    pactum_ok(&["migrate", "--database-url", &database.url]);
    let alice = customer(&database.url, "alice");
    let sam = shifter(&database.url, "sam");
    let nodes = [
        start_node(&database.url, &[]).await,
        start_node(&database.url, &[]).await,
    ];

    const ORDERS: usize = 12;
    let mut orders = Vec::new();
    for n in 0..ORDERS {
        let node = &nodes[n % 2];
        let id = node.submit(&alice).await;
        let (status, body) = nodes[(n + 1) % 2]
            .post_json(
                &format!("/v1/orders/{id}/assign"),
                &sam,
                &json!({"assignee": "sam"}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "assigned on the other node: {body}");
        orders.push(id);
    }

    // Each order approved on both nodes at the same moment.
    for id in &orders {
        let path = format!("/v1/orders/{id}/approve");
        let body = json!({"note": "go"});
        let (a, b) = tokio::join!(
            nodes[0].post_json(&path, &sam, &body),
            nodes[1].post_json(&path, &sam, &body)
        );
        let mut statuses = [a.0, b.0];
        statuses.sort();
        assert_eq!(
            statuses,
            [StatusCode::OK, StatusCode::CONFLICT],
            "one winner, one refusal: {} / {}",
            a.1,
            b.1
        );
    }

    // The log: one approval per order, positions 1, 2, 3… and intact chains.
    let events = export(&database.url);
    let positions: Vec<u64> = events
        .iter()
        .map(|e| e["position"].as_u64().unwrap())
        .collect();
    assert_eq!(positions, (1..=events.len() as u64).collect::<Vec<_>>());
    let mut approvals: HashMap<&str, usize> = HashMap::new();
    for event in &events {
        if event["event_type"] == "OrderApproved" {
            *approvals
                .entry(event["aggregate_id"].as_str().unwrap())
                .or_default() += 1;
        }
    }
    for id in &orders {
        assert_eq!(approvals.get(id.as_str()), Some(&1), "{id} approved once");
    }
    let report = pactum_ok(&["verify", "--database-url", &database.url]);
    assert!(report.contains("intact"), "{report}");

    // Both nodes serve the same read models from PostgreSQL, up to the last event.
    let head = positions.last().unwrap();
    for node in &nodes {
        let (status, page) = node
            .get_json(
                &format!("/v1/orders?status=approved&min_position={head}&limit=100"),
                &sam,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert_eq!(page["orders"].as_array().unwrap().len(), ORDERS, "{page}");
    }
}

/// Each node keeps hot orders in memory; one that another node has since changed
/// must not make a later command fail: the node finds the other's append, and
/// decides the command again on the order read from the log.
#[tokio::test]
async fn a_node_acts_on_what_another_node_just_did() {
    let postgres = Postgres::shared();
    let database = postgres.database();
    pactum_ok(&["migrate", "--database-url", &database.url]);
    let alice = customer(&database.url, "alice");
    let sam = shifter(&database.url, "sam");
    let nodes = [
        start_node(&database.url, &[]).await,
        start_node(&database.url, &[]).await,
    ];

    for _ in 0..5 {
        // Node 0 submits and comments: it holds the order in memory.
        let id = nodes[0].submit(&alice).await;
        let comments = format!("/v1/orders/{id}/comments");
        let (status, body) = nodes[0]
            .post_json(&comments, &sam, &json!({"body": "looking"}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        // Node 1 assigns it: node 0's copy is now behind the log.
        let (status, body) = nodes[1]
            .post_json(
                &format!("/v1/orders/{id}/assign"),
                &sam,
                &json!({"assignee": "sam"}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["version"], 3, "{body}");
        // Node 0 approves what the client just saw at version 3.
        let response = nodes[0]
            .client
            .post(nodes[0].url(&format!("/v1/orders/{id}/approve")))
            .bearer_auth(&sam)
            .header("if-match", "\"3\"")
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        let status = response.status();
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["version"], 4, "{body}");
        assert_eq!(body["status"], "approved", "{body}");
    }
    let report = pactum_ok(&["verify", "--database-url", &database.url]);
    assert!(report.contains("intact"), "{report}");
}
