use std::collections::BTreeSet;

use pactum_events::Actor;
use pactum_projections::audience::Audience;

/// The role of a caller, with what scopes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Role {
    /// Orders for, and sees only, its organisation.
    Customer { org: String },
    /// Works the orders of its order-type groups.
    Shifter { groups: BTreeSet<String> },
    /// A resource provider's operator: sees what is addressed to its provider.
    Provider { provider: String },
    /// Reads everything, changes nothing.
    Auditor,
    /// Manages the catalogue, groups and tokens.
    Admin,
    /// pactum itself (catalogue seeding, imports); never a token.
    System,
}

/// An authenticated caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    pub subject: String,
    pub role: Role,
}

impl Principal {
    pub fn system(subject: impl Into<String>) -> Self {
        Self {
            subject: subject.into(),
            role: Role::System,
        }
    }

    pub fn role_name(&self) -> &'static str {
        match self.role {
            Role::Customer { .. } => "customer",
            Role::Shifter { .. } => "shifter",
            Role::Provider { .. } => "provider",
            Role::Auditor => "auditor",
            Role::Admin => "admin",
            Role::System => "system",
        }
    }

    /// Whose stored answers an `Idempotency-Key` replays: the whole principal,
    /// not its name. Two tokens named `sam` in other organisations, roles, groups
    /// or providers are different callers and never see each other's answers.
    pub fn idempotency_scope(&self) -> String {
        let scope = match &self.role {
            Role::Customer { org } => org.clone(),
            Role::Shifter { groups } => groups.iter().cloned().collect::<Vec<_>>().join(","),
            Role::Provider { provider } => provider.clone(),
            Role::Auditor | Role::Admin | Role::System => String::new(),
        };
        // JSON keeps the parts apart whatever characters they hold.
        serde_json::json!([self.subject, self.role_name(), scope]).to_string()
    }

    /// The actor recorded in the envelope of the events this principal causes.
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

    /// How order data is shaped for this principal.
    pub fn audience(&self) -> Audience {
        match self.role {
            Role::Customer { .. } => Audience::Customer,
            _ => Audience::Staff,
        }
    }
}
