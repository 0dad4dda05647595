//! What callers ask of the catalogue.

use std::collections::BTreeSet;

use jiff::Timestamp;
use pactum_events::catalogue::{CatalogueEvent, GroupDefined, ProviderRegistered, ServiceDefined};

use crate::access::Principal;

#[derive(Clone, Debug)]
pub enum CatalogueCommand {
    /// Loads a whole catalogue into an empty one (first start).
    Seed {
        by: Principal,
        events: Vec<CatalogueEvent>,
    },
    /// Adds a service, or makes its next version if the definition changed.
    /// `providers`, when given, is the set of providers that offer it from now
    /// on (each one that gains or loses it gets its next version too).
    DefineService {
        by: Principal,
        service: ServiceDefined,
        providers: Option<BTreeSet<String>>,
        /// The version the caller last saw (`If-Match`); 0 for "not there yet".
        expected: Option<u32>,
    },
    DefineGroup {
        by: Principal,
        group: GroupDefined,
        expected: Option<u32>,
    },
    DefineProvider {
        by: Principal,
        provider: ProviderRegistered,
        expected: Option<u32>,
    },
    /// Retires a service, group or provider: no new use from `at` on.
    Retire {
        by: Principal,
        entry: Entry,
        reason: Option<String>,
        at: Timestamp,
        expected: Option<u32>,
    },
}

/// One entry of the catalogue, by id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Entry {
    Service(String),
    Group(String),
    Provider(String),
}

impl Entry {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Service(_) => "service",
            Self::Group(_) => "group",
            Self::Provider(_) => "provider",
        }
    }

    pub fn id(&self) -> &str {
        match self {
            Self::Service(id) | Self::Group(id) | Self::Provider(id) => id,
        }
    }
}
