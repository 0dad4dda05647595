//! Tests at scale and across processes, against real servers (PostgreSQL, and
//! nats-server with JetStream, started by `pactum-testkit`).

mod support;

mod relay;
