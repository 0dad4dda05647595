//! The catalogue pactum ships, kept as data in `default.toml` and turned into the
//! catalogue events appended on first start.
//!
//! The file is written for an admin to read and edit (`[[group]]`, `[[service]]`
//! with its `[[service.parameter]]`s, `[[provider]]`), so it has its own small
//! schema here rather than the events' JSON shape, and [`parse_catalogue`] refuses
//! a file that is inconsistent (a service in an undefined group, two labels a
//! legacy string could not tell apart, ...) before any event exists.
//! The rules themselves are in [`super::rules`], which applies them to events
//! from any source.

use pactum_events::catalogue::{
    CatalogueEvent, GroupDefined, IssuerDefined, ParameterKind, ParameterSpec, ProviderRegistered,
    ServiceDefined, SupportLevel, Targets, ValiditySpec,
};
use serde::Deserialize;
use serde_json::Number;

use super::errors::CatalogueFileError;
use super::rules::check_catalogue;

const DEFAULT_TOML: &str = include_str!("default.toml");

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
            version: None,
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
                CatalogueEvent::ServiceRetired(_)
                | CatalogueEvent::GroupRetired(_)
                | CatalogueEvent::ProviderRetired(_) => "retirement",
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
