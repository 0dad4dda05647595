//! A projection's table (SQLite or PostgreSQL): DDL from its [`TableSpec`], reading and writing
//! rows as [`Column`]s, and dumps for comparing two stores.

use std::collections::HashMap;

use pactum_projections::projection::{Column, ColumnKind, TableSpec};
use serde_json::{Map, Value, json};
use sqlx::{Executor, Row};

use crate::store::{DbConnection, DbPool, DbRow, Dialect};

/// The table of one generation of a projection.
pub fn table_name(projection: &str, generation: u64) -> String {
    format!("proj_{projection}_g{generation}")
}

/// Statements creating the table and its indexes.
pub fn create_statements(dialect: Dialect, spec: &TableSpec, table: &str) -> Vec<String> {
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
    let mut statements = vec![format!(
        "CREATE TABLE {table} ({} TEXT NOT NULL PRIMARY KEY, {columns}){clustered}",
        spec.key
    )];
    for (n, index) in spec.indexes.iter().enumerate() {
        statements.push(format!(
            "CREATE INDEX {} ON {table} ({})",
            index_name(table, n),
            index.join(", ")
        ));
    }
    statements
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
    let key: String = row.try_get(0)?;
    let mut columns = Vec::with_capacity(spec.columns.len());
    for (i, column) in spec.columns.iter().enumerate() {
        let value = match column.kind {
            ColumnKind::Text => row
                .try_get::<Option<String>, _>(i + 1)?
                .map_or(Column::Null, Column::Text),
            ColumnKind::Integer => row
                .try_get::<Option<i64>, _>(i + 1)?
                .map_or(Column::Null, Column::Int),
        };
        columns.push(value);
    }
    Ok((key, columns))
}

/// SQLite's default limit on bound parameters is far above this; chunks keep
/// statements small and cacheable.
const KEYS_PER_QUERY: usize = 256;

/// The stored rows of `keys` (absent keys are absent from the map).
pub async fn load(
    conn: &mut DbConnection,
    spec: &TableSpec,
    table: &str,
    keys: &[&str],
) -> Result<HashMap<String, Vec<Column>>, sqlx::Error> {
    let mut rows = HashMap::with_capacity(keys.len());
    for chunk in keys.chunks(KEYS_PER_QUERY) {
        let placeholders = placeholders(1, chunk.len());
        let sql = format!(
            "SELECT {} FROM {table} WHERE {} IN ({placeholders})",
            select_columns(spec),
            spec.key
        );
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

/// `$from, $from+1, ...`: `count` placeholders.
pub fn placeholders(from: usize, count: usize) -> String {
    (from..from + count)
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The most rows one INSERT carries. Statements are cut into this many rows and
/// then halves (64, 32, ... 1), so a table has a handful of statement shapes, each
/// prepared once and cached, whatever the batch sizes.
const ROWS_PER_STATEMENT: usize = 128;

/// Writes (inserts or replaces) rows, many per statement.
pub async fn upsert_all(
    conn: &mut DbConnection,
    dialect: Dialect,
    spec: &TableSpec,
    table: &str,
    rows: &[(&str, Vec<Column>)],
) -> Result<(), sqlx::Error> {
    let mut rest = rows;
    while !rest.is_empty() {
        let count = statement_rows(rest.len());
        let (chunk, after) = rest.split_at(count);
        let sql = upsert_sql(dialect, spec, table, count);
        let mut query = sqlx::query(&sql);
        for (key, columns) in chunk {
            query = query.bind(*key);
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
        rest = after;
    }
    Ok(())
}

/// How many of `remaining` rows the next statement carries.
fn statement_rows(remaining: usize) -> usize {
    if remaining >= ROWS_PER_STATEMENT {
        ROWS_PER_STATEMENT
    } else {
        // The largest power of two that fits.
        1 << remaining.ilog2()
    }
}

fn upsert_sql(dialect: Dialect, spec: &TableSpec, table: &str, rows: usize) -> String {
    let width = spec.columns.len() + 1;
    let row = |n: usize| match dialect {
        Dialect::Postgres => placeholders(1 + n * width, width),
        // Anonymous `?`s, bound in order: SQLite looks a numbered parameter's name
        // up in a list, once per parameter, which is quadratic in a statement of
        // hundreds of them (a third of replay's time with `$N`).
        Dialect::Sqlite => vec!["?"; width].join(", "),
    };
    let values = (0..rows)
        .map(|n| format!("({})", row(n)))
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
    spec: &TableSpec,
    table: &str,
    keys: &[&str],
) -> Result<(), sqlx::Error> {
    for chunk in keys.chunks(KEYS_PER_QUERY) {
        let sql = format!(
            "DELETE FROM {table} WHERE {} IN ({})",
            spec.key,
            placeholders(1, chunk.len())
        );
        let mut query = sqlx::query(&sql);
        for key in chunk {
            query = query.bind(*key);
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

pub async fn create(
    conn: &mut DbConnection,
    dialect: Dialect,
    spec: &TableSpec,
    table: &str,
) -> Result<(), sqlx::Error> {
    for statement in create_statements(dialect, spec, table) {
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
