//! The catalogue pactum ships, kept as data in `default.toml` and turned into the
//! catalogue events appended on first start.
//!
//! The file is written for an admin to read and edit (`[[group]]`, `[[service]]`
//! with its `[[service.parameter]]`s, `[[provider]]`), so it has its own small
//! schema here rather than the events' JSON shape, and [`parse_catalogue`] refuses
//! a file that is inconsistent (a service in an undefined group, two labels a
//! legacy string could not tell apart, ...) before any event exists.
//! [`check_catalogue`] applies the same rules to events from any source.

use std::collections::{BTreeMap, BTreeSet};

use pactum_events::catalogue::{
    CatalogueEvent, GroupDefined, IssuerDefined, ParameterKind, ParameterSpec, ProviderRegistered,
    ServiceDefined, SupportLevel, Targets, ValiditySpec,
};
use serde::Deserialize;
use serde_json::Number;

use super::normalize_label;
use super::params::decimal_from_number;

const DEFAULT_TOML: &str = include_str!("default.toml");

/// Why a catalogue file (or a set of catalogue events) is refused. Each variant
/// names the broken rule and where.
#[derive(Debug, thiserror::Error)]
pub enum CatalogueFileError {
    #[error("the catalogue file is not valid: {0}")]
    Toml(#[from] toml::de::Error),
    #[error("{owner}: colour {colour:?} must be #rrggbb")]
    BadColour { owner: String, colour: String },
    #[error("service {service}: agreement defaults: {reason}")]
    BadAgreementDefaults { service: String, reason: String },
    #[error("{what} id {id:?} must be lower-kebab-case (a-z, 0-9 and inner '-')")]
    BadId { what: &'static str, id: String },
    #[error(
        "service {service}: parameter key {key:?} must be snake_case (a-z, 0-9, '_', starting with a letter)"
    )]
    BadKey { service: String, key: String },
    #[error("{owner}: {field} must not be blank")]
    Blank { owner: String, field: &'static str },
    #[error(
        "provider {provider}: country {country:?} must be an ISO 3166-1 alpha-2 code such as \"FR\""
    )]
    BadCountry { provider: String, country: String },
    #[error("group {0:?} is defined twice")]
    DuplicateGroup(String),
    #[error("service {0:?} is defined twice")]
    DuplicateService(String),
    #[error("provider {0:?} is defined twice")]
    DuplicateProvider(String),
    #[error("service {service}: group {group:?} is not defined")]
    UnknownGroup { service: String, group: String },
    #[error("provider {provider}: service {service:?} is not defined")]
    UnknownService { provider: String, service: String },
    #[error("service {service}: parameter key {key:?} is used twice")]
    DuplicateParameterKey { service: String, key: String },
    #[error(
        "service {service}: labels {first:?} and {second:?} are the same once case and spaces are ignored, so a legacy order string could not tell them apart"
    )]
    DuplicateLabel {
        service: String,
        first: String,
        second: String,
    },
    #[error(
        "services {first} and {second} have the same legacy path {path:?} once case and spaces are ignored"
    )]
    DuplicateLegacyPath {
        first: String,
        second: String,
        path: String,
    },
    #[error("service {service}, parameter {key}: an enum needs at least one value")]
    EmptyEnum { service: String, key: String },
    #[error(
        "service {service}, parameter {key}: enum value {value:?} must be non-empty, without surrounding spaces"
    )]
    BadEnumValue {
        service: String,
        key: String,
        value: String,
    },
    #[error(
        "service {service}, parameter {key}: enum value {value:?} repeats another once case is ignored"
    )]
    DuplicateEnumValue {
        service: String,
        key: String,
        value: String,
    },
    #[error("service {service}, parameter {key}: min {min} is greater than max {max}")]
    MinAboveMax {
        service: String,
        key: String,
        min: String,
        max: String,
    },
    #[error("service {service}, parameter {key}: `{field}` does not apply to a {kind} parameter")]
    NotApplicable {
        service: String,
        key: String,
        field: &'static str,
        kind: &'static str,
    },
    #[error("service {service}, parameter {key}: `{field}` must be {expected}")]
    BadBound {
        service: String,
        key: String,
        field: &'static str,
        expected: &'static str,
    },
    #[error(
        "service {service}: {what} {text:?} contains {token:?}, which legacy order strings use as syntax"
    )]
    NotLegacySafe {
        service: String,
        what: &'static str,
        text: String,
        token: &'static str,
    },
}

/// The shipped catalogue as events: every group, then every service, then every
/// provider, each in file order.
pub fn shipped_events() -> Vec<CatalogueEvent> {
    // The file is part of the source and a test parses it, so a failure here is a
    // bug in this build, not bad input.
    parse_catalogue(DEFAULT_TOML)
        .unwrap_or_else(|error| panic!("the shipped default.toml is invalid: {error}"))
}

/// Parses a catalogue file and checks it (see [`check_catalogue`]). The events come
/// out groups first, then services, then providers, so each refers only to what
/// precedes it.
pub fn parse_catalogue(toml: &str) -> Result<Vec<CatalogueEvent>, CatalogueFileError> {
    let file: CatalogueFile = toml::from_str(toml)?;
    let mut events = Vec::new();
    for group in file.group {
        events.push(CatalogueEvent::GroupDefined(GroupDefined {
            group_id: group.id,
            name: group.name,
            description: group.description,
        }));
    }
    for service in file.service {
        let parameters = service
            .parameter
            .into_iter()
            .map(|parameter| parameter.into_spec(&service.id))
            .collect::<Result<_, _>>()?;
        events.push(CatalogueEvent::ServiceDefined(ServiceDefined {
            service_id: service.id,
            name: service.name,
            group: service.group,
            legacy_path: service.legacy_path,
            description: service.description,
            parameters,
            targets: service.targets,
            support: service.support,
            validity: service.validity,
        }));
    }
    for provider in file.provider {
        events.push(CatalogueEvent::ProviderRegistered(ProviderRegistered {
            provider_id: provider.id,
            name: provider.name,
            country: provider.country,
            services: provider.services,
            contact_email: provider.contact_email,
        }));
    }
    if let Some(issuer) = file.issuer {
        events.push(CatalogueEvent::IssuerDefined(issuer));
    }
    check_catalogue(&events)?;
    Ok(events)
}

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

// ---------------------------------------------------------------- the file's schema
//
// `deny_unknown_fields` everywhere: a misspelt `requird = false` must be an error,
// not a silently required parameter.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogueFile {
    issuer: Option<IssuerDefined>,
    #[serde(default)]
    group: Vec<GroupEntry>,
    #[serde(default)]
    service: Vec<ServiceEntry>,
    #[serde(default)]
    provider: Vec<ProviderEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupEntry {
    id: String,
    name: String,
    description: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ServiceEntry {
    id: String,
    name: String,
    group: String,
    legacy_path: String,
    description: Option<String>,
    targets: Option<Targets>,
    support: Option<SupportLevel>,
    validity: Option<ValiditySpec>,
    #[serde(default)]
    parameter: Vec<ParameterEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProviderEntry {
    id: String,
    name: String,
    country: String,
    #[serde(default)]
    services: Vec<String>,
    contact_email: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ParameterEntry {
    key: String,
    label: String,
    #[serde(rename = "type")]
    kind: KindName,
    #[serde(default = "required_by_default")]
    required: bool,
    unit: Option<String>,
    description: Option<String>,
    min: Option<toml::Value>,
    max: Option<toml::Value>,
    values: Option<Vec<String>>,
    max_length: Option<u32>,
}

fn required_by_default() -> bool {
    true
}

#[derive(Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
enum KindName {
    Integer,
    Number,
    Enum,
    Date,
    Boolean,
    Text,
}

impl KindName {
    fn name(self) -> &'static str {
        match self {
            Self::Integer => "integer",
            Self::Number => "number",
            Self::Enum => "enum",
            Self::Date => "date",
            Self::Boolean => "boolean",
            Self::Text => "text",
        }
    }
}

impl ParameterEntry {
    fn into_spec(self, service: &str) -> Result<ParameterSpec, CatalogueFileError> {
        let Self {
            key,
            label,
            kind,
            required,
            unit,
            description,
            min,
            max,
            values,
            max_length,
        } = self;

        // Fields of another type are refused rather than ignored: `max` on an enum
        // is a mistake whose author expects it to do something.
        let given = [
            ("min", min.is_some()),
            ("max", max.is_some()),
            ("values", values.is_some()),
            ("max_length", max_length.is_some()),
        ];
        let allowed: &[&str] = match kind {
            KindName::Integer | KindName::Number => &["min", "max"],
            KindName::Enum => &["values"],
            KindName::Date | KindName::Boolean => &[],
            KindName::Text => &["max_length"],
        };
        if let Some((field, _)) = given
            .iter()
            .find(|(field, present)| *present && !allowed.contains(field))
        {
            return Err(CatalogueFileError::NotApplicable {
                service: service.to_owned(),
                key,
                field,
                kind: kind.name(),
            });
        }

        let bad_bound = |field, expected| CatalogueFileError::BadBound {
            service: service.to_owned(),
            key: key.clone(),
            field,
            expected,
        };
        let integer = |bound: Option<toml::Value>, field| match bound {
            None => Ok(None),
            Some(toml::Value::Integer(int)) => Ok(Some(int)),
            Some(_) => Err(bad_bound(field, "a whole number")),
        };
        let number = |bound: Option<toml::Value>, field| match bound {
            None => Ok(None),
            Some(toml::Value::Integer(int)) => Ok(Some(Number::from(int))),
            Some(toml::Value::Float(float)) => Number::from_f64(float)
                .map(Some)
                .ok_or_else(|| bad_bound(field, "a finite number")),
            Some(_) => Err(bad_bound(field, "a number")),
        };
        let kind = match kind {
            KindName::Integer => ParameterKind::Integer {
                min: integer(min, "min")?,
                max: integer(max, "max")?,
            },
            KindName::Number => ParameterKind::Number {
                min: number(min, "min")?,
                max: number(max, "max")?,
            },
            KindName::Enum => ParameterKind::Enum {
                values: values.unwrap_or_default(),
            },
            KindName::Date => ParameterKind::Date,
            KindName::Boolean => ParameterKind::Boolean,
            KindName::Text => ParameterKind::Text { max_length },
        };
        Ok(ParameterSpec {
            key,
            label,
            kind,
            required,
            unit,
            description,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::Catalogue;

    #[test]
    fn the_shipped_catalogue_parses_in_order() {
        let events = shipped_events();
        let kinds: Vec<&str> = events
            .iter()
            .map(|event| match event {
                CatalogueEvent::GroupDefined(_) => "group",
                CatalogueEvent::ServiceDefined(_) => "service",
                CatalogueEvent::ProviderRegistered(_) => "provider",
                CatalogueEvent::IssuerDefined(_) => "issuer",
            })
            .collect();
        let mut sorted = kinds.clone();
        sorted.sort_by_key(|kind| {
            ["group", "service", "provider", "issuer"]
                .iter()
                .position(|k| k == kind)
        });
        assert_eq!(
            kinds, sorted,
            "groups, then services, then providers, then the issuer"
        );
        check_catalogue(&events).expect("consistent");

        let catalogue = Catalogue::from_events(&events);
        let ids = |map: Vec<&String>| map.into_iter().cloned().collect::<Vec<_>>();
        assert_eq!(
            ids(catalogue.groups.keys().collect()),
            ["compute", "eudat", "storage", "training"]
        );
        assert_eq!(
            ids(catalogue.services.keys().collect()),
            [
                "b2safe",
                "cloud-compute",
                "htc-compute",
                "online-storage",
                "training-infrastructure"
            ]
        );
        assert!((6..=8).contains(&catalogue.providers.len()));
        for provider in catalogue.providers.values() {
            let email = provider.contact_email.as_deref().unwrap_or_default();
            assert!(email.ends_with("@example.org"), "{email}");
        }
    }

    #[test]
    fn the_shipped_catalogue_mixes_every_kind_and_optional_parameters() {
        let events = shipped_events();
        let specs: Vec<&ParameterSpec> = events
            .iter()
            .filter_map(|event| match event {
                CatalogueEvent::ServiceDefined(service) => Some(&service.parameters),
                _ => None,
            })
            .flatten()
            .collect();
        assert!(specs.iter().any(|spec| !spec.required));
        for wanted in ["boolean", "text", "enum", "date", "number", "integer"] {
            assert!(
                specs.iter().any(|spec| {
                    let kind = serde_json::to_value(&spec.kind).expect("serializes");
                    kind["type"] == wanted
                }),
                "{wanted}"
            );
        }
    }

    #[test]
    fn cloud_compute_has_the_legacy_parameters() {
        let catalogue = Catalogue::from_events(&shipped_events());
        let service = catalogue
            .service_by_legacy_path("Compute/EGI Cloud compute/General purpose")
            .expect("by legacy path");
        assert_eq!(service.service_id, "cloud-compute");
        assert_eq!(service.group, "compute");
        let int = |min, max| ParameterKind::Integer {
            min: Some(min),
            max: Some(max),
        };
        let expected = [
            (
                "cpu_cores",
                "Number of CPU Cores",
                int(1, 1024),
                Some("cores"),
            ),
            (
                "ram_per_core_gb",
                "Amount of RAM per CPU core",
                ParameterKind::Number {
                    min: Number::from_f64(0.5),
                    max: Some(Number::from(512)),
                },
                Some("GB"),
            ),
            ("local_disk_gb", "Local disk", int(0, 100_000), Some("GB")),
            (
                "vm_instances",
                "Number of VM instances",
                int(1, 10_000),
                None,
            ),
            (
                "access_type",
                "Access type",
                ParameterKind::Enum {
                    values: vec!["opportunistic".into(), "guaranteed".into()],
                },
                None,
            ),
            ("start_date", "Start of service", ParameterKind::Date, None),
            (
                "duration_days",
                "Number of days",
                int(1, 3650),
                Some("days"),
            ),
        ];
        assert_eq!(service.parameters.len(), expected.len());
        for (spec, (key, label, kind, unit)) in service.parameters.iter().zip(expected) {
            assert_eq!(spec.key, key);
            assert_eq!(spec.label, label);
            assert_eq!(spec.kind, kind, "{key}");
            assert_eq!(spec.unit.as_deref(), unit, "{key}");
            assert!(spec.required, "{key}");
        }
    }

    const BASE: &str = r#"
        [[group]]
        id = "compute"
        name = "Compute"

        [[service]]
        id = "vm"
        name = "VM"
        group = "compute"
        legacy_path = "Compute/VM"

        [[service.parameter]]
        key = "cores"
        label = "Cores"
        type = "integer"
        min = 1
        max = 8

        [[service.parameter]]
        key = "ram"
        label = "RAM"
        type = "number"
        min = 0.5
        max = 64

        [[service.parameter]]
        key = "access"
        label = "Access type"
        type = "enum"
        values = ["opportunistic", "guaranteed"]

        [[provider]]
        id = "site"
        name = "A site"
        country = "FR"
        services = ["vm"]
    "#;

    fn refused(toml: &str) -> CatalogueFileError {
        let error = parse_catalogue(toml).expect_err("should be refused");
        // Every message names what is wrong in words an admin can act on.
        assert!(!error.to_string().is_empty());
        error
    }

    #[test]
    fn the_base_test_catalogue_is_accepted() {
        let events = parse_catalogue(BASE).expect("valid");
        assert_eq!(events.len(), 3);
    }

    #[test]
    fn a_service_in_an_undefined_group_is_refused() {
        let error = refused(&BASE.replace(r#"group = "compute""#, r#"group = "storage""#));
        assert!(
            matches!(&error, CatalogueFileError::UnknownGroup { group, .. } if group == "storage")
        );
        assert_eq!(
            error.to_string(),
            "service vm: group \"storage\" is not defined"
        );
    }

    #[test]
    fn duplicate_ids_are_refused() {
        let twice = |from: &str, to: &str| BASE.replacen(from, &format!("{to}{from}"), 1);
        let group = twice(
            "[[service]]",
            "[[group]]\nid = \"compute\"\nname = \"Again\"\n",
        );
        assert!(
            matches!(refused(&group), CatalogueFileError::DuplicateGroup(id) if id == "compute")
        );

        let service = format!(
            "{BASE}\n[[service]]\nid = \"vm\"\nname = \"Other\"\ngroup = \"compute\"\nlegacy_path = \"Other\"\n"
        );
        assert!(
            matches!(refused(&service), CatalogueFileError::DuplicateService(id) if id == "vm")
        );

        let provider =
            format!("{BASE}\n[[provider]]\nid = \"site\"\nname = \"B\"\ncountry = \"DE\"\n");
        assert!(
            matches!(refused(&provider), CatalogueFileError::DuplicateProvider(id) if id == "site")
        );
    }

    #[test]
    fn duplicate_parameter_keys_are_refused() {
        let error = refused(&BASE.replace(r#"key = "ram""#, r#"key = "cores""#));
        assert!(
            matches!(error, CatalogueFileError::DuplicateParameterKey { key, .. } if key == "cores")
        );
    }

    #[test]
    fn labels_equal_after_normalization_are_refused() {
        let error = refused(&BASE.replace(r#"label = "RAM""#, r#"label = " cores ""#));
        assert!(matches!(
            &error,
            CatalogueFileError::DuplicateLabel { first, second, .. }
                if first == "Cores" && second == " cores "
        ));
        assert!(error.to_string().contains("could not tell them apart"));
    }

    #[test]
    fn an_empty_enum_is_refused() {
        let error = refused(&BASE.replace(r#"["opportunistic", "guaranteed"]"#, "[]"));
        assert!(matches!(error, CatalogueFileError::EmptyEnum { key, .. } if key == "access"));
        let missing = refused(&BASE.replace(r#"values = ["opportunistic", "guaranteed"]"#, ""));
        assert!(matches!(missing, CatalogueFileError::EmptyEnum { .. }));
    }

    #[test]
    fn bad_enum_values_are_refused() {
        let repeated = refused(&BASE.replace(r#""guaranteed""#, r#""Opportunistic""#));
        assert!(
            matches!(repeated, CatalogueFileError::DuplicateEnumValue { value, .. } if value == "Opportunistic")
        );
        let blank = refused(&BASE.replace(r#""guaranteed""#, r#"" ""#));
        assert!(matches!(blank, CatalogueFileError::BadEnumValue { .. }));
        let syntax = refused(&BASE.replace(r#""guaranteed""#, r#""R&D""#));
        assert!(matches!(
            syntax,
            CatalogueFileError::NotLegacySafe { token: "&", .. }
        ));
    }

    #[test]
    fn min_above_max_is_refused() {
        let integer = refused(&BASE.replace("min = 1\n", "min = 9\n"));
        assert!(matches!(&integer, CatalogueFileError::MinAboveMax { key, .. } if key == "cores"));
        assert_eq!(
            integer.to_string(),
            "service vm, parameter cores: min 9 is greater than max 8"
        );
        let number = refused(&BASE.replace("min = 0.5", "min = 64.5"));
        assert!(matches!(&number, CatalogueFileError::MinAboveMax { key, .. } if key == "ram"));
    }

    #[test]
    fn bounds_must_fit_their_type() {
        let float_for_integer = refused(&BASE.replace("max = 8", "max = 8.5"));
        assert!(matches!(
            float_for_integer,
            CatalogueFileError::BadBound { field: "max", .. }
        ));
        let huge = refused(&BASE.replace("max = 64", "max = 1e300"));
        assert!(matches!(
            huge,
            CatalogueFileError::BadBound { field: "max", .. }
        ));
        let text = refused(&BASE.replace("max = 64", "max = \"64\""));
        assert!(matches!(
            text,
            CatalogueFileError::BadBound { field: "max", .. }
        ));
        let wrong_kind = refused(&BASE.replace(
            r#"values = ["opportunistic", "guaranteed"]"#,
            r#"values = ["opportunistic"]
            max = 3"#,
        ));
        assert!(matches!(
            wrong_kind,
            CatalogueFileError::NotApplicable {
                field: "max",
                kind: "enum",
                ..
            }
        ));
    }

    #[test]
    fn providers_must_offer_defined_services() {
        let error = refused(&BASE.replace(r#"services = ["vm"]"#, r#"services = ["vm", "hpc"]"#));
        assert!(
            matches!(&error, CatalogueFileError::UnknownService { service, .. } if service == "hpc")
        );
        assert_eq!(
            error.to_string(),
            "provider site: service \"hpc\" is not defined"
        );
        let country = refused(&BASE.replace(r#"country = "FR""#, r#"country = "France""#));
        assert!(matches!(country, CatalogueFileError::BadCountry { .. }));
    }

    #[test]
    fn legacy_paths_must_be_unique() {
        let other = "\n[[service]]\nid = \"vm2\"\nname = \"VM 2\"\ngroup = \"compute\"\nlegacy_path = \"compute /  vm\"\n";
        let error = refused(&BASE.replacen("[[provider]]", &format!("{other}\n[[provider]]"), 1));
        assert!(matches!(
            &error,
            CatalogueFileError::DuplicateLegacyPath { first, second, .. } if first == "vm" && second == "vm2"
        ));
    }

    #[test]
    fn legacy_syntax_characters_are_refused_in_paths_and_labels() {
        let path = refused(&BASE.replace("Compute/VM", "Compute/VM?"));
        assert!(matches!(
            path,
            CatalogueFileError::NotLegacySafe {
                what: "legacy path",
                token: "?",
                ..
            }
        ));
        let label = refused(&BASE.replace(r#"label = "RAM""#, r#"label = "RAM=GB""#));
        assert!(matches!(
            label,
            CatalogueFileError::NotLegacySafe {
                what: "label",
                token: "=",
                ..
            }
        ));
    }

    #[test]
    fn ids_and_keys_are_well_formed() {
        let id = refused(&BASE.replace(r#"id = "vm""#, r#"id = "Cloud VM""#));
        assert!(matches!(
            id,
            CatalogueFileError::BadId {
                what: "service",
                ..
            }
        ));
        let key = refused(&BASE.replace(r#"key = "ram""#, r#"key = "RAM-GB""#));
        assert!(matches!(key, CatalogueFileError::BadKey { .. }));
        let blank = refused(&BASE.replace(r#"label = "RAM""#, r#"label = "  ""#));
        assert!(matches!(
            blank,
            CatalogueFileError::Blank { field: "label", .. }
        ));
    }

    #[test]
    fn unknown_fields_and_types_are_toml_errors() {
        let typo = refused(&BASE.replace("min = 1\n", "min = 1\nrequird = false\n"));
        assert!(matches!(&typo, CatalogueFileError::Toml(_)));
        assert!(typo.to_string().contains("requird"), "{typo}");
        let kind = refused(&BASE.replace(r#"type = "integer""#, r#"type = "int""#));
        assert!(matches!(kind, CatalogueFileError::Toml(_)));
    }
}
