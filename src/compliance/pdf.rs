//! The monthly compliance report as a PDF, rendered in-process by typst.
//!
//! Start with [`ReportRenderer::render`]. The template, `compliance.typ`, is
//! compiled into the binary; it reads the report from `/data.json` in a closed
//! world (no disk, no network, no clock), prepared by `View::new`: figures
//! already formatted as the API gives them (5 decimals, `n/a` for undefined),
//! chart values clamped to 0–100. So the template only lays out, and no text in
//! the data can change the layout. Library and fonts are the agreement
//! documents' (`documents::world::Typesetting`).
//!
//! A rendering depends only on the report: the PDF's date is the first day of
//! the period (00:00 UTC) and its identifier is derived from the period, so
//! rendering a report twice gives the same bytes.

use std::sync::{Arc, LazyLock};

use serde::Serialize;
use typst::diag::{FileError, FileResult};
use typst::foundations::{Bytes, Datetime, Smart};
use typst::syntax::{FileId, Source};
use typst::text::{Font, FontBook};
use typst::utils::LazyHash;
use typst::{Library, World};
use typst_layout::PagedDocument;
use typst_pdf::{PdfOptions, Timestamp};

use super::report::{AgreementCompliance, ComplianceReport, PeriodLevels, Usage, month_days};
use crate::documents::templates::TemplateSet;
use crate::documents::world::{DATA, Typesetting, not_found, project_file};
use crate::documents::{describe, evict_now_and_then};

/// The template, `/compliance.typ` in its world.
static MAIN: LazyLock<FileId> = LazyLock::new(|| project_file("/compliance.typ"));

const TEMPLATE: &str = include_str!("compliance.typ");

/// Renders compliance reports. Cheap to clone (one `Arc`); build it once, it
/// keeps fonts, the parsed template and typst's caches warm.
#[derive(Clone)]
pub struct ReportRenderer {
    shared: Arc<Shared>,
}

struct Shared {
    typesetting: Typesetting,
    main: Source,
}

impl ReportRenderer {
    /// Loads the fonts (those of the agreement documents, checked against
    /// `sla-templates/manifest.toml`) and parses the template. Takes a few
    /// milliseconds.
    pub fn new() -> Result<Self, String> {
        let set = TemplateSet::embedded().map_err(|e| e.to_string())?;
        Ok(Self {
            shared: Arc::new(Shared {
                typesetting: Typesetting::new(&set),
                main: Source::new(*MAIN, TEMPLATE.to_owned()),
            }),
        })
    }

    /// The report as a PDF. Fails when `report.period` is not a `YYYY-MM` month
    /// (or, from a bad build only, when the template does not compile).
    #[tracing::instrument(skip_all, fields(period = %report.period, agreements = report.agreements.len()))]
    pub fn render(&self, report: &ComplianceReport) -> Result<Vec<u8>, String> {
        let (first, last) = month_days(&report.period)?;
        let first_day = Datetime::from_ymd(
            i32::from(first.year()),
            first.month() as u8,
            first.day() as u8,
        )
        .ok_or_else(|| format!("{} is out of range", report.period))?;
        let midnight = Datetime::from_ymd_hms(
            i32::from(first.year()),
            first.month() as u8,
            first.day() as u8,
            0,
            0,
            0,
        )
        .ok_or_else(|| format!("{} is out of range", report.period))?;

        let view = View::new(report, last.day() as u8);
        let world = ReportWorld {
            shared: &self.shared,
            data: Bytes::new(serde_json::to_vec(&view).map_err(|e| e.to_string())?),
            today: first_day,
        };
        let compiled = typst::compile::<PagedDocument>(&world);
        if !compiled.warnings.is_empty() {
            tracing::debug!(warnings = %describe(&world, &compiled.warnings), "template warnings");
        }
        let document = compiled.output.map_err(|errors| {
            evict_now_and_then();
            format!(
                "the compliance template failed: {}",
                describe(&world, &errors)
            )
        })?;
        let options = PdfOptions {
            // The PDF's /ID: one per month's report, whoever renders it.
            ident: Smart::Custom(format!("pactum:compliance:{}", report.period)),
            creator: Smart::Custom(Some("pactum".to_owned())),
            timestamp: Some(Timestamp::new_utc(midnight)),
            ..PdfOptions::default()
        };
        let pdf = typst_pdf::pdf(&document, &options);
        evict_now_and_then();
        pdf.map_err(|errors| format!("the compliance PDF failed: {}", describe(&world, &errors)))
    }
}

/// The world of one rendering: the template and `/data.json`, nothing else.
struct ReportWorld<'a> {
    shared: &'a Shared,
    data: Bytes,
    today: Datetime,
}

impl World for ReportWorld<'_> {
    fn library(&self) -> &LazyHash<Library> {
        &self.shared.typesetting.library
    }

    fn book(&self) -> &LazyHash<FontBook> {
        &self.shared.typesetting.book
    }

    fn main(&self) -> FileId {
        *MAIN
    }

    fn source(&self, id: FileId) -> FileResult<Source> {
        if id == *MAIN {
            Ok(self.shared.main.clone())
        } else if id == *DATA {
            Err(FileError::NotSource)
        } else {
            Err(not_found(id))
        }
    }

    fn file(&self, id: FileId) -> FileResult<Bytes> {
        if id == *DATA {
            Ok(self.data.clone())
        } else if id == *MAIN {
            Ok(Bytes::from_string(self.shared.main.clone()))
        } else {
            Err(not_found(id))
        }
    }

    fn font(&self, index: usize) -> Option<Font> {
        self.shared.typesetting.font(index)
    }

    fn today(&self, _offset: Option<typst::foundations::Duration>) -> Option<Datetime> {
        Some(self.today)
    }
}

/// `/data.json`: the report as the template lays it out.
#[derive(Serialize)]
struct View<'a> {
    /// `Service level compliance — YYYY-MM`.
    title: String,
    period: &'a str,
    position: i64,
    days_in_month: u8,
    agreement_count: usize,
    agreements: Vec<AgreementView<'a>>,
}

#[derive(Serialize)]
struct AgreementView<'a> {
    reference: &'a str,
    /// `SLA` or `OLA`.
    kind: String,
    org: &'a str,
    provider: Option<&'a str>,
    service: &'a str,
    time_zone: &'a str,
    /// The endpoints and how they combine: `all of: a, b`.
    endpoints: String,
    month: MonthView,
    days: Vec<DayView>,
    days_missed: usize,
    days_undefined: usize,
    usage: Option<UsageView<'a>>,
}

/// The month's figures, formatted.
#[derive(Serialize)]
struct MonthView {
    availability: String,
    reliability: String,
    unknown: String,
    downtime: String,
    target_availability: String,
    target_reliability: String,
    /// `met`, `MISSED` or `undefined`, for each level and for both.
    availability_verdict: &'static str,
    reliability_verdict: &'static str,
    verdict: &'static str,
    /// How the figures were obtained: `measured`, `imported` or `none`.
    source: String,
}

/// One bar of the chart.
#[derive(Serialize)]
struct DayView {
    /// Day of the month, 1-based.
    day: u8,
    /// Percent, within 0–100; `None` when undefined.
    availability: Option<f64>,
    /// Percent, within 0–100.
    target: f64,
    met: Option<bool>,
}

#[derive(Serialize)]
struct UsageView<'a> {
    used: String,
    committed: String,
    used_pct: String,
    flag: &'a str,
    records: u64,
    used_value: f64,
    committed_value: f64,
}

impl<'a> View<'a> {
    fn new(report: &'a ComplianceReport, days_in_month: u8) -> Self {
        Self {
            title: format!("Service level compliance — {}", report.period),
            period: &report.period,
            position: report.position,
            days_in_month,
            agreement_count: report.agreements.len(),
            agreements: report
                .agreements
                .iter()
                .map(|a| AgreementView::new(a, &report.period, days_in_month))
                .collect(),
        }
    }
}

impl<'a> AgreementView<'a> {
    fn new(a: &'a AgreementCompliance, period: &str, days_in_month: u8) -> Self {
        let days: Vec<DayView> = a
            .days
            .iter()
            .filter_map(|d| {
                // `YYYY-MM-DD` of this month only.
                let day: u8 = d
                    .period
                    .strip_prefix(period)?
                    .strip_prefix('-')?
                    .parse()
                    .ok()?;
                (1..=days_in_month).contains(&day).then(|| DayView {
                    day,
                    availability: d.availability.filter(|v| v.is_finite()).map(clamp_percent),
                    target: clamp_percent(d.target_availability),
                    met: d.availability_met,
                })
            })
            .collect();
        let endpoints = if a.endpoints.is_empty() {
            "none".to_owned()
        } else {
            format!("{} of: {}", a.combine, a.endpoints.join(", "))
        };
        Self {
            reference: &a.reference,
            kind: a.kind.to_uppercase(),
            org: &a.org,
            provider: a.provider.as_deref(),
            service: &a.service,
            time_zone: &a.time_zone,
            endpoints,
            month: MonthView::new(a.months.iter().find(|m| m.period == period)),
            days_missed: days.iter().filter(|d| d.met == Some(false)).count(),
            days_undefined: days.iter().filter(|d| d.availability.is_none()).count(),
            days,
            usage: a
                .usage
                .iter()
                .find(|u| u.period == period)
                .map(UsageView::new),
        }
    }
}

impl MonthView {
    fn new(month: Option<&PeriodLevels>) -> Self {
        let Some(m) = month else {
            return Self {
                availability: percent(None),
                reliability: percent(None),
                unknown: percent(None),
                downtime: percent(None),
                target_availability: percent(None),
                target_reliability: percent(None),
                availability_verdict: verdict(None),
                reliability_verdict: verdict(None),
                verdict: verdict(None),
                source: "none".to_owned(),
            };
        };
        let both = match (m.availability_met, m.reliability_met) {
            (Some(false), _) | (_, Some(false)) => Some(false),
            (Some(true), Some(true)) => Some(true),
            _ => None,
        };
        Self {
            availability: percent(m.availability),
            reliability: percent(m.reliability),
            unknown: percent(Some(m.unknown_pct)),
            downtime: percent(Some(m.downtime_pct)),
            target_availability: percent(Some(m.target_availability)),
            target_reliability: percent(Some(m.target_reliability)),
            availability_verdict: verdict(m.availability_met),
            reliability_verdict: verdict(m.reliability_met),
            verdict: verdict(both),
            source: m.source.clone(),
        }
    }
}

impl<'a> UsageView<'a> {
    fn new(u: &'a Usage) -> Self {
        Self {
            used: core_hours(u.used_core_hours),
            committed: core_hours(u.committed_core_hours),
            used_pct: percent(u.used_pct),
            flag: &u.flag,
            records: u.records,
            used_value: finite_non_negative(u.used_core_hours),
            committed_value: finite_non_negative(u.committed_core_hours),
        }
    }
}

/// `99.18699 %`, or `n/a`.
fn percent(value: Option<f64>) -> String {
    match value.filter(|v| v.is_finite()) {
        Some(v) => format!("{v:.5} %"),
        None => "n/a".to_owned(),
    }
}

/// Core-hours to the hundredth: `1234.50`.
fn core_hours(value: f64) -> String {
    if value.is_finite() {
        format!("{value:.2}")
    } else {
        "n/a".to_owned()
    }
}

fn verdict(met: Option<bool>) -> &'static str {
    match met {
        Some(true) => "met",
        Some(false) => "MISSED",
        None => "undefined",
    }
}

fn clamp_percent(value: f64) -> f64 {
    if value.is_finite() {
        value.clamp(0.0, 100.0)
    } else {
        0.0
    }
}

fn finite_non_negative(value: f64) -> f64 {
    if value.is_finite() {
        value.max(0.0)
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn day(date: &str, availability: Option<f64>, target: f64) -> PeriodLevels {
        PeriodLevels {
            period: date.to_owned(),
            availability,
            reliability: availability,
            unknown_pct: if availability.is_none() { 100.0 } else { 0.0 },
            downtime_pct: 0.0,
            target_availability: target,
            target_reliability: target,
            availability_met: availability.map(|a| a >= target),
            reliability_met: availability.map(|a| a >= target),
            source: if availability.is_none() {
                "none"
            } else {
                "measured"
            }
            .to_owned(),
        }
    }

    /// 31 days of March 2026: `level(d)` for day `d`.
    fn march(target: f64, level: impl Fn(u8) -> Option<f64>) -> Vec<PeriodLevels> {
        (1..=31)
            .map(|d| day(&format!("2026-03-{d:02}"), level(d), target))
            .collect()
    }

    fn agreement(
        reference: &str,
        kind: &str,
        provider: Option<&str>,
        days: Vec<PeriodLevels>,
        month: PeriodLevels,
        usage: Usage,
    ) -> AgreementCompliance {
        AgreementCompliance {
            agreement_id: format!("agr-{reference}"),
            reference: reference.to_owned(),
            kind: kind.to_owned(),
            org: "Institute of Marine Sciences".to_owned(),
            provider: provider.map(str::to_owned),
            service: "Cloud Compute".to_owned(),
            time_zone: "Europe/Amsterdam".to_owned(),
            endpoints: vec![
                "compute.example.org".to_owned(),
                "api.compute.example.org".to_owned(),
            ],
            combine: "all".to_owned(),
            days,
            months: vec![month],
            usage: vec![usage],
        }
    }

    /// Two agreements over March 2026: the SLA missed its reliability target
    /// (and has two undefined days and two days below target), the OLA's
    /// reliability is undefined and its usage over commitment.
    fn sample() -> ComplianceReport {
        let sla_month = PeriodLevels {
            period: "2026-03".to_owned(),
            availability: Some(99.18699),
            reliability: Some(98.76543),
            unknown_pct: 6.45161,
            downtime_pct: 0.41667,
            target_availability: 99.0,
            target_reliability: 99.5,
            availability_met: Some(true),
            reliability_met: Some(false),
            source: "measured".to_owned(),
        };
        let ola_month = PeriodLevels {
            period: "2026-03".to_owned(),
            availability: Some(99.95123),
            reliability: None,
            unknown_pct: 0.0,
            downtime_pct: 0.0,
            target_availability: 95.0,
            target_reliability: 95.0,
            availability_met: Some(true),
            reliability_met: None,
            source: "imported".to_owned(),
        };
        ComplianceReport {
            period: "2026-03".to_owned(),
            position: 4711,
            agreements: vec![
                agreement(
                    "SLA-01J9Z3AB",
                    "sla",
                    None,
                    march(99.0, |d| match d {
                        5 | 6 => None,
                        12 => Some(96.5),
                        20 => Some(91.25),
                        d => Some(99.0 + f64::from(d % 10) / 10.0),
                    }),
                    sla_month,
                    Usage {
                        period: "2026-03".to_owned(),
                        used_core_hours: 1234.5,
                        committed_core_hours: 2000.0,
                        used_pct: Some(61.725),
                        flag: "within".to_owned(),
                        records: 42,
                    },
                ),
                agreement(
                    "OLA-01J9Z4CD",
                    "ola",
                    Some("GRNET"),
                    march(95.0, |_| Some(99.95123)),
                    ola_month,
                    Usage {
                        period: "2026-03".to_owned(),
                        used_core_hours: 5120.25,
                        committed_core_hours: 4464.0,
                        used_pct: Some(114.70094),
                        flag: "over".to_owned(),
                        records: 7,
                    },
                ),
            ],
        }
    }

    /// The sample's first agreement with nothing known on any day.
    fn all_undefined() -> ComplianceReport {
        let mut report = sample();
        report.agreements.truncate(1);
        let a = &mut report.agreements[0];
        a.days = march(99.0, |_| None);
        a.months = vec![day("2026-03", None, 99.0)];
        report
    }

    fn renderer() -> ReportRenderer {
        static RENDERER: LazyLock<ReportRenderer> =
            LazyLock::new(|| ReportRenderer::new().expect("the renderer builds"));
        RENDERER.clone()
    }

    /// Runs a poppler tool on `pdf`, with `args` before the PDF's path and
    /// `after` after it: its output, or for `pdftoppm -singlefile` the page
    /// image; `None` when poppler is not installed.
    fn poppler(tool: &str, pdf: &[u8], args: &[&str], after: &[&str]) -> Option<Vec<u8>> {
        let ran = crate::documents::poppler::run(tool, pdf, args, after)?;
        if tool != "pdftoppm" {
            return Some(ran.stdout);
        }
        // pdftoppm -gray -singlefile writes `<root>.pgm` in its directory.
        let root = Path::new(after[0]).with_extension("pgm");
        Some(std::fs::read(ran.dir.path().join(root)).expect("the page image"))
    }

    /// The PDF's text, runs of whitespace as one space.
    fn pdf_text(pdf: &[u8]) -> Option<String> {
        let text = poppler("pdftotext", pdf, &["-raw", "-enc", "UTF-8"], &["-"])?;
        let text = String::from_utf8(text).expect("UTF-8 text");
        Some(text.split_whitespace().collect::<Vec<_>>().join(" "))
    }

    /// A greyscale page: `width` × `height` bytes, 0 black, 255 white.
    struct Gray {
        width: usize,
        height: usize,
        pixels: Vec<u8>,
    }

    impl Gray {
        /// A binary PGM (`P5`, maxval 255), as pdftoppm writes it.
        fn parse(pgm: &[u8]) -> Self {
            let mut fields = Vec::new();
            let mut at = 0;
            while fields.len() < 4 {
                while pgm[at].is_ascii_whitespace() {
                    at += 1;
                }
                if pgm[at] == b'#' {
                    while pgm[at] != b'\n' {
                        at += 1;
                    }
                    continue;
                }
                let start = at;
                while !pgm[at].is_ascii_whitespace() {
                    at += 1;
                }
                fields.push(std::str::from_utf8(&pgm[start..at]).expect("an ASCII header"));
            }
            assert_eq!(fields[0], "P5", "a binary PGM");
            assert_eq!(fields[3], "255", "8 bits per pixel");
            let width: usize = fields[1].parse().expect("a width");
            let height: usize = fields[2].parse().expect("a height");
            let pixels = pgm[at + 1..].to_vec();
            assert_eq!(pixels.len(), width * height, "one byte per pixel");
            Self {
                width,
                height,
                pixels,
            }
        }

        fn blank(width: usize, height: usize) -> Self {
            Self {
                width,
                height,
                pixels: vec![255; width * height],
            }
        }

        fn dark(&self, x: usize, y: usize) -> bool {
            self.pixels[y * self.width + x] < 128
        }

        /// Dark pixels of row `y` between columns `x0` and `x1`.
        fn dark_in_row(&self, y: usize, x0: usize, x1: usize) -> usize {
            (x0..x1).filter(|&x| self.dark(x, y)).count()
        }

        fn dark_in(&self, (x0, y0): (usize, usize), (x1, y1): (usize, usize)) -> usize {
            (y0..y1).map(|y| self.dark_in_row(y, x0, x1)).sum()
        }

        /// The tallest run of rows that are each at least a quarter dark over
        /// columns `x0..x1` and at least `min_rows` tall: the chart's bars,
        /// which nothing else on a page draws (a text line is a few pixels
        /// tall, the table's header row about 15 at 50 dpi). `(first, end)`.
        fn tall_dark_band(&self, x0: usize, x1: usize, min_rows: usize) -> Option<(usize, usize)> {
            let wanted = (x1 - x0) / 4;
            let mut best: Option<(usize, usize)> = None;
            let mut start = None;
            for y in 0..=self.height {
                let dark = y < self.height && self.dark_in_row(y, x0, x1) >= wanted;
                match (dark, start) {
                    (true, None) => start = Some(y),
                    (false, Some(first)) => {
                        if y - first >= min_rows && best.is_none_or(|(a, b)| y - first > b - a) {
                            best = Some((first, y));
                        }
                        start = None;
                    }
                    _ => {}
                }
            }
            best
        }
    }

    /// Page 1 at 50 dpi, greyscale.
    fn first_page(pdf: &[u8]) -> Option<Gray> {
        let pgm = poppler(
            "pdftoppm",
            pdf,
            &["-r", "50", "-gray", "-f", "1", "-l", "1", "-singlefile"],
            &["page"],
        )?;
        Some(Gray::parse(&pgm))
    }

    /// Pixels per millimetre at 50 dpi.
    const PX_PER_MM: f64 = 50.0 / 25.4;

    fn px(mm: f64) -> usize {
        (mm * PX_PER_MM).round() as usize
    }

    #[test]
    fn the_same_report_renders_to_the_same_bytes() {
        let report = sample();
        let first = renderer().render(&report).unwrap();
        let second = ReportRenderer::new().unwrap().render(&report).unwrap();
        assert!(first.starts_with(b"%PDF-"));
        assert!(first == second, "two renderings differ");

        // The period is in the PDF's date, not the clock.
        let info = poppler("pdfinfo", &first, &["-isodates"], &[]);
        if let Some(info) = info {
            let info = String::from_utf8(info).unwrap();
            assert!(info.contains("2026-03-01T00:00:00"), "{info}");
            assert!(
                info.contains("Service level compliance — 2026-03"),
                "{info}"
            );
        }
    }

    #[test]
    fn the_pdf_shows_each_agreement_its_month_against_targets_and_its_usage() {
        let pdf = renderer().render(&sample()).unwrap();
        let Some(text) = pdf_text(&pdf) else { return };
        for wanted in [
            "Service level compliance — 2026-03",
            "SLA-01J9Z3AB",
            "OLA-01J9Z4CD",
            "Institute of Marine Sciences",
            "GRNET",
            "Europe/Amsterdam",
            "all of: compute.example.org, api.compute.example.org",
            // The month's figures as given, 5 decimals.
            "99.18699 %",
            "98.76543 %",
            "6.45161 %",
            "0.41667 %",
            "99.00000 %",
            "99.50000 %",
            "99.95123 %",
            "MISSED",
            "met",
            "n/a",
            "undefined",
            "Days below the availability target: 2 of 31; days undefined (nothing known): 2.",
            // Usage.
            "Used 1234.50 of 2000.00 committed core-hours (61.72500 %)",
            "flag: within",
            "Used 5120.25 of 4464.00 committed core-hours (114.70094 %)",
            "flag: over",
        ] {
            assert!(
                text.contains(wanted),
                "the PDF text lacks {wanted:?}:\n{text}"
            );
        }
        // One agreement per page.
        let pages = poppler("pdfinfo", &pdf, &[], &[]).map(String::from_utf8);
        if let Some(Ok(info)) = pages {
            assert!(info.contains("Pages:           2"), "{info}");
        }
    }

    #[test]
    fn the_first_page_draws_the_chart_and_leaves_the_margin_blank() {
        let Some(page) = first_page(&renderer().render(&sample()).unwrap()) else {
            return;
        };
        // A4 at 50 dpi.
        assert!(page.width.abs_diff(px(210.0)) <= 1, "width {}", page.width);
        assert!(
            page.height.abs_diff(px(297.0)) <= 1,
            "height {}",
            page.height
        );
        // The plot spans 32–182 mm from the left edge (20 mm margin, 12 mm of
        // axis labels); the bars fill most of its 48 mm height.
        let (x0, x1) = (px(32.0), px(182.0));
        let (top, bottom) = page
            .tall_dark_band(x0, x1, px(20.0))
            .expect("the chart's bars on page 1");
        assert!(bottom - top >= px(35.0), "bars {top}..{bottom} too short");
        assert!(
            bottom - top <= px(48.0) + 1,
            "bars {top}..{bottom} too tall"
        );
        // Below the title, identity and month table; above the page's end.
        assert!(
            top > px(70.0) && bottom < px(260.0),
            "chart at {top}..{bottom}"
        );
        let dark = page.dark_in((x0, top), (x1, bottom));
        assert!(dark > (x1 - x0) * (bottom - top) / 2, "{dark} dark pixels");

        // The left margin has nothing, and the check finds no chart in it, nor
        // on a blank page: the checks above can fail.
        assert_eq!(page.dark_in((0, 0), (px(18.0), page.height)), 0);
        assert_eq!(page.tall_dark_band(0, px(18.0), px(20.0)), None);
        let blank = Gray::blank(page.width, page.height);
        assert_eq!(blank.tall_dark_band(x0, x1, px(20.0)), None);
        assert_eq!(blank.dark_in((x0, top), (x1, bottom)), 0);
    }

    #[test]
    fn an_agreement_with_no_day_known_renders_with_markers_not_bars() {
        let pdf = renderer().render(&all_undefined()).unwrap();
        if let Some(text) = pdf_text(&pdf) {
            assert!(text.contains("SLA-01J9Z3AB"), "{text}");
            assert!(
                text.contains("days undefined (nothing known): 31"),
                "{text}"
            );
            assert!(text.contains("Verdict for the month: undefined"), "{text}");
            assert!(text.contains("Source of the figures: none"), "{text}");
            assert!(text.contains("1 agreement;"), "{text}");
            assert!(!text.contains("MISSED"), "{text}");
        }
        let Some(page) = first_page(&pdf) else { return };
        // Undefined days are short grey markers, not bars.
        assert_eq!(page.tall_dark_band(px(32.0), px(182.0), px(20.0)), None);
    }

    #[test]
    fn data_is_text_never_markup() {
        let mut report = sample();
        report.agreements[0].service = "#panic(\"boom\") *bold* = heading $x$".to_owned();
        let pdf = renderer().render(&report).unwrap();
        if let Some(text) = pdf_text(&pdf) {
            assert!(
                text.contains("#panic(\"boom\") *bold* = heading $x$"),
                "{text}"
            );
        }
    }

    #[test]
    fn a_period_that_is_not_a_month_is_refused() {
        let mut report = sample();
        report.period = "2026-13".to_owned();
        assert!(renderer().render(&report).is_err());
    }

    #[test]
    fn figures_have_five_decimals_and_undefined_is_n_a() {
        assert_eq!(percent(Some(99.18699)), "99.18699 %");
        assert_eq!(percent(Some(100.0)), "100.00000 %");
        assert_eq!(percent(None), "n/a");
        assert_eq!(percent(Some(f64::NAN)), "n/a");
        assert_eq!(core_hours(1234.5), "1234.50");
    }
}
