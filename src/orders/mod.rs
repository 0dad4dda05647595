//! Orders: intake, review and decision.
//!
//! - [`commands`] — what callers ask for ([`commands::OrderCommand`]).
//! - [`aggregate`] — the [`aggregate::Order`] aggregate that decides them: lifecycle
//!   rules and authorization (via [`crate::access::policy`]).
//! - [`clocks`] — the handling clocks an order carries (part of the aggregate).
//! - [`legacy`] — the legacy order string of the replaced JIRA system.
//! - [`import`] and [`jira`] — `pactum import-legacy` and `pactum import-jira`:
//!   its orders, as strings or as tickets with their history.
//! - [`service`] — runs commands and reads for the HTTP API and the CLI: loads the
//!   order, gathers outside facts, appends, shapes the view per caller.

pub mod aggregate;
pub mod clocks;
pub mod commands;
pub mod errors;
pub mod import;
pub mod jira;
pub mod legacy;
pub mod queries;
pub mod queue;
pub mod service;
