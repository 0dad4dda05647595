//! A project item as an order: which service, which parameters, whose.
//!
//! Without a mapping file an item maps as the legacy order strings did, since
//! those were written from these very fields: `category/service/offer` is the
//! service's legacy path (`Compute/EGI Cloud compute/General purpose`), each
//! offer property's `label` a parameter's legacy label, and its `value` is read
//! as `import-legacy` reads one (`params::from_legacy_values`: day-first dates,
//! decimal commas...). A mapping file (TOML, `--eosc-mapping`) adds or
//! overrides offers, properties and organisations:
//!
//! ```toml
//! [offers]            # "category/service/offer" → service id
//! "Compute/EGI Cloud Compute/Small VM" = "cloud-compute"
//!
//! [properties]        # offer property label → parameter key
//! "CPU cores" = "cpu_cores"
//!
//! [organizations]     # the project's organisation → pactum organisation id
//! "Cyfronet AGH" = "cyfronet"
//! ```
//!
//! Labels and paths match ignoring case and runs of whitespace. An
//! organisation without an entry becomes its name in lower case, with
//! anything but letters, digits, `.`, `_` and `-` as `-` — unless the file
//! says `only_listed_organizations = true` (before the tables): the
//! Marketplace's organisation is what its user typed, so a store whose
//! organisations must not take orders from strangers lists the ones it knows
//! and an item of any other stays unmapped (answered with an internal message).

use std::collections::BTreeMap;

use pactum_events::order::{Customer, OrderSource};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::client::{Project, ProjectItem};
use crate::catalogue::{Catalogue, normalize_label, params};
use crate::orders::commands::{NewOrder, TITLE_MAX};
use crate::validation;

/// The mapping file, as read (and its fingerprint).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Mapping {
    /// Normalised path → service id.
    offers: BTreeMap<String, String>,
    /// Normalised label → parameter key.
    properties: BTreeMap<String, String>,
    /// Organisation name as the Marketplace has it (normalised) → org id.
    organizations: BTreeMap<String, String>,
    /// Only the organisations of `organizations` take orders.
    only_listed: bool,
    /// SHA-256 (hex) of the file's text; of the empty text without a file.
    fingerprint: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    only_listed_organizations: bool,
    #[serde(default)]
    offers: BTreeMap<String, String>,
    #[serde(default)]
    properties: BTreeMap<String, String>,
    #[serde(default)]
    organizations: BTreeMap<String, String>,
}

#[derive(Debug, thiserror::Error)]
pub enum MappingError {
    #[error("{0}")]
    Toml(#[from] toml::de::Error),
    #[error("organizations: {name:?} maps to {id:?}, which {reason}")]
    Organization {
        name: String,
        id: String,
        reason: String,
    },
}

impl Mapping {
    /// No file: the legacy paths and labels alone.
    pub fn none() -> Self {
        Self {
            fingerprint: hex::encode(Sha256::digest(b"")),
            ..Self::default()
        }
    }

    /// A mapping file's text.
    pub fn parse(text: &str) -> Result<Self, MappingError> {
        let file: File = toml::from_str(text)?;
        for (name, id) in &file.organizations {
            validation::identifier("org", id).map_err(|e| MappingError::Organization {
                name: name.clone(),
                id: id.clone(),
                reason: e.message,
            })?;
        }
        let normalised = |map: BTreeMap<String, String>| {
            map.into_iter()
                .map(|(from, to)| (normalize_label(&from), to.trim().to_owned()))
                .collect()
        };
        Ok(Self {
            offers: normalised(file.offers),
            properties: normalised(file.properties),
            organizations: normalised(file.organizations),
            only_listed: file.only_listed_organizations,
            fingerprint: hex::encode(Sha256::digest(text.as_bytes())),
        })
    }

    /// Identifies the mapping an item was tried with.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// The organisation id of a project's organisation name.
    pub fn organization(&self, name: &str) -> String {
        if let Some(id) = self.organizations.get(&normalize_label(name)) {
            return id.clone();
        }
        let mut id: String = name
            .trim()
            .to_lowercase()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                    c
                } else {
                    '-'
                }
            })
            .collect();
        while id.contains("--") {
            id = id.replace("--", "-");
        }
        let id = id.trim_matches(|c: char| !c.is_ascii_alphanumeric());
        id.chars().take(64).collect()
    }
}

/// An item mapped to an order, or every reason it cannot be.
pub fn map(
    catalogue: &Catalogue,
    mapping: &Mapping,
    oms_id: &str,
    project: &Project,
    item: &ProjectItem,
    order_id: String,
    now: jiff::Timestamp,
) -> Result<NewOrder, Vec<String>> {
    let mut problems = Vec::new();
    let customer = customer(mapping, project)
        .map_err(|e| problems.push(e))
        .ok();
    let path = [
        item.attribute("category"),
        item.attribute("service"),
        item.attribute("offer"),
    ];
    let service = if path.iter().any(Option::is_none) {
        problems.push(format!(
            "the item names no {} (attributes category, service and offer make the service)",
            ["category", "service", "offer"]
                .iter()
                .zip(path)
                .filter(|(_, part)| part.is_none())
                .map(|(name, _)| *name)
                .collect::<Vec<_>>()
                .join(", ")
        ));
        None
    } else {
        let path = path.map(Option::unwrap_or_default).join("/");
        let found = match mapping.offers.get(&normalize_label(&path)) {
            Some(id) => catalogue.live_service(id).ok_or_else(|| {
                format!("the mapping file maps offer \"{path}\" to service {id:?}, which takes no orders (unknown or retired)")
            }),
            None => catalogue
                .service_by_legacy_path(&path)
                .filter(|service| catalogue.live_service(&service.service_id).is_some())
                .ok_or_else(|| {
                    format!(
                        "offer \"{path}\" is not mapped to a service: no service has that legacy path; add it under [offers] in the mapping file"
                    )
                }),
        };
        found.map_err(|e| problems.push(e)).ok()
    };
    let Some(service) = service else {
        return Err(problems);
    };

    let mut values = Vec::new();
    for (label, value) in item.offer_properties() {
        let normalised = normalize_label(&label);
        let key = match mapping.properties.get(&normalised) {
            Some(key) if service.parameters.iter().any(|spec| spec.key == *key) => key.clone(),
            Some(key) => {
                problems.push(format!(
                    "offer property \"{label}\" is mapped to parameter {key:?}, which service {} does not have",
                    service.service_id
                ));
                continue;
            }
            None => match service
                .parameters
                .iter()
                .find(|spec| normalize_label(&spec.label) == normalised)
            {
                Some(spec) => spec.key.clone(),
                None => {
                    problems.push(format!(
                        "offer property \"{label}\" is not mapped to a parameter of service {}; add it under [properties] in the mapping file",
                        service.service_id
                    ));
                    continue;
                }
            },
        };
        if values.iter().any(|(seen, _)| *seen == key) {
            problems.push(format!(
                "offer property \"{label}\" gives parameter {key} a second time"
            ));
            continue;
        }
        values.push((key, value));
    }
    let parameters = match params::from_legacy_values(service, &values) {
        Ok(parameters) => Some(parameters),
        Err(errors) => {
            problems.extend(errors.into_iter().map(|e| e.to_string()));
            None
        }
    };
    match (customer, parameters) {
        (Some(customer), Some(parameters)) if problems.is_empty() => Ok(NewOrder {
            order_id,
            service: service.service_id.clone(),
            service_version: service.version,
            group: service.group.clone(),
            customer,
            parameters,
            title: Some(title(project, item)),
            note: None,
            submitted_at: now,
            source: OrderSource::Eosc {
                oms_id: oms_id.to_owned(),
                project_id: item.project_id,
                project_item_id: item.id,
            },
            targets: None,
        }),
        _ => Err(problems),
    }
}

/// The project's organisation (its user group when it names one) and owner.
fn customer(mapping: &Mapping, project: &Project) -> Result<Customer, String> {
    let name = project
        .attribute("user_group_name")
        .or_else(|| project.attribute("organization"))
        .ok_or("the project names no organization (attributes organization or user_group_name)")?;
    if mapping.only_listed && !mapping.organizations.contains_key(&normalize_label(name)) {
        return Err(format!(
            "the project's organisation \"{name}\" is not one the mapping file lists under \
             [organizations] (only_listed_organizations)"
        ));
    }
    let org = mapping.organization(name);
    validation::identifier("org", &org).map_err(|_| {
        format!("the project's organisation \"{name}\" makes no organisation id; add it under [organizations] in the mapping file")
    })?;
    let uid = project
        .owner
        .uid
        .as_deref()
        .map(str::trim)
        .filter(|uid| !uid.is_empty())
        .ok_or("the project's owner has no uid")?;
    let subject =
        validation::subject("owner", uid).map_err(|e| format!("owner uid: {}", e.message))?;
    Ok(Customer { org, subject })
}

fn title(project: &Project, item: &ProjectItem) -> String {
    let offer = item.attribute("offer").unwrap_or("EOSC order");
    let service = item.attribute("service").unwrap_or_default();
    let mut title = match project.attribute("name") {
        Some(name) => format!("{service} {offer} for {name}"),
        None => format!("{service} {offer}"),
    };
    title = title.trim().to_owned();
    title.chars().take(TITLE_MAX).collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn organisations_become_identifiers() {
        let mapping =
            Mapping::parse("[organizations]\n\"Cyfronet  AGH\" = \"cyfronet\"\n").unwrap();
        assert_eq!(mapping.organization("cyfronet agh"), "cyfronet");
        assert_eq!(
            mapping.organization("ACME Research (Lab)"),
            "acme-research-lab"
        );
        assert_eq!(mapping.organization("acme"), "acme");
        assert!(Mapping::parse("[organizations]\nx = \"not ok\"\n").is_err());
        assert!(
            Mapping::parse("[offer]\n").is_err(),
            "unknown tables are refused"
        );
    }

    #[test]
    fn the_readme_example_maps_to_services_of_the_catalogue() {
        let readme = include_str!("../../README.md");
        let start = readme
            .find("# eosc.toml\n")
            .expect("the example in README.md");
        let example = &readme[start..];
        let example = &example[..example.find("```").unwrap()];
        let mapping = Mapping::parse(example).unwrap();
        let catalogue = catalogue();
        for service in mapping.offers.values() {
            assert!(catalogue.live_service(service).is_some(), "{service}");
        }
        assert_eq!(mapping.organization("Cyfronet AGH"), "cyfronet");
    }

    #[test]
    fn the_fingerprint_follows_the_text() {
        assert_eq!(
            Mapping::none().fingerprint(),
            Mapping::parse("").unwrap().fingerprint()
        );
        assert_ne!(
            Mapping::none().fingerprint(),
            Mapping::parse("[offers]\n").unwrap().fingerprint()
        );
    }

    fn catalogue() -> Catalogue {
        Catalogue::from_events(&crate::catalogue::shipped::shipped_events())
    }

    fn project(attributes: serde_json::Value) -> Project {
        serde_json::from_value(json!({
            "id": 3, "owner": {"uid": "alice@egi.eu", "email": "alice@acme.org", "name": "Alice"},
            "project_items": [1], "attributes": attributes
        }))
        .unwrap()
    }

    fn item(offer: &str, properties: serde_json::Value) -> ProjectItem {
        serde_json::from_value(json!({
            "id": 1, "project_id": 3, "status": {"value": "new", "type": "created"},
            "attributes": {"category": "Compute", "service": "EGI Cloud compute",
                "offer": offer, "offer_properties": properties}
        }))
        .unwrap()
    }

    fn seed_properties() -> serde_json::Value {
        json!([
            {"label": "Number of CPU Cores", "value": "4"},
            {"label": "Amount of RAM per CPU core", "value": "2"},
            {"label": "Local disk", "value": 40},
            {"label": "Number of VM instances", "value": "2"},
            {"label": "Access type", "value": "opportunistic"},
            {"label": "Start of service", "value": "02/12/2019"},
            {"label": "Number of days", "value": "2"}
        ])
    }

    fn now() -> jiff::Timestamp {
        "2026-03-01T10:00:00Z".parse().unwrap()
    }

    #[test]
    fn an_item_maps_as_its_legacy_string_would() {
        let catalogue = catalogue();
        let order = map(
            &catalogue,
            &Mapping::none(),
            "7",
            &project(json!({"name": "Lab", "organization": "ACME", "user_group_name": ""})),
            &item("General purpose", seed_properties()),
            "o1".into(),
            now(),
        )
        .unwrap();
        let legacy = crate::orders::legacy::parse(
            &catalogue,
            "Compute/EGI Cloud compute/General purpose?Number of CPU Cores=4&Amount of RAM per CPU core=2&Local disk=40&Number of VM instances=2&Access type=opportunistic&Start of service=02/12/2019&Number of days=2",
        )
        .unwrap();
        assert_eq!(order.service, "cloud-compute");
        assert_eq!(order.parameters, legacy.parameters);
        assert_eq!(
            (order.customer.org.as_str(), order.customer.subject.as_str()),
            ("acme", "alice@egi.eu")
        );
        assert_eq!(
            order.source,
            OrderSource::Eosc {
                oms_id: "7".into(),
                project_id: 3,
                project_item_id: 1
            }
        );
        let grouped = map(
            &catalogue,
            &Mapping::none(),
            "7",
            &project(json!({"organization": "ACME", "user_group_name": "vo.alpha.eu"})),
            &item("General purpose", seed_properties()),
            "o2".into(),
            now(),
        )
        .unwrap();
        assert_eq!(grouped.customer.org, "vo.alpha.eu");

        // A store that takes orders only for the organisations it lists.
        let strict = Mapping::parse(
            "only_listed_organizations = true\n[organizations]\n\"ACME\" = \"acme\"\n",
        )
        .unwrap();
        let mapped = |org: &str, id: &str| {
            map(
                &catalogue,
                &strict,
                "7",
                &project(json!({"organization": org})),
                &item("General purpose", seed_properties()),
                id.into(),
                now(),
            )
        };
        assert_eq!(mapped("acme", "o3").unwrap().customer.org, "acme");
        let refused = mapped("Globex", "o4").unwrap_err();
        assert!(
            refused
                .iter()
                .any(|p| p.contains("Globex") && p.contains("only_listed")),
            "{refused:?}"
        );
    }

    #[test]
    fn a_mapping_file_adds_offers_and_properties() {
        let mapping = Mapping::parse(
            "[offers]\n\"compute/egi cloud compute/small vm\" = \"cloud-compute\"\n\
             [properties]\n\"CPU cores\" = \"cpu_cores\"\n",
        )
        .unwrap();
        let mut properties = seed_properties();
        properties[0]["label"] = json!("CPU cores");
        let order = map(
            &catalogue(),
            &mapping,
            "7",
            &project(json!({"organization": "acme"})),
            &item("Small VM", properties),
            "o1".into(),
            now(),
        )
        .unwrap();
        assert_eq!(order.parameters.as_map()["cpu_cores"], json!(4));
    }

    #[test]
    fn what_is_unmapped_is_named() {
        let mut properties = seed_properties();
        properties[0]["label"] = json!("GPUs");
        let problems = map(
            &catalogue(),
            &Mapping::none(),
            "7",
            &project(json!({"organization": "acme"})),
            &item("Huge machine", properties.clone()),
            "o1".into(),
            now(),
        )
        .unwrap_err();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].contains("Compute/EGI Cloud compute/Huge machine"),
            "{problems:?}"
        );
        let problems = map(
            &catalogue(),
            &Mapping::none(),
            "7",
            &project(json!({})),
            &item("General purpose", properties),
            "o1".into(),
            now(),
        )
        .unwrap_err();
        assert!(
            problems.iter().any(|p| p.contains("no organization")),
            "{problems:?}"
        );
        assert!(
            problems.iter().any(|p| p.contains("\"GPUs\"")),
            "{problems:?}"
        );
        assert!(
            problems.iter().any(|p| p.contains("cpu_cores")),
            "{problems:?}"
        );
    }
}
