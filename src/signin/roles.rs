//! Roles from entitlements: the mapping file (`--oidc-roles`, TOML; the
//! default in `default-roles.toml`) that turns the `eduperson_entitlement`
//! values an OpenID provider releases into pactum roles.
//!
//! A rule's `match` is the whole entitlement (what follows `#` is ignored on
//! both sides), with `{name}` standing for one segment without `:`; the
//! role's scope (`org`, `group`, `provider`) may use those names. Every
//! entitlement is tried against the rules in order; the first rule that
//! matches it gives one role.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

use crate::access::Role;
use crate::validation;

/// The mapping file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MappingFile {
    #[serde(default)]
    entitlement: Vec<RuleFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    #[serde(rename = "match")]
    pattern: String,
    role: String,
    org: Option<String>,
    group: Option<String>,
    provider: Option<String>,
}

/// One rule, checked.
#[derive(Clone, Debug)]
struct Rule {
    pattern: Vec<Piece>,
    role: RoleTemplate,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Piece {
    Literal(String),
    Name(String),
}

#[derive(Clone, Debug)]
enum RoleTemplate {
    Customer(Vec<Piece>),
    Shifter(Vec<Piece>),
    Provider(Vec<Piece>),
    Auditor,
    Admin,
}

/// The rules that map entitlements to roles.
#[derive(Clone, Debug)]
pub struct RoleMap {
    rules: Vec<Rule>,
}

#[derive(Debug, thiserror::Error)]
pub enum RoleMapError {
    #[error("the roles file is not valid TOML for pactum: {0}")]
    Toml(#[from] toml::de::Error),
    #[error("rule {rule}: {reason}")]
    Rule { rule: usize, reason: String },
}

impl RoleMap {
    /// The mapping pactum ships (EGI Check-in's entitlements).
    pub fn shipped() -> Self {
        Self::parse(include_str!("default-roles.toml")).expect("the shipped roles file is valid")
    }

    pub fn parse(text: &str) -> Result<Self, RoleMapError> {
        let file: MappingFile = toml::from_str(text)?;
        let rules = file
            .entitlement
            .into_iter()
            .enumerate()
            .map(|(index, rule)| {
                Rule::checked(rule).map_err(|reason| RoleMapError::Rule {
                    rule: index + 1,
                    reason,
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { rules })
    }

    /// The roles `entitlements` give, merged: one customer role per
    /// organisation, one shifter role with every group, one provider role
    /// with every provider, auditor, admin. Entitlements no rule matches, and
    /// scopes that are not valid identifiers, give nothing.
    pub fn roles<'a>(&self, entitlements: impl IntoIterator<Item = &'a str>) -> Vec<Role> {
        let (mut orgs, mut groups, mut providers) =
            (BTreeSet::new(), BTreeSet::new(), BTreeSet::new());
        let (mut auditor, mut admin) = (false, false);
        for entitlement in entitlements {
            let value = entitlement.split('#').next().unwrap_or_default();
            let Some((rule, names)) = self
                .rules
                .iter()
                .find_map(|rule| matches(&rule.pattern, value).map(|names| (rule, names)))
            else {
                continue;
            };
            let scope = |template: &[Piece]| {
                let scope = fill(template, &names);
                validation::identifier("scope", &scope).ok()
            };
            match &rule.role {
                RoleTemplate::Customer(t) => orgs.extend(scope(t)),
                RoleTemplate::Shifter(t) => groups.extend(scope(t)),
                RoleTemplate::Provider(t) => providers.extend(scope(t)),
                RoleTemplate::Auditor => auditor = true,
                RoleTemplate::Admin => admin = true,
            }
        }
        let mut roles: Vec<Role> = Vec::new();
        roles.extend(orgs.into_iter().map(|org| Role::Customer { org }));
        if !groups.is_empty() {
            roles.push(Role::Shifter { groups });
        }
        if !providers.is_empty() {
            roles.push(Role::Provider { providers });
        }
        if auditor {
            roles.push(Role::Auditor);
        }
        if admin {
            roles.push(Role::Admin);
        }
        roles
    }
}

impl Rule {
    fn checked(rule: RuleFile) -> Result<Self, String> {
        let pattern = pieces(rule.pattern.split('#').next().unwrap_or_default())?;
        let names: BTreeSet<&str> = pattern
            .iter()
            .filter_map(|p| match p {
                Piece::Name(n) => Some(n.as_str()),
                Piece::Literal(_) => None,
            })
            .collect();
        let scope = |field: &str, value: Option<String>| -> Result<Vec<Piece>, String> {
            let value = value.ok_or_else(|| format!("role {} needs `{field}`", rule.role))?;
            let template = pieces(&value)?;
            for piece in &template {
                if let Piece::Name(name) = piece
                    && !names.contains(name.as_str())
                {
                    return Err(format!(
                        "`{field}` uses {{{name}}}, which `match` does not name"
                    ));
                }
            }
            Ok(template)
        };
        let extra = |fields: &[(&str, bool)]| -> Result<(), String> {
            match fields.iter().find(|(_, given)| *given) {
                Some((field, _)) => Err(format!("`{field}` does not apply to role {}", rule.role)),
                None => Ok(()),
            }
        };
        let (org, group, provider) = (
            rule.org.is_some(),
            rule.group.is_some(),
            rule.provider.is_some(),
        );
        let role = match rule.role.as_str() {
            "customer" => {
                extra(&[("group", group), ("provider", provider)])?;
                RoleTemplate::Customer(scope("org", rule.org.clone())?)
            }
            "shifter" => {
                extra(&[("org", org), ("provider", provider)])?;
                RoleTemplate::Shifter(scope("group", rule.group.clone())?)
            }
            "provider" => {
                extra(&[("org", org), ("group", group)])?;
                RoleTemplate::Provider(scope("provider", rule.provider.clone())?)
            }
            "auditor" | "admin" => {
                extra(&[("org", org), ("group", group), ("provider", provider)])?;
                if rule.role == "admin" {
                    RoleTemplate::Admin
                } else {
                    RoleTemplate::Auditor
                }
            }
            other => {
                return Err(format!(
                    "unknown role {other:?}: one of customer, shifter, provider, auditor, admin"
                ));
            }
        };
        Ok(Self { pattern, role })
    }
}

/// `a:{x}:b` as literal and named pieces.
fn pieces(text: &str) -> Result<Vec<Piece>, String> {
    let mut pieces = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        if open > 0 {
            pieces.push(Piece::Literal(rest[..open].to_owned()));
        }
        let close = rest[open..]
            .find('}')
            .ok_or_else(|| format!("{text:?}: a `{{` without its `}}`"))?
            + open;
        let name = &rest[open + 1..close];
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!("{text:?}: {{{name}}} is not a name"));
        }
        if matches!(pieces.last(), Some(Piece::Name(_))) {
            return Err(format!("{text:?}: two names with nothing between them"));
        }
        pieces.push(Piece::Name(name.to_owned()));
        rest = &rest[close + 1..];
    }
    if !rest.is_empty() {
        pieces.push(Piece::Literal(rest.to_owned()));
    }
    if pieces.is_empty() {
        return Err("an empty pattern".into());
    }
    Ok(pieces)
}

/// The names `pattern` binds if it matches all of `value`.
fn matches(pattern: &[Piece], value: &str) -> Option<BTreeMap<String, String>> {
    let mut names = BTreeMap::new();
    let mut rest = value;
    for (index, piece) in pattern.iter().enumerate() {
        match piece {
            Piece::Literal(literal) => rest = rest.strip_prefix(literal.as_str())?,
            Piece::Name(name) => {
                // A name ends at the next literal (or the end), and spans no `:`.
                let end = match pattern.get(index + 1) {
                    Some(Piece::Literal(next)) => rest.find(next.as_str())?,
                    _ => rest.len(),
                };
                let segment = &rest[..end];
                if segment.is_empty() || segment.contains(':') {
                    return None;
                }
                names.insert(name.clone(), segment.to_owned());
                rest = &rest[end..];
            }
        }
    }
    rest.is_empty().then_some(names)
}

fn fill(template: &[Piece], names: &BTreeMap<String, String>) -> String {
    template
        .iter()
        .map(|piece| match piece {
            Piece::Literal(literal) => literal.as_str(),
            Piece::Name(name) => names.get(name).map_or("", String::as_str),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(items: &[&str]) -> BTreeSet<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn check_in_entitlements_map_to_roles_ignoring_what_follows_the_hash() {
        let map = RoleMap::shipped();
        let roles = map.roles([
            "urn:mace:egi.eu:group:vo.alpha:role=member#aai.egi.eu",
            "urn:mace:egi.eu:group:ops.egi.eu:compute:role=shifter#aai.egi.eu",
            "urn:mace:egi.eu:group:ops.egi.eu:storage:role=shifter",
            "urn:mace:egi.eu:group:ops.egi.eu:providers:cesnet-mcc:role=operator#aai.egi.eu",
            "urn:mace:egi.eu:group:ops.egi.eu:role=auditor#aai.egi.eu",
            "urn:mace:egi.eu:group:vo.alpha:sub:role=member#aai.egi.eu",
            "urn:mace:egi.eu:group:vo.alpha:role=manager#aai.egi.eu",
            "something else entirely",
        ]);
        assert_eq!(
            roles,
            [
                Role::Customer {
                    org: "vo.alpha".into()
                },
                Role::Shifter {
                    groups: set(&["compute", "storage"])
                },
                Role::Provider {
                    providers: set(&["cesnet-mcc"])
                },
                Role::Auditor,
            ]
        );
        assert!(
            map.roles(["urn:mace:egi.eu:group:vo.alpha:role=member"])
                .len()
                == 1
        );
        assert!(map.roles(Vec::<&str>::new()).is_empty());
    }

    #[test]
    fn a_file_of_ones_own_is_checked_rule_by_rule() {
        let map = RoleMap::parse(
            r#"
            [[entitlement]]
            match = "urn:example:{team}:ops"
            role = "shifter"
            group = "{team}"
            "#,
        )
        .unwrap();
        assert_eq!(
            map.roles(["urn:example:hpc:ops"]),
            [Role::Shifter {
                groups: set(&["hpc"])
            }]
        );
        for (text, needle) in [
            (
                "[[entitlement]]\nmatch = \"x\"\nrole = \"wizard\"",
                "unknown role",
            ),
            (
                "[[entitlement]]\nmatch = \"x\"\nrole = \"customer\"",
                "needs `org`",
            ),
            (
                "[[entitlement]]\nmatch = \"x\"\nrole = \"customer\"\norg = \"{vo}\"",
                "does not name",
            ),
            (
                "[[entitlement]]\nmatch = \"x\"\nrole = \"admin\"\norg = \"a\"",
                "does not apply",
            ),
            (
                "[[entitlement]]\nmatch = \"a{b\"\nrole = \"admin\"",
                "without its",
            ),
            (
                "[[entitlement]]\nmatch = \"x\"\nrole = \"admin\"\ncolour = 1",
                "unknown field",
            ),
        ] {
            let error = RoleMap::parse(text).unwrap_err().to_string();
            assert!(error.contains(needle), "{text}: {error}");
        }
    }
}
