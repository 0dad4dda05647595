//! The mapping file of `pactum import-jira` (TOML): JIRA status names to pactum
//! statuses, JIRA users to pactum subjects, and where a ticket's organisation
//! comes from. `default-mapping.toml` is the built-in one; a file given with
//! `--mapping` adds its entries to it, replacing those of the same name.

use std::collections::BTreeMap;

use pactum_events::order::OrderStatus;
use serde::Deserialize;

/// The built-in mapping, documented in place.
pub const DEFAULT: &str = include_str!("default-mapping.toml");

/// The file as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    organisation_field: Option<String>,
    organisation: Option<String>,
    #[serde(default)]
    statuses: BTreeMap<String, String>,
    #[serde(default)]
    users: BTreeMap<String, String>,
    #[serde(default)]
    organisations: BTreeMap<String, String>,
}

/// A mapping, checked: every status maps to one a JIRA ticket may take here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mapping {
    /// The ticket field naming the customer's organisation.
    pub organisation_field: Option<String>,
    /// The organisation of tickets nothing else places.
    pub organisation: Option<String>,
    /// By status name, lower case.
    statuses: BTreeMap<String, OrderStatus>,
    /// JIRA user (name, key, accountId or e-mail address) → subject.
    users: BTreeMap<String, String>,
    /// Reporter or organisation field value → organisation.
    organisations: BTreeMap<String, String>,
}

impl Default for Mapping {
    fn default() -> Self {
        let mut mapping = Self {
            organisation_field: None,
            organisation: None,
            statuses: BTreeMap::new(),
            users: BTreeMap::new(),
            organisations: BTreeMap::new(),
        };
        mapping.add(DEFAULT).expect("the built-in mapping is valid");
        mapping
    }
}

impl Mapping {
    /// The built-in mapping with `text` (a mapping file) added to it.
    pub fn with_file(text: &str) -> Result<Self, String> {
        let mut mapping = Self::default();
        mapping.add(text)?;
        Ok(mapping)
    }

    fn add(&mut self, text: &str) -> Result<(), String> {
        let file: File = toml::from_str(text).map_err(|e| e.to_string())?;
        let mut problems = Vec::new();
        for (name, status) in file.statuses {
            match target(&status) {
                Ok(status) => {
                    self.statuses.insert(name.trim().to_lowercase(), status);
                }
                Err(reason) => problems.push(format!("statuses.{name:?}: {reason}")),
            }
        }
        if !problems.is_empty() {
            return Err(problems.join("; "));
        }
        if file.organisation_field.is_some() {
            self.organisation_field = file.organisation_field;
        }
        if file.organisation.is_some() {
            self.organisation = file.organisation;
        }
        self.users.extend(file.users);
        self.organisations.extend(file.organisations);
        Ok(())
    }

    /// The pactum status of a JIRA status name (ignoring case and the spaces
    /// around it).
    pub fn status(&self, name: &str) -> Option<OrderStatus> {
        self.statuses.get(&name.trim().to_lowercase()).copied()
    }

    /// The subject a JIRA user acts as, looked up by any of its names.
    pub fn user<'a>(&self, names: impl IntoIterator<Item = &'a str>) -> Option<&str> {
        names
            .into_iter()
            .find_map(|name| self.users.get(name).map(String::as_str))
    }

    /// The organisation `name` (a reporter's name, or a value of the
    /// organisation field) stands for.
    pub fn organisation_of<'a>(&self, names: impl IntoIterator<Item = &'a str>) -> Option<&str> {
        names
            .into_iter()
            .find_map(|name| self.organisations.get(name).map(String::as_str))
    }
}

/// A pactum status a JIRA status may map to.
fn target(name: &str) -> Result<OrderStatus, String> {
    let status: OrderStatus = name.parse()?;
    if status == OrderStatus::Active {
        // Active means an agreement pactum issued, which no ticket has: such an
        // order could never be closed or cancelled.
        return Err(
            "active is an order with an agreement issued by pactum; map to closed (the service was \
             delivered and ended) or approved (to provision and activate it in pactum)"
                .into(),
        );
    }
    Ok(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_mapping_knows_the_common_statuses() {
        let mapping = Mapping::default();
        for (name, status) in [
            ("Open", OrderStatus::Submitted),
            ("in progress", OrderStatus::InReview),
            ("Waiting for Customer", OrderStatus::WaitingForCustomer),
            ("Approved", OrderStatus::Approved),
            ("Rejected", OrderStatus::Rejected),
            (" Done ", OrderStatus::Closed),
            ("Closed", OrderStatus::Closed),
            ("Resolved", OrderStatus::Closed),
            ("Cancelled", OrderStatus::Cancelled),
        ] {
            assert_eq!(mapping.status(name), Some(status), "{name}");
        }
        assert_eq!(mapping.status("Triage"), None);
        assert_eq!(mapping.organisation, None);
    }

    #[test]
    fn a_file_adds_to_the_built_in_mapping_and_replaces_its_entries() {
        let mapping = Mapping::with_file(
            r#"
            organisation_field = "customfield_10500"
            organisation = "egi"
            [statuses]
            "Triage" = "in_review"
            "Done" = "approved"
            [users]
            "jdoe" = "john.doe@example.org"
            [organisations]
            "University of Vienna" = "univie"
            "#,
        )
        .unwrap();
        assert_eq!(mapping.status("triage"), Some(OrderStatus::InReview));
        assert_eq!(mapping.status("Done"), Some(OrderStatus::Approved));
        assert_eq!(mapping.status("Open"), Some(OrderStatus::Submitted));
        assert_eq!(
            mapping.user(["JIRAUSER10100", "jdoe"]),
            Some("john.doe@example.org")
        );
        assert_eq!(
            mapping.organisation_of(["University of Vienna"]),
            Some("univie")
        );
        assert_eq!(
            mapping.organisation_field.as_deref(),
            Some("customfield_10500")
        );
        assert_eq!(mapping.organisation.as_deref(), Some("egi"));
    }

    #[test]
    fn a_file_that_maps_to_no_status_here_is_refused() {
        let error = Mapping::with_file("[statuses]\n\"Live\" = \"active\"\n\"X\" = \"done\"\n")
            .unwrap_err();
        assert!(
            error.contains("\"Live\"") && error.contains("agreement"),
            "{error}"
        );
        assert!(error.contains("\"X\"") && error.contains("done"), "{error}");
        assert!(Mapping::with_file("[stati]\n").is_err(), "unknown tables");
    }
}
