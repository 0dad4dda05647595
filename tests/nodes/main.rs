//! Several pactum nodes on one PostgreSQL log, and the relay to NATS JetStream:
//! the real binary (`pactum serve`, `worker`, `import`, `export`) or the real
//! server in-process (`pactum-testkit`'s harness), against a real PostgreSQL
//! cluster — the run's (`PACTUM_TEST_POSTGRES_URL`, started by `scripts/test`) or
//! one a test starts for itself — and real nats-servers, on free loopback ports
//! in throwaway directories. `support.rs` binds the shared harness to them.

mod support;

mod failures;
mod gaps;
mod people;
mod racing;
mod relay;
mod transfer;
