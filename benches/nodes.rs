//! Scale-out benchmark: commands/s of one and of two `pactum serve` nodes on one
//! PostgreSQL database, and the cost of serialising appends (docs/adr/0008).
//!
//! Run: `cargo bench --bench nodes` (or `-- --seconds 20 --clients 64`). Starts a
//! PostgreSQL cluster of its own (fsync on, synchronous_commit on: every
//! acknowledged command is durable) on a free loopback port, then, in one run:
//!
//! 1. `raw`: 32 connections appending one event row per transaction straight into
//!    the events table, (a) the way pactum does (advisory lock, MAX + 1) and
//!    (b) without the lock, numbering by a sequence (what an unserialised design
//!    would pay before its readers' snapshot bookkeeping);
//! 2. `1 node` and `2 nodes`: C keep-alive HTTP clients for a fixed time, spread
//!    over the nodes, each running submit → assign → approve on fresh orders.
//!    Prints commands/s, p50/p99 latency, and errors (must be 0).
//! 3. `relay`: the 1-node run's whole log published by `pactum`'s relay to a
//!    nats-server (JetStream, file storage) from position 0: events/s until the
//!    relay's checkpoint (stored in PostgreSQL) reaches the head.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

mod common;

use common::{cast, order, quantile_ms, start_node};
use pactum_testkit::{Database, Postgres};
use serde_json::{Value, json};
use sqlx::{Connection, PgConnection};
use tokio::sync::Mutex;

struct Settings {
    seconds: u64,
    clients: usize,
}

fn settings() -> Settings {
    let args: Vec<String> = std::env::args().collect();
    let value = |flag: &str, default: u64| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    Settings {
        seconds: value("--seconds", 15),
        clients: value("--clients", 64) as usize,
    }
}

#[derive(Default)]
struct Tally {
    latencies: Mutex<Vec<Duration>>,
    commands: AtomicU64,
    errors: AtomicU64,
}

async fn load(database: &Database, nodes: usize, settings: &Settings) {
    let url = &database.url;
    let storage = ["--database-url", url.as_str()];
    common::pactum(&["migrate", "--database-url", url]);
    let (alice, sam) = cast(&storage);
    let mut running = Vec::new();
    for _ in 0..nodes {
        running.push(start_node(&storage).await);
    }
    let bases: Vec<String> = running.iter().map(|n| n.address.clone()).collect();
    let tally = Arc::new(Tally::default());
    let stop = Arc::new(AtomicBool::new(false));
    let order = order();
    let clients: Vec<_> = (0..settings.clients)
        .map(|c| {
            let base = bases[c % bases.len()].clone();
            let (alice, sam, order) = (alice.clone(), sam.clone(), order.clone());
            let (tally, stop) = (Arc::clone(&tally), Arc::clone(&stop));
            tokio::spawn(async move {
                let client = reqwest::Client::new();
                let mut mine = Vec::new();
                let timed = |request: reqwest::RequestBuilder| async {
                    let started = Instant::now();
                    let response = request.send().await;
                    let elapsed = started.elapsed();
                    match response {
                        Ok(r) if r.status().is_success() => (r.json::<Value>().await.ok(), elapsed),
                        _ => (None, elapsed),
                    }
                };
                while !stop.load(Ordering::Relaxed) {
                    let submit = client
                        .post(format!("{base}/v1/orders"))
                        .bearer_auth(&alice)
                        .json(&order);
                    let (body, elapsed) = timed(submit).await;
                    mine.push(elapsed);
                    let Some(id) = body
                        .as_ref()
                        .and_then(|b| b["id"].as_str())
                        .map(str::to_owned)
                    else {
                        tally.errors.fetch_add(1, Ordering::Relaxed);
                        continue;
                    };
                    tally.commands.fetch_add(1, Ordering::Relaxed);
                    for (action, payload) in [
                        ("assign", json!({"assignee": "sam"})),
                        ("approve", json!({"note": "ok"})),
                    ] {
                        let request = client
                            .post(format!("{base}/v1/orders/{id}/{action}"))
                            .bearer_auth(&sam)
                            .json(&payload);
                        let (body, elapsed) = timed(request).await;
                        mine.push(elapsed);
                        if body.is_some() {
                            tally.commands.fetch_add(1, Ordering::Relaxed);
                        } else {
                            tally.errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                tally.latencies.lock().await.extend(mine);
            })
        })
        .collect();
    // Warm-up second, then measure.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let start_count = tally.commands.load(Ordering::Relaxed);
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(settings.seconds)).await;
    let done = tally.commands.load(Ordering::Relaxed) - start_count;
    let elapsed = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        let _ = client.await;
    }
    let mut latencies = tally.latencies.lock().await.clone();
    latencies.sort();

    println!(
        "{nodes} node{}: {:>7.0} commands/s  p50 {:>6.1} ms  p99 {:>6.1} ms  errors {}  ({} clients, {:.0} s)",
        if nodes == 1 { " " } else { "s" },
        done as f64 / elapsed,
        quantile_ms(&latencies, 0.5),
        quantile_ms(&latencies, 0.99),
        tally.errors.load(Ordering::Relaxed),
        settings.clients,
        elapsed
    );
}

/// Appends one event row per transaction from 32 connections for `seconds`.
async fn raw(database: &Database, serialised: bool, seconds: u64) -> f64 {
    let mut setup = PgConnection::connect(&database.url).await.unwrap();
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS raw_events (position BIGINT PRIMARY KEY, aggregate_id TEXT, \
         payload TEXT, hash TEXT)",
    )
    .execute(&mut setup)
    .await
    .unwrap();
    sqlx::query("CREATE SEQUENCE IF NOT EXISTS raw_positions")
        .execute(&mut setup)
        .await
        .unwrap();
    sqlx::query("TRUNCATE raw_events")
        .execute(&mut setup)
        .await
        .unwrap();
    let count = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let payload = "x".repeat(400);
    let writers: Vec<_> = (0..32)
        .map(|w| {
            let (url, count, payload) = (database.url.clone(), Arc::clone(&count), payload.clone());
            tokio::spawn(async move {
                let mut conn = PgConnection::connect(&url).await.unwrap();
                while Instant::now() < deadline {
                    let mut tx = conn.begin().await.unwrap();
                    let position: i64 = if serialised {
                        sqlx::query("SELECT pg_advisory_xact_lock(42)")
                            .execute(&mut *tx)
                            .await
                            .unwrap();
                        sqlx::query_scalar("SELECT COALESCE(MAX(position), 0) + 1 FROM raw_events")
                            .fetch_one(&mut *tx)
                            .await
                            .unwrap()
                    } else {
                        sqlx::query_scalar("SELECT nextval('raw_positions')")
                            .fetch_one(&mut *tx)
                            .await
                            .unwrap()
                    };
                    sqlx::query("INSERT INTO raw_events VALUES ($1, $2, $3, 'h')")
                        .bind(position)
                        .bind(format!("w{w}"))
                        .bind(&payload)
                        .execute(&mut *tx)
                        .await
                        .unwrap();
                    tx.commit().await.unwrap();
                    count.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap();
    }
    count.load(Ordering::Relaxed) as f64 / seconds as f64
}

#[tokio::main]
async fn main() {
    let settings = settings();
    let postgres = Arc::new(Postgres::start());
    println!(
        "PostgreSQL {} (fsync on, synchronous_commit on)",
        postgres.admin_url()
    );
    let raw_seconds = settings.seconds.min(10);
    let serialised = raw(&postgres.database(), true, raw_seconds).await;
    let unserialised = raw(&postgres.database(), false, raw_seconds).await;
    println!(
        "raw appends, 32 connections, 1 row/transaction: advisory lock + MAX+1 {serialised:.0}/s, \
         sequence without lock {unserialised:.0}/s (ratio {:.2})",
        serialised / unserialised
    );
    let one_node = postgres.database();
    load(&one_node, 1, &settings).await;
    load(&postgres.database(), 2, &settings).await;
    relay(&one_node).await;
}

/// Publishes the whole log of `database` to a fresh JetStream stream.
async fn relay(database: &Database) {
    use pactum::relay::{Relay, RelayConfig};
    use pactum::store::{EventStore, StorageLocation};
    let nats = pactum_testkit::Nats::start();
    let location = StorageLocation::DatabaseUrl(database.url.clone());
    let store = EventStore::open(&location, vec![]).await.unwrap();
    let head = store.head();
    let relay = Relay::new(
        store.clone(),
        location,
        RelayConfig::new(nats.url(), "BENCH"),
    );
    let mut status = relay.status();
    let cancel = tokio_util::sync::CancellationToken::new();
    let started = Instant::now();
    let running = {
        let cancel = cancel.clone();
        tokio::spawn(async move { relay.run(cancel).await })
    };
    status.wait_for(|s| s.checkpoint >= head).await.unwrap();
    let elapsed = started.elapsed().as_secs_f64();
    cancel.cancel();
    let _ = running.await;
    println!(
        "relay: {head} events to JetStream in {elapsed:.2} s: {:.0} events/s (batches of 512 in flight, checkpoint per batch)",
        head as f64 / elapsed
    );
    store.close().await;
}
