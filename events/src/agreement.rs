//! Events of the `agreement` aggregate: SLAs and OLAs, issued when an order becomes
//! active, amended into new versions, terminated or expired.
//!
//! An issued agreement carries a snapshot of everything its document shows
//! ([`AgreementContent`]): the document of any version can be rendered again from
//! the log alone, byte for byte, whatever happened to the catalogue since.

use std::collections::BTreeMap;

use jiff::civil::Date;
use serde::{Deserialize, Serialize};
use serde_json::{Number, Value};

use crate::EventPayload;

/// Service level targets.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Targets {
    /// Minimum availability, percent.
    pub availability_pct: Number,
    /// Minimum reliability, percent.
    pub reliability_pct: Number,
    /// Over what period they are measured, e.g. `monthly`.
    pub period: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Support {
    /// e.g. `standard`.
    pub level: String,
    /// Time to first response, in working hours.
    pub response_hours: u32,
    pub contacts: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Validity {
    pub start: Date,
    /// The last day covered.
    pub end: Date,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceSnapshot {
    pub id: String,
    pub name: String,
    pub group: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerParty {
    pub org: String,
    /// The person who ordered.
    pub subject: String,
    /// How the organisation is named in documents.
    pub name: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderParty {
    pub id: String,
    pub name: String,
    pub country: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Issuer {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<String>,
}

/// A committed resource as the document prints it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParameterLine {
    pub key: String,
    pub label: String,
    pub value: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
}

/// A logo image by content: its bytes are in the brand's `BrandDefined` event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogoRef {
    pub media_type: String,
    pub sha256: String,
}

/// How the document presents its issuer (white-labelling).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrandSnapshot {
    pub name: String,
    pub colour: String,
    pub footer: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logo: Option<LogoRef>,
}

/// Everything an agreement's documents show, as it was when issued.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AgreementContent {
    /// `sla` or `ola`.
    pub kind: String,
    /// Printed on every page, e.g. `SLA-01J9Z3AB`.
    pub reference: String,
    pub order_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    pub service: ServiceSnapshot,
    pub customer: CustomerParty,
    /// The provider, for an OLA.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<ProviderParty>,
    pub issuer: Issuer,
    /// The agreed parameters, canonical (as in the order's events).
    pub parameters: BTreeMap<String, Value>,
    /// The same, as printed, in catalogue order.
    pub lines: Vec<ParameterLine>,
    pub validity: Validity,
    pub targets: Targets,
    pub support: Support,
    pub brand: BrandSnapshot,
}

/// The rendered document of one version, stored by content.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentRef {
    pub template_id: String,
    pub template_version: u32,
    /// Hex SHA-256 of the PDF.
    pub sha256: String,
    pub size: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AgreementIssued {
    pub agreement_id: String,
    pub content: AgreementContent,
    pub document: DocumentRef,
}

/// A new version: new targets and/or a later end date.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AgreementAmended {
    /// 2 for the first amendment, and so on.
    pub version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub targets: Option<Targets>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<Date>,
    pub note: String,
    /// What changed, as printed in the document.
    pub changes: Vec<String>,
    pub document: DocumentRef,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgreementTerminated {
    pub reason: String,
}

/// The validity ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgreementExpired {
    /// The last day it covered.
    pub end: Date,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
// Events are built, encoded and dropped one at a time; boxing the large issue
// event would add an allocation for nothing.
#[allow(clippy::large_enum_variant)]
pub enum AgreementEvent {
    AgreementIssued(AgreementIssued),
    AgreementAmended(AgreementAmended),
    AgreementTerminated(AgreementTerminated),
    AgreementExpired(AgreementExpired),
}

impl EventPayload for AgreementEvent {
    const AGGREGATE_TYPE: &'static str = "agreement";

    fn event_type(&self) -> &'static str {
        match self {
            Self::AgreementIssued(_) => "AgreementIssued",
            Self::AgreementAmended(_) => "AgreementAmended",
            Self::AgreementTerminated(_) => "AgreementTerminated",
            Self::AgreementExpired(_) => "AgreementExpired",
        }
    }

    fn current_version(event_type: &str) -> Option<u32> {
        match event_type {
            "AgreementIssued" | "AgreementAmended" | "AgreementTerminated" | "AgreementExpired" => {
                Some(1)
            }
            _ => None,
        }
    }
}
