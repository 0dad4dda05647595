//! The `handling_targets` aggregate: one per group, or `<group>/<service>`.

use cqrs_es::Aggregate;
use cqrs_es::event_sink::EventSink;
use pactum_events::handling::{HandlingEvent, HandlingTargetsDefined};
use serde::{Deserialize, Serialize};

use super::errors::TargetsError;
use crate::access::Principal;
use crate::access::policy::{self, Capability};
use crate::runner::Runnable;

/// The `handling_targets` aggregate: the current definition of one key.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Targets {
    current: Option<HandlingTargetsDefined>,
}

impl Targets {
    /// The definition in force, if there is one.
    pub fn current(self) -> Option<HandlingTargetsDefined> {
        self.current
    }
}

impl Runnable for Targets {}

impl Aggregate for Targets {
    const TYPE: &'static str = "handling_targets";
    type Command = (Principal, HandlingTargetsDefined);
    type Event = HandlingEvent;
    type Error = TargetsError;
    type Services = ();

    async fn handle(
        &mut self,
        (by, mut definition): Self::Command,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), TargetsError> {
        if !policy::may_do(&by, Capability::DefineHandlingTargets) {
            return Err(TargetsError::NotAllowed);
        }
        let version = self.current.as_ref().map_or(0, |c| c.version);
        definition.version = version;
        if self.current.as_ref() == Some(&definition) {
            // The same targets again: no new version.
            return Ok(());
        }
        definition.version = version + 1;
        sink.write(HandlingEvent::HandlingTargetsDefined(definition), self)
            .await;
        Ok(())
    }

    fn apply(&mut self, event: HandlingEvent) {
        match event {
            HandlingEvent::HandlingTargetsDefined(defined) => self.current = Some(defined),
        }
    }
}
