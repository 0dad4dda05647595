//! API tokens over the API: `POST /v1/tokens` mints one (the secret is in this
//! answer only), `GET /v1/tokens[?subject=]` lists the caller's (an admin's:
//! everyone's), `GET /v1/tokens/{id}` shows one, `DELETE /v1/tokens/{id}`
//! revokes one. Who may do which is `access::policy`'s, decided in the
//! `access_token` aggregate; to anyone else, someone else's token is a 404.
//!
//! `DELETE` may be repeated: a token already revoked answers 204 again. A retry
//! of `POST` with the same `Idempotency-Key` mints nothing and answers 409
//! (`token-already-issued`, naming the token): the secret is never kept, so it
//! cannot be shown twice.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::access::policy;
use crate::access::tokens::{self, IssuedToken, TokenRecord, TokenRequest};
use crate::app::App;
use crate::http::error::ApiError;
use crate::http::extract::{Caller, CommandInput, Path, Query, bearer_token, given};
use crate::validation::FieldError;

pub fn router() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(show, revoke))
}

/// The body of `POST /v1/tokens`: the options of `pactum token create`, with
/// an instant for the expiry.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct TokenBody {
    subject: String,
    role: String,
    org: Option<String>,
    #[serde(default)]
    groups: Vec<String>,
    provider: Option<String>,
    email: Option<String>,
    /// RFC 3339; absent: the token does not expire.
    #[schema(value_type = Option<String>, format = DateTime)]
    expires_at: Option<Timestamp>,
}

impl From<TokenBody> for TokenRequest {
    fn from(body: TokenBody) -> Self {
        Self {
            subject: body.subject,
            role: body.role,
            org: body.org,
            groups: body.groups,
            provider: body.provider,
            expires_at: body.expires_at,
            email: body.email,
        }
    }
}

/// A freshly issued token: the only answer that holds its secret.
#[derive(Serialize, utoipa::ToSchema)]
struct IssuedView {
    /// The secret, shown here once; only its SHA-256 is stored.
    token: String,
    token_id: String,
    subject: String,
    role: &'static str,
    org: Option<String>,
    groups: Vec<String>,
    provider: Option<String>,
    email: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    issued_at: Timestamp,
    #[schema(value_type = Option<String>, format = DateTime)]
    expires_at: Option<Timestamp>,
}

impl From<IssuedToken> for IssuedView {
    fn from(issued: IssuedToken) -> Self {
        use crate::access::Role;
        let role = issued.principal.role_name();
        let (org, groups, provider) = match issued.principal.role {
            Role::Customer { org } => (Some(org), Vec::new(), None),
            Role::Shifter { groups } => (None, groups.into_iter().collect(), None),
            Role::Provider { providers } => (None, Vec::new(), providers.into_iter().next()),
            Role::Auditor | Role::Monitoring | Role::Admin | Role::System => {
                (None, Vec::new(), None)
            }
        };
        Self {
            token: issued.token,
            token_id: issued.token_id,
            subject: issued.principal.subject,
            role,
            org,
            groups,
            provider,
            email: issued.email,
            issued_at: issued.issued_at,
            expires_at: issued.expires_at,
        }
    }
}

/// A token as lists show it: never its secret nor its hash.
#[derive(Serialize, utoipa::ToSchema)]
struct TokenView {
    token_id: String,
    subject: String,
    role: String,
    org: Option<String>,
    groups: Vec<String>,
    provider: Option<String>,
    email: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    issued_at: Timestamp,
    #[schema(value_type = Option<String>, format = DateTime)]
    expires_at: Option<Timestamp>,
    #[schema(value_type = Option<String>, format = DateTime)]
    revoked_at: Option<Timestamp>,
    /// `active`, `expired` or `revoked`.
    status: &'static str,
}

impl TokenView {
    fn of(record: TokenRecord, now: Timestamp) -> Self {
        Self {
            status: record.status(now),
            token_id: record.token_id,
            subject: record.subject,
            role: record.role,
            org: record.org,
            groups: record.groups,
            provider: record.provider,
            email: record.email,
            issued_at: record.issued_at,
            expires_at: record.expires_at,
            revoked_at: record.revoked_at,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
struct TokenList {
    tokens: Vec<TokenView>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    /// Admins: only this subject's tokens (ignored for anyone else, who sees
    /// only its own).
    subject: Option<String>,
}

/// 201 with `Location: /v1/tokens/{id}`; 422 naming the bad fields (an expiry
/// not in the future among them); 403 for a token one may not issue; 409 for
/// a retry of an issue under the same `Idempotency-Key`.
#[utoipa::path(
    post,
    path = "/v1/tokens",
    tag = "tokens",
    summary = "Issue a token (admins for anyone; anyone for itself, within its own role)",
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry of this command safe: the same key and body answer what the first did")),
    request_body(content = TokenBody, content_type = "application/json"),
    responses((status = 201, description = "The token with its secret, shown only here", body = IssuedView, content_type = "application/json"), crate::http::openapi::Problems),
    security(("bearer" = []))
)]
async fn create(
    State(app): State<App>,
    headers: HeaderMap,
    input: CommandInput,
) -> Result<Response, ApiError> {
    let body: TokenBody = input.json()?;
    let mut request = TokenRequest::from(body);
    // No token outlives the one that issues it, unless an admin issues it.
    let own = match bearer_token(&headers) {
        Some(token) => tokens::expiry_of(app.store.reader(), token).await?,
        None => None,
    };
    request.expires_at =
        policy::token_expiry(&input.principal, own, request.expires_at).map_err(|latest| {
            ApiError::Validation(vec![FieldError::new(
                "expires_at",
                format!("must be no later than your own token's expiry, {latest}"),
            )])
        })?;
    let issued = tokens::issue(
        &app.store,
        &*app.catalogue().await?,
        &request,
        &input.meta(&app),
    )
    .await?;
    let location = format!("/v1/tokens/{}", issued.token_id);
    let mut response = (StatusCode::CREATED, Json(IssuedView::from(issued))).into_response();
    // Nothing on the way may keep the one answer that holds the secret.
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(location) = HeaderValue::from_str(&location) {
        headers.insert(header::LOCATION, location);
    }
    Ok(response)
}

#[utoipa::path(
    get,
    path = "/v1/tokens",
    tag = "tokens",
    summary = "Tokens the caller holds (admins: all)",
    params(("subject" = Option<String>, Query, description = "Admins: only this subject's")),
    responses((status = 200, description = "OK", body = TokenList, content_type = "application/json"), crate::http::openapi::Problems),
    security(("bearer" = []))
)]
async fn list(
    State(app): State<App>,
    caller: Caller,
    Query(query): Query<ListQuery>,
) -> Result<Json<TokenList>, ApiError> {
    let subject = given(&query.subject);
    let records = tokens::records(app.store.reader(), &caller.0, subject).await?;
    let now = app.now();
    Ok(Json(TokenList {
        tokens: records.into_iter().map(|r| TokenView::of(r, now)).collect(),
    }))
}

#[utoipa::path(
    get,
    path = "/v1/tokens/{id}",
    tag = "tokens",
    summary = "One token (never its secret)",
    params(("id" = String, Path, description = "The token's id")),
    responses((status = 200, description = "OK", body = TokenView, content_type = "application/json"), crate::http::openapi::Problems),
    security(("bearer" = []))
)]
async fn show(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<TokenView>, ApiError> {
    tokens::record(app.store.reader(), &caller.0, &id)
        .await?
        .map(|record| Json(TokenView::of(record, app.now())))
        .ok_or_else(|| ApiError::NotFound("token not found".into()))
}

/// 204, also for a token already revoked; 404 for a token the caller may not
/// hold, as for one that does not exist.
#[utoipa::path(
    delete,
    path = "/v1/tokens/{id}",
    tag = "tokens",
    summary = "Revoke a token: it stops working at the next request",
    params(("id" = String, Path, description = "The token's id")),
    responses((status = 204, description = "Revoked (also when it already was)"), crate::http::openapi::Problems),
    security(("bearer" = []))
)]
async fn revoke(
    State(app): State<App>,
    Path(id): Path<String>,
    input: CommandInput,
) -> Result<StatusCode, ApiError> {
    tokens::withdraw(&app.store, &id, &input.meta(&app)).await?;
    Ok(StatusCode::NO_CONTENT)
}
