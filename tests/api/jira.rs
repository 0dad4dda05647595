//! `pactum import-jira`: the JIRA back office's tickets brought over with their
//! history, through the real binary, on the test export
//! (`tests/fixtures/jira/`: twelve tickets in every mapped status, restricted
//! comments, the three legacy renderings, assignee changes, a reopened ticket).

use std::path::{Path, PathBuf};
use std::process::Output;

use pactum::access::tokens::TokenRequest;
use pactum_testkit::principals;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tempfile::TempDir;

use crate::helpers::*;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/jira")
        .join(name)
}

/// `pactum import-jira` of `export` with the test mapping.
fn import(export: &Path, dir: &Path) -> Output {
    pactum(
        &[
            "import-jira",
            export.to_str().unwrap(),
            "--mapping",
            fixture("mapping.toml").to_str().unwrap(),
        ],
        dir,
    )
}

/// A store with its people (their mail addresses known, so that any mail the
/// import queued would be addressed) and the test export imported.
async fn imported() -> (TempDir, TestApp) {
    let dir = TempDir::new().unwrap();
    let app = spawn_app_at(dir.path()).await;
    for request in [
        TokenRequest {
            email: Some("alice@acme.example".into()),
            ..principals::customer("alice", "acme")
        },
        TokenRequest {
            email: Some("sam@egi.example".into()),
            ..principals::shifter("sam", &["compute"])
        },
    ] {
        app.token(request).await;
    }
    app.stop().await;
    let output = import(&fixture("export.json"), dir.path());
    assert!(output.status.success(), "{}", stderr(&output));
    let out = stdout(&output);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 12, "{lines:?}");
    assert!(lines.iter().all(|l| l.ends_with("\timported")), "{lines:?}");
    let app = spawn_app_at(dir.path()).await;
    (dir, app)
}

/// The one order of ticket `key`, as `token` sees the queue.
async fn by_key(app: &TestApp, token: &str, key: &str) -> Value {
    let (status, page) = app.queue(token, &format!("reference={key}")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let orders = page["orders"].as_array().unwrap();
    assert_eq!(orders.len(), 1, "{key}: {page}");
    assert_eq!(orders[0]["reference"], key);
    let id = orders[0]["id"].as_str().unwrap();
    let (status, order) = app.get_json(&format!("/v1/orders/{id}"), token).await;
    assert_eq!(status, StatusCode::OK, "{order}");
    order
}

#[tokio::test]
async fn tickets_become_orders_with_their_status_people_and_comments() {
    let (_dir, app) = imported().await;
    let audrey = app.role("audrey", "auditor").await;
    for (key, status, org) in [
        ("EGISO-101", "submitted", "acme"),
        ("EGISO-102", "in_review", "acme"),
        ("EGISO-103", "waiting_for_customer", "acme"),
        ("EGISO-104", "approved", "globex"),
        ("EGISO-105", "rejected", "acme"),
        ("EGISO-106", "closed", "acme"),
        ("EGISO-107", "closed", "acme"),
        ("EGISO-108", "closed", "acme"),
        ("EGISO-109", "cancelled", "acme"),
        ("EGISO-110", "in_review", "acme-research"),
        ("EGISO-111", "negotiating", "globex"),
        ("EGISO-112", "provisioning", "acme"),
    ] {
        let order = by_key(&app, &audrey, key).await;
        assert_eq!(order["status"], status, "{key}: {order}");
        assert_eq!(order["customer"]["org"], org, "{key}");
        assert_eq!(order["source"], "jira_import", "{key}");
        assert_eq!(order["reference"], key);
        assert_eq!(order["parameters"], cloud_parameters(), "{key}");
    }

    // The three renderings, kept verbatim.
    for (key, raw) in [
        ("EGISO-101", SEED_PLAIN),
        ("EGISO-102", SEED_BOLD),
        ("EGISO-103", SEED_LINK),
    ] {
        assert_eq!(by_key(&app, &audrey, key).await["legacy_order"], raw);
    }

    // People, times and comments as JIRA had them.
    let order = by_key(&app, &audrey, "EGISO-102").await;
    assert_eq!(order["title"], "Cloud VMs for teaching");
    assert_eq!(order["assignee"], "sam");
    assert_eq!(order["customer"]["subject"], "alice");
    assert_eq!(order["created_at"], "2020-01-07T08:00:00Z");
    assert_eq!(order["updated_at"], "2020-01-07T09:06:00Z");
    let comments: Vec<(&str, &str, &str)> = order["comments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["visibility"].as_str().unwrap(),
                c["author"].as_str().unwrap(),
                c["created_at"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        comments,
        [
            ("public", "sam", "2020-01-07T09:05:00Z"),
            ("internal", "sam", "2020-01-07T09:06:00Z"),
        ]
    );
    let id = order["id"].as_str().unwrap();
    let (_, history) = app
        .get_json(&format!("/v1/orders/{id}/history"), &audrey)
        .await;
    let events: Vec<(&str, &str, &str, &str)> = history["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["type"].as_str().unwrap(),
                e["recorded_at"].as_str().unwrap(),
                e["actor"]["subject"].as_str().unwrap(),
                e["actor"]["role"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        events,
        [
            (
                "OrderSubmitted",
                "2020-01-07T08:00:00Z",
                "alice",
                "customer"
            ),
            (
                "OrderStatusImported",
                "2020-01-07T09:00:00Z",
                "sam",
                "shifter"
            ),
            ("OrderAssigned", "2020-01-07T09:00:00Z", "sam", "shifter"),
            ("CommentAdded", "2020-01-07T09:05:00Z", "sam", "shifter"),
            ("CommentAdded", "2020-01-07T09:06:00Z", "sam", "shifter"),
        ]
    );
    assert_eq!(
        history["events"][1]["payload"]["jira_status"],
        "In Progress"
    );

    // Restricted comments (a role, a group, a service desk's internal) are
    // internal: the customer does not see them.
    let alice = app.customer("alice", "acme").await;
    for (key, public, internal) in [
        ("EGISO-102", 1, 1),
        ("EGISO-105", 1, 1),
        ("EGISO-112", 0, 1),
    ] {
        let staff = by_key(&app, &audrey, key).await;
        assert_eq!(
            staff["comments"].as_array().unwrap().len(),
            public + internal
        );
        let theirs = by_key(&app, &alice, key).await;
        let seen = theirs["comments"].as_array().unwrap();
        assert_eq!(seen.len(), public, "{key}: {theirs}");
        assert!(seen.iter().all(|c| c["visibility"] == "public"));
    }
    // Another organisation's ticket is not alice's to see.
    let (_, page) = app.queue(&alice, "reference=EGISO-104").await;
    assert_eq!(page["orders"], json!([]));

    // Reassigned to a JIRA Cloud user the mapping names, after a reopening.
    let reopened = by_key(&app, &audrey, "EGISO-108").await;
    assert_eq!(reopened["assignee"], "sara");
    let id = reopened["id"].as_str().unwrap();
    let (_, history) = app
        .get_json(&format!("/v1/orders/{id}/history"), &audrey)
        .await;
    let statuses: Vec<&str> = history["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "OrderStatusImported")
        .map(|e| e["payload"]["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["in_review", "closed", "in_review", "closed"]);

    // The wait is a question the customer answers in pactum.
    let waiting = by_key(&app, &alice, "EGISO-103").await;
    assert_eq!(waiting["questions"][0]["body"], "Waiting for Customer");
    let id = waiting["id"].as_str().unwrap();
    let (status, answered) = app
        .post_json(
            &format!("/v1/orders/{id}/answers"),
            &alice,
            &json!({"body": "vo.acme.example"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answered}");
    assert_eq!(answered["status"], "in_review");
    assert_eq!(
        answered["questions"][0]["answer"]["body"],
        "vo.acme.example"
    );
}

#[tokio::test]
async fn as_of_shows_an_imported_order_as_it_was_then() {
    let (_dir, app) = imported().await;
    let audrey = app.role("audrey", "auditor").await;
    let id = by_key(&app, &audrey, "EGISO-106").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for (at, status) in [
        ("2020-02-03T08:30:00Z", "submitted"),
        ("2020-02-04T00:00:00Z", "in_review"),
        ("2020-02-10T00:00:00Z", "approved"),
        ("2020-03-02T00:00:00Z", "closed"),
    ] {
        let (code, order) = app
            .get_json(&format!("/v1/orders/{id}?as_of={at}"), &audrey)
            .await;
        assert_eq!(code, StatusCode::OK, "{order}");
        assert_eq!(order["status"], status, "as of {at}");
    }
    let (code, _) = app
        .get_json(
            &format!("/v1/orders/{id}?as_of=2020-02-01T00:00:00Z"),
            &audrey,
        )
        .await;
    assert_eq!(code, StatusCode::NOT_FOUND, "not yet ordered then");
}

#[tokio::test]
async fn closed_tickets_are_not_in_the_open_queue() {
    let (_dir, app) = imported().await;
    let sam = app.shifter("sam", &["compute"]).await;
    let keys = |page: &Value| {
        let mut keys: Vec<String> = page["orders"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["reference"].as_str().unwrap().to_owned())
            .collect();
        keys.sort();
        keys
    };
    let open =
        "status=submitted,in_review,waiting_for_customer,negotiating,approved,provisioning,active";
    let (_, page) = app.queue(&sam, open).await;
    assert_eq!(
        keys(&page),
        [
            "EGISO-101",
            "EGISO-102",
            "EGISO-103",
            "EGISO-104",
            "EGISO-110",
            "EGISO-111",
            "EGISO-112"
        ]
    );
    let (_, page) = app.queue(&sam, "status=closed").await;
    assert_eq!(keys(&page), ["EGISO-106", "EGISO-107", "EGISO-108"]);
    let (_, page) = app.queue(&sam, "status=rejected,cancelled").await;
    assert_eq!(keys(&page), ["EGISO-105", "EGISO-109"]);
    // No handling clock runs for history: nothing is due.
    let (_, page) = app.queue(&sam, "sort=due_at").await;
    assert!(
        page["orders"]
            .as_array()
            .unwrap()
            .iter()
            .all(|o| o.get("due_at").is_none()),
        "{page}"
    );
}

#[tokio::test]
async fn imported_history_is_verified_and_mails_nobody() {
    let (dir, app) = imported().await;
    let queued = || async {
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM outbox")
            .fetch_one(app.app.store.reader())
            .await
            .unwrap()
    };
    assert_eq!(queued().await, 0, "no mail for imported history");

    let output = pactum(&["verify"], dir.path());
    assert!(output.status.success(), "{}", stderr(&output));

    // What happens now is news: a shifter's public reply mails the customer.
    let sam = app.shifter("sam", &["compute"]).await;
    let id = by_key(&app, &sam, "EGISO-102").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, _) = app
        .post_json(
            &format!("/v1/orders/{id}/comments"),
            &sam,
            &json!({"body": "Quota granted.", "visibility": "public"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(queued().await, 1);
}

#[tokio::test]
async fn importing_the_same_file_twice_appends_nothing() {
    let (dir, app) = imported().await;
    let head = app.head();
    app.stop().await;
    let again = import(&fixture("export.json"), dir.path());
    assert!(again.status.success(), "{}", stderr(&again));
    let out = stdout(&again);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 12);
    assert!(
        lines.iter().all(|l| l.ends_with("\talready-imported")),
        "{lines:?}"
    );
    assert!(stderr(&again).contains("12 were already imported"));
    let app = spawn_app_at(dir.path()).await;
    assert_eq!(app.head(), head);
}

#[tokio::test]
async fn a_bad_ticket_stores_nothing_and_is_named() {
    let dir = TempDir::new().unwrap();
    let app = spawn_app_at(dir.path()).await;
    let head = app.head();
    app.stop().await;
    let export: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("export.json")).unwrap()).unwrap();
    // The export with ticket `key` changed.
    let spoil = |key: &str, change: &dyn Fn(&mut Value)| {
        let mut spoilt = export.clone();
        let ticket = spoilt["issues"]
            .as_array_mut()
            .unwrap()
            .iter_mut()
            .find(|i| i["key"] == key)
            .unwrap();
        change(ticket);
        spoilt
    };
    for (spoilt, key, field, reason) in [
        (
            spoil("EGISO-106", &|t| {
                t["changelog"]["histories"][1]["items"][0]["toString"] = json!("Parked")
            }),
            "EGISO-106",
            "changelog.histories[1].items[0].toString",
            "Parked",
        ),
        (
            spoil("EGISO-102", &|t| {
                t["fields"]["description"] = json!(SEED_BOLD.replace("Local disk", "Local disc"))
            }),
            "EGISO-102",
            "fields.description",
            "Local disc",
        ),
        (
            spoil("EGISO-109", &|t| {
                t["fields"]["created"] = json!("10/Feb/20 9:00 AM")
            }),
            "EGISO-109",
            "fields.created",
            "10/Feb/20",
        ),
    ] {
        let file = dir.path().join("spoilt.json");
        std::fs::write(&file, spoilt.to_string()).unwrap();
        let output = import(&file, dir.path());
        assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
        let errors = stderr(&output);
        assert!(
            errors.contains(&format!("{key}: {field}: ")) && errors.contains(reason),
            "{key} {field}: {errors}"
        );
        assert!(errors.contains("nothing was imported"), "{errors}");
        assert!(stdout(&output).is_empty());
    }
    // A dry run checks and stores nothing either.
    let dry = pactum(
        &[
            "import-jira",
            fixture("export.json").to_str().unwrap(),
            "--mapping",
            fixture("mapping.toml").to_str().unwrap(),
            "--dry-run",
        ],
        dir.path(),
    );
    assert!(dry.status.success(), "{}", stderr(&dry));
    assert!(stderr(&dry).contains("12 tickets"), "{}", stderr(&dry));
    // Without the mapping, the export's own statuses are unknown.
    let unmapped = pactum(
        &["import-jira", fixture("export.json").to_str().unwrap()],
        dir.path(),
    );
    assert_eq!(unmapped.status.code(), Some(2));
    assert!(
        stderr(&unmapped).contains("EGISO-110: fields.status.name"),
        "{}",
        stderr(&unmapped)
    );

    let app = spawn_app_at(dir.path()).await;
    assert_eq!(app.head(), head, "nothing of any ticket was stored");
}
