//! Handling targets: `PUT /v1/handling-targets/{group}[/{service}]` (admins)
//! defines a new version; `GET /v1/handling-targets` lists the versions in force,
//! `GET /v1/handling-targets/{group}[/{service}]` one key's.
//!
//! A definition: `{"first_response": "PT4H", "decision": "PT8H",
//! "warning_percent": 75, "calendar": {"time_zone": "Europe/Paris", "hours":
//! {"monday": ["09:00-12:00", "13:00-18:00"], ...}, "holidays": ["2026-12-25"]},
//! "holidays_ics": "BEGIN:VCALENDAR..."}` — targets in business time (ISO 8601
//! or `8h 30m`), at least one of the two; `holidays_ics` optional, the text of an
//! iCalendar file whose events are added as holidays.

use axum::Json;
use axum::extract::State;
use jiff::SignedDuration;
use pactum_calendar::BusinessCalendar;
use pactum_events::handling::{HandlingTargetsDefined, target_key};
use serde::Serialize;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::access::policy::Capability;
use crate::app::App;
use crate::handling::{self, TargetsRequest};
use crate::http::error::{ApiError, require};
use crate::http::extract::{Caller, CommandInput, Path};

pub fn router() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(get_group, put_group))
        .routes(routes!(get_service, put_service))
}

/// A definition as the API shows it.
#[derive(Serialize)]
pub(crate) struct TargetsView {
    key: String,
    group: String,
    service: Option<String>,
    version: u32,
    first_response: Option<String>,
    first_response_seconds: Option<i64>,
    decision: Option<String>,
    decision_seconds: Option<i64>,
    warning_percent: u8,
    calendar: BusinessCalendar,
}

impl From<HandlingTargetsDefined> for TargetsView {
    fn from(defined: HandlingTargetsDefined) -> Self {
        let iso = |s: Option<i64>| s.map(|s| SignedDuration::from_secs(s).to_string());
        Self {
            key: defined.key(),
            first_response: iso(defined.first_response_seconds),
            decision: iso(defined.decision_seconds),
            group: defined.group,
            service: defined.service,
            version: defined.version,
            first_response_seconds: defined.first_response_seconds,
            decision_seconds: defined.decision_seconds,
            warning_percent: defined.warning_percent,
            calendar: defined.calendar,
        }
    }
}

#[derive(Serialize)]
struct TargetsList {
    targets: Vec<TargetsView>,
}

/// Who may read targets: staff.
fn may_read(caller: &Caller) -> Result<(), ApiError> {
    require(&caller.0, Capability::ReadHandlingTargets)
}

#[utoipa::path(
    get,
    path = "/v1/handling-targets",
    tag = "handling",
    summary = "Every group's and service's current targets (staff)",
    responses((status = 200, description = "OK", body = serde_json::Value, content_type = "application/json"), crate::http::openapi::Problems),
    security(("bearer" = []))
)]
async fn list(State(app): State<App>, caller: Caller) -> Result<Json<TargetsList>, ApiError> {
    may_read(&caller)?;
    let targets = handling::current(&app.store).await?;
    Ok(Json(TargetsList {
        targets: targets.into_iter().map(TargetsView::from).collect(),
    }))
}

#[utoipa::path(
    get,
    path = "/v1/handling-targets/{group}",
    tag = "handling",
    summary = "A group's targets",
    params(("group" = String, Path)),
    responses((status = 200, description = "OK", body = serde_json::Value, content_type = "application/json"), crate::http::openapi::Problems),
    security(("bearer" = []))
)]
async fn get_group(
    State(app): State<App>,
    caller: Caller,
    Path(group): Path<String>,
) -> Result<Json<TargetsView>, ApiError> {
    get_one(&app, &caller, &group, None).await
}

#[utoipa::path(
    get,
    path = "/v1/handling-targets/{group}/{service}",
    tag = "handling",
    summary = "A service's own targets",
    params(("group" = String, Path), ("service" = String, Path)),
    responses((status = 200, description = "OK", body = serde_json::Value, content_type = "application/json"), crate::http::openapi::Problems),
    security(("bearer" = []))
)]
async fn get_service(
    State(app): State<App>,
    caller: Caller,
    Path((group, service)): Path<(String, String)>,
) -> Result<Json<TargetsView>, ApiError> {
    get_one(&app, &caller, &group, Some(&service)).await
}

async fn get_one(
    app: &App,
    caller: &Caller,
    group: &str,
    service: Option<&str>,
) -> Result<Json<TargetsView>, ApiError> {
    may_read(caller)?;
    let key = target_key(group, service);
    handling::current(&app.store)
        .await?
        .into_iter()
        .find(|defined| defined.key() == key)
        .map(|defined| Json(defined.into()))
        .ok_or_else(|| ApiError::NotFound(format!("no handling targets for {key}")))
}

#[utoipa::path(
    put,
    path = "/v1/handling-targets/{group}",
    tag = "handling",
    summary = "Define a group's targets (admins): a new version",
    params(("group" = String, Path)),
    request_body(content = serde_json::Value, content_type = "application/json"),
    responses((status = 200, description = "OK", body = serde_json::Value, content_type = "application/json"), crate::http::openapi::Problems),
    security(("bearer" = []))
)]
async fn put_group(
    State(app): State<App>,
    Path(group): Path<String>,
    input: CommandInput,
) -> Result<Json<TargetsView>, ApiError> {
    put(&app, &group, None, &input).await
}

#[utoipa::path(
    put,
    path = "/v1/handling-targets/{group}/{service}",
    tag = "handling",
    summary = "Define a service's own targets (admins)",
    params(("group" = String, Path), ("service" = String, Path)),
    request_body(content = serde_json::Value, content_type = "application/json"),
    responses((status = 200, description = "OK", body = serde_json::Value, content_type = "application/json"), crate::http::openapi::Problems),
    security(("bearer" = []))
)]
async fn put_service(
    State(app): State<App>,
    Path((group, service)): Path<(String, String)>,
    input: CommandInput,
) -> Result<Json<TargetsView>, ApiError> {
    put(&app, &group, Some(&service), &input).await
}

pub(crate) async fn put(
    app: &App,
    group: &str,
    service: Option<&str>,
    input: &CommandInput,
) -> Result<Json<TargetsView>, ApiError> {
    require(&input.principal, Capability::DefineHandlingTargets)?;
    let request: TargetsRequest = input.json()?;
    let (store, catalogue) = (&app.store, &*app.catalogue().await?);
    let defined =
        handling::define(store, catalogue, group, service, &request, &input.meta(app)).await?;
    Ok(Json(defined.into()))
}
