//! Endpoints other systems call: `POST /v1/integrations/eosc/trigger`, which
//! the EOSC Marketplace calls (no body, HTTP Basic) when something changed
//! for pactum's OMS; pactum then reads the Marketplace's events feed.
//!
//! The trigger authenticates with the credentials configured for it
//! (`--eosc-trigger-user`, `PACTUM_EOSC_TRIGGER_PASSWORD`), not with a bearer
//! token: the Marketplace holds no pactum token. A server that runs no EOSC
//! adapter, or runs one without trigger credentials, answers 404 (the trigger
//! is not served here; the adapter then polls alone).

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::App;
use crate::eosc::Trigger;
use crate::http::error::ApiError;

/// The document's part for integrations: its tag and the trigger's scheme.
#[derive(OpenApi)]
#[openapi(
    modifiers(&TriggerBasic),
    tags((name = "integrations", description = "Endpoints other systems call: the EOSC Marketplace's trigger"))
)]
struct IntegrationsDoc;

/// HTTP Basic with the trigger's configured credentials.
struct TriggerBasic;

impl Modify for TriggerBasic {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "eosc_trigger",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Basic)
                    .description(Some(
                        "The credentials configured for the EOSC Marketplace's trigger \
                         (--eosc-trigger-user, PACTUM_EOSC_TRIGGER_PASSWORD)",
                    ))
                    .build(),
            ),
        );
    }
}

pub fn router() -> OpenApiRouter<App> {
    OpenApiRouter::with_openapi(IntegrationsDoc::openapi()).routes(routes!(eosc_trigger))
}

/// The EOSC Marketplace says something changed for pactum's OMS: the adapter
/// reads the Marketplace's events feed now instead of at its next poll.
#[utoipa::path(
    post,
    path = "/v1/integrations/eosc/trigger",
    tag = "integrations",
    summary = "The EOSC Marketplace wakes the OMS sync (HTTP Basic; no body)",
    responses(
        (status = 202, description = "The sync is woken; it reads the Marketplace's events shortly"),
        crate::http::openapi::Problems
    ),
    security(("eosc_trigger" = []))
)]
async fn eosc_trigger(State(app): State<App>, headers: HeaderMap) -> Response {
    let Some(eosc) = &app.eosc else {
        return not_served("this server runs no EOSC Marketplace adapter (serve --eosc-url)");
    };
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(basic_credentials);
    match eosc.check_trigger(
        basic
            .as_ref()
            .map(|(user, password)| (user.as_str(), password.as_str())),
    ) {
        Trigger::Off => not_served(
            "the EOSC Marketplace trigger is off: no --eosc-trigger-user and PACTUM_EOSC_TRIGGER_PASSWORD are configured",
        ),
        Trigger::Refused => {
            let mut response = ApiError::Status {
                status: StatusCode::UNAUTHORIZED,
                detail: "the trigger needs the HTTP Basic credentials configured for it".into(),
            }
            .into_response();
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"pactum EOSC trigger\", charset=\"UTF-8\""),
            );
            response
        }
        Trigger::Admitted => {
            eosc.wake();
            StatusCode::ACCEPTED.into_response()
        }
    }
}

fn not_served(detail: &str) -> Response {
    ApiError::NotFound(detail.to_owned()).into_response()
}

/// The user and password of an `Authorization: Basic` header.
fn basic_credentials(value: &HeaderValue) -> Option<(String, String)> {
    let text = value.to_str().ok()?;
    let (scheme, encoded) = text.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = STANDARD.decode(encoded.trim()).ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_describes_the_trigger_and_its_scheme() {
        let (_, document) = crate::http::api(crate::http::events::StreamLimits::STANDARD);
        let document = serde_json::to_value(&document).unwrap();
        let scheme = &document["components"]["securitySchemes"]["eosc_trigger"];
        assert_eq!(scheme["scheme"], "basic", "{scheme}");
        let trigger = &document["paths"]["/v1/integrations/eosc/trigger"]["post"];
        assert_eq!(
            trigger["security"][0]["eosc_trigger"],
            serde_json::json!([])
        );
        for status in ["202", "401", "404"] {
            assert!(
                trigger["responses"].get(status).is_some(),
                "{status}: {trigger}"
            );
        }
        assert!(
            document["tags"]
                .as_array()
                .unwrap()
                .iter()
                .any(|tag| tag["name"] == "integrations")
        );
    }

    #[test]
    fn basic_credentials_are_read_from_the_header() {
        let header = |text: &str| HeaderValue::from_str(text).unwrap();
        let encoded = STANDARD.encode("marketplace:pa:ss");
        assert_eq!(
            basic_credentials(&header(&format!("Basic {encoded}"))),
            Some(("marketplace".into(), "pa:ss".into()))
        );
        assert_eq!(
            basic_credentials(&header(&format!("basic  {encoded}"))),
            Some(("marketplace".into(), "pa:ss".into()))
        );
        assert_eq!(basic_credentials(&header("Bearer pct_x")), None);
        assert_eq!(basic_credentials(&header("Basic !!!")), None);
        let no_colon = STANDARD.encode("marketplace");
        assert_eq!(
            basic_credentials(&header(&format!("Basic {no_colon}"))),
            None
        );
    }
}
