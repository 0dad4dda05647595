//! Brands: how an organisation (a tenant, a reseller) presents the documents
//! issued under it — name, colour, footer text, logo. Adding one is data
//! (`pactum brand set`), never code. Brands are events of the `brand` aggregate,
//! one per organisation, the logo carried in the event so the log alone can
//! render every document again.
//!
//! - [`commands`] — what `pactum brand set` asks, validated into the event.
//! - [`aggregate`] — the `brand` aggregate; [`errors`] — why it refuses.
//! - [`logo`] — a logo's size in pixels, from its header.
//! - [`queries`] — the SQL brands read (logos by hash).
//!
//! [`define`] and [`remove`] run through the runner (`If-Match`, idempotency),
//! for `pactum brand set` and `PUT`/`DELETE /v1/brands/{org}` alike.

pub mod aggregate;
pub mod commands;
pub mod errors;
pub mod logo;
pub mod queries;

pub use aggregate::{Brand, BrandCommand};
pub use commands::BrandRequest;
pub use errors::{BrandError, DefineError};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use pactum_events::brand::{BrandDefined, BrandEvent, LogoImage};
use pactum_events::{EventPayload, RecordedEvent};
use serde::Serialize;

use crate::documents::Renderer;
use crate::documents::model::Logo;
use crate::runner::{self, CommandRequest, Ran, Source, Step};
use crate::store::{EventStore, StoreError};

/// The largest logo accepted: documents embed it, the log carries it.
pub const LOGO_MAX_BYTES: usize = 256 * 1024;

/// The media types documents can embed.
pub const LOGO_TYPES: [&str; 3] = ["image/png", "image/jpeg", "image/svg+xml"];

/// The media type of an image file, by its first bytes.
pub fn sniff_media_type(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
        Some("image/jpeg")
    } else if std::str::from_utf8(&bytes[..bytes.len().min(512)])
        .is_ok_and(|head| head.contains("<svg"))
    {
        Some("image/svg+xml")
    } else {
        None
    }
}

/// The decoded image of a logo.
pub fn logo_of(image: &LogoImage) -> Option<Logo> {
    Some(Logo {
        media_type: image.media_type.clone(),
        bytes: STANDARD.decode(&image.base64).ok()?,
    })
}

/// A brand as callers see it: the logo by its type, hash and size, not its bytes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct BrandView {
    pub org: String,
    pub name: String,
    pub colour: String,
    pub footer: String,
    pub logo: Option<LogoSummary>,
    /// The `brand` aggregate's version (the `ETag`).
    pub version: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct LogoSummary {
    pub media_type: String,
    /// Hex SHA-256 of the image's bytes.
    pub sha256: String,
    /// The image's size in bytes.
    pub size: usize,
}

impl BrandView {
    fn of(brand: &BrandDefined, version: u64) -> Self {
        Self {
            org: brand.org.clone(),
            name: brand.name.clone(),
            colour: brand.colour.clone(),
            footer: brand.footer.clone(),
            logo: brand.logo.as_ref().map(|image| LogoSummary {
                media_type: image.media_type.clone(),
                sha256: image.sha256.clone(),
                size: logo_of(image).map_or(0, |logo| logo.bytes.len()),
            }),
            version,
        }
    }
}

/// Defines (or redefines) the brand of an organisation. Documents issued from
/// now on use it; documents already issued keep theirs. Validation (which
/// renders the logo) runs first, off the runtime; then the command runs with
/// the request's `If-Match` and idempotency key.
pub async fn define(
    store: &EventStore,
    renderer: &Renderer,
    request: &BrandRequest,
    command: &CommandRequest,
) -> Result<Ran<BrandView>, DefineError> {
    let (request, renderer) = (request.clone(), renderer.clone());
    let brand = tokio::task::spawn_blocking(move || request.validate(&renderer))
        .await
        .map_err(|e| DefineError::Interrupted(e.to_string()))?
        .map_err(DefineError::Invalid)?;
    let principal = &command.meta.principal;
    let brand = &brand;
    runner::run::<Brand, _, _>(
        store,
        &brand.org,
        command,
        Source::Log,
        async |_| {
            Ok::<_, DefineError>(Step::alone((
                principal.clone(),
                BrandCommand::Define(brand.clone()),
            )))
        },
        |loaded, events| Ok(BrandView::of(brand, loaded.version + events.len() as u64)),
    )
    .await
}

/// Removes the brand of `org`: documents issued from now on carry the issuer's
/// brand; documents already issued keep theirs. Refused if `org` has none.
pub async fn remove(
    store: &EventStore,
    org: &str,
    command: &CommandRequest,
) -> Result<Ran<()>, DefineError> {
    let principal = &command.meta.principal;
    runner::run::<Brand, _, _>(
        store,
        org,
        command,
        Source::Log,
        async |_| {
            Ok::<_, DefineError>(Step::alone((
                principal.clone(),
                BrandCommand::Remove {
                    org: org.to_owned(),
                },
            )))
        },
        |_, _| Ok(()),
    )
    .await
}

/// The current brand of `org`, if it has one.
pub async fn current(store: &EventStore, org: &str) -> Result<Option<BrandDefined>, StoreError> {
    Ok(crate::execute::load::<Brand>(store, org)
        .await?
        .aggregate
        .current())
}

/// The current brand of `org` as callers see it, if it has one.
pub async fn shown(store: &EventStore, org: &str) -> Result<Option<BrandView>, StoreError> {
    let loaded = crate::execute::load::<Brand>(store, org).await?;
    let version = loaded.version;
    Ok(loaded
        .aggregate
        .current()
        .map(|brand| BrandView::of(&brand, version)))
}

/// The logo of `org`'s current brand, if it has one.
pub async fn current_logo(store: &EventStore, org: &str) -> Result<Option<Logo>, StoreError> {
    Ok(current(store, org)
        .await?
        .and_then(|brand| brand.logo)
        .as_ref()
        .and_then(logo_of))
}

/// The logo with this hash, from any brand's history (documents keep the logo
/// they were issued with, even after the brand changed it).
pub async fn logo_by_hash(store: &EventStore, sha256: &str) -> Result<Option<Logo>, StoreError> {
    for (event_type, version, payload) in queries::brand_events_newest_first(store).await? {
        let payload = serde_json::from_str(&payload).unwrap_or_default();
        if let Ok(BrandEvent::BrandDefined(brand)) =
            BrandEvent::decode(&event_type, version as u32, payload)
            && let Some(image) = brand.logo.filter(|l| l.sha256 == sha256)
        {
            return Ok(logo_of(&image));
        }
    }
    Ok(None)
}

/// Keeps the logos of a stream of events at hand (for `verify`).
pub fn logo_from_event(event: &RecordedEvent) -> Option<(String, Logo)> {
    if event.aggregate_type != BrandEvent::AGGREGATE_TYPE {
        return None;
    }
    let Ok(BrandEvent::BrandDefined(brand)) = BrandEvent::decode(
        &event.event_type,
        event.schema_version,
        event.payload.clone(),
    ) else {
        return None;
    };
    let image = brand.logo?;
    Some((image.sha256.clone(), logo_of(&image)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    fn png() -> Vec<u8> {
        include_bytes!("../../sla-templates/brands/example/logo.png").to_vec()
    }

    #[test]
    fn a_valid_brand_carries_its_logo_with_its_hash() {
        let request = BrandRequest {
            org: "acme".into(),
            name: "ACME Research".into(),
            colour: "#0A5F38".into(),
            footer: "ACME · Lab street 1".into(),
            logo: Some(("image/png".into(), png())),
        };
        let brand = request.validate(&Renderer::default()).unwrap();
        assert_eq!(brand.colour, "#0a5f38");
        let logo = brand.logo.unwrap();
        assert_eq!(logo.sha256, hex::encode(Sha256::digest(png())));
        assert_eq!(logo_of(&logo).unwrap().bytes, png());
        assert_eq!(sniff_media_type(&png()), Some("image/png"));
    }

    #[test]
    fn a_logo_that_does_not_render_is_refused_naming_the_logo() {
        let renderer = Renderer::default();
        let svg = |body: &str| {
            format!(
                r#"<svg xmlns="http://www.w3.org/2000/svg" width="120" height="40">{body}</svg>"#
            )
        };
        let entity = format!(
            "<?xml version=\"1.0\"?>\n<!DOCTYPE svg [<!ENTITY x SYSTEM \"file:///etc/hostname\">]>\n{}",
            svg("<text y=\"20\">&x;</text>")
        );
        let cases: [(&str, Vec<u8>); 5] = [
            ("image/svg+xml", entity.into_bytes()),
            (
                "image/svg+xml",
                svg(r#"<image href="file:///etc/passwd" width="40" height="40"/>"#).into_bytes(),
            ),
            (
                "image/svg+xml",
                svg(r#"<image href="other.png" width="40" height="40"/>"#).into_bytes(),
            ),
            (
                "image/png",
                b"\x89PNG\r\n\x1a\nnot the rest of a PNG".to_vec(),
            ),
            ("image/jpeg", b"\xff\xd8\xffnot the rest of a JPEG".to_vec()),
        ];
        for (media_type, bytes) in cases {
            let request = BrandRequest {
                org: "acme".into(),
                name: "ACME Research".into(),
                colour: "#0a5f38".into(),
                footer: "ACME".into(),
                logo: Some((media_type.into(), bytes.clone())),
            };
            let errors = request.validate(&renderer).unwrap_err();
            assert_eq!(errors.len(), 1, "{errors:?}");
            assert_eq!(errors[0].field, "logo");
            assert!(
                errors[0]
                    .message
                    .starts_with("cannot be drawn in a document (")
                    && !errors[0].message.contains(".typ"),
                "{}: {}",
                String::from_utf8_lossy(&bytes),
                errors[0].message
            );
            eprintln!("{}", errors[0].message);
        }
        let good = svg(r##"<rect width="40" height="40" fill="#0a559c"/>"##);
        let request = BrandRequest {
            org: "acme".into(),
            name: "ACME Research".into(),
            colour: "#0a5f38".into(),
            footer: "ACME".into(),
            logo: Some(("image/svg+xml".into(), good.into_bytes())),
        };
        assert!(request.validate(&renderer).is_ok());
    }

    #[test]
    fn every_bad_field_is_named() {
        let request = BrandRequest {
            org: "no spaces allowed".into(),
            name: " ".into(),
            colour: "green".into(),
            footer: "ok".into(),
            logo: Some(("image/gif".into(), vec![1; LOGO_MAX_BYTES + 1])),
        };
        let fields: Vec<String> = request
            .validate(&Renderer::default())
            .unwrap_err()
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(fields, ["org", "name", "colour", "logo", "logo"]);
    }
}
