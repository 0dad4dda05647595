//! The real binary: `serve`, `token create`, `import-legacy`, pointed at one
//! throwaway store with `--data-dir` or `PACTUM_DATA_DIR` (helpers in
//! `helpers.rs`).

use std::path::Path;

use reqwest::StatusCode;
use serde_json::json;
use tempfile::TempDir;

use crate::helpers::*;

#[tokio::test]
async fn tokens_minted_beside_a_running_server_work_at_once() {
    let dir = TempDir::new().unwrap();
    let server = serve(dir.path()).await;
    let alice = create_token(
        dir.path(),
        &["--subject", "alice", "--role", "customer", "--org", "acme"],
    );
    let sam = create_token(
        dir.path(),
        &[
            "--subject",
            "sam",
            "--role",
            "shifter",
            "--group",
            "compute",
            "--group",
            "storage",
        ],
    );
    let (status, order) = server.post_json("/v1/orders", &alice, &cloud_order()).await;
    assert_eq!(status, StatusCode::CREATED, "{order}");
    let id = order["id"].as_str().unwrap();
    let (status, order) = server
        .post_json(
            &format!("/v1/orders/{id}/assign"),
            &sam,
            &json!({"assignee": "sam"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{order}");

    // Only the token's hash is stored.
    if crate::backend::sqlite_only("reads the store's files") {
        return;
    }
    let db = std::fs::read(dir.path().join("pactum.db")).unwrap();
    let wal = std::fs::read(dir.path().join("pactum.db-wal")).unwrap_or_default();
    for bytes in [db, wal] {
        assert!(
            !bytes.windows(alice.len()).any(|w| w == alice.as_bytes()),
            "the token itself must not be stored"
        );
    }

    let list = pactum(&["token", "list"], dir.path());
    assert!(stdout(&list).contains("alice") && stdout(&list).contains("compute,storage"));
}

#[tokio::test]
async fn token_create_refuses_what_does_not_fit_the_role() {
    let dir = TempDir::new().unwrap();
    for (args, needle) in [
        (vec!["--subject", "a", "--role", "customer"], "--org"),
        (
            vec!["--subject", "a", "--role", "shifter", "--group", "quantum"],
            "quantum",
        ),
        (vec!["--subject", "a", "--role", "overlord"], "overlord"),
        (
            vec!["--subject", "a", "--role", "auditor", "--org", "acme"],
            "--org",
        ),
        (
            vec![
                "--subject",
                "a",
                "--role",
                "provider",
                "--provider",
                "nowhere",
            ],
            "nowhere",
        ),
    ] {
        let mut all = vec!["token", "create"];
        all.extend(args.iter().copied());
        let output = pactum(&all, dir.path());
        assert!(!output.status.success(), "{args:?}");
        assert!(stdout(&output).is_empty(), "no token printed for {args:?}");
        assert!(
            stderr(&output).contains(needle),
            "{args:?}: {}",
            stderr(&output)
        );
    }
}

#[tokio::test]
async fn import_legacy_reads_lines_and_keeps_them_verbatim() {
    let dir = TempDir::new().unwrap();
    let file = dir.path().join("orders.txt");
    std::fs::write(&file, format!("{SEED_PLAIN}\n\n{SEED_BOLD}\n{SEED_LINK}\n")).unwrap();
    let output = pactum(
        &[
            "import-legacy",
            file.to_str().unwrap(),
            "--org",
            "acme",
            "--subject",
            "alice",
        ],
        dir.path(),
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let ids: Vec<String> = stdout(&output)
        .lines()
        .map(|l| l.split('\t').nth(1).unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 3);

    let alice = create_token(
        dir.path(),
        &["--subject", "alice", "--role", "customer", "--org", "acme"],
    );
    let server = serve(dir.path()).await;
    for (id, raw) in ids.iter().zip([SEED_PLAIN, SEED_BOLD, SEED_LINK]) {
        let (status, order) = server.get_json(&format!("/v1/orders/{id}"), &alice).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(order["parameters"], cloud_parameters());
        assert_eq!(order["legacy_order"], raw);
        assert_eq!(order["source"], "legacy_import");
        assert_eq!(order["customer"]["subject"], "alice");
    }
    let head = server.head().await;
    drop(server);

    // Running the same import again adds nothing.
    let again = pactum(
        &[
            "import-legacy",
            file.to_str().unwrap(),
            "--org",
            "acme",
            "--subject",
            "alice",
        ],
        dir.path(),
    );
    assert!(again.status.success());
    assert!(
        stdout(&again)
            .lines()
            .all(|l| l.ends_with("already-imported"))
    );
    let server = serve(dir.path()).await;
    assert_eq!(server.head().await, head);
}

#[tokio::test]
async fn import_legacy_csv_keeps_the_original_submission_time() {
    let dir = TempDir::new().unwrap();
    let file = dir.path().join("export.csv");
    std::fs::write(
        &file,
        format!(
            "org,subject,submitted_at,order\nacme,alice,2019-11-30T08:15:00Z,\"{SEED_PLAIN}\"\nglobex,gina,02/Dec/19 10:15 AM,\"{SEED_LINK}\"\n"
        ),
    )
    .unwrap();
    let output = pactum(&["import-legacy", file.to_str().unwrap()], dir.path());
    assert!(output.status.success(), "{}", stderr(&output));
    let ids: Vec<String> = stdout(&output)
        .lines()
        .map(|l| l.split('\t').nth(1).unwrap().to_owned())
        .collect();
    let audrey = create_token(dir.path(), &["--subject", "audrey", "--role", "auditor"]);
    let server = serve(dir.path()).await;
    let (_, first) = server
        .get_json(&format!("/v1/orders/{}", ids[0]), &audrey)
        .await;
    assert_eq!(first["created_at"], "2019-11-30T08:15:00Z");
    assert_eq!(
        first["customer"],
        json!({"org": "acme", "subject": "alice"})
    );
    let (_, second) = server
        .get_json(&format!("/v1/orders/{}", ids[1]), &audrey)
        .await;
    assert_eq!(second["created_at"], "2019-12-02T10:15:00Z");
    assert_eq!(second["customer"]["org"], "globex");
    let (_, history) = server
        .get_json(&format!("/v1/orders/{}/history", ids[0]), &audrey)
        .await;
    assert_eq!(history["events"][0]["actor"]["role"], "system");
}

#[tokio::test]
async fn a_bad_import_names_every_problem_and_stores_nothing() {
    let dir = TempDir::new().unwrap();
    // Open the store once so the head position is comparable.
    let audrey = create_token(dir.path(), &["--subject", "audrey", "--role", "auditor"]);
    let server = serve(dir.path()).await;
    let head = server.head().await;
    drop(server);

    let file = dir.path().join("orders.txt");
    let bad_label = SEED_PLAIN.replace("Local disk=40", "Local disc=40");
    let bad_service = "Storage/Floppy disks/3.5 inch?Count=3";
    std::fs::write(&file, format!("{SEED_PLAIN}\n{bad_label}\n{bad_service}\n")).unwrap();
    let output = pactum(
        &[
            "import-legacy",
            file.to_str().unwrap(),
            "--org",
            "acme",
            "--subject",
            "alice",
        ],
        dir.path(),
    );
    assert!(!output.status.success());
    let errors = stderr(&output);
    assert!(
        errors.contains("line 2") && errors.contains("Local disc"),
        "{errors}"
    );
    assert!(
        errors.contains("line 3") && errors.contains("Floppy disks"),
        "{errors}"
    );
    assert!(errors.contains("nothing was imported"), "{errors}");

    let server = serve(dir.path()).await;
    assert_eq!(
        server.head().await,
        head,
        "not even the good line was stored"
    );
    let (status, _) = server.get_json("/v1/services", &audrey).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn migrate_creates_the_store_and_health_reports_ready() {
    let dir = TempDir::new().unwrap();
    let store = dir.path().join("nested").join("store");
    let output = pactum(&["migrate"], &store);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(crate::backend::store_exists(&store));
    let server = serve(&store).await;
    let response = server
        .client
        .get(format!("{}/healthz", server.address))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn replay_rebuilds_read_models_identical_to_the_live_ones() {
    let dir = TempDir::new().unwrap();
    let app = spawn_app_at(dir.path()).await;
    let alice = app.customer("alice", "acme").await;
    let sam = app.shifter("sam", &["compute"]).await;
    for _ in 0..5 {
        let id = app.submit(&alice).await;
        app.command(&id, "assign", &sam, json!({"assignee": "sam"}))
            .await;
    }
    app.app
        .projections
        .order_queue
        .wait_for(app.head(), std::time::Duration::from_secs(10))
        .await
        .unwrap();
    let head = app.head();
    app.stop().await;

    let before = pactum(&["projections", "dump", "order_queue"], dir.path());
    assert!(before.status.success(), "{}", stderr(&before));
    assert_eq!(stdout(&before).lines().count(), 5);

    let replay = pactum(&["replay"], dir.path());
    assert!(replay.status.success(), "{}", stderr(&replay));
    let summary = stdout(&replay);
    let fields: Vec<&str> = summary.trim().split('\t').collect();
    assert_eq!(fields[0], "order_queue");
    assert_eq!(fields[1], "2", "a new generation");
    assert_eq!(fields[2], head.to_string(), "every event replayed");
    assert!(stderr(&replay).contains("events/s"), "{}", stderr(&replay));

    let after = pactum(&["projections", "dump", "order_queue"], dir.path());
    assert_eq!(stdout(&after), stdout(&before));
    let status = stdout(&pactum(&["projections", "status"], dir.path()));
    assert!(
        status.lines().any(|l| {
            let fields: Vec<&str> = l.split('\t').collect();
            fields.len() == 6
                && fields[0] == "order_queue"
                && fields[2..] == ["2", "live", &head.to_string(), "0"]
        }),
        "{status}"
    );

    let unknown = pactum(&["replay", "--projection", "nope"], dir.path());
    assert!(!unknown.status.success());
    assert!(
        stderr(&unknown).contains("order_queue"),
        "names the known projections"
    );
}

#[tokio::test]
async fn brand_set_refuses_a_logo_that_does_not_render_and_writes_nothing() {
    let dir = TempDir::new().unwrap();
    let brand_set = |logo: &Path| {
        pactum(
            &[
                "brand",
                "set",
                "--org",
                "acme",
                "--name",
                "ACME Research Cloud",
                "--colour",
                "#0a5f38",
                "--footer",
                "ACME Research · Lab street 1",
                "--logo",
                logo.to_str().unwrap(),
            ],
            dir.path(),
        )
    };
    let brand = async || {
        let store = pactum::store::EventStore::open(&crate::backend::storage(dir.path()), vec![])
            .await
            .unwrap();
        let brand = pactum::brands::current(&store, "acme").await.unwrap();
        store.close().await;
        brand
    };
    let mut bad = crate::agreements::bad_logos();
    bad.push(("not an image", "", b"GIF89a, or anything else".to_vec()));
    for (what, _, bytes) in bad {
        let file = dir.path().join("logo");
        std::fs::write(&file, bytes).unwrap();
        let output = brand_set(&file);
        let errors = stderr(&output);
        assert!(!output.status.success(), "{what}: accepted: {errors}");
        assert!(
            errors.contains("--logo"),
            "{what}: names the field: {errors}"
        );
        assert!(brand().await.is_none(), "{what}: nothing written");
    }

    let good = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/sla-templates/brands/example/logo.png"
    );
    let output = brand_set(Path::new(good));
    assert!(output.status.success(), "{}", stderr(&output));
    let brand = brand().await.expect("the brand is set");
    assert_eq!(brand.logo.unwrap().media_type, "image/png");
}
