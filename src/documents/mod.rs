//! Agreement documents: PDFs rendered in-process by typst from versioned templates
//! (`sla-templates/`) and the agreement's data ([`model::DocumentData`]).
//!
//! Start with [`Renderer::render`]. The data reaches the template as structured
//! JSON (`/data.json` in the template's world, see `world.rs`), never pasted into
//! markup, so no text in it can change the document's layout. Templates are
//! embedded in the binary and checked against `sla-templates/manifest.toml` when a
//! renderer is built ([`templates`]). A rendering depends only on the data, the
//! logo, the template version and the renderer (typst and the fonts compiled in):
//! the PDF's dates and identifier come from the data, so re-rendering an issued
//! document gives the same bytes (what `pactum verify` checks).

pub mod model;
pub mod sample;
pub mod templates;
pub(crate) mod world;

#[cfg(test)]
pub(crate) mod poppler;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::json;
use typst::diag::{Severity, SourceDiagnostic};
use typst::foundations::{Bytes, Datetime, Smart};
use typst::{World, WorldExt};
use typst_layout::PagedDocument;
use typst_pdf::{PdfOptions, Timestamp};

use model::{AgreementKind, DocumentData, Logo};
use templates::{ManifestError, TemplateSet, sha256_hex};
use world::{DocumentWorld, Shared};

/// A rendered document and what its event records about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rendered {
    pub bytes: Vec<u8>,
    /// Hex SHA-256 of `bytes`.
    pub sha256: String,
    pub template_id: String,
    pub template_version: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("no template {id} v{version}")]
    UnknownTemplate { id: String, version: u32 },
    /// The template lays out the other kind of agreement.
    #[error(
        "template {id} v{version} is for {template_kind} documents, the data is an {data_kind}"
    )]
    WrongKind {
        id: String,
        version: u32,
        template_kind: &'static str,
        data_kind: &'static str,
    },
    /// The data breaks its contract (a date that is not a date, a colour that is
    /// not `#rrggbb`...).
    #[error("invalid document data: {0}")]
    InvalidData(String),
    /// The brand has a logo but none was given, or its media type is not one of
    /// PNG, JPEG, SVG.
    #[error("logo: {0}")]
    Logo(String),
    /// The template failed to compile (messages with file:line:column).
    #[error("the template failed: {0}")]
    Template(String),
    /// The embedded template set is broken: only a bad build gives this.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    #[error("{0}")]
    Other(String),
}

/// Renders agreement documents. Cheap to clone (one `Arc`); keeps fonts, parsed
/// templates and typst's caches warm.
#[derive(Clone)]
pub struct Renderer {
    shared: Arc<Shared>,
}

impl Default for Renderer {
    /// The renderer of the embedded template set.
    ///
    /// # Panics
    /// If the embedded set is broken, which the unit tests of this module rule out
    /// for any build that passed them. Prefer [`Renderer::new`].
    fn default() -> Self {
        Self::new().expect("the embedded template set is valid")
    }
}

/// typst memoizes work in process-wide caches. Every `EVICT_EVERY` renderings,
/// results unused for the last `CACHE_MAX_AGE` passes are dropped: memory stays
/// bounded (a few dozen documents' worth) while the template's own work (parsed
/// sources, shaped static text, fonts) stays warm. One pass costs about as much
/// as a tenth of a rendering, hence not after each.
const EVICT_EVERY: usize = 8;
const CACHE_MAX_AGE: usize = 3;

static RENDERINGS: AtomicUsize = AtomicUsize::new(0);

pub(crate) fn evict_now_and_then() {
    if RENDERINGS.fetch_add(1, Ordering::Relaxed) % EVICT_EVERY == EVICT_EVERY - 1 {
        typst::comemo::evict(CACHE_MAX_AGE);
    }
}

impl Renderer {
    /// Loads the embedded templates (checking every file against the manifest)
    /// and the fonts. Takes a few milliseconds; build one and clone it.
    pub fn new() -> Result<Self, RenderError> {
        let set = TemplateSet::embedded()?;
        let shared = Shared::new(&set).map_err(RenderError::Other)?;
        Ok(Self {
            shared: Arc::new(shared),
        })
    }

    /// The template (id, version) new documents of `kind` use: the newest
    /// version of the template named after the kind (`sla`, `ola`).
    pub fn current(&self, kind: AgreementKind) -> (String, u32) {
        self.shared
            .current
            .get(&kind)
            .cloned()
            // Unreachable with a valid set: the manifest test requires both kinds.
            .unwrap_or_else(|| (kind.as_str().to_owned(), 0))
    }

    /// Every (template id, version) this renderer can render, oldest first.
    pub fn templates(&self) -> Vec<(String, u32)> {
        self.shared.templates.keys().cloned().collect()
    }

    /// Whether `logo` can be drawn in a document: renders the sample SLA
    /// ([`sample::cloud_compute`]) with it, through the current template, as an
    /// agreement with that brand would be. Brands check their logo with this when
    /// they are set, so that a logo typst cannot draw (a broken image, an SVG
    /// that reads an entity or links a file, which the closed world refuses) is
    /// refused there instead of failing an activation.
    pub fn check_logo(&self, logo: &Logo) -> Result<(), RenderError> {
        let mut data = sample::cloud_compute(AgreementKind::Sla);
        data.brand.has_logo = true;
        self.render(&data, Some(logo)).map(|_| ())
    }

    /// Renders with the current template for `data.kind`.
    pub fn render(
        &self,
        data: &DocumentData,
        logo: Option<&Logo>,
    ) -> Result<Rendered, RenderError> {
        let (id, version) = self.current(data.kind);
        self.render_with(&id, version, data, logo)
    }

    /// Renders with a given template version (to re-render an issued document).
    ///
    /// `logo` is used when `data.brand.has_logo` (then it is required) and ignored
    /// otherwise.
    #[tracing::instrument(skip_all, fields(template = template_id, version = template_version, reference = %data.reference))]
    pub fn render_with(
        &self,
        template_id: &str,
        template_version: u32,
        data: &DocumentData,
        logo: Option<&Logo>,
    ) -> Result<Rendered, RenderError> {
        let template = self
            .shared
            .templates
            .get(&(template_id.to_owned(), template_version))
            .ok_or_else(|| RenderError::UnknownTemplate {
                id: template_id.to_owned(),
                version: template_version,
            })?;
        if template.kind != data.kind {
            return Err(RenderError::WrongKind {
                id: template.id.clone(),
                version: template.version,
                template_kind: template.kind.as_str(),
                data_kind: data.kind.as_str(),
            });
        }
        let checked = CheckedData::new(data)?;

        let logo = match (data.brand.has_logo, logo) {
            (false, _) => None,
            (true, None) => {
                return Err(RenderError::Logo(
                    "the brand has a logo (brand.has_logo) but none was given".into(),
                ));
            }
            (true, Some(logo)) => {
                let path = world::logo_path(&logo.media_type).ok_or_else(|| {
                    RenderError::Logo(format!(
                        "media type {:?} is not supported (image/png, image/jpeg, image/svg+xml)",
                        logo.media_type
                    ))
                })?;
                Some((
                    path,
                    world::project_file(path),
                    Bytes::new(logo.bytes.clone()),
                ))
            }
        };
        let render = json!({ "logo": logo.as_ref().map(|(path, _, _)| path) });

        let world = DocumentWorld {
            shared: &self.shared,
            template,
            data: Bytes::new(
                serde_json::to_vec(data).map_err(|e| RenderError::Other(e.to_string()))?,
            ),
            render: Bytes::new(render.to_string().into_bytes()),
            logo: logo.map(|(_, id, bytes)| (id, bytes)),
            today: checked.issued_on,
        };
        let compiled = typst::compile::<PagedDocument>(&world);
        let result = compiled
            .output
            .map_err(|errors| RenderError::Template(describe(&world, &errors)));
        if !compiled.warnings.is_empty() {
            tracing::debug!(warnings = %describe(&world, &compiled.warnings), "template warnings");
        }
        let document = match result {
            Ok(document) => document,
            Err(error) => {
                evict_now_and_then();
                return Err(error);
            }
        };

        let options = PdfOptions {
            // The PDF's /ID: stable for one document version, whoever renders it.
            ident: Smart::Custom(format!("pactum:{}:v{}", data.agreement_id, data.version)),
            creator: Smart::Custom(Some("pactum".to_owned())),
            timestamp: Some(Timestamp::new_utc(checked.issued_at)),
            ..PdfOptions::default()
        };
        let pdf = typst_pdf::pdf(&document, &options);
        evict_now_and_then();
        let bytes = pdf.map_err(|errors| RenderError::Template(describe(&world, &errors)))?;

        Ok(Rendered {
            sha256: sha256_hex(&bytes),
            bytes,
            template_id: template.id.clone(),
            template_version: template.version,
        })
    }
}

/// Clears every memoized typst result of the process: the next rendering starts
/// cold (for benchmarks; a renderer evicts what it no longer uses by itself).
pub fn clear_caches() {
    typst::comemo::evict(0);
}

/// The parts of the data the renderer itself reads, parsed.
struct CheckedData {
    issued_at: Datetime,
    issued_on: Datetime,
}

impl CheckedData {
    fn new(data: &DocumentData) -> Result<Self, RenderError> {
        let invalid = |what: String| RenderError::InvalidData(what);
        let issued_at: jiff::Timestamp = data
            .issued_at
            .parse()
            .map_err(|e| invalid(format!("issued_at {:?}: {e}", data.issued_at)))?;
        let utc = issued_at.to_zoned(jiff::tz::TimeZone::UTC).datetime();
        let issued_on = date(&data.issued_on, "issued_on")?;
        if issued_on != utc.date() {
            return Err(invalid(format!(
                "issued_on {} is not the UTC date of issued_at {}",
                data.issued_on, data.issued_at
            )));
        }
        let start = date(&data.validity.start, "validity.start")?;
        let end = date(&data.validity.end, "validity.end")?;
        if end < start {
            return Err(invalid(format!(
                "validity ends ({end}) before it starts ({start})"
            )));
        }
        let colour = data.brand.colour.as_bytes();
        if colour.len() != 7 || colour[0] != b'#' || !colour[1..].iter().all(u8::is_ascii_hexdigit)
        {
            return Err(invalid(format!(
                "brand.colour {:?} is not #rrggbb",
                data.brand.colour
            )));
        }
        let out_of_range = || invalid(format!("issued_at {} is out of range", data.issued_at));
        Ok(Self {
            issued_at: Datetime::from_ymd_hms(
                i32::from(utc.year()),
                utc.month() as u8,
                utc.day() as u8,
                utc.hour() as u8,
                utc.minute() as u8,
                utc.second() as u8,
            )
            .ok_or_else(out_of_range)?,
            issued_on: Datetime::from_ymd(
                i32::from(issued_on.year()),
                issued_on.month() as u8,
                issued_on.day() as u8,
            )
            .ok_or_else(out_of_range)?,
        })
    }
}

fn date(text: &str, field: &str) -> Result<jiff::civil::Date, RenderError> {
    text.parse::<jiff::civil::Date>().map_err(|e| {
        RenderError::InvalidData(format!("{field} {text:?} is not a YYYY-MM-DD date: {e}"))
    })
}

/// typst's diagnostics as one line each: `severity: file:line:col: message (hint: ...)`.
pub(crate) fn describe(world: &dyn World, diagnostics: &[SourceDiagnostic]) -> String {
    diagnostics
        .iter()
        .map(|diag| {
            let severity = match diag.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
            };
            let location = diag
                .span
                .id()
                .and_then(|id| {
                    let source = world.source(id).ok()?;
                    let range = world.range(diag.span)?;
                    let line = source.lines().byte_to_line(range.start)?;
                    let column = source.lines().byte_to_column(range.start)?;
                    Some(format!(
                        "{}:{}:{}: ",
                        id.vpath().get_with_slash(),
                        line + 1,
                        column + 1
                    ))
                })
                .unwrap_or_default();
            let hints: String = diag
                .hints
                .iter()
                .map(|hint| format!(" (hint: {})", hint.v))
                .collect();
            format!("{severity}: {location}{}{hints}", diag.message)
        })
        .collect::<Vec<_>>()
        .join("; ")
}
