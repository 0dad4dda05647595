//! Events of the `membership` aggregate: who belongs to an order-type group (its
//! shifters) or to a resource provider (its operators). One aggregate per group or
//! provider, keyed `group:<id>` or `provider:<id>`; the central list of people the
//! replaced system lacked. A token is a credential; what its holder may work on
//! comes from here.

use serde::{Deserialize, Serialize};

use crate::EventPayload;

/// What a membership is of.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MemberOf {
    /// An order-type group: its members are its shifters.
    Group,
    /// A resource provider: its members are its operators.
    Provider,
}

impl MemberOf {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Group => "group",
            Self::Provider => "provider",
        }
    }

    /// The id of the membership aggregate of `scope` (a group's or a provider's id).
    pub fn aggregate_id(self, scope: &str) -> String {
        format!("{}:{scope}", self.as_str())
    }
}

/// `subject` joined the group or provider.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberAdded {
    pub of: MemberOf,
    /// The group's or provider's id.
    pub scope: String,
    pub subject: String,
    /// The token whose grant this records (an admin issued a shifter's or an
    /// operator's token naming the group or provider), if any. Such a
    /// membership counts for tokens of that role; one without (an admin's
    /// direct decision) counts for every token of the person (ADR 0014).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

/// `subject` left the group or provider; from the next request on, it works
/// there no more, whatever tokens it holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberRemoved {
    pub of: MemberOf,
    pub scope: String,
    pub subject: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum MembershipEvent {
    MemberAdded(MemberAdded),
    MemberRemoved(MemberRemoved),
}

impl EventPayload for MembershipEvent {
    const AGGREGATE_TYPE: &'static str = "membership";

    fn event_type(&self) -> &'static str {
        match self {
            Self::MemberAdded(_) => "MemberAdded",
            Self::MemberRemoved(_) => "MemberRemoved",
        }
    }

    fn current_version(event_type: &str) -> Option<u32> {
        match event_type {
            "MemberAdded" | "MemberRemoved" => Some(1),
            _ => None,
        }
    }
}
