//! Replay benchmark: rebuild every read model from a generated log and report
//! events/s and the peak RSS of the `pactum replay` process, at two log sizes, so
//! that memory staying flat is visible in one run.
//!
//! Run: `cargo bench --bench replay` (default sizes 1000000 and 5000000 events), or
//! `cargo bench --bench replay -- 200000 1000000`. Generated stores are kept in
//! `target/bench-data/` and reused; before each run the tables of generations
//! earlier runs retired are dropped. `PACTUM_BENCH_BIN=<path>` replays with
//! another build.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Instant;

use jiff::{SignedDuration, Timestamp};
use pactum::access::queries::TokenTable;
use pactum::projector::{self, registry};
use pactum::store::{EventStore, HashInput, StorageLocation, chain_hash};
use pactum_events::EventPayload;
use pactum_events::order::*;
use serde_json::json;

/// One order's life: 8 events, like a reviewed, questioned and approved order.
fn lifecycle(n: u64, at: Timestamp) -> Vec<(OrderEvent, &'static str)> {
    let mut parameters = BTreeMap::new();
    parameters.insert("cpu_cores".into(), json!(4 + n % 60));
    parameters.insert("ram_per_core_gb".into(), json!(2));
    parameters.insert("local_disk_gb".into(), json!(40));
    parameters.insert("vm_instances".into(), json!(1 + n % 9));
    parameters.insert("access_type".into(), json!("opportunistic"));
    parameters.insert("start_date".into(), json!("2027-01-04"));
    parameters.insert("duration_days".into(), json!(90));
    let org = format!("org-{}", n % 500);
    vec![
        (
            OrderEvent::OrderSubmitted(OrderSubmitted {
                order_id: format!("order-{n:012}"),
                service: "cloud-compute".into(),
                group: "compute".into(),
                customer: Customer {
                    org,
                    subject: format!("user-{}", n % 2000),
                },
                parameters,
                title: Some(format!("Project {n}")),
                note: None,
                submitted_at: at,
                source: OrderSource::Api,
                service_version: None,
            }),
            "customer",
        ),
        (
            OrderEvent::OrderAssigned(OrderAssigned {
                assignee: format!("shifter-{}", n % 20),
                previous_assignee: None,
            }),
            "shifter",
        ),
        (
            OrderEvent::CommentAdded(CommentAdded {
                comment_id: 1,
                body: "Checking the quota with the provider.".into(),
                visibility: Visibility::Internal,
                provider: None,
            }),
            "shifter",
        ),
        (
            OrderEvent::QuestionAsked(QuestionAsked {
                question_id: 1,
                body: "Which virtual organisation will use the machines?".into(),
            }),
            "shifter",
        ),
        (
            OrderEvent::QuestionAnswered(QuestionAnswered {
                question_id: 1,
                body: "vo.example.org".into(),
            }),
            "customer",
        ),
        (
            OrderEvent::CommentAdded(CommentAdded {
                comment_id: 2,
                body: "Thanks, that works for us.".into(),
                visibility: Visibility::Public,
                provider: None,
            }),
            "customer",
        ),
        (
            OrderEvent::CommentAdded(CommentAdded {
                comment_id: 3,
                body: "Capacity confirmed at the site.".into(),
                visibility: Visibility::Internal,
                provider: None,
            }),
            "shifter",
        ),
        (
            OrderEvent::OrderApproved(OrderApproved { note: None }),
            "shifter",
        ),
    ]
}

/// Creates a store holding `events` order events (rounded up to whole orders):
/// migrated by pactum, then filled through one prepared statement in large
/// transactions without syncing (a fixture: durability does not matter here).
async fn generate(dir: &Path, events: u64) {
    std::fs::create_dir_all(dir).unwrap();
    let store = EventStore::open(
        &StorageLocation::DataDir(dir.to_owned()),
        vec![Arc::new(TokenTable)],
    )
    .await
    .unwrap();
    store.close().await;
    let mut conn = rusqlite::Connection::open(dir.join("pactum.db")).unwrap();
    conn.pragma_update(None, "synchronous", "OFF").unwrap();
    let orders = events.div_ceil(8);
    let start: Timestamp = "2025-01-01T00:00:00Z".parse().unwrap();
    let started = Instant::now();
    let mut position = 0u64;
    for first in (0..orders).step_by(10_000) {
        let tx = conn.transaction().unwrap();
        let mut insert = tx
            .prepare(
                "INSERT INTO events (position, aggregate_type, aggregate_id, sequence, event_type, \
                 schema_version, recorded_at, actor_subject, actor_role, actor_org, correlation_id, \
                 payload, hash) VALUES (?, 'order', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .unwrap();
        for n in first..orders.min(first + 10_000) {
            let submitted = start + SignedDuration::from_secs(n as i64 * 60);
            let id = format!("order-{n:012}");
            let customer = format!("user-{}", n % 2000);
            let shifter = format!("shifter-{}", n % 20);
            let org = format!("org-{}", n % 500);
            let mut prev = String::new();
            for (offset, (event, role)) in lifecycle(n, submitted).into_iter().enumerate() {
                position += 1;
                let sequence = offset as u64 + 1;
                let at =
                    (submitted + SignedDuration::from_mins(offset as i64 * 30)).as_microsecond();
                let (event_type, version, payload) = event.encode();
                let payload = payload.to_string();
                let (subject, org) = if role == "customer" {
                    (&customer, Some(org.as_str()))
                } else {
                    (&shifter, None)
                };
                let hash = chain_hash(
                    &prev,
                    &HashInput {
                        aggregate_type: "order",
                        aggregate_id: &id,
                        sequence,
                        event_type,
                        schema_version: version,
                        recorded_at_us: at,
                        actor_subject: subject,
                        actor_role: role,
                        actor_org: org,
                        correlation_id: &id,
                        causation_id: None,
                        idempotency_key: None,
                        payload: &payload,
                    },
                );
                insert
                    .execute(rusqlite::params![
                        position as i64,
                        id,
                        sequence as i64,
                        event_type,
                        version,
                        at,
                        subject,
                        role,
                        org,
                        id,
                        payload,
                        hash,
                    ])
                    .unwrap();
                prev = hash;
            }
        }
        drop(insert);
        tx.commit().unwrap();
    }
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .unwrap();
    eprintln!(
        "generated {position} events in {:.1} s at {}",
        started.elapsed().as_secs_f64(),
        dir.display()
    );
}

/// Drops the tables of read-model generations earlier runs retired (what a
/// server does at start), so that each run replays a store like a user's: one
/// live generation per read model.
async fn forget_retired(dir: &Path) {
    let store = EventStore::open(&StorageLocation::DataDir(dir.to_owned()), Vec::new())
        .await
        .unwrap();
    for projection in projector::all() {
        let (name, version) = (projection.name(), projection.version());
        store
            .write(move |conn| {
                Box::pin(async move { registry::drop_stale(conn, name, version).await })
            })
            .await
            .unwrap()
            .unwrap();
    }
    store.close().await;
}

/// One read model's rebuild, as `pactum replay` reports it.
struct Rebuilt {
    projection: String,
    events: u64,
    seconds: f64,
}

/// Runs `pactum replay` (every read model) on `dir`; returns each rebuild and the
/// process's peak RSS in KiB.
#[expect(
    clippy::zombie_processes,
    reason = "the child is reaped by wait4, which also reports its own peak RSS"
)]
fn replay(dir: &Path) -> (Vec<Rebuilt>, i64) {
    // Another build named by `PACTUM_BENCH_BIN` (as for the load scenario), to
    // compare two versions on the same logs.
    let bin = std::env::var("PACTUM_BENCH_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_pactum").to_owned());
    let mut child = Command::new(bin)
        .args(["replay", "--data-dir"])
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("pactum replay runs");
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    // wait4 reaps this child and reports its own resource usage, peak RSS included.
    let mut status = 0;
    // SAFETY: zeroed rusage is a valid value for wait4 to overwrite.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: the pid is our child's; status and usage are ours to write.
    let reaped = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    assert_eq!(reaped, child.id() as i32);
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "pactum replay failed"
    );
    // One line per read model: name, generation, events, seconds, events/s.
    let rebuilt = stdout
        .lines()
        .map(|line| {
            let fields: Vec<&str> = line.split('\t').collect();
            Rebuilt {
                projection: fields[0].to_owned(),
                events: fields[2].parse().unwrap(),
                seconds: fields[3].parse().unwrap(),
            }
        })
        .collect();
    (rebuilt, usage.ru_maxrss)
}

fn main() {
    let sizes: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let sizes = if sizes.is_empty() {
        vec![1_000_000, 5_000_000]
    } else {
        sizes
    };
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-data");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut peaks = Vec::new();
    println!("size\tread_model\tevents\tseconds\tevents_per_s\tpeak_rss_mib");
    for size in sizes {
        let dir = root.join(format!("replay-{size}"));
        if !dir.join("pactum.db").exists() {
            runtime.block_on(generate(&dir, size));
        }
        runtime.block_on(forget_retired(&dir));
        let (rebuilt, peak_kib) = replay(&dir);
        let peak_mib = peak_kib as f64 / 1024.0;
        for r in &rebuilt {
            println!(
                "{size}\t{}\t{}\t{:.2}\t{:.0}\t",
                r.projection,
                r.events,
                r.seconds,
                r.events as f64 / r.seconds
            );
        }
        // All read models: the log's events over the time to rebuild every one.
        // They are rebuilt together, each timed from the replay's start: the
        // whole replay took as long as the last to finish.
        let events = rebuilt.iter().map(|r| r.events).max().unwrap_or(0);
        let seconds = rebuilt.iter().map(|r| r.seconds).fold(0.0, f64::max);
        println!(
            "{size}\tall\t{events}\t{seconds:.2}\t{:.0}\t{peak_mib:.1}",
            events as f64 / seconds
        );
        peaks.push((size, peak_mib));
    }
    if let [(first, base), rest @ ..] = peaks.as_slice() {
        for (size, peak) in rest {
            println!("peak RSS at {size} events / at {first}: {:.3}", peak / base);
        }
    }
}
