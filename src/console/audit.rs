//! For auditors (and admins): the global log as a feed (`/ui/events`) and the
//! order report as a table with a chart (`/ui/reports`), drawn as SVG by the
//! server (no script, no inline style).

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use jiff::{SignedDuration, Timestamp};

use super::{Chrome, Viewer, error_page, failed, render, when};
use crate::access::policy;
use crate::app::App;
use crate::http::error::ApiError;

pub fn router() -> Router<App> {
    Router::new()
        .route("/ui/events", get(events_page))
        .route("/ui/reports", get(reports_page))
        .route("/ui/verify", get(verify_page))
}

pub struct EventRow {
    pub position: u64,
    pub when: String,
    pub kind: String,
    pub id: String,
    pub order: bool,
    pub event_type: String,
    pub actor: String,
}

#[derive(Template)]
#[template(path = "events.html")]
struct EventsPage {
    chrome: Chrome,
    events: Vec<EventRow>,
    earlier: Option<u64>,
    later: Option<u64>,
}

#[derive(serde::Deserialize)]
struct EventsQuery {
    after: Option<u64>,
}

const PAGE: u32 = 50;

async fn events_page(
    State(app): State<App>,
    viewer: Viewer,
    Query(query): Query<EventsQuery>,
) -> Response {
    if !policy::can_read_log(&viewer.principal) {
        return error_page(
            StatusCode::FORBIDDEN,
            "Only auditors and admins read the whole log.",
        );
    }
    let head = app.store.head();
    let after = query
        .after
        .unwrap_or_else(|| head.saturating_sub(u64::from(PAGE)));
    let events = match app.store.read_after(after, PAGE).await {
        Ok(events) => events,
        Err(error) => return failed(error.into()),
    };
    let last = events.last().map_or(after, |e| e.position);
    let rows = events
        .into_iter()
        .rev()
        .map(|e| EventRow {
            position: e.position,
            when: when(e.recorded_at),
            order: e.aggregate_type == "order",
            kind: e.aggregate_type,
            id: e.aggregate_id,
            event_type: e.event_type,
            actor: format!("{} ({})", e.actor.subject, e.actor.role),
        })
        .collect();
    render(
        StatusCode::OK,
        &EventsPage {
            chrome: viewer.chrome(),
            events: rows,
            earlier: (after > 0).then(|| after.saturating_sub(u64::from(PAGE))),
            later: (last < head).then_some(last),
        },
    )
}

/// One bar of the chart.
pub struct Bar {
    pub label: String,
    pub y: u32,
    pub submitted: u32,
    pub approved: u32,
    pub rejected: u32,
    pub count: u64,
}

pub struct Line {
    pub service: String,
    pub group: String,
    pub submitted: u64,
    pub approved: u64,
    pub rejected: u64,
    pub cancelled: u64,
    pub first_response: String,
    pub decision: String,
    pub within: String,
}

#[derive(Template)]
#[template(path = "reports.html")]
struct ReportsPage {
    chrome: Chrome,
    from: String,
    to: String,
    lines: Vec<Line>,
    bars: Vec<Bar>,
    height: u32,
}

#[derive(serde::Deserialize)]
struct ReportQuery {
    from: Option<String>,
    to: Option<String>,
}

fn day(raw: Option<&str>, default: Timestamp) -> Result<Timestamp, ApiError> {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(default),
        Some(raw) => raw
            .parse::<jiff::civil::Date>()
            .map_err(|e| ApiError::BadRequest(format!("{raw:?} is not a date: {e}")))?
            .to_zoned(jiff::tz::TimeZone::UTC)
            .map(|z| z.timestamp())
            .map_err(|e| ApiError::BadRequest(e.to_string())),
    }
}

fn hours(seconds: Option<i64>) -> String {
    seconds.map_or_else(|| "–".into(), |s| format!("{:.1} h", s as f64 / 3600.0))
}

async fn reports_page(
    State(app): State<App>,
    viewer: Viewer,
    Query(query): Query<ReportQuery>,
) -> Response {
    let now = app.now();
    let result = async {
        let to = day(query.to.as_deref(), now)?;
        let from = day(
            query.from.as_deref(),
            to - SignedDuration::from_hours(24 * 30),
        )?;
        let report = crate::reports::orders(&app, &viewer.principal, from, to)
            .await
            .map_err(ApiError::from)?;
        Ok::<_, ApiError>((from, to, report))
    }
    .await;
    let (from, to, report) = match result {
        Ok(done) => done,
        Err(error) => return failed(error),
    };
    let widest = report
        .rows
        .iter()
        .map(|r| r.submitted)
        .max()
        .unwrap_or(0)
        .max(1);
    let scale = |n: u64| (n * 400 / widest) as u32;
    let bars = report
        .rows
        .iter()
        .enumerate()
        .map(|(i, r)| Bar {
            label: r.service.clone(),
            y: 10 + 30 * i as u32,
            submitted: scale(r.submitted),
            approved: scale(r.approved),
            rejected: scale(r.rejected),
            count: r.submitted,
        })
        .collect::<Vec<_>>();
    let height = 20 + 30 * bars.len() as u32;
    let lines = report
        .rows
        .into_iter()
        .map(|r| Line {
            within: r
                .decision
                .within_target_percent
                .map_or_else(|| "–".into(), |p| format!("{p} %")),
            first_response: hours(r.first_response.median_seconds),
            decision: hours(r.decision.median_seconds),
            service: r.service,
            group: r.group,
            submitted: r.submitted,
            approved: r.approved,
            rejected: r.rejected,
            cancelled: r.cancelled,
        })
        .collect();
    render(
        StatusCode::OK,
        &ReportsPage {
            chrome: viewer.chrome(),
            from: from.strftime("%Y-%m-%d").to_string(),
            to: to.strftime("%Y-%m-%d").to_string(),
            lines,
            bars,
            height,
        },
    )
}

#[derive(Template)]
#[template(path = "verify.html")]
struct VerifyPage {
    chrome: Chrome,
    ran: bool,
    intact: bool,
    events: u64,
    aggregates: u64,
    documents: u64,
    findings: Vec<String>,
    more: u64,
}

#[derive(serde::Deserialize)]
struct VerifyQuery {
    run: Option<String>,
}

/// `pactum verify` from the console: every hash chain, the gap-free
/// positions, and every document re-rendered against its recorded hash. It
/// reads the whole log, so it runs when asked (`?run=1`).
async fn verify_page(
    State(app): State<App>,
    viewer: Viewer,
    Query(query): Query<VerifyQuery>,
) -> Response {
    if !policy::can_read_log(&viewer.principal) {
        return error_page(
            StatusCode::FORBIDDEN,
            "Only auditors and admins verify the log.",
        );
    }
    let mut page = VerifyPage {
        chrome: viewer.chrome(),
        ran: false,
        intact: false,
        events: 0,
        aggregates: 0,
        documents: 0,
        findings: Vec::new(),
        more: 0,
    };
    if query.run.is_some() {
        let mut documents =
            crate::agreements::verify::DocumentCheck::new(app.store.clone(), app.renderer.clone());
        let report =
            match crate::store::verify::verify_with(&app.store, &mut [&mut documents]).await {
                Ok(report) => report,
                Err(error) => return failed(error.into()),
            };
        page.ran = true;
        page.intact = report.is_intact();
        page.events = report.events;
        page.aggregates = report.aggregates;
        page.documents = documents.matched;
        page.more = report.total_findings - report.findings.len() as u64;
        page.findings = report.findings.iter().map(ToString::to_string).collect();
    }
    render(StatusCode::OK, &page)
}
