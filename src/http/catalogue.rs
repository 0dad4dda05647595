//! `GET /v1/services` and `GET /v1/providers`: the catalogue, for every role.

use axum::Json;
use axum::extract::State;
use pactum_events::catalogue::{ParameterSpec, ProviderRegistered, ServiceDefined};
use serde::Serialize;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::App;
use crate::http::error::ApiError;
use crate::http::extract::{Caller, Path};

pub fn router() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(list_services))
        .routes(routes!(get_service))
        .routes(routes!(list_providers))
}

#[derive(Serialize)]
struct GroupView<'a> {
    id: &'a str,
    name: &'a str,
    description: Option<&'a str>,
}

#[derive(Serialize)]
struct ServiceView<'a> {
    id: &'a str,
    name: &'a str,
    group: &'a str,
    legacy_path: &'a str,
    description: Option<&'a str>,
    parameters: &'a [ParameterSpec],
}

impl<'a> From<&'a ServiceDefined> for ServiceView<'a> {
    fn from(s: &'a ServiceDefined) -> Self {
        Self {
            id: &s.service_id,
            name: &s.name,
            group: &s.group,
            legacy_path: &s.legacy_path,
            description: s.description.as_deref(),
            parameters: &s.parameters,
        }
    }
}

#[derive(Serialize)]
struct ProviderView<'a> {
    id: &'a str,
    name: &'a str,
    country: &'a str,
    services: &'a [String],
    contact_email: Option<&'a str>,
}

impl<'a> From<&'a ProviderRegistered> for ProviderView<'a> {
    fn from(p: &'a ProviderRegistered) -> Self {
        Self {
            id: &p.provider_id,
            name: &p.name,
            country: &p.country,
            services: &p.services,
            contact_email: p.contact_email.as_deref(),
        }
    }
}

#[utoipa::path(
    get,
    path = "/v1/services",
    tag = "catalogue",
    summary = "Groups and services",
    responses((status = 200, description = "OK", body = serde_json::Value, content_type = "application/json"), crate::http::openapi::Problems),
    security(("bearer" = []))
)]
async fn list_services(State(app): State<App>, _: Caller) -> Json<serde_json::Value> {
    let catalogue = &app.catalogue;
    let groups: Vec<GroupView> = catalogue
        .groups
        .values()
        .map(|g| GroupView {
            id: &g.group_id,
            name: &g.name,
            description: g.description.as_deref(),
        })
        .collect();
    let services: Vec<ServiceView> = catalogue.services.values().map(Into::into).collect();
    Json(serde_json::json!({ "groups": groups, "services": services }))
}

#[utoipa::path(
    get,
    path = "/v1/services/{id}",
    tag = "catalogue",
    summary = "One service with its parameters",
    params(("id" = String, Path, description = "The service's id")),
    responses((status = 200, description = "OK", body = serde_json::Value, content_type = "application/json"), crate::http::openapi::Problems),
    security(("bearer" = []))
)]
async fn get_service(
    State(app): State<App>,
    _: Caller,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let service = app
        .catalogue
        .service(&id)
        .ok_or_else(|| ApiError::NotFound(format!("no service {id:?}")))?;
    Ok(Json(serde_json::json!(ServiceView::from(service))))
}

#[utoipa::path(
    get,
    path = "/v1/providers",
    tag = "catalogue",
    summary = "Resource providers",
    responses((status = 200, description = "OK", body = serde_json::Value, content_type = "application/json"), crate::http::openapi::Problems),
    security(("bearer" = []))
)]
async fn list_providers(State(app): State<App>, _: Caller) -> Json<serde_json::Value> {
    let providers: Vec<ProviderView> = app.catalogue.providers.values().map(Into::into).collect();
    Json(serde_json::json!({ "providers": providers }))
}
