//! What an agreement document says: the data a template receives, already
//! formatted for reading (numbers with their units, dates as dates). Templates only
//! lay it out. Everything here comes from the agreement's events, so rendering the
//! same agreement version with the same template version gives the same bytes.

use serde::Serialize;

/// Service level agreement (customer ↔ the infrastructure) or operational level
/// agreement (the infrastructure ↔ one resource provider).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AgreementKind {
    Sla,
    Ola,
}

impl AgreementKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sla => "sla",
            Self::Ola => "ola",
        }
    }
}

/// The whole input of one document (`data.json` inside the template's world).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DocumentData {
    pub kind: AgreementKind,
    /// Human reference printed on every page, e.g. `SLA-01J9Z3-2`.
    pub reference: String,
    pub agreement_id: String,
    /// 1 for the issued agreement, 2.. for amendments.
    pub version: u32,
    /// When this version was issued (from its event), RFC 3339 UTC. The PDF's
    /// creation date and every date printed come from here, never from the clock.
    pub issued_at: String,
    /// The same instant as a date, `YYYY-MM-DD`.
    pub issued_on: String,
    pub order_id: String,
    pub title: Option<String>,
    pub service: ServiceInfo,
    pub customer: Party,
    /// The provider, for an OLA.
    pub provider: Option<ProviderParty>,
    /// The infrastructure that issues the agreement.
    pub issuer: Party,
    /// The committed resources, in catalogue order.
    pub parameters: Vec<ParameterLine>,
    pub validity: Validity,
    pub targets: Targets,
    pub support: Support,
    /// Set for amendments: what changed and why.
    pub amendment: Option<Amendment>,
    pub brand: Brand,
    /// Who signs: one block per party.
    pub signatories: Vec<Signatory>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ServiceInfo {
    pub id: String,
    pub name: String,
    pub group: String,
    pub description: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Party {
    /// Display name (organisation id when nothing better is known).
    pub name: String,
    /// A contact: subject or e-mail.
    pub contact: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ProviderParty {
    pub id: String,
    pub name: String,
    pub country: String,
    pub contact: Option<String>,
}

/// One committed resource, e.g. `Number of CPU Cores` — `4` — `cores`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ParameterLine {
    pub key: String,
    pub label: String,
    pub value: String,
    pub unit: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Validity {
    /// `YYYY-MM-DD`.
    pub start: String,
    /// `YYYY-MM-DD`, the last day covered.
    pub end: String,
    pub days: u32,
}

/// Service level targets, as printed (`"80"`, `"99.5"`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Targets {
    pub availability_pct: String,
    pub reliability_pct: String,
    /// Over what period they are measured, e.g. `monthly`.
    pub period: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Support {
    /// e.g. `Standard`.
    pub level: String,
    /// e.g. `8 hours (working hours)`.
    pub response_time: String,
    pub contacts: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Amendment {
    pub previous_version: u32,
    pub note: String,
    /// What changed, one line each, e.g. `Availability: 80 % → 90 %`.
    pub changes: Vec<String>,
}

/// How the issuing tenant presents itself.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Brand {
    pub name: String,
    /// `#rrggbb`.
    pub colour: String,
    pub footer: String,
    /// Whether a logo is supplied (as the file `logo` of the document's world).
    pub has_logo: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Signatory {
    /// e.g. `For the customer`.
    pub role: String,
    /// The party's name.
    pub party: String,
}

/// A brand's logo image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Logo {
    /// `image/png`, `image/jpeg` or `image/svg+xml`.
    pub media_type: String,
    pub bytes: Vec<u8>,
}
