//! Events of the `notification_preferences` aggregate, one per subject (a
//! customer or shifter): the kinds of mail it does not want.

use serde::{Deserialize, Serialize};

use crate::EventPayload;

/// The kinds of mail pactum sends: stable strings, used for opt-outs.
pub const KINDS: [&str; 10] = [
    "comment",
    "question",
    "proposal",
    "decision",
    "agreement_issued",
    "provisioning_step",
    "new_order",
    "at_risk",
    "breach",
    "service_level",
];

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationPreferencesSet {
    pub subject: String,
    /// Kinds (from [`KINDS`]) not to be mailed, sorted.
    pub opted_out: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum NotificationEvent {
    NotificationPreferencesSet(NotificationPreferencesSet),
}

impl EventPayload for NotificationEvent {
    const AGGREGATE_TYPE: &'static str = "notification_preferences";

    fn event_type(&self) -> &'static str {
        match self {
            Self::NotificationPreferencesSet(_) => "NotificationPreferencesSet",
        }
    }

    fn current_version(event_type: &str) -> Option<u32> {
        (event_type == "NotificationPreferencesSet").then_some(1)
    }
}
