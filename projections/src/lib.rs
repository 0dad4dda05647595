//! # pactum-projections: read models
//!
//! Every screen, queue and report of pactum reads a projection: a fold over events
//! that copies what it needs from them and decides nothing (business rules live in
//! the aggregates). Each projection here is a pure fold; storage and checkpoints
//! are the server's business.
//!
//! - [`order_view`]: one order as its customer or a shifter sees it, at any point
//!   of its history.
//! - [`audience`]: who may see which event — the one place role filtering happens.
//! - [`projection`]: what a stored projection is (name, version, event types,
//!   table, fold); [`order_queue`] is the first one.
//! - [`service_levels`] and [`usage_records`]: compliance figures per agreement
//!   and month, and the latest usage record of each VM per site, for
//!   reporting jobs.

pub mod agreement_index;
pub mod agreement_view;
pub mod audience;
pub mod handling;
pub mod order_queue;
pub mod order_report;
pub mod order_view;
pub mod projection;
pub mod service_levels;
#[cfg(test)]
mod test_events;
pub mod usage_records;

use jiff::Timestamp;
use pactum_events::Actor;

/// The envelope fields a fold may read, for events committed or about to be.
#[derive(Clone, Copy, Debug)]
pub struct EventContext<'a> {
    pub sequence: u64,
    pub recorded_at: Timestamp,
    pub actor: &'a Actor,
}

impl<'a> From<&'a pactum_events::RecordedEvent> for EventContext<'a> {
    fn from(event: &'a pactum_events::RecordedEvent) -> Self {
        Self {
            sequence: event.sequence,
            recorded_at: event.recorded_at,
            actor: &event.actor,
        }
    }
}
