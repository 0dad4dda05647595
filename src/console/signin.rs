//! Signing in to the console: `GET /login` sends the person to the OpenID
//! provider with PKCE, `state` and `nonce` (or, without one, shows the token
//! form); `GET /auth/callback` takes the provider's answer, verifies the ID
//! token, reads UserInfo and opens a server-side session; `GET`/`POST
//! /login/token` signs in with a pactum token instead; `POST /logout` ends the
//! session, and the provider's too when it has an end-session endpoint.
//!
//! The cookie `pactum_session` is `HttpOnly`, `SameSite=Lax`, `Secure` when the
//! public URL is https, and new at every sign-in.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Router, http};
use jiff::SignedDuration;
use serde::Deserialize;

use super::{Chrome, SESSION_COOKIE, cookie, hash, message, render, see_other, unavailable};
use crate::access::tokens::{TOKEN_PREFIX, authenticate, hash_token};
use crate::app::App;
use crate::signin::queries::{self, NewSession};
use crate::signin::{self, SessionOf};

/// How long a session lasts.
const SESSION_HOURS: i64 = 8;
/// How long a sign-in may take at the provider.
const ATTEMPT_MINUTES: i64 = 10;
/// The cookie that ties the token form to the browser it was shown to.
const LOGIN_COOKIE: &str = "pactum_login";

pub fn router() -> Router<App> {
    Router::new()
        .route("/login", get(login))
        .route("/login/token", get(token_form).post(token_login))
        .route("/auth/callback", get(callback))
        .route("/logout", post(logout))
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    chrome: Chrome,
    csrf: String,
    return_to: String,
    provider: bool,
    error: Option<String>,
}

fn refused(why: &str) -> Response {
    message(
        StatusCode::UNAUTHORIZED,
        Chrome::default(),
        "Sign-in refused",
        why,
    )
}

fn cookie_header(app: &App, name: &str, value: &str, max_age: i64) -> HeaderValue {
    let secure = app
        .signin
        .as_ref()
        .is_some_and(|s| s.oidc.config().secure_cookies());
    let cookie = format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{}",
        if secure { "; Secure" } else { "" }
    );
    HeaderValue::from_str(&cookie).expect("cookie values are base64url")
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
        return token_page(&app, local_path(query.return_to), None);
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

async fn token_form(State(app): State<App>, Query(query): Query<LoginQuery>) -> Response {
    token_page(&app, local_path(query.return_to), None)
}

/// The token form, with a fresh value in its hidden field and in a cookie:
/// a form another site made cannot know it (login CSRF).
fn token_page(app: &App, return_to: String, error: Option<String>) -> Response {
    let csrf = signin::random_token();
    let status = if error.is_some() {
        StatusCode::UNAUTHORIZED
    } else {
        StatusCode::OK
    };
    let mut response = render(
        status,
        &LoginPage {
            chrome: Chrome::default(),
            csrf: csrf.clone(),
            return_to,
            provider: app.signin.is_some(),
            error,
        },
    );
    response.headers_mut().insert(
        header::SET_COOKIE,
        cookie_header(app, LOGIN_COOKIE, &csrf, 600),
    );
    response
}

async fn token_login(
    State(app): State<App>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let return_to = local_path(form.get("return_to").cloned());
    let expected = cookie(&headers, LOGIN_COOKIE).unwrap_or_default();
    let given = form.get("csrf").map(String::as_str).unwrap_or_default();
    if expected.is_empty() || expected != given {
        return token_page(
            &app,
            return_to,
            Some("This form has expired; try again.".into()),
        );
    }
    let token = form.get("token").map(|t| t.trim()).unwrap_or_default();
    let principal = if token.starts_with(TOKEN_PREFIX) {
        match authenticate(&app.store, token, app.now()).await {
            Ok(principal) => principal,
            Err(error) => return unavailable(error),
        }
    } else {
        None
    };
    let Some(principal) = principal else {
        return token_page(
            &app,
            return_to,
            Some("That is not a valid, live pactum token.".into()),
        );
    };
    let of = SessionOf::Token {
        token_sha256: hash_token(token),
    };
    open_session(&app, &headers, &principal.subject, of, None, &return_to).await
}

/// Opens a session (ending the one the browser held) and goes to `return_to`.
async fn open_session(
    app: &App,
    headers: &HeaderMap,
    subject: &str,
    of: SessionOf,
    id_token: Option<String>,
    return_to: &str,
) -> Response {
    if let Some(old) = cookie(headers, SESSION_COOKIE)
        && let Err(error) = queries::close(&app.store, hash(old)).await
    {
        return unavailable(error);
    }
    let id = signin::random_token();
    let now = app.now();
    let session = NewSession {
        id_sha256: hash(&id),
        subject: subject.to_owned(),
        identity: serde_json::to_string(&of).expect("sessions serialize"),
        id_token,
        csrf: signin::random_token(),
    };
    let until = now + SignedDuration::from_hours(SESSION_HOURS);
    if let Err(error) = queries::open(&app.store, session, now, until).await {
        return unavailable(error);
    }
    tracing::info!(%subject, "signed in to the console");
    let mut response = see_other(return_to);
    let headers = response.headers_mut();
    headers.append(
        header::SET_COOKIE,
        cookie_header(app, SESSION_COOKIE, &id, SESSION_HOURS * 3600),
    );
    headers.append(header::SET_COOKIE, cookie_header(app, LOGIN_COOKIE, "", 0));
    response
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
        return refused("This pactum has no OpenID provider configured.");
    };
    let stale = app.now() - SignedDuration::from_mins(ATTEMPT_MINUTES);
    let Some(state) = query.state else {
        return refused("The provider's answer has no state.");
    };
    let (verifier, nonce, return_to) = match queries::take(&app.store, state, stale).await {
        Ok(Some(attempt)) => attempt,
        Ok(None) => return refused("This sign-in is unknown or took too long; start again."),
        Err(error) => return unavailable(error),
    };
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
    let subject = identity.subject.clone();
    let of = SessionOf::Provider(identity);
    open_session(&app, &headers, &subject, of, Some(id_token), &return_to).await
}

async fn logout(
    State(app): State<App>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let mut id_token = None;
    if let Some(id) = cookie(&headers, SESSION_COOKIE) {
        let key = hash(id);
        match queries::find(&app.store, &key, app.now()).await {
            Ok(Some(row)) => {
                if form.get("csrf") != Some(&row.csrf) {
                    return super::error_page(
                        http::StatusCode::FORBIDDEN,
                        "This form did not come from pactum; sign out from pactum's own page.",
                    );
                }
                id_token = row.id_token;
            }
            Ok(None) => {}
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
        .filter(|_| id_token.is_some())
        .unwrap_or_else(|| "/".into());
    let mut response = see_other(&to);
    response.headers_mut().insert(
        header::SET_COOKIE,
        cookie_header(&app, SESSION_COOKIE, "", 0),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_returned_to() {
        assert_eq!(local_path(Some("/ui/orders/1".into())), "/ui/orders/1");
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
}
