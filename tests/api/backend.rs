//! The test matrix: the same tests run on the embedded SQLite store (default) and
//! on PostgreSQL (`PACTUM_TEST_BACKEND=postgres`, with the cluster `scripts/test`
//! starts named by `PACTUM_TEST_POSTGRES_URL`).
//!
//! A test names its store by a directory, as `pactum --data-dir` does. On
//! PostgreSQL the directory stands for a fresh database, created on first use and
//! recorded in the directory, so a test that restarts a server on "the same
//! directory" gets the same database back.

use std::ffi::OsString;
use std::path::Path;
use std::sync::{Arc, LazyLock};

use pactum::store::{DbConnection, StorageLocation};
use pactum_testkit::Postgres;
use sqlx::Connection;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub fn backend() -> Backend {
    match std::env::var("PACTUM_TEST_BACKEND").as_deref() {
        Ok("postgres") => Backend::Postgres,
        Ok("sqlite") | Ok("") | Err(_) => Backend::Sqlite,
        Ok(other) => panic!("PACTUM_TEST_BACKEND={other:?}: use sqlite or postgres"),
    }
}

static POSTGRES: LazyLock<Arc<Postgres>> = LazyLock::new(|| {
    assert!(
        std::env::var_os("PACTUM_TEST_POSTGRES_URL").is_some(),
        "PACTUM_TEST_BACKEND=postgres needs a cluster: run scripts/test, or set \
         PACTUM_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:PORT"
    );
    Postgres::shared()
});

const DATABASE_FILE: &str = "postgres-url";

/// The store a test directory stands for.
pub fn storage(dir: &Path) -> StorageLocation {
    match backend() {
        Backend::Sqlite => StorageLocation::DataDir(dir.to_owned()),
        Backend::Postgres => StorageLocation::DatabaseUrl(database_url(dir)),
    }
}

/// Whether the store of `dir` was created (by a server, a migration, an import).
pub fn store_exists(dir: &Path) -> bool {
    match backend() {
        Backend::Sqlite => dir.join("pactum.db").exists(),
        Backend::Postgres => dir.join(DATABASE_FILE).exists(),
    }
}

fn database_url(dir: &Path) -> String {
    let file = dir.join(DATABASE_FILE);
    if let Ok(url) = std::fs::read_to_string(&file) {
        return url;
    }
    let database = POSTGRES.database();
    std::fs::create_dir_all(dir).expect("the test directory");
    std::fs::write(&file, &database.url).expect("records the database");
    database.url
}

/// The command-line options that point the binary at the store of `dir`.
pub fn storage_args(dir: &Path) -> Vec<OsString> {
    match storage(dir) {
        StorageLocation::DataDir(dir) => vec!["--data-dir".into(), dir.into()],
        StorageLocation::DatabaseUrl(url) => vec!["--database-url".into(), url.into()],
    }
}

/// The environment variable and value that point the binary at the store of `dir`.
pub fn storage_env(dir: &Path) -> (&'static str, OsString) {
    match storage(dir) {
        StorageLocation::DataDir(dir) => ("PACTUM_DATA_DIR", dir.into()),
        StorageLocation::DatabaseUrl(url) => ("PACTUM_DATABASE_URL", url.into()),
    }
}

/// A connection to the store of `dir` that bypasses pactum altogether (to tamper
/// with it as an attacker with database access would).
pub async fn raw_connection(dir: &Path) -> DbConnection {
    sqlx::any::install_default_drivers();
    let url = match storage(dir) {
        StorageLocation::DataDir(dir) => format!("sqlite://{}", dir.join("pactum.db").display()),
        StorageLocation::DatabaseUrl(url) => url,
    };
    DbConnection::connect(&url)
        .await
        .expect("the store's database opens")
}

/// True, with a note, when the test is about the SQLite file itself and the run
/// is on PostgreSQL.
pub fn sqlite_only(why: &str) -> bool {
    let skip = backend() != Backend::Sqlite;
    if skip {
        eprintln!("skipped on {:?}: {why}", backend());
    }
    skip
}
