//! The load scenario: `pactum serve` on the embedded SQLite store with full
//! durability (WAL, `synchronous=FULL`: an acknowledged command survives power
//! loss) on loopback, and C concurrent keep-alive HTTP/1.1 clients (default 64)
//! running the realistic flow for a fixed time: submit an order → assign → public
//! comment → approve, plus one queue read per order.
//!
//! Prints commands/s, p50/p95/p99 latency per request kind, errors (must be 0:
//! the process exits 1 otherwise) and the server's peak RSS; then, in the same run,
//! the peer — the same four commands with Python's `eventsourcing` library on its
//! SQLite recorder at the same durability, in-process without HTTP
//! (`benches/peer_eventsourcing.py`) — and the raw limit, one durable SQLite
//! transaction per event row, with the ratios.
//!
//! Run: `cargo bench --bench load` (30 s), `-- --seconds 60 --clients 128`,
//! `-- --quick` (under 30 s in all), `-- --no-peer` (pactum alone). CI runs
//! `cargo bench --bench load --profile dev -- --quick --no-peer` as a smoke test:
//! it checks that the flow runs with 0 errors, not how fast.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::{arg, cast, flag, order, quantile_ms, start_node};
use serde_json::{Value, json};
use tokio::sync::Mutex;

const KINDS: [&str; 5] = ["submit", "assign", "comment", "approve", "queue"];

#[derive(Default)]
struct Tally {
    /// Per request kind, every latency of the measured window.
    latencies: Mutex<BTreeMap<&'static str, Vec<Duration>>>,
    commands: AtomicU64,
    reads: AtomicU64,
    errors: AtomicU64,
    /// Set when the measured window opens; latencies before it are warm-up.
    measuring: AtomicBool,
}

#[tokio::main]
async fn main() {
    let quick = flag("--quick");
    let seconds: u64 = arg("--seconds")
        .and_then(|s| s.parse().ok())
        .unwrap_or(if quick { 8 } else { 30 });
    let clients: usize = arg("--clients").and_then(|s| s.parse().ok()).unwrap_or(64);
    let warm_up = Duration::from_secs(if quick { 1 } else { 3 });

    let dir = tempfile::TempDir::new().unwrap();
    let data_dir = dir.path().display().to_string();
    let storage = ["--data-dir", data_dir.as_str()];
    common::pactum(&["migrate", "--data-dir", &data_dir]);
    let (alice, sam) = cast(&storage);
    let node = start_node(&storage).await;
    println!(
        "pactum serve, embedded SQLite (WAL, synchronous=FULL), {clients} keep-alive clients, \
         {seconds} s after {} s warm-up",
        warm_up.as_secs()
    );

    let tally = Arc::new(Tally::default());
    let stop = Arc::new(AtomicBool::new(false));
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(clients)
        .http1_only()
        .build()
        .unwrap();
    let workers: Vec<_> = (0..clients)
        .map(|_| {
            let (client, base) = (client.clone(), node.address.clone());
            let (alice, sam) = (alice.clone(), sam.clone());
            let (tally, stop) = (Arc::clone(&tally), Arc::clone(&stop));
            tokio::spawn(async move {
                let mut mine: BTreeMap<&'static str, Vec<Duration>> = BTreeMap::new();
                while !stop.load(Ordering::Relaxed) {
                    flow(&client, &base, &alice, &sam, &tally, &mut mine).await;
                }
                let mut all = tally.latencies.lock().await;
                for (kind, latencies) in mine {
                    all.entry(kind).or_default().extend(latencies);
                }
            })
        })
        .collect();
    tokio::time::sleep(warm_up).await;
    tally.measuring.store(true, Ordering::Relaxed);
    let (commands_before, reads_before) = (
        tally.commands.load(Ordering::Relaxed),
        tally.reads.load(Ordering::Relaxed),
    );
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let commands = tally.commands.load(Ordering::Relaxed) - commands_before;
    let reads = tally.reads.load(Ordering::Relaxed) - reads_before;
    let elapsed = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        worker.await.unwrap();
    }
    let errors = tally.errors.load(Ordering::Relaxed);
    let rss = node.peak_rss_mib();
    drop(node);

    let commands_per_s = commands as f64 / elapsed;
    println!(
        "pactum: {commands_per_s:.0} commands/s ({commands} commands, {reads} queue reads in \
         {elapsed:.1} s), errors {errors}, server peak RSS {}",
        rss.map_or("n/a".into(), |m| format!("{m:.1} MiB"))
    );
    let mut latencies = tally.latencies.lock().await;
    for kind in KINDS {
        let sorted = latencies.entry(kind).or_default();
        sorted.sort_unstable();
        println!(
            "  {kind:<8} n={:<7} p50 {:>7.2} ms  p95 {:>7.2} ms  p99 {:>7.2} ms",
            sorted.len(),
            quantile_ms(sorted, 0.50),
            quantile_ms(sorted, 0.95),
            quantile_ms(sorted, 0.99)
        );
    }

    if !flag("--no-peer") {
        peer(seconds, commands_per_s);
    }
    if errors > 0 {
        eprintln!("FAILED: {errors} requests failed");
        std::process::exit(1);
    }
}

/// One order through the flow; latencies recorded once the window is open.
async fn flow(
    client: &reqwest::Client,
    base: &str,
    alice: &str,
    sam: &str,
    tally: &Tally,
    mine: &mut BTreeMap<&'static str, Vec<Duration>>,
) {
    let mut timed = async |kind: &'static str, request: reqwest::RequestBuilder| -> Option<Value> {
        let started = Instant::now();
        let answer = match request.send().await {
            Ok(response) if response.status().is_success() => response.json::<Value>().await.ok(),
            Ok(response) => {
                eprintln!("{kind}: {}", response.status());
                None
            }
            Err(error) => {
                eprintln!("{kind}: {error}");
                None
            }
        };
        if tally.measuring.load(Ordering::Relaxed) {
            mine.entry(kind).or_default().push(started.elapsed());
        }
        let counter = if kind == "queue" {
            &tally.reads
        } else {
            &tally.commands
        };
        match answer {
            Some(_) => counter.fetch_add(1, Ordering::Relaxed),
            None => tally.errors.fetch_add(1, Ordering::Relaxed),
        };
        answer
    };
    let submitted = timed(
        "submit",
        client
            .post(format!("{base}/v1/orders"))
            .bearer_auth(alice)
            .json(&order()),
    )
    .await;
    let Some(id) = submitted.as_ref().and_then(|b| b["id"].as_str()) else {
        return;
    };
    let steps = [
        ("assign", "assign", json!({"assignee": "sam"})),
        (
            "comment",
            "comments",
            json!({"body": "quota checked", "visibility": "public"}),
        ),
        ("approve", "approve", json!({"note": "enjoy"})),
    ];
    for (kind, path, body) in steps {
        let request = client
            .post(format!("{base}/v1/orders/{id}/{path}"))
            .bearer_auth(sam)
            .json(&body);
        if timed(kind, request).await.is_none() {
            return;
        }
    }
    timed(
        "queue",
        client
            .get(format!("{base}/v1/orders?limit=20"))
            .bearer_auth(sam),
    )
    .await;
}

/// Runs the peer and the raw limit for the same time; prints them beside pactum.
fn peer(seconds: u64, pactum_per_s: f64) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/peer_eventsourcing.py");
    let output = std::process::Command::new("python3")
        .args([script, "--seconds", &seconds.to_string()])
        .stderr(std::process::Stdio::inherit())
        .output();
    let parsed: Option<Value> = output.ok().filter(|o| o.status.success()).and_then(|o| {
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .last()
            .and_then(|l| serde_json::from_str(l).ok())
    });
    let Some(peer) = parsed else {
        println!("peer: could not run {script} (python3 and PyPI needed); pactum alone above");
        return;
    };
    let number = |key: &str| peer[key].as_f64().unwrap_or(f64::NAN);
    let (peer_per_s, raw) = (number("peer_commands_per_s"), number("raw_rows_per_s"));
    println!(
        "peer ({}, in-process, no HTTP): {peer_per_s:.0} commands/s → pactum/peer {:.1}×",
        peer["peer"].as_str().unwrap_or("eventsourcing"),
        pactum_per_s / peer_per_s
    );
    println!(
        "raw limit (one INSERT per durable SQLite transaction): {raw:.0} rows/s → pactum/raw {:.1}×",
        pactum_per_s / raw
    );
}
