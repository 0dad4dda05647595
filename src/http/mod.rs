//! The HTTP API (v1): JSON in and out, problem+json errors, bearer tokens.
//!
//! One `router()` per area ([`health`], [`catalogue`], [`orders`], [`tokens`]…), each an
//! `OpenApiRouter` whose routes come from their handlers' OpenAPI annotations;
//! [`router`] assembles them, serves the document they make ([`openapi`]) and
//! adds the cross-cutting layers: request ids, tracing spans that carry the
//! matched route, the body limit, and logging of internal errors. Only this
//! module knows the JSON shapes of requests.

pub mod admin;
pub mod agreements;
pub mod brands;
pub mod catalogue;
pub mod compliance;
pub mod error;
pub mod events;
pub mod extract;
pub mod handling;
pub mod health;
pub mod integrations;
pub mod me;
pub mod members;
pub mod openapi;
pub mod orders;
pub mod paging;
pub mod reports;
pub mod response;
pub mod serve;
pub mod tokens;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::middleware::{self, Next};
use axum::response::Response;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::app::App;
use crate::metrics::METRICS;
use error::{ApiError, InternalErrorReport};

/// The largest request body accepted (64 KiB): orders and comments are small,
/// and a hard cap keeps one client from filling memory.
pub const BODY_LIMIT: usize = 64 * 1024;

/// Every documented route, and the OpenAPI document that describes them.
pub fn api(streams: events::StreamLimits) -> (Router<App>, utoipa::openapi::OpenApi) {
    use utoipa::OpenApi;
    utoipa_axum::router::OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .merge(health::router())
        .merge(catalogue::router())
        .merge(orders::router())
        .merge(events::router(streams))
        .merge(agreements::router())
        .merge(handling::router())
        .merge(reports::router())
        .merge(me::router())
        .merge(brands::router())
        .merge(tokens::router())
        .merge(members::router())
        .merge(compliance::router())
        .merge(integrations::router())
        .split_for_parts()
}

pub fn router(app: App, streams: events::StreamLimits) -> Router {
    let (api, document) = api(streams);
    api.merge(utoipa_swagger_ui::SwaggerUi::new("/docs").url("/openapi.json", document))
        .merge(
            crate::console::router().layer(middleware::from_fn_with_state(
                app.clone(),
                crate::console::page_policy,
            )),
        )
        .fallback(|| async { ApiError::NotFound("no such endpoint".into()) })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(CatchPanicLayer::custom(answer_panic))
        .layer(middleware::from_fn(log_internal_errors))
        .layer(middleware::from_fn(problems_only))
        .layer(middleware::from_fn(record_metrics))
        .layer(
            TraceLayer::new_for_http().make_span_with(|request: &Request| {
                let route = request
                    .extensions()
                    .get::<MatchedPath>()
                    .map(MatchedPath::as_str)
                    .unwrap_or("-");
                let request_id = request
                    .headers()
                    .get("x-request-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("-");
                tracing::info_span!("http", method = %request.method(), route, request_id)
            }),
        )
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .with_state(app)
}

/// Counts and times every request by its matched route (never the raw path, so
/// order ids do not explode the label space).
async fn record_metrics(request: Request, next: Next) -> Response {
    let started = std::time::Instant::now();
    let method = request.method().as_str().to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let response = next.run(request).await;
    METRICS.observe_request(
        &method,
        &route,
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}

/// A handler that panicked answers an opaque 500 like any internal error (the
/// connection is not dropped, and nothing the panic held is left to others).
fn answer_panic(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("a handler panicked");
    axum::response::IntoResponse::into_response(ApiError::Internal(format!("panic: {message}")))
}

/// Turns an error answer that is not problem+json (a framework's rejection,
/// plain text) into one, keeping its status and its text as the detail.
async fn problems_only(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    // Problems, and the pages pactum writes for people, are answers already.
    let is_problem = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .is_some_and(|v| {
            v.as_bytes().starts_with(b"application/problem+json")
                || v.as_bytes().starts_with(b"text/html")
        });
    if !(status.is_client_error() || status.is_server_error()) || is_problem {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 16 * 1024)
        .await
        .map(|bytes| String::from_utf8_lossy(&bytes).trim().to_owned())
        .unwrap_or_default();
    let detail = if text.is_empty() {
        status.canonical_reason().unwrap_or("error").to_owned()
    } else {
        text
    };
    let mut problem =
        axum::response::IntoResponse::into_response(ApiError::from_status(status, detail));
    for (name, value) in &parts.headers {
        if name != axum::http::header::CONTENT_TYPE && name != axum::http::header::CONTENT_LENGTH {
            problem.headers_mut().append(name, value.clone());
        }
    }
    problem
}

/// Logs the cause of every 500 (and of every 503 for a database out of reach)
/// once, inside the request's span.
async fn log_internal_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    if let Some(InternalErrorReport { cause, error_id }) =
        response.extensions().get::<InternalErrorReport>()
    {
        match error_id {
            Some(error_id) => tracing::error!(%cause, %error_id, "request failed"),
            None => tracing::warn!(%cause, "request refused: the database is out of reach"),
        }
    }
    response
}
