//! Brands: how an organisation (a tenant, a reseller) presents the documents
//! issued under it — name, colour, footer text, logo. Adding one is data
//! (`pactum brand set`), never code. Brands are events of the `brand` aggregate,
//! one per organisation, the logo carried in the event so the log alone can
//! render every document again.
//!
//! - [`commands`] — what `pactum brand set` asks, validated into the event.
//! - [`aggregate`] — the `brand` aggregate; [`errors`] — why it refuses.
//! - [`queries`] — the SQL brands read (logos by hash).

pub mod aggregate;
pub mod commands;
pub mod errors;
pub mod queries;

pub use aggregate::Brand;
pub use commands::BrandRequest;
pub use errors::{BrandError, DefineError};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use pactum_events::brand::{BrandDefined, BrandEvent, LogoImage};
use pactum_events::{EventPayload, RecordedEvent};

use crate::documents::Renderer;
use crate::documents::model::Logo;
use crate::execute::CommandMeta;
use crate::runner;
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

/// Defines (or redefines) the brand of an organisation. Documents issued from
/// now on use it; documents already issued keep theirs.
pub async fn define(
    store: &EventStore,
    renderer: &Renderer,
    request: &BrandRequest,
    meta: &CommandMeta,
) -> Result<BrandDefined, DefineError> {
    let (request, renderer) = (request.clone(), renderer.clone());
    let brand = tokio::task::spawn_blocking(move || request.validate(&renderer))
        .await
        .map_err(|e| DefineError::Interrupted(e.to_string()))?
        .map_err(DefineError::Invalid)?;
    runner::set::<Brand, DefineError>(
        store,
        &brand.org,
        meta,
        (meta.principal.clone(), brand.clone()),
    )
    .await?;
    Ok(brand)
}

/// The current brand of `org`, if it has one.
pub async fn current(store: &EventStore, org: &str) -> Result<Option<BrandDefined>, StoreError> {
    Ok(runner::load::<Brand>(store, org).await?.aggregate.current())
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
    let BrandEvent::BrandDefined(brand) = BrandEvent::decode(
        &event.event_type,
        event.schema_version,
        event.payload.clone(),
    )
    .ok()?;
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
