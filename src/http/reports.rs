//! `GET /v1/reports/orders?from=&to=[&format=json|csv]`: orders submitted in
//! `[from, to)` per service and group (definitions in [`crate::reports`]).
//! `from` and `to` are RFC 3339 instants or `YYYY-MM-DD` dates (00:00 UTC).
//! A missing or unreadable `from`/`to`, `to <= from`, a `format` other than
//! `json` or `csv`, or an unknown parameter: 400 naming it (as other query
//! parameters). Customers and providers: 403. The report reflects every event
//! committed before the request; 503 if the projection has not caught up
//! within a few seconds.

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde::Deserialize;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::App;
use crate::http::error::ApiError;
use crate::http::extract::{Caller, Query};
use crate::reports;

pub fn router() -> OpenApiRouter<App> {
    OpenApiRouter::new().routes(routes!(orders))
}

/// `GET /v1/reports/orders?from=&to=[&format=csv]`
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReportQuery {
    from: Option<String>,
    to: Option<String>,
    format: Option<String>,
}

#[utoipa::path(
    get,
    path = "/v1/reports/orders",
    tag = "reports",
    summary = "Order handling by service and group (JSON or CSV)",
    params(("from" = String, Query, description = "First day, YYYY-MM-DD"), ("to" = String, Query, description = "Day after the last, YYYY-MM-DD"), ("format" = Option<String>, Query, description = "json (default) or csv")),
    responses((status = 200, description = "OK", body = serde_json::Value, content_type = "application/json"), crate::http::openapi::Problems),
    security(("bearer" = []))
)]
async fn orders(
    State(app): State<App>,
    Caller(principal): Caller,
    Query(params): Query<ReportQuery>,
) -> Result<Response, ApiError> {
    let from = instant(&params.from, "from")?;
    let to = instant(&params.to, "to")?;
    if to <= from {
        return Err(ApiError::BadRequest(format!(
            "to ({to}) must be after from ({from})"
        )));
    }
    let csv = match params.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "format must be json or csv, not {other:?}"
            )));
        }
    };
    let report = reports::orders(&app, &principal, from, to).await?;
    if csv {
        Ok((
            [(header::CONTENT_TYPE, "text/csv; charset=utf-8")],
            reports::to_csv(&report),
        )
            .into_response())
    } else {
        Ok(Json(report).into_response())
    }
}

/// An RFC 3339 instant, or a date meaning its 00:00 UTC.
fn instant(value: &Option<String>, name: &str) -> Result<Timestamp, ApiError> {
    let text = value.as_ref().ok_or_else(|| {
        ApiError::BadRequest(format!("{name} is required (RFC 3339 or YYYY-MM-DD)"))
    })?;
    if let Ok(at) = text.parse::<Timestamp>() {
        return Ok(at);
    }
    text.parse::<Date>()
        .ok()
        .and_then(|date| date.to_zoned(TimeZone::UTC).ok())
        .map(|zoned| zoned.timestamp())
        .ok_or_else(|| {
            ApiError::BadRequest(format!(
                "{name} must be an RFC 3339 instant or a YYYY-MM-DD date, not {text:?}"
            ))
        })
}
