//! The relay: publishes every committed event, in global order, to a NATS
//! JetStream stream, for other processes and machines (`pactum relay`, or a task
//! of `pactum serve --nats-url`). Start reading at [`Relay::run`].
//!
//! The database is the truth, JetStream a copy that can always be rebuilt from it
//! (outbox style: commands never wait for NATS, and NATS being down only delays
//! the copy).
//!
//! - **Messages.** Subject `pactum.events.<aggregate_type>.<aggregate_id>`, body
//!   the event's JSON exactly as `pactum export` writes it, headers `Nats-Msg-Id`
//!   = `<aggregate_type>/<aggregate_id>/<sequence>` (the server drops a re-publish
//!   inside its duplicate window) and `Pactum-Position` = the global position.
//! - **Checkpoint.** After a batch (up to [`RelayConfig::batch`] publishes in
//!   flight) every ack is awaited in order, then the position of the batch's last
//!   event is stored in `relay_checkpoints` through the store's writer. A failed
//!   ack fails the whole batch: the checkpoint never passes an event whose ack
//!   failed. A crash between the acks and the checkpoint re-publishes the batch
//!   (duplicates the server drops, or consumers drop by (aggregate, id, sequence)).
//! - **Lost acknowledged messages.** nats-server 2.9 acknowledges a publish before
//!   it is on disk, so after a crash of the server the stream may hold less than
//!   the checkpoint says. Every session (one NATS connection) therefore starts by
//!   reading the stream's last message and resumes after min(checkpoint, that
//!   message's `Pactum-Position`). A session ends on any NATS error or
//!   disconnection, so a restarted server is always re-read. While a session lasts,
//!   each new message's stream sequence must follow the previous one, and while
//!   idle the stream's last sequence is compared every [`RelayConfig::idle_check`]:
//!   anything else means the stream lost messages (or someone else publishes into
//!   it), and a new session re-reads it. The relay owns its stream.
//! - **One relay at a time.** On PostgreSQL the active relay holds a session
//!   advisory lock on a connection of its own for as long as it runs; on SQLite an
//!   exclusive lock on the file `<database>.relay-lock`. Others wait and retry.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, message::PublishMessage, stream};
use pactum_events::RecordedEvent;
use sqlx::{ConnectOptions, Connection};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::clock::{Clock, SystemClock};
use crate::metrics::METRICS;
use crate::store::{EventStore, StorageLocation, StoreError};

/// Every subject the relay publishes on starts with this.
pub const SUBJECT_PREFIX: &str = "pactum.events";
/// The header carrying the event's global position.
pub const POSITION_HEADER: &str = "Pactum-Position";
/// The default stream name.
pub const DEFAULT_STREAM: &str = "PACTUM_EVENTS";
/// The PostgreSQL advisory lock held by the active relay ("pactrly" in ASCII);
/// distinct from the store's append lock.
const LEADER_LOCK: i64 = 0x0070_6163_7472_6c79;

/// Decides, given the position of a batch's last event, whether to stop the relay
/// after the batch's acks and before its checkpoint is stored, as a crash would.
pub type StopPoint = Arc<dyn Fn(u64) -> bool + Send + Sync>;

/// Test hooks. Empty in production.
#[derive(Clone, Default)]
pub struct RelayHooks {
    pub stop_before_checkpoint: Option<StopPoint>,
}

#[derive(Clone)]
pub struct RelayConfig {
    pub nats_url: String,
    /// The JetStream stream (created if missing) and the checkpoint's name.
    pub stream: String,
    /// Publishes in flight before their acks are awaited and the checkpoint moves.
    pub batch: u32,
    /// First and longest wait before reconnecting after a failure (doubling).
    pub retry_min: Duration,
    pub retry_max: Duration,
    /// How often a relay that is not the active one tries to become it.
    pub lock_retry: Duration,
    /// While caught up: how often to look for commits of other processes and
    /// check that the stream still holds what was published.
    pub idle_check: Duration,
    pub hooks: RelayHooks,
}

impl RelayConfig {
    pub fn new(nats_url: impl Into<String>, stream: impl Into<String>) -> Self {
        Self {
            nats_url: nats_url.into(),
            stream: stream.into(),
            batch: 512,
            retry_min: Duration::from_millis(250),
            retry_max: Duration::from_secs(5),
            lock_retry: Duration::from_secs(2),
            idle_check: Duration::from_secs(1),
            hooks: RelayHooks::default(),
        }
    }
}

/// What a relay has done so far (for tests, logs and metrics).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RelayStatus {
    /// Whether this relay is the active one.
    pub leader: bool,
    /// The checkpoint as this relay last stored (or read) it.
    pub checkpoint: u64,
    /// Publishes the server stored as new messages.
    pub published: u64,
    /// Publishes the server reported as duplicates.
    pub duplicates: u64,
    /// NATS sessions started (each re-reads what the stream holds).
    pub sessions: u64,
    /// Sessions that failed, or could not start (NATS down): each is retried.
    pub failures: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error(
        "stopped by a test hook after publishing up to position {0}, before storing the checkpoint"
    )]
    Stopped(u64),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a session ended; the relay starts a new one (after a pause), unless
/// leadership was lost or a hook stopped it.
#[derive(Debug, thiserror::Error)]
enum SessionError {
    #[error("NATS: {0}")]
    Nats(String),
    #[error("the connection to NATS was lost")]
    Disconnected,
    #[error(
        "the stream does not hold what was published (expected stream sequence {expected}, \
         found {found}): NATS lost acknowledged messages"
    )]
    StreamBehind { expected: u64, found: u64 },
    #[error("database: {0}")]
    Store(String),
    #[error("lost the relay lock: {0}")]
    LeadershipLost(String),
    #[error("stopped by a test hook at position {0}")]
    Stopped(u64),
}

fn nats(error: impl std::fmt::Display) -> SessionError {
    SessionError::Nats(error.to_string())
}

fn store(error: impl std::fmt::Display) -> SessionError {
    SessionError::Store(error.to_string())
}

/// Publishes the log of one store to one stream.
pub struct Relay {
    store: EventStore,
    location: StorageLocation,
    config: RelayConfig,
    status: watch::Sender<RelayStatus>,
}

impl Relay {
    pub fn new(store: EventStore, location: StorageLocation, config: RelayConfig) -> Self {
        Self {
            store,
            location,
            config,
            status: watch::Sender::new(RelayStatus::default()),
        }
    }

    /// Follows what the relay does.
    pub fn status(&self) -> watch::Receiver<RelayStatus> {
        self.status.subscribe()
    }

    /// Runs until `cancel`: waits to become the active relay, then publishes, and
    /// reconnects with backoff whenever NATS fails. Returns `Ok` when cancelled.
    pub async fn run(&self, cancel: CancellationToken) -> Result<(), RelayError> {
        loop {
            let Some(mut leader) = self.acquire(&cancel).await? else {
                return Ok(());
            };
            tracing::info!(stream = %self.config.stream, "this relay is the active one");
            self.status.send_modify(|s| s.leader = true);
            let outcome = self.lead(&mut leader, &cancel).await;
            self.status.send_modify(|s| s.leader = false);
            leader.release().await;
            match outcome {
                Ok(()) => return Ok(()),
                Err(SessionError::Stopped(position)) => return Err(RelayError::Stopped(position)),
                Err(error) => tracing::warn!(%error, "the relay steps down"),
            }
        }
    }

    /// Takes the relay lock, waiting while another relay holds it; `None` when
    /// cancelled meanwhile.
    async fn acquire(&self, cancel: &CancellationToken) -> Result<Option<Leader>, RelayError> {
        let lock = LockTarget::of(&self.location)?;
        let mut told = false;
        loop {
            match lock.try_acquire().await {
                Ok(Some(leader)) => return Ok(Some(leader)),
                Ok(None) if !told => {
                    tracing::info!("another relay is active; waiting for its lock");
                    told = true;
                }
                Ok(None) => {}
                Err(error) => tracing::warn!(%error, "cannot take the relay lock"),
            }
            tokio::select! {
                () = cancel.cancelled() => return Ok(None),
                () = tokio::time::sleep(self.config.lock_retry) => {}
            }
        }
    }

    /// Runs sessions while this relay holds the lock: `Ok` when cancelled, an
    /// error when the lock was lost or a hook stopped it.
    async fn lead(
        &self,
        leader: &mut Leader,
        cancel: &CancellationToken,
    ) -> Result<(), SessionError> {
        let mut pause = self.config.retry_min;
        loop {
            let before = self.status.borrow().checkpoint;
            match self.session(leader, cancel).await {
                Ok(()) => return Ok(()),
                Err(error @ (SessionError::Stopped(_) | SessionError::LeadershipLost(_))) => {
                    return Err(error);
                }
                Err(error) => {
                    self.status.send_modify(|s| s.failures += 1);
                    if self.status.borrow().checkpoint != before {
                        pause = self.config.retry_min;
                    }
                    tracing::warn!(%error, retry_in = ?pause, "relay session ended");
                }
            }
            tokio::select! {
                () = cancel.cancelled() => return Ok(()),
                () = tokio::time::sleep(pause) => {}
            }
            pause = (pause * 2).min(self.config.retry_max);
        }
    }

    /// One connection to NATS: re-read what the stream holds, then publish
    /// batches until cancelled (`Ok`) or anything fails.
    async fn session(
        &self,
        leader: &mut Leader,
        cancel: &CancellationToken,
    ) -> Result<(), SessionError> {
        let (lost_tx, mut lost) = watch::channel(false);
        let lost_tx = Arc::new(lost_tx);
        let client = async_nats::ConnectOptions::new()
            .connection_timeout(Duration::from_secs(2))
            .event_callback(move |event| {
                let lost_tx = Arc::clone(&lost_tx);
                async move {
                    if matches!(
                        event,
                        async_nats::Event::Disconnected | async_nats::Event::Closed
                    ) {
                        lost_tx.send_replace(true);
                    }
                }
            })
            .connect(self.config.nats_url.as_str())
            .await
            .map_err(nats)?;
        self.status.send_modify(|s| s.sessions += 1);
        let js = jetstream::new(client);
        let mut stream = js
            .get_or_create_stream(stream::Config {
                name: self.config.stream.clone(),
                subjects: vec![format!("{SUBJECT_PREFIX}.>")],
                storage: stream::StorageType::File,
                ..Default::default()
            })
            .await
            .map_err(nats)?;

        // What the stream really holds, and where the database says we were.
        let mut stream_sequence = stream.info().await.map_err(nats)?.state.last_sequence;
        let stream_position = last_position(&stream, stream_sequence).await;
        let checkpoint = read_checkpoint(&self.store, &self.config.stream)
            .await
            .map_err(store)?;
        let mut after = checkpoint.min(stream_position);
        if stream_position < checkpoint {
            tracing::warn!(
                checkpoint,
                stream_position,
                "the stream holds less than was acknowledged (NATS lost messages): re-publishing"
            );
        }
        tracing::info!(
            checkpoint,
            stream_position,
            resume_after = after,
            "relay session started"
        );
        self.status.send_modify(|s| s.checkpoint = checkpoint);

        let mut head = self.store.subscribe();
        let mut idle = tokio::time::interval(self.config.idle_check);
        idle.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        idle.reset();
        loop {
            if cancel.is_cancelled() {
                return Ok(());
            }
            if *lost.borrow() {
                return Err(SessionError::Disconnected);
            }
            leader.check().await?;
            let batch = self
                .store
                .read_after(after, self.config.batch)
                .await
                .map_err(store)?;
            let Some(last) = batch.last().map(|e| e.position) else {
                let committed = async {
                    // The guard `wait_for` returns must not live across an await.
                    let _ = head.wait_for(|head| *head > after).await;
                };
                let check_stream = tokio::select! {
                    () = cancel.cancelled() => return Ok(()),
                    _ = lost.changed() => return Err(SessionError::Disconnected),
                    () = committed => false,
                    _ = idle.tick() => true,
                };
                if check_stream {
                    let found = stream.info().await.map_err(nats)?.state.last_sequence;
                    if found != stream_sequence {
                        return Err(SessionError::StreamBehind {
                            expected: stream_sequence,
                            found,
                        });
                    }
                }
                continue;
            };

            // Pipelined: every publish of the batch is sent, then the acks are
            // awaited in order.
            let mut acks = Vec::with_capacity(batch.len());
            for event in &batch {
                let ack = js
                    .send_publish(subject(event), message(event))
                    .await
                    .map_err(nats)?;
                acks.push(ack);
            }
            let (mut published, mut duplicates) = (0, 0);
            for ack in acks {
                let ack = ack.await.map_err(nats)?;
                if ack.duplicate {
                    duplicates += 1;
                } else if ack.sequence == stream_sequence + 1 {
                    stream_sequence = ack.sequence;
                    published += 1;
                } else {
                    return Err(SessionError::StreamBehind {
                        expected: stream_sequence + 1,
                        found: ack.sequence,
                    });
                }
            }
            self.status.send_modify(|s| {
                s.published += published;
                s.duplicates += duplicates;
            });
            METRICS.relay_published.inc_by(published);
            METRICS.relay_duplicates.inc_by(duplicates);
            if let Some(stop) = &self.config.hooks.stop_before_checkpoint
                && stop(last)
            {
                return Err(SessionError::Stopped(last));
            }
            write_checkpoint(&self.store, &self.config.stream, last)
                .await
                .map_err(store)?;
            after = last;
            self.status.send_modify(|s| s.checkpoint = last);
            METRICS.relay_position.set(last as i64);
            tracing::debug!(checkpoint = last, published, duplicates, "relayed a batch");
        }
    }
}

/// The subject of an event's message. Characters NATS gives a meaning to in
/// subjects become `_`; the body and `Nats-Msg-Id` carry the exact ids.
pub fn subject(event: &RecordedEvent) -> String {
    format!(
        "{SUBJECT_PREFIX}.{}.{}",
        subject_token(&event.aggregate_type),
        subject_token(&event.aggregate_id)
    )
}

/// The `Nats-Msg-Id` of an event: unique per event, the same on every re-publish.
pub fn message_id(event: &RecordedEvent) -> String {
    format!(
        "{}/{}/{}",
        event.aggregate_type, event.aggregate_id, event.sequence
    )
}

fn subject_token(raw: &str) -> String {
    if raw.is_empty() {
        return "_".into();
    }
    raw.chars()
        .map(|c| match c {
            '.' | '*' | '>' => '_',
            c if c.is_whitespace() || c.is_control() => '_',
            c => c,
        })
        .collect()
}

fn message(event: &RecordedEvent) -> PublishMessage {
    // The same JSON as a line of `pactum export` (store::transfer).
    let body = serde_json::to_vec(event).expect("a recorded event serializes");
    PublishMessage::build()
        .payload(body.into())
        .message_id(message_id(event))
        .header(POSITION_HEADER, event.position.to_string().as_str())
}

/// The global position of the stream's last message (0 when empty or unreadable:
/// then everything is re-published, which de-duplication makes harmless).
async fn last_position(stream: &stream::Stream, last_sequence: u64) -> u64 {
    if last_sequence == 0 {
        return 0;
    }
    match stream.get_raw_message(last_sequence).await {
        Ok(message) => match message
            .headers
            .get(POSITION_HEADER)
            .and_then(|v| v.as_str().parse::<u64>().ok())
        {
            Some(position) => position,
            None => {
                tracing::warn!(
                    last_sequence,
                    "the stream's last message has no {POSITION_HEADER} header: re-publishing everything"
                );
                0
            }
        },
        Err(error) => {
            tracing::warn!(%error, last_sequence, "cannot read the stream's last message: re-publishing everything");
            0
        }
    }
}

/// The stored checkpoint of the relay to `name` (0 if it never published).
pub async fn read_checkpoint(store: &EventStore, name: &str) -> Result<u64, sqlx::Error> {
    let position: Option<i64> =
        sqlx::query_scalar("SELECT position FROM relay_checkpoints WHERE name = $1")
            .bind(name)
            .fetch_optional(store.reader())
            .await?;
    Ok(position.unwrap_or(0) as u64)
}

async fn write_checkpoint(store: &EventStore, name: &str, position: u64) -> Result<(), String> {
    let name = name.to_owned();
    // Bookkeeping of when the relay last published: the machine's time, as the
    // relay (a process of its own) runs on nothing else.
    let now = SystemClock.now().as_microsecond();
    store
        .write(move |conn| {
            Box::pin(async move {
                sqlx::query(
                    "INSERT INTO relay_checkpoints (name, position, updated_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (name) DO UPDATE SET position = excluded.position, \
                     updated_at = excluded.updated_at",
                )
                .bind(name)
                .bind(position as i64)
                .bind(now)
                .execute(&mut *conn)
                .await
                .map(|_| ())
            })
        })
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())
}

/// What the relay lock is taken on.
enum LockTarget {
    Postgres(String),
    File(std::path::PathBuf),
}

impl LockTarget {
    fn of(location: &StorageLocation) -> Result<Self, StoreError> {
        if let Some(url) = location.postgres_url() {
            return Ok(Self::Postgres(url.to_owned()));
        }
        match location.sqlite_file() {
            Some(file) => {
                let mut name = file.into_os_string();
                name.push(".relay-lock");
                Ok(Self::File(name.into()))
            }
            None => Err(StoreError::Unsupported(format!(
                "the relay cannot lock the store at {location}"
            ))),
        }
    }

    async fn try_acquire(&self) -> Result<Option<Leader>, String> {
        match self {
            Self::Postgres(url) => {
                let mut conn = url
                    .parse::<sqlx::postgres::PgConnectOptions>()
                    .map_err(|e| e.to_string())?
                    .disable_statement_logging()
                    .connect()
                    .await
                    .map_err(|e| e.to_string())?;
                let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
                    .bind(LEADER_LOCK)
                    .fetch_one(&mut conn)
                    .await
                    .map_err(|e| e.to_string())?;
                if got {
                    Ok(Some(Leader::Postgres {
                        conn,
                        checked: Instant::now(),
                    }))
                } else {
                    let _ = conn.close().await;
                    Ok(None)
                }
            }
            Self::File(path) => {
                let file = std::fs::OpenOptions::new()
                    .create(true)
                    .truncate(false)
                    .write(true)
                    .open(path)
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                match file.try_lock() {
                    Ok(()) => Ok(Some(Leader::File(file))),
                    Err(std::fs::TryLockError::WouldBlock) => Ok(None),
                    Err(std::fs::TryLockError::Error(e)) => Err(format!("{}: {e}", path.display())),
                }
            }
        }
    }
}

/// The held relay lock: released when the connection closes or the file is closed.
enum Leader {
    Postgres {
        conn: sqlx::postgres::PgConnection,
        checked: Instant,
    },
    File(std::fs::File),
}

impl Leader {
    /// Whether the lock is still held: on PostgreSQL, whether the connection that
    /// holds it still answers (asked at most every two seconds).
    async fn check(&mut self) -> Result<(), SessionError> {
        const EVERY: Duration = Duration::from_secs(2);
        if let Self::Postgres { conn, checked } = self
            && checked.elapsed() >= EVERY
        {
            conn.ping()
                .await
                .map_err(|e| SessionError::LeadershipLost(e.to_string()))?;
            *checked = Instant::now();
        }
        Ok(())
    }

    async fn release(self) {
        match self {
            Self::Postgres { conn, .. } => {
                let _ = conn.close().await;
            }
            Self::File(file) => drop(file),
        }
    }
}
