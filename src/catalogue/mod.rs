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
pub mod rules;
pub mod shipped;

use std::collections::BTreeMap;

use pactum_events::catalogue::{
    CatalogueEvent, GroupDefined, IssuerDefined, ProviderRegistered, ServiceDefined,
};

/// The aggregate id of the one catalogue.
pub const CATALOGUE_ID: &str = "catalogue";

/// The current catalogue: the fold of every catalogue event so far.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Catalogue {
    pub groups: BTreeMap<String, GroupDefined>,
    pub services: BTreeMap<String, ServiceDefined>,
    pub providers: BTreeMap<String, ProviderRegistered>,
    /// Who issues agreements.
    pub issuer: Option<IssuerDefined>,
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
                self.groups.insert(group.group_id.clone(), group.clone());
            }
            CatalogueEvent::ServiceDefined(service) => {
                self.services
                    .insert(service.service_id.clone(), service.clone());
            }
            CatalogueEvent::ProviderRegistered(provider) => {
                self.providers
                    .insert(provider.provider_id.clone(), provider.clone());
            }
            CatalogueEvent::IssuerDefined(issuer) => self.issuer = Some(issuer.clone()),
        }
    }

    pub fn service(&self, id: &str) -> Option<&ServiceDefined> {
        self.services.get(id)
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
) -> Result<Catalogue, SeedError> {
    use crate::execute::CommandMeta;
    use crate::runner::{self, CommandRequest, Ran, Source, Step};
    let loaded = crate::execute::load::<Catalogue>(store, CATALOGUE_ID).await?;
    if loaded.exists() {
        return Ok(loaded.aggregate);
    }
    let request = CommandRequest::system(CommandMeta::system("pactum", now));
    let seeded = runner::run(
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
        |loaded, events| Ok(loaded.after(events)),
    )
    .await;
    match seeded {
        Ok(Ran::Done { answer, .. }) => Ok(answer),
        // Another process seeded it first.
        Ok(Ran::Replayed(_)) | Err(SeedError::Refused(errors::CatalogueError::AlreadySeeded)) => {
            Ok(crate::execute::load::<Catalogue>(store, CATALOGUE_ID)
                .await?
                .aggregate)
        }
        Err(e) => Err(e),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Run(#[from] crate::runner::RunError),
    #[error(transparent)]
    Refused(#[from] errors::CatalogueError),
}

impl crate::runner::Runnable for Catalogue {}
