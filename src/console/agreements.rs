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
use crate::compliance::report::AgreementCompliance;
use crate::compliance::service as compliance;
use crate::http::error::ApiError;
use crate::http::extract::Path;

pub fn router() -> Router<App> {
    Router::new()
        .route("/ui/agreements", get(agreements_page))
        .route("/ui/agreements/{id}/document", get(document))
        .route("/ui/agreements/{id}/compliance", get(compliance_page))
}

#[derive(Template)]
#[template(path = "compliance.html")]
struct CompliancePage {
    chrome: Chrome,
    view: AgreementCompliance,
    month: String,
    previous: String,
    next: String,
}

#[derive(serde::Deserialize)]
struct MonthQuery {
    month: Option<String>,
}

/// `x %` with 5 decimals, or `n/a`.
pub fn percent(value: &Option<f64>) -> String {
    value.map_or_else(|| "n/a".to_owned(), |v| format!("{v:.5} %"))
}

/// `met`, `missed` or `undefined`.
pub fn verdict(met: &Option<bool>) -> &'static str {
    match met {
        Some(true) => "met",
        Some(false) => "missed",
        None => "undefined",
    }
}

/// One agreement's service levels over a month (this month by default):
/// each day, the month against the targets, usage against commitment.
async fn compliance_page(
    State(app): State<App>,
    viewer: Viewer,
    Path(id): Path<String>,
    Query(query): Query<MonthQuery>,
) -> Response {
    let now = app.now();
    let month = query
        .month
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| now.strftime("%Y-%m").to_string());
    let (first, last) = match crate::compliance::report::month_days(&month) {
        Ok(days) => days,
        Err(message) => return failed(ApiError::BadRequest(message)),
    };
    let range = compliance::Range {
        from: Some(first),
        to: Some(last),
        daily: true,
        as_of: None,
    };
    match compliance::view(&app.store, &viewer.principal, &id, range, now).await {
        Ok(view) => {
            let step = |n: i32| {
                first
                    .checked_add(jiff::Span::new().months(n))
                    .map(|d| d.strftime("%Y-%m").to_string())
                    .unwrap_or_else(|_| month.clone())
            };
            render(
                StatusCode::OK,
                &CompliancePage {
                    chrome: viewer.chrome(),
                    previous: step(-1),
                    next: step(1),
                    view,
                    month,
                },
            )
        }
        Err(error) => failed(error.into()),
    }
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
