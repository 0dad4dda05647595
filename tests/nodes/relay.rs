//! The NATS relay against a real nats-server (JetStream) and a real PostgreSQL
//! database: every committed event reaches a consumer exactly once and in order,
//! across relay crashes, NATS crashes and a change of the active relay.

use std::sync::Arc;

use async_nats::jetstream;
use pactum::access::queries::TokenTable;
use pactum::relay::{DEFAULT_STREAM, Relay, RelayError, RelayHooks, read_checkpoint};
use pactum::store::EventStore;
use pactum_testkit::Nats;
use tokio_util::sync::CancellationToken;

use crate::support::{
    assert_exactly_once, consume_all, database, location, relay_config, spawn_app, wait_for,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_committed_event_reaches_a_consumer_once_in_global_order() {
    let nats = Nats::start();
    let db = database();
    let app = spawn_app(&db, Some(relay_config(&nats.url()))).await;
    let customer = app.customer("alice", "acme").await;
    app.submit_many(&customer, 40).await;

    let head = app.head();
    let mut status = app.relay.clone().expect("the server runs a relay");
    let done = wait_for(&mut status, 30, "the relay caught up", |s| {
        s.checkpoint == head
    })
    .await;
    assert_eq!(done.published, head);
    assert_eq!(done.duplicates, 0);
    assert_eq!(
        read_checkpoint(&app.app.store, DEFAULT_STREAM)
            .await
            .unwrap(),
        head
    );

    let received = consume_all(&nats.url(), DEFAULT_STREAM).await;
    assert_exactly_once(&app.app, &received, head).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_relay_stopped_between_publish_and_checkpoint_is_followed_by_harmless_duplicates() {
    let nats = Nats::start();
    let db = database();
    let app = spawn_app(&db, None).await;
    let customer = app.customer("alice", "acme").await;
    app.submit_many(&customer, 20).await;
    let head = app.head();
    let crash_at = head / 2;

    // The first relay "crashes" after the acks of the batch that reaches half
    // the log, before storing its checkpoint.
    let mut config = relay_config(&nats.url());
    config.hooks = RelayHooks {
        stop_before_checkpoint: Some(Arc::new(move |last| last >= crash_at)),
    };
    let first = Relay::new(app.app.store.clone(), location(&db), config);
    let outcome = first.run(CancellationToken::new()).await;
    let Err(RelayError::Stopped(published_to)) = outcome else {
        panic!("the hook stops the relay: {outcome:?}");
    };
    let checkpoint = read_checkpoint(&app.app.store, DEFAULT_STREAM)
        .await
        .unwrap();
    assert!(
        checkpoint < published_to,
        "the checkpoint ({checkpoint}) stays behind what was published ({published_to})"
    );

    // A new relay re-publishes from the checkpoint: the server recognises what
    // it already holds.
    let second = Arc::new(Relay::new(
        app.app.store.clone(),
        location(&db),
        relay_config(&nats.url()),
    ));
    let mut status = second.status();
    let cancel = CancellationToken::new();
    let task = tokio::spawn({
        let second = Arc::clone(&second);
        let cancel = cancel.clone();
        async move { second.run(cancel).await }
    });
    let done = wait_for(&mut status, 30, "the second relay caught up", |s| {
        s.checkpoint == head
    })
    .await;
    assert_eq!(done.duplicates, published_to - checkpoint);
    assert_eq!(done.published, head - published_to);

    let received = consume_all(&nats.url(), DEFAULT_STREAM).await;
    assert_exactly_once(&app.app, &received, head).await;
    cancel.cancel();
    task.await.unwrap().unwrap();
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn commands_succeed_while_nats_is_down_and_the_relay_catches_up_after() {
    let mut nats = Nats::start();
    let db = database();
    let app = spawn_app(&db, Some(relay_config(&nats.url()))).await;
    let customer = app.customer("alice", "acme").await;
    app.submit_many(&customer, 20).await;
    let mut status = app.relay.clone().unwrap();
    let before = app.head();
    wait_for(&mut status, 30, "the relay caught up", |s| {
        s.checkpoint == before
    })
    .await;

    // SIGKILL: nats-server 2.9 may lose messages it acknowledged (it syncs every
    // 60 s); commands go on regardless.
    nats.stop();
    let failures = status.borrow().failures;
    app.submit_many(&customer, 20).await;
    assert!(app.head() > before);
    // The relay keeps trying (and failing) while commands go on.
    wait_for(&mut status, 30, "the relay retried", |s| {
        s.failures >= failures + 3
    })
    .await;
    app.submit_many(&customer, 5).await;
    nats.restart();
    app.submit_many(&customer, 5).await;

    let head = app.head();
    let done = wait_for(
        &mut status,
        60,
        "the relay caught up after NATS returned",
        |s| s.checkpoint == head,
    )
    .await;
    assert!(done.sessions >= 2, "a new session after the restart");
    let received = consume_all(&nats.url(), DEFAULT_STREAM).await;
    assert_exactly_once(&app.app, &received, head).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stream_that_lost_messages_is_filled_again_from_the_log() {
    let nats = Nats::start();
    let db = database();
    let app = spawn_app(&db, Some(relay_config(&nats.url()))).await;
    let customer = app.customer("alice", "acme").await;
    app.submit_many(&customer, 10).await;
    let mut status = app.relay.clone().unwrap();
    let head = app.head();
    wait_for(&mut status, 30, "the relay caught up", |s| {
        s.checkpoint == head
    })
    .await;

    // The stream loses everything behind the relay's back (as a NATS crash
    // before its disk sync can lose the tail): the checkpoint is ahead of the
    // stream, and the relay must notice and re-publish from what the stream holds.
    let js = jetstream::new(async_nats::connect(nats.url()).await.unwrap());
    js.delete_stream(DEFAULT_STREAM).await.unwrap();
    let published = status.borrow().published;
    wait_for(&mut status, 30, "the relay filled the stream again", |s| {
        s.published >= published + head
    })
    .await;
    app.submit_many(&customer, 3).await;
    let head = app.head();
    wait_for(&mut status, 30, "the relay caught up", |s| {
        s.checkpoint == head
    })
    .await;
    let received = consume_all(&nats.url(), DEFAULT_STREAM).await;
    assert_exactly_once(&app.app, &received, head).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn only_one_relay_publishes_and_the_other_takes_over_when_it_stops() {
    let nats = Nats::start();
    let db = database();
    let app = spawn_app(&db, None).await;
    let customer = app.customer("alice", "acme").await;
    app.submit_many(&customer, 10).await;

    // Two relays, as on two nodes: each with a store of its own on one database.
    let other_store = EventStore::open(&location(&db), vec![Arc::new(TokenTable)])
        .await
        .unwrap();
    let a = Arc::new(Relay::new(
        app.app.store.clone(),
        location(&db),
        relay_config(&nats.url()),
    ));
    let b = Arc::new(Relay::new(
        other_store.clone(),
        location(&db),
        relay_config(&nats.url()),
    ));
    let (cancel_a, cancel_b) = (CancellationToken::new(), CancellationToken::new());
    let spawn = |relay: &Arc<Relay>, cancel: &CancellationToken| {
        let (relay, cancel) = (Arc::clone(relay), cancel.clone());
        tokio::spawn(async move { relay.run(cancel).await })
    };
    let (mut status_a, mut status_b) = (a.status(), b.status());
    let task_a = spawn(&a, &cancel_a);
    // B starts once A is the active relay, so that the roles are known.
    wait_for(&mut status_a, 30, "A is the active relay", |s| s.leader).await;
    let task_b = spawn(&b, &cancel_b);

    let head = app.head();
    wait_for(&mut status_a, 30, "A caught up", |s| s.checkpoint == head).await;
    app.submit_many(&customer, 10).await;
    let head = app.head();
    wait_for(&mut status_a, 30, "A caught up again", |s| {
        s.checkpoint == head
    })
    .await;
    let idle = status_b.borrow().clone();
    assert!(!idle.leader, "B waits while A holds the lock");
    assert_eq!(
        (idle.published, idle.sessions),
        (0, 0),
        "B published nothing"
    );

    // A stops (its lock goes with it); B takes over where A left off.
    cancel_a.cancel();
    task_a.await.unwrap().unwrap();
    wait_for(&mut status_b, 30, "B is the active relay", |s| s.leader).await;
    app.submit_many(&customer, 10).await;
    let head = app.head();
    let done = wait_for(&mut status_b, 30, "B caught up", |s| s.checkpoint == head).await;
    assert_eq!(done.duplicates, 0, "B resumed at A's checkpoint");

    let received = consume_all(&nats.url(), DEFAULT_STREAM).await;
    assert_exactly_once(&app.app, &received, head).await;
    cancel_b.cancel();
    task_b.await.unwrap().unwrap();
    other_store.close().await;
    app.stop().await;
}
