//! The typst `World` a document is compiled in: a closed, virtual file system with
//! no network, no disk and no clock.
//!
//! What a template can read:
//! - its own files, mounted at `/templates/<id>/v<version>/<name>` (so `#import
//!   "common.typ"` finds the version's own `common.typ`);
//! - `/data.json`, the [`DocumentData`](super::model::DocumentData) as JSON;
//! - `/render.json`, facts about this rendering that are not agreement data
//!   (`{"logo": "/logo.png"}` or `{"logo": null}`);
//! - `/logo.png`, `/logo.jpg` or `/logo.svg`, the brand's logo, when it has one.
//!
//! Fonts are the ones typst-assets embeds plus `sla-templates/fonts/`; "today" is
//! the document's issue date. The [`Shared`] part (library, fonts, parsed template
//! sources) is built once per [`super::Renderer`]; a [`DocumentWorld`] borrows it
//! for one compilation, which keeps typst's memoized work valid from one document
//! to the next. [`Typesetting`] (library and fonts) is the part other renderers
//! reuse (the compliance report, `crate::compliance::pdf`).

use std::collections::{BTreeMap, HashMap};
use std::sync::LazyLock;

use typst::diag::{FileError, FileResult};
use typst::foundations::{Bytes, Datetime};
use typst::syntax::{FileId, RootedPath, Source, VirtualPath, VirtualRoot};
use typst::text::{Font, FontBook};
use typst::utils::LazyHash;
use typst::{Library, LibraryExt, World};

use super::model::AgreementKind;
use super::templates::TemplateSet;

/// `/data.json`.
pub(crate) static DATA: LazyLock<FileId> = LazyLock::new(|| project_file("/data.json"));
/// `/render.json`.
pub(crate) static RENDER: LazyLock<FileId> = LazyLock::new(|| project_file("/render.json"));

/// Where a logo of a media type is mounted.
pub(crate) fn logo_path(media_type: &str) -> Option<&'static str> {
    match media_type {
        "image/png" => Some("/logo.png"),
        "image/jpeg" => Some("/logo.jpg"),
        "image/svg+xml" => Some("/logo.svg"),
        _ => None,
    }
}

pub(crate) fn project_file(path: &str) -> FileId {
    let vpath = VirtualPath::new(path).expect("a valid virtual path");
    FileId::new(RootedPath::new(VirtualRoot::Project, vpath))
}

/// One template version, its sources parsed once.
pub(crate) struct Template {
    pub id: String,
    pub version: u32,
    pub kind: AgreementKind,
    pub main: FileId,
    pub sources: HashMap<FileId, Source>,
}

/// typst's standard library and the fonts: what any document of pactum is
/// typeset with, whatever its template.
pub(crate) struct Typesetting {
    pub library: LazyHash<Library>,
    pub book: LazyHash<FontBook>,
    pub fonts: Vec<Font>,
}

impl Typesetting {
    /// typst-assets' fonts and the set's own (`sla-templates/fonts/`), in that
    /// order (font indices are positions in it).
    pub fn new(set: &TemplateSet) -> Self {
        let fonts: Vec<Font> = typst_assets::fonts()
            .chain(set.fonts.iter().map(|file| file.bytes))
            .flat_map(|bytes| Font::iter(Bytes::new(bytes)))
            .collect();
        Self {
            library: LazyHash::new(Library::builder().build()),
            book: LazyHash::new(FontBook::from_fonts(&fonts)),
            fonts,
        }
    }

    /// The font at `index` of [`Self::book`], for [`World::font`].
    pub fn font(&self, index: usize) -> Option<Font> {
        self.fonts.get(index).cloned()
    }
}

/// What every compilation of a renderer shares.
pub(crate) struct Shared {
    typesetting: Typesetting,
    pub templates: BTreeMap<(String, u32), Template>,
    /// The current (id, version) per kind.
    pub current: HashMap<AgreementKind, (String, u32)>,
}

impl Shared {
    pub fn new(set: &TemplateSet) -> Result<Self, String> {
        let mut templates = BTreeMap::new();
        for (key, checked) in &set.templates {
            let dir = format!("/templates/{}/v{}", checked.id, checked.version);
            let mut sources = HashMap::new();
            let mut main = None;
            for file in &checked.files {
                let id = project_file(&format!("{dir}/{}", file.name));
                let text = std::str::from_utf8(file.bytes)
                    .map_err(|_| format!("sla-templates/{} is not UTF-8", file.path))?;
                sources.insert(id, Source::new(id, text.to_owned()));
                if file.name == checked.main {
                    main = Some(id);
                }
            }
            let main = main
                .ok_or_else(|| format!("{} v{} has no main file", checked.id, checked.version))?;
            templates.insert(
                key.clone(),
                Template {
                    id: checked.id.clone(),
                    version: checked.version,
                    kind: checked.kind,
                    main,
                    sources,
                },
            );
        }
        let current = [AgreementKind::Sla, AgreementKind::Ola]
            .into_iter()
            .filter_map(|kind| {
                let template = set.current(kind)?;
                Some((kind, (template.id.clone(), template.version)))
            })
            .collect();

        Ok(Self {
            typesetting: Typesetting::new(set),
            templates,
            current,
        })
    }
}

/// The world of one compilation.
pub(crate) struct DocumentWorld<'a> {
    pub shared: &'a Shared,
    pub template: &'a Template,
    pub data: Bytes,
    pub render: Bytes,
    pub logo: Option<(FileId, Bytes)>,
    pub today: Datetime,
}

impl World for DocumentWorld<'_> {
    fn library(&self) -> &LazyHash<Library> {
        &self.shared.typesetting.library
    }

    fn book(&self) -> &LazyHash<FontBook> {
        &self.shared.typesetting.book
    }

    fn main(&self) -> FileId {
        self.template.main
    }

    fn source(&self, id: FileId) -> FileResult<Source> {
        match self.template.sources.get(&id) {
            Some(source) => Ok(source.clone()),
            None if self.file(id).is_ok() => Err(FileError::NotSource),
            None => Err(not_found(id)),
        }
    }

    fn file(&self, id: FileId) -> FileResult<Bytes> {
        if id == *DATA {
            return Ok(self.data.clone());
        }
        if id == *RENDER {
            return Ok(self.render.clone());
        }
        if let Some((logo, bytes)) = &self.logo
            && id == *logo
        {
            return Ok(bytes.clone());
        }
        match self.template.sources.get(&id) {
            Some(source) => Ok(Bytes::from_string(source.clone())),
            None => Err(not_found(id)),
        }
    }

    fn font(&self, index: usize) -> Option<Font> {
        self.shared.typesetting.font(index)
    }

    fn today(&self, _offset: Option<typst::foundations::Duration>) -> Option<Datetime> {
        Some(self.today)
    }
}

pub(crate) fn not_found(id: FileId) -> FileError {
    FileError::NotFound(id.vpath().get_with_slash().into())
}
