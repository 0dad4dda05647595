//! # pactum
//!
//! An event-sourced service-order and SLA engine. Start with `ARCHITECTURE.md`;
//! in the code, [`startup::Server`] builds the running server, [`app::App`] is the
//! core every entry point shares, and [`orders`] is the first aggregate to read.

pub mod access;
pub mod agreements;
pub mod app;
pub mod brands;
pub mod catalogue;
pub mod cli;
pub mod clock;
pub mod compliance;
pub mod console;
pub mod documents;
pub mod eosc;
pub mod execute;
pub mod handling;
pub mod http;
pub mod members;
pub mod metrics;
pub mod notify;
pub mod orders;
pub mod projector;
pub mod relay;
pub mod reporting;
pub mod reports;
pub mod runner;
pub mod signin;
pub mod startup;
pub mod store;
pub mod timers;
pub mod validation;
