//! Compliance at scale (issue 17): a year of 5-minute probe results for 200
//! monitored endpoints — 21,024,000 results — pushed to `pactum serve` over
//! HTTP, then the monthly compliance report and one agreement's year.
//!
//! The store is the embedded SQLite one at full durability, as in the load
//! scenario. Before the ingest the benchmark activates one cloud order per ten
//! endpoints (an SLA and two OLAs each: 20 SLAs and 40 OLAs for 200 endpoints)
//! and binds each SLA to its ten endpoints (`all`), the cesnet-mcc OLA to the
//! first five (`all`) and the in2p3-ires OLA to the last five (`any`), counted
//! in Europe/Amsterdam from the first day of the year.
//!
//! The results are made up but deterministic (a seeded generator, no clock):
//! mostly OK, WARNING spells of up to an hour about every other day, a
//! CRITICAL outage of one to six hours about once a month, UNKNOWN gaps of up
//! to an hour about once a week, and a scheduled DOWNTIME of two to four hours
//! about every six weeks, per endpoint. A monitoring system's token pushes them
//! one endpoint-day (288 results; 276 or 300 on the days clocks change) per
//! request, from C concurrent keep-alive clients (default 8), day after day,
//! every endpoint's day before the next day.
//!
//! The server runs on a manual clock (`serve --manual-clock`), so that the
//! year can be a whole year of the future (2027, or next year when that is
//! later): an agreement's validity starts no earlier than its activation, and
//! results may not be dated more than five minutes after the server's clock.
//! Two scenarios:
//! - *live* (default): the benchmark moves the clock to the end of each day
//!   before pushing that day, as if the results arrived as they happened; each
//!   month closes (`ServiceLevelMeasured`) once its last day is in. The time
//!   spent moving the clock (the timers close the months then) counts as
//!   ingest time.
//! - *backfill* (`--backfill`): the clock moves past the last day first, so
//!   every month is closed on no data before the first result arrives; every
//!   push is then late data for closed months, which the server measures again
//!   (`ServiceLevelCorrected`). Its cost grows with the data already in: see
//!   `BENCHMARKS.md` before running it at full size.
//!
//! Prints results pushed, status points and events recorded, ingest results/s
//! and requests/s (over the whole ingest), push latencies, then the monthly
//! report (JSON, CSV and PDF: median of 5) and one SLA's year month by month
//! (median of 5), the server's peak RSS during the ingest and during the
//! reports, and the store's size on disk. Any failed request makes the process
//! exit 1 (a PDF renderer that is not built yet, a 500 for `format=pdf`, is
//! reported and skipped).
//!
//! Run: `cargo bench --bench compliance` (200 endpoints × 365 days, live),
//! `-- --backfill --days 31`,
//! `-- --endpoints 50 --days 90 --clients 4 --days-per-push 7`, `-- --quick`
//! (20 endpoints × 31 days). CI may run `cargo bench --bench compliance
//! --profile dev -- --quick` as a smoke test: it checks that every request
//! succeeds, not how fast.

mod common;

use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{arg, flag, quantile_ms, start_node};
use jiff::Timestamp;
use jiff::civil::Date;
use pactum_testkit::principals;
use serde_json::{Value, json};
use tokio::sync::Mutex;

/// Probe results come every five minutes.
const SLOT_SECONDS: i64 = 300;
const SLOTS_PER_DAY: u64 = 288;
/// Endpoints bound to one SLA (one order).
const ENDPOINTS_PER_ORDER: usize = 10;
const TIME_ZONE: &str = "Europe/Amsterdam";
const SEED: u64 = 0x5eed_0017;
/// Each report and view is timed this many times; the median is printed.
const RUNS: usize = 5;

/// The statuses, as indexes into [`STATUS`].
const OK: u8 = 0;
const WARNING: u8 = 1;
const CRITICAL: u8 = 2;
const UNKNOWN: u8 = 3;
const DOWNTIME: u8 = 4;
const STATUS: [&str; 5] = ["OK", "WARNING", "CRITICAL", "UNKNOWN", "DOWNTIME"];

struct Options {
    endpoints: usize,
    days: usize,
    clients: usize,
    days_per_push: usize,
    backfill: bool,
    year: i16,
}

impl Options {
    fn parse() -> Self {
        let quick = flag("--quick");
        let number = |name: &str, default: usize| {
            arg(name)
                .map(|s| {
                    s.parse()
                        .unwrap_or_else(|_| panic!("{name} takes a number"))
                })
                .unwrap_or(default)
        };
        // The manual clock only moves forward from the machine's time: the
        // year lies ahead.
        let year = (Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).year() + 1).max(2027);
        let in_year = Date::new(year, 1, 1).unwrap().days_in_year() as usize;
        let options = Self {
            endpoints: number("--endpoints", if quick { 20 } else { 200 }),
            days: number("--days", if quick { 31 } else { in_year }),
            clients: number("--clients", 8),
            days_per_push: number("--days-per-push", 1),
            backfill: flag("--backfill"),
            year,
        };
        assert!(options.endpoints > 0 && options.days > 0 && options.clients > 0);
        assert!(options.days_per_push > 0 && options.days <= 366);
        options
    }

    fn first_day(&self) -> Date {
        Date::new(self.year, 1, 1).unwrap()
    }

    fn last_day(&self) -> Date {
        self.first_day()
            .checked_add(jiff::Span::new().days(self.days as i64 - 1))
            .unwrap()
    }
}

/// The tokens of the cast, minted by `pactum token create` before the server starts.
struct Tokens {
    alice: String,
    sam: String,
    cesnet: String,
    in2p3: String,
    admin: String,
    probe: String,
}

fn token(request: &pactum::access::tokens::TokenRequest, data_dir: &str) -> String {
    let mut args = vec!["token".to_owned(), "create".to_owned()];
    args.extend(principals::args(request));
    args.extend(["--data-dir".to_owned(), data_dir.to_owned()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    common::pactum(&args)
        .lines()
        .last()
        .expect("a token")
        .trim()
        .to_owned()
}

/// The HTTP side: one keep-alive client, the server's address.
struct Api {
    client: reqwest::Client,
    base: String,
}

impl Api {
    /// Sends `request`; the parsed answer, or the process fails.
    async fn call(&self, what: &str, request: reqwest::RequestBuilder) -> Value {
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        if !status.is_success() {
            eprintln!("FAILED: {what}: {status}: {body}");
            std::process::exit(1);
        }
        serde_json::from_str(&body).unwrap_or(Value::Null)
    }

    async fn post(&self, what: &str, path: &str, token: &str, body: Value) -> Value {
        let request = self
            .client
            .post(format!("{}{path}", self.base))
            .bearer_auth(token)
            .json(&body);
        self.call(what, request).await
    }

    async fn put(&self, what: &str, path: &str, token: &str, body: Value) -> Value {
        let request = self
            .client
            .put(format!("{}{path}", self.base))
            .bearer_auth(token)
            .json(&body);
        self.call(what, request).await
    }

    /// A GET timed from the request to the last byte of the answer.
    async fn timed_get(&self, path: &str, token: &str) -> (Duration, reqwest::StatusCode, Vec<u8>) {
        let started = Instant::now();
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .bearer_auth(token)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map(|b| b.to_vec())
            .unwrap_or_default();
        (started.elapsed(), status, bytes)
    }

    /// Moves the manual clock to `now` (the timers record what fell due first).
    async fn clock(&self, admin: &str, now: Timestamp) {
        self.post(
            "move the clock",
            "/v1/admin/clock",
            admin,
            json!({"now": now.to_string()}),
        )
        .await;
    }
}

/// An agreement of an active order.
struct Agreement {
    id: String,
    kind: String,
    provider: Option<String>,
}

/// One cloud order from submission to activation, valid for the benchmarked
/// year; its SLA and its two OLAs.
async fn active_order(api: &Api, tokens: &Tokens, i: usize, options: &Options) -> Vec<Agreement> {
    let mut order = pactum_testkit::fixtures::cloud_order();
    order["title"] = json!(format!("Compliance bench {i}"));
    order["parameters"]["start_date"] = json!(options.first_day().to_string());
    order["parameters"]["duration_days"] = json!(options.first_day().days_in_year());
    let submitted = api.post("submit", "/v1/orders", &tokens.alice, order).await;
    let id = submitted["id"].as_str().expect("an order id").to_owned();
    let path = |action: &str| format!("/v1/orders/{id}/{action}");
    let sam = &tokens.sam;
    api.post("assign", &path("assign"), sam, json!({"assignee": "sam"}))
        .await;
    api.post("approve", &path("approve"), sam, json!({})).await;
    let steps = json!({"steps": [
        {"provider": "cesnet-mcc", "action": "Create the project with 8 cores"},
        {"provider": "in2p3-ires", "action": "Open a 40 GB volume quota"}
    ]});
    api.post("plan", &path("provisioning"), sam, steps).await;
    let done = json!({"note": "done by the site"});
    api.post(
        "step 1",
        &path("provisioning/1/done"),
        &tokens.cesnet,
        done.clone(),
    )
    .await;
    api.post("step 2", &path("provisioning/2/done"), &tokens.in2p3, done)
        .await;
    let active = api
        .post("activate", &path("activate"), sam, json!({}))
        .await;
    active["agreements"]
        .as_array()
        .expect("the order's agreements")
        .iter()
        .map(|a| Agreement {
            id: a["agreement_id"].as_str().expect("an id").to_owned(),
            kind: a["kind"].as_str().expect("a kind").to_owned(),
            provider: a["provider"].as_str().map(str::to_owned),
        })
        .collect()
}

/// A small deterministic generator (SplitMix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn one_in(&mut self, n: u64) -> bool {
        self.below(n) == 0
    }
}

/// Endpoint `endpoint`'s status in each of `slots` five-minute slots.
fn statuses(endpoint: usize, slots: usize) -> Vec<u8> {
    let mut rng = Rng(SEED ^ (endpoint as u64 + 1).wrapping_mul(0x2545_f491_4f6c_dd1d));
    let mut out = Vec::with_capacity(slots);
    let (mut current, mut left) = (OK, 0u64);
    for slot in 0..slots as u64 {
        if left == 0 {
            current = OK;
            // Maintenance starts at 08:00 into a day; outages and gaps any time.
            if slot % SLOTS_PER_DAY == 96 && rng.one_in(42) {
                (current, left) = (DOWNTIME, 24 + rng.below(25));
            } else if rng.one_in(SLOTS_PER_DAY * 30) {
                (current, left) = (CRITICAL, 12 + rng.below(61));
            } else if rng.one_in(SLOTS_PER_DAY * 7) {
                (current, left) = (UNKNOWN, 1 + rng.below(12));
            } else if rng.one_in(SLOTS_PER_DAY * 2) {
                (current, left) = (WARNING, 1 + rng.below(12));
            }
        }
        left = left.saturating_sub(1);
        out.push(current);
    }
    out
}

/// The ingest's shape: a grid of five-minute slots from the first local
/// midnight, cut into days and pushes at local midnights.
struct Grid {
    start: Timestamp,
    /// The first slot of each day, and the end of the last.
    days: Vec<usize>,
    /// The first slot of each push, and the end of the last.
    cuts: Vec<usize>,
}

impl Grid {
    fn new(options: &Options) -> Self {
        let zone = jiff::tz::TimeZone::get(TIME_ZONE).unwrap();
        let midnight = |day: usize| {
            options
                .first_day()
                .checked_add(jiff::Span::new().days(day as i64))
                .unwrap()
                .to_zoned(zone.clone())
                .unwrap()
                .start_of_day()
                .unwrap()
                .timestamp()
        };
        let start = midnight(0);
        let days: Vec<usize> = (0..=options.days)
            .map(|day| ((midnight(day) - start).get_seconds() / SLOT_SECONDS) as usize)
            .collect();
        let cuts = (0..options.days)
            .step_by(options.days_per_push)
            .chain([options.days])
            .map(|day| days[day])
            .collect();
        Self { start, days, cuts }
    }

    /// The slots of day `i` (0 is the first day).
    fn day(&self, i: usize) -> Range<usize> {
        self.days[i]..self.days[i + 1]
    }

    fn slots(&self) -> usize {
        *self.cuts.last().unwrap()
    }

    fn pushes_per_endpoint(&self) -> usize {
        self.cuts.len() - 1
    }

    fn chunk(&self, i: usize) -> Range<usize> {
        self.cuts[i]..self.cuts[i + 1]
    }

    fn at(&self, slot: usize) -> Timestamp {
        self.start + jiff::SignedDuration::from_secs(slot as i64 * SLOT_SECONDS)
    }
}

fn endpoint_name(i: usize) -> String {
    format!("e{:03}.example.org", i + 1)
}

/// The index of an endpoint named by [`endpoint_name`].
fn endpoint_index(name: &str) -> Option<usize> {
    name.get(1..4)?.parse::<usize>().ok()?.checked_sub(1)
}

/// What the server should answer for a month's availability: `endpoints`
/// combined (`all`: the worst status holds, `any`: the best) in each slot of
/// `days`, each day's share of time up and unknown, averaged over the days as
/// ARGO does; percent, `None` when nothing was known.
fn expected_availability(
    data: &[Vec<u8>],
    endpoints: &[usize],
    all: bool,
    days: &[Range<usize>],
) -> Option<f64> {
    let badness = |s: &u8| match *s {
        OK => 0,
        WARNING => 1,
        UNKNOWN => 2,
        DOWNTIME => 4,
        _ => 5,
    };
    let (mut up, mut unknown) = (0.0, 0.0);
    for day in days {
        let (mut day_up, mut day_unknown) = (0usize, 0usize);
        for slot in day.clone() {
            let statuses = endpoints.iter().map(|&e| data[e][slot]);
            let status = if all {
                statuses.max_by_key(badness)
            } else {
                statuses.min_by_key(badness)
            };
            match status {
                Some(OK | WARNING) => day_up += 1,
                Some(UNKNOWN) => day_unknown += 1,
                _ => {}
            }
        }
        up += day_up as f64 / day.len() as f64;
        unknown += day_unknown as f64 / day.len() as f64;
    }
    let n = days.len() as f64;
    let (up, unknown) = (up / n, unknown / n);
    (unknown < 1.0).then(|| up / (1.0 - unknown) * 100.0)
}

/// The body of one push: endpoint `name`'s results for `slots`.
fn push_body(name: &str, grid: &Grid, statuses: &[u8], slots: Range<usize>) -> String {
    use std::fmt::Write;
    let mut body = String::with_capacity(64 + slots.len() * 56);
    let _ = write!(body, r#"{{"endpoint":"{name}","results":["#);
    for slot in slots {
        if !body.ends_with('[') {
            body.push(',');
        }
        let _ = write!(
            body,
            r#"{{"timestamp":"{}","status":"{}"}}"#,
            grid.at(slot),
            STATUS[statuses[slot] as usize]
        );
    }
    body.push_str("]}");
    body
}

#[derive(Default)]
struct Tally {
    results: AtomicU64,
    requests: AtomicU64,
    recorded: AtomicU64,
    recording_pushes: AtomicU64,
    errors: AtomicU64,
    latencies: Mutex<Vec<Duration>>,
}

/// Pushes `items` (push `i` is chunk `i / endpoints` of endpoint `i % endpoints`)
/// from `clients` concurrent clients.
async fn push_all(
    api: &Arc<Api>,
    probe: &Arc<String>,
    grid: &Arc<Grid>,
    data: &Arc<Vec<Vec<u8>>>,
    tally: &Arc<Tally>,
    items: Range<usize>,
    clients: usize,
) {
    let next = Arc::new(AtomicUsize::new(items.start));
    let workers: Vec<_> = (0..clients)
        .map(|_| {
            let (api, probe, grid, data) = (api.clone(), probe.clone(), grid.clone(), data.clone());
            let (tally, next, end) = (tally.clone(), next.clone(), items.end);
            tokio::spawn(async move {
                let mut mine = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= end {
                        break;
                    }
                    let endpoint = i % data.len();
                    let slots = grid.chunk(i / data.len());
                    let n = slots.len();
                    let name = endpoint_name(endpoint);
                    let body = push_body(&name, &grid, &data[endpoint], slots);
                    let started = Instant::now();
                    let sent = api
                        .client
                        .post(format!("{}/v1/monitoring/status", api.base))
                        .bearer_auth(probe.as_str())
                        .header(reqwest::header::CONTENT_TYPE, "application/json")
                        .body(body)
                        .send()
                        .await;
                    let answer = match sent {
                        Ok(response) if response.status().is_success() => {
                            response.json::<Value>().await.ok()
                        }
                        Ok(response) => {
                            let status = response.status();
                            let text = response.text().await.unwrap_or_default();
                            eprintln!("push {name}: {status}: {text:.300}");
                            None
                        }
                        Err(error) => {
                            eprintln!("push {name}: {error}");
                            None
                        }
                    };
                    mine.push(started.elapsed());
                    tally.requests.fetch_add(1, Ordering::Relaxed);
                    match answer {
                        Some(answer) if answer["accepted"].as_u64() == Some(n as u64) => {
                            tally.results.fetch_add(n as u64, Ordering::Relaxed);
                            let recorded = answer["recorded"].as_u64().unwrap_or(0);
                            tally.recorded.fetch_add(recorded, Ordering::Relaxed);
                            if recorded > 0 {
                                tally.recording_pushes.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        Some(answer) => {
                            eprintln!("push {name}: {n} results sent, answer {answer}");
                            tally.errors.fetch_add(1, Ordering::Relaxed);
                        }
                        None => {
                            tally.errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                tally.latencies.lock().await.extend(mine);
            })
        })
        .collect();
    for worker in workers {
        worker.await.unwrap();
    }
}

/// `/proc/<pid>/status`'s `key` (a size in kB), in MiB.
fn proc_mib(pid: u32, key: &str) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn mib(value: Option<f64>) -> String {
    value.map_or("n/a".into(), |m| format!("{m:.1} MiB"))
}

/// Bytes of the files under `dir`.
fn size_on_disk(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| match e.metadata() {
                    Ok(m) if m.is_dir() => size_on_disk(&e.path()),
                    Ok(m) => m.len(),
                    Err(_) => 0,
                })
                .sum()
        })
        .unwrap_or(0)
}

/// Waits until the log stops moving (timers catching up), up to a minute.
async fn settle(node: &pactum_testkit::process::Node) -> u64 {
    let mut head = node.head().await;
    for _ in 0..120 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = node.head().await;
        if now == head {
            return now;
        }
        head = now;
    }
    head
}

/// Median, fastest and slowest of `times`, in seconds.
fn spread(times: &mut [Duration]) -> (f64, f64, f64) {
    times.sort_unstable();
    let s = |d: Duration| d.as_secs_f64();
    (
        s(times[times.len() / 2]),
        s(times[0]),
        s(times[times.len() - 1]),
    )
}

/// Times `GET path` [`RUNS`] times and prints the median; the last answer.
/// `None` when the first answer is a 500 and `may_be_missing` (a renderer not
/// built yet); any other failure ends the run.
async fn time_get(
    api: &Api,
    label: &str,
    path: &str,
    token: &str,
    may_be_missing: bool,
) -> Option<Vec<u8>> {
    let mut times = Vec::new();
    let mut last = Vec::new();
    for run in 0..RUNS {
        let (elapsed, status, bytes) = api.timed_get(path, token).await;
        if !status.is_success() {
            let text = String::from_utf8_lossy(&bytes);
            if run == 0 && may_be_missing && status == reqwest::StatusCode::INTERNAL_SERVER_ERROR {
                println!("  {label:<34} skipped: {status} ({text:.200})");
                return None;
            }
            eprintln!("FAILED: GET {path}: {status}: {text:.300}");
            std::process::exit(1);
        }
        times.push(elapsed);
        last = bytes;
    }
    let (median, fastest, slowest) = spread(&mut times);
    println!(
        "  {label:<34} median {median:>8.3} s  (fastest {fastest:.3} s, slowest {slowest:.3} s, \
         {} bytes)",
        last.len()
    );
    Some(last)
}

#[tokio::main]
async fn main() {
    let options = Options::parse();
    let grid = Arc::new(Grid::new(&options));
    let orders = options.endpoints.div_ceil(ENDPOINTS_PER_ORDER);
    let total_pushes = options.endpoints * grid.pushes_per_endpoint();
    let total_results = (options.endpoints * grid.slots()) as u64;

    let dir = tempfile::TempDir::new().unwrap();
    let data_dir = dir.path().display().to_string();
    common::pactum(&["migrate", "--data-dir", &data_dir]);
    let tokens = Tokens {
        alice: token(&principals::customer("alice", "acme"), &data_dir),
        sam: token(&principals::shifter("sam", &["compute"]), &data_dir),
        cesnet: token(&principals::provider("ops-cesnet", "cesnet-mcc"), &data_dir),
        in2p3: token(&principals::provider("ops-in2p3", "in2p3-ires"), &data_dir),
        admin: token(&principals::role("ada", "admin"), &data_dir),
        probe: token(&principals::role("argo-probe", "monitoring"), &data_dir),
    };
    let node = start_node(&["--data-dir", data_dir.as_str(), "--manual-clock"]).await;
    let pid = node.child.id();
    eprintln!("server pid {pid}");
    let api = Arc::new(Api {
        client: reqwest::Client::builder()
            .pool_max_idle_per_host(options.clients + 2)
            .http1_only()
            .timeout(Duration::from_secs(3600))
            .build()
            .unwrap(),
        base: node.address.clone(),
    });
    println!(
        "pactum serve, embedded SQLite (WAL, synchronous=FULL), {} scenario: {} endpoints × {} \
         days of {} ({} to {}, {TIME_ZONE}), {} results, {} pushes of {} day(s) from {} clients",
        if options.backfill { "backfill" } else { "live" },
        options.endpoints,
        options.days,
        options.year,
        options.first_day(),
        options.last_day(),
        total_results,
        total_pushes,
        options.days_per_push,
        options.clients,
    );

    // The agreements, bound.
    let started = Instant::now();
    let names: Vec<String> = (0..options.endpoints).map(endpoint_name).collect();
    let mut slas = Vec::new();
    let mut agreements = 0;
    for i in 0..orders {
        let mine =
            &names[i * ENDPOINTS_PER_ORDER..((i + 1) * ENDPOINTS_PER_ORDER).min(names.len())];
        let half = mine.len().div_ceil(2);
        for agreement in active_order(&api, &tokens, i, &options).await {
            let (endpoints, combine) =
                match (agreement.kind.as_str(), agreement.provider.as_deref()) {
                    ("sla", _) => (mine, "all"),
                    (_, Some("cesnet-mcc")) => (&mine[..half], "all"),
                    _ if half < mine.len() => (&mine[half..], "any"),
                    _ => (mine, "any"),
                };
            let body = json!({
                "endpoints": endpoints,
                "combine": combine,
                "time_zone": TIME_ZONE,
                "from": options.first_day().to_string(),
            });
            let path = format!("/v1/agreements/{}/monitoring", agreement.id);
            api.put("bind", &path, &tokens.sam, body).await;
            agreements += 1;
            if agreement.kind == "sla" {
                slas.push(agreement.id);
            }
        }
    }
    if options.backfill {
        // Past the last day's end: every month closes, on no data.
        api.clock(&tokens.admin, grid.at(grid.slots())).await;
    }
    let head_before = settle(&node).await;
    println!(
        "set-up: {orders} active orders, {agreements} agreements bound ({} SLAs) in {:.1} s; \
         log at {head_before} events",
        slas.len(),
        started.elapsed().as_secs_f64()
    );
    let rss_setup = proc_mib(pid, "VmRSS:");

    // The ingest.
    let started = Instant::now();
    let data: Arc<Vec<Vec<u8>>> = Arc::new(
        (0..options.endpoints)
            .map(|e| statuses(e, grid.slots()))
            .collect(),
    );
    let shares: Vec<f64> = (0..STATUS.len() as u8)
        .map(|s| {
            let n: usize = data
                .iter()
                .map(|d| d.iter().filter(|x| **x == s).count())
                .sum();
            n as f64 / total_results as f64 * 100.0
        })
        .collect();
    println!(
        "results generated in {:.2} s: {}",
        started.elapsed().as_secs_f64(),
        STATUS
            .iter()
            .zip(&shares)
            .map(|(s, p)| format!("{s} {p:.3} %"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let tally = Arc::new(Tally::default());
    let probe = Arc::new(tokens.probe.clone());
    let started = Instant::now();
    let mut clock_time = Duration::ZERO;
    let progress = {
        let (tally, started) = (tally.clone(), started);
        tokio::spawn(async move {
            let mut reported = 0;
            let mut last = (Duration::ZERO, 0u64);
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                let done = tally.results.load(Ordering::Relaxed);
                let tenth = done * 10 / total_results.max(1);
                if tenth > reported {
                    reported = tenth;
                    let elapsed = started.elapsed();
                    let rate = (done - last.1) as f64 / (elapsed - last.0).as_secs_f64();
                    eprintln!(
                        "  {:>3} % after {:>7.1} s ({rate:.0} results/s over the last tenth)",
                        tenth * 10,
                        elapsed.as_secs_f64()
                    );
                    last = (elapsed, done);
                }
            }
        })
    };
    if options.backfill {
        push_all(
            &api,
            &probe,
            &grid,
            &data,
            &tally,
            0..total_pushes,
            options.clients,
        )
        .await;
    } else {
        for chunk in 0..grid.pushes_per_endpoint() {
            let moved = Instant::now();
            let end = grid.at(grid.chunk(chunk).end - 1);
            api.clock(&tokens.admin, end).await;
            clock_time += moved.elapsed();
            let items = chunk * options.endpoints..(chunk + 1) * options.endpoints;
            push_all(&api, &probe, &grid, &data, &tally, items, options.clients).await;
        }
        // Past the last day's end: its month closes too.
        let moved = Instant::now();
        api.clock(&tokens.admin, grid.at(grid.slots())).await;
        clock_time += moved.elapsed();
    }
    let ingest = started.elapsed().as_secs_f64();
    progress.abort();
    let head_after = settle(&node).await;
    let rss_ingest = proc_mib(pid, "VmHWM:");
    let rss_after = proc_mib(pid, "VmRSS:");
    let store_bytes = size_on_disk(dir.path());
    let errors = tally.errors.load(Ordering::Relaxed);
    let results = tally.results.load(Ordering::Relaxed);
    let requests = tally.requests.load(Ordering::Relaxed);
    let mut latencies = std::mem::take(&mut *tally.latencies.lock().await);
    latencies.sort_unstable();
    println!(
        "ingest: {results} results in {requests} requests, {ingest:.1} s: {:.0} results/s, \
         {:.1} requests/s; errors {errors}",
        results as f64 / ingest,
        requests as f64 / ingest
    );
    if !options.backfill {
        println!(
            "  of which moving the clock (timers, closing months): {:.1} s",
            clock_time.as_secs_f64()
        );
    }
    println!(
        "  push latency p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        quantile_ms(&latencies, 0.50),
        quantile_ms(&latencies, 0.95),
        quantile_ms(&latencies, 0.99),
        quantile_ms(&latencies, 1.0)
    );
    println!(
        "  status points recorded {} ({:.2} % of the results), by {} pushes; events appended \
         {} (log {head_before} → {head_after})",
        tally.recorded.load(Ordering::Relaxed),
        tally.recorded.load(Ordering::Relaxed) as f64 / results.max(1) as f64 * 100.0,
        tally.recording_pushes.load(Ordering::Relaxed),
        head_after - head_before,
    );
    println!(
        "  server RSS: {} after set-up, peak {} during the ingest, {} after it; store on disk {:.1} MiB",
        mib(rss_setup),
        mib(rss_ingest),
        mib(rss_after),
        store_bytes as f64 / 1024.0 / 1024.0
    );
    if errors > 0 || results != total_results {
        eprintln!("FAILED: {errors} pushes failed; {results} of {total_results} results taken");
        std::process::exit(1);
    }

    // The report and the year of one SLA. Peak RSS from here on: VmHWM reset.
    let reset = std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok();
    let period = options.last_day().strftime("%Y-%m").to_string();
    println!(
        "reading, as an admin (median of {RUNS}; {} agreements):",
        agreements
    );
    let admin = &tokens.admin;
    let report = format!("/v1/reports/compliance?period={period}");
    let json_bytes = time_get(
        &api,
        &format!("report {period}, JSON"),
        &report,
        admin,
        false,
    )
    .await
    .expect("a report");
    let parsed: Value = serde_json::from_slice(&json_bytes).expect("a JSON report");
    let rows = parsed["agreements"].as_array().map_or(0, Vec::len);
    if rows != agreements {
        eprintln!("FAILED: the report lists {rows} agreements, {agreements} are bound");
        std::process::exit(1);
    }
    time_get(
        &api,
        &format!("report {period}, CSV"),
        &format!("{report}&format=csv"),
        admin,
        false,
    )
    .await;
    time_get(
        &api,
        &format!("report {period}, PDF"),
        &format!("{report}&format=pdf"),
        admin,
        true,
    )
    .await;
    let view = format!(
        "/v1/agreements/{}/compliance?from={}&to={}&granularity=monthly",
        slas[0],
        options.first_day(),
        options.last_day()
    );
    let year = time_get(&api, "one SLA's year, monthly", &view, admin, false)
        .await
        .expect("a view");
    let rss_reports = proc_mib(pid, "VmHWM:");
    println!(
        "  server peak RSS while reading: {}{}",
        mib(rss_reports),
        if reset {
            ""
        } else {
            " (could not reset VmHWM: this is the peak since start)"
        }
    );

    // What the figures say, to see they are plausible.
    let month_of = |a: &Value| a["months"].as_array().and_then(|m| m.last()).cloned();
    let availabilities = |kind: &str| -> Vec<f64> {
        parsed["agreements"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|a| a["kind"] == kind)
            .filter_map(|a| month_of(a)?["availability"].as_f64())
            .collect()
    };
    for kind in ["sla", "ola"] {
        let values = availabilities(kind);
        if values.is_empty() {
            continue;
        }
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        let min = values.iter().copied().fold(f64::INFINITY, f64::min);
        println!(
            "  {period} availability of the {} {kind}s: mean {mean:.3} %, lowest {min:.3} %",
            values.len()
        );
    }
    let year: Value = serde_json::from_slice(&year).expect("a JSON view");
    let months: Vec<String> = year["months"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| match m["availability"].as_f64() {
            Some(a) => format!("{a:.2}"),
            None => "–".into(),
        })
        .collect();
    println!(
        "  {}'s availability by month: {}",
        slas[0],
        months.join(" ")
    );

    // The figures against the generated data: every agreement's month in the
    // report, every month of the SLA's year.
    let month_slots = |period: &str| -> Vec<Range<usize>> {
        (0..options.days)
            .filter(|&i| {
                let day = options
                    .first_day()
                    .checked_add(jiff::Span::new().days(i as i64))
                    .unwrap();
                day.strftime("%Y-%m").to_string() == period
            })
            .map(|i| grid.day(i))
            .collect()
    };
    let mut wrong = Vec::new();
    let mut checked = 0;
    let mut check = |agreement: &Value, month: &Value| {
        let endpoints: Vec<usize> = agreement["endpoints"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| endpoint_index(e.as_str()?))
            .collect();
        let period = month["period"].as_str().unwrap_or("?");
        let all = agreement["combine"] != "any";
        let expected = expected_availability(&data, &endpoints, all, &month_slots(period));
        let got = month["availability"].as_f64();
        checked += 1;
        let agrees = match (expected, got) {
            (Some(e), Some(g)) => (e - g).abs() < 1e-4,
            (e, g) => e.is_none() && g.is_none(),
        };
        if !agrees {
            wrong.push(format!(
                "{} {period}: {got:?}, the data say {expected:?}",
                agreement["reference"]
            ));
        }
    };
    for agreement in parsed["agreements"].as_array().into_iter().flatten() {
        for month in agreement["months"].as_array().into_iter().flatten() {
            check(agreement, month);
        }
    }
    for month in year["months"].as_array().into_iter().flatten() {
        check(&year, month);
    }
    if wrong.is_empty() {
        println!("  availability: {checked} agreement-months agree with the generated data");
    } else {
        println!(
            "FAILED: {} of {checked} agreement-months disagree with the generated data, e.g. {}",
            wrong.len(),
            wrong[..wrong.len().min(3)].join("; ")
        );
    }

    // What the ingest appended, by type (read after every timing).
    let mut kinds: std::collections::BTreeMap<String, u64> = Default::default();
    let mut after = head_before;
    while after < head_after {
        let page = api
            .call(
                "read the log",
                api.client
                    .get(format!("{}/v1/events?after={after}&limit=1000", api.base))
                    .bearer_auth(admin),
            )
            .await;
        let events = page["events"].as_array().expect("a page of events");
        for event in events {
            if event["position"].as_u64().is_some_and(|p| p <= head_after) {
                let kind = event["event_type"].as_str().unwrap_or("?").to_owned();
                *kinds.entry(kind).or_default() += 1;
            }
        }
        match page["next_after"].as_u64() {
            Some(next) if next > after => after = next,
            _ => break,
        }
    }
    println!(
        "events appended during the ingest: {}",
        kinds
            .iter()
            .map(|(kind, n)| format!("{kind} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    drop(node);
    if !wrong.is_empty() {
        std::process::exit(1);
    }
}
