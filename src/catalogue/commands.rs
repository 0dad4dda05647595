//! What callers ask of the catalogue.

use pactum_events::catalogue::CatalogueEvent;

use crate::access::Principal;

#[derive(Clone, Debug)]
pub enum CatalogueCommand {
    /// Loads a whole catalogue into an empty one (first start).
    Seed {
        by: Principal,
        events: Vec<CatalogueEvent>,
    },
}
