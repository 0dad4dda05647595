//! Agreement documents: PDFs rendered in-process by typst from versioned templates
//! (`sla-templates/`) and the agreement's data ([`model::DocumentData`]).
//!
//! PLACEHOLDER for the renderer: the API below is the contract; the typst
//! implementation replaces the body of `Renderer`.

pub mod model;

use sha2::{Digest, Sha256};

use model::{AgreementKind, DocumentData, Logo};

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
    #[error("the template failed: {0}")]
    Template(String),
    #[error("{0}")]
    Other(String),
}

/// Renders agreement documents. Cheap to clone; keeps fonts and caches warm.
#[derive(Clone, Default)]
pub struct Renderer;

impl Renderer {
    pub fn new() -> Result<Self, RenderError> {
        Ok(Self)
    }

    /// The template (id, version) new documents of `kind` use.
    pub fn current(&self, kind: AgreementKind) -> (String, u32) {
        (kind.as_str().to_owned(), 1)
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
    pub fn render_with(
        &self,
        template_id: &str,
        template_version: u32,
        data: &DocumentData,
        _logo: Option<&Logo>,
    ) -> Result<Rendered, RenderError> {
        let bytes = serde_json::to_vec(data).map_err(|e| RenderError::Other(e.to_string()))?;
        Ok(Rendered {
            sha256: hex::encode(Sha256::digest(&bytes)),
            bytes,
            template_id: template_id.to_owned(),
            template_version,
        })
    }
}
