//! Group commit (issue 6): the appends queued while a commit is in flight are
//! committed together, each job in a savepoint of its own, and answered only
//! after the batch's COMMIT.
//!
//! - `one_batch_...`: the library. A batch is held open by write tasks at both
//!   ends, so what it holds is known rather than hoped for: hundreds of
//!   concurrent appends, two pairs racing on one aggregate each, a refused
//!   `append_all`, reused idempotency keys. The refused jobs leave nothing; all
//!   the rest is in that one transaction, answered only once it committed, and
//!   there when the store is reopened.
//! - `a_writer_checks_...`: two stores on one database (the server and a
//!   command-line import, say): each writer's checks see what the other
//!   committed, heads and idempotency keys alike, though it remembers its own.
//! - `a_command_after_an_import_...`: a command queued behind an import, in
//!   the same batch, is checked against the imported events, which are in the
//!   batch's transaction but not yet in the file.
//! - `sigkill_...`: the real binary, SIGKILLed while 32 clients keep it
//!   committing in groups (submissions, assignments, approvals, activations
//!   that issue three agreements). Every acknowledged command is in the log
//!   afterwards, whole (events, agreements, documents and idempotent response
//!   together), gap-free and verified; whatever else is there was in flight.

use std::collections::{BTreeMap, HashMap};
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use pactum::store::verify;
use pactum::store::{
    AppendError, AppendOutcome, AppendRequest, EventStore, IdempotentResponse, StoredResponse,
};
use pactum_events::RecordedEvent;
use pactum_testkit::probe::{AGGREGATE, append};
use serde_json::json;
use sqlx::Connection;
use tempfile::TempDir;
use tokio::sync::{Semaphore, oneshot};
use tokio::task::JoinHandle;

const SCOPE: &str = "group-commit-test";

type Answer = Result<Vec<AppendOutcome>, AppendError>;

/// `request` sent with an idempotency key, for a request fingerprinted `hash`.
fn keyed(mut request: AppendRequest, key: &str, hash: &str) -> AppendRequest {
    request.meta.idempotency_key = Some(key.into());
    request.response = Some(IdempotentResponse {
        scope: SCOPE.into(),
        key: key.into(),
        request_hash: hash.into(),
        status: 201,
        body: json!({ "id": request.aggregate_id }).to_string(),
    });
    request
}

/// A write task holding the writer inside its batch until released.
struct Hold {
    /// Sent once the task runs: the newest position inside the batch's
    /// transaction, and the newest committed one (the store's head, which the
    /// writer moves only after a COMMIT).
    running: oneshot::Receiver<(u64, u64)>,
    release: oneshot::Sender<()>,
    done: JoinHandle<()>,
}

/// Queues the task (before returning) and leaves it in flight.
async fn hold(store: &EventStore) -> Hold {
    let (running_tx, running) = oneshot::channel();
    let (release, released) = oneshot::channel::<()>();
    let committed = store.clone();
    let store = store.clone();
    let mut write = Box::pin(async move {
        store
            .write(move |conn| {
                Box::pin(async move {
                    let in_batch = EventStore::head_on(conn).await?;
                    let _ = running_tx.send((in_batch, committed.head()));
                    let _ = released.await;
                    Ok::<_, sqlx::Error>(())
                })
            })
            .await
    });
    assert!(futures::poll!(write.as_mut()).is_pending());
    let done = tokio::spawn(async move {
        let kept = write.await;
        assert!(matches!(kept, Ok(Ok(()))), "{kept:?}");
    });
    Hold {
        running,
        release,
        done,
    }
}

/// Sends `requests` to the writer, which is held, and leaves the append in
/// flight: after one poll the job is queued (in the order of these calls) and
/// cannot have been answered.
async fn queue(store: &EventStore, requests: Vec<AppendRequest>) -> JoinHandle<Answer> {
    let store = store.clone();
    let mut append = Box::pin(async move { store.append_all(requests).await });
    assert!(futures::poll!(append.as_mut()).is_pending());
    tokio::spawn(append)
}

fn committed(answer: &Answer) -> Vec<RecordedEvent> {
    match answer {
        Ok(outcomes) => outcomes
            .iter()
            .flat_map(|outcome| match outcome {
                AppendOutcome::Committed(events) => events.clone(),
                AppendOutcome::Replayed(_) => Vec::new(),
            })
            .collect(),
        Err(_) => Vec::new(),
    }
}

fn replayed(answer: &Answer) -> StoredResponse {
    match answer {
        Ok(outcomes) => match outcomes.as_slice() {
            [AppendOutcome::Replayed(stored)] => stored.clone(),
            other => panic!("expected a replay, got {other:?}"),
        },
        Err(error) => panic!("expected a replay, got {error}"),
    }
}

fn is_conflict(answer: &Answer, expected: u64, actual: u64) -> bool {
    matches!(answer, Err(AppendError::Conflict { expected: e, actual: a, .. }) if (*e, *a) == (expected, actual))
}

const CONCURRENT: u64 = 300;

#[tokio::test]
async fn a_writer_checks_against_what_another_writer_committed() {
    let dir = TempDir::new().unwrap();
    let location = crate::backend::storage(dir.path());
    let a = EventStore::open(&location, Vec::new()).await.unwrap();
    let b = EventStore::open(&location, Vec::new()).await.unwrap();

    // A appends and remembers the aggregate's head; B never saw it.
    let first = committed(&a.append_all(vec![append("shared", 0, 1, "a")]).await);
    assert_eq!(first[0].sequence, 1);
    let stale = b.append_all(vec![append("shared", 0, 1, "b")]).await;
    assert!(is_conflict(&stale, 0, 1), "{stale:?}");
    let second = committed(&b.append_all(vec![append("shared", 1, 1, "b")]).await);
    assert_eq!(second[0].sequence, 2);
    // A still remembers sequence 1: its next batch must find B's event.
    let stale = a.append_all(vec![append("shared", 1, 1, "a")]).await;
    assert!(is_conflict(&stale, 1, 2), "{stale:?}");
    let third = committed(&a.append_all(vec![append("shared", 2, 1, "a")]).await);
    assert_eq!(
        (third[0].sequence, third[0].position),
        (3, second[0].position + 1)
    );

    // A key B stored: A replays it for the same request, refuses it for another.
    let request = || keyed(append("keyed", 0, 1, "b"), "k", "hash-b");
    let stored = committed(&b.append_all(vec![request()]).await);
    assert_eq!(stored.len(), 1);
    let again = a.append_all(vec![request()]).await;
    assert_eq!(replayed(&again).position, stored[0].position);
    let reused = a
        .append_all(vec![keyed(append("other", 0, 1, "a"), "k", "hash-a")])
        .await;
    assert!(
        matches!(reused, Err(AppendError::IdempotencyKeyReused { .. })),
        "{reused:?}"
    );
    a.close().await;
    b.close().await;
}

#[tokio::test]
async fn a_command_after_an_import_in_its_batch_is_checked_against_the_import() {
    // An event recorded elsewhere, at position 1.
    let elsewhere = TempDir::new().unwrap();
    let source = EventStore::open(&crate::backend::storage(elsewhere.path()), Vec::new())
        .await
        .unwrap();
    committed(
        &source
            .append_all(vec![append("moved", 0, 1, "elsewhere")])
            .await,
    );
    let recorded = source.read_after(0, 10).await.unwrap();
    source.close().await;

    let dir = TempDir::new().unwrap();
    let store = EventStore::open(&crate::backend::storage(dir.path()), Vec::new())
        .await
        .unwrap();
    // Held, so that the import and the command land in one batch, in this order.
    let front = hold(&store).await;
    front.running.await.unwrap();
    let importing = {
        let store = store.clone();
        let mut import = Box::pin(async move { store.import(recorded).await });
        assert!(futures::poll!(import.as_mut()).is_pending());
        tokio::spawn(import)
    };
    let after = queue(&store, vec![append("moved", 1, 1, "after")]).await;
    front.release.send(()).unwrap();
    front.done.await.unwrap();
    importing.await.unwrap().unwrap();
    let after = after.await.unwrap();
    let events = committed(&after);
    assert_eq!(
        events
            .iter()
            .map(|e| (e.sequence, e.position))
            .collect::<Vec<_>>(),
        vec![(2, 2)],
        "{after:?}"
    );
    store.close().await;
}

#[tokio::test]
async fn one_batch_of_concurrent_appends_commits_all_but_the_refused_and_survives_a_reopen() {
    let dir = TempDir::new().unwrap();
    let location = crate::backend::storage(dir.path());
    let store = EventStore::open(&location, Vec::new()).await.unwrap();

    // Before the batch: an aggregate at sequence 1, and an idempotency key in use.
    let mut before = committed(
        &store
            .append_all(vec![append("settled", 0, 1, "setup")])
            .await,
    );
    let first_use = keyed(append("keyed-0", 0, 1, "setup"), "used", "hash-1");
    before.extend(committed(&store.append_all(vec![first_use]).await));
    let used = store.stored_response(SCOPE, "used").await.unwrap().unwrap();
    let base = store.head();
    assert_eq!(base, 2);

    // A commit in flight: everything sent from now on waits for it, together.
    let front = hold(&store).await;
    let (_, committed_head) = front.running.await.unwrap();
    assert_eq!(committed_head, base);

    // Atomic: the second request conflicts, so the first one's events go too...
    let refused_atomic = queue(
        &store,
        vec![
            append("atomic", 0, 1, "refused"),
            append("settled", 0, 1, "refused"),
        ],
    )
    .await;
    // ...and the aggregate is still new for the next job of the batch.
    let atomic_1 = queue(&store, vec![append("atomic", 0, 1, "first")]).await;

    // Hundreds of commands from as many tasks, each queued as it comes; among
    // them two pairs race on one aggregate with the same expected sequence, one
    // pair on a new aggregate, one on an aggregate whose head is in the database.
    let queued = Arc::new(Semaphore::new(0));
    let spawn = |request: AppendRequest| {
        let store = store.clone();
        let queued = Arc::clone(&queued);
        tokio::spawn(async move {
            let mut append = pin!(store.append_all(vec![request]));
            assert!(futures::poll!(append.as_mut()).is_pending());
            queued.add_permits(1);
            append.await
        })
    };
    let mut concurrent = Vec::new();
    let mut racers = Vec::new();
    for n in 0..CONCURRENT {
        // One to three events each.
        concurrent.push(spawn(append(&format!("c-{n}"), 0, n % 3 + 1, "concurrent")));
        if n == CONCURRENT / 2 {
            for by in ["racer-a", "racer-b"] {
                racers.push(spawn(append("contested", 0, 1, by)));
                racers.push(spawn(append("settled", 1, 1, by)));
            }
        }
    }
    let spawned = concurrent.len() + racers.len();
    queued.acquire_many(spawned as u32).await.unwrap().forget();

    // Several aggregates atomically; then the aggregate of the refused job again,
    // chained on the batch's own uncommitted event.
    let pair = queue(
        &store,
        vec![
            append("pair-a", 0, 2, "pair"),
            append("pair-b", 0, 1, "pair"),
        ],
    )
    .await;
    let atomic_2 = queue(&store, vec![append("atomic", 1, 1, "second")]).await;
    // Idempotency keys: a retry of a committed request is replayed, the key used
    // for another request is refused alone; likewise for a key first used
    // earlier in this very batch.
    let retry_used = queue(
        &store,
        vec![keyed(append("keyed-0", 0, 1, "setup"), "used", "hash-1")],
    )
    .await;
    let reuse_used = queue(
        &store,
        vec![keyed(append("keyed-1", 0, 1, "reuse"), "used", "hash-2")],
    )
    .await;
    let first_fresh = queue(
        &store,
        vec![keyed(append("keyed-2", 0, 1, "fresh"), "fresh", "hash-3")],
    )
    .await;
    let retry_fresh = queue(
        &store,
        vec![keyed(append("keyed-2", 0, 1, "fresh"), "fresh", "hash-3")],
    )
    .await;
    let reuse_fresh = queue(
        &store,
        vec![keyed(append("keyed-3", 0, 1, "reuse"), "fresh", "hash-4")],
    )
    .await;

    // Hold the end of the batch: every job above has run in its savepoint.
    let back = hold(&store).await;
    front.release.send(()).unwrap();
    front.done.await.unwrap();
    let (in_batch, committed_head) = back.running.await.unwrap();
    // atomic 1 + concurrent 600 + contested 1 + settled 1 + pair 3 + atomic 1 +
    // keyed-2 1: one transaction, not yet committed, seen by nobody, answered to
    // nobody.
    let expected_events = 1 + (CONCURRENT / 3) * (1 + 2 + 3) + 1 + 1 + 3 + 1 + 1;
    assert_eq!(committed_head, base, "the batch is not committed yet");
    assert_eq!(
        in_batch - base,
        expected_events,
        "all in the held transaction"
    );
    assert!(store.read_after(base, 1).await.unwrap().is_empty());
    let in_flight = [
        &refused_atomic,
        &atomic_1,
        &pair,
        &atomic_2,
        &retry_used,
        &reuse_used,
        &first_fresh,
        &retry_fresh,
        &reuse_fresh,
    ];
    for job in in_flight.iter().copied().chain(&concurrent).chain(&racers) {
        assert!(!job.is_finished(), "answered before the COMMIT");
    }
    back.release.send(()).unwrap();
    back.done.await.unwrap();

    // The answers.
    let setup = before.len();
    let mut acknowledged: Vec<RecordedEvent> = before;
    let refused_atomic = refused_atomic.await.unwrap();
    assert!(is_conflict(&refused_atomic, 0, 1), "{refused_atomic:?}");
    let atomic_1 = atomic_1.await.unwrap();
    assert_eq!(committed(&atomic_1)[0].sequence, 1, "{atomic_1:?}");
    acknowledged.extend(committed(&atomic_1));
    for (n, job) in (0..CONCURRENT).zip(concurrent) {
        let events = committed(&job.await.unwrap());
        let sequences: Vec<u64> = events.iter().map(|e| e.sequence).collect();
        assert_eq!(sequences, (1..=n % 3 + 1).collect::<Vec<_>>());
        acknowledged.extend(events);
    }
    let mut racers_by_aggregate: HashMap<String, Vec<Answer>> = HashMap::new();
    for (n, job) in racers.into_iter().enumerate() {
        let aggregate = if n % 2 == 0 { "contested" } else { "settled" };
        racers_by_aggregate
            .entry(aggregate.into())
            .or_default()
            .push(job.await.unwrap());
    }
    for (aggregate, expected, actual) in [("contested", 0, 1), ("settled", 1, 2)] {
        let answers = &racers_by_aggregate[aggregate];
        let conflicts = answers
            .iter()
            .filter(|a| is_conflict(a, expected, actual))
            .count();
        let winners: Vec<RecordedEvent> = answers.iter().flat_map(committed).collect();
        assert_eq!(
            (conflicts, winners.len()),
            (1, 1),
            "exactly one of the racers on {aggregate} wins: {answers:?}"
        );
        acknowledged.extend(winners);
    }
    let pair = committed(&pair.await.unwrap());
    assert_eq!(pair.len(), 3);
    acknowledged.extend(pair);
    let atomic_2 = atomic_2.await.unwrap();
    assert_eq!(committed(&atomic_2)[0].sequence, 2, "{atomic_2:?}");
    acknowledged.extend(committed(&atomic_2));
    assert_eq!(replayed(&retry_used.await.unwrap()), used);
    assert!(matches!(
        reuse_used.await.unwrap(),
        Err(AppendError::IdempotencyKeyReused { .. })
    ));
    let first_fresh = committed(&first_fresh.await.unwrap());
    assert_eq!(first_fresh.len(), 1);
    assert_eq!(
        replayed(&retry_fresh.await.unwrap()).position,
        first_fresh[0].position
    );
    assert!(matches!(
        reuse_fresh.await.unwrap(),
        Err(AppendError::IdempotencyKeyReused { .. })
    ));
    acknowledged.extend(first_fresh);

    // The refused jobs gave their positions back: the batch is base+1.. gap-free.
    let mut positions: Vec<u64> = acknowledged[setup..].iter().map(|e| e.position).collect();
    positions.sort_unstable();
    assert_eq!(
        positions,
        (base + 1..=base + expected_events).collect::<Vec<_>>()
    );
    assert_eq!(store.head(), base + expected_events);
    store.close().await;

    // Reopened from the database: exactly what was acknowledged, nothing else.
    let store = EventStore::open(&location, Vec::new()).await.unwrap();
    let log = store.read_after(0, 10_000).await.unwrap();
    let positions: Vec<u64> = log.iter().map(|e| e.position).collect();
    assert_eq!(
        positions,
        (1..=base + expected_events).collect::<Vec<_>>(),
        "positions run 1..N without gaps"
    );
    let by_position: BTreeMap<u64, &RecordedEvent> = log.iter().map(|e| (e.position, e)).collect();
    assert_eq!(acknowledged.len(), log.len());
    for event in &acknowledged {
        assert_eq!(by_position.get(&event.position), Some(&event));
    }
    for refused in ["keyed-1", "keyed-3"] {
        assert!(store.load(AGGREGATE, refused).await.unwrap().is_empty());
    }
    let atomic: Vec<String> = store
        .load(AGGREGATE, "atomic")
        .await
        .unwrap()
        .iter()
        .map(|e| e.payload["by"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(atomic, ["first", "second"]);
    assert_eq!(store.load(AGGREGATE, "settled").await.unwrap().len(), 2);
    assert_eq!(
        store.stored_response(SCOPE, "used").await.unwrap(),
        Some(used)
    );
    let fresh = store
        .stored_response(SCOPE, "fresh")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(fresh.request_hash, "hash-3");
    // Every aggregate's sequences run 1, 2, 3… and its hash chain holds, across
    // the savepoints of the batch and the batches before it.
    let report = verify::verify(&store).await.unwrap();
    assert!(report.is_intact(), "{:?}", report.findings);
    assert_eq!(report.events, base + expected_events);
    store.close().await;
}

/// Clients sending commands as fast as they can, each waiting for its answer.
/// The first `ACTIVATORS` take each order to activation (an order event and
/// three agreements with their documents, one transaction), the next ones up to
/// `LIFECYCLES` assign and approve it, the rest only submit.
const CLIENTS: usize = 32;
const ACTIVATORS: usize = 2;
const LIFECYCLES: usize = 8;
/// Acknowledged commands before the server is killed.
const BEFORE_KILL: usize = 2000;

/// One command of a client's round: where to send it (`{id}` is the round's
/// order), as whom, with what, and the order event it appends.
#[derive(Clone)]
struct Step {
    path: &'static str,
    token: String,
    body: serde_json::Value,
    event_type: &'static str,
}

/// The tokens the clients use.
struct Cast {
    alice: String,
    sam: String,
    cesnet: String,
    in2p3: String,
}

impl Cast {
    fn script(&self, client: usize) -> Vec<Step> {
        let step = |path, token: &String, body, event_type| Step {
            path,
            token: token.clone(),
            body,
            event_type,
        };
        let mut order = crate::helpers::cloud_order();
        if client < ACTIVATORS {
            // Agreements run from the start of the service: one still to come.
            order["parameters"]["start_date"] = json!("2027-01-04");
        }
        let mut script = vec![step("/v1/orders", &self.alice, order, "OrderSubmitted")];
        if client < LIFECYCLES {
            script.extend([
                step(
                    "/v1/orders/{id}/assign",
                    &self.sam,
                    json!({"assignee": "sam"}),
                    "OrderAssigned",
                ),
                step(
                    "/v1/orders/{id}/approve",
                    &self.sam,
                    json!({"note": "ok"}),
                    "OrderApproved",
                ),
            ]);
        }
        if client < ACTIVATORS {
            let done = json!({"note": "done by the site"});
            script.extend([
                step(
                    "/v1/orders/{id}/provisioning",
                    &self.sam,
                    json!({"steps": [
                        {"provider": "cesnet-mcc", "action": "Create project acme-lab"},
                        {"provider": "in2p3-ires", "action": "Open a volume quota"}
                    ]}),
                    "ProvisioningPlanned",
                ),
                step(
                    "/v1/orders/{id}/provisioning/1/done",
                    &self.cesnet,
                    done.clone(),
                    "ProvisioningStepDone",
                ),
                step(
                    "/v1/orders/{id}/provisioning/2/done",
                    &self.in2p3,
                    done,
                    "ProvisioningStepDone",
                ),
                step(
                    "/v1/orders/{id}/activate",
                    &self.sam,
                    json!({}),
                    "OrderActivated",
                ),
            ]);
        }
        script
    }
}

/// A command a client was answered 2xx for: its order event is sequence
/// `version` of `order`, at `position`.
#[derive(Clone, Debug)]
struct Ack {
    key: String,
    order: String,
    version: u64,
    position: u64,
    event_type: &'static str,
}

#[derive(Default)]
struct Progress {
    acks: Vec<Ack>,
    unexpected: Vec<String>,
}

/// How a client's last request ended.
enum Ended {
    /// Sent before the server was killed, never answered.
    InFlight { key: String },
    /// Sent once the server was being killed.
    Late,
    /// An answer no client should get here.
    Unexpected,
}

struct Client {
    n: usize,
    script: Vec<Step>,
    http: reqwest::Client,
    base: String,
    progress: Arc<tokio::sync::watch::Sender<Progress>>,
    killed: Arc<AtomicBool>,
}

impl Client {
    /// Runs its script on one new order after another until the server is gone.
    async fn run(self) -> Ended {
        for round in 0.. {
            let mut order = String::new();
            for (number, step) in self.script.iter().enumerate() {
                let key = format!("c{}-{round}-{number}", self.n);
                match self.send(key, step, &order).await {
                    Ok(ack) => order = ack.order,
                    Err(ended) => return ended,
                }
            }
        }
        unreachable!("a client stops when the server is gone")
    }

    /// Sends one command with an idempotency key naming the client, the round
    /// and the step; records the answer.
    async fn send(&self, key: String, step: &Step, order: &str) -> Result<Ack, Ended> {
        let path = step.path.replace("{id}", order);
        let late = self.killed.load(Ordering::SeqCst);
        let sent = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&step.token)
            .header("idempotency-key", &key)
            .json(&step.body)
            .send()
            .await;
        let response = match sent {
            Ok(response) => response,
            Err(_) if late => return Err(Ended::Late),
            Err(_) => return Err(Ended::InFlight { key }),
        };
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|value| value.to_str().ok())
                .unwrap_or_default()
                .trim_matches('"')
                .to_owned()
        };
        if !response.status().is_success() || header("idempotent-replayed") == "true" {
            let problem = format!("{path}: {} {:?}", response.status(), response.text().await);
            self.progress.send_modify(|p| p.unexpected.push(problem));
            return Err(Ended::Unexpected);
        }
        let order = match order {
            "" => header("location")
                .trim_start_matches("/v1/orders/")
                .to_owned(),
            known => known.to_owned(),
        };
        let ack = Ack {
            key,
            order,
            version: header("etag").parse().unwrap(),
            position: header("pactum-position").parse().unwrap(),
            event_type: step.event_type,
        };
        // Answered: the command is committed, whatever becomes of the body.
        self.progress.send_modify(|p| p.acks.push(ack.clone()));
        let _ = response.bytes().await;
        Ok(ack)
    }
}

/// `name`'s value in the Prometheus text of `metrics`.
fn metric(metrics: &str, name: &str) -> f64 {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|value| value.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in {metrics}"))
}

#[tokio::test]
async fn sigkill_under_load_loses_only_unacknowledged_commands() {
    use crate::helpers::{create_token, pactum, serve, stderr, stdout};

    let dir = TempDir::new().unwrap();
    let token = |args: &[&str]| create_token(dir.path(), args);
    let cast = Cast {
        alice: token(&["--subject", "alice", "--role", "customer", "--org", "acme"]),
        sam: token(&[
            "--subject",
            "sam",
            "--role",
            "shifter",
            "--group",
            "compute",
        ]),
        cesnet: token(&[
            "--subject",
            "ops-cesnet",
            "--role",
            "provider",
            "--provider",
            "cesnet-mcc",
        ]),
        in2p3: token(&[
            "--subject",
            "ops-in2p3",
            "--role",
            "provider",
            "--provider",
            "in2p3-ires",
        ]),
    };
    let auditor = token(&["--subject", "audrey", "--role", "auditor"]);
    let mut server = serve(dir.path()).await;
    let base = server.url("");

    let (progress, mut watch) = tokio::sync::watch::channel(Progress::default());
    let progress = Arc::new(progress);
    let http = reqwest::Client::new();
    let killed = Arc::new(AtomicBool::new(false));
    let clients: Vec<JoinHandle<Ended>> = (0..CLIENTS)
        .map(|n| {
            let client = Client {
                n,
                script: cast.script(n),
                http: http.clone(),
                base: base.clone(),
                progress: Arc::clone(&progress),
                killed: Arc::clone(&killed),
            };
            tokio::spawn(client.run())
        })
        .collect();
    // A guard, not a wait: the condition is met within seconds.
    let enough = watch.wait_for(|p| p.acks.len() >= BEFORE_KILL || !p.unexpected.is_empty());
    tokio::time::timeout(std::time::Duration::from_secs(60), enough)
        .await
        .expect("the server stopped answering before the kill")
        .unwrap();
    // The server was committing in groups while under this load.
    let metrics = http
        .get(server.url("/metrics"))
        .bearer_auth(&auditor)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    killed.store(true, Ordering::SeqCst);
    server.kill();

    let mut in_flight = Vec::new();
    for client in clients {
        match client.await.unwrap() {
            Ended::InFlight { key } => in_flight.push(key),
            Ended::Late | Ended::Unexpected => {}
        }
    }
    let (acks, unexpected) = {
        let progress = progress.borrow();
        (progress.acks.clone(), progress.unexpected.clone())
    };
    assert!(unexpected.is_empty(), "{unexpected:?}");
    assert!(
        in_flight.len() >= CLIENTS / 2,
        "only {} requests were in flight when the server died",
        in_flight.len()
    );
    let batches = metric(&metrics, "pactum_append_batch_jobs_count");
    let jobs = metric(&metrics, "pactum_append_batch_jobs_sum");
    assert!(
        jobs > batches,
        "no batch held two jobs: {jobs} jobs in {batches} batches"
    );

    // The log after the crash, through the binary.
    let verified = pactum(&["verify"], dir.path());
    assert!(verified.status.success(), "{}", stderr(&verified));
    let export = pactum(&["export"], dir.path());
    assert!(export.status.success(), "{}", stderr(&export));
    let log: Vec<RecordedEvent> = stdout(&export)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let head = log.len() as u64;
    assert!(
        log.iter().map(|e| e.position).eq(1..=head),
        "positions run 1..N without gaps"
    );
    assert!(stdout(&verified).contains(&format!("verified {head} events")));

    // Every acknowledged command's event is there, as acknowledged: the order
    // event at the version answered, and the position answered (the command's
    // newest event, an agreement for an activation) written by that command.
    let orders: Vec<&RecordedEvent> = log.iter().filter(|e| e.aggregate_type == "order").collect();
    let by_version: HashMap<(&str, u64), &RecordedEvent> = orders
        .iter()
        .map(|e| ((e.aggregate_id.as_str(), e.sequence), *e))
        .collect();
    for ack in &acks {
        let event = by_version
            .get(&(ack.order.as_str(), ack.version))
            .unwrap_or_else(|| panic!("acknowledged {ack:?} was lost"));
        assert_eq!(
            (event.event_type.as_str(), event.idempotency_key.as_deref()),
            (ack.event_type, Some(ack.key.as_str())),
            "acknowledged {ack:?}"
        );
        let newest = &log[ack.position as usize - 1];
        assert!(event.position <= newest.position, "acknowledged {ack:?}");
        assert_eq!(newest.idempotency_key, event.idempotency_key);
    }
    // Whatever else is there was in flight: at most the one unanswered command
    // of each client.
    let acknowledged: std::collections::HashSet<&str> =
        acks.iter().map(|a| a.key.as_str()).collect();
    let unacknowledged: Vec<&str> = orders
        .iter()
        .filter_map(|e| e.idempotency_key.as_deref())
        .filter(|key| !acknowledged.contains(key))
        .collect();
    for key in &unacknowledged {
        assert!(in_flight.iter().any(|k| k == key), "{key} was never sent");
    }
    assert_eq!(orders.len(), acks.len() + unacknowledged.len());

    // Each command is whole. An order's events are a beginning of the longest
    // script: it starts with its submission, no step is missing.
    let script: Vec<&str> = cast.script(0).iter().map(|s| s.event_type).collect();
    let mut by_order: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for event in &orders {
        by_order
            .entry(&event.aggregate_id)
            .or_default()
            .push(&event.event_type);
    }
    for (order, events) in &by_order {
        assert!(script.starts_with(events), "order {order}: {events:?}");
    }
    // An activation is the order's event and, right after it in the log, each
    // agreement it names, issued with its document stored; no agreement
    // without its activation.
    let mut conn = crate::backend::raw_connection(dir.path()).await;
    let documents: Vec<String> = sqlx::query_scalar("SELECT sha256 FROM documents")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    let mut issued = 0;
    for activated in orders.iter().filter(|e| e.event_type == "OrderActivated") {
        let agreements = activated.payload["agreements"].as_array().unwrap();
        assert_eq!(agreements.len(), 3, "an SLA and two OLAs: {activated:?}");
        for (offset, agreement) in (1..).zip(agreements) {
            let event = &log[(activated.position + offset) as usize - 1];
            assert_eq!(
                (
                    event.aggregate_type.as_str(),
                    &json!(event.aggregate_id),
                    event.sequence,
                    event.event_type.as_str()
                ),
                (
                    "agreement",
                    &agreement["agreement_id"],
                    1,
                    "AgreementIssued"
                ),
            );
            let document = event.payload["document"]["sha256"].as_str().unwrap();
            assert!(documents.iter().any(|d| d == document), "{document} lost");
            issued += 1;
        }
    }
    assert!(issued > 0, "no activation was acknowledged before the kill");
    assert_eq!(
        log.iter()
            .filter(|e| e.aggregate_type == "agreement")
            .count(),
        issued
    );
    // Every command's idempotent response was stored with its events.
    let responses: Vec<(String, i64)> = sqlx::query_as("SELECT key, position FROM idempotency")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    let responses: BTreeMap<String, u64> = responses
        .into_iter()
        .map(|(key, position)| (key, position as u64))
        .collect();
    let keyed: BTreeMap<String, u64> = orders
        .iter()
        .map(|e| (e.idempotency_key.clone().unwrap(), e.position))
        .collect();
    assert_eq!(responses, keyed);
    conn.close().await.unwrap();

    // The store serves again from where it stopped.
    let server = serve(dir.path()).await;
    assert_eq!(server.head().await, head);
    for ack in acks.iter().step_by(acks.len() / 20) {
        let (status, order) = server
            .get_json(&format!("/v1/orders/{}", ack.order), &cast.alice)
            .await;
        assert_eq!(status, reqwest::StatusCode::OK, "{order}");
        assert!(order["version"].as_u64().unwrap() >= ack.version, "{order}");
    }
    let after = http
        .post(server.url("/v1/orders"))
        .bearer_auth(&cast.alice)
        .json(&crate::helpers::cloud_order())
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), reqwest::StatusCode::CREATED);
    assert_eq!(
        after.headers()["pactum-position"],
        (head + 1).to_string().as_str()
    );
}

/// `EventStore::load` reads a short history on the caller's thread (SQLite)
/// and a longer one through the pool: either way every event, in order, as
/// the append answered it.
#[tokio::test]
async fn histories_of_every_length_load_whole_and_in_order() {
    let dir = TempDir::new().unwrap();
    let location = crate::backend::storage(dir.path());
    let store = EventStore::open(&location, Vec::new()).await.unwrap();
    assert!(store.load(AGGREGATE, "none").await.unwrap().is_empty());
    for length in [1_u64, 64, 65, 200] {
        let id = format!("long-{length}");
        let appended = committed(&store.append_all(vec![append(&id, 0, length, "t")]).await);
        let loaded = store.load(AGGREGATE, &id).await.unwrap();
        assert_eq!(loaded.len() as u64, length);
        assert_eq!(loaded, appended, "{length} events");
        let sequences: Vec<u64> = loaded.iter().map(|e| e.sequence).collect();
        assert_eq!(sequences, (1..=length).collect::<Vec<_>>());
    }
    store.close().await;
}
