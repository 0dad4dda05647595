//! Memberships over the API (admins): `PUT` and `DELETE
//! /v1/groups/{group}/members/{subject}` make a shifter of a group or take it
//! out, `/v1/providers/{provider}/members/{subject}` an operator of a
//! provider. Each is an event with its actor; it holds from the next request
//! on every node. `GET /v1/groups/{group}[?as_of=]` lists the members.

use axum::extract::State;
use axum::response::Response;
use pactum_events::membership::MemberOf;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::access::policy::Capability;
use crate::app::App;
use crate::http::error::{ApiError, require};
use crate::http::extract::{CommandInput, Path};
use crate::http::response::{removed, respond};
use crate::members;
use crate::runner::{Effect, Ran};

pub fn router() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(add_shifter, remove_shifter))
        .routes(routes!(add_operator, remove_operator))
}

async fn add(
    app: &App,
    of: MemberOf,
    scope: &str,
    subject: &str,
    input: CommandInput,
) -> Result<Response, ApiError> {
    require(&input.principal, Capability::ManageMembers)?;
    let catalogue = app.catalogue().await?;
    let already =
        members::queries::is_member(&app.store, of.as_str(), scope, subject.trim()).await?;
    let effect = if already {
        Effect::Changed
    } else {
        Effect::Created
    };
    let ran = members::add(
        &app.store,
        &catalogue,
        of,
        scope,
        subject,
        &input.request(app, effect),
    )
    .await?;
    let location = match (&ran, effect) {
        (Ran::Done { answer, .. }, Effect::Created) => Some(format!(
            "/v1/{}s/{}/members/{}",
            of.as_str(),
            scope,
            answer.subject
        )),
        _ => None,
    };
    Ok(respond(ran, location))
}

async fn remove(
    app: &App,
    of: MemberOf,
    scope: &str,
    subject: &str,
    input: CommandInput,
) -> Result<Response, ApiError> {
    require(&input.principal, Capability::ManageMembers)?;
    let catalogue = app.catalogue().await?;
    let ran = members::remove(
        &app.store,
        &catalogue,
        of,
        scope,
        subject,
        &input.request(app, Effect::Changed),
    )
    .await?;
    Ok(removed(ran))
}

#[utoipa::path(
    put,
    path = "/v1/groups/{group}/members/{subject}",
    tag = "people",
    summary = "Make a person a shifter of a group (admins)",
    params(("group" = String, Path, description = "The group's id"), ("subject" = String, Path, description = "The person"), crate::http::openapi::CommandHeaders),
    responses((status = 201, description = "Added", body = crate::members::MemberView, content_type = "application/json"), (status = 200, description = "Already a member", body = crate::members::MemberView, content_type = "application/json"), crate::http::openapi::Problems),
    security(("bearer" = []))
)]
async fn add_shifter(
    State(app): State<App>,
    Path((group, subject)): Path<(String, String)>,
    input: CommandInput,
) -> Result<Response, ApiError> {
    add(&app, MemberOf::Group, &group, &subject, input).await
}

#[utoipa::path(
    delete,
    path = "/v1/groups/{group}/members/{subject}",
    tag = "people",
    summary = "Take a shifter out of a group (admins)",
    params(("group" = String, Path, description = "The group's id"), ("subject" = String, Path, description = "The person"), crate::http::openapi::CommandHeaders),
    responses((status = 204, description = "Removed"), crate::http::openapi::Problems),
    security(("bearer" = []))
)]
async fn remove_shifter(
    State(app): State<App>,
    Path((group, subject)): Path<(String, String)>,
    input: CommandInput,
) -> Result<Response, ApiError> {
    remove(&app, MemberOf::Group, &group, &subject, input).await
}

#[utoipa::path(
    put,
    path = "/v1/providers/{provider}/members/{subject}",
    tag = "people",
    summary = "Make a person an operator of a provider (admins)",
    params(("provider" = String, Path, description = "The provider's id"), ("subject" = String, Path, description = "The person"), crate::http::openapi::CommandHeaders),
    responses((status = 201, description = "Added", body = crate::members::MemberView, content_type = "application/json"), (status = 200, description = "Already a member", body = crate::members::MemberView, content_type = "application/json"), crate::http::openapi::Problems),
    security(("bearer" = []))
)]
async fn add_operator(
    State(app): State<App>,
    Path((provider, subject)): Path<(String, String)>,
    input: CommandInput,
) -> Result<Response, ApiError> {
    add(&app, MemberOf::Provider, &provider, &subject, input).await
}

#[utoipa::path(
    delete,
    path = "/v1/providers/{provider}/members/{subject}",
    tag = "people",
    summary = "Take an operator out of a provider (admins)",
    params(("provider" = String, Path, description = "The provider's id"), ("subject" = String, Path, description = "The person"), crate::http::openapi::CommandHeaders),
    responses((status = 204, description = "Removed"), crate::http::openapi::Problems),
    security(("bearer" = []))
)]
async fn remove_operator(
    State(app): State<App>,
    Path((provider, subject)): Path<(String, String)>,
    input: CommandInput,
) -> Result<Response, ApiError> {
    remove(&app, MemberOf::Provider, &provider, &subject, input).await
}
