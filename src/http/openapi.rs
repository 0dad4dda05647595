//! The OpenAPI 3.1 document of the HTTP API, generated from the handlers: each
//! area's router is an `OpenApiRouter` whose routes are registered from their
//! `#[utoipa::path]` annotations (`routes!`), so a route cannot be served without
//! being described, nor described without being served. `GET /openapi.json`
//! serves the document (no token needed) and `GET /docs` an interactive reference
//! built from it, with Swagger UI's assets compiled in (nothing is fetched).

use std::collections::BTreeMap;

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, RefOr, ResponseBuilder};
use utoipa::{IntoParams, IntoResponses, Modify, OpenApi, ToSchema};

/// The document's frame: what every operation shares.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "pactum",
        description = "Event-sourced service orders and SLAs. Every change is an event in one \
                       log; errors are RFC 9457 problem details (application/problem+json).",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    modifiers(&BearerTokens),
    components(schemas(Problem, FieldProblem)),
    tags(
        (name = "health", description = "Liveness, readiness and metrics"),
        (name = "catalogue", description = "Groups, services and providers"),
        (name = "orders", description = "Orders: intake, review, negotiation, provisioning"),
        (name = "agreements", description = "SLAs and OLAs and their documents"),
        (name = "events", description = "The global log and its live stream"),
        (name = "handling", description = "Handling targets"),
        (name = "reports", description = "Reports read from projections"),
        (name = "compliance", description = "Service levels measured against agreements: monitoring and accounting in, figures out"),
        (name = "me", description = "The caller's own settings"),
        (name = "tokens", description = "API tokens"),
        (name = "brands", description = "How an organisation's documents present it"),
        (name = "admin", description = "Operating the server"),
    )
)]
pub struct ApiDoc;

/// Bearer tokens (`pactum token create`), required by every operation that
/// declares `security(("bearer" = []))`.
struct BearerTokens;

impl Modify for BearerTokens {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An API token: `Authorization: Bearer pct_…`"))
                    .build(),
            ),
        );
    }
}

/// An error, as RFC 9457 problem details.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct Problem {
    /// A URI naming the kind of problem.
    #[schema(rename = "type")]
    kind: String,
    title: String,
    status: u16,
    detail: String,
    /// For 422: each field that was refused, and why.
    errors: Option<Vec<FieldProblem>>,
    /// For 409 on an order: its status now.
    current_status: Option<String>,
    /// For 412: the version the resource is at.
    current_version: Option<u64>,
    /// For 500: the id under which the cause was logged.
    error_id: Option<String>,
}

/// One refused field of a request.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct FieldProblem {
    field: String,
    message: String,
}

/// The headers every command takes.
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)]
pub struct CommandHeaders {
    /// Makes a retry of this command safe: the same key and body answer what
    /// the first did.
    #[param(rename = "Idempotency-Key")]
    idempotency_key: Option<String>,
    /// The version (ETag) the caller last saw; a newer one answers 412.
    #[param(rename = "If-Match")]
    if_match: Option<String>,
}

/// The errors any operation may answer with, each as problem details.
pub struct Problems;

impl IntoResponses for Problems {
    fn responses() -> BTreeMap<String, RefOr<utoipa::openapi::response::Response>> {
        [
            ("400", "The request is malformed (syntax, query parameters)"),
            ("401", "No valid bearer token"),
            ("403", "The caller's role may not do this"),
            ("404", "No such resource, or the caller may not see it"),
            ("405", "The method is not served on this path"),
            ("408", "The request took too long to arrive"),
            (
                "409",
                "The resource's state refuses this, or another command came first",
            ),
            (
                "412",
                "If-Match names a version the resource is no longer at",
            ),
            ("413", "The body is too large"),
            ("415", "The body's media type is not served here"),
            (
                "422",
                "The request is well-formed but its content is refused",
            ),
            ("429", "Too many requests of this kind by this caller"),
            (
                "500",
                "An unexpected error, logged under the answer's error_id",
            ),
            ("503", "The server or its database cannot answer now; retry"),
        ]
        .into_iter()
        .map(|(status, description)| {
            let response = ResponseBuilder::new()
                .description(description)
                .content(
                    "application/problem+json",
                    ContentBuilder::new()
                        .schema(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name(
                            "Problem",
                        ))))
                        .build(),
                )
                .build();
            (status.to_owned(), RefOr::T(response))
        })
        .collect()
    }
}
