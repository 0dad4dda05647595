//! Liveness and readiness, without authentication.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::app::App;
use crate::http::error::ApiError;

pub fn router() -> Router<App> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

/// The process is up.
async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// The process can serve requests: the store answers.
async fn readyz(State(app): State<App>) -> Result<Json<Value>, ApiError> {
    app.store
        .ping()
        .await
        .map_err(|e| ApiError::Unavailable(format!("event store: {e}")))?;
    Ok(Json(json!({
        "status": "ready",
        "store": "sqlite",
        "head_position": app.store.head(),
    })))
}
