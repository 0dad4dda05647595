//! The catalogue: order-type groups, services with their parameter specifications,
//! and resource providers — the central lists the replaced system lacked.
//!
//! It is event-sourced like everything else ([`pactum_events::catalogue`]): the
//! catalogue pactum ships (`default.toml`, see [`shipped`]) is appended as events on
//! first start, and [`Catalogue`] is the fold of those events that the rest of the
//! code reads. [`params`] validates an order's parameters against a service's spec.
//!
//! - [`commands`], [`aggregate`], [`errors`] — the catalogue aggregate (seeding).
//! - [`shipped`] — the catalogue file's schema; [`rules`] — what a catalogue must hold.

pub mod aggregate;
pub mod commands;
pub mod errors;
pub mod params;
pub mod queries;
pub mod rules;
pub mod shipped;

use std::collections::BTreeMap;

use pactum_events::catalogue::{
    CatalogueEvent, GroupDefined, GroupRetired, IssuerDefined, ProviderRegistered, ProviderRetired,
    ServiceDefined, ServiceRetired,
};

/// The aggregate id of the one catalogue.
pub const CATALOGUE_ID: &str = "catalogue";

/// The catalogue: the fold of every catalogue event so far, with every version
/// of every service and what was retired.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Catalogue {
    pub groups: BTreeMap<String, GroupDefined>,
    /// The current version of each service, retired ones too (their orders go
    /// on). `version` is always set here.
    pub services: BTreeMap<String, ServiceDefined>,
    pub providers: BTreeMap<String, ProviderRegistered>,
    /// Who issues agreements.
    pub issuer: Option<IssuerDefined>,
    /// Every version of each service, oldest first: version `n` is at `n - 1`.
    pub versions: BTreeMap<String, Vec<ServiceDefined>>,
    /// How many definitions each group and provider has had (their versions).
    pub group_versions: BTreeMap<String, u32>,
    pub provider_versions: BTreeMap<String, u32>,
    pub retired: Retirements,
}

/// What was retired, by id.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Retirements {
    pub services: BTreeMap<String, ServiceRetired>,
    pub groups: BTreeMap<String, GroupRetired>,
    pub providers: BTreeMap<String, ProviderRetired>,
}

impl Catalogue {
    pub fn from_events<'a>(events: impl IntoIterator<Item = &'a CatalogueEvent>) -> Self {
        let mut catalogue = Self::default();
        for event in events {
            catalogue.apply(event);
        }
        catalogue
    }

    pub fn apply(&mut self, event: &CatalogueEvent) {
        match event {
            CatalogueEvent::GroupDefined(group) => {
                *self
                    .group_versions
                    .entry(group.group_id.clone())
                    .or_default() += 1;
                self.groups.insert(group.group_id.clone(), group.clone());
            }
            CatalogueEvent::ServiceDefined(service) => {
                let versions = self.versions.entry(service.service_id.clone()).or_default();
                let mut service = service.clone();
                // The stream's order is the version, whether or not it was written.
                service.version = Some(versions.len() as u32 + 1);
                versions.push(service.clone());
                self.services.insert(service.service_id.clone(), service);
            }
            CatalogueEvent::ProviderRegistered(provider) => {
                *self
                    .provider_versions
                    .entry(provider.provider_id.clone())
                    .or_default() += 1;
                self.providers
                    .insert(provider.provider_id.clone(), provider.clone());
            }
            CatalogueEvent::IssuerDefined(issuer) => self.issuer = Some(issuer.clone()),
            CatalogueEvent::ServiceRetired(retired) => {
                self.retired
                    .services
                    .insert(retired.service_id.clone(), retired.clone());
            }
            CatalogueEvent::GroupRetired(retired) => {
                self.retired
                    .groups
                    .insert(retired.group_id.clone(), retired.clone());
            }
            CatalogueEvent::ProviderRetired(retired) => {
                self.retired
                    .providers
                    .insert(retired.provider_id.clone(), retired.clone());
            }
        }
    }

    /// The current version of a service (retired or not).
    pub fn service(&self, id: &str) -> Option<&ServiceDefined> {
        self.services.get(id)
    }

    /// Version `version` of a service; `None` asks for version 1, which is what
    /// orders from before versions were validated against.
    pub fn service_at(&self, id: &str, version: Option<u32>) -> Option<&ServiceDefined> {
        let index = version.unwrap_or(1).checked_sub(1)? as usize;
        self.versions.get(id)?.get(index)
    }

    /// The current version of a service that takes new orders (not retired).
    pub fn live_service(&self, id: &str) -> Option<&ServiceDefined> {
        self.service(id)
            .filter(|_| !self.retired.services.contains_key(id))
    }

    /// Finds a service by its legacy path, ignoring case and runs of whitespace
    /// (`Compute/EGI Cloud compute/General purpose`).
    pub fn service_by_legacy_path(&self, path: &str) -> Option<&ServiceDefined> {
        let wanted = normalize_label(path);
        self.services
            .values()
            .find(|service| normalize_label(&service.legacy_path) == wanted)
    }

    pub fn has_group(&self, id: &str) -> bool {
        self.groups.contains_key(id)
    }

    pub fn has_provider(&self, id: &str) -> bool {
        self.providers.contains_key(id)
    }

    /// The providers that offer a service now.
    pub fn providers_of(&self, service: &str) -> Vec<String> {
        self.providers
            .values()
            .filter(|p| p.services.iter().any(|s| s == service))
            .map(|p| p.provider_id.clone())
            .collect()
    }

    /// The catalogue as a new one would be written: groups, then services, then
    /// providers (each at its current version), then the issuer. What
    /// [`rules::check_catalogue`] checks a changed catalogue as.
    pub fn as_definitions(&self) -> Vec<CatalogueEvent> {
        let groups = self
            .groups
            .values()
            .cloned()
            .map(CatalogueEvent::GroupDefined);
        let services = self
            .services
            .values()
            .cloned()
            .map(CatalogueEvent::ServiceDefined);
        let providers = self
            .providers
            .values()
            .cloned()
            .map(CatalogueEvent::ProviderRegistered);
        let issuer = self
            .issuer
            .iter()
            .cloned()
            .map(CatalogueEvent::IssuerDefined);
        groups
            .chain(services)
            .chain(providers)
            .chain(issuer)
            .collect()
    }
}

/// The catalogue as this process last read it, read again when the stream
/// moved: a change any process makes holds from the next request on, at the
/// cost of one indexed read.
#[derive(Clone, Debug)]
pub struct Current {
    held: std::sync::Arc<std::sync::RwLock<(u64, std::sync::Arc<Catalogue>)>>,
}

impl Current {
    pub fn new(version: u64, catalogue: Catalogue) -> Self {
        Self {
            held: std::sync::Arc::new(std::sync::RwLock::new((
                version,
                std::sync::Arc::new(catalogue),
            ))),
        }
    }

    /// The catalogue now.
    pub async fn get(
        &self,
        store: &crate::store::EventStore,
    ) -> Result<std::sync::Arc<Catalogue>, crate::store::StoreError> {
        let version = queries::catalogue_version(store).await?;
        {
            let held = self.held.read().unwrap_or_else(|e| e.into_inner());
            if held.0 >= version {
                return Ok(held.1.clone());
            }
        }
        let loaded = crate::execute::load::<Catalogue>(store, CATALOGUE_ID).await?;
        let catalogue = std::sync::Arc::new(loaded.aggregate);
        let mut held = self.held.write().unwrap_or_else(|e| e.into_inner());
        if held.0 < loaded.version {
            *held = (loaded.version, catalogue.clone());
        }
        Ok(catalogue)
    }
}

/// Lower-cases and collapses whitespace (also around `/`), the matching rule for
/// legacy paths and labels.
pub fn normalize_label(label: &str) -> String {
    label
        .split('/')
        .map(|part| {
            part.split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .to_lowercase()
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// The current catalogue, seeding the shipped one on first start. Safe when
/// several processes start at once: one seeds, the others read its events.
pub async fn load_or_seed(
    store: &crate::store::EventStore,
    now: jiff::Timestamp,
) -> Result<Current, ChangeError> {
    use crate::execute::CommandMeta;
    use crate::runner::{self, CommandRequest, Source, Step};
    let loaded = crate::execute::load::<Catalogue>(store, CATALOGUE_ID).await?;
    if loaded.exists() {
        return Ok(Current::new(loaded.version, loaded.aggregate));
    }
    let request = CommandRequest::system(CommandMeta::system("pactum", now));
    let seeded = runner::run::<Catalogue, _, ChangeError>(
        store,
        CATALOGUE_ID,
        &request,
        Source::Log,
        async |_| {
            Ok(Step::alone(commands::CatalogueCommand::Seed {
                by: request.meta.principal.clone(),
                events: shipped::shipped_events(),
            }))
        },
        |_, _| Ok(()),
    )
    .await;
    match seeded {
        // Seeded here, or by another process that got there first: read what
        // the log holds now.
        Ok(_) | Err(ChangeError::Refused(errors::CatalogueError::AlreadySeeded)) => {
            let loaded = crate::execute::load::<Catalogue>(store, CATALOGUE_ID).await?;
            Ok(Current::new(loaded.version, loaded.aggregate))
        }
        Err(e) => Err(e),
    }
}

/// Runs one admin change of the catalogue (`PUT`, `POST`, `DELETE` of a
/// service, group or provider) on the command path, answering `view` of the
/// catalogue after it. `If-Match` is the entry's version, carried in the
/// command: the aggregate's own version moves with every entry.
pub async fn change<T: serde::Serialize>(
    store: &crate::store::EventStore,
    request: &crate::runner::CommandRequest,
    command: commands::CatalogueCommand,
    view: impl Fn(&Catalogue) -> T,
) -> Result<crate::runner::Ran<T>, ChangeError> {
    use crate::runner::{self, CommandRequest, Source, Step};
    let request = CommandRequest {
        if_match: None,
        ..request.clone()
    };
    let command = &command;
    runner::run(
        store,
        CATALOGUE_ID,
        &request,
        Source::Log,
        async |_| Ok(Step::alone(command.clone())),
        |loaded, events| Ok(view(&loaded.after(events))),
    )
    .await
}

#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Run(#[from] crate::runner::RunError),
    #[error(transparent)]
    Refused(#[from] errors::CatalogueError),
}

impl crate::runner::Runnable for Catalogue {}
