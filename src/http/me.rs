//! `GET /v1/me/notifications` and `PUT /v1/me/notifications {"opted_out": [...]}`:
//! the kinds of mail the caller (a customer or shifter) does not want.

use axum::Json;
use axum::extract::State;
use pactum_events::notification::KINDS;
use serde::{Deserialize, Serialize};

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::access::Principal;
use crate::access::policy::Capability;
use crate::app::App;
use crate::http::error::{ApiError, require};
use crate::http::extract::{Caller, CommandInput};
use crate::notify;

pub fn router() -> OpenApiRouter<App> {
    OpenApiRouter::new().routes(routes!(show, set))
}

#[derive(Serialize)]
struct PreferencesView {
    opted_out: Vec<String>,
    /// Every kind of mail pactum sends.
    kinds: &'static [&'static str],
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PreferencesBody {
    opted_out: Vec<String>,
}

fn receives_mail(principal: &Principal) -> Result<(), ApiError> {
    require(principal, Capability::KeepNotificationPreferences)
}

#[utoipa::path(
    get,
    path = "/v1/me/notifications",
    tag = "me",
    summary = "The kinds of mail the caller opted out of",
    responses((status = 200, description = "OK", body = serde_json::Value, content_type = "application/json"), crate::http::openapi::Problems),
    security(("bearer" = []))
)]
async fn show(State(app): State<App>, caller: Caller) -> Result<Json<PreferencesView>, ApiError> {
    receives_mail(&caller.0)?;
    Ok(Json(PreferencesView {
        opted_out: notify::preferences(&app.store, &caller.0).await?,
        kinds: &KINDS,
    }))
}

#[utoipa::path(
    put,
    path = "/v1/me/notifications",
    tag = "me",
    summary = "Opt out of kinds of mail",
    request_body(content = serde_json::Value, content_type = "application/json"),
    responses((status = 200, description = "OK", body = serde_json::Value, content_type = "application/json"), crate::http::openapi::Problems),
    security(("bearer" = []))
)]
async fn set(
    State(app): State<App>,
    input: CommandInput,
) -> Result<Json<PreferencesView>, ApiError> {
    receives_mail(&input.principal)?;
    let body: PreferencesBody = input.json()?;
    let opted_out = notify::set_preferences(&app.store, body.opted_out, &input.meta(&app)).await?;
    Ok(Json(PreferencesView {
        opted_out,
        kinds: &KINDS,
    }))
}
