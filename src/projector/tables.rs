//! A projection's table (SQLite or PostgreSQL): DDL from its [`TableSpec`], reading and writing
//! rows as [`Column`]s, and dumps for comparing two stores.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use pactum_projections::projection::{Column, ColumnKind, TableSpec};
use serde_json::{Map, Value, json};
use sqlx::Executor;

use crate::store::direct::{Param, Row};
use crate::store::{DbConnection, DbPool, DbRow, Dialect, EventStore, StoreError};

/// The table of one generation of a projection.
pub fn table_name(projection: &str, generation: u64) -> String {
    format!("proj_{projection}_g{generation}")
}

/// Statements creating the table and its indexes.
pub fn create_statements(dialect: Dialect, spec: &TableSpec, table: &str) -> Vec<String> {
    let mut statements = vec![table_statement(dialect, spec, table)];
    statements.extend(index_statements(spec, table));
    statements
}

/// The statement creating the table alone.
fn table_statement(dialect: Dialect, spec: &TableSpec, table: &str) -> String {
    let columns = spec
        .columns
        .iter()
        .map(|c| {
            let kind = match (c.kind, dialect) {
                (ColumnKind::Text, _) => "TEXT",
                (ColumnKind::Integer, Dialect::Sqlite) => "INTEGER",
                (ColumnKind::Integer, Dialect::Postgres) => "BIGINT",
            };
            let null = if c.nullable { "" } else { " NOT NULL" };
            format!("{} {kind}{null}", c.name)
        })
        .collect::<Vec<_>>()
        .join(", ");
    // SQLite: rows clustered by their key, no hidden rowid.
    let clustered = match dialect {
        Dialect::Sqlite => " WITHOUT ROWID",
        Dialect::Postgres => "",
    };
    format!(
        "CREATE TABLE {table} ({} TEXT NOT NULL PRIMARY KEY, {columns}){clustered}",
        spec.key
    )
}

/// The statements creating each index, unless it exists.
pub fn index_statements(spec: &TableSpec, table: &str) -> Vec<String> {
    spec.indexes
        .iter()
        .enumerate()
        .map(|(n, index)| {
            format!(
                "CREATE INDEX IF NOT EXISTS {} ON {table} ({})",
                index_name(table, n),
                index.join(", ")
            )
        })
        .collect()
}

/// The name of the `n`th index of [`TableSpec::indexes`].
pub fn index_name(table: &str, n: usize) -> String {
    format!("{table}_i{n}")
}

/// What follows `FROM table` to make a query use the table's `n`th index: on
/// SQLite `INDEXED BY` (so the plan does not depend on statistics), nothing on
/// PostgreSQL, which has no hints and whose planner picks that index anyway.
pub fn index_hint(dialect: Dialect, table: &str, n: usize) -> String {
    match dialect {
        Dialect::Sqlite => format!(" INDEXED BY {}", index_name(table, n)),
        Dialect::Postgres => String::new(),
    }
}

fn select_columns(spec: &TableSpec) -> String {
    std::iter::once(spec.key)
        .chain(spec.columns.iter().map(|c| c.name))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Reads a row as its key and columns.
pub fn row_columns(spec: &TableSpec, row: &DbRow) -> Result<(String, Vec<Column>), sqlx::Error> {
    columns_of(spec, &Row::Pool(row)).map_err(crate::store::inline_failure)
}

/// [`row_columns`] of a row either driver read.
pub fn columns_of(
    spec: &TableSpec,
    row: &Row<'_, '_>,
) -> Result<(String, Vec<Column>), StoreError> {
    let key: String = row.get(0)?;
    let mut columns = Vec::with_capacity(spec.columns.len());
    for (i, column) in spec.columns.iter().enumerate() {
        let value = match column.kind {
            ColumnKind::Text => row
                .get::<Option<String>>(i + 1)?
                .map_or(Column::Null, Column::Text),
            ColumnKind::Integer => row
                .get::<Option<i64>>(i + 1)?
                .map_or(Column::Null, Column::Int),
        };
        columns.push(value);
    }
    Ok((key, columns))
}

/// The most keys one lookup or delete carries. Like rows of an INSERT, keys are
/// cut into this many and then halves (128, 64, ... 1): a handful of statement
/// shapes, each prepared once and cached, whatever the batch sizes (one shape per
/// count would fill the connection's statement cache, and memory, with shapes
/// used once).
const KEYS_PER_QUERY: usize = 256;

/// The most rows one INSERT carries, cut the same way.
const ROWS_PER_STATEMENT: usize = 128;

/// The size of the next statement for `remaining` items, at most `most` (a power
/// of two): `most`, or the largest power of two that fits.
fn next_chunk(remaining: usize, most: usize) -> usize {
    if remaining >= most {
        most
    } else {
        1 << remaining.ilog2()
    }
}

/// `items` cut into chunks of [`next_chunk`] sizes.
fn chunks<T>(mut items: &[T], most: usize) -> impl Iterator<Item = &[T]> {
    std::iter::from_fn(move || {
        if items.is_empty() {
            return None;
        }
        let (chunk, rest) = items.split_at(next_chunk(items.len(), most));
        items = rest;
        Some(chunk)
    })
}

/// `count` placeholders from `$from` on: numbered on PostgreSQL; anonymous `?`s,
/// bound in order, on SQLite, which looks a numbered parameter's name up in a
/// list once per parameter — quadratic in a statement of hundreds of them (a third
/// of replay's time).
fn placeholders_for(dialect: Dialect, from: usize, count: usize) -> String {
    match dialect {
        Dialect::Postgres => placeholders(from, count),
        Dialect::Sqlite => vec!["?"; count].join(", "),
    }
}

/// The stored rows of `keys` (absent keys are absent from the map).
pub async fn load(
    conn: &mut DbConnection,
    dialect: Dialect,
    spec: &TableSpec,
    table: &str,
    keys: &[&str],
) -> Result<HashMap<String, Vec<Column>>, sqlx::Error> {
    let mut rows = HashMap::with_capacity(keys.len());
    for chunk in chunks(keys, KEYS_PER_QUERY) {
        let sql = select_keys(spec, table, &placeholders_for(dialect, 1, chunk.len()));
        let mut query = sqlx::query(&sql);
        for key in chunk {
            query = query.bind(*key);
        }
        for row in query.fetch_all(&mut *conn).await? {
            let (key, columns) = row_columns(spec, &row)?;
            rows.insert(key, columns);
        }
    }
    Ok(rows)
}

/// The rows of `table` whose keys are among `placeholders`.
fn select_keys(spec: &TableSpec, table: &str, placeholders: &str) -> String {
    format!(
        "SELECT {} FROM {table} WHERE {} IN ({placeholders})",
        select_columns(spec),
        spec.key
    )
}

/// [`load`], but committed rows, read outside any transaction
/// ([`EventStore::read_rows`]: on SQLite on this thread).
pub async fn load_committed(
    store: &EventStore,
    spec: &TableSpec,
    table: &str,
    keys: &[&str],
) -> Result<HashMap<String, Vec<Column>>, StoreError> {
    let mut rows = HashMap::with_capacity(keys.len());
    for chunk in chunks(keys, KEYS_PER_QUERY) {
        let sql = select_keys(spec, table, &placeholders(1, chunk.len()));
        let params: Vec<Param<'_>> = chunk.iter().map(|key| Param::Text(key)).collect();
        let read = store
            .read_rows(&sql, &params, |row| columns_of(spec, row))
            .await?;
        rows.extend(read);
    }
    Ok(rows)
}

/// `$from, $from+1, ...`: `count` placeholders.
pub fn placeholders(from: usize, count: usize) -> String {
    (from..from + count)
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Writes (inserts or replaces) rows, many per statement.
pub async fn upsert_all(
    conn: &mut DbConnection,
    dialect: Dialect,
    spec: &TableSpec,
    table: &str,
    rows: &[(impl AsRef<str>, Vec<Column>)],
) -> Result<(), sqlx::Error> {
    for chunk in chunks(rows, ROWS_PER_STATEMENT) {
        let sql = upsert_sql(dialect, spec, table, chunk.len());
        let mut query = sqlx::query(&sql);
        for (key, columns) in chunk {
            query = query.bind(key.as_ref());
            for (column, column_spec) in columns.iter().zip(spec.columns) {
                query = match column {
                    // A typed NULL: PostgreSQL refuses a text NULL for an integer column.
                    Column::Null => match column_spec.kind {
                        ColumnKind::Text => query.bind(None::<String>),
                        ColumnKind::Integer => query.bind(None::<i64>),
                    },
                    Column::Int(v) => query.bind(*v),
                    Column::Text(v) => query.bind(v.as_str()),
                };
            }
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// The upsert of `rows` rows into `table`, built once and kept ([`super::memo_sql`]).
fn upsert_sql(dialect: Dialect, spec: &TableSpec, table: &str, rows: usize) -> Arc<str> {
    type Key = (Dialect, String, usize);
    static BUILT: LazyLock<Mutex<HashMap<Key, Arc<str>>>> = LazyLock::new(Default::default);
    let key = (dialect, table.to_owned(), rows);
    super::memo_sql(&BUILT, key, || build_upsert(dialect, spec, table, rows))
}

fn build_upsert(dialect: Dialect, spec: &TableSpec, table: &str, rows: usize) -> String {
    let width = spec.columns.len() + 1;
    let values = (0..rows)
        .map(|n| format!("({})", placeholders_for(dialect, 1 + n * width, width)))
        .collect::<Vec<_>>()
        .join(", ");
    let updates = spec
        .columns
        .iter()
        .map(|c| format!("{0} = excluded.{0}", c.name))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "INSERT INTO {table} ({}) VALUES {values} ON CONFLICT ({}) DO UPDATE SET {updates}",
        select_columns(spec),
        spec.key
    )
}

/// Deletes the rows of `keys`.
pub async fn delete_all(
    conn: &mut DbConnection,
    dialect: Dialect,
    spec: &TableSpec,
    table: &str,
    keys: &[impl AsRef<str>],
) -> Result<(), sqlx::Error> {
    for chunk in chunks(keys, KEYS_PER_QUERY) {
        let sql = format!(
            "DELETE FROM {table} WHERE {} IN ({})",
            spec.key,
            placeholders_for(dialect, 1, chunk.len())
        );
        let mut query = sqlx::query(&sql);
        for key in chunk {
            query = query.bind(key.as_ref());
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// When a new generation's indexes are created.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Indexes {
    /// With the table.
    Now,
    /// After a bulk load (replay): sorting the rows once per index writes each
    /// index page once, where inserting row by row rewrites the pages an index
    /// with many insertion points (by organisation, say) spreads a chunk over, at
    /// every commit. [`Runner::promote`](super::Runner::promote) creates any that
    /// are missing, so no generation goes live without them.
    AfterLoad,
}

pub async fn create(
    conn: &mut DbConnection,
    dialect: Dialect,
    spec: &TableSpec,
    table: &str,
    indexes: Indexes,
) -> Result<(), sqlx::Error> {
    conn.execute(table_statement(dialect, spec, table).as_str())
        .await?;
    if indexes == Indexes::Now {
        create_indexes(conn, spec, table).await?;
    }
    Ok(())
}

/// Creates the table's indexes that do not exist yet.
pub async fn create_indexes(
    conn: &mut DbConnection,
    spec: &TableSpec,
    table: &str,
) -> Result<(), sqlx::Error> {
    for statement in index_statements(spec, table) {
        conn.execute(statement.as_str()).await?;
    }
    Ok(())
}

/// Every row as one JSON line, ordered by key: two stores with equal dumps hold
/// equal read models.
pub async fn dump(
    pool: &DbPool,
    spec: &TableSpec,
    table: &str,
) -> Result<Vec<String>, sqlx::Error> {
    let sql = format!(
        "SELECT {} FROM {table} ORDER BY {}",
        select_columns(spec),
        spec.key
    );
    let rows = sqlx::query(&sql).fetch_all(pool).await?;
    rows.iter()
        .map(|row| {
            let (key, columns) = row_columns(spec, row)?;
            let mut object = Map::new();
            object.insert(spec.key.to_owned(), json!(key));
            for (spec, column) in spec.columns.iter().zip(columns) {
                let value = match column {
                    Column::Null => Value::Null,
                    Column::Int(v) => json!(v),
                    Column::Text(v) => json!(v),
                };
                object.insert(spec.name.to_owned(), value);
            }
            Ok(Value::Object(object).to_string())
        })
        .collect()
}
