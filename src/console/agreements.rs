//! Agreements in the console: the viewer's SLAs and OLAs (as the API's list
//! scopes them) and each one's document.

use askama::Template;
use axum::Router;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::{Chrome, Viewer, failed, render};
use crate::agreements::list::{self, AgreementItem, AgreementQuery};
use crate::agreements::service;
use crate::app::App;
use crate::http::error::ApiError;
use crate::http::extract::Path;

pub fn router() -> Router<App> {
    Router::new()
        .route("/ui/agreements", get(agreements_page))
        .route("/ui/agreements/{id}/document", get(document))
}

#[derive(Template)]
#[template(path = "agreements.html")]
struct AgreementsPage {
    chrome: Chrome,
    agreements: Vec<AgreementItem>,
}

async fn agreements_page(State(app): State<App>, viewer: Viewer) -> Response {
    let query = AgreementQuery {
        limit: 200,
        ..AgreementQuery::default()
    };
    match list::list(
        &app.store,
        &app.projections.agreements,
        &viewer.principal,
        &query,
    )
    .await
    {
        Ok(page) => render(
            StatusCode::OK,
            &AgreementsPage {
                chrome: viewer.chrome(),
                agreements: page.agreements,
            },
        ),
        Err(error) => failed(error.into()),
    }
}

#[derive(serde::Deserialize)]
struct DocumentQuery {
    version: Option<u32>,
}

async fn document(
    State(app): State<App>,
    viewer: Viewer,
    Path(id): Path<String>,
    Query(query): Query<DocumentQuery>,
) -> Response {
    let result = async {
        let catalogue = app.catalogue().await?;
        service::document(
            &app.issuing(&catalogue),
            &viewer.principal,
            &id,
            query.version,
            app.now(),
        )
        .await
        .map_err(ApiError::from)
    }
    .await;
    let download = match result {
        Ok(download) => download,
        Err(error) => return failed(error),
    };
    let mut response = Body::from(download.bytes).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/pdf"),
    );
    if let Ok(disposition) =
        HeaderValue::from_str(&format!("attachment; filename=\"{}\"", download.filename))
    {
        headers.insert(header::CONTENT_DISPOSITION, disposition);
    }
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    response
}
