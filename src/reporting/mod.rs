//! Reporting jobs read the read models with SQL through stable views
//! (`reporting.*` on PostgreSQL, `reporting_*` on SQLite), whose columns are a
//! contract ([`views`], `docs/reporting.md`, `docs/adr/0018`).
//!
//! - [`refresh`] points every view at the live generations, in the transaction
//!   that makes a generation live (`registry::promote`), so a reader sees the
//!   old tables or the new ones, never a missing or half-built one.
//! - [`grant`]: `pactum reporting grant`, a PostgreSQL login role that reads the
//!   views and nothing else, optionally only some organisations' rows.
//! - [`snapshot`]: `pactum reporting snapshot`, the views of an SQLite store
//!   copied into a file of their own, from one consistent read.

pub mod views;

use std::collections::HashMap;
use std::path::Path;

use sqlx::Row;

use crate::projector::tables;
use crate::store::{AppendError, DbConnection, Dialect, EventStore, StoreError};
pub use views::{Kind, VIEWS, View};

/// Creates or repoints every view whose definition changed, in the caller's
/// transaction. Views over a projection without a live generation have their
/// columns and no rows.
pub async fn refresh(conn: &mut DbConnection, dialect: Dialect) -> Result<usize, sqlx::Error> {
    let live: Vec<(String, i64)> =
        sqlx::query_as("SELECT name, generation FROM projection_generations WHERE state = 'live'")
            .fetch_all(&mut *conn)
            .await?;
    let live: HashMap<String, String> = live
        .into_iter()
        .map(|(name, generation)| {
            let table = tables::table_name(&name, generation as u64);
            (name, table)
        })
        .collect();
    let known: Vec<(String, String)> =
        sqlx::query_as("SELECT name, definition FROM reporting_views")
            .fetch_all(&mut *conn)
            .await?;
    let known: HashMap<String, String> = known.into_iter().collect();
    let mut changed = 0;
    for view in VIEWS {
        let name = view.qualified(dialect);
        let select = view.select(dialect, |projection| live.get(projection).cloned());
        if known.get(&name) == Some(&select) && exists(conn, dialect, view).await? {
            continue;
        }
        match dialect {
            Dialect::Sqlite => {
                sqlx::query(&format!("DROP VIEW IF EXISTS {name}"))
                    .execute(&mut *conn)
                    .await?;
                sqlx::query(&format!("CREATE VIEW {name} AS {select}"))
                    .execute(&mut *conn)
                    .await?;
            }
            Dialect::Postgres => {
                // A dashboard's query holding the view must not hold the log's
                // writer for long: give up after a while (the promotion is
                // retried) rather than queue every commit behind it.
                sqlx::query("SET LOCAL lock_timeout = '5s'")
                    .execute(&mut *conn)
                    .await?;
                // Same columns, same types: OR REPLACE keeps the view (and its
                // grants) and swaps its query.
                sqlx::query(&format!(
                    "CREATE OR REPLACE VIEW {name} WITH (security_barrier) AS {select}"
                ))
                .execute(&mut *conn)
                .await?;
                sqlx::query("SET LOCAL lock_timeout TO DEFAULT")
                    .execute(&mut *conn)
                    .await?;
            }
        }
        sqlx::query("DELETE FROM reporting_views WHERE name = $1")
            .bind(&name)
            .execute(&mut *conn)
            .await?;
        sqlx::query("INSERT INTO reporting_views (name, definition) VALUES ($1, $2)")
            .bind(&name)
            .bind(&select)
            .execute(&mut *conn)
            .await?;
        changed += 1;
    }
    Ok(changed)
}

async fn exists(
    conn: &mut DbConnection,
    dialect: Dialect,
    view: &View,
) -> Result<bool, sqlx::Error> {
    let found: Option<i64> = match dialect {
        Dialect::Sqlite => {
            sqlx::query_scalar("SELECT 1 FROM sqlite_master WHERE type = 'view' AND name = $1")
                .bind(view.qualified(dialect))
                .fetch_optional(&mut *conn)
                .await?
        }
        Dialect::Postgres => {
            sqlx::query_scalar(
                "SELECT CAST(1 AS BIGINT) FROM information_schema.views \
                 WHERE table_schema = 'reporting' AND table_name = $1",
            )
            .bind(view.name)
            .fetch_optional(&mut *conn)
            .await?
        }
    };
    Ok(found.is_some())
}

/// Makes sure the views exist and point at the live generations (at start: a
/// store made before the views, or whose promotions an older binary made).
pub async fn ensure(store: &EventStore) -> Result<usize, ReportingError> {
    let dialect = store.dialect();
    let changed = store
        .write(move |conn| Box::pin(async move { refresh(conn, dialect).await }))
        .await??;
    if changed > 0 {
        tracing::info!(changed, "reporting views pointed at the live read models");
    }
    Ok(changed)
}

/// Why a reporting command refused.
#[derive(Debug, thiserror::Error)]
pub enum ReportingError {
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Append(#[from] AppendError),
    #[error("database: {0}")]
    Sql(#[from] sqlx::Error),
    #[error("{0}")]
    Snapshot(String),
}

/// What `grant` did.
#[derive(Debug)]
pub struct Granted {
    pub created: bool,
    pub orgs: Vec<String>,
    pub views: usize,
}

/// A role name pactum accepts: a plain lower-case SQL identifier, so it needs
/// no quoting and cannot smuggle SQL.
fn valid_role(role: &str) -> bool {
    let mut chars = role.chars();
    matches!(chars.next(), Some('a'..='z' | '_'))
        && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_'))
        && role.len() <= 63
        && !role.starts_with("pg_")
}

/// Creates (or updates) the login role `role` on PostgreSQL: it may read the
/// reporting views and nothing else; with `orgs`, only those organisations'
/// rows. A role that exists keeps its password unless `password` is given.
pub async fn grant(
    store: &EventStore,
    role: &str,
    orgs: &[String],
    password: Option<String>,
) -> Result<Granted, ReportingError> {
    if store.dialect() != Dialect::Postgres {
        return Err(ReportingError::Refused(
            "reporting roles are PostgreSQL's: on the embedded store, give tools a copy \
             with `pactum reporting snapshot FILE`"
                .into(),
        ));
    }
    if !valid_role(role) {
        return Err(ReportingError::Refused(format!(
            "{role:?} is not a role name pactum creates: use lower-case letters, digits and \
             underscores, starting with a letter (at most 63, not pg_...)"
        )));
    }
    if let Some(org) = orgs.iter().find(|o| o.trim().is_empty()) {
        return Err(ReportingError::Refused(format!(
            "{org:?} is not an organisation"
        )));
    }
    let role = role.to_owned();
    let orgs: Vec<String> = {
        let mut orgs = orgs.to_vec();
        orgs.sort();
        orgs.dedup();
        orgs
    };
    let scopes = orgs.clone();
    let outcome = store
        .write(move |conn| {
            Box::pin(async move { grant_in(conn, &role, &scopes, password.as_deref()).await })
        })
        .await??;
    let (created, views) = outcome;
    Ok(Granted {
        created,
        orgs,
        views,
    })
}

async fn grant_in(
    conn: &mut DbConnection,
    role: &str,
    orgs: &[String],
    password: Option<&str>,
) -> Result<(bool, usize), ReportingError> {
    refresh(conn, Dialect::Postgres).await?;
    let me: String = sqlx::query_scalar("SELECT CAST(current_user AS TEXT)")
        .fetch_one(&mut *conn)
        .await?;
    if me == role {
        return Err(ReportingError::Refused(format!(
            "{role} is the role pactum itself connects as"
        )));
    }
    let existing: Option<(bool, bool)> =
        sqlx::query_as("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = $1")
            .bind(role)
            .fetch_optional(&mut *conn)
            .await?;
    if let Some((superuser, bypass)) = existing
        && (superuser || bypass)
    {
        return Err(ReportingError::Refused(format!(
            "{role} is a superuser (or bypasses row security): it reads everything, so it \
             cannot be a reporting role"
        )));
    }
    let created = existing.is_none();
    let password = match password {
        Some(p) => format!(" PASSWORD '{}'", p.replace('\'', "''")),
        None => String::new(),
    };
    let verb = if created { "CREATE" } else { "ALTER" };
    sqlx::query(&format!(
        "{verb} ROLE {role} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION{password}"
    ))
    .execute(&mut *conn)
    .await?;
    // Nothing but the reporting schema: whatever it was granted before goes.
    for statement in [
        format!("REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {role}"),
        format!("REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {role}"),
        format!("REVOKE CREATE ON SCHEMA public FROM {role}"),
        format!("REVOKE CREATE ON SCHEMA reporting FROM {role}"),
        format!("GRANT USAGE ON SCHEMA reporting TO {role}"),
        format!("GRANT SELECT ON ALL TABLES IN SCHEMA reporting TO {role}"),
        // Views added later (a `_v2`) are readable without granting again.
        format!("ALTER DEFAULT PRIVILEGES IN SCHEMA reporting GRANT SELECT ON TABLES TO {role}"),
    ] {
        sqlx::query(&statement).execute(&mut *conn).await?;
    }
    sqlx::query("DELETE FROM reporting_scopes WHERE role = $1")
        .bind(role)
        .execute(&mut *conn)
        .await?;
    for org in orgs {
        sqlx::query("INSERT INTO reporting_scopes (role, org) VALUES ($1, $2)")
            .bind(role)
            .bind(org)
            .execute(&mut *conn)
            .await?;
    }
    Ok((created, VIEWS.len()))
}

/// What `snapshot` wrote.
#[derive(Debug)]
pub struct Snapshot {
    /// Each view and its row count.
    pub views: Vec<(String, u64)>,
}

/// Copies every reporting view of the SQLite store into a new file `target`
/// (tables of the same names), all read in one transaction, so the copy is
/// one consistent instant of the read models; the file is made read-only.
/// Refuses a `target` that exists.
pub async fn snapshot(store: &EventStore, target: &Path) -> Result<Snapshot, ReportingError> {
    let Some(source) = store.sqlite_file().map(Path::to_owned) else {
        return Err(ReportingError::Refused(
            "snapshot copies the embedded store; on PostgreSQL give tools a reporting role \
             (`pactum reporting grant --role NAME`)"
                .into(),
        ));
    };
    ensure(store).await?;
    if target.exists() {
        return Err(ReportingError::Refused(format!(
            "{} exists: snapshot writes a new file",
            target.display()
        )));
    }
    let target = target.to_owned();
    tokio::task::spawn_blocking(move || copy_views(&source, &target))
        .await
        .map_err(|e| ReportingError::Snapshot(e.to_string()))?
}

fn copy_views(source: &Path, target: &Path) -> Result<Snapshot, ReportingError> {
    let fail = |e: rusqlite::Error| ReportingError::Snapshot(e.to_string());
    let name = target
        .file_name()
        .ok_or_else(|| ReportingError::Refused(format!("{} is not a file", target.display())))?;
    let partial = target.with_file_name(format!(".{}.partial", name.to_string_lossy()));
    let _ = std::fs::remove_file(&partial);
    let result = (|| {
        let mut conn = rusqlite::Connection::open(&partial).map_err(fail)?;
        let uri = format!("file:{}?mode=ro", source.display());
        conn.execute("ATTACH DATABASE ?1 AS store", [uri])
            .map_err(fail)?;
        let tx = conn.transaction().map_err(fail)?;
        let mut copied = Vec::new();
        for view in VIEWS {
            let name = view.qualified(Dialect::Sqlite);
            tx.execute_batch(&format!(
                "CREATE TABLE main.{name} AS SELECT * FROM store.{name}"
            ))
            .map_err(fail)?;
            let rows: i64 = tx
                .query_row(&format!("SELECT COUNT(*) FROM main.{name}"), [], |row| {
                    row.get(0)
                })
                .map_err(fail)?;
            copied.push((name, rows as u64));
        }
        tx.commit().map_err(fail)?;
        conn.execute("DETACH DATABASE store", []).map_err(fail)?;
        conn.close().map_err(|(_, e)| fail(e))?;
        Ok(Snapshot { views: copied })
    })();
    match result {
        Ok(snapshot) => {
            let readonly = |e: std::io::Error| ReportingError::Snapshot(e.to_string());
            let mut permissions = std::fs::metadata(&partial).map_err(readonly)?.permissions();
            permissions.set_readonly(true);
            std::fs::set_permissions(&partial, permissions).map_err(readonly)?;
            std::fs::rename(&partial, target).map_err(readonly)?;
            Ok(snapshot)
        }
        Err(error) => {
            let _ = std::fs::remove_file(&partial);
            Err(error)
        }
    }
}

/// The columns of a view as the database reports them: name and type.
pub async fn columns_of(
    conn: &mut DbConnection,
    dialect: Dialect,
    view: &View,
) -> Result<Vec<(String, String)>, sqlx::Error> {
    match dialect {
        Dialect::Sqlite => {
            let rows = sqlx::query(&format!(
                "SELECT name, type FROM pragma_table_info('{}') ORDER BY cid",
                view.qualified(dialect)
            ))
            .fetch_all(&mut *conn)
            .await?;
            rows.iter()
                .map(|r| Ok((r.try_get::<String, _>(0)?, r.try_get::<String, _>(1)?)))
                .collect()
        }
        Dialect::Postgres => {
            let rows = sqlx::query(
                "SELECT CAST(column_name AS TEXT), CAST(data_type AS TEXT) \
                 FROM information_schema.columns \
                 WHERE table_schema = 'reporting' AND table_name = $1 ORDER BY ordinal_position",
            )
            .bind(view.name)
            .fetch_all(&mut *conn)
            .await?;
            rows.iter()
                .map(|r| Ok((r.try_get::<String, _>(0)?, r.try_get::<String, _>(1)?)))
                .collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::valid_role;

    #[test]
    fn role_names_are_plain_identifiers() {
        for good in ["grafana", "metabase_ro", "_x1"] {
            assert!(valid_role(good), "{good}");
        }
        for bad in [
            "",
            "Grafana",
            "1abc",
            "a-b",
            "a b",
            "a;drop",
            "pg_monitor",
            "x\"y",
            &"a".repeat(64),
        ] {
            assert!(!valid_role(bad), "{bad}");
        }
    }
}
