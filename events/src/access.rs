//! Events of the `access_token` aggregate: API tokens issued and revoked by admins.
//!
//! Only the SHA-256 of a token is ever stored; the token itself is shown once.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::EventPayload;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenIssued {
    pub token_id: String,
    pub subject: String,
    /// One of `customer`, `shifter`, `provider`, `auditor`, `admin`.
    pub role: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// Hex SHA-256 of the token string.
    pub token_sha256: String,
    /// Where mail for this subject goes (notifications).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Timestamp>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRevoked {
    pub token_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum AccessEvent {
    TokenIssued(TokenIssued),
    TokenRevoked(TokenRevoked),
}

impl EventPayload for AccessEvent {
    const AGGREGATE_TYPE: &'static str = "access_token";

    fn event_type(&self) -> &'static str {
        match self {
            Self::TokenIssued(_) => "TokenIssued",
            Self::TokenRevoked(_) => "TokenRevoked",
        }
    }

    fn current_version(event_type: &str) -> Option<u32> {
        match event_type {
            "TokenIssued" | "TokenRevoked" => Some(1),
            _ => None,
        }
    }
}
