//! The OpenAPI document: served without a token, OpenAPI 3.1, and in step with
//! the routes. Routes are registered from their handlers' annotations
//! (`utoipa_axum::routes!`), so an undocumented handler cannot be routed; these
//! tests check the other direction and what is served beside the API.

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::*;

async fn document(app: &TestApp) -> Value {
    let response = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "application/json"
    );
    response.json().await.unwrap()
}

/// A concrete path for a documented one: every parameter gets a plausible value.
fn concrete(path: &str) -> String {
    path.replace("{id}", "no-such-id")
        .replace("{n}", "1")
        .replace("{step}", "1")
        .replace("{group}", "compute")
        .replace("{service}", "cloud-compute")
}

#[tokio::test]
async fn the_document_is_openapi_3_1_and_needs_no_token() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    assert_eq!(doc["info"]["title"], "pactum");
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    let problem = &doc["components"]["schemas"]["Problem"]["properties"];
    for field in ["type", "title", "status", "detail", "errors", "error_id"] {
        assert!(problem.get(field).is_some(), "Problem lacks {field}");
    }
    // Every operation says what it answers, errors included, and every one but
    // the health checks needs a bearer token.
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() >= 37, "{} paths", paths.len());
    for (path, item) in paths {
        for (method, operation) in item.as_object().unwrap() {
            let responses = operation["responses"].as_object().unwrap();
            assert!(
                responses.keys().any(|s| s.starts_with('2')),
                "{method} {path}: no success answer"
            );
            for error in ["401", "404", "422", "500", "503"] {
                assert!(
                    responses.contains_key(error),
                    "{method} {path}: {error} undocumented"
                );
            }
            let open = ["/healthz", "/readyz"].contains(&path.as_str());
            assert_eq!(
                operation.get("security").is_none(),
                open,
                "{method} {path}: security"
            );
        }
    }
}

#[tokio::test]
async fn every_documented_operation_is_served_and_no_other_method_is() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    let methods = [
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::DELETE,
        Method::PATCH,
    ];
    for (path, item) in doc["paths"].as_object().unwrap() {
        let documented: Vec<String> = item.as_object().unwrap().keys().cloned().collect();
        for method in &methods {
            let lower = method.as_str().to_lowercase();
            let response = app
                .client
                .request(method.clone(), app.url(&concrete(path)))
                .send()
                .await
                .unwrap();
            let status = response.status();
            let body: Value = response.json().await.unwrap_or(Value::Null);
            let unrouted = status == StatusCode::METHOD_NOT_ALLOWED
                || (status == StatusCode::NOT_FOUND && body["detail"] == "no such endpoint");
            if documented.contains(&lower) {
                assert!(
                    !unrouted,
                    "{method} {path} is documented but not served: {status}"
                );
            } else {
                assert_eq!(
                    status,
                    StatusCode::METHOD_NOT_ALLOWED,
                    "{method} {path} is served but not documented"
                );
            }
        }
    }
}

#[tokio::test]
async fn the_reference_is_served_by_pactum_itself() {
    let app = spawn_app().await;
    let page = app.client.get(app.url("/docs/")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("swagger-ui"), "{html}");
    // Its assets come from pactum, not from a CDN: the machine may be offline.
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "{html}"
    );
    for asset in ["/docs/swagger-ui.css", "/docs/swagger-ui-bundle.js"] {
        let response = app.client.get(app.url(asset)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{asset}");
    }
    let init = app
        .client
        .get(app.url("/docs/swagger-initializer.js"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(init.contains("/openapi.json"), "{init}");
}
