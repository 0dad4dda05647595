//! Memberships and the catalogue are read at every request on every node: what
//! an admin changes through one `pactum serve` holds at once on another one on
//! the same PostgreSQL log.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::*;
use pactum_testkit::Postgres;
use pactum_testkit::principals;

#[tokio::test]
async fn a_membership_or_catalogue_change_on_one_node_holds_at_once_on_another() {
    let postgres = Postgres::shared();
    let database = postgres.database();
    let url = &database.url;
    pactum_ok(&["migrate", "--database-url", url]);
    let alice = customer(url, "alice");
    let ada = token(url, &principals::role("ada", "admin"));
    let pat = token(url, &principals::shifter("pat", &["storage"]));
    let nodes = [start_node(url, &[]).await, start_node(url, &[]).await];
    let id = nodes[1].submit(&alice).await;
    let order = format!("/v1/orders/{id}");

    for round in 0..3 {
        // Added on node 0: node 1 lets pat see compute's order at once.
        let response = nodes[0]
            .client
            .put(nodes[0].url("/v1/groups/compute/members/pat"))
            .bearer_auth(&ada)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED, "round {round}");
        let (status, body) = nodes[1].get_json(&order, &pat).await;
        assert_eq!(status, StatusCode::OK, "round {round}: {body}");

        // Removed on node 0: node 1 refuses at once.
        let response = nodes[0]
            .client
            .delete(nodes[0].url("/v1/groups/compute/members/pat"))
            .bearer_auth(&ada)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        let (status, _) = nodes[1].get_json(&order, &pat).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "round {round}");
    }

    // A service changed on node 1: node 0 validates new orders against it at once.
    let (_, mut service) = nodes[1].get_json("/v1/services/cloud-compute", &ada).await;
    service["parameters"]
        .as_array_mut()
        .unwrap()
        .push(json!({"key": "project_code", "label": "Project code", "type": "text"}));
    let response = nodes[1]
        .client
        .put(nodes[1].url("/v1/services/cloud-compute"))
        .bearer_auth(&ada)
        .json(&service)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let (status, problem) = nodes[0]
        .post_json("/v1/orders", &alice, &cloud_order())
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert!(problem.to_string().contains("project_code"), "{problem}");
    let (_, seen): (StatusCode, Value) = nodes[0]
        .get_json("/v1/services/cloud-compute", &alice)
        .await;
    assert_eq!(seen["version"], 2);
}
