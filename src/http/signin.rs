//! Browser sign-in (not the JSON API, which takes bearer tokens only):
//! `GET /login` sends the person to the OpenID provider with PKCE, `state` and
//! `nonce`; `GET /auth/callback` takes its answer, verifies the ID token,
//! reads UserInfo and opens a server-side session (cookie `pactum_session`:
//! `HttpOnly`, `SameSite=Lax`, `Secure` when the public URL is https, a new id
//! at every sign-in); `POST /logout` ends it, and the provider's session too
//! when it has an end-session endpoint. `GET /` says who is signed in.
//!
//! A session cookie never authorises anything under `/v1/`: the API reads
//! `Authorization` only, so a cross-site form cannot act for a signed-in person.

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use jiff::SignedDuration;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::app::App;
use crate::signin::{self, Identity, queries};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "pactum_session";
/// How long a session lasts.
const SESSION_HOURS: i64 = 8;
/// How long a sign-in may take at the provider.
const ATTEMPT_MINUTES: i64 = 10;

pub fn router() -> Router<App> {
    Router::new()
        .route("/", get(home))
        .route("/login", get(login))
        .route("/auth/callback", get(callback))
        .route("/logout", post(logout))
}

/// An HTML page, with the headers every page of pactum's carries.
fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} · pactum</title></head><body><main>\n{body}\n</main></body></html>\n",
        escape(title)
    );
    let mut response = (status, html).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; \
             frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    response
}

/// Text made safe inside HTML.
pub fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    escaped
}

fn refused(why: &str) -> Response {
    page(
        StatusCode::UNAUTHORIZED,
        "Sign-in refused",
        &format!(
            "<h1>Sign-in refused</h1><p>{}</p><p><a href=\"/login\">Try again</a></p>",
            escape(why)
        ),
    )
}

fn see_other(location: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

fn no_signin() -> Response {
    page(
        StatusCode::NOT_FOUND,
        "No sign-in",
        "<h1>No sign-in here</h1><p>This pactum has no OpenID provider configured \
         (<code>serve --oidc-issuer</code>); use an API token.</p>",
    )
}

fn unavailable(error: impl std::fmt::Display) -> Response {
    tracing::warn!(%error, "sign-in failed on pactum's side");
    page(
        StatusCode::SERVICE_UNAVAILABLE,
        "Sign-in unavailable",
        "<h1>Sign-in is unavailable right now</h1><p>Retry shortly.</p>",
    )
}

/// The value of cookie `name`, if the request carries it.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

fn hash(id: &str) -> String {
    hex::encode(Sha256::digest(id.as_bytes()))
}

fn session_cookie(app: &App, value: &str, max_age: i64) -> HeaderValue {
    let secure = app
        .signin
        .as_ref()
        .is_some_and(|s| s.oidc.config().secure_cookies());
    let cookie = format!(
        "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{}",
        if secure { "; Secure" } else { "" }
    );
    HeaderValue::from_str(&cookie).expect("cookie values are base64url")
}

/// The person signed in with the request's session cookie, if any.
pub async fn session_identity(
    app: &App,
    headers: &HeaderMap,
) -> Result<Option<Identity>, crate::store::StoreError> {
    let Some(id) = cookie(headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    let Some(row) = queries::find(&app.store, &hash(id), app.now()).await? else {
        return Ok(None);
    };
    Ok(serde_json::from_str(&row.identity).ok())
}

#[derive(Deserialize)]
struct LoginQuery {
    return_to: Option<String>,
}

/// Only a path on this site: never `//elsewhere` or a URL.
fn local_path(path: Option<String>) -> String {
    match path {
        Some(path) if path.starts_with('/') && !path.starts_with("//") && !path.contains('\\') => {
            path
        }
        _ => "/".into(),
    }
}

async fn login(State(app): State<App>, Query(query): Query<LoginQuery>) -> Response {
    let Some(signin) = app.signin.as_ref() else {
        return no_signin();
    };
    let (state, nonce, verifier) = (
        signin::random_token(),
        signin::random_token(),
        signin::random_token(),
    );
    let now = app.now();
    let stale = now - SignedDuration::from_mins(ATTEMPT_MINUTES);
    let attempt = (verifier.clone(), nonce.clone(), local_path(query.return_to));
    if let Err(error) = queries::begin(&app.store, state.clone(), attempt, now, stale).await {
        return unavailable(error);
    }
    see_other(&signin.oidc.authorize_url(&state, &nonce, &verifier))
}

#[derive(Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

async fn callback(
    State(app): State<App>,
    headers: HeaderMap,
    Query(query): Query<CallbackQuery>,
) -> Response {
    let Some(signin) = app.signin.as_ref() else {
        return no_signin();
    };
    let now = app.now();
    let stale = now - SignedDuration::from_mins(ATTEMPT_MINUTES);
    let Some(state) = query.state else {
        return refused("The provider's answer has no state.");
    };
    let attempt = match queries::take(&app.store, state, stale).await {
        Ok(Some(attempt)) => attempt,
        Ok(None) => return refused("This sign-in is unknown or took too long; start again."),
        Err(error) => return unavailable(error),
    };
    let (verifier, nonce, return_to) = attempt;
    if let Some(error) = query.error {
        let description = query.error_description.unwrap_or_default();
        return refused(&format!("The provider said: {error} {description}"));
    }
    let Some(code) = query.code else {
        return refused("The provider's answer has no code.");
    };
    let oidc = &signin.oidc;
    let result = async {
        let tokens = oidc.exchange(&code, &verifier).await?;
        let sub = oidc.verify_id_token(&tokens.id_token, &nonce).await?;
        let identity = oidc.userinfo(&tokens.access_token, Some(&sub)).await?;
        Ok::<_, signin::OidcError>((tokens.id_token, identity))
    }
    .await;
    let (id_token, identity) = match result {
        Ok(done) => done,
        Err(signin::OidcError::Refused(why)) => {
            tracing::info!(%why, "a sign-in was refused");
            return refused(&format!("The provider's answer was not acceptable: {why}."));
        }
        Err(error) => return unavailable(error),
    };
    // A new session id at every sign-in; the one the browser held ends.
    if let Some(old) = cookie(&headers, SESSION_COOKIE)
        && let Err(error) = queries::close(&app.store, hash(old)).await
    {
        return unavailable(error);
    }
    let id = signin::random_token();
    let until = now + SignedDuration::from_hours(SESSION_HOURS);
    let opened = queries::open(
        &app.store,
        hash(&id),
        identity.subject.clone(),
        serde_json::to_string(&identity).expect("identities serialize"),
        Some(id_token),
        now,
        until,
    )
    .await;
    if let Err(error) = opened {
        return unavailable(error);
    }
    tracing::info!(subject = %identity.subject, "signed in");
    let mut response = see_other(&return_to);
    response.headers_mut().insert(
        header::SET_COOKIE,
        session_cookie(&app, &id, SESSION_HOURS * 3600),
    );
    response
}

async fn logout(State(app): State<App>, headers: HeaderMap) -> Response {
    let mut id_token = None;
    if let Some(id) = cookie(&headers, SESSION_COOKIE) {
        let key = hash(id);
        match queries::find(&app.store, &key, app.now()).await {
            Ok(row) => id_token = row.and_then(|row| row.id_token),
            Err(error) => return unavailable(error),
        }
        if let Err(error) = queries::close(&app.store, key).await {
            return unavailable(error);
        }
    }
    let to = app
        .signin
        .as_ref()
        .and_then(|s| s.oidc.end_session_url(id_token.as_deref()))
        .unwrap_or_else(|| "/".into());
    let mut response = see_other(&to);
    response
        .headers_mut()
        .insert(header::SET_COOKIE, session_cookie(&app, "", 0));
    response
}

async fn home(State(app): State<App>, headers: HeaderMap) -> Response {
    let identity = match session_identity(&app, &headers).await {
        Ok(identity) => identity,
        Err(error) => return unavailable(error),
    };
    let Some(identity) = identity else {
        let sign_in = if app.signin.is_some() {
            "<p><a href=\"/login\">Sign in</a></p>"
        } else {
            "<p>This pactum has no sign-in configured; use the API with a token \
             (<a href=\"/docs/\">the API reference</a>).</p>"
        };
        return page(
            StatusCode::OK,
            "pactum",
            &format!("<h1>pactum</h1>{sign_in}"),
        );
    };
    let principal = match &app.signin {
        Some(signin) => match signin.principal(app.store.reader(), &identity).await {
            Ok(principal) => principal,
            Err(error) => return unavailable(error),
        },
        None => None,
    };
    let roles = match &principal {
        Some(principal) => principal
            .roles()
            .map(|role| format!("<li>{}</li>", escape(&describe(role))))
            .collect::<String>(),
        None => "<li>none: ask an admin for a role</li>".into(),
    };
    page(
        StatusCode::OK,
        "pactum",
        &format!(
            "<h1>pactum</h1><p>Signed in as <strong>{}</strong>.</p>\
             <h2>Your roles</h2><ul>{roles}</ul>\
             <form method=\"post\" action=\"/logout\"><button type=\"submit\">Sign out</button></form>",
            escape(&identity.subject)
        ),
    )
}

fn describe(role: &crate::access::Role) -> String {
    use crate::access::Role;
    let list = |set: &std::collections::BTreeSet<String>| {
        set.iter().cloned().collect::<Vec<_>>().join(", ")
    };
    match role {
        Role::Customer { org } => format!("customer of {org}"),
        Role::Shifter { groups } => format!("shifter of {}", list(groups)),
        Role::Provider { providers } => format!("operator of {}", list(providers)),
        other => other.name().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_returned_to() {
        assert_eq!(local_path(Some("/orders/1".into())), "/orders/1");
        for bad in [
            "//evil.example",
            "https://evil.example",
            "/\\evil",
            "orders",
        ] {
            assert_eq!(local_path(Some(bad.into())), "/", "{bad}");
        }
        assert_eq!(local_path(None), "/");
    }

    #[test]
    fn html_is_escaped() {
        assert_eq!(
            escape("<script>\"x\" & 'y'</script>"),
            "&lt;script&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/script&gt;"
        );
    }

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
}
