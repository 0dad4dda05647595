//! Events of the `eosc` aggregate: pactum as an order management system (OMS)
//! of the EOSC Marketplace (ADR 0020). One aggregate per OMS (id: the OMS id
//! as the Marketplace names it), holding what the adapter must remember across
//! restarts, so that every Marketplace event and every pactum event is acted
//! on exactly once:
//!
//! - how far the Marketplace's events feed was read ([`EoscFeedRead`]);
//! - which project item became which order ([`EoscItemLinked`]), or why one
//!   could not ([`EoscItemUnmapped`]);
//! - which of the customer's Marketplace messages were brought into their
//!   order ([`EoscMessageImported`]);
//! - what pactum told the Marketplace, keyed by the log position of the order
//!   event that caused it ([`EoscPushed`]), and up to where the log was
//!   followed with everything before it told ([`EoscLogFollowed`]).
//!
//! Ids of the Marketplace are its own: a project's `id`, a project item's `id`
//! within its project, a message's `id`.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::EventPayload;

/// The Marketplace's events feed was read up to `timestamp` (its events carry
/// whole seconds; the next read asks from this one on again, so events of the
/// same second are read twice and must be harmless).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EoscFeedRead {
    pub timestamp: Timestamp,
}

/// A project item became an order (appended with the order's submission).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EoscItemLinked {
    pub project_id: u64,
    pub project_item_id: u64,
    pub order_id: String,
}

/// A project item could not be mapped to an order: the item was answered with
/// an internal message naming each problem and left as it was.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EoscItemUnmapped {
    pub project_id: u64,
    pub project_item_id: u64,
    /// What is missing or refused, one line each, as the message said.
    pub problems: Vec<String>,
    /// The internal message posted on the item.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<u64>,
    /// SHA-256 (hex) of the mapping the item was tried with: a changed
    /// mapping tries the item again.
    pub mapping: String,
}

/// A customer's message on a project item was brought into its order, as a
/// public comment or the answer to the open question (appended with that
/// order event), or `not_imported` when the order takes no more messages.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EoscMessageImported {
    pub project_id: u64,
    pub project_item_id: u64,
    pub message_id: u64,
    pub order_id: String,
    /// `comment`, `answer` or `not_imported`.
    pub imported_as: String,
}

/// What was told to the Marketplace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Push {
    /// The project item's status was set.
    Status {
        /// One of the Marketplace's status types (`registered`, `ready`...).
        status_type: String,
        /// The text shown with it.
        value: String,
    },
    /// A message was posted on the project item.
    Message {
        message_id: u64,
        /// `public` or `internal`.
        scope: String,
    },
}

impl Push {
    /// `status` or `message`: with the cause, what keys a push.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Status { .. } => "status",
            Self::Message { .. } => "message",
        }
    }
}

/// Something pactum said (a status, a message) reached the Marketplace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EoscPushed {
    /// The global position of the order event that caused it: with the
    /// push's kind, the key that makes it happen once.
    pub cause: u64,
    pub order_id: String,
    pub project_id: u64,
    pub project_item_id: u64,
    pub push: Push,
}

/// Every push caused by an event at or before `position` reached the
/// Marketplace (or needs none): following the log resumes after it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EoscLogFollowed {
    pub position: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum EoscEvent {
    EoscFeedRead(EoscFeedRead),
    EoscItemLinked(EoscItemLinked),
    EoscItemUnmapped(EoscItemUnmapped),
    EoscMessageImported(EoscMessageImported),
    EoscPushed(EoscPushed),
    EoscLogFollowed(EoscLogFollowed),
}

impl EventPayload for EoscEvent {
    const AGGREGATE_TYPE: &'static str = "eosc";

    fn event_type(&self) -> &'static str {
        match self {
            Self::EoscFeedRead(_) => "EoscFeedRead",
            Self::EoscItemLinked(_) => "EoscItemLinked",
            Self::EoscItemUnmapped(_) => "EoscItemUnmapped",
            Self::EoscMessageImported(_) => "EoscMessageImported",
            Self::EoscPushed(_) => "EoscPushed",
            Self::EoscLogFollowed(_) => "EoscLogFollowed",
        }
    }

    fn current_version(event_type: &str) -> Option<u32> {
        match event_type {
            "EoscFeedRead"
            | "EoscItemLinked"
            | "EoscItemUnmapped"
            | "EoscMessageImported"
            | "EoscPushed"
            | "EoscLogFollowed" => Some(1),
            _ => None,
        }
    }
}
