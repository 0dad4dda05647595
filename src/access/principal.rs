use std::collections::BTreeSet;

use pactum_events::Actor;
use pactum_projections::audience::Audience;

/// The role of a caller, with what scopes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Role {
    /// Orders for, and sees only, its organisation.
    Customer { org: String },
    /// Works the orders of its order-type groups (its memberships).
    Shifter { groups: BTreeSet<String> },
    /// A resource provider's operator: sees what is addressed to its providers
    /// (its memberships).
    Provider { providers: BTreeSet<String> },
    /// Reads everything, changes nothing.
    Auditor,
    /// A monitoring system: pushes probe results and heartbeats for any
    /// endpoint, and sees nothing else.
    Monitoring,
    /// Manages the catalogue, groups and tokens.
    Admin,
    /// pactum itself (catalogue seeding, imports); never a token.
    System,
}

impl Role {
    pub fn name(&self) -> &'static str {
        match self {
            Role::Customer { .. } => "customer",
            Role::Shifter { .. } => "shifter",
            Role::Provider { .. } => "provider",
            Role::Auditor => "auditor",
            Role::Monitoring => "monitoring",
            Role::Admin => "admin",
            Role::System => "system",
        }
    }

    /// Staff first, then providers' operators, then customers: the order in
    /// which a person with several roles is taken to act and see.
    fn privilege(&self) -> u8 {
        match self {
            Role::System => 0,
            Role::Admin => 1,
            Role::Auditor => 2,
            Role::Shifter { .. } => 3,
            Role::Provider { .. } => 4,
            Role::Customer { .. } => 5,
            Role::Monitoring => 6,
        }
    }

    fn scope(&self) -> String {
        let join = |set: &BTreeSet<String>| set.iter().cloned().collect::<Vec<_>>().join(",");
        match self {
            Role::Customer { org } => org.clone(),
            Role::Shifter { groups } => join(groups),
            Role::Provider { providers } => join(providers),
            Role::Auditor | Role::Monitoring | Role::Admin | Role::System => String::new(),
        }
    }
}

/// An authenticated caller: a person with the role its credential names and,
/// through memberships, maybe more (ADR 0014).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    pub subject: String,
    /// The role the credential names (a shifter's groups and an operator's
    /// providers are its memberships).
    pub role: Role,
    /// Further roles the person holds through memberships: a customer or an
    /// auditor who is also a shifter of some groups, or an operator of some
    /// providers. Empty for most.
    pub also: Vec<Role>,
}

impl Principal {
    pub fn new(subject: impl Into<String>, role: Role) -> Self {
        Self {
            subject: subject.into(),
            role,
            also: Vec::new(),
        }
    }

    pub fn system(subject: impl Into<String>) -> Self {
        Self::new(subject, Role::System)
    }

    /// Every role it holds: the credential's first.
    pub fn roles(&self) -> impl Iterator<Item = &Role> {
        std::iter::once(&self.role).chain(&self.also)
    }

    /// Each of its roles as a principal of that one role, most privileged
    /// first (see `policy::acting`).
    pub fn by_privilege(&self) -> impl Iterator<Item = Principal> + '_ {
        let mut roles: Vec<&Role> = self.roles().collect();
        roles.sort_by_key(|role| role.privilege());
        roles
            .into_iter()
            .map(|role| Principal::new(self.subject.clone(), role.clone()))
    }

    pub fn role_name(&self) -> &'static str {
        self.role.name()
    }

    /// Whose stored answers an `Idempotency-Key` replays: the whole principal,
    /// not its name. Two tokens named `sam` in other organisations, roles, groups
    /// or providers are different callers and never see each other's answers.
    pub fn idempotency_scope(&self) -> String {
        let mut parts = vec![serde_json::json!(self.subject)];
        for role in self.roles() {
            parts.push(serde_json::json!(role.name()));
            parts.push(serde_json::json!(role.scope()));
        }
        // JSON keeps the parts apart whatever characters they hold.
        serde_json::Value::Array(parts).to_string()
    }

    /// The actor recorded in the envelope of the events this principal causes:
    /// its credential's role, or, for a command decided as one of its roles
    /// (`policy::acting`), that role.
    pub fn actor(&self) -> Actor {
        Actor {
            subject: self.subject.clone(),
            role: self.role_name().to_owned(),
            org: match &self.role {
                Role::Customer { org } => Some(org.clone()),
                _ => None,
            },
        }
    }

    /// How order data is shaped for this principal's credential role.
    pub fn audience(&self) -> Audience {
        match self.role {
            Role::Customer { .. } => Audience::Customer,
            _ => Audience::Staff,
        }
    }
}
