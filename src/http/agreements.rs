//! Agreement endpoints: the list, one agreement, its documents, amendment and
//! termination. Activation is an order command (`POST /v1/orders/{id}/activate`).

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jiff::civil::Date;
use serde::Deserialize;
use serde_json::Number;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::agreements::list::{self, AgreementQuery};
use crate::agreements::service::{self, Amendment, PDF, TargetsPatch};
use crate::app::App;
use crate::catalogue::params;
use crate::http::error::ApiError;
use crate::http::extract::{Caller, CommandInput, Path, Query, given};
use crate::http::paging::ListRequest;
use crate::http::response::{etag, listed, respond};
use crate::runner::Effect;
use crate::validation::{self, FieldError};

pub fn router() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(get_agreement))
        .routes(routes!(document))
        .routes(routes!(amend))
        .routes(routes!(terminate))
}

/// Service level targets in a request; each one optional, laid over the current
/// (or default) targets.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetsBody {
    #[serde(default)]
    availability_pct: Option<Number>,
    #[serde(default)]
    reliability_pct: Option<Number>,
    #[serde(default)]
    period: Option<String>,
}

impl TargetsBody {
    /// [`TargetsBody::patch`] of an optional body, its errors added to `errors`.
    pub fn patch_of(
        body: Option<Self>,
        field: &str,
        errors: &mut Vec<FieldError>,
    ) -> Option<TargetsPatch> {
        body?.patch(field).map_err(|e| errors.extend(e)).ok()
    }

    /// Percentages in (0, 100]; `field` prefixes the names of bad fields.
    pub fn patch(self, field: &str) -> Result<TargetsPatch, Vec<FieldError>> {
        let mut errors = Vec::new();
        for (name, value) in [
            ("availability_pct", &self.availability_pct),
            ("reliability_pct", &self.reliability_pct),
        ] {
            if let Some(value) = value
                && !value.as_f64().is_some_and(|v| v > 0.0 && v <= 100.0)
            {
                errors.push(FieldError::new(
                    format!("{field}.{name}"),
                    format!("must be a percentage above 0 and at most 100, got {value}"),
                ));
            }
        }
        let period = match self.period {
            None => None,
            Some(period) => validation::text(&format!("{field}.period"), &period, 40)
                .map_err(|e| errors.push(e))
                .ok(),
        };
        if errors.is_empty() {
            Ok(TargetsPatch {
                availability_pct: self.availability_pct,
                reliability_pct: self.reliability_pct,
                period,
            })
        } else {
            Err(errors)
        }
    }
}

/// `GET /v1/agreements?customer=&kind=&status=&order=&provider=&cursor=&limit=&sort=&min_position=`
/// `GET /v1/agreements?customer=&kind=&status=&order=&provider=` and paging.
#[derive(Deserialize)]
struct ListParams {
    customer: Option<String>,
    kind: Option<String>,
    status: Option<String>,
    order: Option<String>,
    provider: Option<String>,
}

#[utoipa::path(
    get,
    path = "/v1/agreements",
    tag = "agreements",
    summary = "Agreements, as the caller may see them",
    params(("customer" = Option<String>, Query), ("kind" = Option<String>, Query, description = "sla or ola"), ("status" = Option<String>, Query, description = "active, terminated or expired"), ("order" = Option<String>, Query), ("provider" = Option<String>, Query), ("cursor" = Option<String>, Query, description = "Where the previous page ended (its next_cursor)"), ("limit" = Option<u32>, Query, description = "At most this many items (default 50, at most 500)"), ("sort" = Option<String>, Query, description = "newest, oldest (or due_at for orders)"), ("min_position" = Option<u64>, Query, description = "Answer only once the list reflects the log up to this position (read your writes)")),
    responses((status = 200, description = "OK", body = serde_json::Value, content_type = "application/json"), crate::http::openapi::Problems),
    security(("bearer" = []))
)]
async fn list(
    State(app): State<App>,
    ListRequest {
        principal,
        paging,
        params,
    }: ListRequest<ListParams>,
) -> Result<Response, ApiError> {
    let text = |value: &Option<String>| given(value).map(str::to_owned);
    let kind = text(&params.kind);
    if kind.as_deref().is_some_and(|k| k != "sla" && k != "ola") {
        return Err(ApiError::BadRequest("kind must be sla or ola".into()));
    }
    let status = text(&params.status);
    if status
        .as_deref()
        .is_some_and(|s| !["active", "terminated", "expired"].contains(&s))
    {
        return Err(ApiError::BadRequest(
            "status must be active, terminated or expired".into(),
        ));
    }
    paging
        .wait(
            &app.store,
            &app.projections.agreements,
            "the agreement list",
        )
        .await?;
    if paging.sort == crate::projector::listing::Sort::Due {
        return Err(ApiError::BadRequest(
            "sort must be newest or oldest: agreements have no due_at".into(),
        ));
    }
    let query = AgreementQuery {
        customer: text(&params.customer),
        kind,
        status,
        order: text(&params.order),
        provider: text(&params.provider),
        cursor: paging.cursor,
        limit: paging.limit,
        sort: paging.sort,
    };
    let page = list::list(&app.store, &app.projections.agreements, &principal, &query).await?;
    Ok(listed(&page, page.position))
}

/// `GET /v1/agreements/{id}`
#[utoipa::path(
    get,
    path = "/v1/agreements/{id}",
    tag = "agreements",
    summary = "One agreement with its versions",
    params(("id" = String, Path, description = "The agreement's id")),
    responses((status = 200, description = "OK", body = serde_json::Value, content_type = "application/json"), crate::http::openapi::Problems),
    security(("bearer" = []))
)]
async fn get_agreement(
    State(app): State<App>,
    Caller(principal): Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let view = service::get(&app.store, &principal, &id).await?;
    let mut response = Json(&view).into_response();
    response.headers_mut().insert(
        header::ETAG,
        etag(view.versions.len() as u64 + ended(&view)),
    );
    Ok(response)
}

/// The aggregate's sequence counts its end too.
fn ended(view: &pactum_projections::agreement_view::AgreementView) -> u64 {
    u64::from(view.ended.is_some())
}

/// `GET /v1/agreements/{id}/document[?version=N]`
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DocumentParams {
    version: Option<String>,
}

/// `GET /v1/agreements/{id}/document[?version=N]` — the PDF, ETag = its SHA-256.
#[utoipa::path(
    get,
    path = "/v1/agreements/{id}/document",
    tag = "agreements",
    summary = "The PDF of a version (the current one by default)",
    params(("id" = String, Path, description = "The agreement's id"), ("version" = Option<u32>, Query)),
    responses((status = 200, description = "OK", body = serde_json::Value, content_type = "application/pdf"), crate::http::openapi::Problems),
    security(("bearer" = []))
)]
async fn document(
    State(app): State<App>,
    Caller(principal): Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    Query(params): Query<DocumentParams>,
) -> Result<Response, ApiError> {
    let version = given(&params.version)
        .map(|v| {
            v.parse::<u32>()
                .map_err(|_| ApiError::BadRequest("version must be a version number".into()))
        })
        .transpose()?;
    let download = service::document(
        &app.issuing(&*app.catalogue().await?),
        &principal,
        &id,
        version,
        app.now(),
    )
    .await?;
    let tag = format!("\"{}\"", download.sha256);
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == tag || t.trim() == "*"));
    let mut response = if matches {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let length = download.bytes.len();
        let mut response = Body::from(download.bytes).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_LENGTH, length.into());
        response
    };
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PDF));
    if let Ok(tag) = HeaderValue::from_str(&tag) {
        headers.insert(header::ETAG, tag);
    }
    if let Ok(disposition) =
        HeaderValue::from_str(&format!("attachment; filename=\"{}\"", download.filename))
    {
        headers.insert(header::CONTENT_DISPOSITION, disposition);
    }
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=31536000, immutable"),
    );
    Ok(response)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AmendBody {
    #[serde(default)]
    targets: Option<TargetsBody>,
    /// The new last day, `YYYY-MM-DD`.
    #[serde(default)]
    end: Option<String>,
    note: String,
}

/// `POST /v1/agreements/{id}/amend` — `{targets?, end?, note}` → a new version.
#[utoipa::path(
    post,
    path = "/v1/agreements/{id}/amend",
    tag = "agreements",
    summary = "A new version with new targets or a later end",
    params(("id" = String, Path, description = "The agreement's id"), crate::http::openapi::CommandHeaders),
    request_body(content = serde_json::Value, content_type = "application/json"),
    responses((status = 200, description = "OK", body = serde_json::Value, content_type = "application/json"), crate::http::openapi::Problems),
    security(("bearer" = []))
)]
async fn amend(
    State(app): State<App>,
    Path(id): Path<String>,
    input: CommandInput,
) -> Result<Response, ApiError> {
    let body: AmendBody = input.json()?;
    let mut errors = Vec::new();
    let targets = TargetsBody::patch_of(body.targets, "targets", &mut errors);
    let end = body
        .end
        .map(|end| {
            let day = end.trim().parse::<Date>().map_err(|_| {
                FieldError::new("end", format!("must be a date YYYY-MM-DD, got {end:?}"))
            })?;
            params::check_date_range(day).map_err(|message| FieldError::new("end", message))?;
            Ok(day)
        })
        .transpose()
        .map_err(|e| errors.push(e))
        .ok()
        .flatten();
    let note = validation::text("note", &body.note, 4_000).map_err(|e| errors.push(e));
    let Ok(note) = note else {
        return Err(ApiError::Validation(errors));
    };
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let amendment = Amendment { targets, end, note };
    let request = input.request(&app, Effect::Changed);
    let answer = service::amend(&app.store, &app.renderer, &id, amendment, &request).await?;
    Ok(respond(answer, None))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TerminateBody {
    reason: String,
}

/// `POST /v1/agreements/{id}/terminate` — `{reason}`; an SLA's termination ends
/// its OLAs and closes its order.
#[utoipa::path(
    post,
    path = "/v1/agreements/{id}/terminate",
    tag = "agreements",
    summary = "Terminate (an SLA ends its OLAs and closes its order)",
    params(("id" = String, Path, description = "The agreement's id"), crate::http::openapi::CommandHeaders),
    request_body(content = serde_json::Value, content_type = "application/json"),
    responses((status = 200, description = "OK", body = serde_json::Value, content_type = "application/json"), crate::http::openapi::Problems),
    security(("bearer" = []))
)]
async fn terminate(
    State(app): State<App>,
    Path(id): Path<String>,
    input: CommandInput,
) -> Result<Response, ApiError> {
    let body: TerminateBody = input.json()?;
    let reason = validation::text("reason", &body.reason, 4_000)
        .map_err(|e| ApiError::Validation(vec![e]))?;
    let request = input.request(&app, Effect::Changed);
    let answer = service::terminate(&app.store, &id, reason, &request).await?;
    Ok(respond(answer, None))
}
