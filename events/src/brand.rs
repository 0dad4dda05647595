//! Events of the `brand` aggregate: how an organisation (a tenant, a reseller)
//! presents the documents issued under it. Adding one is data, not code.

use serde::{Deserialize, Serialize};

use crate::EventPayload;

/// A logo image, carried whole (base64) so the log alone can re-render documents.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogoImage {
    /// `image/png`, `image/jpeg` or `image/svg+xml`.
    pub media_type: String,
    pub base64: String,
    /// Hex SHA-256 of the decoded bytes.
    pub sha256: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrandDefined {
    /// The organisation the brand belongs to.
    pub org: String,
    pub name: String,
    /// `#rrggbb`.
    pub colour: String,
    pub footer: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logo: Option<LogoImage>,
}

/// The organisation's brand is gone: documents issued from now on carry the
/// issuer's default brand; documents already issued keep theirs (their logo
/// stays in the `BrandDefined` event before this one).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrandRemoved {
    /// The organisation whose brand was removed.
    pub org: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum BrandEvent {
    BrandDefined(BrandDefined),
    BrandRemoved(BrandRemoved),
}

impl EventPayload for BrandEvent {
    const AGGREGATE_TYPE: &'static str = "brand";

    fn event_type(&self) -> &'static str {
        match self {
            Self::BrandDefined(_) => "BrandDefined",
            Self::BrandRemoved(_) => "BrandRemoved",
        }
    }

    fn current_version(event_type: &str) -> Option<u32> {
        match event_type {
            "BrandDefined" | "BrandRemoved" => Some(1),
            _ => None,
        }
    }
}
