//! What `pactum brand set` asks for, and its validation into the event.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use pactum_events::brand::{BrandDefined, LogoImage};
use sha2::{Digest, Sha256};

use super::logo::{self, LOGO_PIXELS, Size};
use super::{LOGO_MAX_BYTES, LOGO_TYPES, sniff_media_type};
use crate::documents::model::Logo;
use crate::documents::{RenderError, Renderer};
use crate::validation::{self, FieldError};

/// What `pactum brand set` asks for, unvalidated.
#[derive(Clone, Debug, Default)]
pub struct BrandRequest {
    pub org: String,
    pub name: String,
    pub colour: String,
    pub footer: String,
    /// (media type, bytes).
    pub logo: Option<(String, Vec<u8>)>,
}

impl BrandRequest {
    /// Checks every field; a logo must also render in a document (`renderer`,
    /// see [`Renderer::check_logo`]), since every document issued under the brand
    /// draws it. Renders a page when there is a logo: call it off the runtime.
    pub fn validate(&self, renderer: &Renderer) -> Result<BrandDefined, Vec<FieldError>> {
        let mut errors = Vec::new();
        let org = validation::identifier("org", &self.org).map_err(|e| errors.push(e));
        let name = validation::text("name", &self.name, 120).map_err(|e| errors.push(e));
        let footer = validation::text("footer", &self.footer, 300).map_err(|e| errors.push(e));
        if crate::catalogue::rules::check_colour("brand", &self.colour).is_err() {
            errors.push(FieldError::new("colour", "must be #rrggbb, e.g. #004a87"));
        }
        let logo = match &self.logo {
            None => None,
            Some((media_type, bytes)) => {
                if !LOGO_TYPES.contains(&media_type.as_str()) {
                    errors.push(FieldError::new(
                        "logo",
                        format!("must be one of {}, got {media_type}", LOGO_TYPES.join(", ")),
                    ));
                }
                if bytes.is_empty() || bytes.len() > LOGO_MAX_BYTES {
                    errors.push(FieldError::new(
                        "logo",
                        format!("must be 1 byte to {} KiB", LOGO_MAX_BYTES / 1024),
                    ));
                } else if LOGO_TYPES.contains(&media_type.as_str())
                    && let Some(problem) = logo_problem(media_type, bytes, renderer)
                {
                    errors.push(FieldError::new("logo", problem));
                }
                Some(LogoImage {
                    media_type: media_type.clone(),
                    base64: STANDARD.encode(bytes),
                    sha256: hex::encode(Sha256::digest(bytes)),
                })
            }
        };
        match (org, name, footer) {
            (Ok(org), Ok(name), Ok(footer)) if errors.is_empty() => Ok(BrandDefined {
                org,
                name,
                colour: self.colour.to_lowercase(),
                footer,
                logo,
            }),
            _ => Err(errors),
        }
    }
}

/// Why a logo of an accepted type and size cannot be a brand's, if it cannot:
/// its bytes are another type than it says, its size is out of
/// [`LOGO_PIXELS`] (or an SVG states none), or typst cannot draw it. A header
/// that cannot be read is left to typst, which names what is wrong.
fn logo_problem(media_type: &str, bytes: &[u8], renderer: &Renderer) -> Option<String> {
    match sniff_media_type(bytes) {
        Some(sniffed) if sniffed == media_type => {}
        Some(sniffed) => return Some(format!("is {media_type} but its bytes are {sniffed}")),
        None => {
            return Some(format!(
                "is {media_type} but its bytes are no PNG, JPEG or SVG image"
            ));
        }
    }
    let bounds = format!("{} to {} px", LOGO_PIXELS.start(), LOGO_PIXELS.end());
    match logo::size(media_type, bytes) {
        Size::Pixels(width, height)
            if !(LOGO_PIXELS.contains(&width) && LOGO_PIXELS.contains(&height)) =>
        {
            return Some(format!(
                "is {width}×{height} px; width and height must each be {bounds}"
            ));
        }
        Size::Unstated => {
            return Some(format!(
                "states no size: an SVG needs width and height, or a viewBox, each {bounds}"
            ));
        }
        Size::Pixels(..) | Size::Unreadable => {}
    }
    let logo = Logo {
        media_type: media_type.to_owned(),
        bytes: bytes.to_vec(),
    };
    renderer.check_logo(&logo).err().map(|error| {
        format!(
            "cannot be drawn in a document ({}); a complete, \
             self-contained PNG, JPEG or SVG is needed",
            render_failure(&error)
        )
    })
}

/// typst's reason without the template's file and line, which mean nothing to
/// whoever sets a brand.
fn render_failure(error: &RenderError) -> String {
    match error {
        RenderError::Template(message) => message
            .split("; ")
            .map(|diagnostic| {
                let diagnostic = diagnostic.trim();
                let diagnostic = diagnostic.strip_prefix("error: ").unwrap_or(diagnostic);
                match diagnostic.split_once(".typ:") {
                    Some((_, rest)) => rest
                        .splitn(3, ':')
                        .nth(2)
                        .map_or(diagnostic, str::trim_start),
                    None => diagnostic,
                }
            })
            .collect::<Vec<_>>()
            .join("; "),
        other => other.to_string(),
    }
}
