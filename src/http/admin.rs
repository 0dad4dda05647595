//! `POST /v1/admin/clock`, present only under `serve --manual-clock`.

use std::sync::Arc;

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use jiff::{SignedDuration, Timestamp};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::access::policy::Capability;
use crate::app::App;
use crate::clock::ManualClock;
use crate::http::error::{ApiError, require};
use crate::http::extract::CommandInput;

#[derive(Clone)]
struct ClockState {
    app: App,
    clock: Arc<ManualClock>,
}

pub fn clock_router(app: App, clock: Arc<ManualClock>) -> Router {
    Router::new()
        .route("/v1/admin/clock", post(move_clock))
        .with_state(ClockState { app, clock })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClockBody {
    now: Option<String>,
    advance: Option<String>,
}

/// `{"now": RFC3339}` or `{"advance": "PT4H"}`; admins only; forward only.
async fn move_clock(
    State(state): State<ClockState>,
    request: axum::extract::Request,
) -> Result<Json<Value>, ApiError> {
    use axum::extract::FromRequest;
    let input = CommandInput::from_request(request, &state.app).await?;
    require(&input.principal, Capability::MoveClock)?;
    let body: ClockBody = input.json()?;
    let (field, moved) = match (body.now, body.advance) {
        (Some(now), None) => {
            let to: Timestamp = now
                .parse()
                .map_err(|e| ApiError::BadRequest(format!("now: {e}")))?;
            ("now", state.clock.set(to))
        }
        (None, Some(advance)) => {
            let by: SignedDuration = advance
                .parse()
                .map_err(|e| ApiError::BadRequest(format!("advance: {e}")))?;
            if by.is_negative() {
                return Err(ApiError::BadRequest("advance must not be negative".into()));
            }
            ("advance", state.clock.advance(by))
        }
        _ => {
            return Err(ApiError::BadRequest(
                "give exactly one of \"now\" and \"advance\"".into(),
            ));
        }
    };
    let now = moved.map_err(|error| ApiError::from((field, error)))?;
    // Timers fire as if the time had passed: what fell due by `now` is recorded
    // before the answer (the background timers would get there too, a moment
    // later; the aggregates record each thing once).
    let app = &state.app;
    while crate::handling::timer::sweep(
        &app.store,
        &app.projections.order_queue,
        app.clock.as_ref(),
        app,
    )
    .await?
    .is_some_and(|next| next <= now)
    {}
    let app = &state.app;
    crate::agreements::expiry::sweep(&app.store, &app.projections.agreements, now).await?;
    for _ in 0..1000 {
        let next = crate::compliance::timer::sweep(&app.store, now).await?;
        if next.is_none_or(|next| next > now) {
            break;
        }
    }
    Ok(Json(json!({ "now": now })))
}
