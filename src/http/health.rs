//! Liveness and readiness (no token), and Prometheus metrics.

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use axum::http::header;
use axum::response::{IntoResponse, Response};

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::access::policy::Capability;
use crate::app::App;
use crate::http::error::{ApiError, require};
use crate::http::extract::Caller;
use crate::metrics::METRICS;
use crate::store::Dialect;

pub fn router() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(metrics))
}

/// The process is up.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "health",
    summary = "The process is up",
    responses((status = 200, description = "OK", body = serde_json::Value, content_type = "application/json"), crate::http::openapi::Problems)
)]
async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// The process can serve requests: no background task broke, the clock tells
/// the time, and the store answers.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "health",
    summary = "The process can serve: no broken background task, a clock, a store",
    responses((status = 200, description = "OK", body = serde_json::Value, content_type = "application/json"), crate::http::openapi::Problems)
)]
async fn readyz(State(app): State<App>) -> Result<Json<Value>, ApiError> {
    let faults = app.health.faults();
    if !faults.is_empty() {
        return Err(ApiError::Unavailable(faults.join("; ")));
    }
    let clock = std::panic::AssertUnwindSafe(|| app.now());
    if std::panic::catch_unwind(clock).is_err() {
        return Err(ApiError::Unavailable(
            "the clock cannot tell the time".into(),
        ));
    }
    app.store
        .ping()
        .await
        .map_err(|e| ApiError::DatabaseUnavailable(format!("event store: {e}")))?;
    Ok(Json(json!({
        "status": "ready",
        "store": match app.store.dialect() {
            Dialect::Sqlite => "sqlite",
            Dialect::Postgres => "postgresql",
        },
        "head_position": app.store.head(),
    })))
}

/// Prometheus metrics, for admins and auditors (scrape with a bearer token).
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "health",
    summary = "Prometheus metrics (admins, auditors)",
    responses((status = 200, description = "OK", body = serde_json::Value, content_type = "application/openmetrics-text"), crate::http::openapi::Problems),
    security(("bearer" = []))
)]
async fn metrics(Caller(principal): Caller) -> Result<Response, ApiError> {
    require(&principal, Capability::ReadMetrics)?;
    Ok((
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        METRICS.render(),
    )
        .into_response())
}
