//! Black-box tests of the HTTP API and the CLI: a real server (or the real
//! binary) on a random port, a real store, one fresh store per test: SQLite, or
//! PostgreSQL with `PACTUM_TEST_BACKEND=postgres` (see `backend.rs`).

mod backend;
mod helpers;

mod agreements;
mod audit;
mod brands;
mod browser;
mod catalogue;
mod cli;
mod clocks;
mod compliance;
mod console;
mod defects;
mod eosc;
mod errors;
mod feed;
mod group_commit;
mod idempotency;
mod intake;
mod jira;
mod limits;
mod notifications;
mod openapi;
mod people;
mod projections;
mod queue;
mod replay;
mod reporting;
mod reports;
mod review;
mod signin;
mod tenancy;
mod tokens;
