//! Service levels measured against agreements (issue 17, ADR 0016,
//! `docs/compliance.md`): was an SLA met last month, and if not, why?
//!
//! The arithmetic, pure and tested on its own:
//! - [`status`]: ARGO's status vocabulary and an endpoint's timeline of
//!   statuses (out-of-order and repeated results are harmless, only what
//!   changes what is known is kept), combined across endpoints (all
//!   required: the worst; any: the best).
//! - [`levels`]: availability and reliability of a day in the agreement's time
//!   zone (23 or 25 hours across a DST change) and of a month, as ARGO computes
//!   them.
//! - [`compute`]: an agreement's days and months from its bindings, its
//!   endpoints' timelines and ARGO's imported days, against the targets in
//!   force; [`usage`]: core-hours used against committed.
//! - [`apel`]: usage records in the EGI APEL cloud format; [`argo`]: ARGO's
//!   web API's daily A/R results.
//!
//! The facts: [`aggregate`] holds the `endpoint` (declaration, status points,
//! imported days), `compliance` (an agreement's binding and closed months)
//! and `accounting` (usage records) aggregates; [`queries`] the inline
//! tables the [`timer`] reads (heartbeat deadlines, bound agreements).
//! [`service`] is what the API, the command line and the timer do;
//! [`report`] the views' shapes, [`pdf`] the monthly report rendered by typst.

pub mod aggregate;
pub mod apel;
pub mod argo;
pub mod commands;
pub mod compute;
pub mod errors;
pub mod levels;
pub mod pdf;
pub mod queries;
pub mod report;
pub mod service;
pub mod status;
pub mod timer;
pub mod usage;
