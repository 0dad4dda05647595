//! The generations of each projection (`projection_generations`): which one is
//! live, which are building, and how far each has got.

use crate::store::{DbConnection, DbPool, Dialect};
use jiff::Timestamp;

use super::tables::{self, Indexes};
use pactum_projections::projection::TableSpec;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    Building,
    Live,
    Retired,
}

impl State {
    fn parse(text: &str) -> Self {
        match text {
            "building" => Self::Building,
            "live" => Self::Live,
            _ => Self::Retired,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Building => "building",
            Self::Live => "live",
            Self::Retired => "retired",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Generation {
    pub name: String,
    pub generation: u64,
    pub version: u32,
    pub state: State,
    pub checkpoint: u64,
}

impl Generation {
    pub fn table(&self) -> String {
        tables::table_name(&self.name, self.generation)
    }
}

type GenerationRow = (String, i64, i64, String, i64);

fn from_row((name, generation, version, state, checkpoint): GenerationRow) -> Generation {
    Generation {
        name,
        generation: generation as u64,
        version: version as u32,
        state: State::parse(&state),
        checkpoint: checkpoint as u64,
    }
}

const COLUMNS: &str = "name, generation, version, state, checkpoint";

pub async fn live(pool: &DbPool, name: &str) -> Result<Option<Generation>, sqlx::Error> {
    let sql =
        format!("SELECT {COLUMNS} FROM projection_generations WHERE name = $1 AND state = 'live'");
    let row: Option<GenerationRow> = sqlx::query_as(&sql).bind(name).fetch_optional(pool).await?;
    Ok(row.map(from_row))
}

/// Every generation of one projection.
pub async fn of(pool: &DbPool, name: &str) -> Result<Vec<Generation>, sqlx::Error> {
    let sql =
        format!("SELECT {COLUMNS} FROM projection_generations WHERE name = $1 ORDER BY generation");
    let rows: Vec<GenerationRow> = sqlx::query_as(&sql).bind(name).fetch_all(pool).await?;
    Ok(rows.into_iter().map(from_row).collect())
}

/// Every generation of every projection, for `pactum projections`.
pub async fn all(pool: &DbPool) -> Result<Vec<Generation>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM projection_generations ORDER BY name, generation");
    let rows: Vec<GenerationRow> = sqlx::query_as(&sql).fetch_all(pool).await?;
    Ok(rows.into_iter().map(from_row).collect())
}

/// State and checkpoint of one generation, read inside a write transaction.
pub async fn current(
    conn: &mut DbConnection,
    name: &str,
    generation: u64,
) -> Result<Option<(State, u64)>, sqlx::Error> {
    let row: Option<(String, i64)> = sqlx::query_as(
        "SELECT state, checkpoint FROM projection_generations WHERE name = $1 AND generation = $2",
    )
    .bind(name)
    .bind(generation as i64)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|(state, checkpoint)| (State::parse(&state), checkpoint as u64)))
}

/// Moves a generation's checkpoint from `expected` to `checkpoint` if it is
/// still at `expected` and not retired: one statement that both claims the
/// generation for a batch of rows and records how far they reach. `false` if it
/// was not (read [`current`] to say why); the caller's transaction then keeps
/// nothing of the batch.
pub async fn advance(
    conn: &mut DbConnection,
    name: &str,
    generation: u64,
    expected: u64,
    checkpoint: u64,
) -> Result<bool, sqlx::Error> {
    let moved = sqlx::query(
        "UPDATE projection_generations SET checkpoint = $1 \
         WHERE name = $2 AND generation = $3 AND checkpoint = $4 AND state <> $5",
    )
    .bind(checkpoint as i64)
    .bind(name)
    .bind(generation as i64)
    .bind(expected as i64)
    .bind(State::Retired.as_str())
    .execute(conn)
    .await?;
    Ok(moved.rows_affected() == 1)
}

pub async fn set_checkpoint(
    conn: &mut DbConnection,
    name: &str,
    generation: u64,
    checkpoint: u64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE projection_generations SET checkpoint = $1 WHERE name = $2 AND generation = $3",
    )
    .bind(checkpoint as i64)
    .bind(name)
    .bind(generation as i64)
    .execute(conn)
    .await?;
    Ok(())
}

/// Registers a new, empty generation in state `building` and creates its tables.
pub async fn create(
    conn: &mut DbConnection,
    dialect: Dialect,
    name: &str,
    version: u32,
    spec: &TableSpec,
    indexes: Indexes,
    now: Timestamp,
) -> Result<Generation, sqlx::Error> {
    let next: i64 = sqlx::query_scalar(
        "SELECT COALESCE(MAX(generation), 0) + 1 FROM projection_generations WHERE name = $1",
    )
    .bind(name)
    .fetch_one(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO projection_generations (name, generation, version, state, checkpoint, created_at) \
         VALUES ($1, $2, $3, 'building', 0, $4)",
    )
    .bind(name)
    .bind(next)
    .bind(i64::from(version))
    .bind(now.as_microsecond())
    .execute(&mut *conn)
    .await?;
    let generation = Generation {
        name: name.to_owned(),
        generation: next as u64,
        version,
        state: State::Building,
        checkpoint: 0,
    };
    tables::create(conn, dialect, spec, &generation.table(), indexes).await?;
    Ok(generation)
}

/// Makes `generation` the live one and retires the previous live one.
pub async fn promote(
    conn: &mut DbConnection,
    name: &str,
    generation: u64,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE projection_generations SET state = 'retired' WHERE name = $1 AND state = 'live'",
    )
    .bind(name)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "UPDATE projection_generations SET state = 'live', live_at = $1 \
         WHERE name = $2 AND generation = $3",
    )
    .bind(now.as_microsecond())
    .bind(name)
    .bind(generation as i64)
    .execute(conn)
    .await?;
    Ok(())
}

/// Drops the tables of retired generations, and of unfinished builds of another
/// version than `version`, and forgets them.
pub async fn drop_stale(
    conn: &mut DbConnection,
    name: &str,
    version: u32,
) -> Result<usize, sqlx::Error> {
    let retired: Vec<i64> = sqlx::query_scalar(
        "SELECT generation FROM projection_generations WHERE name = $1 \
         AND (state = 'retired' OR (state = 'building' AND version <> $2))",
    )
    .bind(name)
    .bind(i64::from(version))
    .fetch_all(&mut *conn)
    .await?;
    if !retired.is_empty() {
        // No reporting view may still read a table about to go (PostgreSQL
        // would refuse the DROP; SQLite would leave the view broken).
        let dialect = match conn.backend_name() {
            "PostgreSQL" => Dialect::Postgres,
            _ => Dialect::Sqlite,
        };
        crate::reporting::refresh(conn, dialect).await?;
    }
    for generation in &retired {
        let table = tables::table_name(name, *generation as u64);
        sqlx::query(&format!("DROP TABLE IF EXISTS {table}"))
            .execute(&mut *conn)
            .await?;
        sqlx::query("DELETE FROM projection_generations WHERE name = $1 AND generation = $2")
            .bind(name)
            .bind(generation)
            .execute(&mut *conn)
            .await?;
    }
    Ok(retired.len())
}
