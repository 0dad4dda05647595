//! The catalogue's rules, for a whole new catalogue as events from any source
//! (the shipped file, an admin's change): ids well-formed and unique, references
//! defined before use, parameter specs coherent, legacy strings unambiguous.

use std::collections::{BTreeMap, BTreeSet};

use pactum_events::catalogue::{CatalogueEvent, ParameterKind, ParameterSpec, ServiceDefined};
use serde_json::Number;

use super::errors::CatalogueFileError;
use super::normalize_label;
use super::params::decimal_from_number;

/// Checks that catalogue events, taken in order as a whole new catalogue, are
/// consistent: ids well-formed and unique, each service's group and each
/// provider's services defined before use, parameter keys and labels unique within
/// a service, legacy paths unique, enums non-empty, bounds ordered, and legacy
/// paths, labels and enum values free of the legacy string's syntax characters.
pub fn check_catalogue(events: &[CatalogueEvent]) -> Result<(), CatalogueFileError> {
    let mut groups = BTreeSet::new();
    let mut services = BTreeSet::new();
    let mut providers = BTreeSet::new();
    // Normalized legacy path → the service that has it.
    let mut legacy_paths: BTreeMap<String, &str> = BTreeMap::new();

    for event in events {
        match event {
            CatalogueEvent::GroupDefined(group) => {
                check_id("group", &group.group_id)?;
                check_not_blank(&format!("group {}", group.group_id), "name", &group.name)?;
                if !groups.insert(group.group_id.as_str()) {
                    return Err(CatalogueFileError::DuplicateGroup(group.group_id.clone()));
                }
            }
            CatalogueEvent::ServiceDefined(service) => {
                check_service(service)?;
                let id = service.service_id.as_str();
                if !services.insert(id) {
                    return Err(CatalogueFileError::DuplicateService(id.to_owned()));
                }
                if !groups.contains(service.group.as_str()) {
                    return Err(CatalogueFileError::UnknownGroup {
                        service: id.to_owned(),
                        group: service.group.clone(),
                    });
                }
                let path = normalize_label(&service.legacy_path);
                if let Some(first) = legacy_paths.insert(path, id) {
                    return Err(CatalogueFileError::DuplicateLegacyPath {
                        first: first.to_owned(),
                        second: id.to_owned(),
                        path: service.legacy_path.clone(),
                    });
                }
            }
            CatalogueEvent::ProviderRegistered(provider) => {
                let id = provider.provider_id.as_str();
                check_id("provider", id)?;
                check_not_blank(&format!("provider {id}"), "name", &provider.name)?;
                let country = &provider.country;
                if country.len() != 2 || !country.bytes().all(|b| b.is_ascii_uppercase()) {
                    return Err(CatalogueFileError::BadCountry {
                        provider: id.to_owned(),
                        country: country.clone(),
                    });
                }
                if !providers.insert(id) {
                    return Err(CatalogueFileError::DuplicateProvider(id.to_owned()));
                }
                if let Some(unknown) = provider
                    .services
                    .iter()
                    .find(|service| !services.contains(service.as_str()))
                {
                    return Err(CatalogueFileError::UnknownService {
                        provider: id.to_owned(),
                        service: unknown.clone(),
                    });
                }
            }
            CatalogueEvent::IssuerDefined(issuer) => {
                check_not_blank("issuer", "name", &issuer.name)?;
                check_colour("issuer", &issuer.colour)?;
            }
            // Retiring is decided by the aggregate (what may retire when).
            CatalogueEvent::ServiceRetired(_)
            | CatalogueEvent::GroupRetired(_)
            | CatalogueEvent::ProviderRetired(_) => {}
        }
    }
    Ok(())
}

/// `#rrggbb`, the one colour notation documents take.
pub fn check_colour(owner: &str, colour: &str) -> Result<(), CatalogueFileError> {
    let ok = colour.len() == 7
        && colour.starts_with('#')
        && colour[1..].bytes().all(|b| b.is_ascii_hexdigit());
    if ok {
        Ok(())
    } else {
        Err(CatalogueFileError::BadColour {
            owner: owner.to_owned(),
            colour: colour.to_owned(),
        })
    }
}

/// Agreement defaults: targets are percentages, validity names a date and a
/// day-count parameter of the service.
fn check_agreement_defaults(service: &ServiceDefined) -> Result<(), CatalogueFileError> {
    let id = &service.service_id;
    let bad = |reason: String| CatalogueFileError::BadAgreementDefaults {
        service: id.clone(),
        reason,
    };
    if let Some(targets) = &service.targets {
        for (name, value) in [
            ("availability_pct", &targets.availability_pct),
            ("reliability_pct", &targets.reliability_pct),
        ] {
            if !value.as_f64().is_some_and(|v| (0.0..=100.0).contains(&v)) {
                return Err(bad(format!("{name} must be a percentage, got {value}")));
            }
        }
        if targets.period.trim().is_empty() {
            return Err(bad("targets need a measurement period".into()));
        }
    }
    if let Some(validity) = &service.validity {
        let kind_of = |key: &str| {
            service
                .parameters
                .iter()
                .find(|p| p.key == key)
                .map(|p| &p.kind)
        };
        if !matches!(kind_of(&validity.start), Some(ParameterKind::Date)) {
            return Err(bad(format!(
                "validity start {:?} is not a date parameter",
                validity.start
            )));
        }
        if !matches!(
            kind_of(&validity.duration_days),
            Some(ParameterKind::Integer { .. })
        ) {
            return Err(bad(format!(
                "validity duration {:?} is not an integer parameter",
                validity.duration_days
            )));
        }
    }
    Ok(())
}

/// The rules that concern one service alone.
fn check_service(service: &ServiceDefined) -> Result<(), CatalogueFileError> {
    check_agreement_defaults(service)?;
    let id = &service.service_id;
    let owner = format!("service {id}");
    check_id("service", id)?;
    check_not_blank(&owner, "name", &service.name)?;
    check_not_blank(&owner, "legacy_path", &service.legacy_path)?;
    // The legacy parser splits at the first '?', drops `**` and unwraps `[text](..)`.
    check_legacy_safe(
        id,
        "legacy path",
        &service.legacy_path,
        &["?", "&", "**", "[", "]"],
    )?;

    let mut keys = BTreeSet::new();
    // Normalized label → the label as written.
    let mut labels: BTreeMap<String, &str> = BTreeMap::new();
    for spec in &service.parameters {
        let key = &spec.key;
        let key_ok = key.starts_with(|c: char| c.is_ascii_lowercase())
            && key
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !key_ok {
            return Err(CatalogueFileError::BadKey {
                service: id.clone(),
                key: key.clone(),
            });
        }
        if !keys.insert(key.as_str()) {
            return Err(CatalogueFileError::DuplicateParameterKey {
                service: id.clone(),
                key: key.clone(),
            });
        }
        check_not_blank(&format!("{owner}, parameter {key}"), "label", &spec.label)?;
        // Pairs are split at '&' and then at their first '='.
        check_legacy_safe(id, "label", &spec.label, &["=", "&", "**", "[", "]"])?;
        if let Some(first) = labels.insert(normalize_label(&spec.label), &spec.label) {
            return Err(CatalogueFileError::DuplicateLabel {
                service: id.clone(),
                first: first.to_owned(),
                second: spec.label.clone(),
            });
        }
        check_kind(id, spec)?;
    }
    Ok(())
}

fn check_kind(service: &str, spec: &ParameterSpec) -> Result<(), CatalogueFileError> {
    let key = &spec.key;
    let min_above_max = |min: String, max: String| CatalogueFileError::MinAboveMax {
        service: service.to_owned(),
        key: key.clone(),
        min,
        max,
    };
    match &spec.kind {
        ParameterKind::Integer {
            min: Some(min),
            max: Some(max),
        } if min > max => Err(min_above_max(min.to_string(), max.to_string())),
        ParameterKind::Integer { .. } | ParameterKind::Date | ParameterKind::Boolean => Ok(()),
        ParameterKind::Number { min, max } => {
            let decimal = |bound: &Option<Number>, field| match bound {
                None => Ok(None),
                Some(number) => decimal_from_number(number).map(Some).ok_or_else(|| {
                    CatalogueFileError::BadBound {
                        service: service.to_owned(),
                        key: key.clone(),
                        field,
                        expected: "a decimal of at most 28 digits",
                    }
                }),
            };
            match (decimal(min, "min")?, decimal(max, "max")?) {
                (Some(min), Some(max)) if min > max => {
                    Err(min_above_max(min.to_string(), max.to_string()))
                }
                _ => Ok(()),
            }
        }
        ParameterKind::Enum { values } => {
            if values.is_empty() {
                return Err(CatalogueFileError::EmptyEnum {
                    service: service.to_owned(),
                    key: key.clone(),
                });
            }
            let mut seen = BTreeSet::new();
            for value in values {
                if value.is_empty() || value.trim() != value {
                    return Err(CatalogueFileError::BadEnumValue {
                        service: service.to_owned(),
                        key: key.clone(),
                        value: value.clone(),
                    });
                }
                check_legacy_safe(service, "enum value", value, &["&", "**", "[", "]"])?;
                // Legacy strings match enum values in any case.
                if !seen.insert(value.to_lowercase()) {
                    return Err(CatalogueFileError::DuplicateEnumValue {
                        service: service.to_owned(),
                        key: key.clone(),
                        value: value.clone(),
                    });
                }
            }
            Ok(())
        }
        ParameterKind::Text {
            max_length: Some(0),
        } => Err(CatalogueFileError::BadBound {
            service: service.to_owned(),
            key: key.clone(),
            field: "max_length",
            expected: "at least 1",
        }),
        ParameterKind::Text { .. } => Ok(()),
    }
}

/// Lower-kebab-case: what group, service and provider ids look like in URLs and
/// in events.
fn check_id(what: &'static str, id: &str) -> Result<(), CatalogueFileError> {
    let ok = !id.is_empty()
        && !id.starts_with('-')
        && !id.ends_with('-')
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(CatalogueFileError::BadId {
            what,
            id: id.to_owned(),
        })
    }
}

fn check_not_blank(
    owner: &str,
    field: &'static str,
    value: &str,
) -> Result<(), CatalogueFileError> {
    if value.trim().is_empty() {
        Err(CatalogueFileError::Blank {
            owner: owner.to_owned(),
            field,
        })
    } else {
        Ok(())
    }
}

fn check_legacy_safe(
    service: &str,
    what: &'static str,
    text: &str,
    tokens: &[&'static str],
) -> Result<(), CatalogueFileError> {
    match tokens.iter().find(|token| text.contains(**token)) {
        Some(token) => Err(CatalogueFileError::NotLegacySafe {
            service: service.to_owned(),
            what,
            text: text.to_owned(),
            token,
        }),
        None => Ok(()),
    }
}
