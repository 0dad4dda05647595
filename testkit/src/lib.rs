//! The real servers pactum's tests and benchmarks run against, started on free
//! loopback ports in throwaway directories and stopped when dropped.
//!
//! - [`Postgres`]: a PostgreSQL cluster (Debian package `postgresql`). The test
//!   command (`scripts/test`) starts one for the whole run and exports its URL in
//!   `PACTUM_TEST_POSTGRES_URL`; [`Postgres::shared`] uses it, or starts a cluster
//!   of its own when the variable is unset (a single `cargo test`).
//! - [`Nats`]: a nats-server with JetStream (Debian package `nats-server`).
//! - [`fixtures`]: the order every kind of test places.
//!
//! PostgreSQL refuses to run as root: as root, the cluster runs as the `postgres`
//! user the Debian package creates.

pub mod fixtures;
mod nats;
mod postgres;

pub use nats::Nats;
pub use postgres::{Database, Postgres};

use std::net::TcpListener;
use std::time::{Duration, Instant};

/// A loopback port nobody listens on now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free loopback port")
}

/// Waits until something accepts connections on `port`.
fn wait_for_port(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "{what} did not start listening on {port}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
