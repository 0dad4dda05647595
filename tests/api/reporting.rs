//! Reporting views: their columns are the contract `docs/reporting.md` states,
//! they keep answering across a replay that swaps every generation, and on
//! PostgreSQL a reporting role reads them and nothing else (optionally only an
//! organisation's rows).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use pactum::store::DbConnection;
use serde_json::json;
use sqlx::{Connection, Row};
use tempfile::TempDir;

use crate::backend::{Backend, backend, raw_connection, storage};
use crate::helpers::*;

/// `docs/reporting.md`: each view (`### \`name\``) and its columns' names and
/// types, in order.
fn documented() -> BTreeMap<String, Vec<(String, String)>> {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/reporting.md"))
        .expect("docs/reporting.md");
    let mut views = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        if let Some(heading) = line.strip_prefix("### `") {
            let name = heading.trim_end_matches('`').to_owned();
            views.insert(name.clone(), Vec::new());
            current = Some(name);
            continue;
        }
        if line.starts_with("## ") {
            current = None;
        }
        let Some(view) = &current else { continue };
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        // `| \`column\` | type | ... |`
        if cells.len() > 3 && cells[1].starts_with('`') {
            let column = cells[1].trim_matches('`').to_owned();
            let kind = cells[2].to_owned();
            views.get_mut(view).unwrap().push((column, kind));
        }
    }
    views
}

fn view_name(view: &str) -> String {
    match backend() {
        Backend::Sqlite => format!("reporting_{view}"),
        Backend::Postgres => format!("reporting.{view}"),
    }
}

/// What the database says a documented type is, on this backend.
fn database_type(kind: &str) -> &'static str {
    match (backend(), kind) {
        (Backend::Sqlite, "integer" | "boolean") => "INT",
        (Backend::Sqlite, "real") => "REAL",
        (Backend::Sqlite, "text" | "date" | "timestamp") => "TEXT",
        (Backend::Postgres, "text") => "text",
        (Backend::Postgres, "integer") => "bigint",
        (Backend::Postgres, "real") => "double precision",
        (Backend::Postgres, "boolean") => "boolean",
        (Backend::Postgres, "date") => "date",
        (Backend::Postgres, "timestamp") => "timestamp with time zone",
        (_, other) => panic!("docs/reporting.md names an unknown type {other:?}"),
    }
}

async fn columns(conn: &mut DbConnection, view: &str) -> Vec<(String, String)> {
    let rows = match backend() {
        Backend::Sqlite => {
            sqlx::query(&format!(
                "SELECT name, type FROM pragma_table_info('reporting_{view}') ORDER BY cid"
            ))
            .fetch_all(&mut *conn)
            .await
        }
        Backend::Postgres => {
            sqlx::query(
                "SELECT CAST(column_name AS TEXT), CAST(data_type AS TEXT) \
                 FROM information_schema.columns \
                 WHERE table_schema = 'reporting' AND table_name = $1 ORDER BY ordinal_position",
            )
            .bind(view)
            .fetch_all(&mut *conn)
            .await
        }
    }
    .expect("the view's columns");
    rows.iter()
        .map(|r| (r.get::<String, _>(0), r.get::<String, _>(1)))
        .collect()
}

/// Every reporting view the store has.
async fn views_in_store(conn: &mut DbConnection) -> Vec<String> {
    let sql = match backend() {
        Backend::Sqlite => {
            "SELECT substr(name, 11) FROM sqlite_master WHERE type = 'view' \
             AND name LIKE 'reporting\\_%' ESCAPE '\\' ORDER BY name"
        }
        Backend::Postgres => {
            "SELECT CAST(table_name AS TEXT) FROM information_schema.views \
             WHERE table_schema = 'reporting' ORDER BY table_name"
        }
    };
    sqlx::query_scalar(sql).fetch_all(conn).await.unwrap()
}

#[tokio::test]
async fn every_view_has_exactly_the_columns_docs_reporting_md_states() {
    let dir = TempDir::new().unwrap();
    let app = spawn_app_at(dir.path()).await;
    let mut conn = raw_connection(dir.path()).await;
    let documented = documented();
    assert!(
        documented.len() >= 8,
        "docs/reporting.md documents {} views",
        documented.len()
    );
    let mut in_store = views_in_store(&mut conn).await;
    in_store.sort();
    assert_eq!(
        in_store,
        documented.keys().cloned().collect::<Vec<_>>(),
        "the store's reporting views and the documented ones"
    );
    for (view, columns_documented) in &documented {
        let expected: Vec<(String, String)> = columns_documented
            .iter()
            .map(|(name, kind)| (name.clone(), database_type(kind).to_owned()))
            .collect();
        assert_eq!(
            columns(&mut conn, view).await,
            expected,
            "view {view} drifted from docs/reporting.md"
        );
    }
    conn.close().await.unwrap();
    app.stop().await;
}

/// Waits until the order queue and the order report reflect the whole log.
async fn caught_up(app: &TestApp) {
    let head = app.head();
    for handle in [
        &app.app.projections.order_queue,
        &app.app.projections.order_report,
    ] {
        handle
            .wait_for(head, std::time::Duration::from_secs(30))
            .await
            .expect("the read models caught up");
    }
}

/// A customer of `org` submits an order that `sam` approves; returns its id.
async fn approved_order(app: &TestApp, customer: &str, sam: &str) -> String {
    let id = app.submit(customer).await;
    let (status, body) = app.command(&id, "approve", sam, json!({})).await;
    assert!(status.is_success(), "{body}");
    id
}

#[tokio::test]
async fn the_views_show_the_read_models_rows() {
    let dir = TempDir::new().unwrap();
    let app = spawn_app_at(dir.path()).await;
    let alice = app.customer("alice", "acme").await;
    let sam = app.shifter("sam", &["compute"]).await;
    let approved = approved_order(&app, &alice, &sam).await;
    let waiting = app.submit(&alice).await;
    caught_up(&app).await;
    let mut conn = raw_connection(dir.path()).await;
    let orders: Vec<(String, String, String)> = sqlx::query_as(&format!(
        "SELECT order_id, org, status FROM {} ORDER BY created_at",
        view_name("orders")
    ))
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert_eq!(
        orders,
        vec![
            (approved.clone(), "acme".into(), "approved".into()),
            (waiting.clone(), "acme".into(), "submitted".into()),
        ]
    );
    let report: Vec<(String, Option<String>, String)> = sqlx::query_as(&format!(
        "SELECT order_id, decision, CAST(submitted_at AS TEXT) FROM {} ORDER BY order_id",
        view_name("order_report")
    ))
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let decided: Vec<_> = report.iter().filter(|r| r.1.is_some()).collect();
    assert_eq!(decided.len(), 1, "{report:?}");
    assert_eq!(decided[0].0, approved);
    assert_eq!(decided[0].1.as_deref(), Some("approved"));
    conn.close().await.unwrap();
    app.stop().await;
}

/// Runs `sql` in a loop on its own connection until `stop`; returns how many
/// times it ran and every error it met.
fn query_in_a_loop(
    dir: &Path,
    sql: String,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<(u64, Vec<String>, Vec<i64>)> {
    let dir = dir.to_owned();
    tokio::spawn(async move {
        let mut conn = raw_connection(&dir).await;
        let (mut runs, mut errors, mut counts) = (0, Vec::new(), Vec::new());
        while !stop.load(Ordering::Relaxed) {
            match sqlx::query_scalar::<_, i64>(&sql)
                .fetch_one(&mut conn)
                .await
            {
                Ok(count) => counts.push(count),
                Err(error) => errors.push(error.to_string()),
            }
            runs += 1;
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
        conn.close().await.ok();
        (runs, errors, counts)
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn a_query_running_in_a_loop_never_errors_while_replay_swaps_every_generation() {
    let dir = TempDir::new().unwrap();
    let app = spawn_app_at(dir.path()).await;
    let alice = app.customer("alice", "acme").await;
    app.submit_many(&alice, 300).await;
    caught_up(&app).await;
    app.stop().await;

    let stop = Arc::new(AtomicBool::new(false));
    let sql = format!(
        "SELECT (SELECT COUNT(*) FROM {}) + (SELECT COUNT(*) FROM {}) + (SELECT COUNT(*) FROM {})",
        view_name("orders"),
        view_name("order_report"),
        view_name("service_levels_monthly"),
    );
    let reader = query_in_a_loop(dir.path(), sql, Arc::clone(&stop));
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let replay = tokio::task::spawn_blocking({
        let dir = dir.path().to_owned();
        move || pactum(&["replay"], &dir)
    })
    .await
    .unwrap();
    assert!(replay.status.success(), "{}", stderr(&replay));
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    stop.store(true, Ordering::Relaxed);
    let (runs, errors, counts) = reader.await.unwrap();
    assert!(
        errors.is_empty(),
        "{} errors in {runs} runs: {errors:?}",
        errors.len()
    );
    assert!(runs > 10, "the loop ran {runs} times");
    assert!(
        counts.iter().all(|c| *c == 600),
        "every read saw all 300 orders in both views: {:?}",
        counts
            .iter()
            .filter(|c| **c != 600)
            .take(5)
            .collect::<Vec<_>>()
    );

    // The views now read the new generations (the old ones are retired).
    let mut conn = raw_connection(dir.path()).await;
    let live: Vec<(String, i64)> = sqlx::query_as(
        "SELECT name, generation FROM projection_generations WHERE state = 'live' ORDER BY name",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert!(
        live.iter().all(|(_, generation)| *generation >= 2),
        "{live:?}"
    );
    // A server started on the store drops the retired generations' tables; the
    // views never read them again.
    let app = spawn_app_at(dir.path()).await;
    let count: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {}", view_name("orders")))
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(count, 300);
    let retired: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM projection_generations WHERE state = 'retired'")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert_eq!(retired, 0, "the server dropped the replaced generations");
    conn.close().await.unwrap();
    app.stop().await;
}

#[tokio::test]
async fn snapshot_writes_a_read_only_copy_of_the_views() {
    let dir = TempDir::new().unwrap();
    let app = spawn_app_at(dir.path()).await;
    let alice = app.customer("alice", "acme").await;
    app.submit_many(&alice, 3).await;
    caught_up(&app).await;
    app.stop().await;
    let out = TempDir::new().unwrap();
    let file = out.path().join("reporting.db");
    let file_arg = file.to_str().unwrap();
    let snapshot = pactum(&["reporting", "snapshot", file_arg], dir.path());
    if backend() == Backend::Postgres {
        assert_eq!(snapshot.status.code(), Some(2), "{}", stderr(&snapshot));
        assert!(
            stderr(&snapshot).contains("reporting grant"),
            "{}",
            stderr(&snapshot)
        );
        assert!(!file.exists());
        return;
    }
    assert!(snapshot.status.success(), "{}", stderr(&snapshot));
    assert!(
        stdout(&snapshot).contains("reporting_orders: 3 rows"),
        "{}",
        stdout(&snapshot)
    );
    assert!(std::fs::metadata(&file).unwrap().permissions().readonly());
    let copy =
        rusqlite::Connection::open_with_flags(&file, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    let orders: i64 = copy
        .query_row(
            "SELECT COUNT(*) FROM reporting_orders WHERE org = 'acme'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(orders, 3);
    let tables: i64 = copy
        .query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        tables as usize,
        documented().len(),
        "one table per view, nothing else"
    );
    let events: rusqlite::Result<i64> =
        copy.query_row("SELECT COUNT(*) FROM events", [], |r| r.get(0));
    assert!(events.is_err(), "the log is not in the copy");

    // An existing file is refused and kept as it was.
    let again = pactum(&["reporting", "snapshot", file_arg], dir.path());
    assert_eq!(again.status.code(), Some(2), "{}", stderr(&again));
    assert!(stderr(&again).contains("exists"), "{}", stderr(&again));
}

#[tokio::test]
async fn grant_refuses_bad_role_names_and_the_embedded_store() {
    let dir = TempDir::new().unwrap();
    let app = spawn_app_at(dir.path()).await;
    app.stop().await;
    for bad in ["Robert", "x;DROP TABLE events", "pg_read_all_data", "1st"] {
        let out = pactum(&["reporting", "grant", "--role", bad], dir.path());
        assert_eq!(out.status.code(), Some(2), "{bad}: {}", stderr(&out));
    }
    if backend() == Backend::Sqlite {
        let out = pactum(&["reporting", "grant", "--role", "grafana"], dir.path());
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert!(stderr(&out).contains("snapshot"), "{}", stderr(&out));
    }
}

/// Whether `role` has a password (read as the cluster's superuser).
async fn has_password(owner: &mut DbConnection, role: &str) -> bool {
    sqlx::query_scalar("SELECT rolpassword IS NOT NULL FROM pg_authid WHERE rolname = $1")
        .bind(role)
        .fetch_one(owner)
        .await
        .unwrap()
}

/// The store's database URL with `role` as the user (the test cluster trusts
/// loopback connections).
fn url_as(dir: &Path, role: &str) -> String {
    let pactum::store::StorageLocation::DatabaseUrl(url) = storage(dir) else {
        unreachable!("PostgreSQL only")
    };
    let rest = url
        .split_once('@')
        .map(|(_, rest)| rest)
        .expect("a URL with a user");
    format!("postgres://{role}@{rest}")
}

fn unique_role(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::new_v4().simple())[..40].to_owned()
}

#[tokio::test]
async fn a_reporting_role_reads_the_views_and_nothing_else() {
    if backend() != Backend::Postgres {
        eprintln!("skipped on SQLite: roles are PostgreSQL's");
        return;
    }
    let dir = TempDir::new().unwrap();
    let app = spawn_app_at(dir.path()).await;
    let alice = app.customer("alice", "acme").await;
    app.submit_many(&alice, 2).await;
    caught_up(&app).await;
    let role = unique_role("grafana");
    let out = pactum(&["reporting", "grant", "--role", &role], dir.path());
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("created role"), "{}", stdout(&out));

    let mut owner = raw_connection(dir.path()).await;
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT CAST(tablename AS TEXT) FROM pg_tables WHERE schemaname = 'public' ORDER BY 1",
    )
    .fetch_all(&mut owner)
    .await
    .unwrap();
    assert!(tables.iter().any(|t| t == "events") && tables.iter().any(|t| t == "access_tokens"));

    let mut reader = DbConnection::connect(&url_as(dir.path(), &role))
        .await
        .expect("the reporting role logs in");
    for view in documented().keys() {
        // As JSON text: every column is computed, whatever its type.
        sqlx::query(&format!(
            "SELECT CAST(row_to_json(v) AS TEXT) FROM (SELECT * FROM reporting.{view} LIMIT 5) v"
        ))
        .fetch_all(&mut reader)
        .await
        .unwrap_or_else(|e| panic!("reporting.{view}: {e}"));
    }
    let orders: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM reporting.orders")
        .fetch_one(&mut reader)
        .await
        .unwrap();
    assert_eq!(orders, 2);
    for table in &tables {
        let refused = sqlx::query(&format!("SELECT * FROM public.{table} LIMIT 1"))
            .fetch_all(&mut reader)
            .await
            .map(|rows| rows.len())
            .expect_err(&format!("the reporting role read {table}"));
        assert!(
            refused.to_string().contains("permission denied"),
            "{table}: {refused}"
        );
    }
    for statement in [
        "INSERT INTO reporting.orders (order_id) VALUES ('x')".to_owned(),
        "CREATE TABLE reporting.mine (x int)".to_owned(),
        "CREATE TABLE public.mine (x int)".to_owned(),
        "CREATE VIEW reporting.mine AS SELECT 1".to_owned(),
    ] {
        let refused = sqlx::query(&statement)
            .execute(&mut reader)
            .await
            .expect_err(&statement);
        assert!(
            refused.to_string().contains("permission denied"),
            "{statement}: {refused}"
        );
    }

    // Granting again updates the role (and still reads); a password comes
    // from the environment, quotes and all.
    assert!(!has_password(&mut owner, &role).await);
    let again = binary()
        .command()
        .args(["reporting", "grant", "--role", &role])
        .args(crate::backend::storage_args(dir.path()))
        .env("PACTUM_REPORTING_PASSWORD", "it's s3cret")
        .output()
        .unwrap();
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(
        stdout(&again).contains("updated role"),
        "{}",
        stdout(&again)
    );
    assert!(has_password(&mut owner, &role).await);
    assert!(!stdout(&again).contains("s3cret") && !stderr(&again).contains("s3cret"));
    reader.close().await.unwrap();
    owner.close().await.unwrap();
    app.stop().await;
}

#[tokio::test]
async fn an_organisation_scoped_role_sees_only_its_organisations_rows() {
    if backend() != Backend::Postgres {
        eprintln!("skipped on SQLite: roles are PostgreSQL's");
        return;
    }
    let dir = TempDir::new().unwrap();
    let app = spawn_app_at(dir.path()).await;
    let alice = app.customer("alice", "acme").await;
    let mallory = app.customer("mallory", "globex").await;
    let sam = app.shifter("sam", &["compute"]).await;
    approved_order(&app, &alice, &sam).await;
    app.submit(&alice).await;
    approved_order(&app, &mallory, &sam).await;
    caught_up(&app).await;
    let acme = unique_role("acme_reports");
    let everyone = unique_role("all_reports");
    for args in [
        vec!["reporting", "grant", "--role", &acme, "--org", "acme"],
        vec!["reporting", "grant", "--role", &everyone],
    ] {
        let out = pactum(&args, dir.path());
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let orgs_seen = |role: String, view: &'static str| {
        let url = url_as(dir.path(), &role);
        async move {
            let mut conn = DbConnection::connect(&url).await.unwrap();
            let orgs: Vec<String> =
                sqlx::query_scalar(&format!("SELECT org FROM reporting.{view} ORDER BY org"))
                    .fetch_all(&mut conn)
                    .await
                    .unwrap();
            conn.close().await.unwrap();
            orgs
        }
    };
    assert_eq!(orgs_seen(acme.clone(), "orders").await, ["acme", "acme"]);
    assert_eq!(
        orgs_seen(acme.clone(), "order_report").await,
        ["acme", "acme"]
    );
    assert_eq!(
        orgs_seen(everyone.clone(), "orders").await,
        ["acme", "acme", "globex"]
    );
    // A view without organisations shows a scoped role nothing.
    let mut conn = DbConnection::connect(&url_as(dir.path(), &acme))
        .await
        .unwrap();
    let usage: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM reporting.usage_records")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(usage, 0);
    // Scoping is the role's, not the query's: it cannot widen it.
    let refused = sqlx::query("DELETE FROM reporting_scopes")
        .execute(&mut conn)
        .await
        .expect_err("the scoped role changed its scope");
    assert!(
        refused.to_string().contains("permission denied"),
        "{refused}"
    );
    conn.close().await.unwrap();

    // Re-granting without --org lifts the scope.
    let out = pactum(&["reporting", "grant", "--role", &acme], dir.path());
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(orgs_seen(acme, "orders").await, ["acme", "acme", "globex"]);
    app.stop().await;
}

/// The ```sql blocks of `docs/reporting.md` for this backend, statement by
/// statement.
fn example_queries() -> Vec<String> {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/reporting.md")).unwrap();
    let ours = match backend() {
        Backend::Sqlite => "reporting_",
        Backend::Postgres => "reporting.",
    };
    text.split("```sql")
        .skip(1)
        .filter_map(|block| block.split("```").next())
        .flat_map(|block| block.split(';'))
        .map(str::trim)
        .filter(|statement| statement.contains(ours))
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn the_example_queries_of_the_docs_run_and_count_decisions() {
    let dir = TempDir::new().unwrap();
    let app = spawn_app_at(dir.path()).await;
    let alice = app.customer("alice", "acme").await;
    let sam = app.shifter("sam", &["compute"]).await;
    approved_order(&app, &alice, &sam).await;
    let rejected = app.submit(&alice).await;
    let (status, body) = app
        .command(&rejected, "reject", &sam, json!({"reason": "no capacity"}))
        .await;
    assert!(status.is_success(), "{body}");
    caught_up(&app).await;
    let queries = example_queries();
    assert!(queries.len() >= 2, "{queries:?}");
    let mut conn = raw_connection(dir.path()).await;
    for query in &queries {
        // Each row as a JSON object (PostgreSQL's timestamps have no type in
        // sqlx's Any driver).
        let rows: Vec<serde_json::Value> = match backend() {
            Backend::Postgres => {
                let rows: Vec<String> = sqlx::query_scalar(&format!(
                    "SELECT CAST(row_to_json(x) AS TEXT) FROM ({query}) x"
                ))
                .fetch_all(&mut conn)
                .await
                .unwrap_or_else(|e| panic!("{query}: {e}"));
                rows.iter()
                    .map(|r| serde_json::from_str(r).unwrap())
                    .collect()
            }
            Backend::Sqlite => sqlx::query(query)
                .fetch_all(&mut conn)
                .await
                .unwrap_or_else(|e| panic!("{query}: {e}"))
                .iter()
                .map(|r| {
                    let approved = r.try_get::<i64, _>("approved").ok();
                    let rejected = r.try_get::<i64, _>("rejected").ok();
                    json!({"approved": approved, "rejected": rejected})
                })
                .collect(),
        };
        if query.contains("AS approved") {
            let sum = |column: &str| -> i64 {
                rows.iter().map(|r| r[column].as_i64().unwrap_or(0)).sum()
            };
            assert_eq!((sum("approved"), sum("rejected")), (1, 1), "{query}");
            assert_eq!(rows.len(), 1, "one week, one group: {query}");
        }
    }
    conn.close().await.unwrap();
    app.stop().await;
}
