//! What pactum's tests and benchmarks share, so each helper exists once.
//!
//! The real servers they run against, started on free loopback ports in
//! throwaway directories and stopped when dropped:
//! - [`Postgres`]: a PostgreSQL cluster (Debian package `postgresql`). The test
//!   command (`scripts/test`) starts one for the whole run and exports its URL in
//!   `PACTUM_TEST_POSTGRES_URL`; [`Postgres::shared`] uses it, or starts a cluster
//!   of its own when the variable is unset (a single `cargo test`).
//! - [`Nats`]: a nats-server with JetStream (Debian package `nats-server`).
//! - [`OidcProvider`]: an OpenID provider (`oidc-provider` from the npm
//!   registry, `tests/oidc/`) under the machine's Node.js.
//! - [`eosc::Marketplace`]: a stand-in for the EOSC Marketplace's Ordering
//!   API, in-process, for the tests of pactum as an OMS.
//!
//! pactum itself, and how tests talk to it:
//! - [`harness`]: the server in-process on port 0 over a given store
//!   ([`harness::spawn`], [`harness::TestApp`]), with tokens minted in its store;
//! - [`process`]: the real binary, run to completion or serving ([`process::Node`]);
//! - [`http`]: the requests both are sent ([`http::Http`], which both dereference
//!   to), and a raw HTTP/1.1 connection;
//! - [`principals`]: who tests act as, for the server in-process and for
//!   `pactum token create` alike;
//! - [`fixtures`]: the order every kind of test places; [`probe`]: appends of a
//!   probe aggregate, for tests of the store itself.
//!
//! PostgreSQL refuses to run as root: as root, the cluster runs as the `postgres`
//! user the Debian package creates.

pub mod eosc;
pub mod fixtures;
pub mod harness;
pub mod http;
mod nats;
mod oidc;
mod postgres;
pub mod principals;
pub mod probe;
pub mod process;

pub use nats::Nats;
pub use oidc::{CLIENT_ID, CLIENT_SECRET, OidcProvider};
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
