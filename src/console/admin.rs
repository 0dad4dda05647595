//! For admins: `/ui/admin` — API tokens (issue, with the secret shown once;
//! revoke) and the members of every group and provider (add, remove). Every
//! form goes through the same services and policy as the API.

use std::collections::HashMap;

use askama::Template;
use axum::Router;
use axum::extract::{Form, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post};
use pactum_events::membership::MemberOf;

use super::{Chrome, Viewer, error_page, failed, field, render, see_other, when};
use crate::access::policy::{self, Capability};
use crate::access::tokens::{self, TokenRequest};
use crate::app::App;
use crate::execute::CommandMeta;
use crate::http::error::ApiError;
use crate::members;
use crate::runner::{CommandRequest, Effect};

pub fn router() -> Router<App> {
    Router::new()
        .route("/ui/admin", get(admin_page))
        .route("/ui/admin/tokens", post(issue))
        .route("/ui/admin/revoke", post(revoke))
        .route("/ui/admin/members", post(membership))
}

pub struct TokenRow {
    pub id: String,
    pub subject: String,
    pub role: String,
    pub scope: String,
    pub issued: String,
    pub status: &'static str,
}

pub struct Team {
    pub of: &'static str,
    pub id: String,
    pub name: String,
    pub members: Vec<String>,
}

#[derive(Template)]
#[template(path = "admin.html")]
struct AdminPage {
    chrome: Chrome,
    csrf: String,
    tokens: Vec<TokenRow>,
    teams: Vec<Team>,
    issued: Option<(String, String)>,
    error: Option<String>,
}

fn command(viewer: &Viewer, app: &App, effect: Effect) -> CommandRequest {
    CommandRequest {
        meta: meta(viewer, app),
        if_match: None,
        effect,
    }
}

fn meta(viewer: &Viewer, app: &App) -> CommandMeta {
    CommandMeta {
        principal: viewer.principal.clone(),
        now: app.now(),
        correlation_id: uuid::Uuid::now_v7().to_string(),
        command_id: uuid::Uuid::now_v7().to_string(),
        idempotency: None,
    }
}

async fn page(
    app: &App,
    viewer: &Viewer,
    issued: Option<(String, String)>,
    error: Option<String>,
    status: StatusCode,
) -> Response {
    if !policy::may_do(&viewer.principal, Capability::ManageMembers) {
        return error_page(StatusCode::FORBIDDEN, "Only admins administer pactum.");
    }
    let result = async {
        let now = app.now();
        let tokens = tokens::records(app.store.reader(), &viewer.principal, None)
            .await?
            .into_iter()
            .rev()
            .map(|record| TokenRow {
                status: record.status(now),
                scope: record
                    .org
                    .clone()
                    .or(record.provider.clone())
                    .unwrap_or_else(|| record.groups.join(", ")),
                id: record.token_id,
                subject: record.subject,
                role: record.role,
                issued: when(record.issued_at),
            })
            .collect();
        let catalogue = app.catalogue().await?;
        let mut teams = Vec::new();
        for group in catalogue.groups.values() {
            let members =
                members::members(&app.store, MemberOf::Group, &group.group_id, None).await?;
            teams.push(Team {
                of: "group",
                id: group.group_id.clone(),
                name: group.name.clone(),
                members: members.into_iter().map(|m| m.subject).collect(),
            });
        }
        for provider in catalogue.providers.values() {
            let members =
                members::members(&app.store, MemberOf::Provider, &provider.provider_id, None)
                    .await?;
            teams.push(Team {
                of: "provider",
                id: provider.provider_id.clone(),
                name: provider.name.clone(),
                members: members.into_iter().map(|m| m.subject).collect(),
            });
        }
        Ok::<_, crate::store::StoreError>((tokens, teams))
    }
    .await;
    let (tokens, teams) = match result {
        Ok(found) => found,
        Err(error) => return failed(error.into()),
    };
    let mut response = render(
        status,
        &AdminPage {
            chrome: viewer.chrome(),
            csrf: viewer.csrf.clone(),
            tokens,
            teams,
            issued,
            error,
        },
    );
    // A page that may show a secret is never kept.
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

async fn admin_page(State(app): State<App>, viewer: Viewer) -> Response {
    page(&app, &viewer, None, None, StatusCode::OK).await
}

fn refusal(error: ApiError) -> (String, StatusCode) {
    let status = error.status();
    let text = match &error {
        ApiError::Validation(errors) => errors
            .iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect::<Vec<_>>()
            .join("; "),
        e if status.is_server_error() => {
            tracing::warn!(error = %e, "an admin form failed");
            "pactum could not do this right now; retry shortly.".into()
        }
        e => e.to_string(),
    };
    (text, status)
}

async fn issue(
    State(app): State<App>,
    viewer: Viewer,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = viewer.refuse_forged(form.get("csrf").map(String::as_str)) {
        return refused;
    }
    let request = TokenRequest {
        subject: field(&form, "subject").unwrap_or_default(),
        role: field(&form, "role").unwrap_or_default(),
        org: field(&form, "org"),
        groups: field(&form, "groups")
            .map(|g| {
                g.split(',')
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default(),
        provider: field(&form, "provider"),
        expires_at: None,
        email: field(&form, "email"),
    };
    let result = async {
        let catalogue = app.catalogue().await?;
        tokens::issue(&app.store, &catalogue, &request, &meta(&viewer, &app))
            .await
            .map_err(ApiError::from)
    }
    .await;
    match result {
        Ok(issued) => {
            page(
                &app,
                &viewer,
                Some((issued.token_id, issued.token)),
                None,
                StatusCode::CREATED,
            )
            .await
        }
        Err(error) => {
            let (text, status) = refusal(error);
            page(&app, &viewer, None, Some(text), status).await
        }
    }
}

async fn revoke(
    State(app): State<App>,
    viewer: Viewer,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = viewer.refuse_forged(form.get("csrf").map(String::as_str)) {
        return refused;
    }
    let id = field(&form, "token").unwrap_or_default();
    match tokens::withdraw(&app.store, &id, &meta(&viewer, &app)).await {
        Ok(()) => see_other("/ui/admin"),
        Err(error) => {
            let (text, status) = refusal(error.into());
            page(&app, &viewer, None, Some(text), status).await
        }
    }
}

async fn membership(
    State(app): State<App>,
    viewer: Viewer,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = viewer.refuse_forged(form.get("csrf").map(String::as_str)) {
        return refused;
    }
    let of = match form.get("of").map(String::as_str) {
        Some("provider") => MemberOf::Provider,
        _ => MemberOf::Group,
    };
    let scope = field(&form, "scope").unwrap_or_default();
    let subject = field(&form, "subject").unwrap_or_default();
    let result = async {
        let catalogue = app.catalogue().await?;
        if form.get("op").map(String::as_str) == Some("remove") {
            let request = command(&viewer, &app, Effect::Changed);
            members::remove(&app.store, &catalogue, of, &scope, &subject, &request)
                .await
                .map(drop)
                .map_err(ApiError::from)
        } else {
            let request = command(&viewer, &app, Effect::Created);
            members::add(&app.store, &catalogue, of, &scope, &subject, &request)
                .await
                .map(drop)
                .map_err(ApiError::from)
        }
    }
    .await;
    match result {
        Ok(()) => see_other("/ui/admin"),
        Err(error) => {
            let (text, status) = refusal(error);
            page(&app, &viewer, None, Some(text), status).await
        }
    }
}
