//! Test harness: the shared one of `pactum-testkit` — the real server on a random
//! port with typed helpers for tokens and requests, the real binary — over a
//! fresh store per test on the run's backend (SQLite or PostgreSQL, see
//! `backend.rs`).

use std::ffi::OsStr;
use std::path::Path;
use std::process::Output;
use std::sync::Arc;

use pactum::clock::ManualClock;
use pactum::startup::ClockConfig;
use pactum_testkit::harness;
use pactum_testkit::process::{Node, Pactum};
use tempfile::TempDir;

pub use pactum_testkit::fixtures::{cloud_order, cloud_parameters};
pub use pactum_testkit::harness::{Options, TestApp};
pub use pactum_testkit::http::{expect_problem, send};
pub use pactum_testkit::process::{stderr, stdout};

/// A server over a fresh, empty store.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(Options::default()).await
}

/// A server over a fresh store whose clock the test moves.
pub async fn spawn_app_with_clock(clock: Arc<ManualClock>) -> TestApp {
    spawn_app_with(Options {
        clock: ClockConfig::Manual(clock),
        ..Options::default()
    })
    .await
}

pub async fn spawn_app_with(options: Options) -> TestApp {
    let temp = TempDir::new().expect("a temp dir");
    let dir = temp.path().to_owned();
    spawn_app_at_with(&dir, options).await.owning(temp)
}

/// A server over the store in `dir` (which the caller keeps alive).
pub async fn spawn_app_at(dir: &Path) -> TestApp {
    spawn_app_at_with(dir, Options::default()).await
}

pub async fn spawn_app_at_with(dir: &Path, options: Options) -> TestApp {
    harness::spawn(crate::backend::storage(dir), options).await
}

pub const SEED_PLAIN: &str = "SO-1-legacy : Compute/EGI Cloud compute/General purpose?Number of CPU Cores=4&Amount of RAM per CPU core=2&Local disk=40&Number of VM instances=2&Access type=opportunistic&Start of service=02/12/2019&Number of days=2";
pub const SEED_BOLD: &str = "SO-1-legacy : **Compute/EGI Cloud compute/General purpose**?Number of CPU Cores=4&Amount of RAM per CPU core=2&Local disk=40&Number of VM instances=2&Access type=opportunistic&**Start of service=02/12/2019&Number of days=2**";
pub const SEED_LINK: &str = "SO-1-legacy : [Compute/EGI Cloud compute/General purpose](#)?Number of CPU Cores=4&Amount of RAM per CPU core=2&Local disk=40&Number of VM instances=2&Access type=opportunistic&**Start of service=02/12/2019&Number of days=2**";

/// The `pactum` binary cargo built for this suite.
pub fn binary() -> Pactum {
    Pactum::new(env!("CARGO_BIN_EXE_pactum"))
}

/// Runs `pactum ARGS` on the store of `data_dir` (`--data-dir`, or
/// `--database-url` on PostgreSQL).
pub fn pactum(args: &[&str], data_dir: &Path) -> Output {
    binary().run(
        args.iter().map(OsStr::new).chain(
            crate::backend::storage_args(data_dir)
                .iter()
                .map(|a| a.as_os_str()),
        ),
    )
}

/// `pactum token create ARGS` on the store of `data_dir`; returns the token.
pub fn create_token(data_dir: &Path, args: &[&str]) -> String {
    let storage = crate::backend::storage_args(data_dir);
    binary().token(
        args.iter()
            .map(OsStr::new)
            .chain(storage.iter().map(|a| a.as_os_str())),
    )
}

/// `pactum serve`, pointed at the store of `data_dir` by its environment
/// (`PACTUM_DATA_DIR` or `PACTUM_DATABASE_URL`).
pub async fn serve(data_dir: &Path) -> Node {
    let (variable, value) = crate::backend::storage_env(data_dir);
    binary()
        .serve(|command| {
            command.env(variable, value);
        })
        .await
}
