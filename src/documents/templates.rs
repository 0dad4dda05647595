//! The template set compiled into the binary: `sla-templates/` as it was at build
//! time, read through its `manifest.toml`.
//!
//! The manifest lists every template version pactum can render, and for each the
//! files it reads with their SHA-256. An issued document records (template id,
//! template version, SHA-256 of the PDF) and `pactum verify` re-renders it, so a
//! version, once issued, must render forever as it did: its files never change.
//! Loading checks every hash, so editing a template without a new version fails
//! the first test that builds a [`super::Renderer`] (and, would it slip through,
//! the server at start) instead of silently changing issued documents.

use std::collections::BTreeMap;

use include_dir::{Dir, include_dir};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::model::AgreementKind;

/// `sla-templates/`, embedded. Files are tracked by cargo (`include_bytes!`), so
/// editing one rebuilds the crate.
pub(crate) static TEMPLATE_DIR: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/sla-templates");

/// `sla-templates/manifest.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Manifest {
    #[serde(rename = "template")]
    pub templates: Vec<TemplateEntry>,
    #[serde(rename = "font", default)]
    pub fonts: Vec<FileEntry>,
}

/// One version of one template.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TemplateEntry {
    pub id: String,
    pub version: u32,
    /// The kind of agreement the template lays out.
    pub kind: ManifestKind,
    /// The entry point, by its `name` among `files`.
    pub main: String,
    pub files: Vec<FileEntry>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ManifestKind {
    Sla,
    Ola,
}

impl From<ManifestKind> for AgreementKind {
    fn from(kind: ManifestKind) -> Self {
        match kind {
            ManifestKind::Sla => AgreementKind::Sla,
            ManifestKind::Ola => AgreementKind::Ola,
        }
    }
}

/// A file a template (or every template, for fonts) uses.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileEntry {
    /// The name the template sees (`common.typ` for `#import "common.typ"`).
    /// Defaults to the file name of `path`.
    pub name: Option<String>,
    /// Where the file is, relative to `sla-templates/`.
    pub path: String,
    /// Hex SHA-256 of the file's bytes.
    pub sha256: String,
}

impl FileEntry {
    pub fn name(&self) -> &str {
        match &self.name {
            Some(name) => name,
            None => self.path.rsplit('/').next().unwrap_or(&self.path),
        }
    }
}

/// Why the embedded template set is unusable. Only a broken build produces these.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("sla-templates/manifest.toml is missing")]
    Missing,
    #[error("sla-templates/manifest.toml: {0}")]
    Parse(#[from] toml::de::Error),
    #[error("sla-templates/{path} is listed in the manifest but not in the directory")]
    MissingFile { path: String },
    #[error(
        "sla-templates/{path} has SHA-256 {actual}, the manifest says {expected}: a changed \
         template is a new version (see sla-templates/README.md)"
    )]
    HashMismatch {
        path: String,
        expected: String,
        actual: String,
    },
    #[error("template {id} v{version} is listed twice")]
    Duplicate { id: String, version: u32 },
    #[error("template {id} v{version}: {problem}")]
    Invalid {
        id: String,
        version: u32,
        problem: String,
    },
}

/// A file of the set, checked against its hash.
pub(crate) struct CheckedFile {
    pub name: String,
    pub path: String,
    pub bytes: &'static [u8],
}

/// One template version, its files checked.
pub(crate) struct CheckedTemplate {
    pub id: String,
    pub version: u32,
    pub kind: AgreementKind,
    pub main: String,
    pub files: Vec<CheckedFile>,
}

/// Every template version and font of the set, checked.
pub(crate) struct TemplateSet {
    pub templates: BTreeMap<(String, u32), CheckedTemplate>,
    pub fonts: Vec<CheckedFile>,
}

impl TemplateSet {
    /// Reads and checks the embedded set.
    pub fn embedded() -> Result<Self, ManifestError> {
        Self::load(&TEMPLATE_DIR)
    }

    pub fn load(dir: &Dir<'static>) -> Result<Self, ManifestError> {
        let manifest = dir
            .get_file("manifest.toml")
            .and_then(|file| file.contents_utf8())
            .ok_or(ManifestError::Missing)?;
        let manifest: Manifest = toml::from_str(manifest)?;

        let mut templates = BTreeMap::new();
        for entry in manifest.templates {
            let invalid = |problem: String| ManifestError::Invalid {
                id: entry.id.clone(),
                version: entry.version,
                problem,
            };
            if entry.version == 0 {
                return Err(invalid("versions start at 1".into()));
            }
            if !entry.files.iter().any(|file| file.name() == entry.main) {
                return Err(invalid(format!(
                    "main file {} is not among its files",
                    entry.main
                )));
            }
            let mut files = Vec::with_capacity(entry.files.len());
            for file in &entry.files {
                let name = file.name();
                if name.is_empty() || name.contains(['/', '\\']) || name.starts_with('.') {
                    return Err(invalid(format!("bad file name {name:?}")));
                }
                files.push(check(dir, file)?);
            }
            let key = (entry.id.clone(), entry.version);
            if templates.contains_key(&key) {
                return Err(ManifestError::Duplicate {
                    id: entry.id,
                    version: entry.version,
                });
            }
            let template = CheckedTemplate {
                id: entry.id,
                version: entry.version,
                kind: entry.kind.into(),
                main: entry.main,
                files,
            };
            templates.insert(key, template);
        }
        let fonts = manifest
            .fonts
            .iter()
            .map(|file| check(dir, file))
            .collect::<Result<_, _>>()?;
        Ok(Self { templates, fonts })
    }

    /// The newest version of `kind`'s template: the one new documents use.
    pub fn current(&self, kind: AgreementKind) -> Option<&CheckedTemplate> {
        self.templates
            .values()
            .filter(|template| template.kind == kind && template.id == kind.as_str())
            .max_by_key(|template| template.version)
    }
}

fn check(dir: &Dir<'static>, entry: &FileEntry) -> Result<CheckedFile, ManifestError> {
    let file = dir
        .get_file(&entry.path)
        .ok_or_else(|| ManifestError::MissingFile {
            path: entry.path.clone(),
        })?;
    let actual = sha256_hex(file.contents());
    if !actual.eq_ignore_ascii_case(&entry.sha256) {
        return Err(ManifestError::HashMismatch {
            path: entry.path.clone(),
            expected: entry.sha256.clone(),
            actual,
        });
    }
    Ok(CheckedFile {
        name: entry.name().to_owned(),
        path: entry.path.clone(),
        bytes: file.contents(),
    })
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}
