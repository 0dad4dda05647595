//! `GET /v1/me/notifications` and `PUT /v1/me/notifications {"opted_out": [...]}`:
//! the kinds of mail the caller (a customer or shifter) does not want.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use pactum_events::notification::KINDS;
use serde::{Deserialize, Serialize};

use crate::access::Principal;
use crate::access::policy::Capability;
use crate::app::App;
use crate::http::error::{ApiError, require};
use crate::http::extract::{Caller, CommandInput};
use crate::notify;

pub fn router() -> Router<App> {
    Router::new().route("/v1/me/notifications", get(show).put(set))
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

async fn show(State(app): State<App>, caller: Caller) -> Result<Json<PreferencesView>, ApiError> {
    receives_mail(&caller.0)?;
    Ok(Json(PreferencesView {
        opted_out: notify::preferences(&app.store, &caller.0).await?,
        kinds: &KINDS,
    }))
}

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
