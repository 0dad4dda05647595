//! Short reads of the SQLite file on the caller's own thread, with no hand-off.
//!
//! sqlx's SQLite driver runs each connection on a thread of its own and passes
//! every statement and every row to it and back over a channel: a point read
//! costs two or more thread wake-ups, which is most of what a token check or a
//! projector's step costs under load (BENCHMARKS.md, issue 18). A
//! [`DirectReader`] keeps a few read-only connections of its own (rusqlite, as
//! replay's [`SqliteLog`](crate::projector::source::SqliteLog) does) and runs a
//! caller's whole read on the calling thread while holding one of them: one
//! indexed read costs microseconds, less than waking another thread.
//!
//! Only for reads that touch a handful of pages (a row by its key, the events
//! one commit added): a long read belongs on a blocking thread. WAL lets these
//! connections read beside the writer; each read sees the newest commit at its
//! start, as a read through the pool does. PostgreSQL has no direct reader:
//! callers fall back to the pool.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use rusqlite::OpenFlags;

/// How many connections are kept; a caller finding none free opens one more
/// for the moment (and keeps it if fewer than this are kept).
const KEPT: usize = 8;

/// Read-only connections to the SQLite file, lent to one read at a time.
pub struct DirectReader {
    file: PathBuf,
    idle: Mutex<Vec<rusqlite::Connection>>,
}

impl DirectReader {
    /// Opens one connection now, so that a file that cannot be read fails at
    /// start rather than at the first request.
    pub fn open(file: &Path) -> rusqlite::Result<Self> {
        let first = connect(file)?;
        Ok(Self {
            file: file.to_owned(),
            idle: Mutex::new(vec![first]),
        })
    }

    /// Runs `read` on an idle connection, on this thread.
    pub fn read<T>(
        &self,
        read: impl FnOnce(&rusqlite::Connection) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<T> {
        let lent = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let conn = match lent {
            Some(conn) => conn,
            None => connect(&self.file)?,
        };
        let answer = read(&conn);
        // A read that failed mid-way leaves no transaction open (each
        // statement is its own), so the connection is as good as before.
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < KEPT {
            idle.push(conn);
        }
        answer
    }
}

fn connect(file: &Path) -> rusqlite::Result<rusqlite::Connection> {
    let conn = rusqlite::Connection::open_with_flags(
        file,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    // As the pool's connections: wait out a checkpoint or a recovery rather
    // than fail. A WAL reader meets neither in normal running.
    conn.busy_timeout(Duration::from_secs(10))?;
    // Each kept connection has a page cache of its own: keep it small, the
    // OS's file cache holds the rest.
    conn.pragma_update(None, "cache_size", -2048)?;
    Ok(conn)
}

/// Whether a direct read failed because the database is busy or locked (the
/// busy timeout ran out): the caller may retry, as with [`super::is_unavailable`].
pub fn is_busy(error: &rusqlite::Error) -> bool {
    matches!(
        error.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

/// A parameter of a statement run by [`EventStore::read_rows`](super::EventStore::read_rows).
#[derive(Clone, Copy, Debug)]
pub enum Param<'a> {
    Text(&'a str),
    Int(i64),
}

/// A value both drivers read the same way.
pub trait Value:
    for<'r> sqlx::Decode<'r, super::Db> + sqlx::Type<super::Db> + rusqlite::types::FromSql
{
}

impl<T> Value for T where
    T: for<'r> sqlx::Decode<'r, super::Db> + sqlx::Type<super::Db> + rusqlite::types::FromSql
{
}

/// One row, from whichever driver read it.
pub enum Row<'a, 'r> {
    Pool(&'a super::DbRow),
    Direct(&'a rusqlite::Row<'r>),
}

impl Row<'_, '_> {
    /// Column `index` as a `T`.
    pub fn get<T: Value>(&self, index: usize) -> Result<T, super::StoreError> {
        match self {
            Self::Pool(row) => Ok(sqlx::Row::try_get(*row, index)?),
            Self::Direct(row) => Ok(row.get(index)?),
        }
    }
}

/// Binds `params` to a query for the pool, in order.
pub fn bind<'q>(
    query: sqlx::query::Query<'q, super::Db, super::DbArguments<'q>>,
    params: &[Param<'q>],
) -> sqlx::query::Query<'q, super::Db, super::DbArguments<'q>> {
    params.iter().fold(query, |query, param| match *param {
        Param::Text(text) => query.bind(text),
        Param::Int(int) => query.bind(int),
    })
}

/// Runs `sql` on `conn` and maps each row.
pub(super) fn query_rows<T>(
    conn: &rusqlite::Connection,
    sql: &str,
    params: &[Param<'_>],
    map: &impl Fn(&Row<'_, '_>) -> Result<T, super::StoreError>,
) -> Result<Vec<T>, super::StoreError> {
    let mut statement = conn.prepare_cached(sql)?;
    let bound = params.iter().map(|param| match *param {
        Param::Text(text) => rusqlite::types::ToSqlOutput::from(text),
        Param::Int(int) => rusqlite::types::ToSqlOutput::from(int),
    });
    let mut rows = statement.query(rusqlite::params_from_iter(bound))?;
    let mut mapped = Vec::new();
    while let Some(row) = rows.next()? {
        mapped.push(map(&Row::Direct(row))?);
    }
    Ok(mapped)
}
