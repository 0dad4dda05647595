use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;

use tempfile::TempDir;

use crate::{free_port, wait_for_port};

const URL_VARIABLE: &str = "PACTUM_TEST_POSTGRES_URL";

/// A PostgreSQL cluster: the run's shared one, or one this value started and
/// stops on drop.
pub struct Postgres {
    /// `postgres://postgres@127.0.0.1:PORT`, without a database.
    base: String,
    _owned: Option<Cluster>,
}

/// A fresh database on a cluster; keeps the cluster alive while it lives.
#[derive(Clone)]
pub struct Database {
    pub url: String,
    pub name: String,
    _server: Arc<Postgres>,
}

impl Postgres {
    /// The run's cluster (`PACTUM_TEST_POSTGRES_URL`), or a new one.
    pub fn shared() -> Arc<Self> {
        match std::env::var(URL_VARIABLE) {
            Ok(url) if !url.is_empty() => Arc::new(Self {
                base: url.trim_end_matches('/').to_owned(),
                _owned: None,
            }),
            _ => Arc::new(Self::start()),
        }
    }

    /// A cluster of its own, stopped on drop.
    pub fn start() -> Self {
        let cluster = Cluster::start();
        Self {
            base: format!("postgres://postgres@127.0.0.1:{}", cluster.port),
            _owned: Some(cluster),
        }
    }

    /// Stops a cluster this value started, as a crash would (`-m immediate`).
    pub fn stop(&self) {
        self._owned.as_ref().expect("a cluster of its own").stop();
    }

    /// Starts it again after [`Postgres::stop`], on the same port and data.
    pub fn restart(&self) {
        self._owned.as_ref().expect("a cluster of its own").run();
    }

    /// URL of the `postgres` maintenance database.
    pub fn admin_url(&self) -> String {
        format!("{}/postgres", self.base)
    }

    /// Creates an empty database with a unique name.
    pub fn database(self: &Arc<Self>) -> Database {
        let name = format!("pactum_{}", uuid::Uuid::new_v4().simple());
        self.create_database(&name);
        Database {
            url: format!("{}/{name}", self.base),
            name,
            _server: self.clone(),
        }
    }

    /// Creates the database `name` (psql, so no async runtime is needed here).
    pub fn create_database(&self, name: &str) {
        let status = Command::new(bin("psql"))
            .args(["-q", "-v", "ON_ERROR_STOP=1", "-d", &self.admin_url(), "-c"])
            .arg(format!("CREATE DATABASE {name}"))
            .stdout(Stdio::null())
            .status()
            .expect("psql runs");
        assert!(status.success(), "CREATE DATABASE {name} failed");
    }
}

/// A cluster in a throwaway directory.
struct Cluster {
    dir: TempDir,
    data: PathBuf,
    port: u16,
}

impl Cluster {
    fn start() -> Self {
        let dir = TempDir::new().expect("a temp dir");
        let data = dir.path().join("data");
        std::fs::create_dir(&data).expect("the data directory");
        if as_root() {
            for path in [dir.path(), data.as_path()] {
                chown_to_postgres(path);
            }
        }
        let port = free_port();
        run_as_postgres(
            Command::new(bin("initdb"))
                .args([
                    "-A",
                    "trust",
                    "-U",
                    "postgres",
                    "-E",
                    "UTF8",
                    "--no-sync",
                    "-D",
                ])
                .arg(&data),
            "initdb",
        );
        let cluster = Self { dir, data, port };
        cluster.run();
        cluster
    }

    fn run(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c max_connections=400 \
             -c shared_buffers=128MB",
            self.port,
            self.dir.path().display()
        );
        run_as_postgres(
            Command::new(bin("pg_ctl"))
                .args(["-w", "-l"])
                .arg(self.dir.path().join("log"))
                .args(["-o", &options, "-D"])
                .arg(&self.data)
                .arg("start"),
            "pg_ctl start",
        );
        wait_for_port(self.port, "PostgreSQL");
    }

    fn stop(&self) {
        let _ = run(Command::new(bin("pg_ctl"))
            .args(["-m", "immediate", "-w", "-D"])
            .arg(&self.data)
            .arg("stop"));
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = run(Command::new(bin("pg_ctl"))
            .args(["-m", "immediate", "-D"])
            .arg(&self.data)
            .arg("stop"));
        let _ = &self.dir;
    }
}

fn as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
        .unwrap_or(false)
}

fn chown_to_postgres(path: &Path) {
    let status = Command::new("chown")
        .args(["postgres:postgres"])
        .arg(path)
        .status()
        .expect("chown runs");
    assert!(status.success(), "chown postgres {}", path.display());
}

/// Runs a PostgreSQL tool, as the `postgres` user when we are root.
fn run(command: &mut Command) -> std::io::Result<std::process::Output> {
    if as_root() {
        let mut wrapped = Command::new("runuser");
        wrapped
            .args(["-u", "postgres", "--"])
            .arg(command.get_program());
        wrapped.args(command.get_args());
        wrapped.current_dir("/");
        wrapped.stdin(Stdio::null()).output()
    } else {
        command.stdin(Stdio::null()).output()
    }
}

fn run_as_postgres(command: &mut Command, what: &str) {
    let output = run(command).unwrap_or_else(|e| {
        panic!("{what} runs (Debian package postgresql; scripts/test installs it): {e}")
    });
    assert!(
        output.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A PostgreSQL program: from Debian's versioned directory, else from PATH.
pub(crate) fn bin(name: &str) -> PathBuf {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path().join("bin").join(name))
        .filter(|path| path.exists())
        .collect();
    versions.sort();
    versions.pop().unwrap_or_else(|| PathBuf::from(name))
}
