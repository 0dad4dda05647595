//! The load scenario: `pactum serve` on the embedded SQLite store with full
//! durability (WAL, `synchronous=FULL`: an acknowledged command survives power
//! loss) on loopback, and C concurrent keep-alive HTTP/1.1 clients (default 64)
//! running the realistic flow for a fixed time: submit an order → assign → public
//! comment → approve, plus one queue read per order.
//!
//! By default with **every feature on** (issue 18), set up before the measured
//! window:
//! - handling targets defined for the orders' group (`compute`: 4 h to first
//!   response, 8 h to decision, Paris office hours), so every order's clocks are
//!   pinned, started and stopped by the flow;
//! - the customer's and the shifter's tokens carry e-mail addresses, so each
//!   order queues mail (its submission to the group's shifters, the public
//!   comment and the approval to the customer), and `pactum serve --mail-dir`
//!   delivers it as `.eml` files into the run's temporary directory while the
//!   flow runs;
//! - every projection running (`serve`'s default, `--projectors in-process`);
//! - compliance bindings: 8 orders go submit → assign → approve → activate, and
//!   each one's SLA is bound to monitoring (`PUT /v1/agreements/{id}/monitoring`,
//!   an endpoint each, with an hour of probe results pushed), so the compliance
//!   aggregates and inline tables hold bound agreements. They are bound in
//!   set-up, not in the measured flow: binding an order of the flow would take
//!   two more commands per order (activate, which renders the agreements' PDFs,
//!   and bind), which would change what the figure measures.
//!
//! After the window the run shows the features were on, from the server: the
//! handling targets in force, the orders report (`GET /v1/reports/orders`: how
//! many orders had their clocks measured), one order's clocks, the outbox (mail
//! queued, delivered, pending) and the `.eml` files written, the bindings, every
//! read model's generation and lag (`pactum projections status`), and the
//! server's own count of non-2xx answers (`GET /metrics`). With every feature on,
//! the run fails if any of them is missing.
//!
//! `--bare` runs the scenario as it was before issue 18 (no handling targets, no
//! e-mail addresses, no bindings: nothing but the flow), for before/after
//! comparisons.
//!
//! Prints commands/s, p50/p95/p99 latency per request kind, errors (must be 0:
//! the process exits 1 otherwise), the server's peak RSS and its writer's work
//! over the window (group commits per second, jobs per commit, and the share of
//! the window the writer spent in a transaction, from `GET /metrics`); then, in
//! the same run,
//! the peer — the same four commands with Python's `eventsourcing` library on its
//! SQLite recorder at the same durability, in-process without HTTP
//! (`benches/peer_eventsourcing.py`) — and the raw limit, one durable SQLite
//! transaction per event row, with the ratios.
//!
//! `--wrk`: after pactum's run (before the peer), if `wrk` is on `PATH`, a fresh
//! server set up the same way takes `wrk -t2 -c64 -d<seconds>s --latency` of
//! `POST /v1/orders` as the customer (`benches/wrk_submit.lua`, which reads the
//! token and the body from `PACTUM_WRK_TOKEN` and `PACTUM_WRK_BODY` and counts
//! each answer's status); prints submits/s and wrk's latency lines, and fails if
//! any answer was not 2xx or any socket error occurred.
//!
//! Run: `cargo bench --bench load` (30 s), `-- --seconds 60 --clients 128`,
//! `-- --quick` (under 30 s in all without `--wrk`), `-- --no-peer` (pactum
//! alone), `-- --bare`, `-- --wrk`; `PACTUM_BENCH_BIN=<path>` runs another build
//! of pactum. CI runs `cargo bench --bench load --profile dev -- --quick
//! --no-peer` as a smoke test: it checks that the flow runs with 0 errors and
//! every feature on, not how fast.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::{arg, cast, cast_with_mail, flag, order, quantile_ms, start_node};
use pactum_testkit::process::Node;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::sync::Mutex;

const KINDS: [&str; 5] = ["submit", "assign", "comment", "approve", "queue"];

/// Agreements activated and bound to monitoring in set-up (every feature on).
const AGREEMENTS: usize = 8;

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

/// A server set up for the scenario, and who acts on it.
struct Setup {
    node: Node,
    alice: String,
    sam: String,
    admin: String,
    data_dir: PathBuf,
    /// Where mail is delivered (every feature on).
    mail_dir: Option<PathBuf>,
    /// The SLAs bound to monitoring, with their endpoint.
    bound: Vec<(String, String)>,
}

#[tokio::main]
async fn main() {
    let quick = flag("--quick");
    let full = !flag("--bare");
    let seconds: u64 = arg("--seconds")
        .and_then(|s| s.parse().ok())
        .unwrap_or(if quick { 8 } else { 30 });
    let clients: usize = arg("--clients").and_then(|s| s.parse().ok()).unwrap_or(64);
    let warm_up = Duration::from_secs(if quick { 1 } else { 3 });
    let scenario = if full { "every feature on" } else { "bare" };

    let dir = tempfile::TempDir::new().unwrap();
    let set_up_started = Instant::now();
    let setup = set_up(dir.path(), full).await;
    println!(
        "pactum serve, embedded SQLite (WAL, synchronous=FULL), {clients} keep-alive clients, \
         {seconds} s after {} s warm-up; scenario: {scenario} ({}; set up in {:.1} s)",
        warm_up.as_secs(),
        if full {
            format!(
                "handling targets, e-mail addresses with mail delivered to .eml files, every \
                 projection, {AGREEMENTS} agreements bound to monitoring"
            )
        } else {
            "no handling targets, no e-mail addresses, no bindings".to_owned()
        },
        set_up_started.elapsed().as_secs_f64()
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
            let (client, base) = (client.clone(), setup.node.address.clone());
            let (alice, sam) = (setup.alice.clone(), setup.sam.clone());
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
    let mails_before = setup.mail_dir.as_deref().map_or(0, eml_files);
    let writer_before = WriterTotals::read(&setup).await;
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let commands = tally.commands.load(Ordering::Relaxed) - commands_before;
    let reads = tally.reads.load(Ordering::Relaxed) - reads_before;
    let mails_in_window = setup.mail_dir.as_deref().map_or(0, eml_files) - mails_before;
    let elapsed = started.elapsed().as_secs_f64();
    let writer_after = WriterTotals::read(&setup).await;
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        worker.await.unwrap();
    }
    let errors = tally.errors.load(Ordering::Relaxed);
    let rss = setup.node.peak_rss_mib();

    let commands_per_s = commands as f64 / elapsed;
    println!(
        "pactum ({scenario}): {commands_per_s:.0} commands/s ({commands} commands, {reads} queue \
         reads in {elapsed:.1} s), errors {errors}, server peak RSS {}",
        rss.map_or("n/a".into(), |m| format!("{m:.1} MiB"))
    );
    let mut latencies = std::mem::take(&mut *tally.latencies.lock().await);
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
    if full {
        println!(
            "  mail delivered during the window: {mails_in_window} .eml files ({:.0}/s)",
            mails_in_window as f64 / elapsed
        );
    }
    let batches = writer_after.batches - writer_before.batches;
    println!(
        "  the store's writer (GET /metrics): {:.0} transactions/s of {:.1} jobs on average, \
         in a transaction {:.0} % of the window",
        batches / elapsed,
        (writer_after.jobs - writer_before.jobs) / batches.max(1.0),
        (writer_after.seconds - writer_before.seconds) / elapsed * 100.0
    );

    let mut failures = features(&setup, true).await;
    if full && mails_in_window == 0 {
        failures.push("no mail was delivered during the measured window".to_owned());
    }
    let data_dir = setup.data_dir.clone();
    drop(setup);
    failures.extend(projections(&data_dir));

    let mut wrk_failed = false;
    if flag("--wrk") {
        wrk_failed = !wrk(full, seconds).await;
    }
    if !flag("--no-peer") {
        peer(seconds, commands_per_s);
    }
    let mut failed = false;
    if errors > 0 {
        eprintln!("FAILED: {errors} requests failed");
        failed = true;
    }
    if full && !failures.is_empty() {
        eprintln!(
            "FAILED: the scenario claims every feature on, but: {}",
            failures.join("; ")
        );
        failed = true;
    }
    if wrk_failed {
        eprintln!("FAILED: wrk: see above (answers not 2xx, socket errors or a feature missing)");
        failed = true;
    }
    if failed {
        std::process::exit(1);
    }
}

/// A store in `dir`, its tokens, and `pactum serve` on it; with every feature on
/// (`full`), mail delivery to `dir/mail`, handling targets, and
/// [`AGREEMENTS`] activated orders whose SLAs are bound to monitoring.
async fn set_up(dir: &Path, full: bool) -> Setup {
    let data_dir = dir.join("data");
    let data = data_dir.display().to_string();
    let storage = ["--data-dir", data.as_str()];
    common::pactum(&["migrate", "--data-dir", &data]);
    let (alice, sam) = if full {
        cast_with_mail(&storage)
    } else {
        cast(&storage)
    };
    let admin = common::admin(&storage);
    let mail_dir = full.then(|| dir.join("mail"));
    let mail = mail_dir.as_ref().map(|d| d.display().to_string());
    let mut serve = storage.to_vec();
    if let Some(mail) = &mail {
        std::fs::create_dir_all(mail).expect("a mail directory");
        serve.extend(["--mail-dir", mail.as_str()]);
    }
    let node = start_node(&serve).await;
    let mut setup = Setup {
        node,
        alice,
        sam,
        admin,
        data_dir,
        mail_dir,
        bound: Vec::new(),
    };
    if full {
        let node = &setup.node;
        let day = json!(["09:00-12:00", "13:00-18:00"]);
        let targets = json!({
            "first_response": "PT4H",
            "decision": "PT8H",
            "calendar": {"time_zone": "Europe/Paris", "hours": {
                "monday": day, "tuesday": day, "wednesday": day, "thursday": day, "friday": day}}
        });
        ok(
            "define handling targets",
            send(
                node.client
                    .put(node.url("/v1/handling-targets/compute"))
                    .bearer_auth(&setup.admin)
                    .json(&targets),
            )
            .await,
        );
        for i in 0..AGREEMENTS {
            let (alice, sam) = (&setup.alice, &setup.sam);
            let submitted = ok(
                "submit",
                node.post_json("/v1/orders", alice, &order()).await,
            );
            let id = submitted["id"].as_str().expect("an order id").to_owned();
            ok(
                "assign",
                node.command(&id, "assign", sam, json!({"assignee": "sam"}))
                    .await,
            );
            ok(
                "approve",
                node.command(&id, "approve", sam, json!({})).await,
            );
            let activated = ok(
                "activate",
                node.command(&id, "activate", sam, json!({})).await,
            );
            let sla = activated["agreements"]
                .as_array()
                .and_then(|all| {
                    all.iter()
                        .find(|a| a["kind"] == "sla")
                        .or_else(|| all.first())
                })
                .and_then(|a| a["agreement_id"].as_str())
                .unwrap_or_else(|| panic!("activation issued no SLA: {activated}"))
                .to_owned();
            let endpoint = format!("cloud-{i}.acme.test");
            ok(
                "bind to monitoring",
                send(
                    node.client
                        .put(node.url(&format!("/v1/agreements/{sla}/monitoring")))
                        .bearer_auth(sam)
                        .json(&json!({"endpoints": [endpoint]})),
                )
                .await,
            );
            // An hour of 5-minute probe results, up to now.
            let now = jiff::Timestamp::now();
            let results: Vec<Value> = (0..12)
                .rev()
                .map(|k| {
                    let at = now - jiff::SignedDuration::from_mins(5 * k + 1);
                    json!({"timestamp": at.to_string(), "status": "OK"})
                })
                .collect();
            ok(
                "push probe results",
                node.post_json(
                    "/v1/monitoring/status",
                    &setup.admin,
                    &json!({"endpoint": endpoint, "results": results}),
                )
                .await,
            );
            setup.bound.push((sla, endpoint));
        }
    }
    setup
}

/// The body of a successful answer; panics (set-up cannot go on) otherwise.
fn ok(what: &str, (status, body): (StatusCode, Value)) -> Value {
    assert!(status.is_success(), "set-up, {what}: {status}: {body}");
    body
}

async fn send(request: reqwest::RequestBuilder) -> (StatusCode, Value) {
    pactum_testkit::http::send(request).await
}

/// `.eml` files in `dir`.
fn eml_files(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |entries| {
        entries
            .filter_map(Result::ok)
            .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
            .count()
    })
}

/// The outbox's mails by status (`pending`, `delivered`, `failed`), read from
/// the store's file (read-only; there is no endpoint for the outbox).
fn outbox(data_dir: &Path) -> BTreeMap<String, u64> {
    let read = || -> rusqlite::Result<BTreeMap<String, u64>> {
        let db = rusqlite::Connection::open_with_flags(
            data_dir.join("pactum.db"),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )?;
        db.busy_timeout(Duration::from_secs(5))?;
        let mut statement = db.prepare("SELECT status, COUNT(*) FROM outbox GROUP BY status")?;
        let rows = statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
        rows.collect()
    };
    read().unwrap_or_else(|error| {
        eprintln!("outbox: {error}");
        BTreeMap::new()
    })
}

/// Prints what the server shows of each feature; returns what is missing of
/// those the full scenario claims. `flow`: orders were approved (the orders
/// report then counts measured clocks).
async fn features(setup: &Setup, flow: bool) -> Vec<String> {
    let (node, admin) = (&setup.node, setup.admin.as_str());
    let mut missing = Vec::new();
    println!("features, as the server shows them:");

    let (_, targets) = node.get_json("/v1/handling-targets", admin).await;
    let targets = targets["targets"].as_array().cloned().unwrap_or_default();
    let keys: Vec<String> = targets
        .iter()
        .map(|t| format!("{} v{}", t["key"].as_str().unwrap_or("?"), t["version"]))
        .collect();
    println!(
        "  handling targets in force: {}",
        if keys.is_empty() {
            "none".to_owned()
        } else {
            keys.join(", ")
        }
    );
    if targets.is_empty() {
        missing.push("no handling targets".to_owned());
    }

    // The orders report answers once `order_report` has reached the head.
    let now = jiff::Timestamp::now();
    let day = jiff::SignedDuration::from_hours(24);
    let path = format!("/v1/reports/orders?from={}&to={}", now - day, now + day);
    let mut report = Value::Null;
    for _ in 0..30 {
        let (status, body) = node.get_json(&path, admin).await;
        if status.is_success() {
            report = body;
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let rows = report["rows"].as_array().cloned().unwrap_or_default();
    let sum = |f: &dyn Fn(&Value) -> &Value| {
        rows.iter()
            .map(|row| f(row).as_u64().unwrap_or(0))
            .sum::<u64>()
    };
    let (submitted, approved) = (sum(&|r| &r["submitted"]), sum(&|r| &r["approved"]));
    let first = sum(&|r| &r["first_response"]["measured"]);
    let decision = sum(&|r| &r["decision"]["measured"]);
    println!(
        "  orders report: {submitted} submitted, {approved} approved; clocks measured: first \
         response {first}, decision {decision}"
    );
    if report.is_null() {
        missing.push("the orders report did not answer".to_owned());
    } else if flow && (first == 0 || decision == 0) {
        missing.push("no order had its clocks measured".to_owned());
    }

    // The newest order in the queue, as staff see it.
    let (_, page) = node.get_json("/v1/orders?limit=1", &setup.sam).await;
    let clocks = match page["orders"][0]["id"].as_str() {
        Some(id) => {
            let (_, view) = node.get_json(&format!("/v1/orders/{id}"), &setup.sam).await;
            view["handling"]["clocks"].clone()
        }
        None => Value::Null,
    };
    let described: Vec<String> = clocks
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(_, clock)| !clock.is_null())
        .map(|(name, clock)| {
            format!(
                "{name} {} due {}",
                clock["state"].as_str().unwrap_or("?"),
                clock["due_at"].as_str().unwrap_or("?")
            )
        })
        .collect();
    println!(
        "  the newest order's clocks: {}",
        if described.is_empty() {
            "none".to_owned()
        } else {
            described.join(", ")
        }
    );
    if described.is_empty() {
        missing.push("the newest order has no handling clocks".to_owned());
    }

    let statuses = outbox(&setup.data_dir);
    let queued: u64 = statuses.values().sum();
    let files = setup.mail_dir.as_deref().map_or(0, eml_files);
    let by_status: Vec<String> = statuses
        .iter()
        .map(|(status, n)| format!(", {status} {n}"))
        .collect();
    println!(
        "  mail: {queued} queued in the outbox{}, {files} .eml files in {}",
        by_status.concat(),
        setup
            .mail_dir
            .as_deref()
            .map_or("(no mail directory)".into(), |d| d.display().to_string())
    );
    if queued == 0 {
        missing.push("no mail was queued".to_owned());
    }
    if files == 0 {
        missing.push("no mail was delivered".to_owned());
    }

    let mut bound = 0;
    for (sla, _) in &setup.bound {
        let (status, binding) = node
            .get_json(&format!("/v1/agreements/{sla}/monitoring"), admin)
            .await;
        if status.is_success()
            && binding["endpoints"]
                .as_array()
                .is_some_and(|e| !e.is_empty())
        {
            bound += 1;
        }
    }
    let points = match setup.bound.first() {
        Some((_, endpoint)) => {
            let (_, view) = node
                .get_json(&format!("/v1/monitoring/endpoints/{endpoint}"), admin)
                .await;
            format!(
                "; {endpoint}: {}, {} status points",
                view["status"].as_str().unwrap_or("?"),
                view["points"]
            )
        }
        None => String::new(),
    };
    println!("  agreements bound to monitoring: {bound}{points}");
    if bound < AGREEMENTS {
        missing.push(format!("{bound} of {AGREEMENTS} agreements bound"));
    }

    let (_, metrics) = send(node.client.get(node.url("/metrics")).bearer_auth(admin)).await;
    let by_status = http_answers(metrics.as_str().unwrap_or(""), None);
    let not_2xx: u64 = by_status
        .iter()
        .filter(|(status, _)| !(200..300).contains(*status))
        .map(|(_, n)| n)
        .sum();
    println!(
        "  server's count of its answers (GET /metrics): {} in all, {not_2xx} not 2xx",
        by_status.values().sum::<u64>()
    );
    missing
}

/// `pactum projections status` on the stopped server's store: every read model
/// and how far behind the log it stopped.
fn projections(data_dir: &Path) -> Vec<String> {
    let data = data_dir.display().to_string();
    let table = common::pactum(&["projections", "status", "--data-dir", &data]);
    let mut missing = Vec::new();
    let mut shown = Vec::new();
    for line in table.lines().skip(1) {
        let fields: Vec<&str> = line.split('\t').collect();
        if let [name, version, _generation, state, _checkpoint, lag] = fields[..] {
            if state == "retired" {
                continue;
            }
            shown.push(format!("{name} v{version} {state}, lag {lag}"));
            if state != "live" {
                missing.push(format!("read model {name} is {state}"));
            }
        }
    }
    println!(
        "  read models (pactum projections status, after the server stopped): {}",
        shown.join("; ")
    );
    if shown.is_empty() {
        missing.push("no read model".to_owned());
    }
    missing
}

/// The single writer's running totals, from `GET /metrics`: its transactions
/// (group commits), the jobs they committed, and the time spent in them (from
/// `BEGIN` to the end of `COMMIT`). Their change over the window says how busy
/// the writer was: near 100 %, it is what the rate waits on.
struct WriterTotals {
    batches: f64,
    jobs: f64,
    seconds: f64,
}

impl WriterTotals {
    async fn read(setup: &Setup) -> Self {
        let (_, metrics) = send(
            setup
                .node
                .client
                .get(setup.node.url("/metrics"))
                .bearer_auth(&setup.admin),
        )
        .await;
        let metrics = metrics.as_str().unwrap_or("");
        let value = |name: &str| {
            metrics
                .lines()
                .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
                .and_then(|v| v.trim().parse::<f64>().ok())
                .unwrap_or(f64::NAN)
        };
        Self {
            batches: value("pactum_append_batches_total"),
            jobs: value("pactum_append_batch_jobs_sum"),
            seconds: value("pactum_append_commit_duration_seconds_sum"),
        }
    }
}

/// `pactum_http_requests_total` by status, from `GET /metrics`; only the
/// requests of `route` (`METHOD /path`) if given.
fn http_answers(metrics: &str, route: Option<(&str, &str)>) -> BTreeMap<u16, u64> {
    let mut by_status = BTreeMap::new();
    for line in metrics.lines() {
        let Some(rest) = line.strip_prefix("pactum_http_requests_total{") else {
            continue;
        };
        let Some((labels, count)) = rest.split_once("} ") else {
            continue;
        };
        let label = |name: &str| {
            labels.split(',').find_map(|pair| {
                pair.strip_prefix(name)
                    .and_then(|v| v.strip_prefix("=\""))
                    .and_then(|v| v.strip_suffix('"'))
            })
        };
        if let Some((method, path)) = route
            && (label("method") != Some(method) || label("route") != Some(path))
        {
            continue;
        }
        let (Some(status), Ok(count)) = (
            label("status").and_then(|s| s.parse::<u16>().ok()),
            count.trim().parse::<f64>(),
        ) else {
            continue;
        };
        *by_status.entry(status).or_default() += count as u64;
    }
    by_status
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

/// `wrk` against `POST /v1/orders` on a fresh server set up like pactum's run,
/// for `seconds`; prints submits/s and wrk's latency lines. False if any answer
/// was not 2xx or any socket error occurred.
async fn wrk(full: bool, seconds: u64) -> bool {
    let Some(wrk) = common::on_path("wrk") else {
        println!("wrk: not on PATH, skipped (Debian: apt-get install wrk)");
        return true;
    };
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/wrk_submit.lua");
    let dir = tempfile::TempDir::new().unwrap();
    let setup = set_up(dir.path(), full).await;
    let node = &setup.node;
    let route = Some(("POST", "/v1/orders"));
    let server_count = async || {
        let (_, metrics) = send(
            node.client
                .get(node.url("/metrics"))
                .bearer_auth(&setup.admin),
        )
        .await;
        http_answers(metrics.as_str().unwrap_or(""), route)
    };
    let before = server_count().await;
    let mut command = std::process::Command::new(&wrk);
    command
        .args([
            "-t2",
            "-c64",
            &format!("-d{seconds}s"),
            "--latency",
            "-s",
            script,
        ])
        .arg(node.url("/v1/orders"))
        .env("PACTUM_WRK_TOKEN", &setup.alice)
        .env("PACTUM_WRK_BODY", order().to_string());
    println!(
        "wrk -t2 -c64 -d{seconds}s --latency -s benches/wrk_submit.lua POST /v1/orders (a fresh \
         server, scenario: {}):",
        if full { "every feature on" } else { "bare" }
    );
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap();
    let output = match output {
        Ok(output) if output.status.success() => output,
        Ok(output) => {
            println!(
                "wrk: exited {}: {}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            );
            return false;
        }
        Err(error) => {
            println!("wrk: could not run {}: {error}", wrk.display());
            return false;
        }
    };
    let after = server_count().await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let mut counted: Option<Value> = None;
    for line in stdout.lines() {
        match line.strip_prefix("PACTUM_WRK ") {
            Some(json) => counted = serde_json::from_str(json).ok(),
            None => println!("  | {line}"),
        }
    }
    let Some(counted) = counted else {
        println!("wrk: {script} reported no counts");
        return false;
    };
    let number = |key: &str| counted[key].as_u64().unwrap_or(0);
    let (requests, non_2xx) = (number("requests"), number("non_2xx"));
    let socket_errors: u64 = ["connect", "read", "write", "timeout"]
        .iter()
        .map(|k| counted["errors"][k].as_u64().unwrap_or(0))
        .sum();
    let duration = counted["duration_us"].as_f64().unwrap_or(f64::NAN) / 1e6;
    let submitted = requests.saturating_sub(non_2xx);
    let answered = |ok: bool| -> u64 {
        after
            .iter()
            .filter(|(status, _)| (200..300).contains(*status) == ok)
            .map(|(status, n)| n - before.get(status).copied().unwrap_or(0))
            .sum()
    };
    let (server_2xx, server_not_2xx) = (answered(true), answered(false));
    println!(
        "wrk: {:.0} submits/s ({submitted} orders answered 2xx in {duration:.1} s; statuses {}), \
         non-2xx {non_2xx}, socket errors {socket_errors}; the server counted {server_2xx} 2xx \
         answers to POST /v1/orders (with those in flight when wrk stopped), {server_not_2xx} \
         others",
        submitted as f64 / duration,
        counted["statuses"]
    );
    let missing = features(&setup, false).await;
    if full && !missing.is_empty() {
        println!("wrk: every feature on, but: {}", missing.join("; "));
    }
    non_2xx == 0 && server_not_2xx == 0 && socket_errors == 0 && (!full || missing.is_empty())
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
