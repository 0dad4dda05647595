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

/// Whether `value` fits `schema` (the subset utoipa writes: `type` as a name
/// or a list with `"null"`, `properties` and `required`, `items`, `$ref` into
/// the document's components, `oneOf`/`allOf`, `enum`); the first misfit.
fn misfit(doc: &Value, schema: &Value, value: &Value, at: &str) -> Option<String> {
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.rsplit('/').next().unwrap();
        return misfit(doc, &doc["components"]["schemas"][name], value, at);
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(options) = schema[key].as_array() {
            return options
                .iter()
                .all(|s| misfit(doc, s, value, at).is_some())
                .then(|| format!("{at}: fits none of {key}"));
        }
    }
    if let Some(parts) = schema["allOf"].as_array() {
        return parts.iter().find_map(|s| misfit(doc, s, value, at));
    }
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let kind = match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    let fits = types.is_empty()
        || types.contains(&kind)
        || (kind == "integer" && types.contains(&"number"));
    if !fits {
        return Some(format!("{at}: a {kind}, the schema says {types:?}"));
    }
    if let Some(values) = schema["enum"].as_array()
        && !values.contains(value)
    {
        return Some(format!("{at}: {value} is not one of {values:?}"));
    }
    match value {
        Value::Object(object) => {
            for required in schema["required"].as_array().into_iter().flatten() {
                let name = required.as_str().unwrap();
                if !object.contains_key(name) {
                    return Some(format!("{at}: {name} is required"));
                }
            }
            let properties = schema["properties"].as_object();
            for (name, inner) in object {
                if let Some(property) = properties.and_then(|p| p.get(name)) {
                    if let Some(m) = misfit(doc, property, inner, &format!("{at}.{name}")) {
                        return Some(m);
                    }
                } else if properties.is_some()
                    && schema["additionalProperties"] == Value::Bool(false)
                {
                    return Some(format!("{at}: {name} is not in the schema"));
                }
            }
            None
        }
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| misfit(doc, &schema["items"], item, &format!("{at}[{i}]"))),
        _ => None,
    }
}

#[tokio::test]
async fn an_orders_answers_fit_the_documented_schema_for_staff_and_customers() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    let schema = &doc["components"]["schemas"]["OrderView"];
    assert!(
        schema["properties"]["status"].is_object(),
        "OrderView is documented: {schema}"
    );
    let alice = app.customer("alice", "acme").await;
    let sam = app.shifter("sam", &["compute"]).await;
    let ada = app.role("ada", "admin").await;
    // Handling targets, so the view has clocks; a comment, a question, a
    // proposal, a plan: every part of the view filled.
    let targets = serde_json::json!({"first_response": "PT8H", "decision": "PT40H", "warning_percent": 80,
        "calendar": {"time_zone": "Europe/Amsterdam", "hours": {"monday": ["09:00-17:00"]}, "holidays": []}});
    let response = app
        .client
        .put(app.url("/v1/handling-targets/compute"))
        .bearer_auth(&ada)
        .json(&targets)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let id = app.submit(&alice).await;
    let mut answers = Vec::new();
    for (action, token, body) in [
        (
            "comments",
            &sam,
            serde_json::json!({"body": "checking", "visibility": "internal"}),
        ),
        ("questions", &sam, serde_json::json!({"body": "Which VO?"})),
        ("answers", &alice, serde_json::json!({"body": "vo.alpha"})),
        (
            "proposals",
            &sam,
            serde_json::json!({"parameters": {"cpu_cores": 2}}),
        ),
        ("proposals/1/accept", &alice, serde_json::json!({})),
        ("approve", &sam, serde_json::json!({})),
        (
            "provisioning",
            &sam,
            serde_json::json!({"steps": [{"provider": "cesnet-mcc", "action": "a project"}]}),
        ),
    ] {
        let (status, answer) = app.command(&id, action, token, body).await;
        assert!(status.is_success(), "{action}: {answer}");
        answers.push(answer);
    }
    for token in [&sam, &alice] {
        let (_, view) = app.get_json(&format!("/v1/orders/{id}"), token).await;
        answers.push(view);
    }
    for answer in &answers {
        assert_eq!(misfit(&doc, schema, answer, "order"), None, "{answer}");
    }
    // The check itself tells a misfit.
    let mut wrong = answers[0].clone();
    wrong["version"] = serde_json::json!("seven");
    assert!(misfit(&doc, schema, &wrong, "order").is_some());
    let mut missing = answers[0].clone();
    missing.as_object_mut().unwrap().remove("status");
    assert!(misfit(&doc, schema, &missing, "order").is_some());
    let mut nested = answers.last().unwrap().clone();
    nested["questions"][0]["id"] = serde_json::json!(null);
    assert!(misfit(&doc, schema, &nested, "order").is_some(), "{nested}");
}
