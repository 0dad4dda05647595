//! Brands over the API: `PUT /v1/brands/{org}` (admins) defines an
//! organisation's brand, `GET` shows it, `DELETE` removes it;
//! `GET /v1/brands/{org}/logo` answers the logo itself.
//!
//! A definition: `{"name": "ACME Research", "colour": "#0a5f38", "footer":
//! "ACME · Lab street 1", "logo": {"media_type": "image/png", "base64":
//! "iVBORw0K..."}}` — `logo` optional; PNG, JPEG or SVG, at most
//! `LOGO_MAX_BYTES`, its bytes of the type it says, 16 to 4096 px each way
//! (`brands::logo`), drawable by typst. The brand is shown with its logo's
//! type, hash and size, never its bytes. `PUT` and `DELETE` take `If-Match`
//! (the brand aggregate's version, its `ETag`) and `Idempotency-Key`.

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;

use crate::access::Principal;
use crate::access::policy::{self, Capability};
use crate::app::App;
use crate::brands::{self, BrandRequest, LOGO_MAX_BYTES};
use crate::http::error::{ApiError, require};
use crate::http::extract::{Caller, CommandInput, Path};
use crate::http::response::{POSITION, etag, respond};
use crate::runner::{Effect, Ran};
use crate::validation::FieldError;

/// The largest `PUT` body: the largest logo in base64 (4/3 of its bytes) and
/// room for the other fields.
pub const BRAND_BODY_LIMIT: usize = LOGO_MAX_BYTES / 3 * 4 + 64 * 1024;

pub fn router() -> Router<App> {
    Router::new()
        .route(
            "/v1/brands/{org}",
            get(show)
                .put(put)
                .delete(remove)
                .layer(DefaultBodyLimit::max(BRAND_BODY_LIMIT)),
        )
        .route("/v1/brands/{org}/logo", get(logo))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BrandBody {
    name: String,
    colour: String,
    footer: String,
    #[serde(default)]
    logo: Option<LogoBody>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LogoBody {
    media_type: String,
    base64: String,
}

impl LogoBody {
    /// The media type and the decoded bytes (whitespace, as `base64` wraps
    /// lines, is ignored).
    fn decode(self) -> Result<(String, Vec<u8>), ApiError> {
        let text: String = self
            .base64
            .chars()
            .filter(|c| !c.is_ascii_whitespace())
            .collect();
        let bytes = STANDARD.decode(text).map_err(|e| {
            ApiError::Validation(vec![FieldError::new(
                "logo",
                format!("base64 is not standard base64 ({e})"),
            )])
        })?;
        Ok((self.media_type, bytes))
    }
}

fn may_read(principal: &Principal, org: &str) -> Result<(), ApiError> {
    if policy::can_read_brand(principal, org) {
        Ok(())
    } else {
        Err(ApiError::Forbidden(
            "only staff and the organisation's customers read its brand".into(),
        ))
    }
}

async fn show(
    State(app): State<App>,
    caller: Caller,
    Path(org): Path<String>,
) -> Result<Response, ApiError> {
    may_read(&caller.0, &org)?;
    let brand = brands::shown(&app.store, &org)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("{org} has no brand")))?;
    let version = brand.version;
    let mut response = Json(brand).into_response();
    response.headers_mut().insert(header::ETAG, etag(version));
    Ok(response)
}

async fn logo(
    State(app): State<App>,
    caller: Caller,
    Path(org): Path<String>,
) -> Result<Response, ApiError> {
    may_read(&caller.0, &org)?;
    let logo = brands::current_logo(&app.store, &org)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("{org} has no brand with a logo")))?;
    let media_type = HeaderValue::from_str(&logo.media_type)
        .map_err(|_| ApiError::internal("a logo's media type is not a header value"))?;
    Ok(([(header::CONTENT_TYPE, media_type)], logo.bytes).into_response())
}

async fn put(
    State(app): State<App>,
    Path(org): Path<String>,
    input: CommandInput,
) -> Result<Response, ApiError> {
    require(&input.principal, Capability::DefineBrand)?;
    let body: BrandBody = input.json()?;
    let request = BrandRequest {
        org,
        name: body.name,
        colour: body.colour,
        footer: body.footer,
        logo: body.logo.map(LogoBody::decode).transpose()?,
    };
    let ran = brands::define(
        &app.store,
        &app.renderer,
        &request,
        &input.request(&app, Effect::Changed),
    )
    .await?;
    Ok(respond(ran, None))
}

/// 204, with the position of the removal (or of the first answer, for a retry).
async fn remove(
    State(app): State<App>,
    Path(org): Path<String>,
    input: CommandInput,
) -> Result<Response, ApiError> {
    require(&input.principal, Capability::DefineBrand)?;
    let ran = brands::remove(&app.store, &org, &input.request(&app, Effect::Changed)).await?;
    let position = match ran {
        Ran::Done { position, .. } => position,
        Ran::Replayed(replayed) => replayed.position,
    };
    let mut response = StatusCode::NO_CONTENT.into_response();
    response
        .headers_mut()
        .insert(POSITION.clone(), position.into());
    Ok(response)
}
