//! Events of the `handling_targets` aggregate: how fast orders of a group (or of
//! one service of it) are to be handled, in business time.
//!
//! One aggregate per target key: the group id, or `<group>/<service>` for a
//! service's own targets, which take precedence over its group's. Each definition
//! is a whole new version (1, 2, ...); an order is pinned to the version in force
//! when it was submitted (the order's `HandlingTargetsPinned` copies it), so a
//! change never rewrites the past.

use pactum_calendar::BusinessCalendar;
use serde::{Deserialize, Serialize};

use crate::EventPayload;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandlingTargetsDefined {
    pub group: String,
    /// Set for a service's own targets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// 1 for the first definition of this key, then 2, 3, ...
    pub version: u32,
    /// Time to first response (assignment or first public reply), in business
    /// seconds; `None`: no target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_response_seconds: Option<i64>,
    /// Time to decision (approve or reject), in business seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision_seconds: Option<i64>,
    /// Share of a target after which the order is at risk (1..=99).
    pub warning_percent: u8,
    pub calendar: BusinessCalendar,
}

impl HandlingTargetsDefined {
    /// The aggregate id of these targets.
    pub fn key(&self) -> String {
        target_key(&self.group, self.service.as_deref())
    }
}

/// The aggregate id of a group's targets, or of one service's.
pub fn target_key(group: &str, service: Option<&str>) -> String {
    match service {
        Some(service) => format!("{group}/{service}"),
        None => group.to_owned(),
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum HandlingEvent {
    HandlingTargetsDefined(HandlingTargetsDefined),
}

impl EventPayload for HandlingEvent {
    const AGGREGATE_TYPE: &'static str = "handling_targets";

    fn event_type(&self) -> &'static str {
        match self {
            Self::HandlingTargetsDefined(_) => "HandlingTargetsDefined",
        }
    }

    fn current_version(event_type: &str) -> Option<u32> {
        (event_type == "HandlingTargetsDefined").then_some(1)
    }
}
