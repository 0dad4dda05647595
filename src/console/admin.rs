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

use super::{Chrome, Viewer, error_page, failed, field, refusal, render, see_other, when};
use crate::access::policy::{self, Capability};
use crate::access::tokens::{self, TokenRequest};
use crate::app::App;
use crate::http::error::ApiError;
use crate::members;
use crate::runner::Effect;

pub fn router() -> Router<App> {
    Router::new()
        .route("/ui/admin", get(admin_page))
        .route("/ui/admin/tokens", post(issue))
        .route("/ui/admin/revoke", post(revoke))
        .route("/ui/admin/members", post(membership))
        .route("/ui/admin/edit/{kind}/{id}", get(editor).post(save))
        .route("/ui/admin/new", get(open_editor))
}

/// The editor of the kind and id a form names.
async fn open_editor(
    axum::extract::Query(query): axum::extract::Query<HashMap<String, String>>,
) -> Response {
    let kind = field(&query, "kind").unwrap_or_default();
    let id = field(&query, "id").unwrap_or_default();
    let path = format!("/ui/admin/edit/{}/{}", url_segment(&kind), url_segment(&id));
    see_other(&path)
}

/// One path segment, percent-encoded.
fn url_segment(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b':' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// What the editor edits, and where the JSON goes: the API's own handler.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Service,
    Group,
    Provider,
    /// A group's handling targets (`group`) or a service's (`group:service`).
    Targets,
    Brand,
}

impl Kind {
    fn parse(kind: &str) -> Option<Self> {
        Some(match kind {
            "service" => Self::Service,
            "group" => Self::Group,
            "provider" => Self::Provider,
            "targets" => Self::Targets,
            "brand" => Self::Brand,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Self::Service => "service",
            Self::Group => "group",
            Self::Provider => "provider",
            Self::Targets => "targets",
            Self::Brand => "brand",
        }
    }

    /// What a new one looks like, to start from.
    fn example(self, id: &str) -> String {
        let value = match self {
            Self::Service => {
                serde_json::json!({"name": id, "group": "compute", "legacy_path": format!("Compute/{id}"),
                "parameters": [{"key": "start_date", "label": "Start of service", "type": "date"}]})
            }
            Self::Group => serde_json::json!({"name": id}),
            Self::Provider => serde_json::json!({"name": id, "country": "NL", "services": []}),
            Self::Targets => {
                let day = serde_json::json!(["09:00-12:00", "13:00-17:00"]);
                serde_json::json!({"first_response": "PT8H", "decision": "PT40H",
                    "warning_percent": 80, "calendar": {"time_zone": "Europe/Amsterdam",
                    "hours": {"monday": day, "tuesday": day, "wednesday": day,
                              "thursday": day, "friday": day},
                    "holidays": []}})
            }
            Self::Brand => serde_json::json!({"name": id, "colour": "#004a87", "footer": id}),
        };
        serde_json::to_string_pretty(&value).expect("examples serialize")
    }
}

#[derive(Template)]
#[template(path = "editor.html")]
struct EditorPage {
    chrome: Chrome,
    csrf: String,
    kind: &'static str,
    id: String,
    json: String,
    error: Option<String>,
    saved: bool,
}

async fn editor(
    State(app): State<App>,
    viewer: Viewer,
    crate::http::extract::Path((kind, id)): crate::http::extract::Path<(String, String)>,
    axum::extract::Query(query): axum::extract::Query<HashMap<String, String>>,
) -> Response {
    if !policy::may_do(&viewer.principal, Capability::ChangeCatalogue) {
        return error_page(StatusCode::FORBIDDEN, "Only admins administer pactum.");
    }
    let Some(kind) = Kind::parse(&kind) else {
        return error_page(
            StatusCode::NOT_FOUND,
            "Nothing of that kind is edited here.",
        );
    };
    let current = match kind {
        Kind::Service | Kind::Group | Kind::Provider => match app.catalogue().await {
            Ok(catalogue) => crate::http::catalogue::entry_json(&catalogue, kind.name(), &id),
            Err(error) => return failed(error.into()),
        },
        Kind::Targets | Kind::Brand => None,
    };
    render(
        StatusCode::OK,
        &EditorPage {
            chrome: viewer.chrome(),
            csrf: viewer.csrf.clone(),
            kind: kind.name(),
            json: current.unwrap_or_else(|| kind.example(&id)),
            id,
            error: None,
            saved: query.contains_key("saved"),
        },
    )
}

/// Sends the edited JSON through the API's own handler for it, as the
/// viewer: the same checks, events and refusals as `PUT` over the API.
async fn save(
    State(app): State<App>,
    viewer: Viewer,
    crate::http::extract::Path((kind, id)): crate::http::extract::Path<(String, String)>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = viewer.refuse_forged(form.get("csrf").map(String::as_str)) {
        return refused;
    }
    let Some(kind) = Kind::parse(&kind) else {
        return error_page(
            StatusCode::NOT_FOUND,
            "Nothing of that kind is edited here.",
        );
    };
    let json = form.get("json").cloned().unwrap_or_default();
    let input = || crate::http::extract::CommandInput {
        principal: viewer.principal.clone(),
        idempotency_key: None,
        if_match: None,
        correlation_id: uuid::Uuid::now_v7().to_string(),
        request_hash: String::new(),
        body: axum::body::Bytes::from(json.clone()),
    };
    let result = match kind {
        Kind::Service => crate::http::catalogue::define_service(&app, Some(id.clone()), input())
            .await
            .map(drop),
        Kind::Group => crate::http::catalogue::define_group(&app, Some(id.clone()), input())
            .await
            .map(drop),
        Kind::Provider => crate::http::catalogue::define_provider(&app, Some(id.clone()), input())
            .await
            .map(drop),
        Kind::Targets => {
            let (group, service) = match id.split_once(':') {
                Some((group, service)) => (group.to_owned(), Some(service.to_owned())),
                None => (id.clone(), None),
            };
            crate::http::handling::put(&app, &group, service.as_deref(), &input())
                .await
                .map(drop)
        }
        Kind::Brand => crate::http::brands::put(
            State(app.clone()),
            crate::http::extract::Path(id.clone()),
            input(),
        )
        .await
        .map(drop),
    };
    match result {
        Ok(()) => see_other(&format!("/ui/admin/edit/{}/{id}?saved", kind.name())),
        Err(error) => {
            let (text, status) = refusal(error);
            render(
                status,
                &EditorPage {
                    chrome: viewer.chrome(),
                    csrf: viewer.csrf.clone(),
                    kind: kind.name(),
                    id,
                    json,
                    error: Some(text),
                    saved: false,
                },
            )
        }
    }
}

/// The EOSC Marketplace adapter as admins see it: whom it talks to, how its
/// last pass went, and every push waiting, the failing ones with their error.
pub struct EoscSection {
    pub url: String,
    pub oms_id: String,
    pub last_pass: String,
    pub last_error: Option<String>,
    pub linked: usize,
    pub unmapped: usize,
    pub pending: Vec<crate::eosc::PendingPush>,
}

impl EoscSection {
    fn of(handle: &crate::eosc::EoscHandle) -> Self {
        let status = handle.status();
        Self {
            url: handle.url().to_owned(),
            oms_id: handle.oms_id().to_owned(),
            last_pass: status
                .last_pass
                .map(when)
                .unwrap_or_else(|| "not yet".into()),
            last_error: status.last_error,
            linked: status.linked,
            unmapped: status.unmapped,
            pending: status.pending,
        }
    }

    /// Pushes that failed at least once.
    pub fn failing(&self) -> usize {
        self.pending.iter().filter(|p| p.attempts > 0).count()
    }
}

pub struct TokenRow {
    pub id: String,
    pub subject: String,
    pub role: String,
    pub scope: String,
    pub issued: String,
    pub status: &'static str,
}

pub struct Entry {
    pub kind: &'static str,
    pub id: String,
    pub name: String,
    pub note: String,
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
    entries: Vec<Entry>,
    issued: Option<(String, String)>,
    error: Option<String>,
    /// `None`: this server runs no EOSC Marketplace adapter.
    eosc: Option<EoscSection>,
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
        let mut entries = Vec::new();
        for service in catalogue.services.values() {
            let retired = catalogue.retired.services.contains_key(&service.service_id);
            entries.push(Entry {
                kind: "service",
                id: service.service_id.clone(),
                name: service.name.clone(),
                note: format!(
                    "version {}{}",
                    service.version.unwrap_or(1),
                    if retired { ", retired" } else { "" }
                ),
            });
        }
        for group in catalogue.groups.values() {
            entries.push(Entry {
                kind: "group",
                id: group.group_id.clone(),
                name: group.name.clone(),
                note: String::new(),
            });
        }
        for provider in catalogue.providers.values() {
            entries.push(Entry {
                kind: "provider",
                id: provider.provider_id.clone(),
                name: provider.name.clone(),
                note: provider.country.clone(),
            });
        }
        Ok::<_, crate::store::StoreError>((tokens, teams, entries))
    }
    .await;
    let (tokens, teams, entries) = match result {
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
            entries,
            issued,
            error,
            eosc: app.eosc.as_ref().map(EoscSection::of),
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
        tokens::issue(&app.store, &catalogue, &request, &viewer.meta(&app))
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
    match tokens::withdraw(&app.store, &id, &viewer.meta(&app)).await {
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
            let request = viewer.request(&app, Effect::Changed);
            members::remove(&app.store, &catalogue, of, &scope, &subject, &request)
                .await
                .map(drop)
                .map_err(ApiError::from)
        } else {
            let request = viewer.request(&app, Effect::Created);
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
