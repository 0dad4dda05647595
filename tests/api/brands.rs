//! Brands over the API: `PUT`/`GET`/`DELETE /v1/brands/{org}` — a brand set by an
//! admin shows on the next SLA, its removal on the one after; logos are checked
//! (base64, type, size, dimensions, drawable); every change is an event with
//! its actor.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::{RequestBuilder, StatusCode};
use serde_json::{Value, json};

use crate::agreements::{active_order, cast, download, pdf_text};
use crate::helpers::*;

const PNG: &[u8] = include_bytes!("../../sla-templates/brands/example/logo.png");

fn put(app: &TestApp, org: &str, token: &str, body: &Value) -> RequestBuilder {
    app.client
        .put(app.url(&format!("/v1/brands/{org}")))
        .bearer_auth(token)
        .json(body)
}

fn delete(app: &TestApp, org: &str, token: &str) -> RequestBuilder {
    app.client
        .delete(app.url(&format!("/v1/brands/{org}")))
        .bearer_auth(token)
}

fn acme(logo: Option<(&str, &[u8])>) -> Value {
    let mut body = json!({
        "name": "ACME Research Cloud",
        "colour": "#0A5F38",
        "footer": "ACME Research · Lab street 1 · Example City",
    });
    if let Some((media_type, bytes)) = logo {
        body["logo"] = json!({"media_type": media_type, "base64": STANDARD.encode(bytes)});
    }
    body
}

/// Every event of the `brand` aggregates in the log, read as an auditor would.
async fn brand_events(app: &TestApp, token: &str) -> Vec<Value> {
    let (mut after, mut found) = (0, Vec::new());
    loop {
        let (status, page) = app
            .get_json(&format!("/v1/events?after={after}&limit=500"), token)
            .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let events = page["events"].as_array().unwrap();
        if events.is_empty() {
            return found;
        }
        after = events.last().unwrap()["position"].as_u64().unwrap();
        found.extend(
            events
                .iter()
                .filter(|e| e["aggregate_type"] == "brand")
                .cloned(),
        );
    }
}

fn sha256(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(bytes))
}

#[tokio::test]
async fn a_brand_set_over_the_api_shows_on_the_next_sla_and_its_removal_on_the_one_after() {
    let app = spawn_app().await;
    let cast = cast(&app).await;
    let ada = app.role("ada", "admin").await;

    let response = put(&app, "acme", &ada, &acme(Some(("image/png", PNG))))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["etag"], "\"1\"");
    let set: Value = response.json().await.unwrap();
    assert_eq!(
        set,
        json!({
            "org": "acme",
            "name": "ACME Research Cloud",
            "colour": "#0a5f38",
            "footer": "ACME Research · Lab street 1 · Example City",
            "logo": {"media_type": "image/png", "sha256": sha256(PNG), "size": PNG.len()},
            "version": 1,
        })
    );

    // The organisation's customers read it, and its logo.
    let response = app
        .get("/v1/brands/acme", &cast.alice)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["etag"], "\"1\"");
    assert_eq!(response.json::<Value>().await.unwrap(), set);
    let (status, headers, logo) = download(&app, "/v1/brands/acme/logo", &cast.alice).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "image/png");
    assert_eq!(logo, PNG);

    // The next SLA carries it.
    let (_, order) = active_order(&app, &cast).await;
    let branded = order["agreements"][0]["agreement_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, view) = app
        .get_json(&format!("/v1/agreements/{branded}"), &cast.alice)
        .await;
    assert_eq!(view["brand"]["name"], "ACME Research Cloud");
    assert_eq!(view["brand"]["logo"]["sha256"], sha256(PNG));
    let document = format!("/v1/agreements/{branded}/document");
    let (_, _, branded_pdf) = download(&app, &document, &cast.alice).await;
    let text = pdf_text(&branded_pdf);
    assert!(text.contains("ACME Research Cloud"), "{text}");
    assert!(text.contains("Lab street 1"), "{text}");

    // Removed (If-Match: the version GET showed): the next SLA is the issuer's.
    let response = delete(&app, "acme", &ada)
        .header("if-match", "\"1\"")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(response.headers().contains_key("pactum-position"));
    let problem = expect_problem(
        app.get("/v1/brands/acme", &cast.alice)
            .send()
            .await
            .unwrap(),
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_eq!(problem["detail"], "acme has no brand");
    expect_problem(
        app.get("/v1/brands/acme/logo", &cast.alice)
            .send()
            .await
            .unwrap(),
        StatusCode::NOT_FOUND,
    )
    .await;
    expect_problem(
        delete(&app, "acme", &ada).send().await.unwrap(),
        StatusCode::NOT_FOUND,
    )
    .await;

    let (_, order) = active_order(&app, &cast).await;
    let plain = order["agreements"][0]["agreement_id"].as_str().unwrap();
    let (_, view) = app
        .get_json(&format!("/v1/agreements/{plain}"), &cast.alice)
        .await;
    assert_eq!(view["brand"]["name"], "EGI Foundation");
    let (_, _, pdf) = download(
        &app,
        &format!("/v1/agreements/{plain}/document"),
        &cast.alice,
    )
    .await;
    let text = pdf_text(&pdf);
    assert!(!text.contains("ACME Research Cloud"), "{text}");
    assert!(!text.contains("Lab street 1"), "{text}");
    assert!(text.contains("EGI Foundation"), "{text}");

    // The SLA issued under the brand keeps it.
    let (status, _, again) = download(&app, &document, &cast.alice).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again, branded_pdf);

    // Each change an event of the brand aggregate, with the admin as its actor.
    let events = brand_events(&app, &ada).await;
    let summary: Vec<(&str, &str, &str)> = events
        .iter()
        .map(|e| {
            (
                e["event_type"].as_str().unwrap(),
                e["actor"]["subject"].as_str().unwrap(),
                e["actor"]["role"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("BrandDefined", "ada", "admin"),
            ("BrandRemoved", "ada", "admin")
        ]
    );
    assert_eq!(events[1]["payload"], json!({"org": "acme"}));
    assert_eq!(events[1]["schema_version"], 1);
}

#[tokio::test]
async fn only_admins_change_brands_and_only_staff_and_the_org_read_them() {
    let app = spawn_app().await;
    let ada = app.role("ada", "admin").await;
    let alice = app.customer("alice", "acme").await;
    let gina = app.customer("gina", "globex").await;
    let sam = app.shifter("sam", &["compute"]).await;
    let audrey = app.role("audrey", "auditor").await;
    let ops = app.provider("ops-cesnet", "cesnet-mcc").await;

    for token in [&alice, &sam, &audrey, &ops] {
        let problem = expect_problem(
            put(&app, "acme", token, &acme(None)).send().await.unwrap(),
            StatusCode::FORBIDDEN,
        )
        .await;
        assert_eq!(problem["detail"], "only admins may do this");
    }
    expect_problem(
        app.get("/v1/brands/acme", &alice).send().await.unwrap(),
        StatusCode::NOT_FOUND,
    )
    .await;
    let (status, _) = send(put(&app, "acme", &ada, &acme(None))).await;
    assert_eq!(status, StatusCode::OK);
    for token in [&alice, &ada, &sam, &audrey] {
        let (status, brand) = app.get_json("/v1/brands/acme", token).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(brand["logo"], Value::Null);
    }
    for token in [&gina, &ops] {
        expect_problem(
            app.get("/v1/brands/acme", token).send().await.unwrap(),
            StatusCode::FORBIDDEN,
        )
        .await;
    }
    for token in [&alice, &sam] {
        expect_problem(
            delete(&app, "acme", token).send().await.unwrap(),
            StatusCode::FORBIDDEN,
        )
        .await;
    }
    let (status, _) = app.get_json("/v1/brands/acme", &alice).await;
    assert_eq!(status, StatusCode::OK, "refusals removed nothing");
}

#[tokio::test]
async fn if_match_and_idempotency_keys_work_as_for_orders() {
    let app = spawn_app().await;
    let ada = app.role("ada", "admin").await;
    let first = put(&app, "acme", &ada, &acme(None))
        .header("idempotency-key", "brand-1")
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    let retry = put(&app, "acme", &ada, &acme(None))
        .header("idempotency-key", "brand-1")
        .send()
        .await
        .unwrap();
    assert_eq!(retry.status(), StatusCode::OK);
    assert_eq!(retry.headers()["idempotent-replayed"], "true");
    assert_eq!(retry.headers()["etag"], "\"1\"");

    let mut renamed = acme(None);
    renamed["name"] = json!("ACME Research");
    let stale = expect_problem(
        put(&app, "acme", &ada, &renamed)
            .header("if-match", "\"7\"")
            .send()
            .await
            .unwrap(),
        StatusCode::PRECONDITION_FAILED,
    )
    .await;
    assert_eq!(stale["current_version"], 1);
    let response = put(&app, "acme", &ada, &renamed)
        .header("if-match", "\"1\"")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["etag"], "\"2\"");
    // The same brand again changes nothing.
    let (status, same) = send(put(&app, "acme", &ada, &renamed)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (same["name"].as_str(), same["version"].as_u64()),
        (Some("ACME Research"), Some(2))
    );
    expect_problem(
        delete(&app, "acme", &ada)
            .header("if-match", "\"1\"")
            .send()
            .await
            .unwrap(),
        StatusCode::PRECONDITION_FAILED,
    )
    .await;
}

/// A PNG header of `width`×`height` and nothing else.
fn png_header(width: u32, height: u32) -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
    bytes.extend(width.to_be_bytes());
    bytes.extend(height.to_be_bytes());
    bytes.extend([8, 6, 0, 0, 0]);
    bytes
}

#[tokio::test]
async fn bad_logos_and_bodies_are_refused_naming_the_field_and_write_nothing() {
    let app = spawn_app().await;
    let ada = app.role("ada", "admin").await;
    let svg = |size: &str| {
        format!(
            r##"<svg xmlns="http://www.w3.org/2000/svg" {size}><rect width="9" height="9" fill="#0a559c"/></svg>"##
        )
    };
    let with_logo = |media_type: &str, base64: String| {
        let mut body = acme(None);
        body["logo"] = json!({"media_type": media_type, "base64": base64});
        body
    };
    let mut too_large = PNG.to_vec();
    too_large.resize(pactum::brands::LOGO_MAX_BYTES + 1, 0);
    let broken = crate::agreements::bad_logos().remove(3).2;
    let cases: Vec<(&str, Value, &str, &str)> = vec![
        (
            "bad base64",
            with_logo("image/png", "not base64!".into()),
            "logo",
            "base64 is not standard base64",
        ),
        (
            "a PNG said to be SVG",
            with_logo("image/svg+xml", STANDARD.encode(PNG)),
            "logo",
            "is image/svg+xml but its bytes are image/png",
        ),
        (
            "text said to be PNG",
            with_logo("image/png", STANDARD.encode("hello")),
            "logo",
            "is image/png but its bytes are no PNG, JPEG or SVG image",
        ),
        (
            "a GIF",
            with_logo("image/gif", STANDARD.encode(b"GIF89a")),
            "logo",
            "must be one of image/png, image/jpeg, image/svg+xml",
        ),
        (
            "over the size limit",
            with_logo("image/png", STANDARD.encode(&too_large)),
            "logo",
            "must be 1 byte to 256 KiB",
        ),
        (
            "a PNG of 8×8 px",
            with_logo("image/png", STANDARD.encode(png_header(8, 8))),
            "logo",
            "is 8×8 px; width and height must each be 16 to 4096 px",
        ),
        (
            "a PNG of 5000×100 px",
            with_logo("image/png", STANDARD.encode(png_header(5000, 100))),
            "logo",
            "is 5000×100 px",
        ),
        (
            "an SVG of 10000×40",
            with_logo(
                "image/svg+xml",
                STANDARD.encode(svg(r#"width="10000" height="40""#)),
            ),
            "logo",
            "is 10000×40 px",
        ),
        (
            "an SVG without a size",
            with_logo("image/svg+xml", STANDARD.encode(svg(""))),
            "logo",
            "states no size",
        ),
        (
            "a PNG typst cannot draw",
            with_logo("image/png", STANDARD.encode(&broken)),
            "logo",
            "cannot be drawn in a document",
        ),
        (
            "an unknown field",
            json!({"name": "A", "colour": "#000000", "footer": "f", "motto": "x"}),
            "motto",
            "unknown field `motto`",
        ),
        (
            "a logo without its type",
            json!({"name": "A", "colour": "#000000", "footer": "f", "logo": {"base64": ""}}),
            "logo",
            "missing field `media_type`",
        ),
        (
            "a bad colour",
            json!({"name": "A", "colour": "green", "footer": "f"}),
            "colour",
            "must be #rrggbb",
        ),
    ];
    for (what, body, field, message) in cases {
        let problem = expect_problem(
            put(&app, "acme", &ada, &body).send().await.unwrap(),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        let errors = problem["errors"].as_array().unwrap();
        assert!(
            errors
                .iter()
                .any(|e| e["field"].as_str().unwrap().starts_with(field)
                    && e["message"].as_str().unwrap().contains(message)),
            "{what}: {problem}"
        );
    }
    // A valid SVG within the bounds is taken.
    let (status, brand) = send(put(
        &app,
        "acme",
        &ada,
        &with_logo(
            "image/svg+xml",
            STANDARD.encode(svg(r#"viewBox="0 0 120 40""#)),
        ),
    ))
    .await;
    assert_eq!(status, StatusCode::OK, "{brand}");
    assert_eq!(brand["version"], 1, "nothing refused was written");
}

#[tokio::test]
async fn a_body_over_the_brand_limit_is_413_naming_that_limit() {
    let app = spawn_app().await;
    let ada = app.role("ada", "admin").await;
    let mut body = acme(None);
    body["footer"] = json!("x".repeat(pactum::http::brands::BRAND_BODY_LIMIT));
    let response = put(&app, "acme", &ada, &body).send().await.unwrap();
    let problem = expect_problem(response, StatusCode::PAYLOAD_TOO_LARGE).await;
    let limit = pactum::http::brands::BRAND_BODY_LIMIT.to_string();
    assert!(
        problem["detail"].as_str().unwrap().contains(&limit),
        "{problem}"
    );
}
