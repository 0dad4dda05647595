//! What an agreement says, decided once when it is issued and kept in its event:
//! parties, service, committed resources as printed, validity, targets, support,
//! brand. And the document data of any version, built from that content alone.

use std::collections::BTreeMap;

use jiff::civil::Date;
use jiff::{Timestamp, tz::TimeZone};
use pactum_events::agreement::{
    AgreementContent, BrandSnapshot, CustomerParty, Issuer, LogoRef, ParameterLine, ProviderParty,
    ServiceSnapshot, Support, Targets, Validity,
};
use pactum_events::brand::BrandDefined;
use pactum_events::catalogue::{ParameterKind, ProviderRegistered, ServiceDefined};
use pactum_projections::order_view::OrderView;
use serde_json::Value;

use crate::catalogue::Catalogue;
use crate::catalogue::params;
use crate::documents::model::{self, AgreementKind, DocumentData};

/// Targets when the catalogue gives none for a service.
const FALLBACK_AVAILABILITY: u64 = 95;
const FALLBACK_RELIABILITY: u64 = 95;
/// Validity when the service has no start/duration parameters.
const FALLBACK_DAYS: i64 = 365;

/// Everything outside the order that an agreement's content depends on.
pub struct IssueContext<'a> {
    pub catalogue: &'a Catalogue,
    pub order: &'a OrderView,
    /// The customer organisation's brand, if it has one.
    pub customer_brand: Option<&'a BrandDefined>,
    /// The day the order becomes active.
    pub today: Date,
}

#[derive(Debug, thiserror::Error)]
pub enum ContentError {
    #[error("service {0} is no longer in the catalogue")]
    UnknownService(String),
    /// The order's validity parameters give no sane period (an order accepted
    /// before dates were range-checked): the agreement is not issued. `field` is
    /// the parameter key to blame.
    #[error("{field}: {message}")]
    Validity { field: String, message: String },
}

/// The printed reference of an agreement: its kind and the random tail of its id.
pub fn reference(kind: AgreementKind, agreement_id: &str) -> String {
    let hex: String = agreement_id
        .chars()
        .filter(char::is_ascii_hexdigit)
        .collect();
    let tail = &hex[hex.len().saturating_sub(10)..];
    format!("{}-{}", kind.as_str().to_uppercase(), tail.to_uppercase())
}

/// The targets of the service in the catalogue (or the fallback).
pub fn default_targets(service: &ServiceDefined) -> Targets {
    service.targets.clone().unwrap_or_else(|| Targets {
        availability_pct: FALLBACK_AVAILABILITY.into(),
        reliability_pct: FALLBACK_RELIABILITY.into(),
        period: "monthly".into(),
    })
}

/// The content of the SLA (`provider` is `None`) or of the OLA of `provider`.
pub fn content(
    ctx: &IssueContext<'_>,
    agreement_id: &str,
    provider: Option<&ProviderRegistered>,
    targets: Option<Targets>,
) -> Result<AgreementContent, ContentError> {
    let order = ctx.order;
    let service = ctx
        .catalogue
        .service_at(&order.service, order.service_version)
        .ok_or_else(|| ContentError::UnknownService(order.service.clone()))?;
    let kind = if provider.is_some() {
        AgreementKind::Ola
    } else {
        AgreementKind::Sla
    };
    let issuer = ctx.catalogue.issuer.as_ref();
    let issuer_party = Issuer {
        name: issuer.map_or_else(|| "pactum".to_owned(), |i| i.name.clone()),
        contact: issuer.and_then(|i| i.contact.clone()),
    };
    let customer_name = ctx
        .customer_brand
        .map_or_else(|| order.customer.org.clone(), |b| b.name.clone());
    // An SLA is presented under the customer's tenant brand when it has one; an
    // OLA, between the infrastructure and a provider, under the issuer's.
    let brand = match (kind, ctx.customer_brand) {
        (AgreementKind::Sla, Some(brand)) => BrandSnapshot {
            name: brand.name.clone(),
            colour: brand.colour.clone(),
            footer: brand.footer.clone(),
            logo: brand.logo.as_ref().map(|logo| LogoRef {
                media_type: logo.media_type.clone(),
                sha256: logo.sha256.clone(),
            }),
        },
        _ => BrandSnapshot {
            name: issuer_party.name.clone(),
            colour: issuer.map_or_else(|| "#004a87".to_owned(), |i| i.colour.clone()),
            footer: issuer.map_or_else(String::new, |i| i.footer.clone()),
            logo: None,
        },
    };
    let support_level = service.support.clone();
    let mut contacts: Vec<String> = issuer_party.contact.iter().cloned().collect();
    if let Some(contact) = provider.and_then(|p| p.contact_email.clone()) {
        contacts.push(contact);
    }
    Ok(AgreementContent {
        kind: kind.as_str().to_owned(),
        reference: reference(kind, agreement_id),
        order_id: order.id.clone(),
        title: order.title.clone(),
        service: ServiceSnapshot {
            id: service.service_id.clone(),
            name: service.name.clone(),
            group: service.group.clone(),
            description: service.description.clone(),
        },
        customer: CustomerParty {
            org: order.customer.org.clone(),
            subject: order.customer.subject.clone(),
            name: customer_name,
        },
        provider: provider.map(|p| ProviderParty {
            id: p.provider_id.clone(),
            name: p.name.clone(),
            country: p.country.clone(),
            contact: p.contact_email.clone(),
        }),
        issuer: issuer_party,
        parameters: order.agreed_parameters.clone(),
        lines: lines(service, &order.agreed_parameters),
        validity: validity(service, &order.agreed_parameters, ctx.today)?,
        targets: targets.unwrap_or_else(|| default_targets(service)),
        support: Support {
            level: support_level
                .as_ref()
                .map_or_else(|| "standard".to_owned(), |s| s.level.clone()),
            response_hours: support_level.as_ref().map_or(8, |s| s.response_hours),
            contacts,
        },
        brand,
    })
}

/// The committed resources as printed, in catalogue order.
fn lines(service: &ServiceDefined, parameters: &BTreeMap<String, Value>) -> Vec<ParameterLine> {
    service
        .parameters
        .iter()
        .filter_map(|spec| {
            let value = parameters.get(&spec.key)?;
            Some(ParameterLine {
                key: spec.key.clone(),
                label: spec.label.clone(),
                value: format_value(&spec.kind, value),
                unit: spec.unit.clone(),
            })
        })
        .collect()
}

fn format_value(kind: &ParameterKind, value: &Value) -> String {
    match (kind, value) {
        (ParameterKind::Boolean, Value::Bool(true)) => "yes".into(),
        (ParameterKind::Boolean, Value::Bool(false)) => "no".into(),
        (_, Value::String(text)) => text.clone(),
        (_, other) => other.to_string(),
    }
}

/// From the agreed start date (never before activation: a start date already
/// past when the order is activated becomes the day of activation) for the
/// agreed number of days; the end is the last day covered. Both must lie from
/// [`params::EARLIEST_DATE`] to [`params::LATEST_DATE`]: a value out of that range, or one that
/// is not a date or a number of days at all, is an error naming the parameter,
/// never replaced by a default (submission refuses them since dates are
/// range-checked, but the log may hold orders from before).
fn validity(
    service: &ServiceDefined,
    parameters: &BTreeMap<String, Value>,
    today: Date,
) -> Result<Validity, ContentError> {
    let invalid = |field: &str, message: String| ContentError::Validity {
        field: field.to_owned(),
        message,
    };
    let Some(spec) = service.validity.as_ref() else {
        let end = params::validity_end(today, FALLBACK_DAYS)
            .map_err(|message| invalid("duration_days", message))?;
        return Ok(Validity { start: today, end });
    };
    let start = match parameters.get(&spec.start) {
        None => today,
        Some(value) => {
            let start = value
                .as_str()
                .and_then(|text| text.parse::<Date>().ok())
                .ok_or_else(|| invalid(&spec.start, format!("must be a date, got {value}")))?;
            params::check_date_range(start).map_err(|message| invalid(&spec.start, message))?;
            start.max(today)
        }
    };
    let days = match parameters.get(&spec.duration_days) {
        None => FALLBACK_DAYS,
        Some(value) => value.as_i64().ok_or_else(|| {
            invalid(
                &spec.duration_days,
                format!("must be a number of days, got {value}"),
            )
        })?,
    };
    let end = params::validity_end(start, days)
        .map_err(|message| invalid(&spec.duration_days, message))?;
    Ok(Validity { start, end })
}

/// One amendment as its document shows it.
pub struct AmendmentNote {
    pub previous_version: u32,
    pub note: String,
    pub changes: Vec<String>,
}

/// The document of one version of an agreement: its content as amended up to
/// that version, issued at `issued_at`.
pub fn document_data(
    agreement_id: &str,
    content: &AgreementContent,
    version: u32,
    issued_at: Timestamp,
    amendment: Option<AmendmentNote>,
) -> DocumentData {
    let kind = if content.kind == "ola" {
        AgreementKind::Ola
    } else {
        AgreementKind::Sla
    };
    let days = content
        .validity
        .start
        .until(content.validity.end)
        .map_or(0, |span| span.get_days() + 1);
    let issued_on = issued_at.to_zoned(TimeZone::UTC).date();
    let signatories = match &content.provider {
        None => vec![
            model::Signatory {
                role: "For the service provider".into(),
                party: content.issuer.name.clone(),
            },
            model::Signatory {
                role: "For the customer".into(),
                party: content.customer.name.clone(),
            },
        ],
        Some(provider) => vec![
            model::Signatory {
                role: "For the infrastructure".into(),
                party: content.issuer.name.clone(),
            },
            model::Signatory {
                role: "For the resource provider".into(),
                party: provider.name.clone(),
            },
        ],
    };
    DocumentData {
        kind,
        reference: content.reference.clone(),
        agreement_id: agreement_id.to_owned(),
        version,
        issued_at: issued_at.to_string(),
        issued_on: issued_on.to_string(),
        order_id: content.order_id.clone(),
        title: content.title.clone(),
        service: model::ServiceInfo {
            id: content.service.id.clone(),
            name: content.service.name.clone(),
            group: content.service.group.clone(),
            description: content.service.description.clone(),
        },
        customer: model::Party {
            name: content.customer.name.clone(),
            contact: Some(content.customer.subject.clone()),
        },
        provider: content.provider.as_ref().map(|p| model::ProviderParty {
            id: p.id.clone(),
            name: p.name.clone(),
            country: p.country.clone(),
            contact: p.contact.clone(),
        }),
        issuer: model::Party {
            name: content.issuer.name.clone(),
            contact: content.issuer.contact.clone(),
        },
        parameters: content
            .lines
            .iter()
            .map(|line| model::ParameterLine {
                key: line.key.clone(),
                label: line.label.clone(),
                value: line.value.clone(),
                unit: line.unit.clone(),
            })
            .collect(),
        validity: model::Validity {
            start: content.validity.start.to_string(),
            end: content.validity.end.to_string(),
            days: days.max(0) as u32,
        },
        targets: model::Targets {
            availability_pct: content.targets.availability_pct.to_string(),
            reliability_pct: content.targets.reliability_pct.to_string(),
            period: content.targets.period.clone(),
        },
        support: model::Support {
            level: capitalised(&content.support.level),
            response_time: format!("{} working hours", content.support.response_hours),
            contacts: content.support.contacts.clone(),
        },
        amendment: amendment.map(|a| model::Amendment {
            previous_version: a.previous_version,
            note: a.note,
            changes: a.changes,
        }),
        brand: model::Brand {
            name: content.brand.name.clone(),
            colour: content.brand.colour.clone(),
            footer: content.brand.footer.clone(),
            has_logo: content.brand.logo.is_some(),
        },
        signatories,
    }
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_use_the_random_tail_of_the_id() {
        assert_eq!(
            reference(AgreementKind::Sla, "01a200ad-0f9d-756c-b8bb-f46a6fa16d3a"),
            "SLA-6A6FA16D3A"
        );
        assert!(reference(AgreementKind::Ola, "x-1").starts_with("OLA-"));
    }

    #[test]
    fn validity_starts_no_earlier_than_activation_and_counts_days_inclusively() {
        let catalogue = Catalogue::from_events(&crate::catalogue::shipped::shipped_events());
        let service = catalogue.service("cloud-compute").unwrap();
        let params = BTreeMap::from([
            ("start_date".to_owned(), Value::from("2027-01-04")),
            ("duration_days".to_owned(), Value::from(90)),
        ]);
        let early: Date = "2026-11-22".parse().unwrap();
        let v = validity(service, &params, early).unwrap();
        assert_eq!(
            (v.start.to_string(), v.end.to_string()),
            ("2027-01-04".into(), "2027-04-03".into())
        );
        let late: Date = "2027-02-01".parse().unwrap();
        let v = validity(service, &params, late).unwrap();
        assert_eq!(
            (v.start.to_string(), v.end.to_string()),
            ("2027-02-01".into(), "2027-05-01".into())
        );
    }

    #[test]
    fn a_validity_out_of_range_is_an_error_naming_its_parameter_never_clamped() {
        use crate::catalogue::params::{EARLIEST_DATE, LATEST_DATE};
        let catalogue = Catalogue::from_events(&crate::catalogue::shipped::shipped_events());
        let service = catalogue.service("cloud-compute").unwrap();
        let today: Date = "2026-11-22".parse().unwrap();
        let field = |start: &str, days: i64| {
            let params = BTreeMap::from([
                ("start_date".to_owned(), Value::from(start)),
                ("duration_days".to_owned(), Value::from(days)),
            ]);
            match validity(service, &params, today) {
                Err(ContentError::Validity { field, .. }) => field,
                other => panic!("{start} + {days}: {other:?}"),
            }
        };
        assert_eq!(field("9999-12-31", 3650), "start_date");
        assert_eq!(field("0001-01-01", 90), "start_date");
        assert_eq!(field("1969-12-31", 90), "start_date");
        assert_eq!(field("2999-12-31", 2), "duration_days");
        assert_eq!(field("2027-01-04", 0), "duration_days");
        assert_eq!(field("not a date", 90), "start_date");

        let params = BTreeMap::from([
            ("start_date".to_owned(), Value::from("2999-12-31")),
            ("duration_days".to_owned(), Value::from(1)),
        ]);
        let v = validity(service, &params, today).unwrap();
        assert_eq!((v.start, v.end), (LATEST_DATE, LATEST_DATE));
        let params = BTreeMap::from([
            ("start_date".to_owned(), Value::from("1970-01-01")),
            ("duration_days".to_owned(), Value::from(1)),
        ]);
        let v = validity(service, &params, today).unwrap();
        assert!(
            EARLIEST_DATE < v.start,
            "a past start becomes the day of activation"
        );
        assert_eq!(v.start, today);
    }
}
