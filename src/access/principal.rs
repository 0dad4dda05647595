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
