//! Service-level compliance over the API (ADR 0016):
//!
//! - `PUT`/`GET /v1/agreements/{id}/monitoring`: the endpoints that deliver
//!   an agreement (staff bind; whoever sees the agreement reads);
//! - `PUT`/`GET /v1/monitoring/endpoints/{endpoint}`: an endpoint's provider
//!   and heartbeat (admins declare);
//! - `POST /v1/monitoring/status`: probe results; `POST
//!   /v1/monitoring/heartbeats/{endpoint}`: a heartbeat (monitoring systems,
//!   admins, and a provider's operators for their own endpoints);
//! - `POST /v1/accounting/records`: an APEL cloud message, whole or not at all;
//! - `GET /v1/agreements/{id}/compliance` and `GET /v1/reports/compliance`:
//!   the figures.

use axum::Json;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use jiff::civil::Date;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::App;
use crate::compliance::report::{AgreementCompliance, ComplianceReport};
use crate::compliance::service::{
    self, AccountingInput, BindInput, BindingView, EndpointDeclaration, EndpointSpec, EndpointView,
    Error, HeartbeatSpec, PushView, Range, ResultInput, StatusInput, UsageView,
};
use crate::http::error::ApiError;
use crate::http::extract::{BodyLimit, Caller, CommandInput, Path, Query, parse_instant};
use crate::http::response::respond;
use crate::runner::Effect;

/// The largest push of results or accounting records accepted (16 MiB).
pub const MONITORING_BODY_LIMIT: usize = 16 * 1024 * 1024;

pub fn router() -> OpenApiRouter<App> {
    let big = |router: OpenApiRouter<App>| {
        router
            .layer(DefaultBodyLimit::max(MONITORING_BODY_LIMIT))
            .layer(axum::Extension(BodyLimit(MONITORING_BODY_LIMIT)))
    };
    OpenApiRouter::new()
        .routes(routes!(bind, binding))
        .routes(routes!(compliance))
        .routes(routes!(declare, endpoint))
        .routes(routes!(heartbeat))
        .routes(routes!(report))
        .merge(big(OpenApiRouter::new().routes(routes!(status))))
        .merge(big(OpenApiRouter::new().routes(routes!(records))))
}

// ---------------------------------------------------------------- bodies

/// An endpoint in a binding: its name, or its name with a declaration.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
enum EndpointBody {
    Name(String),
    Declared(DeclarationBody),
}

/// An endpoint declared in a binding or with `PUT /v1/monitoring/endpoints/{endpoint}`.
#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct DeclarationBody {
    /// Its name (in a binding; also read as `name` or `id`).
    #[serde(default, alias = "name", alias = "id")]
    endpoint: Option<String>,
    /// The provider whose endpoint it is (its operators may push for it).
    #[serde(default)]
    provider: Option<String>,
    /// Declared to send heartbeats.
    #[serde(default)]
    heartbeat: Option<HeartbeatBody>,
}

#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct HeartbeatBody {
    /// Seconds between beats (10 to 86,400; also read as `interval`).
    #[serde(alias = "interval")]
    interval_seconds: u32,
    /// Silence tolerated beyond the interval before the endpoint turns
    /// CRITICAL (0 to 86,400; default: one interval).
    #[serde(default, alias = "grace")]
    grace_seconds: Option<u32>,
}

/// The body of `PUT /v1/agreements/{id}/monitoring`.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct BindBody {
    /// The endpoints that deliver the agreement.
    endpoints: Vec<EndpointBody>,
    /// `all` (default: every endpoint is needed, the worst status holds) or `any`.
    #[serde(default)]
    combine: Option<String>,
    /// IANA time zone its days and months are counted in (default `UTC`).
    #[serde(default)]
    time_zone: Option<String>,
    /// The first day it applies to (default: the agreement's first day for a
    /// first binding, today for a later one).
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Date)]
    from: Option<Date>,
    /// How accounting records are matched (default: any site, the
    /// customer's organisation as group).
    #[serde(default)]
    accounting: Option<AccountingBody>,
}

#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct AccountingBody {
    #[serde(default)]
    sites: Vec<String>,
    #[serde(default)]
    groups: Vec<String>,
}

/// One probe result.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct ResultBody {
    /// RFC 3339.
    timestamp: String,
    /// `OK`, `WARNING`, `CRITICAL`, `UNKNOWN`, `MISSING` or `DOWNTIME`.
    status: String,
}

/// The body of `POST /v1/monitoring/status`.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct StatusBody {
    endpoint: String,
    /// Also read as `statuses` or `points`.
    #[serde(alias = "statuses", alias = "points")]
    results: Vec<ResultBody>,
}

impl From<EndpointBody> for EndpointSpec {
    fn from(body: EndpointBody) -> Self {
        match body {
            EndpointBody::Name(name) => Self::Name(name),
            EndpointBody::Declared(declared) => Self::Declared(declared.into()),
        }
    }
}

impl From<DeclarationBody> for EndpointDeclaration {
    fn from(body: DeclarationBody) -> Self {
        Self {
            endpoint: body.endpoint,
            provider: body.provider,
            heartbeat: body.heartbeat.map(|h| HeartbeatSpec {
                interval_seconds: h.interval_seconds,
                grace_seconds: h.grace_seconds,
            }),
        }
    }
}

impl From<BindBody> for BindInput {
    fn from(body: BindBody) -> Self {
        Self {
            endpoints: body.endpoints.into_iter().map(Into::into).collect(),
            combine: body.combine,
            time_zone: body.time_zone,
            from: body.from,
            accounting: body.accounting.map(|a| AccountingInput {
                sites: a.sites,
                groups: a.groups,
            }),
        }
    }
}

impl From<StatusBody> for StatusInput {
    fn from(body: StatusBody) -> Self {
        Self {
            endpoint: body.endpoint,
            results: body
                .results
                .into_iter()
                .map(|r| ResultInput {
                    timestamp: r.timestamp,
                    status: r.status,
                })
                .collect(),
        }
    }
}

impl From<Error> for ApiError {
    fn from(error: Error) -> Self {
        use crate::compliance::errors::ComplianceError;
        let detail = error.to_string();
        match error {
            Error::Invalid(errors) => Self::Validation(errors),
            Error::NotFound(_) => Self::NotFound(detail),
            Error::Query(_) => Self::BadRequest(detail),
            Error::Forbidden(_) => Self::Forbidden(detail),
            Error::Refused(
                ComplianceError::Forbidden { .. } | ComplianceError::NotYourEndpoint,
            ) => Self::Forbidden(detail),
            Error::Refused(ComplianceError::NoHeartbeat | ComplianceError::NotMeasured { .. }) => {
                Self::Conflict(detail)
            }
            Error::Run(e) => e.into(),
            Error::Store(e) => e.into(),
        }
    }
}

#[utoipa::path(
    put,
    path = "/v1/agreements/{id}/monitoring",
    tag = "compliance",
    summary = "Bind an agreement to the monitored endpoints that deliver it (admins, the group's shifters)",
    params(("id" = String, Path, description = "The agreement's id"), crate::http::openapi::CommandHeaders),
    request_body(content = BindBody, content_type = "application/json"),
    responses((status = 200, description = "Bound", body = BindingView, content_type = "application/json"), crate::http::openapi::Problems),
    security(("bearer" = []))
)]
async fn bind(
    State(app): State<App>,
    Path(id): Path<String>,
    input: CommandInput,
) -> Result<Response, ApiError> {
    let body: BindBody = input.json()?;
    let catalogue = app.catalogue().await?;
    let ran = service::bind(
        &app.store,
        &catalogue,
        &id,
        body.into(),
        &input.request(&app, Effect::Changed),
    )
    .await?;
    Ok(respond(ran, None))
}

#[utoipa::path(
    get,
    path = "/v1/agreements/{id}/monitoring",
    tag = "compliance",
    summary = "The endpoints an agreement is bound to",
    params(("id" = String, Path, description = "The agreement's id")),
    responses((status = 200, description = "OK", body = BindingView, content_type = "application/json"), crate::http::openapi::Problems),
    security(("bearer" = []))
)]
async fn binding(
    State(app): State<App>,
    Caller(principal): Caller,
    Path(id): Path<String>,
) -> Result<Json<BindingView>, ApiError> {
    Ok(Json(service::binding(&app.store, &principal, &id).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ComplianceQuery {
    from: Option<String>,
    to: Option<String>,
    granularity: Option<String>,
    as_of: Option<String>,
}

fn day(value: &Option<String>, name: &str) -> Result<Option<Date>, ApiError> {
    crate::http::extract::given(value)
        .map(|text| match text.parse::<Date>() {
            Ok(day) if crate::compliance::report::in_range(day) => Ok(day),
            _ => Err(ApiError::BadRequest(format!(
                "{name} must be a YYYY-MM-DD date between 1970 and 2199, not {text:?}"
            ))),
        })
        .transpose()
}

#[utoipa::path(
    get,
    path = "/v1/agreements/{id}/compliance",
    tag = "compliance",
    summary = "An agreement's availability, reliability and usage per day and month against its targets",
    params(
        ("id" = String, Path, description = "The agreement's id"),
        ("from" = Option<String>, Query, description = "First day, YYYY-MM-DD in the agreement's time zone (default: the first of this month)"),
        ("to" = Option<String>, Query, description = "Last day, YYYY-MM-DD (default: today)"),
        ("granularity" = Option<String>, Query, description = "daily (default: days and months) or monthly (months only)"),
        ("as_of" = Option<String>, Query, description = "An RFC 3339 instant: the figures as they were known then"),
    ),
    responses((status = 200, description = "OK", body = AgreementCompliance, content_type = "application/json"), crate::http::openapi::Problems),
    security(("bearer" = []))
)]
async fn compliance(
    State(app): State<App>,
    Caller(principal): Caller,
    Path(id): Path<String>,
    Query(query): Query<ComplianceQuery>,
) -> Result<Json<AgreementCompliance>, ApiError> {
    let daily = match crate::http::extract::given(&query.granularity) {
        None | Some("daily") => true,
        Some("monthly") => false,
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "granularity must be daily or monthly, not {other:?}"
            )));
        }
    };
    let range = Range {
        from: day(&query.from, "from")?,
        to: day(&query.to, "to")?,
        daily,
        as_of: crate::http::extract::given(&query.as_of)
            .map(parse_instant)
            .transpose()?,
    };
    let view = service::view(&app.store, &principal, &id, range, app.now()).await?;
    Ok(Json(view))
}

#[utoipa::path(
    put,
    path = "/v1/monitoring/endpoints/{endpoint}",
    tag = "compliance",
    summary = "Declare a monitored endpoint: its provider, its heartbeat (admins)",
    params(("endpoint" = String, Path, description = "The endpoint's name"), crate::http::openapi::CommandHeaders),
    request_body(content = DeclarationBody, content_type = "application/json"),
    responses((status = 200, description = "Declared", body = EndpointView, content_type = "application/json"), crate::http::openapi::Problems),
    security(("bearer" = []))
)]
async fn declare(
    State(app): State<App>,
    Path(name): Path<String>,
    input: CommandInput,
) -> Result<Response, ApiError> {
    let body: DeclarationBody = input.json()?;
    let catalogue = app.catalogue().await?;
    let ran = service::declare(
        &app.store,
        &catalogue,
        &name,
        body.into(),
        &input.request(&app, Effect::Changed),
    )
    .await?;
    Ok(respond(ran, None))
}

#[utoipa::path(
    get,
    path = "/v1/monitoring/endpoints/{endpoint}",
    tag = "compliance",
    summary = "A monitored endpoint and its status now",
    params(("endpoint" = String, Path, description = "The endpoint's name")),
    responses((status = 200, description = "OK", body = EndpointView, content_type = "application/json"), crate::http::openapi::Problems),
    security(("bearer" = []))
)]
async fn endpoint(
    State(app): State<App>,
    Caller(principal): Caller,
    Path(name): Path<String>,
) -> Result<Json<EndpointView>, ApiError> {
    Ok(Json(
        service::endpoint(&app.store, &principal, &name, app.now()).await?,
    ))
}

#[utoipa::path(
    post,
    path = "/v1/monitoring/status",
    tag = "compliance",
    summary = "Probe results of an endpoint, in ARGO's statuses (monitoring systems; a provider's operators for their endpoints)",
    params(crate::http::openapi::CommandHeaders),
    request_body(content = StatusBody, content_type = "application/json"),
    responses((status = 200, description = "Taken", body = PushView, content_type = "application/json"), crate::http::openapi::Problems),
    security(("bearer" = []))
)]
async fn status(State(app): State<App>, input: CommandInput) -> Result<Response, ApiError> {
    let body: StatusInput = input.json::<StatusBody>()?.into();
    let ran = service::push(&app.store, &body, &input.request(&app, Effect::Changed)).await?;
    Ok(respond(ran, None))
}

#[utoipa::path(
    post,
    path = "/v1/monitoring/heartbeats/{endpoint}",
    tag = "compliance",
    summary = "A heartbeat of an endpoint declared with one",
    params(("endpoint" = String, Path, description = "The endpoint's name"), crate::http::openapi::CommandHeaders),
    responses((status = 200, description = "Taken", body = EndpointView, content_type = "application/json"), crate::http::openapi::Problems),
    security(("bearer" = []))
)]
async fn heartbeat(
    State(app): State<App>,
    Path(name): Path<String>,
    input: CommandInput,
) -> Result<Response, ApiError> {
    let ran = service::beat(&app.store, &name, &input.request(&app, Effect::Changed)).await?;
    Ok(respond(ran, None))
}

#[utoipa::path(
    post,
    path = "/v1/accounting/records",
    tag = "compliance",
    summary = "Usage records in the APEL cloud format (APEL-cloud-message: v0.4), taken whole or refused whole",
    params(crate::http::openapi::CommandHeaders),
    request_body(content = String, content_type = "text/plain"),
    responses((status = 200, description = "Recorded", body = UsageView, content_type = "application/json"), crate::http::openapi::Problems),
    security(("bearer" = []))
)]
async fn records(State(app): State<App>, input: CommandInput) -> Result<Response, ApiError> {
    let text = input.text()?;
    let ran =
        service::record_usage(&app.store, text, &input.request(&app, Effect::Changed)).await?;
    Ok(respond(ran, None))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReportQuery {
    period: Option<String>,
    format: Option<String>,
    as_of: Option<String>,
}

#[utoipa::path(
    get,
    path = "/v1/reports/compliance",
    tag = "reports",
    summary = "Every visible agreement's compliance over a month (JSON, CSV or PDF)",
    params(
        ("period" = String, Query, description = "The month, YYYY-MM"),
        ("format" = Option<String>, Query, description = "json (default), csv or pdf"),
        ("as_of" = Option<String>, Query, description = "An RFC 3339 instant: as known then"),
    ),
    responses(
        (status = 200, description = "OK", body = ComplianceReport, content_type = "application/json"),
        (status = 200, description = "CSV", body = String, content_type = "text/csv"),
        (status = 200, description = "PDF", body = Vec<u8>, content_type = "application/pdf"),
        crate::http::openapi::Problems
    ),
    security(("bearer" = []))
)]
async fn report(
    State(app): State<App>,
    Caller(principal): Caller,
    Query(query): Query<ReportQuery>,
) -> Result<Response, ApiError> {
    let period = crate::http::extract::given(&query.period)
        .ok_or_else(|| ApiError::BadRequest("period is required (YYYY-MM)".into()))?;
    crate::compliance::report::month_days(period).map_err(ApiError::BadRequest)?;
    let format = crate::http::extract::given(&query.format).unwrap_or("json");
    if !matches!(format, "json" | "csv" | "pdf") {
        return Err(ApiError::BadRequest(format!(
            "format must be json, csv or pdf, not {format:?}"
        )));
    }
    let as_of = crate::http::extract::given(&query.as_of)
        .map(parse_instant)
        .transpose()?;
    let report = service::report(&app.store, &principal, period, as_of, app.now()).await?;
    Ok(match format {
        "csv" => (
            [(header::CONTENT_TYPE, "text/csv; charset=utf-8")],
            crate::compliance::report::to_csv(&report),
        )
            .into_response(),
        "pdf" => {
            let bytes = app
                .compliance_pdf(&report)
                .await
                .map_err(ApiError::Internal)?;
            (
                [
                    (header::CONTENT_TYPE, "application/pdf".to_owned()),
                    (
                        header::CONTENT_DISPOSITION,
                        format!("inline; filename=\"compliance-{period}.pdf\""),
                    ),
                ],
                bytes,
            )
                .into_response()
        }
        _ => Json(report).into_response(),
    })
}
