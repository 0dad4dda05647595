//! Paged lists over projection tables, at O(page) whatever the table's size.
//!
//! A list is sorted by an integer column (a time) then the key, both descending
//! (newest first) or ascending. Each equality filter set ([`Scan`]) is answered by
//! one range scan of the index whose columns before the sort column are exactly
//! filtered (on SQLite `INDEXED BY`, so the plan does not depend on statistics), cut off
//! by `LIMIT`; several scans (a shifter's groups, several statuses) are merged
//! here. A page resumes after an opaque [`Cursor`]; no OFFSET, no sort of the
//! matches.

use crate::store::direct::Param;
use crate::store::{Dialect, EventStore, StoreError};
use pactum_projections::projection::{ApplyError, Column, TableSpec};

use super::tables;

/// Newest or oldest first, or (lists that have a deadline) soonest due first.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Sort {
    #[default]
    Newest,
    Oldest,
    /// Ascending on a deadline column (the listing chosen for it).
    Due,
}

impl Sort {
    fn ascending(self) -> bool {
        matches!(self, Sort::Oldest | Sort::Due)
    }
}

/// A list: a projection table, sorted by `sort_column` then its key.
#[derive(Clone, Copy, Debug)]
pub struct Listing {
    pub spec: &'static TableSpec,
    /// An integer column (microseconds since the epoch, typically).
    pub sort_column: &'static str,
}

/// Where a page starts: after this (sort value, key) in the sort order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cursor {
    pub sort: Sort,
    pub at: i64,
    pub key: String,
}

impl Cursor {
    /// Opaque to clients: they send back what they were given.
    pub fn encode(&self) -> String {
        let sort = match self.sort {
            Sort::Newest => "n",
            Sort::Oldest => "o",
            Sort::Due => "d",
        };
        hex::encode(format!("v1|{sort}|{}|{}", self.at, self.key))
    }

    pub fn decode(text: &str) -> Option<Self> {
        let raw = String::from_utf8(hex::decode(text).ok()?).ok()?;
        let mut parts = raw.splitn(4, '|');
        let (Some("v1"), Some(sort), Some(at), Some(key)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        Some(Self {
            sort: match sort {
                "n" => Sort::Newest,
                "o" => Sort::Oldest,
                "d" => Sort::Due,
                _ => return None,
            },
            at: at.parse().ok()?,
            key: key.to_owned(),
        })
    }
}

/// One index range scan: equality filters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scan {
    pub equals: Vec<(&'static str, String)>,
}

/// A page of rows, and the cursor of the next page if there is one.
pub struct Page<R> {
    pub rows: Vec<R>,
    pub next: Option<Cursor>,
}

#[derive(Debug, thiserror::Error)]
pub enum ListError {
    #[error("the cursor was made for the other sort order")]
    CursorMismatch,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Row(#[from] ApplyError),
}

impl Listing {
    /// The index a scan uses: the one whose columns before the sort column are all
    /// equality-filtered, covering as many filters as possible. Filters it does
    /// not cover are checked on the rows the range yields.
    pub fn index_for(&self, scan: &Scan) -> usize {
        let filtered: Vec<&str> = scan.equals.iter().map(|(c, _)| *c).collect();
        self.spec
            .indexes
            .iter()
            .enumerate()
            .filter(|(_, columns)| columns.contains(&self.sort_column))
            .filter_map(|(n, columns)| {
                let prefix: Vec<&str> = columns
                    .iter()
                    .copied()
                    .take_while(|c| *c != self.sort_column)
                    .collect();
                prefix
                    .iter()
                    .all(|c| filtered.contains(c))
                    .then_some((prefix.len(), std::cmp::Reverse(n)))
            })
            .max()
            .map(|(_, std::cmp::Reverse(n))| n)
            .expect("an index on (sort column, key) serves every scan")
    }

    /// The SQL and parameters of one scan of one page.
    pub fn scan_sql<'q>(
        &self,
        dialect: Dialect,
        table: &str,
        scan: &'q Scan,
        cursor: Option<&'q Cursor>,
        sort: Sort,
        limit: u32,
    ) -> (String, Vec<Param<'q>>) {
        let key = self.spec.key;
        let order = self.sort_column;
        let hint = tables::index_hint(dialect, table, self.index_for(scan));
        let mut args = Vec::new();
        let mut conditions = Vec::new();
        for (column, value) in &scan.equals {
            args.push(Param::Text(value));
            conditions.push(format!("{column} = ${}", args.len()));
        }
        let (direction, compare) = if sort.ascending() {
            ("ASC", ">")
        } else {
            ("DESC", "<")
        };
        if let Some(cursor) = cursor {
            args.push(Param::Int(cursor.at));
            args.push(Param::Text(&cursor.key));
            let (at, key_at) = (args.len() - 1, args.len());
            conditions.push(format!("({order}, {key}) {compare} (${at}, ${key_at})"));
        }
        let columns = std::iter::once(key)
            .chain(self.spec.columns.iter().map(|c| c.name))
            .collect::<Vec<_>>()
            .join(", ");
        let filter = if conditions.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", conditions.join(" AND "))
        };
        let sql = format!(
            "SELECT {columns} FROM {table}{hint}{filter} \
             ORDER BY {order} {direction}, {key} {direction} LIMIT {limit}"
        );
        (sql, args)
    }

    /// One page: every scan read up to `limit + 1` rows, merged in sort order.
    /// `sort_key` gives a row's (sort value, key). Each scan reads a page's
    /// worth of rows by an index: on SQLite on this thread
    /// ([`EventStore::read_rows`]).
    #[allow(clippy::too_many_arguments)]
    pub async fn page<R>(
        &self,
        store: &EventStore,
        table: &str,
        scans: &[Scan],
        cursor: Option<&Cursor>,
        sort: Sort,
        limit: u32,
        decode: impl Fn(String, Vec<Column>) -> Result<R, ApplyError>,
        sort_key: impl Fn(&R) -> (i64, &str),
    ) -> Result<Page<R>, ListError> {
        if cursor.is_some_and(|c| c.sort != sort) {
            return Err(ListError::CursorMismatch);
        }
        let mut rows: Vec<R> = Vec::new();
        // One more than a page tells whether there is a next one.
        let fetch = limit + 1;
        for scan in scans {
            let (sql, args) = self.scan_sql(store.dialect(), table, scan, cursor, sort, fetch);
            let read = store
                .read_rows(&sql, &args, |row| tables::columns_of(self.spec, row))
                .await?;
            for (key, columns) in read {
                rows.push(decode(key, columns)?);
            }
        }
        rows.sort_by(|a, b| {
            let order = sort_key(a).cmp(&sort_key(b));
            if sort.ascending() {
                order
            } else {
                order.reverse()
            }
        });
        rows.dedup_by(|a, b| sort_key(a).1 == sort_key(b).1);
        let next = (rows.len() > limit as usize).then(|| {
            let (at, key) = sort_key(&rows[limit as usize - 1]);
            Cursor {
                sort,
                at,
                key: key.to_owned(),
            }
        });
        rows.truncate(limit as usize);
        Ok(Page { rows, next })
    }
}

/// A scratch SQLite table for a projection and the query plans of a listing's
/// scans on it: for tests that prove a listing is one index range scan.
#[cfg(test)]
pub(crate) mod plans {
    use pactum_projections::projection::TableSpec;
    use sqlx::{Connection, Executor, Row};

    use super::{Cursor, Listing, Scan, Sort};
    use crate::projector::tables;
    use crate::store::{DbConnection, Dialect};

    /// An empty table `name` shaped like `spec`, in a new SQLite file.
    pub async fn table(spec: &TableSpec, name: &str) -> (tempfile::TempDir, DbConnection) {
        let dir = tempfile::TempDir::new().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("q.db").display());
        sqlx::any::install_default_drivers();
        let mut conn = DbConnection::connect(&url).await.unwrap();
        for statement in tables::create_statements(Dialect::Sqlite, spec, name) {
            conn.execute(statement.as_str()).await.unwrap();
        }
        (dir, conn)
    }

    /// SQLite's plan for one scan of `listing` over `table`, its steps joined.
    pub async fn plan(
        conn: &mut DbConnection,
        listing: &Listing,
        table: &str,
        scan: &Scan,
        cursor: Option<&Cursor>,
        sort: Sort,
    ) -> String {
        let (sql, args) = listing.scan_sql(Dialect::Sqlite, table, scan, cursor, sort, 51);
        let explain = format!("EXPLAIN QUERY PLAN {sql}");
        let rows = crate::store::direct::bind(sqlx::query(&explain), &args)
            .fetch_all(conn)
            .await
            .unwrap();
        rows.iter()
            .map(|r| r.get::<String, _>("detail"))
            .collect::<Vec<_>>()
            .join(" | ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_forgeries() {
        let cursor = Cursor {
            sort: Sort::Oldest,
            at: 42,
            key: "0190b7e4-0000-7000-8000-000000000001".into(),
        };
        assert_eq!(Cursor::decode(&cursor.encode()), Some(cursor));
        assert_eq!(Cursor::decode("zz"), None);
        assert_eq!(Cursor::decode(&hex::encode("v2|n|1|x")), None);
    }
}
