//! The event store: pactum's one log, on SQLite (embedded default).
//!
//! Reads go through a pool of connections; every write goes through one writer
//! task ([`writer`]) that owns the only writing connection and commits concurrent
//! appends together (group commit): one durable transaction, one fsync, many
//! commands. Which commands of a batch may be appended, and the rows they add, is
//! decided in [`stage`]; the writer's SQL is in [`rows`]. Start with [`EventStore::open`] and [`EventStore::append`].
//!
//! What an append guarantees:
//! - optimistic concurrency: a request names the aggregate sequence it was decided
//!   on; if the log moved on, it fails with [`AppendError::Conflict`] and nothing of
//!   it is written, while the other requests of its batch commit;
//! - idempotency: a request may carry the response to remember under its
//!   idempotency key, stored in the same transaction; a later request with that key
//!   gets the stored response back ([`AppendOutcome::Replayed`]) and appends nothing;
//! - tamper evidence: each event's hash chains to the previous event of its aggregate;
//! - inline projections (e.g. the token table) are updated in the same transaction.
//!
//! Beside the store: [`verify`] checks the hash chains and the gap-free positions
//! (`pactum verify`); [`transfer`] writes and reads the whole log as JSON lines
//! (`pactum export | import`).

mod cache;
pub mod direct;
mod hash;
mod location;
mod rows;
mod stage;
pub mod transfer;
mod turns;
pub mod types;
pub mod verify;
mod writer;

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use futures::future::BoxFuture;
use jiff::Timestamp;
use pactum_events::{Actor, EventPayload, RecordedEvent};
use serde_json::Value;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{ConnectOptions, Connection, Executor};
use tokio::sync::{mpsc, oneshot, watch};

pub use hash::{HashInput, chain_hash, recorded_hash};
pub use location::StorageLocation;
pub use turns::Turn;
pub use writer::APPEND_LOCK;

/// The database driver: sqlx's `Any`, so one set of queries (with `$N`
/// placeholders) runs on SQLite and on PostgreSQL.
pub type Db = sqlx::Any;
pub type DbPool = sqlx::AnyPool;
pub type DbConnection = sqlx::AnyConnection;
pub type DbRow = sqlx::any::AnyRow;
pub type DbArguments<'q> = sqlx::any::AnyArguments<'q>;

/// Which database holds the log; the few statements that differ (DDL, locking,
/// index hints) ask this.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// An event to append, already encoded by its aggregate.
#[derive(Clone, Debug)]
pub struct NewEvent {
    pub event_type: String,
    pub schema_version: u32,
    pub payload: Value,
}

impl NewEvent {
    /// `event` as its type's codec encodes it.
    pub fn encode(event: &impl EventPayload) -> Self {
        let (event_type, schema_version, payload) = event.encode();
        Self {
            event_type: event_type.to_owned(),
            schema_version,
            payload,
        }
    }
}

/// The envelope fields shared by every event a command produces.
#[derive(Clone, Debug)]
pub struct EventMeta {
    pub recorded_at: Timestamp,
    pub actor: Actor,
    pub correlation_id: String,
    pub causation_id: Option<String>,
    pub idempotency_key: Option<String>,
}

/// The answer to remember for an idempotency key.
#[derive(Clone, Debug)]
pub struct IdempotentResponse {
    /// Who may replay it: keys are scoped per caller.
    pub scope: String,
    pub key: String,
    /// Fingerprint of the request, so a key reused for another request is refused.
    pub request_hash: String,
    pub status: u16,
    pub body: String,
}

/// A response stored under an idempotency key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredResponse {
    pub request_hash: String,
    pub status: u16,
    pub body: String,
    pub position: u64,
}

/// Events of one aggregate, decided on the aggregate at `expected_sequence`.
#[derive(Clone, Debug)]
pub struct AppendRequest {
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub expected_sequence: u64,
    pub events: Vec<NewEvent>,
    pub meta: EventMeta,
    pub response: Option<IdempotentResponse>,
    /// Documents the events refer to by hash, stored in the same transaction.
    pub attachments: Vec<Attachment>,
    /// The events are history brought over from another system (`pactum
    /// import-jira`), not news: inline projections fold them as they fold what
    /// `pactum import` restores ([`InlineProjection::apply_imported`]), so the
    /// outbox mails nobody about them.
    pub history: bool,
}

/// A document stored by content beside the events that record its hash.
#[derive(Clone, Debug)]
pub struct Attachment {
    pub sha256: String,
    pub media_type: String,
    pub bytes: Vec<u8>,
}

#[derive(Clone, Debug)]
pub enum AppendOutcome {
    /// The events are durable, with their positions and hashes.
    Committed(Vec<RecordedEvent>),
    /// The idempotency key was used before with the same request: nothing was
    /// appended, here is the first answer.
    Replayed(StoredResponse),
}

#[derive(Clone, Debug, thiserror::Error)]
pub enum AppendError {
    #[error(
        "{aggregate_type} {aggregate_id} is at sequence {actual}, the command was decided at {expected}"
    )]
    Conflict {
        aggregate_type: String,
        aggregate_id: String,
        expected: u64,
        actual: u64,
    },
    #[error("idempotency key {key:?} was already used for a different request")]
    IdempotencyKeyReused { key: String },
    #[error("event store: {0}")]
    Storage(Arc<sqlx::Error>),
    #[error("the event store's writer has stopped")]
    Closed,
}

impl From<sqlx::Error> for AppendError {
    fn from(error: sqlx::Error) -> Self {
        Self::Storage(Arc::new(error))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot create the data directory {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Unsupported(String),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// A read on the caller's thread ([`direct`]) failed.
    #[error("database: {0}")]
    Direct(#[from] rusqlite::Error),
    #[error("cannot migrate the database: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored event at position {position} is unreadable: {reason}")]
    Corrupt { position: u64, reason: String },
    /// A row of a table kept beside the log (an inline projection's) that this
    /// build cannot read back.
    #[error("row {key} of {table} is unreadable: {reason}")]
    CorruptRow {
        table: &'static str,
        key: String,
        reason: String,
    },
}

/// A read model kept in the same transaction as the events it folds, for data that
/// other processes must see the moment it is committed (API tokens).
pub trait InlineProjection: Send + Sync + 'static {
    /// Called for every appended event, inside the append's transaction.
    fn apply<'a>(
        &'a self,
        conn: &'a mut DbConnection,
        event: &'a RecordedEvent,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Called instead of [`apply`](Self::apply) for events `pactum import`
    /// restores and for history another system kept ([`AppendRequest::history`]):
    /// history, not news (the outbox mails nobody about it).
    fn apply_imported<'a>(
        &'a self,
        conn: &'a mut DbConnection,
        event: &'a RecordedEvent,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        self.apply(conn, event)
    }

    /// Drops whatever the projection remembers of its tables between events:
    /// the writer calls it when writes it applied are undone (a failed batch,
    /// a refused import) and when another process appended since its last
    /// commit. A projection that remembers nothing ignores it.
    fn forget(&self) {}

    /// Whether [`apply`](Self::apply) can fold `event`, judged without the
    /// database. `pactum import` asks this of every event before inserting any, so
    /// an event this build cannot read is refused up front, not halfway through.
    fn check(&self, event: &RecordedEvent) -> Result<(), String> {
        let _ = event;
        Ok(())
    }
}

impl StoreError {
    /// An event this build cannot read.
    pub fn unreadable(event: &RecordedEvent, reason: impl std::fmt::Display) -> Self {
        Self::Corrupt {
            position: event.position,
            reason: reason.to_string(),
        }
    }
}

/// An inline projection's failure as the writer's transaction carries it: a
/// database error as it was, anything else (an event this build cannot read)
/// inside one.
pub(crate) fn inline_failure(error: StoreError) -> sqlx::Error {
    match error {
        StoreError::Database(error) => error,
        other => sqlx::Error::Decode(Box::new(other)),
    }
}

/// [`InlineProjection::check`] for a projection that folds the events of `E`'s
/// aggregate: whether `event`, if it is one of them, decodes.
pub fn check_decodes<E: EventPayload>(event: &RecordedEvent) -> Result<(), String> {
    decode_own::<E>(event).map(drop).map_err(|e| e.to_string())
}

/// `event` decoded as one of `E`'s aggregate, or `None` if it is another
/// aggregate's: how an inline projection reads the events it folds.
pub fn decode_own<E: EventPayload>(event: &RecordedEvent) -> Result<Option<E>, StoreError> {
    if event.aggregate_type != E::AGGREGATE_TYPE {
        return Ok(None);
    }
    E::decode(
        &event.event_type,
        event.schema_version,
        event.payload.clone(),
    )
    .map(Some)
    .map_err(|e| StoreError::unreadable(event, e))
}

/// Handle to the event store. Cheap to clone.
#[derive(Clone)]
pub struct EventStore {
    inner: Arc<Inner>,
}

struct Inner {
    reader: DbPool,
    dialect: Dialect,
    writer: mpsc::Sender<writer::Message>,
    head: watch::Receiver<u64>,
    /// The writer's inline projections, for [`EventStore::check_inline`].
    inline: Vec<Arc<dyn InlineProjection>>,
    /// Hot aggregates' events, kept by the writer.
    cache: Arc<cache::AggregateCache>,
    /// Commands on one aggregate take turns in this process.
    turns: turns::AggregateTurns,
    /// The database file, on SQLite.
    sqlite_file: Option<std::path::PathBuf>,
    /// Short reads on the caller's thread, on SQLite.
    direct: Option<direct::DirectReader>,
    /// Which event types the writer appended lately, and where.
    types: Arc<types::TypeIndex>,
}

/// The longest history [`EventStore::load`] reads on the caller's thread.
const SHORT_HISTORY: usize = 64;

const EVENT_COLUMNS: &str = "position, aggregate_type, aggregate_id, sequence, event_type, \
     schema_version, recorded_at, actor_subject, actor_role, actor_org, correlation_id, \
     causation_id, idempotency_key, payload, hash";

impl EventStore {
    /// Opens (creating if needed) the store, applies pending migrations and starts
    /// the writer.
    pub async fn open(
        location: &StorageLocation,
        inline: Vec<Arc<dyn InlineProjection>>,
    ) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let (dialect, writer_url, reader_url) = location.urls()?;
        let mut conn = connect(dialect, &writer_url).await?;
        match dialect {
            Dialect::Sqlite => {
                // WAL lets readers run beside the writer; FULL syncs the WAL on
                // every commit, so an acknowledged command survives power loss
                // (docs/adr/0002).
                conn.execute("PRAGMA journal_mode = WAL").await?;
                conn.execute("PRAGMA synchronous = FULL").await?;
                sqlx::migrate!("./migrations/sqlite").run(&mut conn).await?;
            }
            Dialect::Postgres => {
                sqlx::migrate!("./migrations/postgres")
                    .run(&mut conn)
                    .await?;
            }
        }
        let reader = AnyPoolOptions::new()
            .max_connections(8)
            .min_connections(1)
            // sqlx pings a connection before lending it out: on SQLite a round
            // trip to the connection's thread and back for nothing (the file
            // cannot go away under an open connection). PostgreSQL keeps it.
            .test_before_acquire(dialect == Dialect::Postgres)
            // On PostgreSQL a database that went away fails requests within two
            // seconds (503 with Retry-After); a busy SQLite file waits longer.
            .acquire_timeout(match dialect {
                Dialect::Sqlite => Duration::from_secs(5),
                Dialect::Postgres => Duration::from_secs(2),
            })
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if dialect == Dialect::Sqlite {
                        conn.execute("PRAGMA busy_timeout = 10000").await?;
                    }
                    Ok(())
                })
            })
            .connect_with(quiet(&reader_url)?)
            .await?;
        let head: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(position), 0) FROM events")
            .fetch_one(&reader)
            .await?;
        let (head_tx, head_rx) = watch::channel(head as u64);
        let (jobs_tx, jobs_rx) = mpsc::channel(writer::QUEUE_DEPTH);
        let head_tx = Arc::new(head_tx);
        if dialect == Dialect::Postgres {
            tokio::spawn(follow_other_nodes(
                reader_url.clone(),
                reader.clone(),
                Arc::clone(&head_tx),
            ));
        }
        let direct = match location.sqlite_file() {
            Some(file) if file != std::path::Path::new(":memory:") => {
                Some(direct::DirectReader::open(&file)?)
            }
            _ => None,
        };
        let cache = Arc::new(cache::AggregateCache::new());
        let types = Arc::new(types::TypeIndex::default());
        tokio::spawn(writer::run(
            conn,
            writer_url,
            dialect,
            jobs_rx,
            inline.clone(),
            writer::Shared {
                head: head_tx,
                cache: Arc::clone(&cache),
                types: Arc::clone(&types),
            },
        ));
        Ok(Self {
            inner: Arc::new(Inner {
                reader,
                dialect,
                writer: jobs_tx,
                head: head_rx,
                inline,
                cache,
                turns: turns::AggregateTurns::default(),
                sqlite_file: location.sqlite_file(),
                direct,
                types,
            }),
        })
    }

    /// Appends one aggregate's events (see the module docs for the guarantees).
    pub async fn append(&self, request: AppendRequest) -> Result<AppendOutcome, AppendError> {
        let mut outcomes = self.append_all(vec![request]).await?;
        Ok(outcomes.pop().expect("one outcome per request"))
    }

    /// Appends several aggregates' events atomically: all of them or, on any
    /// conflict or error, none. Replayed requests are answered and skipped.
    pub async fn append_all(
        &self,
        requests: Vec<AppendRequest>,
    ) -> Result<Vec<AppendOutcome>, AppendError> {
        let (reply, answer) = oneshot::channel();
        self.inner
            .writer
            .send(writer::Message::Work(writer::Work::Append {
                requests,
                reply,
            }))
            .await
            .map_err(|_| AppendError::Closed)?;
        answer.await.map_err(|_| AppendError::Closed)?
    }

    /// Inserts events recorded by another store exactly as they are (positions,
    /// times, hashes), updating inline projections. For `pactum import` into an
    /// empty store; positions must continue the log without gaps.
    pub async fn import(&self, events: Vec<RecordedEvent>) -> Result<(), AppendError> {
        let (reply, answer) = oneshot::channel();
        self.inner
            .writer
            .send(writer::Message::Work(writer::Work::Import {
                events,
                reply,
            }))
            .await
            .map_err(|_| AppendError::Closed)?;
        answer.await.map_err(|_| AppendError::Closed)?
    }

    /// Whether every inline projection can fold `event` ([`InlineProjection::check`]).
    pub fn check_inline(&self, event: &RecordedEvent) -> Result<(), String> {
        self.inner
            .inline
            .iter()
            .try_for_each(|projection| projection.check(event))
    }

    /// Runs `task` on the writer's connection inside the next group commit, in a
    /// savepoint of its own: its writes are kept if it returns `Ok` and rolled back
    /// if it returns `Err`. Answers after the commit, so an `Ok` is durable.
    ///
    /// This is how read models update their rows and checkpoint atomically without
    /// a second writing connection competing for SQLite's lock.
    pub async fn write<T, E, F>(&self, task: F) -> Result<Result<T, E>, AppendError>
    where
        F: for<'c> FnOnce(&'c mut DbConnection) -> BoxFuture<'c, Result<T, E>> + Send + 'static,
        T: Send + 'static,
        E: Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let task: writer::Task = Box::new(move |conn| {
            Box::pin(async move {
                let result = task(conn).await;
                let keep = result.is_ok();
                let deliver: writer::Deliver = Box::new(move |commit| {
                    let _ = reply.send(commit.map(|()| result));
                });
                (keep, deliver)
            })
        });
        self.inner
            .writer
            .send(writer::Message::Work(writer::Work::Task(task)))
            .await
            .map_err(|_| AppendError::Closed)?;
        answer.await.map_err(|_| AppendError::Closed)?
    }

    /// A stored document by its hash: (media type, bytes).
    pub async fn document(&self, sha256: &str) -> Result<Option<(String, Vec<u8>)>, StoreError> {
        Ok(
            sqlx::query_as("SELECT media_type, bytes FROM documents WHERE sha256 = $1")
                .bind(sha256)
                .fetch_optional(&self.inner.reader)
                .await?,
        )
    }

    /// Stores a document by content (a re-rendered one, say) as of `now`;
    /// storing it twice is harmless.
    pub async fn store_document(
        &self,
        attachment: Attachment,
        now: jiff::Timestamp,
    ) -> Result<(), AppendError> {
        let now = now.as_microsecond();
        self.write(move |conn| {
            Box::pin(async move { rows::insert_attachment(conn, &attachment, now).await })
        })
        .await?
        .map_err(AppendError::from)
    }

    /// Whether the log has no event at all.
    pub async fn is_empty(&self) -> Result<bool, sqlx::Error> {
        let any: Option<i64> = sqlx::query_scalar("SELECT position FROM events LIMIT 1")
            .fetch_optional(&self.inner.reader)
            .await?;
        Ok(any.is_none())
    }

    /// Every event, aggregate by aggregate in sequence order, streamed with
    /// bounded memory (one read transaction). For `pactum verify`.
    pub fn stream_by_aggregate(
        &self,
    ) -> impl futures::Stream<Item = Result<RecordedEvent, StoreError>> + '_ {
        use futures::StreamExt;
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!(
                "SELECT {EVENT_COLUMNS} FROM events ORDER BY aggregate_type, aggregate_id, sequence"
            )
        });
        sqlx::query(SQL.as_str())
            .fetch(&self.inner.reader)
            .map(|row| event_from(&direct::Row::Pool(&row?)))
    }

    /// Every event of one aggregate, in sequence order.
    #[tracing::instrument(skip(self))]
    pub async fn load(
        &self,
        aggregate_type: &str,
        aggregate_id: &str,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!(
                "SELECT {EVENT_COLUMNS} FROM events \
                 WHERE aggregate_type = $1 AND aggregate_id = $2 ORDER BY sequence"
            )
        });
        static SHORT: LazyLock<String> =
            LazyLock::new(|| format!("{} LIMIT {}", *SQL, SHORT_HISTORY + 1));
        // On SQLite, a short history (a new order's: none) is read on this
        // thread; a longer one is read again through the pool.
        let params = [
            direct::Param::Text(aggregate_type),
            direct::Param::Text(aggregate_id),
        ];
        if self.direct().is_some() {
            let short = self.read_rows(&SHORT, &params, event_from).await?;
            if short.len() <= SHORT_HISTORY {
                return Ok(short);
            }
        }
        let rows = sqlx::query(&SQL)
            .bind(aggregate_type)
            .bind(aggregate_id)
            .fetch_all(&self.inner.reader)
            .await?;
        rows.iter()
            .map(|row| event_from(&direct::Row::Pool(row)))
            .collect()
    }

    /// Every event of one aggregate, from memory if the aggregate is hot (see
    /// [`cache`]); if so, with the cache's generation then. A command decided on
    /// a cached history that conflicts while [`EventStore::cache_generation`] is
    /// still that generation met a real race; in a later one, the history may
    /// have lagged another node's or process's appends.
    ///
    /// From memory, it may come with the aggregate decoded from a prefix of its
    /// events, as [`EventStore::keep_decoded`] left it.
    pub(crate) async fn load_cached(
        &self,
        aggregate_type: &str,
        aggregate_id: &str,
    ) -> Result<cache::Hot, StoreError> {
        if let Some(hot) = self.inner.cache.get(aggregate_type, aggregate_id) {
            return Ok(hot);
        }
        let events = self.load(aggregate_type, aggregate_id).await?;
        self.inner.cache.fill(aggregate_type, aggregate_id, &events);
        Ok(cache::Hot {
            events: Arc::new(events),
            decoded: None,
            generation: None,
        })
    }

    /// Keeps `decoded`, the aggregate folded from its events up to `sequence`,
    /// beside its events in memory if they are held (see [`cache`]).
    pub(crate) fn keep_decoded(
        &self,
        aggregate_type: &str,
        aggregate_id: &str,
        sequence: u64,
        decoded: cache::Decoded,
    ) {
        self.inner
            .cache
            .decoded(aggregate_type, aggregate_id, sequence, decoded);
    }

    /// Waits for the turn to run a command on aggregate `id` of `kind` in this
    /// process (see [`turns`]); the turn passes on when the [`Turn`] is dropped.
    pub async fn turn(&self, kind: &str, id: &str) -> Turn {
        self.inner.turns.take(kind, id).await
    }

    /// How many times the hot aggregates were dropped because someone else
    /// appended (see [`EventStore::load_cached`]).
    pub fn cache_generation(&self) -> u64 {
        self.inner.cache.generation()
    }

    /// Up to `limit` events after global position `after`, in position order.
    pub async fn read_after(
        &self,
        after: u64,
        limit: u32,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE position > $1 ORDER BY position LIMIT $2"
        );
        let rows = sqlx::query(&sql)
            .bind(after as i64)
            .bind(i64::from(limit))
            .fetch_all(&self.inner.reader)
            .await?;
        rows.iter()
            .map(|row| event_from(&direct::Row::Pool(row)))
            .collect()
    }

    /// Like [`EventStore::read_after`], on a given connection (inside a write task,
    /// where the writer's own transaction is what must be read).
    pub async fn read_after_on(
        conn: &mut DbConnection,
        after: u64,
        limit: u32,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!(
                "SELECT {EVENT_COLUMNS} FROM events WHERE position > $1 ORDER BY position LIMIT $2"
            )
        });
        let rows = sqlx::query(SQL.as_str())
            .bind(after as i64)
            .bind(i64::from(limit))
            .fetch_all(conn)
            .await?;
        rows.iter()
            .map(|row| event_from(&direct::Row::Pool(row)))
            .collect()
    }

    /// The newest committed position, read on a given connection.
    pub async fn head_on(conn: &mut DbConnection) -> Result<u64, sqlx::Error> {
        let head: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(position), 0) FROM events")
            .fetch_one(conn)
            .await?;
        Ok(head as u64)
    }

    /// The response stored under an idempotency key, if any.
    pub async fn stored_response(
        &self,
        scope: &str,
        key: &str,
    ) -> Result<Option<StoredResponse>, sqlx::Error> {
        rows::stored_response(&self.inner.reader, scope, key).await
    }

    /// The global position of the newest committed event (0 for an empty log).
    pub fn head(&self) -> u64 {
        *self.inner.head.borrow()
    }

    /// The newest committed position as the database has it: like
    /// [`EventStore::head`], but also sees what another node committed an
    /// instant ago (for telling a position from the future from a fresh one).
    pub async fn committed_head(&self) -> Result<u64, sqlx::Error> {
        let known = self.head();
        let mut conn = self.inner.reader.acquire().await?;
        Ok(known.max(Self::head_on(&mut conn).await?))
    }

    /// Follows the head position as commits land.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.inner.head.clone()
    }

    /// The read-only pool, for read models that query their own tables.
    pub fn reader(&self) -> &DbPool {
        &self.inner.reader
    }

    /// Which database this is.
    pub fn dialect(&self) -> Dialect {
        self.inner.dialect
    }

    /// What this process's writer appended lately, by event type: a reader of
    /// some types asks it before reading the log ([`types::TypeIndex::none_of_after`]).
    pub fn types(&self) -> &types::TypeIndex {
        &self.inner.types
    }

    /// The database file, on SQLite: for bulk readers with a connection of their
    /// own (`pactum replay`), which never write.
    pub fn sqlite_file(&self) -> Option<&std::path::Path> {
        self.inner.sqlite_file.as_deref()
    }

    /// Reads on the caller's thread without a hand-off, on SQLite
    /// ([`direct`]); `None` on PostgreSQL, where the pool is the way.
    pub fn direct(&self) -> Option<&direct::DirectReader> {
        self.inner.direct.as_ref()
    }

    /// Runs a short read (`$N` parameters, as everywhere) and maps its rows:
    /// on SQLite on this thread ([`direct`]), on PostgreSQL through the pool.
    /// For the point reads every request makes (its token, a group's
    /// membership, the targets in force), not for long ones.
    pub async fn read_rows<T>(
        &self,
        sql: &str,
        params: &[direct::Param<'_>],
        map: impl Fn(&direct::Row<'_, '_>) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        if let Some(reader) = self.direct() {
            return reader.read(|conn| Ok(direct::query_rows(conn, sql, params, &map)))?;
        }
        let rows = direct::bind(sqlx::query(sql), params)
            .fetch_all(&self.inner.reader)
            .await?;
        rows.iter()
            .map(|row| map(&direct::Row::Pool(row)))
            .collect()
    }

    /// Checks that the database answers.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT 1").execute(&self.inner.reader).await?;
        Ok(())
    }

    /// Commits every append already queued, then stops the writer and the readers.
    /// Appends sent afterwards, through any clone, fail with [`AppendError::Closed`].
    pub async fn close(&self) {
        let (done, stopped) = oneshot::channel();
        if self
            .inner
            .writer
            .send(writer::Message::Close(done))
            .await
            .is_ok()
        {
            let _ = stopped.await;
        }
        self.inner.reader.close().await;
    }
}

impl StorageLocation {
    /// The dialect, and the URLs of the writing and the reading connections.
    fn urls(&self) -> Result<(Dialect, String, String), StoreError> {
        match self {
            StorageLocation::DataDir(dir) => {
                std::fs::create_dir_all(dir).map_err(|source| StoreError::DataDir {
                    path: dir.display().to_string(),
                    source,
                })?;
                let file = dir.join("pactum.db");
                Ok(sqlite_urls(&file.display().to_string()))
            }
            StorageLocation::DatabaseUrl(url) => {
                if let Some(path) = url
                    .strip_prefix("sqlite://")
                    .or_else(|| url.strip_prefix("sqlite:"))
                {
                    let path = path.split('?').next().unwrap_or(path);
                    return Ok(sqlite_urls(path));
                }
                if url.starts_with("postgres://") || url.starts_with("postgresql://") {
                    return Ok((Dialect::Postgres, url.clone(), url.clone()));
                }
                let scheme = url.split(':').next().unwrap_or_default();
                Err(StoreError::Unsupported(format!(
                    "unsupported database URL scheme {scheme:?}: use --data-dir DIR (embedded \
                     SQLite), sqlite://FILE or postgres://USER@HOST:PORT/DATABASE"
                )))
            }
        }
    }
}

/// Moves the head when another node appends (PostgreSQL): a notification per
/// commit, and a poll of the newest position when the listening connection was
/// lost (notifications sent meanwhile are gone) and every few seconds anyway.
async fn follow_other_nodes(url: String, reader: DbPool, head: Arc<watch::Sender<u64>>) {
    use sqlx::postgres::PgListener;
    const POLL: Duration = Duration::from_secs(2);
    let advance = |newest: u64| {
        head.send_if_modified(|current| {
            let moved = newest > *current;
            *current = (*current).max(newest);
            moved
        });
    };
    loop {
        if reader.is_closed() {
            return;
        }
        let mut listener = match PgListener::connect(&url).await {
            Ok(listener) => listener,
            Err(error) => {
                tracing::debug!(%error, "cannot listen for other nodes' commits yet");
                tokio::time::sleep(POLL).await;
                continue;
            }
        };
        if let Err(error) = listener.listen(writer::HEAD_CHANNEL).await {
            tracing::debug!(%error, "cannot listen for other nodes' commits yet");
            tokio::time::sleep(POLL).await;
            continue;
        }
        // Catch up on what was committed while not listening.
        let poll = || async {
            if let Ok(newest) =
                sqlx::query_scalar::<_, i64>("SELECT COALESCE(MAX(position), 0) FROM events")
                    .fetch_one(&reader)
                    .await
            {
                advance(newest as u64);
            }
        };
        poll().await;
        loop {
            match tokio::time::timeout(POLL, listener.try_recv()).await {
                Ok(Ok(Some(notification))) => {
                    if let Ok(newest) = notification.payload().parse::<u64>() {
                        advance(newest);
                    }
                }
                // The connection was lost: listen again on a new one.
                Ok(Ok(None)) | Ok(Err(_)) => break,
                Err(_) if reader.is_closed() => return,
                Err(_) => poll().await,
            }
        }
        if reader.is_closed() {
            return;
        }
    }
}

fn sqlite_urls(path: &str) -> (Dialect, String, String) {
    (
        Dialect::Sqlite,
        format!("sqlite://{path}?mode=rwc"),
        format!("sqlite://{path}?mode=ro"),
    )
}

fn quiet(url: &str) -> Result<AnyConnectOptions, sqlx::Error> {
    Ok(url
        .parse::<AnyConnectOptions>()?
        .disable_statement_logging())
}

/// One connection, set up for its dialect.
async fn connect(dialect: Dialect, url: &str) -> Result<DbConnection, sqlx::Error> {
    let mut conn = DbConnection::connect_with(&quiet(url)?).await?;
    if dialect == Dialect::Sqlite {
        conn.execute("PRAGMA busy_timeout = 10000").await?;
        conn.execute("PRAGMA foreign_keys = ON").await?;
        // Set on every connection (the writer's reconnects too), not left to
        // the library's compiled default: an acknowledged commit is on disk.
        conn.execute("PRAGMA synchronous = FULL").await?;
    }
    Ok(conn)
}

/// An event from a row of [`EVENT_COLUMNS`], read by column index (either driver).
fn event_from(row: &direct::Row<'_, '_>) -> Result<RecordedEvent, StoreError> {
    let position: i64 = row.get(0)?;
    let corrupt = |reason: String| StoreError::Corrupt {
        position: position as u64,
        reason,
    };
    let recorded_at: i64 = row.get(6)?;
    let payload: String = row.get(13)?;
    Ok(RecordedEvent {
        position: position as u64,
        aggregate_type: row.get(1)?,
        aggregate_id: row.get(2)?,
        sequence: row.get::<i64>(3)? as u64,
        event_type: row.get(4)?,
        schema_version: row.get::<i64>(5)? as u32,
        recorded_at: Timestamp::from_microsecond(recorded_at)
            .map_err(|e| corrupt(format!("recorded_at: {e}")))?,
        actor: Actor {
            subject: row.get(7)?,
            role: row.get(8)?,
            org: row.get(9)?,
        },
        correlation_id: row.get(10)?,
        causation_id: row.get(11)?,
        idempotency_key: row.get(12)?,
        payload: serde_json::from_str(&payload).map_err(|e| corrupt(format!("payload: {e}")))?,
        hash: row.get(14)?,
    })
}

/// Whether a database error means "the database cannot be reached right now"
/// (a lost or refused connection, an exhausted pool, a timeout, a busy or
/// shutting-down server): worth a retry later, so HTTP answers 503 with
/// `Retry-After`. Anything else is a bug or a broken database: 500.
pub fn is_unavailable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(database) => database.code().is_some_and(|code| {
            let code = code.as_ref();
            // PostgreSQL: class 08 connection exceptions, 53 insufficient
            // resources (too many connections), 57P0x shutting down or starting,
            // 57014 statement timeout. SQLite: 5 BUSY, 6 LOCKED (its busy
            // timeout ran out).
            code.starts_with("08")
                || code.starts_with("53")
                || code.starts_with("57P0")
                || code == "57014"
                || matches!(code, "5" | "6" | "261" | "262" | "517")
        }),
        _ => false,
    }
}
