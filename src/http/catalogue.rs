//! The catalogue over the API: services, groups and providers, read by every
//! role and changed by admins. Each change is an event and makes the entry's
//! next version (ADR 0014).
//!
//! - `GET /v1/services`, `GET /v1/services/{id}[?version=N]`, `GET /v1/groups`,
//!   `GET /v1/groups/{id}[?as_of=]`, `GET /v1/providers`, `GET /v1/providers/{id}`.
//! - `PUT` (or `POST`) `/v1/services/{id}`, `/v1/groups/{id}`,
//!   `/v1/providers/{id}` take the JSON that `GET` answers, changed: what a
//!   client reads it can edit and send back. Read-only fields (`version`,
//!   `latest_version`, `retired_at`, `retired_reason`, `members`) may be sent
//!   back: `id` must be the path's, and `version`, without `If-Match`, is
//!   checked like it. A definition equal to the current one changes nothing.
//!   `POST /v1/services` (and `/v1/groups`, `/v1/providers`) adds a new one,
//!   its id in the body. 201 for a new entry, else 200; `ETag` is the entry's
//!   version.
//! - `DELETE` retires (`?reason=`): no new orders (services), services
//!   (groups) or steps (providers); everything already there goes on, and the
//!   id is never used again.

use std::collections::BTreeSet;

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use pactum_events::catalogue::{
    GroupDefined, ParameterSpec, ProviderRegistered, ServiceDefined, SupportLevel, Targets,
    ValiditySpec,
};
use pactum_events::membership::MemberOf;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::access::policy::Capability;
use crate::access::{Principal, Role};
use crate::app::App;
use crate::catalogue::commands::{CatalogueCommand, Entry};
use crate::catalogue::{self, Catalogue};
use crate::http::error::{ApiError, require};
use crate::http::extract::{Caller, CommandInput, Path, Query, parse_instant};
use crate::http::response::{etag, respond};
use crate::members::{self, Member};
use crate::runner::{Effect, Ran};
use crate::validation::FieldError;

pub fn router() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(list_services, add_service))
        .routes(routes!(
            get_service,
            put_service,
            post_service,
            retire_service
        ))
        .routes(routes!(list_groups, add_group))
        .routes(routes!(get_group, put_group, post_group, retire_group))
        .routes(routes!(list_providers, add_provider))
        .routes(routes!(
            get_provider,
            put_provider,
            post_provider,
            retire_provider
        ))
}

/// A service as `GET` shows it and `PUT` takes it.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ServiceDoc {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    version: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    latest_version: Option<u32>,
    name: String,
    group: String,
    legacy_path: String,
    #[serde(default)]
    description: Option<String>,
    /// Each with `key`, `label`, `type` (`integer`, `number`, `enum`, `date`,
    /// `boolean`, `text`) and its bounds (`min`, `max`, `values`,
    /// `max_length`), `required`, `unit`, `description`.
    #[schema(value_type = Vec<Object>)]
    parameters: Vec<ParameterSpec>,
    /// Default service level targets of its agreements
    /// (`availability_pct`, `reliability_pct`, `period`).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    targets: Option<Targets>,
    /// `level` and `response_hours`.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    support: Option<SupportLevel>,
    /// Which parameters give an agreement's validity (`start`, `duration_days`).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    validity: Option<ValiditySpec>,
    /// The providers that offer it (now).
    #[serde(default)]
    providers: Option<BTreeSet<String>>,
    #[serde(default)]
    #[schema(value_type = Option<String>, format = DateTime)]
    retired_at: Option<Timestamp>,
    #[serde(default)]
    retired_reason: Option<String>,
}

impl ServiceDoc {
    fn of(catalogue: &Catalogue, service: &ServiceDefined) -> Self {
        let id = &service.service_id;
        let retired = catalogue.retired.services.get(id);
        Self {
            id: Some(id.clone()),
            version: service.version,
            latest_version: catalogue.service(id).and_then(|s| s.version),
            name: service.name.clone(),
            group: service.group.clone(),
            legacy_path: service.legacy_path.clone(),
            description: service.description.clone(),
            parameters: service.parameters.clone(),
            targets: service.targets.clone(),
            support: service.support.clone(),
            validity: service.validity.clone(),
            providers: Some(catalogue.providers_of(id).into_iter().collect()),
            retired_at: retired.map(|r| r.retired_at),
            retired_reason: retired.and_then(|r| r.reason.clone()),
        }
    }

    fn definition(self, id: String) -> ServiceDefined {
        ServiceDefined {
            service_id: id,
            name: self.name,
            group: self.group,
            legacy_path: self.legacy_path,
            description: self.description,
            parameters: self.parameters,
            targets: self.targets,
            support: self.support,
            validity: self.validity,
            version: None,
        }
    }
}

/// A group as `GET` shows it and `PUT` takes it.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct GroupDoc {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    version: Option<u32>,
    name: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>, format = DateTime)]
    retired_at: Option<Timestamp>,
    #[serde(default)]
    retired_reason: Option<String>,
    /// Its shifters (shown to staff).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    members: Option<Vec<MemberDoc>>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct MemberDoc {
    subject: String,
    #[schema(value_type = String, format = DateTime)]
    since: Timestamp,
}

impl From<Member> for MemberDoc {
    fn from(member: Member) -> Self {
        Self {
            subject: member.subject,
            since: member.since,
        }
    }
}

impl GroupDoc {
    fn of(catalogue: &Catalogue, group: &GroupDefined) -> Self {
        let id = &group.group_id;
        let retired = catalogue.retired.groups.get(id);
        Self {
            id: Some(id.clone()),
            version: catalogue.group_versions.get(id).copied(),
            name: group.name.clone(),
            description: group.description.clone(),
            retired_at: retired.map(|r| r.retired_at),
            retired_reason: retired.and_then(|r| r.reason.clone()),
            members: None,
        }
    }
}

/// A provider as `GET` shows it and `PUT` takes it.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ProviderDoc {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    version: Option<u32>,
    name: String,
    country: String,
    #[serde(default)]
    services: Vec<String>,
    #[serde(default)]
    contact_email: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>, format = DateTime)]
    retired_at: Option<Timestamp>,
    #[serde(default)]
    retired_reason: Option<String>,
    /// Its operators (shown to staff and to its own operators).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    members: Option<Vec<MemberDoc>>,
}

impl ProviderDoc {
    fn of(catalogue: &Catalogue, provider: &ProviderRegistered) -> Self {
        let id = &provider.provider_id;
        let retired = catalogue.retired.providers.get(id);
        Self {
            id: Some(id.clone()),
            version: catalogue.provider_versions.get(id).copied(),
            name: provider.name.clone(),
            country: provider.country.clone(),
            services: provider.services.clone(),
            contact_email: provider.contact_email.clone(),
            retired_at: retired.map(|r| r.retired_at),
            retired_reason: retired.and_then(|r| r.reason.clone()),
            members: None,
        }
    }
}

/// An entry as `GET` answers it, as pretty JSON (what the console's editor
/// starts from): `kind` is `service`, `group` or `provider`.
pub(crate) fn entry_json(catalogue: &Catalogue, kind: &str, id: &str) -> Option<String> {
    let value = match kind {
        "service" => serde_json::to_value(ServiceDoc::of(catalogue, catalogue.service(id)?)),
        "group" => serde_json::to_value(GroupDoc::of(catalogue, catalogue.groups.get(id)?)),
        "provider" => {
            serde_json::to_value(ProviderDoc::of(catalogue, catalogue.providers.get(id)?))
        }
        _ => return None,
    };
    value
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
}

/// Whether `principal` sees who the members of `of` `scope` are: staff, and
/// a provider's own operators.
fn sees_members(principal: &Principal, of: MemberOf, scope: &str) -> bool {
    principal.roles().any(|role| match role {
        Role::Admin | Role::Auditor | Role::System | Role::Shifter { .. } => true,
        Role::Provider { providers } => of == MemberOf::Provider && providers.contains(scope),
        Role::Customer { .. } | Role::Monitoring => false,
    })
}

/// The id of the entry a definition is for: the path's (a body that names
/// one must name the same), or, to add one, the body's.
fn entry_id(path: Option<String>, body: Option<&String>, what: &str) -> Result<String, ApiError> {
    match (path, body) {
        (Some(path), Some(id)) if *id != path => Err(ApiError::Validation(vec![FieldError::new(
            "id",
            format!("is {id:?}, but the path names {path:?}"),
        )])),
        (Some(path), _) => Ok(path),
        (None, Some(id)) => Ok(id.clone()),
        (None, None) => Err(ApiError::Validation(vec![FieldError::new(
            "id",
            format!("is required to add a {what}"),
        )])),
    }
}

/// Runs a definition: 201 with `Location` for a new entry, else 200, with
/// `view` of the entry after it.
async fn define<T: Serialize>(
    app: &App,
    input: &CommandInput,
    command: CatalogueCommand,
    exists: bool,
    location: String,
    view: impl Fn(&Catalogue) -> Option<T>,
) -> Result<Response, ApiError> {
    let effect = if exists {
        Effect::Changed
    } else {
        Effect::Created
    };
    let ran = catalogue::change(&app.store, &input.request(app, effect), command, view).await?;
    let version = entry_version(&ran);
    Ok(changed(ran, !exists, location, version))
}

/// An entry as `GET` answers it, its version the `ETag`.
fn shown<T: Serialize>(doc: &T, version: Option<u32>) -> Response {
    let mut response = Json(doc).into_response();
    response
        .headers_mut()
        .insert(header::ETAG, etag(u64::from(version.unwrap_or(1))));
    response
}

/// The members of `of` `id` (as of `query.as_of`), if `principal` sees them.
async fn members_seen(
    app: &App,
    principal: &Principal,
    of: MemberOf,
    id: &str,
    query: AsOfQuery,
) -> Result<Option<Vec<MemberDoc>>, ApiError> {
    let as_of = query.as_of.as_deref().map(parse_instant).transpose()?;
    if !sees_members(principal, of, id) {
        return Ok(None);
    }
    let members = members::members(&app.store, of, id, as_of).await?;
    Ok(Some(members.into_iter().map(Into::into).collect()))
}

/// The version a change must find: `If-Match`, else the body's `version`.
fn expected(input: &CommandInput, body: Option<u32>) -> Option<u32> {
    input
        .if_match
        .map(|v| u32::try_from(v).unwrap_or(u32::MAX))
        .or(body)
}

/// Answers a change: 201 with `Location` for a new entry, else 200; the
/// `ETag` is the entry's version (in the answer's `version`).
fn changed<T: Serialize>(ran: Ran<T>, created: bool, location: String, version: u64) -> Response {
    let ran = match ran {
        Ran::Done {
            answer, position, ..
        } => Ran::Done {
            answer,
            version,
            position,
        },
        replayed => replayed,
    };
    respond(ran, created.then_some(location))
}

fn entry_version<T: Serialize>(answer: &Ran<T>) -> u64 {
    match answer {
        Ran::Done { answer, .. } => serde_json::to_value(answer)
            .ok()
            .and_then(|v| v.get("version")?.as_u64())
            .unwrap_or(0),
        Ran::Replayed(_) => 0,
    }
}

/// `GET /v1/services`.
#[derive(Serialize, ToSchema)]
struct ServiceList {
    groups: Vec<GroupDoc>,
    services: Vec<ServiceDoc>,
}

/// `GET /v1/groups`.
#[derive(Serialize, ToSchema)]
struct GroupList {
    groups: Vec<GroupDoc>,
}

/// `GET /v1/providers`.
#[derive(Serialize, ToSchema)]
struct ProviderList {
    providers: Vec<ProviderDoc>,
}

#[derive(Deserialize)]
struct VersionQuery {
    version: Option<String>,
}

#[derive(Deserialize)]
struct AsOfQuery {
    as_of: Option<String>,
}

#[derive(Deserialize)]
struct RetireQuery {
    reason: Option<String>,
}

#[utoipa::path(
    get,
    path = "/v1/services",
    tag = "catalogue",
    summary = "Groups and services (every version's current one, retired ones too)",
    responses((status = 200, description = "OK", body = ServiceList, content_type = "application/json"), crate::http::openapi::Problems),
    security(("bearer" = []))
)]
async fn list_services(State(app): State<App>, _: Caller) -> Result<Response, ApiError> {
    let catalogue = app.catalogue().await?;
    let groups: Vec<GroupDoc> = catalogue
        .groups
        .values()
        .map(|g| GroupDoc::of(&catalogue, g))
        .collect();
    let services: Vec<ServiceDoc> = catalogue
        .services
        .values()
        .map(|s| ServiceDoc::of(&catalogue, s))
        .collect();
    Ok(Json(ServiceList { groups, services }).into_response())
}

#[utoipa::path(
    get,
    path = "/v1/services/{id}",
    tag = "catalogue",
    summary = "One service with its parameters, now or at a version",
    params(("id" = String, Path, description = "The service's id"), ("version" = Option<u32>, Query, description = "A version of the service (1 is the first); default the latest")),
    responses((status = 200, description = "OK", body = ServiceDoc, content_type = "application/json"), crate::http::openapi::Problems),
    security(("bearer" = []))
)]
async fn get_service(
    State(app): State<App>,
    _: Caller,
    Path(id): Path<String>,
    Query(query): Query<VersionQuery>,
) -> Result<Response, ApiError> {
    let catalogue = app.catalogue().await?;
    let current = catalogue
        .service(&id)
        .ok_or_else(|| ApiError::NotFound(format!("no service {id:?}")))?;
    let service = match query.version.as_deref().map(str::trim) {
        None => current,
        Some(raw) => {
            let version: u32 = raw.parse().map_err(|_| {
                ApiError::BadRequest(format!("version must be a positive integer, not {raw:?}"))
            })?;
            catalogue.service_at(&id, Some(version)).ok_or_else(|| {
                ApiError::NotFound(format!(
                    "service {id} has versions 1 to {}",
                    current.version.unwrap_or(1)
                ))
            })?
        }
    };
    let doc = ServiceDoc::of(&catalogue, service);
    Ok(shown(&doc, doc.version))
}

pub(crate) async fn define_service(
    app: &App,
    path_id: Option<String>,
    input: CommandInput,
) -> Result<Response, ApiError> {
    require(&input.principal, Capability::ChangeCatalogue)?;
    let body: ServiceDoc = input.json()?;
    let id = entry_id(path_id, body.id.as_ref(), "service")?;
    let exists = app.catalogue().await?.service(&id).is_some();
    let command = CatalogueCommand::DefineService {
        by: input.principal.clone(),
        expected: expected(&input, body.version),
        providers: body.providers.clone(),
        service: body.definition(id.clone()),
    };
    let view = |after: &Catalogue| after.service(&id).map(|s| ServiceDoc::of(after, s));
    define(
        app,
        &input,
        command,
        exists,
        format!("/v1/services/{id}"),
        view,
    )
    .await
}

#[utoipa::path(
    post,
    path = "/v1/services",
    tag = "catalogue",
    summary = "Add a service (admins); its id in the body",
    params(crate::http::openapi::CommandHeaders),
    request_body(content = ServiceDoc, content_type = "application/json"),
    responses((status = 201, description = "Added", body = ServiceDoc, content_type = "application/json"), (status = 200, description = "Already so", body = ServiceDoc, content_type = "application/json"), crate::http::openapi::Problems),
    security(("bearer" = []))
)]
async fn add_service(State(app): State<App>, input: CommandInput) -> Result<Response, ApiError> {
    define_service(&app, None, input).await
}

#[utoipa::path(
    put,
    path = "/v1/services/{id}",
    tag = "catalogue",
    summary = "Add a service or make its next version (admins): the JSON GET answers, changed",
    params(("id" = String, Path, description = "The service's id"), crate::http::openapi::CommandHeaders),
    request_body(content = ServiceDoc, content_type = "application/json"),
    responses((status = 200, description = "Changed (or already so)", body = ServiceDoc, content_type = "application/json"), (status = 201, description = "Added", body = ServiceDoc, content_type = "application/json"), crate::http::openapi::Problems),
    security(("bearer" = []))
)]
async fn put_service(
    State(app): State<App>,
    Path(id): Path<String>,
    input: CommandInput,
) -> Result<Response, ApiError> {
    define_service(&app, Some(id), input).await
}

#[utoipa::path(
    post,
    path = "/v1/services/{id}",
    tag = "catalogue",
    summary = "As PUT",
    params(("id" = String, Path, description = "The service's id"), crate::http::openapi::CommandHeaders),
    request_body(content = ServiceDoc, content_type = "application/json"),
    responses((status = 200, description = "Changed (or already so)", body = ServiceDoc, content_type = "application/json"), (status = 201, description = "Added", body = ServiceDoc, content_type = "application/json"), crate::http::openapi::Problems),
    security(("bearer" = []))
)]
async fn post_service(
    State(app): State<App>,
    Path(id): Path<String>,
    input: CommandInput,
) -> Result<Response, ApiError> {
    define_service(&app, Some(id), input).await
}

/// Retires an entry: 200 with the entry as it is now, retired.
async fn retire<T: Serialize>(
    app: &App,
    entry: Entry,
    reason: Option<String>,
    input: CommandInput,
    view: impl Fn(&Catalogue) -> Option<T>,
) -> Result<Response, ApiError> {
    require(&input.principal, Capability::ChangeCatalogue)?;
    let reason = reason
        .map(|r| crate::validation::text("reason", &r, 2000))
        .transpose()
        .map_err(|e| ApiError::Validation(vec![e]))?;
    let command = CatalogueCommand::Retire {
        by: input.principal.clone(),
        entry,
        reason,
        at: app.now(),
        expected: expected(&input, None),
    };
    let ran = catalogue::change(
        &app.store,
        &input.request(app, Effect::Changed),
        command,
        view,
    )
    .await?;
    let version = entry_version(&ran);
    Ok(changed(ran, false, String::new(), version))
}

#[utoipa::path(
    delete,
    path = "/v1/services/{id}",
    tag = "catalogue",
    summary = "Retire a service (admins): no new orders; its orders go on",
    params(("id" = String, Path, description = "The service's id"), ("reason" = Option<String>, Query, description = "Why"), crate::http::openapi::CommandHeaders),
    responses((status = 200, description = "Retired", body = ServiceDoc, content_type = "application/json"), crate::http::openapi::Problems),
    security(("bearer" = []))
)]
async fn retire_service(
    State(app): State<App>,
    Path(id): Path<String>,
    Query(query): Query<RetireQuery>,
    input: CommandInput,
) -> Result<Response, ApiError> {
    let shown = id.clone();
    retire(
        &app,
        Entry::Service(id),
        query.reason,
        input,
        move |after| after.service(&shown).map(|s| ServiceDoc::of(after, s)),
    )
    .await
}

#[utoipa::path(
    get,
    path = "/v1/groups",
    tag = "catalogue",
    summary = "Order-type groups",
    responses((status = 200, description = "OK", body = GroupList, content_type = "application/json"), crate::http::openapi::Problems),
    security(("bearer" = []))
)]
async fn list_groups(State(app): State<App>, _: Caller) -> Result<Response, ApiError> {
    let catalogue = app.catalogue().await?;
    let groups: Vec<GroupDoc> = catalogue
        .groups
        .values()
        .map(|g| GroupDoc::of(&catalogue, g))
        .collect();
    Ok(Json(GroupList { groups }).into_response())
}

#[utoipa::path(
    get,
    path = "/v1/groups/{id}",
    tag = "catalogue",
    summary = "One group with its shifters (staff see members), now or as it was",
    params(("id" = String, Path, description = "The group's id"), ("as_of" = Option<String>, Query, description = "An RFC 3339 instant: the members as they were then")),
    responses((status = 200, description = "OK", body = GroupDoc, content_type = "application/json"), crate::http::openapi::Problems),
    security(("bearer" = []))
)]
async fn get_group(
    State(app): State<App>,
    Caller(principal): Caller,
    Path(id): Path<String>,
    Query(query): Query<AsOfQuery>,
) -> Result<Response, ApiError> {
    let catalogue = app.catalogue().await?;
    let group = catalogue
        .groups
        .get(&id)
        .ok_or_else(|| ApiError::NotFound(format!("no group {id:?}")))?;
    let mut doc = GroupDoc::of(&catalogue, group);
    doc.members = members_seen(&app, &principal, MemberOf::Group, &id, query).await?;
    Ok(shown(&doc, doc.version))
}

pub(crate) async fn define_group(
    app: &App,
    path_id: Option<String>,
    input: CommandInput,
) -> Result<Response, ApiError> {
    require(&input.principal, Capability::ChangeCatalogue)?;
    let body: GroupDoc = input.json()?;
    let id = entry_id(path_id, body.id.as_ref(), "group")?;
    let exists = app.catalogue().await?.has_group(&id);
    let command = CatalogueCommand::DefineGroup {
        by: input.principal.clone(),
        expected: expected(&input, body.version),
        group: GroupDefined {
            group_id: id.clone(),
            name: body.name,
            description: body.description,
        },
    };
    let view = |after: &Catalogue| after.groups.get(&id).map(|g| GroupDoc::of(after, g));
    define(
        app,
        &input,
        command,
        exists,
        format!("/v1/groups/{id}"),
        view,
    )
    .await
}

#[utoipa::path(
    post,
    path = "/v1/groups",
    tag = "catalogue",
    summary = "Add a group (admins); its id in the body",
    params(crate::http::openapi::CommandHeaders),
    request_body(content = GroupDoc, content_type = "application/json"),
    responses((status = 201, description = "Added", body = GroupDoc, content_type = "application/json"), (status = 200, description = "Already so", body = GroupDoc, content_type = "application/json"), crate::http::openapi::Problems),
    security(("bearer" = []))
)]
async fn add_group(State(app): State<App>, input: CommandInput) -> Result<Response, ApiError> {
    define_group(&app, None, input).await
}

#[utoipa::path(
    put,
    path = "/v1/groups/{id}",
    tag = "catalogue",
    summary = "Add a group or change it (admins): the JSON GET answers, changed",
    params(("id" = String, Path, description = "The group's id"), crate::http::openapi::CommandHeaders),
    request_body(content = GroupDoc, content_type = "application/json"),
    responses((status = 200, description = "Changed (or already so)", body = GroupDoc, content_type = "application/json"), (status = 201, description = "Added", body = GroupDoc, content_type = "application/json"), crate::http::openapi::Problems),
    security(("bearer" = []))
)]
async fn put_group(
    State(app): State<App>,
    Path(id): Path<String>,
    input: CommandInput,
) -> Result<Response, ApiError> {
    define_group(&app, Some(id), input).await
}

#[utoipa::path(
    post,
    path = "/v1/groups/{id}",
    tag = "catalogue",
    summary = "As PUT",
    params(("id" = String, Path, description = "The group's id"), crate::http::openapi::CommandHeaders),
    request_body(content = GroupDoc, content_type = "application/json"),
    responses((status = 200, description = "Changed (or already so)", body = GroupDoc, content_type = "application/json"), (status = 201, description = "Added", body = GroupDoc, content_type = "application/json"), crate::http::openapi::Problems),
    security(("bearer" = []))
)]
async fn post_group(
    State(app): State<App>,
    Path(id): Path<String>,
    input: CommandInput,
) -> Result<Response, ApiError> {
    define_group(&app, Some(id), input).await
}

#[utoipa::path(
    delete,
    path = "/v1/groups/{id}",
    tag = "catalogue",
    summary = "Retire a group without live services (admins)",
    params(("id" = String, Path, description = "The group's id"), ("reason" = Option<String>, Query, description = "Why"), crate::http::openapi::CommandHeaders),
    responses((status = 200, description = "Retired", body = GroupDoc, content_type = "application/json"), crate::http::openapi::Problems),
    security(("bearer" = []))
)]
async fn retire_group(
    State(app): State<App>,
    Path(id): Path<String>,
    Query(query): Query<RetireQuery>,
    input: CommandInput,
) -> Result<Response, ApiError> {
    let shown = id.clone();
    retire(&app, Entry::Group(id), query.reason, input, move |after| {
        after.groups.get(&shown).map(|g| GroupDoc::of(after, g))
    })
    .await
}

#[utoipa::path(
    get,
    path = "/v1/providers",
    tag = "catalogue",
    summary = "Resource providers",
    responses((status = 200, description = "OK", body = ProviderList, content_type = "application/json"), crate::http::openapi::Problems),
    security(("bearer" = []))
)]
async fn list_providers(State(app): State<App>, _: Caller) -> Result<Response, ApiError> {
    let catalogue = app.catalogue().await?;
    let providers: Vec<ProviderDoc> = catalogue
        .providers
        .values()
        .map(|p| ProviderDoc::of(&catalogue, p))
        .collect();
    Ok(Json(ProviderList { providers }).into_response())
}

#[utoipa::path(
    get,
    path = "/v1/providers/{id}",
    tag = "catalogue",
    summary = "One provider with its operators (staff and its own operators see members)",
    params(("id" = String, Path, description = "The provider's id"), ("as_of" = Option<String>, Query, description = "An RFC 3339 instant: the members as they were then")),
    responses((status = 200, description = "OK", body = ProviderDoc, content_type = "application/json"), crate::http::openapi::Problems),
    security(("bearer" = []))
)]
async fn get_provider(
    State(app): State<App>,
    Caller(principal): Caller,
    Path(id): Path<String>,
    Query(query): Query<AsOfQuery>,
) -> Result<Response, ApiError> {
    let catalogue = app.catalogue().await?;
    let provider = catalogue
        .providers
        .get(&id)
        .ok_or_else(|| ApiError::NotFound(format!("no provider {id:?}")))?;
    let mut doc = ProviderDoc::of(&catalogue, provider);
    doc.members = members_seen(&app, &principal, MemberOf::Provider, &id, query).await?;
    Ok(shown(&doc, doc.version))
}

pub(crate) async fn define_provider(
    app: &App,
    path_id: Option<String>,
    input: CommandInput,
) -> Result<Response, ApiError> {
    require(&input.principal, Capability::ChangeCatalogue)?;
    let body: ProviderDoc = input.json()?;
    let id = entry_id(path_id, body.id.as_ref(), "provider")?;
    if let Some(email) = &body.contact_email
        && email.parse::<lettre::Address>().is_err()
    {
        return Err(ApiError::Validation(vec![FieldError::new(
            "contact_email",
            format!("{email:?} is not an e-mail address"),
        )]));
    }
    let exists = app.catalogue().await?.has_provider(&id);
    let command = CatalogueCommand::DefineProvider {
        by: input.principal.clone(),
        expected: expected(&input, body.version),
        provider: ProviderRegistered {
            provider_id: id.clone(),
            name: body.name,
            country: body.country,
            services: body.services,
            contact_email: body.contact_email,
        },
    };
    let view = |after: &Catalogue| after.providers.get(&id).map(|p| ProviderDoc::of(after, p));
    define(
        app,
        &input,
        command,
        exists,
        format!("/v1/providers/{id}"),
        view,
    )
    .await
}

#[utoipa::path(
    post,
    path = "/v1/providers",
    tag = "catalogue",
    summary = "Add a provider (admins); its id in the body",
    params(crate::http::openapi::CommandHeaders),
    request_body(content = ProviderDoc, content_type = "application/json"),
    responses((status = 201, description = "Added", body = ProviderDoc, content_type = "application/json"), (status = 200, description = "Already so", body = ProviderDoc, content_type = "application/json"), crate::http::openapi::Problems),
    security(("bearer" = []))
)]
async fn add_provider(State(app): State<App>, input: CommandInput) -> Result<Response, ApiError> {
    define_provider(&app, None, input).await
}

#[utoipa::path(
    put,
    path = "/v1/providers/{id}",
    tag = "catalogue",
    summary = "Add a provider or change it (admins): the JSON GET answers, changed",
    params(("id" = String, Path, description = "The provider's id"), crate::http::openapi::CommandHeaders),
    request_body(content = ProviderDoc, content_type = "application/json"),
    responses((status = 200, description = "Changed (or already so)", body = ProviderDoc, content_type = "application/json"), (status = 201, description = "Added", body = ProviderDoc, content_type = "application/json"), crate::http::openapi::Problems),
    security(("bearer" = []))
)]
async fn put_provider(
    State(app): State<App>,
    Path(id): Path<String>,
    input: CommandInput,
) -> Result<Response, ApiError> {
    define_provider(&app, Some(id), input).await
}

#[utoipa::path(
    post,
    path = "/v1/providers/{id}",
    tag = "catalogue",
    summary = "As PUT",
    params(("id" = String, Path, description = "The provider's id"), crate::http::openapi::CommandHeaders),
    request_body(content = ProviderDoc, content_type = "application/json"),
    responses((status = 200, description = "Changed (or already so)", body = ProviderDoc, content_type = "application/json"), (status = 201, description = "Added", body = ProviderDoc, content_type = "application/json"), crate::http::openapi::Problems),
    security(("bearer" = []))
)]
async fn post_provider(
    State(app): State<App>,
    Path(id): Path<String>,
    input: CommandInput,
) -> Result<Response, ApiError> {
    define_provider(&app, Some(id), input).await
}

#[utoipa::path(
    delete,
    path = "/v1/providers/{id}",
    tag = "catalogue",
    summary = "Retire a provider (admins): no new provisioning steps; its steps go on",
    params(("id" = String, Path, description = "The provider's id"), ("reason" = Option<String>, Query, description = "Why"), crate::http::openapi::CommandHeaders),
    responses((status = 200, description = "Retired", body = ProviderDoc, content_type = "application/json"), crate::http::openapi::Problems),
    security(("bearer" = []))
)]
async fn retire_provider(
    State(app): State<App>,
    Path(id): Path<String>,
    Query(query): Query<RetireQuery>,
    input: CommandInput,
) -> Result<Response, ApiError> {
    let shown = id.clone();
    retire(
        &app,
        Entry::Provider(id),
        query.reason,
        input,
        move |after| {
            after
                .providers
                .get(&shown)
                .map(|p| ProviderDoc::of(after, p))
        },
    )
    .await
}
