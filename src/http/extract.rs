//! Extractors of our own, so that every bad request gets the same problem+json:
//! [`Caller`] authenticates, [`CommandInput`] gathers what a command needs
//! (caller, `Idempotency-Key`, `If-Match`, correlation id, body within the limit),
//! [`Path`] reads path parameters (a segment that is not UTF-8 is a 400), and
//! [`parse_json`] tells malformed JSON (400) from a wrong shape (422).

use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use jiff::Timestamp;
use serde::de::DeserializeOwned;
use serde_json::error::Category;
use sha2::{Digest, Sha256};

use crate::access::Principal;
use crate::access::tokens::{TOKEN_PREFIX, authenticate};
use crate::app::App;
use crate::execute::{CommandMeta, Idempotency};
use crate::http::BODY_LIMIT;
use crate::http::error::ApiError;
use crate::runner::{CommandRequest, Effect};
use crate::validation::FieldError;

/// Path parameters, as axum's `Path` reads them, but refused with problem+json.
pub struct Path<T>(pub T);

impl<T, S> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Self(value)),
            Err(PathRejection::FailedToDeserializePathParams(error)) => {
                Err(ApiError::BadRequest(error.body_text()))
            }
            // A route without the parameters its handler asks for: our bug.
            Err(other) => Err(ApiError::internal(other.body_text())),
        }
    }
}

/// The body limit of a route that has its own (set with `DefaultBodyLimit`
/// and this extension together), for the 413's text.
#[derive(Clone, Copy, Debug)]
pub struct BodyLimit(pub usize);

/// The authenticated caller.
pub struct Caller(pub Principal);

impl FromRequestParts<App> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, ApiError> {
        let token = bearer_token(&parts.headers).ok_or(ApiError::Unauthenticated)?;
        let principal = match (&app.signin, token.starts_with(TOKEN_PREFIX)) {
            // Not pactum's: perhaps the OpenID provider's access token.
            (Some(signin), false) => signin
                .principal_of_bearer(app.store.reader(), token, app.now())
                .await
                .map_err(|e| match e {
                    crate::signin::BearerError::Store(e) => e.into(),
                    crate::signin::BearerError::Provider(e) => {
                        tracing::warn!(error = %e, "cannot check a bearer token with the provider");
                        ApiError::Unavailable(
                            "the OpenID provider cannot be reached to check this token; retry shortly"
                                .into(),
                        )
                    }
                })?,
            _ => authenticate(&app.store, token, app.now()).await?,
        };
        Ok(Caller(principal.ok_or(ApiError::Unauthenticated)?))
    }
}

pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|token| !token.is_empty())
}

/// Everything a command endpoint needs from its request.
pub struct CommandInput {
    pub principal: Principal,
    pub idempotency_key: Option<String>,
    pub if_match: Option<u64>,
    pub correlation_id: String,
    pub request_hash: String,
    pub body: Bytes,
}

impl FromRequest<App> for CommandInput {
    type Rejection = ApiError;

    async fn from_request(request: Request, app: &App) -> Result<Self, ApiError> {
        let (mut parts, body) = request.into_parts();
        let Caller(principal) = Caller::from_request_parts(&mut parts, app).await?;
        let idempotency_key = idempotency_key(&parts.headers)?;
        let if_match = if_match(&parts.headers)?;
        let correlation_id = correlation_id(&parts.headers);
        let limit = parts
            .extensions
            .get::<BodyLimit>()
            .map_or(BODY_LIMIT, |limit| limit.0);
        let fingerprint = format!("{} {}\n", parts.method, parts.uri.path());
        let body = Bytes::from_request(Request::from_parts(parts, body), app)
            .await
            .map_err(|rejection| {
                if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::PayloadTooLarge { limit }
                } else {
                    ApiError::Malformed(rejection.body_text())
                }
            })?;
        let mut hasher = Sha256::new();
        hasher.update(fingerprint.as_bytes());
        hasher.update(&body);
        Ok(Self {
            principal,
            idempotency_key,
            if_match,
            correlation_id,
            request_hash: hex::encode(hasher.finalize()),
            body,
        })
    }
}

impl CommandInput {
    /// The command's metadata, stamped with the clock's "now".
    pub fn meta(&self, app: &App) -> CommandMeta {
        CommandMeta {
            principal: self.principal.clone(),
            now: app.now(),
            correlation_id: self.correlation_id.clone(),
            command_id: uuid::Uuid::now_v7().to_string(),
            idempotency: self.idempotency_key.as_ref().map(|key| Idempotency {
                key: key.clone(),
                request_hash: self.request_hash.clone(),
            }),
        }
    }

    /// The command's request; `effect` says whether it creates something.
    pub fn request(&self, app: &App, effect: Effect) -> CommandRequest {
        CommandRequest {
            meta: self.meta(app),
            if_match: self.if_match,
            effect,
        }
    }

    /// The body as JSON of shape `T`; an empty body reads as `{}`.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        parse_json(&self.body)
    }

    /// The body as UTF-8 text.
    pub fn text(&self) -> Result<&str, ApiError> {
        std::str::from_utf8(&self.body)
            .map_err(|_| ApiError::Malformed("the body is not valid UTF-8 text".into()))
    }
}

/// Parses JSON: syntax errors are 400, a wrong shape is 422 naming the field.
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        body
    };
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        match inner.classify() {
            Category::Data => {
                let message = inner.to_string();
                let message = message
                    .split(" at line ")
                    .next()
                    .unwrap_or(&message)
                    .to_owned();
                let field = if path == "." {
                    backticked(&message).unwrap_or("body").to_owned()
                } else {
                    path
                };
                ApiError::Validation(vec![FieldError::new(field, message)])
            }
            _ => malformed(&inner),
        }
    })?;
    deserializer.end().map_err(|e| malformed(&e))?;
    Ok(value)
}

fn malformed(error: &serde_json::Error) -> ApiError {
    ApiError::Malformed(format!("the body is not valid JSON: {error}"))
}

/// The first `name` in a serde message like "missing field `name`".
fn backticked(message: &str) -> Option<&str> {
    let start = message.find('`')? + 1;
    let end = start + message[start..].find('`')?;
    Some(&message[start..end])
}

fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let key = value
        .to_str()
        .ok()
        .map(str::trim)
        .filter(|key| !key.is_empty() && key.len() <= 255)
        .ok_or_else(|| {
            ApiError::BadRequest("Idempotency-Key must be 1 to 255 visible ASCII characters".into())
        })?;
    Ok(Some(key.to_owned()))
}

/// `If-Match: "<version>"` (also unquoted or weak `W/"<version>"`).
fn if_match(headers: &HeaderMap) -> Result<Option<u64>, ApiError> {
    let Some(value) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let bad = || ApiError::BadRequest("If-Match must be an entity tag like \"3\"".into());
    let text = value.to_str().map_err(|_| bad())?.trim();
    let text = text.strip_prefix("W/").unwrap_or(text);
    let text = text
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .unwrap_or(text);
    text.parse().map(Some).map_err(|_| bad())
}

fn correlation_id(headers: &HeaderMap) -> String {
    ["x-correlation-id", "x-request-id"]
        .iter()
        .filter_map(|name| headers.get(*name)?.to_str().ok())
        .map(str::trim)
        .find(|id| !id.is_empty() && id.len() <= 128)
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string())
}

/// A query string parsed into `T`, typically a struct with
/// `#[serde(deny_unknown_fields)]` so that a misspelt parameter is refused
/// rather than silently ignored; any refusal is a 400 problem naming it.
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or_default();
        serde_urlencoded::from_str(query)
            .map(Query)
            .map_err(|error| ApiError::BadRequest(format!("query: {error}")))
    }
}

/// A trimmed, non-empty query value (`?limit=` reads as no limit).
pub fn given(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// An RFC 3339 instant; a `+` offset that a query string decoded to a space is
/// read back as `+`.
pub fn parse_instant(raw: &str) -> Result<Timestamp, ApiError> {
    raw.trim().replace(' ', "+").parse().map_err(|e| {
        ApiError::BadRequest(format!(
            "as_of must be an RFC 3339 instant like 2026-03-01T12:00:00Z: {e}"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        reason: String,
        count: Option<u32>,
    }

    fn field_of(error: ApiError) -> String {
        match error {
            ApiError::Validation(errors) => errors[0].field.clone(),
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn syntax_errors_are_malformed_and_shape_errors_name_the_field() {
        assert!(matches!(
            parse_json::<Body>(b"{\"reason\": "),
            Err(ApiError::Malformed(_))
        ));
        assert!(matches!(
            parse_json::<Body>(b"{\"reason\": \"x\"} trailing"),
            Err(ApiError::Malformed(_))
        ));
        assert_eq!(field_of(parse_json::<Body>(b"{}").unwrap_err()), "reason");
        assert_eq!(
            field_of(parse_json::<Body>(b"{\"reason\": 5}").unwrap_err()),
            "reason"
        );
        assert_eq!(
            field_of(parse_json::<Body>(b"{\"reason\": \"x\", \"count\": -1}").unwrap_err()),
            "count"
        );
        assert_eq!(
            field_of(parse_json::<Body>(b"{\"reason\": \"x\", \"colour\": 1}").unwrap_err()),
            "colour"
        );
    }

    #[test]
    fn if_match_accepts_strong_weak_and_bare_versions() {
        let mut headers = HeaderMap::new();
        for (value, expected) in [("\"3\"", 3), ("W/\"4\"", 4), ("5", 5)] {
            headers.insert(header::IF_MATCH, HeaderValue::from_static(value));
            assert_eq!(if_match(&headers).unwrap(), Some(expected));
        }
        headers.insert(header::IF_MATCH, HeaderValue::from_static("\"abc\""));
        assert!(if_match(&headers).is_err());
    }

    #[test]
    fn bearer_scheme_is_case_insensitive() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("bearer pct_x"),
        );
        assert_eq!(bearer_token(&headers), Some("pct_x"));
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(bearer_token(&headers), None);
    }
}
