//! The catalogue as a cqrs-es aggregate: seeding appends the shipped catalogue;
//! admins add, change and retire services, groups and providers. One aggregate
//! for the whole catalogue, because its rules cross entries (a service's group
//! and providers, a group's live services): each change is checked against the
//! catalogue it makes, as a whole.

use std::collections::BTreeSet;

use cqrs_es::Aggregate;
use cqrs_es::event_sink::EventSink;
use pactum_events::catalogue::{
    CatalogueEvent, GroupRetired, ProviderRetired, ServiceDefined, ServiceRetired,
};

use crate::access::policy::{self, Capability};
use crate::catalogue::Catalogue;
use crate::catalogue::commands::{CatalogueCommand, Entry};
use crate::catalogue::errors::CatalogueError;
use crate::catalogue::rules::check_catalogue;

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
        let events = self.decide(command)?;
        for event in events {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: CatalogueEvent) {
        Catalogue::apply(self, &event);
    }
}

impl Catalogue {
    fn decide(&self, command: CatalogueCommand) -> Result<Vec<CatalogueEvent>, CatalogueError> {
        let by = match &command {
            CatalogueCommand::Seed { by, .. }
            | CatalogueCommand::DefineService { by, .. }
            | CatalogueCommand::DefineGroup { by, .. }
            | CatalogueCommand::DefineProvider { by, .. }
            | CatalogueCommand::Retire { by, .. } => by,
        };
        if !policy::may_do(by, Capability::ChangeCatalogue) {
            return Err(CatalogueError::NotAllowed);
        }
        let events = match command {
            CatalogueCommand::Seed { events, .. } => {
                if !self.services.is_empty() || !self.groups.is_empty() {
                    return Err(CatalogueError::AlreadySeeded);
                }
                events
            }
            CatalogueCommand::DefineService {
                service,
                providers,
                expected,
                ..
            } => self.define_service(service, providers, expected)?,
            CatalogueCommand::DefineGroup {
                group, expected, ..
            } => {
                let id = group.group_id.clone();
                self.not_retired(&Entry::Group(id.clone()))?;
                let current = self.group_versions.get(&id).copied().unwrap_or(0);
                check_expected("group", current, expected)?;
                if self.groups.get(&id) == Some(&group) {
                    Vec::new()
                } else {
                    vec![CatalogueEvent::GroupDefined(group)]
                }
            }
            CatalogueCommand::DefineProvider {
                provider, expected, ..
            } => {
                let id = provider.provider_id.clone();
                self.not_retired(&Entry::Provider(id.clone()))?;
                let current = self.provider_versions.get(&id).copied().unwrap_or(0);
                check_expected("provider", current, expected)?;
                let before = self.providers.get(&id).map(|p| p.services.clone());
                for service in &provider.services {
                    let new = before.as_ref().is_none_or(|b| !b.contains(service));
                    if new && self.retired.services.contains_key(service) {
                        return Err(CatalogueError::Retired {
                            what: "service",
                            id: service.clone(),
                            detail: ": no provider takes it on",
                        });
                    }
                }
                if self.providers.get(&id) == Some(&provider) {
                    Vec::new()
                } else {
                    vec![CatalogueEvent::ProviderRegistered(provider)]
                }
            }
            CatalogueCommand::Retire {
                entry,
                reason,
                at,
                expected,
                ..
            } => self.retire(entry, reason, at, expected)?,
        };
        self.check_after(&events)?;
        Ok(events)
    }

    fn define_service(
        &self,
        mut service: ServiceDefined,
        providers: Option<BTreeSet<String>>,
        expected: Option<u32>,
    ) -> Result<Vec<CatalogueEvent>, CatalogueError> {
        let id = service.service_id.clone();
        self.not_retired(&Entry::Service(id.clone()))?;
        let current = self.service(&id);
        if let Some(current) = current
            && current.group != service.group
        {
            return Err(CatalogueError::GroupChange {
                service: id,
                from: current.group.clone(),
                to: service.group.clone(),
            });
        }
        let version = current.and_then(|s| s.version).unwrap_or(0);
        check_expected("service", version, expected)?;
        if current.is_none() && self.retired.groups.contains_key(&service.group) {
            return Err(CatalogueError::Retired {
                what: "group",
                id: service.group.clone(),
                detail: ": it takes no new services",
            });
        }
        let mut events = Vec::new();
        service.version = current.and_then(|c| c.version);
        if current != Some(&service) {
            service.version = Some(version + 1);
            events.push(CatalogueEvent::ServiceDefined(service));
        }
        if let Some(wanted) = providers {
            if let Some(unknown) = wanted.iter().find(|p| !self.has_provider(p)) {
                return Err(CatalogueError::Invalid {
                    field: "providers",
                    reason: format!("provider {unknown:?} is not in the catalogue"),
                });
            }
            for provider in self.providers.values() {
                let offers = provider.services.contains(&id);
                let will = wanted.contains(&provider.provider_id);
                if offers == will {
                    continue;
                }
                if will && self.retired.providers.contains_key(&provider.provider_id) {
                    return Err(CatalogueError::Retired {
                        what: "provider",
                        id: provider.provider_id.clone(),
                        detail: ": it takes on no new services",
                    });
                }
                let mut changed = provider.clone();
                if will {
                    changed.services.push(id.clone());
                } else {
                    changed.services.retain(|s| s != &id);
                }
                events.push(CatalogueEvent::ProviderRegistered(changed));
            }
        }
        Ok(events)
    }

    fn retire(
        &self,
        entry: Entry,
        reason: Option<String>,
        at: jiff::Timestamp,
        expected: Option<u32>,
    ) -> Result<Vec<CatalogueEvent>, CatalogueError> {
        let id = entry.id().to_owned();
        let version = match &entry {
            Entry::Service(id) => self.service(id).and_then(|s| s.version),
            Entry::Group(id) => self.group_versions.get(id).copied(),
            Entry::Provider(id) => self.provider_versions.get(id).copied(),
        }
        .ok_or_else(|| CatalogueError::NotFound {
            what: entry.kind(),
            id: id.clone(),
        })?;
        self.not_retired(&entry)?;
        check_expected(entry.kind(), version, expected)?;
        Ok(vec![match entry {
            Entry::Service(service_id) => CatalogueEvent::ServiceRetired(ServiceRetired {
                service_id,
                reason,
                retired_at: at,
            }),
            Entry::Group(group_id) => {
                let live: Vec<&str> = self
                    .services
                    .values()
                    .filter(|s| s.group == group_id)
                    .filter(|s| !self.retired.services.contains_key(&s.service_id))
                    .map(|s| s.service_id.as_str())
                    .collect();
                if !live.is_empty() {
                    return Err(CatalogueError::GroupInUse {
                        group: group_id,
                        services: live.join(", "),
                    });
                }
                CatalogueEvent::GroupRetired(GroupRetired {
                    group_id,
                    reason,
                    retired_at: at,
                })
            }
            Entry::Provider(provider_id) => CatalogueEvent::ProviderRetired(ProviderRetired {
                provider_id,
                reason,
                retired_at: at,
            }),
        }])
    }

    fn not_retired(&self, entry: &Entry) -> Result<(), CatalogueError> {
        let retired = match entry {
            Entry::Service(id) => self.retired.services.contains_key(id),
            Entry::Group(id) => self.retired.groups.contains_key(id),
            Entry::Provider(id) => self.retired.providers.contains_key(id),
        };
        if retired {
            return Err(CatalogueError::Retired {
                what: entry.kind(),
                id: entry.id().to_owned(),
                detail: ": its id is never used again",
            });
        }
        Ok(())
    }

    /// A change is valid if the catalogue after it is, as a whole, one that
    /// could be written new ([`check_catalogue`]): the same rules as the file.
    fn check_after(&self, events: &[CatalogueEvent]) -> Result<(), CatalogueError> {
        if events.is_empty() {
            return Ok(());
        }
        let mut after = self.clone();
        for event in events {
            after.apply(event);
        }
        check_catalogue(&after.as_definitions()).map_err(|e| CatalogueError::Invalid {
            field: "body",
            reason: e.to_string(),
        })
    }
}

fn check_expected(
    what: &'static str,
    current: u32,
    expected: Option<u32>,
) -> Result<(), CatalogueError> {
    match expected {
        Some(expected) if expected != current => {
            Err(CatalogueError::VersionMismatch { what, current })
        }
        _ => Ok(()),
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
