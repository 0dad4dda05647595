//! Reading the log for projectors: the events of a range of positions that a
//! projection reads, decoded and keyed outside the writer.
//!
//! Positions are gap-free and given in commit order (`docs/adr/0008`), so every
//! position up to the newest committed one ([`head`]) is committed: a range
//! `(after, upto]` with `upto <= head` is complete once read, and a projector's
//! checkpoint can move to `upto` even when none of its events fall in the range.
//!
//! Two ways in. [`read`] and [`next_batch`] read one projection's events: one
//! query through sqlx's `Any` driver (the read pool or a write task's
//! connection), or on SQLite the store's direct reader: the runner's path.
//! [`Log::read_raw`] reads, undecoded, what any of several projections reads, for
//! replay to decode once per projection after reading once for all ([`Raw`],
//! [`Readers`]); on SQLite through a read-only connection of its own on a
//! blocking thread ([`SqliteLog`]): sqlx's SQLite driver hands each row from its
//! worker thread to the async side and converts it into an `AnyRow`, which cost
//! more than everything else replay does (`docs/adr/0011`).

use std::any::TypeId;
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, LazyLock, Mutex, PoisonError};
use std::time::Duration;

use jiff::Timestamp;
use pactum_events::Actor;
use pactum_projections::projection::{Envelope, EventTypes, Projection};
use rusqlite::types::Type;
use sqlx::Row;

use super::errors::ProjectorError;
use crate::store::{Db, DbPool, DbRow, EventStore};

/// One event to fold: the key of the row it touches, its envelope, its payload.
pub struct Keyed<E> {
    pub key: String,
    /// Shared with the other read models a replay rebuilds from the same reading.
    pub envelope: Arc<Envelope>,
    pub event: E,
}

/// What one read brings: the events a projection reads, in position order.
pub type Events<P> = Vec<Keyed<<P as Projection>::Event>>;

/// The newest committed position, as a statement.
const HEAD: &str = "SELECT COALESCE(MAX(position), 0) FROM events";

/// The newest committed position.
pub async fn head(pool: &DbPool) -> Result<u64, sqlx::Error> {
    let head: i64 = sqlx::query_scalar(HEAD).fetch_one(pool).await?;
    Ok(head as u64)
}

/// The query of a projection's events in `(after, upto]`, with `$1` and `$2`
/// (both drivers bind them by position). The type list is the projection's own
/// constants, written in as literals so that each projection has one statement.
///
/// Built once per projection type and kept ([`super::memo_sql`]).
pub fn query<P: Projection>(projection: &P) -> Arc<str> {
    static BUILT: LazyLock<Mutex<HashMap<TypeId, Arc<str>>>> = LazyLock::new(Default::default);
    super::memo_sql(&BUILT, TypeId::of::<P>(), || build_query(projection))
}

fn build_query<P: Projection>(projection: &P) -> String {
    match projection.event_types() {
        EventTypes::All => log_query(None),
        EventTypes::Only(types) => log_query(Some(types)),
    }
}

/// The query of the events in `(after, upto]` of `types` (of every type: `None`).
fn log_query(types: Option<&[&str]>) -> String {
    let filter = match types {
        None => String::new(),
        Some(types) => {
            let quoted: Vec<String> = types
                .iter()
                .map(|t| format!("'{}'", t.replace('\'', "''")))
                .collect();
            format!(" AND event_type IN ({})", quoted.join(", "))
        }
    };
    format!(
        "SELECT position, aggregate_type, aggregate_id, sequence, event_type, schema_version, \
         recorded_at, actor_subject, actor_role, actor_org, payload \
         FROM events WHERE position > $1 AND position <= $2{filter} ORDER BY position"
    )
}

/// Decodes and keys one event.
fn keyed<P: Projection>(
    projection: &P,
    envelope: Arc<Envelope>,
    payload: &str,
) -> Result<Keyed<P::Event>, ProjectorError> {
    let event = projection
        .decode(&envelope, payload)
        .map_err(|e| ProjectorError::Apply {
            name: projection.name().to_owned(),
            position: envelope.position,
            reason: e.0,
        })?;
    Ok(Keyed {
        key: projection.key(&envelope, &event),
        envelope,
        event,
    })
}

fn recorded_at(position: i64, micros: i64) -> Result<Timestamp, ProjectorError> {
    Timestamp::from_microsecond(micros).map_err(|e| {
        ProjectorError::Store(crate::store::StoreError::Corrupt {
            position: position as u64,
            reason: format!("recorded_at: {e}"),
        })
    })
}

/// The envelope of a log row (columns 0 to 9 of [`query`]), whichever driver
/// read it: `int`, `text` and `optional` fetch one column.
fn envelope<E>(
    int: impl Fn(usize) -> Result<i64, E>,
    text: impl Fn(usize) -> Result<String, E>,
    optional: impl Fn(usize) -> Result<Option<String>, E>,
) -> Result<Envelope, ProjectorError>
where
    ProjectorError: From<E>,
{
    let position = int(0)?;
    Ok(Envelope {
        position: position as u64,
        aggregate_type: text(1)?,
        aggregate_id: text(2)?,
        sequence: int(3)? as u64,
        event_type: text(4)?,
        schema_version: int(5)? as u32,
        recorded_at: recorded_at(position, int(6)?)?,
        actor: Actor {
            subject: text(7)?,
            role: text(8)?,
            org: optional(9)?,
        },
    })
}

fn from_any_row<P: Projection>(
    projection: &P,
    row: &DbRow,
) -> Result<Keyed<P::Event>, ProjectorError> {
    let envelope = envelope(
        |i| row.try_get::<i64, _>(i),
        |i| row.try_get(i),
        |i| row.try_get(i),
    )?;
    keyed(projection, Arc::new(envelope), row.try_get::<&str, _>(10)?)
}

/// The events of `(after, upto]` that `projection` reads, through `executor`:
/// the read pool, or inside a write task the writer's connection (whose own
/// transaction is what must be read).
pub async fn read<'e, P: Projection>(
    executor: impl sqlx::Executor<'e, Database = Db>,
    projection: &P,
    after: u64,
    upto: u64,
) -> Result<Events<P>, ProjectorError> {
    let rows = sqlx::query(&query(projection))
        .bind(after as i64)
        .bind(upto as i64)
        .fetch_all(executor)
        .await?;
    rows.iter()
        .map(|row| from_any_row(projection, row))
        .collect()
}

/// The next batch after `after`, at most `batch` positions: the newest
/// committed position as `upto` (at most `after + batch`) and the events of
/// `(after, upto]` that `projection` reads. On SQLite a batch that follows a
/// commit or two is read on this thread ([`crate::store::direct`]), a longer
/// one on a blocking thread; on PostgreSQL through the read pool.
pub async fn next_batch<P: Projection>(
    store: &EventStore,
    projection: &Arc<P>,
    after: u64,
    batch: u64,
) -> Result<(u64, Events<P>), ProjectorError> {
    /// The most positions read on the caller's thread.
    const ON_THIS_THREAD: u64 = 256;
    // What this process appended since `after` holds none of the projection's
    // events: nothing to read (a read model of rare events, after a commit).
    if let EventTypes::Only(types) = projection.event_types()
        && let Some(upto) = store.types().none_of_after(types, after, batch)
    {
        return Ok((upto, Vec::new()));
    }
    let newest: Vec<i64> = store.read_rows(HEAD, &[], |row| row.get(0)).await?;
    let upto = (newest.first().copied().unwrap_or(0) as u64).min(after + batch);
    if upto <= after {
        return Ok((upto, Vec::new()));
    }
    let events = match store.direct() {
        None => read(store.reader(), &**projection, after, upto).await?,
        Some(direct) if upto - after <= ON_THIS_THREAD => {
            direct.read(|conn| Ok(read_sqlite(conn, &**projection, after, upto)))??
        }
        Some(_) => {
            let (store, projection) = (store.clone(), Arc::clone(projection));
            tokio::task::spawn_blocking(move || {
                let direct = store.direct().expect("a direct reader on SQLite");
                direct.read(|conn| Ok(read_sqlite(conn, &*projection, after, upto)))?
            })
            .await
            .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))?
        }
    };
    Ok((upto, events))
}

/// A read-only connection of its own to the SQLite file, for bulk reads.
#[derive(Clone)]
pub struct SqliteLog {
    conn: Arc<Mutex<rusqlite::Connection>>,
}

impl SqliteLog {
    pub fn open(file: &Path) -> Result<Self, ProjectorError> {
        use rusqlite::OpenFlags;
        let conn = rusqlite::Connection::open_with_flags(
            file,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(Duration::from_secs(10))?;
        // A read of a range goes through the log's pages once, in order: a
        // page cache beyond the b-tree's path to the current page serves
        // nothing. And every commit since the last read empties it, so a large
        // one (SQLite's default, 2 MB) is freed and allocated again per range,
        // the heap handed back to the kernel and faulted in anew (70 % of a
        // replay's page faults).
        conn.pragma_update(None, "cache_size", 16)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
        })
    }
}

fn read_sqlite<P: Projection>(
    conn: &rusqlite::Connection,
    projection: &P,
    after: u64,
    upto: u64,
) -> Result<Events<P>, ProjectorError> {
    let mut events = Vec::new();
    each_sqlite_row(
        conn,
        &query(projection),
        after,
        upto,
        |envelope, payload| {
            events.push(keyed(projection, Arc::new(envelope), payload)?);
            Ok(())
        },
    )?;
    Ok(events)
}

/// Runs `sql` (a [`log_query`]) for `(after, upto]` and hands `each` every
/// row's envelope and payload text, in position order.
fn each_sqlite_row(
    conn: &rusqlite::Connection,
    sql: &str,
    after: u64,
    upto: u64,
    mut each: impl FnMut(Envelope, &str) -> Result<(), ProjectorError>,
) -> Result<(), ProjectorError> {
    let mut statement = conn.prepare_cached(sql)?;
    let mut rows = statement.query((after as i64, upto as i64))?;
    while let Some(row) = rows.next()? {
        let envelope = envelope(|i| row.get::<_, i64>(i), |i| row.get(i), |i| row.get(i))?;
        let payload = row
            .get_ref(10)?
            .as_str()
            .map_err(|e| rusqlite::Error::FromSqlConversionFailure(10, Type::Text, Box::new(e)))?;
        each(envelope, payload)?;
    }
    Ok(())
}

/// One event of the log as stored, its payload not yet decoded: what replay reads
/// once for all the read models it rebuilds ([`Log::read_raw`]).
pub struct Raw {
    pub envelope: Arc<Envelope>,
    pub payload: Box<str>,
    /// Which readers take it: bit `i` for the `i`th list of [`Readers`].
    pub readers: u64,
}

impl Raw {
    /// Decodes and keys it for `projection`.
    pub fn keyed<P: Projection>(&self, projection: &P) -> Result<Keyed<P::Event>, ProjectorError> {
        keyed(projection, Arc::clone(&self.envelope), &self.payload)
    }
}

/// The event types each of several readers takes (at most 64), and the one query
/// that reads what any of them takes.
pub struct Readers {
    lists: Vec<EventTypes>,
    query: String,
}

impl Readers {
    pub fn new(lists: Vec<EventTypes>) -> Self {
        assert!(lists.len() <= 64, "at most 64 readers share a reading");
        let every = lists.iter().any(|list| matches!(list, EventTypes::All));
        let mut union: Vec<&str> = lists
            .iter()
            .filter_map(|list| match list {
                EventTypes::Only(types) => Some(*types),
                EventTypes::All => None,
            })
            .flatten()
            .copied()
            .collect();
        union.sort_unstable();
        union.dedup();
        let query = log_query((!every).then_some(&union[..]));
        Self { lists, query }
    }

    /// The readers that take an event of `event_type`, as bits.
    fn mask(&self, event_type: &str) -> u64 {
        self.lists
            .iter()
            .enumerate()
            .filter(|(_, list)| list.contains(event_type))
            .fold(0, |mask, (bit, _)| mask | 1 << bit)
    }
}

/// Remembers [`Readers::mask`] per event type: a log has a few dozen.
struct Masks<'a> {
    readers: &'a Readers,
    known: HashMap<String, u64>,
}

impl<'a> Masks<'a> {
    fn new(readers: &'a Readers) -> Self {
        Self {
            readers,
            known: HashMap::new(),
        }
    }

    fn of(&mut self, event_type: &str) -> u64 {
        if let Some(&mask) = self.known.get(event_type) {
            return mask;
        }
        let mask = self.readers.mask(event_type);
        self.known.insert(event_type.to_owned(), mask);
        mask
    }
}

fn read_raw_sqlite(
    conn: &rusqlite::Connection,
    readers: &Readers,
    after: u64,
    upto: u64,
) -> Result<Vec<Raw>, ProjectorError> {
    let mut raws = Vec::with_capacity((upto - after).min(super::replay::CHUNK as u64) as usize);
    let mut masks = Masks::new(readers);
    each_sqlite_row(conn, &readers.query, after, upto, |envelope, payload| {
        raws.push(Raw {
            readers: masks.of(&envelope.event_type),
            envelope: Arc::new(envelope),
            payload: payload.into(),
        });
        Ok(())
    })?;
    Ok(raws)
}

async fn read_raw_pool(
    pool: &DbPool,
    readers: &Readers,
    after: u64,
    upto: u64,
) -> Result<Vec<Raw>, ProjectorError> {
    let rows = sqlx::query(&readers.query)
        .bind(after as i64)
        .bind(upto as i64)
        .fetch_all(pool)
        .await?;
    let mut masks = Masks::new(readers);
    rows.iter()
        .map(|row| {
            let envelope = envelope(
                |i| row.try_get::<i64, _>(i),
                |i| row.try_get(i),
                |i| row.try_get(i),
            )?;
            Ok(Raw {
                readers: masks.of(&envelope.event_type),
                envelope: Arc::new(envelope),
                payload: row.try_get::<&str, _>(10)?.into(),
            })
        })
        .collect()
}

/// Where a bulk reader reads the log: on SQLite the file, through a connection of
/// its own; on PostgreSQL the store's read pool.
#[derive(Clone)]
pub enum Log {
    Sqlite(SqliteLog),
    Pool(DbPool),
}

impl Log {
    pub fn of(store: &EventStore) -> Result<Self, ProjectorError> {
        Ok(match store.sqlite_file() {
            Some(file) => Self::Sqlite(SqliteLog::open(file)?),
            None => Self::Pool(store.reader().clone()),
        })
    }

    /// The events of `(after, upto]` that any of `readers` takes, undecoded.
    pub async fn read_raw(
        &self,
        readers: &Arc<Readers>,
        after: u64,
        upto: u64,
    ) -> Result<Vec<Raw>, ProjectorError> {
        match self {
            Self::Sqlite(log) => {
                let (conn, readers) = (Arc::clone(&log.conn), Arc::clone(readers));
                tokio::task::spawn_blocking(move || {
                    let conn = conn.lock().unwrap_or_else(PoisonError::into_inner);
                    read_raw_sqlite(&conn, &readers, after, upto)
                })
                .await
                .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
            }
            Self::Pool(pool) => read_raw_pool(pool, readers, after, upto).await,
        }
    }
}
