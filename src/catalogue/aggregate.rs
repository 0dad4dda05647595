//! The catalogue as a cqrs-es aggregate. Seeding appends the shipped catalogue;
//! admin commands to change it later will live here too.

use cqrs_es::Aggregate;
use cqrs_es::event_sink::EventSink;
use pactum_events::catalogue::CatalogueEvent;

use crate::access::policy::{self, Capability};
use crate::catalogue::Catalogue;
use crate::catalogue::commands::CatalogueCommand;
use crate::catalogue::errors::CatalogueError;

impl Aggregate for Catalogue {
    const TYPE: &'static str = "catalogue";
    type Command = CatalogueCommand;
    type Event = CatalogueEvent;
    type Error = CatalogueError;
    type Services = ();

    async fn handle(
        &mut self,
        command: CatalogueCommand,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), CatalogueError> {
        match command {
            CatalogueCommand::Seed { by, events } => {
                if !policy::may_do(&by, Capability::ChangeCatalogue) {
                    return Err(CatalogueError::NotAllowed);
                }
                if !self.services.is_empty() || !self.groups.is_empty() {
                    return Err(CatalogueError::AlreadySeeded);
                }
                for event in events {
                    sink.write(event, self).await;
                }
                Ok(())
            }
        }
    }

    fn apply(&mut self, event: CatalogueEvent) {
        Catalogue::apply(self, &event);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::Principal;
    use crate::catalogue::shipped::shipped_events;
    use cqrs_es::test::TestFramework;

    #[test]
    fn seeding_appends_the_shipped_catalogue_once() {
        let events = shipped_events();
        TestFramework::<Catalogue>::with(())
            .given_no_previous_events()
            .when(CatalogueCommand::Seed {
                by: Principal::system("pactum"),
                events: events.clone(),
            })
            .then_expect_events(events.clone());
        TestFramework::<Catalogue>::with(())
            .given(events.clone())
            .when(CatalogueCommand::Seed {
                by: Principal::system("pactum"),
                events,
            })
            .then_expect_error(CatalogueError::AlreadySeeded);
    }
}
