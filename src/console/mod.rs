//! The console: pages for people, rendered by pactum itself (askama templates in
//! `templates/`, escaped by default; a stylesheet and one small script in
//! `assets/`, served from the binary). Every flow is a plain form; the script
//! only refreshes the queue when the log moves.
//!
//! - [`signin`]: `/login` (the OpenID provider, or a pactum token), the
//!   provider's answer, `/logout`; server-side sessions.
//! - [`orders`]: the queue, an order with its timeline and the forms of what the
//!   viewer may do there.
//! - [`catalogue`]: the services and the order form generated from a service's
//!   parameters.
//! - [`agreements`]: the viewer's agreements and their documents.
//!
//! A page acts as its viewer through the same services as the API, with the
//! same policy. Forms carry the session's CSRF token; pages send a
//! Content-Security-Policy without `unsafe-inline`. The API never reads the
//! session cookie (ADR 0015).

pub mod admin;
pub mod agreements;
pub mod audit;
pub mod catalogue;
pub mod orders;
pub mod signin;

use askama::Template;
use axum::Router;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::access::{Principal, Role};
use crate::app::App;
use crate::http::error::ApiError;
use crate::signin::SessionOf;
use crate::signin::queries;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "pactum_session";

pub fn router() -> Router<App> {
    Router::new()
        .route("/", get(home))
        .route("/assets/console.css", get(stylesheet))
        .route("/assets/console.js", get(script))
        .merge(signin::router())
        .merge(orders::router())
        .merge(catalogue::router())
        .merge(agreements::router())
        .merge(audit::router())
        .merge(admin::router())
}

/// Who is looking, as every page's header shows it.
#[derive(Clone, Debug, Default)]
pub struct Chrome {
    pub signed_in: Option<SignedIn>,
}

#[derive(Clone, Debug)]
pub struct SignedIn {
    pub subject: String,
    pub csrf: String,
    pub roles: Vec<String>,
    pub staff: bool,
    pub customer: bool,
    pub provider: bool,
    pub auditor: bool,
    pub admin: bool,
}

/// The signed-in viewer of a page.
pub struct Viewer {
    pub principal: Principal,
    pub csrf: String,
}

impl Viewer {
    pub fn chrome(&self) -> Chrome {
        let has = |test: fn(&Role) -> bool| self.principal.roles().any(test);
        Chrome {
            signed_in: Some(SignedIn {
                subject: self.principal.subject.clone(),
                csrf: self.csrf.clone(),
                roles: self.principal.roles().map(describe).collect(),
                staff: has(|r| {
                    matches!(
                        r,
                        Role::Shifter { .. } | Role::Auditor | Role::Admin | Role::System
                    )
                }),
                customer: has(|r| matches!(r, Role::Customer { .. })),
                provider: has(|r| matches!(r, Role::Provider { .. })),
                auditor: has(|r| matches!(r, Role::Auditor | Role::Admin)),
                admin: has(|r| matches!(r, Role::Admin)),
            }),
        }
    }

    /// A command as this viewer, now, with `effect`.
    pub fn request(
        &self,
        app: &App,
        effect: crate::runner::Effect,
    ) -> crate::runner::CommandRequest {
        crate::runner::CommandRequest {
            meta: self.meta(app),
            if_match: None,
            effect,
        }
    }

    /// Who, when and under which ids a console command runs.
    pub fn meta(&self, app: &App) -> crate::execute::CommandMeta {
        crate::execute::CommandMeta {
            principal: self.principal.clone(),
            now: app.now(),
            correlation_id: uuid::Uuid::now_v7().to_string(),
            command_id: uuid::Uuid::now_v7().to_string(),
            idempotency: None,
        }
    }

    /// The refusal of a form whose CSRF token is not this session's, if it
    /// is not.
    pub fn refuse_forged(&self, form_csrf: Option<&str>) -> Option<Response> {
        match form_csrf {
            Some(given) if constant_eq(given.as_bytes(), self.csrf.as_bytes()) => None,
            _ => Some(error_page(
                StatusCode::FORBIDDEN,
                "This form has expired or did not come from pactum; reload the page and try again.",
            )),
        }
    }
}

fn constant_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A role in words.
pub fn describe(role: &Role) -> String {
    let list = |set: &std::collections::BTreeSet<String>| {
        set.iter().cloned().collect::<Vec<_>>().join(", ")
    };
    match role {
        Role::Customer { org } => format!("customer of {org}"),
        Role::Shifter { groups } if groups.is_empty() => "shifter (no group yet)".into(),
        Role::Shifter { groups } => format!("shifter of {}", list(groups)),
        Role::Provider { providers } => format!("operator of {}", list(providers)),
        other => other.name().to_owned(),
    }
}

/// The value of cookie `name`, if the request carries it.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// A session id as the table keeps it: its SHA-256, as tokens are kept.
pub fn hash(id: &str) -> String {
    crate::access::tokens::hash_token(id)
}

/// The session the request's cookie names, if it is live: who, and its CSRF
/// token.
pub async fn session(
    app: &App,
    headers: &HeaderMap,
) -> Result<Option<(SessionOf, String)>, crate::store::StoreError> {
    let Some(id) = cookie(headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    let Some(row) = queries::find(&app.store, &hash(id), app.now()).await? else {
        return Ok(None);
    };
    Ok(serde_json::from_str(&row.identity)
        .ok()
        .map(|of| (of, row.csrf)))
}

impl FromRequestParts<App> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Response> {
        let to_login = || {
            let path = parts
                .uri
                .path_and_query()
                .map_or("/", |p| p.as_str())
                .to_owned();
            let query = serde_urlencoded::to_string([("return_to", path)]).unwrap_or_default();
            see_other(&format!("/login?{query}"))
        };
        let found = session(app, &parts.headers).await.map_err(unavailable)?;
        let Some((of, csrf)) = found else {
            return Err(to_login());
        };
        let principal = of
            .principal(app.signin.as_ref(), &app.store, app.now())
            .await
            .map_err(unavailable)?;
        match principal {
            Some(principal) => Ok(Viewer { principal, csrf }),
            None => Err(no_role(of.subject().unwrap_or("this token"), &csrf)),
        }
    }
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    chrome: Chrome,
}

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage {
    chrome: Chrome,
    title: String,
    message: String,
}

/// A page: its HTML with the headers every page carries.
pub fn render(status: StatusCode, template: &impl Template) -> Response {
    match template.render() {
        Ok(html) => with_page_headers((status, html).into_response()),
        Err(error) => {
            tracing::error!(%error, "a page did not render");
            (StatusCode::INTERNAL_SERVER_ERROR, "the page did not render").into_response()
        }
    }
}

fn with_page_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// The Content-Security-Policy of every page: no inline script or style
/// anywhere; forms post to pactum, and signing out may go on to the OpenID
/// provider's end-session endpoint.
pub async fn page_policy(
    State(app): State<App>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let mut response = next.run(request).await;
    let is_page = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
    if is_page {
        let provider = app
            .signin
            .as_ref()
            .map(|s| origin(&s.oidc.config().issuer))
            .unwrap_or_default();
        let policy = format!(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
             connect-src 'self'; form-action 'self' {provider}; frame-ancestors 'none'; \
             base-uri 'none'"
        );
        if let Ok(value) = HeaderValue::from_str(&policy) {
            response
                .headers_mut()
                .insert(header::CONTENT_SECURITY_POLICY, value);
        }
    }
    response
}

/// `https://host:port` of a URL.
fn origin(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("https", url));
    let host = rest.split('/').next().unwrap_or_default();
    format!("{scheme}://{host}")
}

/// A page that says one thing.
pub fn message(status: StatusCode, chrome: Chrome, title: &str, message: &str) -> Response {
    render(
        status,
        &MessagePage {
            chrome,
            title: title.to_owned(),
            message: message.to_owned(),
        },
    )
}

pub fn error_page(status: StatusCode, text: &str) -> Response {
    let title = status.canonical_reason().unwrap_or("Error");
    message(status, Chrome::default(), title, text)
}

/// An API error as a page: what a person can act on, never internals.
pub fn failed(error: ApiError) -> Response {
    let status = error.status();
    let text = if status.is_server_error() {
        if matches!(error, ApiError::Internal(_)) {
            tracing::error!(%error, "a console page failed");
        }
        "Something went wrong on pactum's side; retry shortly.".to_owned()
    } else {
        error.to_string()
    };
    error_page(status, &text)
}

/// What a refused form says on its page, and with which status: every bad
/// field, or the refusal's words; never internals.
pub fn refusal(error: ApiError) -> (String, StatusCode) {
    let status = error.status();
    let text = match &error {
        ApiError::Validation(errors) => errors
            .iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect::<Vec<_>>()
            .join("; "),
        e if status.is_server_error() => {
            tracing::warn!(error = %e, "a console form failed");
            "pactum could not do this right now; retry shortly.".into()
        }
        e => e.to_string(),
    };
    (text, status)
}

pub fn unavailable(error: impl std::fmt::Display) -> Response {
    tracing::warn!(%error, "a console page could not read the store");
    error_page(
        StatusCode::SERVICE_UNAVAILABLE,
        "pactum is unavailable right now; retry shortly.",
    )
}

fn no_role(subject: &str, csrf: &str) -> Response {
    let chrome = Chrome {
        signed_in: Some(SignedIn {
            subject: subject.to_owned(),
            csrf: csrf.to_owned(),
            roles: Vec::new(),
            staff: false,
            customer: false,
            provider: false,
            auditor: false,
            admin: false,
        }),
    };
    message(
        StatusCode::FORBIDDEN,
        chrome,
        "No role yet",
        "You are signed in, but hold no role in pactum: ask an admin for a role.",
    )
}

pub fn see_other(location: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

async fn home(State(app): State<App>, headers: HeaderMap) -> Response {
    let found = match session(&app, &headers).await {
        Ok(found) => found,
        Err(error) => return unavailable(error),
    };
    let Some((of, csrf)) = found else {
        return render(
            StatusCode::OK,
            &HomePage {
                chrome: Chrome::default(),
            },
        );
    };
    match of
        .principal(app.signin.as_ref(), &app.store, app.now())
        .await
    {
        Ok(Some(principal)) => render(
            StatusCode::OK,
            &HomePage {
                chrome: Viewer { principal, csrf }.chrome(),
            },
        ),
        Ok(None) => no_role(of.subject().unwrap_or("this token"), &csrf),
        Err(error) => unavailable(error),
    }
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

async fn stylesheet() -> Response {
    asset(
        "text/css; charset=utf-8",
        include_str!("../../assets/console.css"),
    )
}

async fn script() -> Response {
    asset(
        "text/javascript; charset=utf-8",
        include_str!("../../assets/console.js"),
    )
}

/// Text of a form field: trimmed, `None` if empty.
pub fn field(form: &std::collections::HashMap<String, String>, name: &str) -> Option<String> {
    form.get(name)
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// A timestamp as people read it (UTC, to the minute).
pub fn when(at: jiff::Timestamp) -> String {
    at.strftime("%Y-%m-%d %H:%M UTC").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cookie_is_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; pactum_session=abc; b=2"),
        );
        assert_eq!(cookie(&headers, SESSION_COOKIE), Some("abc"));
        assert_eq!(cookie(&headers, "c"), None);
    }

    #[test]
    fn csrf_tokens_compare_whole() {
        assert!(constant_eq(b"abc", b"abc"));
        assert!(!constant_eq(b"abc", b"abd"));
        assert!(!constant_eq(b"abc", b"ab"));
    }
}
