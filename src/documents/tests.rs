//! Renderer tests: what a customer reads in the PDF (through poppler's `pdftotext`),
//! determinism, hostile text, logos, the manifest.
//!
//! Tests that read PDF text need poppler-utils (`scripts/test` installs it); where
//! the binary is missing they say so on stderr and check only what they can.

use std::collections::BTreeSet;

use super::model::*;
use super::sample;
use super::templates::{Manifest, TEMPLATE_DIR, sha256_hex};
use super::*;

fn renderer() -> Renderer {
    Renderer::new().expect("the embedded template set loads")
}

/// Runs a poppler tool on `pdf`: `tool ARGS FILE [-]` (`-`: to standard output).
fn poppler(tool: &str, pdf: &[u8], args: &[&str]) -> Option<String> {
    let to_stdout: &[&str] = if tool == "pdftotext" { &["-"] } else { &[] };
    let ran = super::poppler::run(tool, pdf, args, to_stdout)?;
    Some(String::from_utf8(ran.stdout).expect("UTF-8 output"))
}

/// The PDF's text in content order, runs of whitespace as one space.
fn pdf_text(pdf: &[u8]) -> Option<String> {
    let text = poppler("pdftotext", pdf, &["-raw", "-enc", "UTF-8"])?;
    Some(text.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// What must be in `text`, compared without any whitespace: a line may break
/// anywhere a line may break (after a hyphen, a slash...).
fn assert_contains(text: &str, wanted: &str) {
    let squeeze = |s: &str| s.chars().filter(|c| !c.is_whitespace()).collect::<String>();
    assert!(
        squeeze(text).contains(&squeeze(wanted)),
        "the PDF text lacks {wanted:?}:\n{text}"
    );
}

fn page_count(pdf: &[u8]) -> Option<usize> {
    let info = poppler("pdfinfo", pdf, &[])?;
    let pages = info.lines().find_map(|line| line.strip_prefix("Pages:"))?;
    Some(pages.trim().parse().expect("a page count"))
}

#[test]
fn an_sla_shows_parties_service_resources_validity_targets_and_signatures() {
    let data = sample::cloud_compute(AgreementKind::Sla);
    let rendered = renderer().render(&data, None).unwrap();
    assert!(rendered.bytes.starts_with(b"%PDF-"));
    let current = renderer().current(AgreementKind::Sla);
    assert_eq!(
        (rendered.template_id.clone(), rendered.template_version),
        current
    );
    assert_eq!(current.0, "sla");
    assert_eq!(rendered.sha256, sha256_hex(&rendered.bytes));

    let Some(text) = pdf_text(&rendered.bytes) else {
        return;
    };
    for wanted in [
        "SERVICE LEVEL AGREEMENT",
        "SLA-01J9Z3-1",
        "14 December 2026",
        "Ocean model ensemble runs 2027",
        "EGI Foundation",
        "sla-office@egi.example.org",
        "Helmholtz Centre for Ocean Research (GEOMAR)",
        "m.keller@geomar.example.org",
        "EGI Cloud Compute",
        "Virtual machines on the EGI Federated Cloud",
        "4 January 2027",
        "3 April 2027",
        "(90 days)",
        "Availability ≥ 80 % monthly",
        "Reliability ≥ 85 % monthly",
        "Standard",
        "8 hours (working hours)",
        "support@egi.example.org",
        "FOR THE PROVIDER OF THE SERVICE",
        "FOR THE CUSTOMER",
        "Signature",
        "Science Park 140, 1098 XG Amsterdam",
        "Page 1 of 2",
        "Page 2 of 2",
    ] {
        assert_contains(&text, wanted);
    }
    for line in &data.parameters {
        let unit = line.unit.as_deref().unwrap_or("—");
        assert_contains(&text, &format!("{} {} {unit}", line.label, line.value));
    }
    assert_contains(&text, "Number of CPU Cores 4 cores");
    assert_contains(&text, "Amount of RAM per CPU core 2 GB");
    assert_contains(&text, "Local disk 40 GB");
    assert_contains(&text, "Number of VM instances 2");
    assert_contains(&text, "Access type opportunistic");
    assert!(!text.contains("OPERATIONAL LEVEL AGREEMENT"));
    assert!(
        !text.contains("Amendment"),
        "no amendment section in a version 1"
    );
    assert_eq!(page_count(&rendered.bytes), Some(2));
}

#[test]
fn an_ola_binds_the_provider_and_names_the_customer_as_beneficiary() {
    let data = sample::cloud_compute(AgreementKind::Ola);
    let rendered = renderer().render(&data, None).unwrap();
    let current = renderer().current(AgreementKind::Ola);
    assert_eq!(
        (rendered.template_id.clone(), rendered.template_version),
        current
    );
    assert_eq!(current.0, "ola");

    let Some(text) = pdf_text(&rendered.bytes) else {
        return;
    };
    for wanted in [
        "OPERATIONAL LEVEL AGREEMENT",
        "OLA-01J9Z3-1",
        "INFRASTRUCTURE EGI Foundation",
        "RESOURCE PROVIDER CESNET MetaCentrum Cloud (CESNET-MCC)",
        "cesnet-mcc · CZ",
        "cesnet-mcc@example.org",
        "BENEFICIARY (CUSTOMER) Helmholtz Centre for Ocean Research (GEOMAR)",
        "EGI Cloud Compute",
        "Number of CPU Cores 4 cores",
        "Availability ≥ 80 % monthly",
        "Reliability ≥ 85 % monthly",
        "FOR THE RESOURCE PROVIDER",
    ] {
        assert_contains(&text, wanted);
    }
}

#[test]
fn an_amendment_says_what_changed_and_why() {
    for kind in [AgreementKind::Sla, AgreementKind::Ola] {
        let data = sample::cloud_compute_amended(kind);
        let rendered = renderer().render(&data, None).unwrap();
        let Some(text) = pdf_text(&rendered.bytes) else {
            return;
        };
        for wanted in [
            "2 (amends version 1)",
            "Amendment",
            "It replaces version 1",
            "The customer asked for more cores for the February ensemble",
            "Number of CPU Cores: 4 cores → 8 cores",
            "Availability: 80 % → 90 %",
            "Number of CPU Cores 8 cores",
            "Availability ≥ 90 %",
            "1 February 2027",
        ] {
            assert_contains(&text, wanted);
        }
    }
}

#[test]
fn rendering_is_deterministic_across_runs_renderers_and_cold_caches() {
    let data = sample::cloud_compute_amended(AgreementKind::Sla);
    let first = renderer().render(&data, None).unwrap();
    let again = renderer().render(&data, None).unwrap();
    let other = Renderer::new().unwrap();
    let from_other = other.render(&data, None).unwrap();
    clear_caches();
    let cold = other.render(&data, None).unwrap();
    assert_eq!(first, again);
    assert_eq!(first, from_other);
    assert_eq!(first, cold);

    // The creation date is the issue instant, in the info dictionary and XMP.
    let bytes = String::from_utf8_lossy(&first.bytes);
    assert!(
        bytes.contains("D:20270201140500"),
        "creation date from issued_at"
    );
    assert!(
        bytes.contains("2027-02-01T14:05:00"),
        "XMP date from issued_at"
    );

    // And it moves with the data, not with the clock.
    let mut later = data.clone();
    later.issued_at = "2027-02-01T18:00:00Z".into();
    let moved = renderer().render(&later, None).unwrap();
    assert_ne!(first.sha256, moved.sha256);
    assert!(String::from_utf8_lossy(&moved.bytes).contains("D:20270201180000"));
}

#[test]
fn concurrent_renders_on_clones_agree() {
    fn assert_send_sync<T: Send + Sync + Clone>() {}
    assert_send_sync::<Renderer>();

    let renderer = renderer();
    let data = sample::cloud_compute(AgreementKind::Ola);
    let hashes: BTreeSet<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..3)
            .map(|_| {
                let renderer = renderer.clone();
                let data = &data;
                scope.spawn(move || renderer.render(data, None).unwrap().sha256)
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(hashes.len(), 1);
}

/// Markup, code and comment syntax of typst, and scripts beyond Latin.
const HOSTILE: &str =
    r#"#set page(fill: red) [x] $y$ \ "q" // /* #panic("x") <l> @r *b* _i_ `c` ]"#;
const SCRIPTS: &[&str] = &[
    "Ελληνικό Ινστιτούτο Υπολογιστών",
    "Объединённый институт ядерных исследований",
    "株式会社東京計算センター",
    "جامعة القاهرة",
];

/// The sample with `text` in every free-text field the templates print.
fn with_text(kind: AgreementKind, text: &str) -> DocumentData {
    let mut data = sample::cloud_compute_amended(kind);
    data.customer.name = format!("Customer {text}");
    data.title = Some(format!("Title {text}"));
    data.parameters[4].value = format!("Value {text}");
    data.amendment.as_mut().unwrap().note = format!("Note {text}");
    data.amendment.as_mut().unwrap().changes[0] = format!("Change {text}");
    data.brand.footer = format!("Footer {text}");
    data.brand.name = format!("Brand {text}");
    data.support.contacts[0] = format!("Contact {text}");
    data.service.description = Some(format!("Description {text}"));
    if let Some(provider) = &mut data.provider {
        provider.name = format!("Provider {text}");
    }
    data
}

#[test]
fn hostile_text_is_printed_verbatim_and_changes_nothing_else() {
    let renderer = renderer();
    for kind in [AgreementKind::Sla, AgreementKind::Ola] {
        let marker = "QQMARKERQQ";
        let baseline = renderer.render(&with_text(kind, marker), None).unwrap();
        let hostile = renderer
            .render(&with_text(kind, HOSTILE), None)
            .expect("#panic in the data is only text");
        let (Some(baseline_text), Some(hostile_text)) =
            (pdf_text(&baseline.bytes), pdf_text(&hostile.bytes))
        else {
            return;
        };
        for field in [
            "Customer",
            "Title",
            "Value",
            "Note",
            "Change",
            "Footer",
            "Brand",
            "Contact",
            "Description",
        ] {
            assert_contains(&hostile_text, &format!("{field} {HOSTILE}"));
        }
        // Put the marker back where the hostile text is: the same words remain.
        // (Compared as sorted words: the longer text may move a paragraph, and
        // the page furniture with it, to the next page.)
        let words = |text: &str| {
            let mut words: Vec<String> = text.split(' ').map(str::to_owned).collect();
            words.sort();
            words
        };
        let (hostile_words, baseline_words) = (
            words(&hostile_text.replace(HOSTILE, marker)),
            words(&baseline_text),
        );
        let only = |a: &[String], b: &[String]| -> Vec<String> {
            let mut rest = b.to_vec();
            a.iter()
                .filter(|w| match rest.iter().position(|r| r == *w) {
                    Some(i) => {
                        rest.remove(i);
                        false
                    }
                    None => true,
                })
                .cloned()
                .collect()
        };
        assert!(
            hostile_words == baseline_words,
            "{kind:?}: only with hostile text: {:?}; only in the baseline: {:?}",
            only(&hostile_words, &baseline_words),
            only(&baseline_words, &hostile_words),
        );
        assert_eq!(page_count(&hostile.bytes), page_count(&baseline.bytes));
    }
}

#[test]
fn greek_cyrillic_japanese_and_arabic_names_are_printed_with_real_glyphs() {
    let renderer = renderer();
    let all = SCRIPTS.join(" · ");
    let rendered = renderer
        .render(&with_text(AgreementKind::Sla, &all), None)
        .unwrap();
    let Some(text) = pdf_text(&rendered.bytes) else {
        return;
    };
    for script in &SCRIPTS[..3] {
        assert_contains(&text, script);
    }
    // pdftotext gives right-to-left words in their own order but may order a
    // line's runs visually: look for each Arabic word.
    for word in SCRIPTS[3].split(' ') {
        assert_contains(&text, word);
    }
    // Glyphs come from fonts that have them (no tofu from a fallback).
    let fonts = poppler("pdffonts", &rendered.bytes, &[]).unwrap_or_default();
    if !fonts.is_empty() {
        assert!(fonts.contains("LibertinusSerif"), "{fonts}");
        assert!(
            fonts.contains("NotoNaskhArabic"),
            "Arabic from Noto Naskh: {fonts}"
        );
        assert!(fonts.contains("MPLUS1"), "Japanese from M PLUS 1: {fonts}");
    }
}

const EXAMPLE_LOGO: &[u8] = include_bytes!("../../sla-templates/brands/example/logo.png");

fn image_count(pdf: &[u8]) -> Option<usize> {
    let list = poppler("pdfimages", pdf, &["-list"])?;
    // Two header lines, then one line per image placement (`page num type ...`),
    // soft masks (alpha) on lines of their own.
    Some(
        list.lines()
            .skip(2)
            .filter(|line| line.split_whitespace().nth(2) == Some("image"))
            .count(),
    )
}

#[test]
fn a_brand_logo_is_drawn_on_every_page() {
    let renderer = renderer();
    let mut data = sample::cloud_compute(AgreementKind::Sla);
    data.brand.has_logo = true;
    let png = Logo {
        media_type: "image/png".into(),
        bytes: EXAMPLE_LOGO.to_vec(),
    };
    let with_png = renderer.render(&data, Some(&png)).unwrap();
    let svg = Logo {
        media_type: "image/svg+xml".into(),
        bytes: br##"<svg xmlns="http://www.w3.org/2000/svg" width="120" height="40" viewBox="0 0 120 40">
            <rect width="40" height="40" rx="8" fill="#0a559c"/><circle cx="70" cy="20" r="12" fill="#f0821e"/>
            </svg>"##
            .to_vec(),
    };
    let with_svg = renderer.render(&data, Some(&svg)).unwrap();
    assert_ne!(with_png.sha256, with_svg.sha256);

    let plain = sample::cloud_compute(AgreementKind::Sla);
    let without = renderer.render(&plain, None).unwrap();
    // A logo given for a brand without one is not used.
    assert_eq!(renderer.render(&plain, Some(&png)).unwrap(), without);

    if let (Some(logo_images), Some(plain_images)) =
        (image_count(&with_png.bytes), image_count(&without.bytes))
    {
        assert_eq!(plain_images, 0);
        assert_eq!(
            logo_images,
            page_count(&with_png.bytes).unwrap(),
            "one logo a page"
        );
    }
    if let Some(text) = pdf_text(&with_png.bytes) {
        assert_contains(&text, "EGI Foundation");
    }
}

#[test]
fn a_missing_or_unsupported_logo_is_refused() {
    let renderer = renderer();
    let mut data = sample::cloud_compute(AgreementKind::Sla);
    data.brand.has_logo = true;
    assert!(matches!(
        renderer.render(&data, None),
        Err(RenderError::Logo(_))
    ));
    let gif = Logo {
        media_type: "image/gif".into(),
        bytes: b"GIF89a".to_vec(),
    };
    assert!(matches!(
        renderer.render(&data, Some(&gif)),
        Err(RenderError::Logo(_))
    ));
    let broken = Logo {
        media_type: "image/png".into(),
        bytes: b"not a png".to_vec(),
    };
    match renderer.render(&data, Some(&broken)) {
        Err(RenderError::Template(message)) => {
            eprintln!("{message}");
            assert!(
                message.contains("common.typ:"),
                "names the template line: {message}"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_unknown_template_or_version_or_the_wrong_kind_is_an_error() {
    let renderer = renderer();
    let sla = sample::cloud_compute(AgreementKind::Sla);
    assert!(matches!(
        renderer.render_with("sla", 999, &sla, None),
        Err(RenderError::UnknownTemplate { version: 999, .. })
    ));
    assert!(matches!(
        renderer.render_with("sla", 0, &sla, None),
        Err(RenderError::UnknownTemplate { .. })
    ));
    assert!(matches!(
        renderer.render_with("invoice", 1, &sla, None),
        Err(RenderError::UnknownTemplate { .. })
    ));
    assert!(matches!(
        renderer.render_with("ola", 1, &sla, None),
        Err(RenderError::WrongKind { .. })
    ));
}

#[test]
fn data_that_breaks_its_contract_is_refused() {
    let renderer = renderer();
    type Breakage = fn(&mut DocumentData);
    let cases: [(&str, Breakage); 5] = [
        ("colour", |d| d.brand.colour = "red".into()),
        ("issued_at", |d| d.issued_at = "yesterday".into()),
        ("issued_on", |d| d.issued_on = "2026-12-15".into()),
        ("validity.start", |d| d.validity.start = "04/01/2027".into()),
        ("validity ends", |d| d.validity.end = "2026-01-01".into()),
    ];
    for (what, break_it) in cases {
        let mut data = sample::cloud_compute(AgreementKind::Sla);
        break_it(&mut data);
        match renderer.render(&data, None) {
            Err(RenderError::InvalidData(message)) => assert!(message.contains(what), "{message}"),
            other => panic!("{what}: {other:?}"),
        }
    }
}

#[test]
fn every_file_matches_its_manifest_hash() {
    let manifest: Manifest = toml::from_str(
        TEMPLATE_DIR
            .get_file("manifest.toml")
            .and_then(|f| f.contents_utf8())
            .expect("sla-templates/manifest.toml"),
    )
    .expect("the manifest parses");
    let mut listed = BTreeSet::new();
    let files = manifest
        .templates
        .iter()
        .flat_map(|t| &t.files)
        .chain(&manifest.fonts);
    for file in files {
        let bytes = TEMPLATE_DIR
            .get_file(&file.path)
            .unwrap_or_else(|| panic!("sla-templates/{} is listed but missing", file.path))
            .contents();
        assert_eq!(
            sha256_hex(bytes),
            file.sha256,
            "sla-templates/{} changed: a changed template is a new version \
             (sla-templates/README.md); never edit a released one",
            file.path
        );
        listed.insert(file.path.clone());
    }
    // Every template file on disk belongs to some version: no edits on the side.
    let mut on_disk = Vec::new();
    collect_files(&TEMPLATE_DIR, &mut on_disk);
    for path in on_disk.iter().filter(|p| p.ends_with(".typ")) {
        assert!(
            listed.contains(path),
            "sla-templates/{path} is in no manifest entry"
        );
    }
    // The renderer agrees, and new documents of both kinds have a template.
    let renderer = renderer();
    for kind in [AgreementKind::Sla, AgreementKind::Ola] {
        let (id, version) = renderer.current(kind);
        let newest = manifest
            .templates
            .iter()
            .filter(|t| t.id == kind.as_str())
            .map(|t| t.version)
            .max();
        assert_eq!((id.as_str(), Some(version)), (kind.as_str(), newest));
    }
}

fn collect_files(dir: &include_dir::Dir<'_>, out: &mut Vec<String>) {
    for file in dir.files() {
        out.push(file.path().to_string_lossy().replace('\\', "/"));
    }
    for sub in dir.dirs() {
        collect_files(sub, out);
    }
}

#[test]
fn every_listed_version_still_renders() {
    let renderer = renderer();
    let templates = renderer.templates();
    assert!(templates.len() >= 2);
    for (id, version) in templates {
        let kind = renderer.shared.templates[&(id.clone(), version)].kind;
        for data in [
            sample::cloud_compute(kind),
            sample::cloud_compute_amended(kind),
        ] {
            let rendered = renderer
                .render_with(&id, version, &data, None)
                .unwrap_or_else(|e| panic!("{id} v{version}: {e}"));
            assert_eq!(
                (rendered.template_id.as_str(), rendered.template_version),
                (id.as_str(), version)
            );
        }
    }
}

/// The PDF's pages rasterized by poppler (`pdftoppm`, grey, 40 dpi), in order.
fn pages_as_pixels(pdf: &[u8]) -> Option<Vec<Vec<u8>>> {
    let ran = super::poppler::run("pdftoppm", pdf, &["-r", "40", "-gray"], &["page"])?;
    let mut pages: Vec<_> = std::fs::read_dir(ran.dir.path())
        .expect("the temporary directory")
        .map(|entry| entry.expect("an entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "pgm"))
        .collect();
    pages.sort();
    Some(
        pages
            .iter()
            .map(|page| std::fs::read(page).expect("a page"))
            .collect(),
    )
}

/// Version 3 changed how the templates are built (no style depends on the
/// document's data, so typst reuses the boilerplate's layout), not what they
/// print: every page is the same as version 2's, pixel for pixel, and so is the
/// text, with long words and an amendment too.
#[test]
fn version_3_prints_the_same_pages_as_version_2() {
    let renderer = renderer();
    for kind in [AgreementKind::Sla, AgreementKind::Ola] {
        let mut long_words = with_text(kind, &long_word(90));
        long_words.title = Some(long_word(190));
        long_words.signatories[1].party = long_word(80);
        for (case, data) in [
            ("sample", sample::cloud_compute(kind)),
            ("amended", sample::cloud_compute_amended(kind)),
            ("long words", long_words),
        ] {
            let id = kind.as_str();
            let v2 = renderer.render_with(id, 2, &data, None).unwrap();
            let v3 = renderer.render_with(id, 3, &data, None).unwrap();
            assert_ne!(v2.sha256, v3.sha256, "{kind:?} {case}: a new version");
            let (Some(v2_pages), Some(v3_pages)) =
                (pages_as_pixels(&v2.bytes), pages_as_pixels(&v3.bytes))
            else {
                return;
            };
            assert!(!v3_pages.is_empty());
            assert_eq!(v2_pages.len(), v3_pages.len(), "{kind:?} {case}: pages");
            for (n, (a, b)) in v2_pages.iter().zip(&v3_pages).enumerate() {
                assert!(a == b, "{kind:?} {case}: page {} differs", n + 1);
            }
            assert_eq!(pdf_text(&v2.bytes), pdf_text(&v3.bytes), "{kind:?} {case}");
        }
    }
}

#[test]
fn a_broken_manifest_is_reported() {
    use include_dir::{Dir, DirEntry, File};
    static BAD_HASH: Dir<'static> = Dir::new(
        "",
        &[
            DirEntry::File(File::new(
                "manifest.toml",
                br#"[[template]]
id = "sla"
version = 1
kind = "sla"
main = "sla.typ"
files = [{ path = "sla.typ", sha256 = "00" }]
"#,
            )),
            DirEntry::File(File::new("sla.typ", b"edited")),
        ],
    );
    assert!(matches!(
        TemplateSet::load(&BAD_HASH),
        Err(ManifestError::HashMismatch { .. })
    ));
}

/// A set as `sla-templates/README.md` says to keep it after a change: version 1
/// reads its archived files under their original names, version 2 the new ones.
#[test]
fn an_archived_version_renders_from_its_archived_files() {
    use include_dir::{Dir, DirEntry, File};
    fn leak<T: ?Sized>(value: Box<T>) -> &'static T {
        Box::leak(value)
    }
    let common = TEMPLATE_DIR.get_file("common.typ").unwrap().contents();
    let page = |words: &str| {
        format!(
            "#import \"common.typ\": long-date\n#let data = json(\"/data.json\")\n\
             {words} #long-date(data.issued_on)\n"
        )
    };
    let (old, new) = (page("Old wording"), page("New wording"));
    let files: Vec<(&str, &[u8])> = vec![
        (
            "archive/sla-v1/sla.typ",
            leak(old.clone().into_bytes().into_boxed_slice()),
        ),
        ("archive/sla-v1/common.typ", common),
        ("sla.typ", leak(new.clone().into_bytes().into_boxed_slice())),
        ("common.typ", common),
    ];
    let hash = |path: &str| sha256_hex(files.iter().find(|(p, _)| *p == path).unwrap().1);
    let manifest = format!(
        r#"
[[template]]
id = "sla"
version = 1
kind = "sla"
main = "sla.typ"
files = [
    {{ name = "sla.typ", path = "archive/sla-v1/sla.typ", sha256 = "{}" }},
    {{ name = "common.typ", path = "archive/sla-v1/common.typ", sha256 = "{}" }},
]

[[template]]
id = "sla"
version = 2
kind = "sla"
main = "sla.typ"
files = [
    {{ path = "sla.typ", sha256 = "{}" }},
    {{ path = "common.typ", sha256 = "{}" }},
]
"#,
        hash("archive/sla-v1/sla.typ"),
        hash("archive/sla-v1/common.typ"),
        hash("sla.typ"),
        hash("common.typ"),
    );
    let mut entries: Vec<DirEntry<'static>> = files
        .iter()
        .map(|(path, bytes)| DirEntry::File(File::new(leak(Box::<str>::from(*path)), bytes)))
        .collect();
    entries.push(DirEntry::File(File::new(
        "manifest.toml",
        leak(manifest.into_bytes().into_boxed_slice()),
    )));
    let dir: &'static Dir<'static> = leak(Box::new(Dir::new("", leak(entries.into_boxed_slice()))));

    let set = TemplateSet::load(dir).expect("the set loads");
    let renderer = Renderer {
        shared: Arc::new(Shared::new(&set).expect("the set compiles")),
    };
    assert_eq!(renderer.current(AgreementKind::Sla), ("sla".to_owned(), 2));
    let data = sample::cloud_compute(AgreementKind::Sla);
    let v1 = renderer.render_with("sla", 1, &data, None).unwrap();
    let v2 = renderer.render(&data, None).unwrap();
    assert_eq!(v2.template_version, 2);
    if let (Some(v1), Some(v2)) = (pdf_text(&v1.bytes), pdf_text(&v2.bytes)) {
        assert_eq!(v1, "Old wording 14 December 2026");
        assert_eq!(v2, "New wording 14 December 2026");
    }
}

/// A word of `len` characters without a break opportunity: wide capitals and
/// digits, the worst case for a narrow column.
fn long_word(len: usize) -> String {
    (0..len)
        .map(|i| {
            if i % 7 == 6 {
                char::from(b'0' + (i % 10) as u8)
            } else {
                char::from(b'A' + (i % 26) as u8)
            }
        })
        .collect()
}

/// Every word poppler finds (`pdftotext -bbox`): page width, and each word's
/// right edge and text.
fn word_boxes(pdf: &[u8]) -> Option<Vec<(f64, f64, String)>> {
    let html = poppler("pdftotext", pdf, &["-bbox", "-enc", "UTF-8"])?;
    let attribute = |tag: &str, name: &str| -> f64 {
        let start = tag.find(&format!("{name}=\"")).expect(name) + name.len() + 2;
        let end = start + tag[start..].find('"').expect("a closing quote");
        tag[start..end].parse().expect("a number")
    };
    let mut page_width = 0.0;
    let mut words = Vec::new();
    for line in html.lines().map(str::trim) {
        if line.starts_with("<page ") {
            page_width = attribute(line, "width");
        } else if let Some(rest) = line.strip_prefix("<word ") {
            let (tag, text) = rest.split_once('>').expect("a word element");
            let text = text.trim_end_matches("</word>");
            words.push((page_width, attribute(tag, "xMax"), text.to_owned()));
        }
    }
    Some(words)
}

#[test]
fn long_words_in_any_field_wrap_inside_the_page_margins() {
    let renderer = renderer();
    let title = long_word(190);
    for kind in [AgreementKind::Sla, AgreementKind::Ola] {
        let mut data = with_text(kind, &long_word(90));
        data.title = Some(title.clone());
        data.issuer.name = long_word(70);
        data.customer.contact = Some(format!("{}@example.org", long_word(60)));
        data.signatories[1].party = long_word(80);
        let rendered = renderer.render(&data, None).unwrap();
        let Some(words) = word_boxes(&rendered.bytes) else {
            return;
        };
        // The page's right margin (21 mm, `common.typ`), a hair of rounding.
        let margin = 21.0 / 25.4 * 72.0;
        let beyond: Vec<_> = words
            .iter()
            .filter(|(width, x_max, _)| *x_max > width - margin + 0.5)
            .collect();
        assert!(
            beyond.is_empty(),
            "{kind:?}: text beyond the right margin: {beyond:?}"
        );
        // Nothing was cut: the title, and every long word, is all there, and
        // nothing was added to the text (it copies as it was written).
        let text: String = words.iter().flat_map(|(_, _, word)| word.chars()).collect();
        assert!(text.contains(&title), "{kind:?}: the title is cut: {text}");
        assert!(text.contains(&long_word(90)), "{kind:?}: {text}");
        assert!(text.contains(&long_word(80)), "{kind:?}: {text}");
    }
}

#[test]
fn words_up_to_twenty_characters_are_not_broken() {
    let mut data = sample::cloud_compute(AgreementKind::Sla);
    data.title = Some("Internationalisation Forschungszentrum Characterisations".into());
    let rendered = renderer().render(&data, None).unwrap();
    let Some(words) = word_boxes(&rendered.bytes) else {
        return;
    };
    for word in ["Internationalisation", "Forschungszentrum"] {
        assert!(
            words.iter().any(|(_, _, w)| w == word),
            "{word} is one word: {words:?}"
        );
    }
}
