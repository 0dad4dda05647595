//! What a node does when PostgreSQL goes away, and what a node killed mid-load
//! leaves behind.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use pactum_testkit::Postgres;
use reqwest::StatusCode;
use serde_json::json;
use tokio::sync::Mutex;

use crate::support::*;

#[tokio::test]
async fn with_postgresql_down_commands_fail_with_503_and_retry_after_then_work_again() {
    // A cluster of this test's own, to stop and start.
    let postgres = Arc::new(Postgres::start());
    let database = postgres.database();
    pactum_ok(&["migrate", "--database-url", &database.url]);
    let alice = customer(&database.url, "alice");
    let sam = shifter(&database.url, "sam");
    let node = start_node(&database.url, &[]).await;
    let id = node.submit(&alice).await;
    let before = export(&database.url).len();

    postgres.stop();
    let response = node
        .client
        .post(node.url(&format!("/v1/orders/{id}/assign")))
        .bearer_auth(&sam)
        .json(&json!({"assignee": "sam"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(response.headers().contains_key("retry-after"));
    let problem: serde_json::Value = response.json().await.unwrap();
    assert_eq!(problem["status"], 503, "{problem}");
    let (status, _) = node.post_json("/v1/orders", &alice, &cloud_order()).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let ready = node.client.get(node.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(ready.headers().contains_key("retry-after"));

    postgres.restart();
    assert_eq!(export(&database.url).len(), before, "nothing half-written");
    // The node reconnects by itself.
    let mut assigned = None;
    for _ in 0..100 {
        let (status, body) = node
            .post_json(
                &format!("/v1/orders/{id}/assign"),
                &sam,
                &json!({"assignee": "sam"}),
            )
            .await;
        if status == StatusCode::OK {
            assigned = Some(body);
            break;
        }
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(assigned.expect("commands work again")["assignee"], "sam");
    let ready = node.client.get(node.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
    assert_eq!(export(&database.url).len(), before + 1);
}

#[tokio::test]
async fn a_node_killed_mid_load_loses_no_acknowledged_command() {
    let postgres = Postgres::shared();
    let database = postgres.database();
    pactum_ok(&["migrate", "--database-url", &database.url]);
    let alice = customer(&database.url, "alice");
    let mut node = start_node(&database.url, &[]).await;
    let survivor = start_node(&database.url, &[]).await;

    // 16 clients submit orders as fast as they can, on the node about to die.
    let acknowledged = Arc::new(Mutex::new(Vec::new()));
    let clients: Vec<_> = (0..16)
        .map(|_| {
            let client = node.client.clone();
            let url = node.url("/v1/orders");
            let alice = alice.clone();
            let acknowledged = Arc::clone(&acknowledged);
            tokio::spawn(async move {
                loop {
                    let sent = client
                        .post(&url)
                        .bearer_auth(&alice)
                        .json(&cloud_order())
                        .send()
                        .await;
                    let Ok(response) = sent else { return };
                    if response.status() != StatusCode::CREATED {
                        return;
                    }
                    let Ok(body) = response.json::<serde_json::Value>().await else {
                        return;
                    };
                    acknowledged
                        .lock()
                        .await
                        .push(body["id"].as_str().unwrap().to_owned());
                }
            })
        })
        .collect();
    // Until a good number of commands is acknowledged, then SIGKILL.
    while acknowledged.lock().await.len() < 100 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    node.kill();
    for client in clients {
        client.await.unwrap();
    }

    let acknowledged = acknowledged.lock().await.clone();
    let stored: HashSet<String> = export(&database.url)
        .iter()
        .filter(|e| e["event_type"] == "OrderSubmitted")
        .map(|e| e["aggregate_id"].as_str().unwrap().to_owned())
        .collect();
    for id in &acknowledged {
        assert!(stored.contains(id), "acknowledged order {id} was lost");
    }
    pactum_ok(&["verify", "--database-url", &database.url]);
    // The other node serves every one of them.
    for id in acknowledged.iter().take(10) {
        let (status, order) = survivor.get_json(&format!("/v1/orders/{id}"), &alice).await;
        assert_eq!(status, StatusCode::OK, "{order}");
    }
}
