//! Moving a log between SQLite and PostgreSQL with `pactum export | import`, and
//! read models kept by `pactum worker` instead of the server.

use std::path::Path;

use pactum_testkit::Postgres;
use reqwest::StatusCode;
use serde_json::json;

use crate::support::*;

/// A log with orders in every state the queue shows, made through the API; its
/// read models built by the server itself. Returns (url, head position).
async fn build_on_sqlite(dir: &Path) -> (String, u64) {
    let url = format!("sqlite://{}", dir.join("pactum.db").display());
    pactum_ok(&["migrate", "--database-url", &url]);
    let alice = customer(&url, "alice");
    let sam = shifter(&url, "sam");
    let node = start_node(&url, &[]).await;
    for n in 0..6 {
        let id = node.submit(&alice).await;
        if n == 0 {
            continue;
        }
        let (status, body) = node
            .post_json(
                &format!("/v1/orders/{id}/assign"),
                &sam,
                &json!({"assignee": "sam"}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (action, body) = match n % 3 {
            0 => ("reject", json!({"reason": "no capacity"})),
            1 => ("approve", json!({"note": "go"})),
            _ => (
                "comments",
                json!({"body": "looking", "visibility": "public"}),
            ),
        };
        let (status, body) = node
            .post_json(&format!("/v1/orders/{id}/{action}"), &sam, &body)
            .await;
        assert!(status.is_success(), "{action}: {body}");
    }
    let head = export(&url).last().unwrap()["position"].as_u64().unwrap();
    // The server's own read models have caught up with the whole log.
    let (status, page) = node
        .get_json(&format!("/v1/orders?min_position={head}&limit=100"), &sam)
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["orders"].as_array().unwrap().len(), 6);
    let (status, page) = node
        .get_json(&format!("/v1/agreements?min_position={head}"), &sam)
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    (url, head)
}

fn dump(url: &str, projection: &str) -> String {
    pactum_ok(&["projections", "dump", projection, "--database-url", url])
}

#[tokio::test]
async fn a_log_moves_from_sqlite_to_postgresql_and_back_unchanged_with_identical_read_models() {
    let dir = tempfile::TempDir::new().unwrap();
    let (sqlite, _) = build_on_sqlite(dir.path()).await;
    let file = dir.path().join("log.jsonl");
    std::fs::write(&file, pactum_ok(&["export", "--database-url", &sqlite])).unwrap();

    let postgres = Postgres::shared();
    let database = postgres.database();
    pactum_ok(&[
        "import",
        file.to_str().unwrap(),
        "--database-url",
        &database.url,
    ]);
    assert_eq!(
        export(&database.url),
        export(&sqlite),
        "the same log, byte for byte"
    );
    pactum_ok(&["verify", "--database-url", &database.url]);

    // Read models on PostgreSQL, built by a worker from the imported log, equal
    // the ones the SQLite server built as it went.
    pactum_ok(&[
        "worker",
        "--until-caught-up",
        "--database-url",
        &database.url,
    ]);
    assert_eq!(dump(&sqlite, "order_queue").lines().count(), 6);
    for projection in ["order_queue", "agreements"] {
        let expected = dump(&sqlite, projection);
        assert_eq!(dump(&database.url, projection), expected, "{projection}");
    }

    // And back to a fresh SQLite store.
    let back = format!("sqlite://{}", dir.path().join("back.db").display());
    let pg_file = dir.path().join("from-postgres.jsonl");
    std::fs::write(
        &pg_file,
        pactum_ok(&["export", "--database-url", &database.url]),
    )
    .unwrap();
    pactum_ok(&["import", pg_file.to_str().unwrap(), "--database-url", &back]);
    assert_eq!(export(&back), export(&sqlite));
}

#[tokio::test]
async fn a_server_with_external_projectors_reads_what_a_worker_keeps() {
    let postgres = Postgres::shared();
    let database = postgres.database();
    pactum_ok(&["migrate", "--database-url", &database.url]);
    let alice = customer(&database.url, "alice");
    let sam = shifter(&database.url, "sam");
    let node = start_node(&database.url, &["--projectors", "external"]).await;

    // No worker yet: nothing keeps the queue, and the server says so.
    let id = node.submit(&alice).await;
    let (status, _) = node.get_json("/v1/orders", &sam).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);

    let mut worker = binary()
        .command()
        .args([
            "worker",
            "--projection",
            "order_queue",
            "--database-url",
            &database.url,
        ])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut listed = None;
    for _ in 0..200 {
        let (status, page) = node.get_json("/v1/orders?min_position=1", &sam).await;
        if status == StatusCode::OK {
            listed = Some(page);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let page = listed.expect("the worker's queue is served");
    assert_eq!(page["orders"][0]["id"], id.as_str(), "{page}");

    // New commands reach the worker's tables; the server waits for them.
    let (status, _) = node
        .post_json(
            &format!("/v1/orders/{id}/assign"),
            &sam,
            &json!({"assignee": "sam"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let head = export(&database.url).last().unwrap()["position"]
        .as_u64()
        .unwrap();
    let (status, page) = node
        .get_json(
            &format!("/v1/orders?assignee=sam&min_position={head}"),
            &sam,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["orders"].as_array().unwrap().len(), 1, "{page}");
    let _ = worker.kill();
    let _ = worker.wait();
}
