//! Global order without skips on PostgreSQL: a writer whose transaction is still
//! open must not let another writer's later event become visible first, or a
//! reader catching up by position would step over the late one for ever.
//! Appends take a transaction-scoped advisory lock and number their events under
//! it (docs/adr/0008); these tests hold that lock the way a slow writer would.

use std::sync::Arc;
use std::time::Duration;

use pactum::store::{APPEND_LOCK, AppendOutcome, EventStore, StorageLocation};
use pactum_testkit::Postgres;
use pactum_testkit::probe::append;
use sqlx::{Connection, PgConnection};

async fn open(url: &str) -> EventStore {
    EventStore::open(&StorageLocation::DatabaseUrl(url.to_owned()), vec![])
        .await
        .expect("the store opens")
}

/// Reads the log the way the projection runner, the relay and `/v1/events` do:
/// by position, after the last one seen, until told to stop.
fn follower(
    store: EventStore,
    stop: Arc<tokio::sync::Notify>,
) -> tokio::task::JoinHandle<Vec<u64>> {
    tokio::spawn(async move {
        let mut seen = Vec::new();
        let mut after = 0;
        let stopped = stop.notified();
        tokio::pin!(stopped);
        loop {
            let events = store.read_after(after, 100).await.unwrap();
            for event in &events {
                seen.push(event.position);
                after = event.position;
            }
            if events.is_empty() {
                tokio::select! {
                    () = &mut stopped => break,
                    () = tokio::time::sleep(Duration::from_millis(2)) => {}
                }
            }
        }
        // What was committed before the stop is all there.
        for event in store.read_after(after, 10_000).await.unwrap() {
            seen.push(event.position);
        }
        seen
    })
}

#[tokio::test]
async fn an_open_writer_transaction_holds_back_later_writers_and_readers_skip_nothing() {
    let postgres = Postgres::shared();
    let database = postgres.database();
    let node_a = open(&database.url).await;
    let node_b = open(&database.url).await;
    node_a.append(append("first", 0, 3, "gaps")).await.unwrap();

    let stop = Arc::new(tokio::sync::Notify::new());
    let reader = follower(node_b.clone(), Arc::clone(&stop));

    // A writer takes the log's lock and appends position 4, then stalls before
    // its commit.
    let mut slow = PgConnection::connect(&database.url).await.unwrap();
    sqlx::query("BEGIN").execute(&mut slow).await.unwrap();
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(APPEND_LOCK)
        .execute(&mut slow)
        .await
        .unwrap();
    let head: i64 = sqlx::query_scalar("SELECT MAX(position) FROM events")
        .fetch_one(&mut slow)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO events (position, aggregate_type, aggregate_id, sequence, event_type, \
         schema_version, recorded_at, actor_subject, actor_role, correlation_id, payload, hash) \
         VALUES ($1, 'probe', 'slow', 1, 'Probed', 1, 0, 'test', 'system', 'slow', '{}', 'x')",
    )
    .bind(head + 1)
    .execute(&mut slow)
    .await
    .unwrap();

    // Both nodes append meanwhile: they wait for the lock instead of taking
    // positions 5, 6… that readers could see before 4.
    let pending: Vec<_> = (0..4)
        .map(|n| {
            let node = if n % 2 == 0 {
                node_a.clone()
            } else {
                node_b.clone()
            };
            tokio::spawn(async move { node.append(append(&format!("w{n}"), 0, 2, "gaps")).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        pending.iter().all(|task| !task.is_finished()),
        "no append commits while an earlier writer holds the log"
    );
    assert!(
        node_b
            .read_after(head as u64, 100)
            .await
            .unwrap()
            .is_empty(),
        "nothing after position {head} is visible yet"
    );

    sqlx::query("COMMIT").execute(&mut slow).await.unwrap();
    let mut positions = Vec::new();
    for task in pending {
        let AppendOutcome::Committed(events) = task.await.unwrap().unwrap() else {
            panic!("a fresh append commits");
        };
        positions.extend(events.iter().map(|e| e.position));
    }
    positions.sort_unstable();
    assert_eq!(
        positions,
        (5..=12).collect::<Vec<u64>>(),
        "after the slow writer's 4"
    );

    stop.notify_one();
    let seen = reader.await.unwrap();
    assert_eq!(
        seen,
        (1..=12).collect::<Vec<u64>>(),
        "the follower skipped nothing"
    );
    node_a.close().await;
    node_b.close().await;
}

#[tokio::test]
async fn many_writers_on_two_nodes_give_one_gap_free_order_that_followers_read_whole() {
    let postgres = Postgres::shared();
    let database = postgres.database();
    let nodes = [open(&database.url).await, open(&database.url).await];
    let stop = Arc::new(tokio::sync::Notify::new());
    let readers: Vec<_> = nodes
        .iter()
        .map(|node| follower(node.clone(), Arc::clone(&stop)))
        .collect();

    // 64 writers, each appending to its own aggregate 10 times, half on each node.
    let writers: Vec<_> = (0..64)
        .map(|w| {
            let node = nodes[w % 2].clone();
            tokio::spawn(async move {
                for n in 0..10 {
                    node.append(append(&format!("agg{w}"), n, 1, "gaps"))
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap();
    }
    stop.notify_waiters();
    let all: Vec<u64> = (1..=640).collect();
    for reader in readers {
        assert_eq!(
            reader.await.unwrap(),
            all,
            "each follower read every position once, in order"
        );
    }
    for node in nodes {
        node.close().await;
    }
}
