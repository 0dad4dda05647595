//! The projection mechanism on a real SQLite store: exactly-once application
//! across failures, rebuilding on a version bump while the old version serves,
//! and live projections equal to replayed ones.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use pactum::app::App;
use pactum::clock::{Clock, SystemClock};
use pactum::projector::{
    self, Hooks, LiveView, ProjectionHandle, ProjectorError, Runner, Step, registry,
    supervisor::Supervisor, tables::Indexes,
};
use pactum::store::EventStore;
use pactum_projections::projection::{
    ApplyError, Column, ColumnKind, ColumnSpec, Envelope, EventTypes, Projection, TableSpec,
};
use tempfile::TempDir;
use tokio::sync::{Semaphore, oneshot};
use tokio_util::sync::CancellationToken;

use crate::helpers::*;

/// Counts every event of every aggregate and sums their positions: applying one
/// twice or skipping one changes the row.
struct Tally {
    version: u32,
}

#[derive(Clone, Debug, PartialEq)]
struct TallyRow {
    events: i64,
    position_sum: i64,
}

static TALLY_TABLE: TableSpec = TableSpec {
    key: "aggregate",
    columns: &[
        ColumnSpec {
            name: "events",
            kind: ColumnKind::Integer,
            nullable: false,
        },
        ColumnSpec {
            name: "position_sum",
            kind: ColumnKind::Integer,
            nullable: false,
        },
    ],
    indexes: &[],
};

/// Any event at all: the tally reads only envelopes.
#[derive(serde::Serialize, serde::Deserialize)]
struct AnyEvent;

impl pactum_events::EventPayload for AnyEvent {
    const AGGREGATE_TYPE: &'static str = "any";
    fn event_type(&self) -> &'static str {
        "Any"
    }
    fn current_version(_: &str) -> Option<u32> {
        Some(1)
    }
}

impl Projection for Tally {
    type Event = AnyEvent;
    type Row = TallyRow;

    fn name(&self) -> &'static str {
        "tally"
    }
    fn version(&self) -> u32 {
        self.version
    }
    fn event_types(&self) -> EventTypes {
        EventTypes::All
    }
    fn table(&self) -> &'static TableSpec {
        &TALLY_TABLE
    }
    fn decode(&self, _: &Envelope, _: &str) -> Result<AnyEvent, ApplyError> {
        Ok(AnyEvent)
    }
    fn key(&self, envelope: &Envelope, _: &AnyEvent) -> String {
        format!("{}/{}", envelope.aggregate_type, envelope.aggregate_id)
    }
    fn apply(
        &self,
        row: Option<TallyRow>,
        envelope: &Envelope,
        _: &AnyEvent,
    ) -> Result<Option<TallyRow>, ApplyError> {
        let row = row.unwrap_or(TallyRow {
            events: 0,
            position_sum: 0,
        });
        Ok(Some(TallyRow {
            events: row.events + 1,
            position_sum: row.position_sum + envelope.position as i64,
        }))
    }
    fn row_to_columns(&self, row: &TallyRow) -> Vec<Column> {
        vec![Column::Int(row.events), Column::Int(row.position_sum)]
    }
    fn row_from_columns(&self, _: String, columns: Vec<Column>) -> Result<TallyRow, ApplyError> {
        match columns.as_slice() {
            [Column::Int(events), Column::Int(position_sum)] => Ok(TallyRow {
                events: *events,
                position_sum: *position_sum,
            }),
            other => Err(ApplyError(format!("bad tally row {other:?}"))),
        }
    }
}

/// What the tally must hold, computed straight from the log.
async fn expected_tally(store: &EventStore) -> BTreeMap<String, TallyRow> {
    let mut expected: BTreeMap<String, TallyRow> = BTreeMap::new();
    for event in store.read_after(0, 1_000_000).await.unwrap() {
        let row = expected
            .entry(format!("{}/{}", event.aggregate_type, event.aggregate_id))
            .or_insert(TallyRow {
                events: 0,
                position_sum: 0,
            });
        row.events += 1;
        row.position_sum += event.position as i64;
    }
    expected
}

async fn stored_tally(store: &EventStore, table: &str) -> BTreeMap<String, TallyRow> {
    let rows: Vec<(String, i64, i64)> = sqlx::query_as(&format!(
        "SELECT aggregate, events, position_sum FROM {table}"
    ))
    .fetch_all(store.reader())
    .await
    .unwrap();
    rows.into_iter()
        .map(|(key, events, position_sum)| {
            (
                key,
                TallyRow {
                    events,
                    position_sum,
                },
            )
        })
        .collect()
}

/// A store with a catalogue, tokens and a few dozen orders.
async fn busy_store(dir: &TempDir, orders: usize) -> App {
    let app = spawn_app_at(dir.path()).await;
    let alice = app.customer("alice", "acme").await;
    let sam = app.shifter("sam", &["compute"]).await;
    for n in 0..orders {
        let id = app.submit(&alice).await;
        if n % 2 == 0 {
            app.command(&id, "assign", &sam, serde_json::json!({"assignee": "sam"}))
                .await;
        }
        if n % 3 == 0 {
            app.command(&id, "approve", &sam, serde_json::json!({}))
                .await;
        }
    }
    app.stop().await;
    // Reopen without a server: the test drives the runner itself.
    App::open(&crate::backend::storage(dir.path()), Arc::new(SystemClock))
        .await
        .unwrap()
}

async fn new_generation(store: &EventStore, projection: &Tally) -> registry::Generation {
    let version = projection.version;
    let now = SystemClock.now();
    let dialect = store.dialect();
    store
        .write(move |conn| {
            Box::pin(async move {
                registry::create(
                    conn,
                    dialect,
                    "tally",
                    version,
                    &TALLY_TABLE,
                    Indexes::Now,
                    now,
                )
                .await
            })
        })
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test]
async fn a_failure_between_writing_and_committing_applies_nothing_and_a_restart_applies_each_event_once()
 {
    let dir = TempDir::new().unwrap();
    let app = busy_store(&dir, 12).await;
    let store = app.store.clone();
    let generation = new_generation(&store, &Tally { version: 1 }).await;
    let table = generation.table();

    // Fail the third batch once, after its rows and checkpoint were written.
    let tripped = Arc::new(AtomicBool::new(false));
    let trip = Arc::clone(&tripped);
    let hooks = Hooks {
        fail_before_commit: Some(Arc::new(move |_, last| {
            last > 14 && !trip.swap(true, Ordering::SeqCst)
        })),
        gate: None,
    };
    let mut runner = Runner::new(
        Arc::new(Tally { version: 1 }),
        store.clone(),
        generation,
        hooks,
    )
    .with_batch(7);
    let first = runner.step().await;
    assert!(
        matches!(first, Ok(Step::Applied { checkpoint: 7, .. })),
        "{first:?}"
    );
    assert!(matches!(
        runner.step().await,
        Ok(Step::Applied { checkpoint: 14, .. })
    ));
    let failed = runner.step().await;
    assert!(
        matches!(failed, Err(ProjectorError::Injected(21))),
        "{failed:?}"
    );
    assert!(tripped.load(Ordering::SeqCst));

    // Nothing of the failed batch is visible: rows and checkpoint are at 14.
    let state = registry::of(store.reader(), "tally").await.unwrap();
    assert_eq!(state[0].checkpoint, 14);
    let partial: i64 = stored_tally(&store, &table)
        .await
        .values()
        .map(|r| r.events)
        .sum();
    assert_eq!(partial, 14);

    // "Restart": a new runner from what is stored, without the failure.
    drop(runner);
    let generation = registry::of(store.reader(), "tally")
        .await
        .unwrap()
        .remove(0);
    let mut runner = Runner::new(
        Arc::new(Tally { version: 1 }),
        store.clone(),
        generation,
        Hooks::default(),
    )
    .with_batch(7);
    assert_eq!(runner.catch_up(|_| {}).await.unwrap(), Step::CaughtUp);
    assert_eq!(runner.checkpoint(), store.head());
    assert_eq!(
        stored_tally(&store, &table).await,
        expected_tally(&store).await
    );
    store.close().await;
}

#[tokio::test]
async fn two_runners_on_one_generation_never_apply_a_batch_twice() {
    let dir = TempDir::new().unwrap();
    let app = busy_store(&dir, 10).await;
    let store = app.store.clone();
    let generation = new_generation(&store, &Tally { version: 1 }).await;
    let table = generation.table();
    let mut first = Runner::new(
        Arc::new(Tally { version: 1 }),
        store.clone(),
        generation.clone(),
        Hooks::default(),
    )
    .with_batch(5);
    let mut second = Runner::new(
        Arc::new(Tally { version: 1 }),
        store.clone(),
        generation,
        Hooks::default(),
    )
    .with_batch(5);
    let (a, b) = tokio::join!(first.catch_up(|_| {}), second.catch_up(|_| {}));
    assert_eq!((a.unwrap(), b.unwrap()), (Step::CaughtUp, Step::CaughtUp));
    assert_eq!(
        stored_tally(&store, &table).await,
        expected_tally(&store).await
    );
    store.close().await;
}

#[tokio::test]
async fn a_runner_behind_its_generation_or_on_a_retired_one_writes_nothing() {
    let dir = TempDir::new().unwrap();
    let app = busy_store(&dir, 10).await;
    let store = app.store.clone();
    let runner = |generation: &registry::Generation| {
        Runner::new(
            Arc::new(Tally { version: 1 }),
            store.clone(),
            generation.clone(),
            Hooks::default(),
        )
        .with_batch(5)
    };
    let generation = new_generation(&store, &Tally { version: 1 }).await;
    let table = generation.table();
    let (mut ahead, mut behind) = (runner(&generation), runner(&generation));

    // One batch each, in turn: the second finds the checkpoint moved and
    // writes nothing, then goes on from where the first left it.
    let moved_to = match ahead.step().await.unwrap() {
        Step::Applied { checkpoint, .. } => checkpoint,
        other => panic!("the first batch applies: {other:?}"),
    };
    let applied = stored_tally(&store, &table).await;
    assert_eq!(
        behind.step().await.unwrap(),
        Step::Moved {
            checkpoint: moved_to
        }
    );
    assert_eq!(stored_tally(&store, &table).await, applied);
    assert_eq!(behind.catch_up(|_| {}).await.unwrap(), Step::CaughtUp);
    assert_eq!(
        stored_tally(&store, &table).await,
        expected_tally(&store).await
    );

    // This generation goes live, then a newer one replaces it: a runner still
    // on it is told so and writes nothing.
    assert!(behind.promote(SystemClock.now()).await.unwrap());
    let newer = new_generation(&store, &Tally { version: 1 }).await;
    let mut promoting = runner(&newer);
    assert_eq!(promoting.catch_up(|_| {}).await.unwrap(), Step::CaughtUp);
    assert!(promoting.promote(SystemClock.now()).await.unwrap());
    // Something to write: an event after the checkpoint `behind` holds.
    store
        .append(pactum_testkit::probe::append("late", 0, 1, "test"))
        .await
        .unwrap();
    let before = stored_tally(&store, &table).await;
    assert_eq!(behind.step().await.unwrap(), Step::Retired);
    assert_eq!(stored_tally(&store, &table).await, before);
    store.close().await;
}

#[tokio::test]
async fn a_version_bump_rebuilds_into_fresh_tables_while_the_old_version_serves() {
    let dir = TempDir::new().unwrap();
    let app = busy_store(&dir, 6).await;
    let store = app.store.clone();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let v1 = projector::rebuild(Arc::new(Tally { version: 1 }), &store, &*clock, &|_| {})
        .await
        .unwrap();
    assert_eq!(v1.state, registry::State::Live);

    // Version 2 starts with its builder held at the gate.
    let gate = Arc::new(Semaphore::new(0));
    let handle = ProjectionHandle::default();
    let cancel = CancellationToken::new();
    let supervisor = Supervisor {
        projection: Arc::new(Tally { version: 2 }),
        store: store.clone(),
        handle: handle.clone(),
        hooks: Hooks {
            fail_before_commit: None,
            gate: Some(Arc::clone(&gate)),
        },
        clock: Arc::clone(&clock),
        cancel: cancel.clone(),
    };
    let (ready, is_ready) = oneshot::channel();
    let task = tokio::spawn(supervisor.run(ready));
    is_ready.await.unwrap();
    let serving = handle.current().unwrap();
    assert_eq!(
        (serving.version, serving.generation, &*serving.table),
        (1, v1.generation, v1.table().as_str()),
        "the old version serves while the new one builds"
    );
    let generations = registry::of(store.reader(), "tally").await.unwrap();
    assert_eq!(generations.len(), 2);
    assert_eq!(generations[1].state, registry::State::Building);

    // Let it build: it swaps in, and the old tables go.
    gate.add_permits(1_000);
    let live: LiveView = handle
        .wait_until(|view| view.version == 2, std::time::Duration::from_secs(30))
        .await
        .expect("version 2 swaps in");
    assert_eq!(
        stored_tally(&store, &live.table).await,
        expected_tally(&store).await
    );
    cancel.cancel();
    task.await.unwrap();
    let generations = registry::of(store.reader(), "tally").await.unwrap();
    assert_eq!(generations.len(), 1, "{generations:?}");
    assert_eq!(
        (generations[0].version, generations[0].state),
        (2, registry::State::Live)
    );
    let old_table = sqlx::query(&format!("SELECT * FROM {} LIMIT 1", v1.table()))
        .fetch_optional(store.reader())
        .await;
    assert!(
        old_table.is_err_and(|e| e.to_string().contains(&v1.table())),
        "the retired generation's table is dropped"
    );
    store.close().await;
}

/// A batch with none of a read model's events moves its checkpoint in memory
/// only (ADR 0017): the agreement index reads none of an order queue's
/// events. Once the log is quiet, the checkpoint as stored catches up with
/// the log all the same, so a restart or `pactum projections status` finds it
/// there.
#[tokio::test]
async fn a_read_model_fed_none_of_the_new_events_stores_its_checkpoint_once_the_log_is_quiet() {
    let dir = TempDir::new().unwrap();
    let app = busy_store(&dir, 6).await;
    let store = app.store.clone();
    let head = store.head();
    let mut stored = 0;
    for _ in 0..400 {
        stored = registry::of(store.reader(), "agreements")
            .await
            .unwrap()
            .iter()
            .filter(|g| g.state == registry::State::Live)
            .map(|g| g.checkpoint)
            .max()
            .unwrap_or(0);
        if stored == head {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert_eq!(stored, head, "the agreement index's stored checkpoint");
    store.close().await;
}
