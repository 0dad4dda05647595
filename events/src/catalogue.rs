//! Events of the `catalogue` aggregate: order-type groups, services with their
//! parameter specifications, and resource providers.
//!
//! The catalogue pactum ships is loaded as these events on first start, so every
//! later change to it is history too. Redefining a service (same id) makes its next
//! version; an order is pinned to the version it was submitted under
//! (`OrderSubmitted::service_version`), so its parameters stay valid and its
//! documents render the same. A retired entry takes no new use; its past stays.

use serde::{Deserialize, Serialize};
use serde_json::Number;

use crate::EventPayload;
pub use crate::agreement::Targets;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupDefined {
    pub group_id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServiceDefined {
    pub service_id: String,
    pub name: String,
    pub group: String,
    /// The service's path in legacy order strings, e.g.
    /// `Compute/EGI Cloud compute/General purpose`.
    pub legacy_path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub parameters: Vec<ParameterSpec>,
    /// Default service level targets of its agreements.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub targets: Option<Targets>,
    /// Default support level of its agreements.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub support: Option<SupportLevel>,
    /// Which parameters give an agreement's validity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validity: Option<ValiditySpec>,
    /// Which version of the service this definition is: 1 for the first, one
    /// more for each redefinition. Absent in definitions recorded before
    /// versions were written (the shipped seed): their place in the stream
    /// gives it, which is what the catalogue's fold counts anyway.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u32>,
}

/// A service takes no new orders from here on; its orders, agreements and
/// versions stay. Its id is never reused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceRetired {
    pub service_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub retired_at: jiff::Timestamp,
}

/// An order-type group takes no new services from here on (it had none live).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupRetired {
    pub group_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub retired_at: jiff::Timestamp,
}

/// A provider takes no new provisioning steps from here on; steps already
/// planned go on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderRetired {
    pub provider_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub retired_at: jiff::Timestamp,
}

/// A support level a service offers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SupportLevel {
    pub level: String,
    /// Time to first response, in working hours.
    pub response_hours: u32,
}

/// The parameters that say when a service starts and for how long.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValiditySpec {
    /// Key of a date parameter.
    pub start: String,
    /// Key of an integer parameter counting days.
    pub duration_days: String,
}

/// Who issues agreements (the infrastructure), and its default brand.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuerDefined {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<String>,
    /// `#rrggbb`.
    pub colour: String,
    pub footer: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderRegistered {
    pub provider_id: String,
    pub name: String,
    /// ISO 3166-1 alpha-2 country code.
    pub country: String,
    /// Ids of the services this provider can deliver.
    #[serde(default)]
    pub services: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact_email: Option<String>,
}

/// One parameter a service takes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ParameterSpec {
    /// Canonical key in JSON orders, e.g. `cpu_cores`.
    pub key: String,
    /// The label used in legacy order strings, e.g. `Number of CPU Cores`.
    pub label: String,
    #[serde(flatten)]
    pub kind: ParameterKind,
    #[serde(default = "required_default")]
    pub required: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

fn required_default() -> bool {
    true
}

/// The type of a parameter and its bounds. Bounds are inclusive.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ParameterKind {
    Integer {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min: Option<i64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max: Option<i64>,
    },
    /// A decimal number; compared exactly, never as a float.
    Number {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min: Option<Number>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max: Option<Number>,
    },
    Enum {
        values: Vec<String>,
    },
    /// A calendar date: `YYYY-MM-DD` in JSON, `dd/mm/yyyy` in legacy strings.
    /// pactum accepts 1970-01-01 to 2999-12-31 (`catalogue::params` of the
    /// server).
    Date,
    Boolean,
    Text {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_length: Option<u32>,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum CatalogueEvent {
    GroupDefined(GroupDefined),
    ServiceDefined(ServiceDefined),
    ProviderRegistered(ProviderRegistered),
    IssuerDefined(IssuerDefined),
    ServiceRetired(ServiceRetired),
    GroupRetired(GroupRetired),
    ProviderRetired(ProviderRetired),
}

impl EventPayload for CatalogueEvent {
    const AGGREGATE_TYPE: &'static str = "catalogue";

    fn event_type(&self) -> &'static str {
        match self {
            Self::GroupDefined(_) => "GroupDefined",
            Self::ServiceDefined(_) => "ServiceDefined",
            Self::ProviderRegistered(_) => "ProviderRegistered",
            Self::IssuerDefined(_) => "IssuerDefined",
            Self::ServiceRetired(_) => "ServiceRetired",
            Self::GroupRetired(_) => "GroupRetired",
            Self::ProviderRetired(_) => "ProviderRetired",
        }
    }

    fn current_version(event_type: &str) -> Option<u32> {
        match event_type {
            "GroupDefined" | "ServiceDefined" | "ProviderRegistered" | "IssuerDefined"
            | "ServiceRetired" | "GroupRetired" | "ProviderRetired" => Some(1),
            _ => None,
        }
    }
}
