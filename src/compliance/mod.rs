//! Service levels measured against agreements (issue 17, in progress): the
//! arithmetic first, pure and tested on its own, before any event or endpoint
//! depends on it.
//!
//! - [`status`]: ARGO's status vocabulary and an endpoint's timeline of
//!   statuses (out-of-order and repeated results are harmless), combined across
//!   endpoints (all required: the worst; any: the best).
//! - [`levels`]: availability and reliability of a day in the agreement's time
//!   zone (23 or 25 hours across a DST change) and of a month, as ARGO computes
//!   them.
//! - [`apel`]: usage records in the EGI APEL cloud format.

pub mod apel;
pub mod levels;
pub mod status;
