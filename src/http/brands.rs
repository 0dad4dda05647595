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

use axum::Json;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::access::Principal;
use crate::access::policy::{self, Capability};
use crate::app::App;
use crate::brands::{self, BrandRequest, LOGO_MAX_BYTES};
use crate::http::error::{ApiError, require};
use crate::http::extract::{BodyLimit, Caller, CommandInput, Path};
use crate::http::response::{etag, removed, respond};
use crate::runner::Effect;
use crate::validation::FieldError;

/// The largest `PUT` body: the largest logo in base64 (4/3 of its bytes) and
/// room for the other fields.
pub const BRAND_BODY_LIMIT: usize = LOGO_MAX_BYTES / 3 * 4 + 64 * 1024;

pub fn router() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .merge(
            OpenApiRouter::new()
                .routes(routes!(show, put, remove))
                .layer(DefaultBodyLimit::max(BRAND_BODY_LIMIT))
                .layer(axum::Extension(BodyLimit(BRAND_BODY_LIMIT))),
        )
        .routes(routes!(logo))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct BrandBody {
    name: String,
    colour: String,
    footer: String,
    #[serde(default)]
    logo: Option<LogoBody>,
}

#[derive(Deserialize, utoipa::ToSchema)]
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

#[utoipa::path(
    get,
    path = "/v1/brands/{org}",
    tag = "brands",
    summary = "An organisation's brand (staff; customers their own)",
    params(("org" = String, Path, description = "The organisation")),
    responses((status = 200, description = "OK", body = crate::brands::BrandView, content_type = "application/json"), crate::http::openapi::Problems),
    security(("bearer" = []))
)]
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

#[utoipa::path(
    get,
    path = "/v1/brands/{org}/logo",
    tag = "brands",
    summary = "The brand's logo image",
    params(("org" = String, Path, description = "The organisation")),
    responses((status = 200, description = "OK", body = Vec<u8>, content_type = "image/*"), crate::http::openapi::Problems),
    security(("bearer" = []))
)]
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

#[utoipa::path(
    put,
    path = "/v1/brands/{org}",
    tag = "brands",
    summary = "Set an organisation's brand (admins)",
    params(("org" = String, Path, description = "The organisation"), ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe"), ("If-Match" = Option<String>, Header, description = "The brand version (ETag) last seen")),
    request_body(content = BrandBody, content_type = "application/json"),
    responses((status = 200, description = "OK", body = crate::brands::BrandView, content_type = "application/json"), crate::http::openapi::Problems),
    security(("bearer" = []))
)]
pub(crate) async fn put(
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
#[utoipa::path(
    delete,
    path = "/v1/brands/{org}",
    tag = "brands",
    summary = "Remove an organisation's brand (admins)",
    params(("org" = String, Path, description = "The organisation"), ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe"), ("If-Match" = Option<String>, Header, description = "The brand version (ETag) last seen")),
    responses((status = 204, description = "Removed"), crate::http::openapi::Problems),
    security(("bearer" = []))
)]
async fn remove(
    State(app): State<App>,
    Path(org): Path<String>,
    input: CommandInput,
) -> Result<Response, ApiError> {
    require(&input.principal, Capability::DefineBrand)?;
    let ran = brands::remove(&app.store, &org, &input.request(&app, Effect::Changed)).await?;
    Ok(removed(ran))
}
