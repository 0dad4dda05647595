//! `GET /v1/me`: who the caller is, with every role it holds (its token's and
//! what memberships add). `GET /v1/me/notifications` and `PUT
//! /v1/me/notifications {"opted_out": [...]}`: the kinds of mail the caller (a
//! customer or shifter) does not want.

use axum::Json;
use axum::extract::State;
use pactum_events::notification::KINDS;
use serde::{Deserialize, Serialize};

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::access::policy::Capability;
use crate::access::{Principal, Role};
use crate::app::App;
use crate::http::error::{ApiError, require};
use crate::http::extract::{Caller, CommandInput};
use crate::notify;

pub fn router() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(whoami))
        .routes(routes!(show, set))
}

/// The caller and its roles.
#[derive(Serialize, utoipa::ToSchema)]
struct MeView {
    subject: String,
    /// The token's role first, then what memberships add.
    roles: Vec<RoleView>,
}

/// One role, with what scopes it.
#[derive(Serialize, utoipa::ToSchema)]
struct RoleView {
    /// `customer`, `shifter`, `provider`, `auditor` or `admin`.
    role: &'static str,
    /// A customer's organisation.
    #[serde(skip_serializing_if = "Option::is_none")]
    org: Option<String>,
    /// A shifter's groups.
    #[serde(skip_serializing_if = "Option::is_none")]
    groups: Option<Vec<String>>,
    /// An operator's providers.
    #[serde(skip_serializing_if = "Option::is_none")]
    providers: Option<Vec<String>>,
}

impl From<&Role> for RoleView {
    fn from(role: &Role) -> Self {
        let list = |set: &std::collections::BTreeSet<String>| Some(set.iter().cloned().collect());
        let (org, groups, providers) = match role {
            Role::Customer { org } => (Some(org.clone()), None, None),
            Role::Shifter { groups } => (None, list(groups), None),
            Role::Provider { providers } => (None, None, list(providers)),
            Role::Auditor | Role::Monitoring | Role::Admin | Role::System => (None, None, None),
        };
        Self {
            role: role.name(),
            org,
            groups,
            providers,
        }
    }
}

#[utoipa::path(
    get,
    path = "/v1/me",
    tag = "people",
    summary = "Who the caller is, with every role it holds",
    responses((status = 200, description = "OK", body = MeView, content_type = "application/json"), crate::http::openapi::Problems),
    security(("bearer" = []))
)]
async fn whoami(Caller(principal): Caller) -> Json<MeView> {
    Json(MeView {
        roles: principal.roles().map(RoleView::from).collect(),
        subject: principal.subject,
    })
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
