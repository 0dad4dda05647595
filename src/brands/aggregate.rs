//! The `brand` aggregate: one per organisation, its current brand.

use cqrs_es::Aggregate;
use cqrs_es::event_sink::EventSink;
use pactum_events::brand::{BrandDefined, BrandEvent};
use serde::{Deserialize, Serialize};

use super::errors::BrandError;
use crate::access::Principal;
use crate::access::policy::{self, Capability};
use crate::runner::Runnable;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Brand {
    current: Option<BrandDefined>,
}

impl Brand {
    /// The brand in force, if one was defined.
    pub fn current(self) -> Option<BrandDefined> {
        self.current
    }
}

impl Runnable for Brand {}

impl Aggregate for Brand {
    const TYPE: &'static str = "brand";
    type Command = (Principal, BrandDefined);
    type Event = BrandEvent;
    type Error = BrandError;
    type Services = ();

    async fn handle(
        &mut self,
        (by, brand): Self::Command,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), BrandError> {
        if !policy::may_do(&by, Capability::DefineBrand) {
            return Err(BrandError::NotAllowed);
        }
        if self.current.as_ref() != Some(&brand) {
            sink.write(BrandEvent::BrandDefined(brand), self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: BrandEvent) {
        match event {
            BrandEvent::BrandDefined(brand) => self.current = Some(brand),
        }
    }
}
