//! The catalogue as history over the API: an admin changes a service with the
//! JSON `GET` answers (a new parameter, a narrower range, a new name), which
//! makes its next version; orders stay pinned to the version they were
//! submitted under (their proposals are checked and their SLAs rendered with
//! it), new orders must satisfy the new one. Retiring takes a service out of
//! new orders only, and what would break the past is a 409 that says why.

use reqwest::{RequestBuilder, StatusCode};
use serde_json::{Value, json};

use crate::agreements::{download, pdf_text};
use crate::helpers::*;

fn put(app: &TestApp, path: &str, token: &str, body: &Value) -> RequestBuilder {
    app.client.put(app.url(path)).bearer_auth(token).json(body)
}

fn delete(app: &TestApp, path: &str, token: &str) -> RequestBuilder {
    app.client.delete(app.url(path)).bearer_auth(token)
}

/// An order of `customer` for 2027 with `cpu_cores`; its id.
async fn order(app: &TestApp, customer: &str, cpu_cores: u32, extra: Value) -> (StatusCode, Value) {
    let mut order = cloud_order();
    order["parameters"]["start_date"] = json!("2027-01-04");
    order["parameters"]["duration_days"] = json!(30);
    order["parameters"]["cpu_cores"] = json!(cpu_cores);
    for (key, value) in extra.as_object().unwrap() {
        order["parameters"][key] = value.clone();
    }
    app.post_json("/v1/orders", customer, &order).await
}

/// Approves and activates order `id` (no provisioning); the SLA's text.
async fn sla_text(app: &TestApp, id: &str, sam: &str) -> String {
    for (command, body) in [
        ("assign", json!({"assignee": "sam"})),
        ("approve", json!({})),
        ("activate", json!({})),
    ] {
        let (status, body) = app.command(id, command, sam, body).await;
        assert!(status.is_success(), "{command}: {status} {body}");
    }
    let (_, order) = app.get_json(&format!("/v1/orders/{id}"), sam).await;
    let sla = order["agreements"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["kind"] == "sla")
        .unwrap()["agreement_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, _, pdf) = download(app, &format!("/v1/agreements/{sla}/document"), sam).await;
    assert_eq!(status, StatusCode::OK);
    pdf_text(&pdf)
}

#[tokio::test]
async fn a_changed_service_is_a_new_version_and_old_orders_keep_theirs() {
    let app = spawn_app().await;
    let ada = app.role("ada", "admin").await;
    let alice = app.customer("alice", "acme").await;
    let sam = app.shifter("sam", &["compute"]).await;

    // Under version 1, 600 cores are fine.
    let (status, old) = order(&app, &alice, 600, json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{old}");
    let old_id = old["id"].as_str().unwrap().to_owned();
    assert_eq!(old["service_version"], 1);

    // The admin reads the service, changes it and sends it back.
    let response = app
        .get("/v1/services/cloud-compute", &ada)
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["etag"], "\"1\"");
    let mut service: Value = response.json().await.unwrap();
    assert_eq!(service["version"], 1);
    service["name"] = json!("EGI Cloud Compute Plus");
    let cores = service["parameters"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|p| p["key"] == "cpu_cores")
        .unwrap();
    cores["max"] = json!(512);
    service["parameters"].as_array_mut().unwrap().push(json!({
        "key": "project_code", "label": "Project code", "type": "text", "max_length": 20
    }));
    let response = put(&app, "/v1/services/cloud-compute", &ada, &service)
        .header("if-match", "\"1\"")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["etag"], "\"2\"");
    let changed: Value = response.json().await.unwrap();
    assert_eq!(changed["version"], 2);
    assert_eq!(changed["name"], "EGI Cloud Compute Plus");

    // Sending the same again changes nothing; a stale If-Match is a 412.
    let (status, same) = send(put(&app, "/v1/services/cloud-compute", &ada, &changed)).await;
    assert_eq!(
        (status, &same["version"]),
        (StatusCode::OK, &json!(2)),
        "{same}"
    );
    let response = put(&app, "/v1/services/cloud-compute", &ada, &service)
        .header("if-match", "\"1\"")
        .send()
        .await
        .unwrap();
    expect_problem(response, StatusCode::PRECONDITION_FAILED).await;

    // Both versions stay readable.
    let (status, v1) = app
        .get_json("/v1/services/cloud-compute?version=1", &alice)
        .await;
    assert_eq!(status, StatusCode::OK, "{v1}");
    assert_eq!(
        (&v1["version"], &v1["name"]),
        (&json!(1), &json!("EGI Cloud Compute"))
    );
    assert_eq!(v1["latest_version"], 2);
    let (status, _) = app
        .get_json("/v1/services/cloud-compute?version=3", &alice)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // New orders must satisfy version 2: the new parameter is required, the
    // range is narrower.
    let (status, problem) = order(&app, &alice, 4, json!({})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert!(problem.to_string().contains("project_code"), "{problem}");
    let (status, problem) = order(&app, &alice, 600, json!({"project_code": "LAB-1"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert!(problem.to_string().contains("cpu_cores"), "{problem}");
    let (status, new) = order(&app, &alice, 8, json!({"project_code": "LAB-1"})).await;
    assert_eq!(status, StatusCode::CREATED, "{new}");
    assert_eq!(new["service_version"], 2);

    // The old order goes on under version 1: a proposal within its range
    // (not version 2's), without the new parameter.
    let (status, proposal) = app
        .post_json(
            &format!("/v1/orders/{old_id}/proposals"),
            &sam,
            &json!({"parameters": {"cpu_cores": 700}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{proposal}");
    let (status, accepted) = app
        .post_json(
            &format!("/v1/orders/{old_id}/proposals/1/accept"),
            &alice,
            &json!({}),
        )
        .await;
    assert!(status.is_success(), "{accepted}");

    // Its SLA names the service as version 1 had it; the new order's, version 2.
    let old_sla = sla_text(&app, &old_id, &sam).await;
    assert!(old_sla.contains("EGI Cloud Compute"), "{old_sla}");
    assert!(!old_sla.contains("Compute Plus"), "{old_sla}");
    let new_sla = sla_text(&app, new["id"].as_str().unwrap(), &sam).await;
    assert!(new_sla.contains("EGI Cloud Compute Plus"), "{new_sla}");
}

#[tokio::test]
async fn a_retired_service_takes_no_new_orders_and_its_orders_go_on() {
    let app = spawn_app().await;
    let ada = app.role("ada", "admin").await;
    let alice = app.customer("alice", "acme").await;
    let sam = app.shifter("sam", &["compute"]).await;
    let (status, old) = order(&app, &alice, 4, json!({})).await;
    assert_eq!(status, StatusCode::CREATED);
    let old_id = old["id"].as_str().unwrap();

    let (status, retired) = send(delete(
        &app,
        "/v1/services/cloud-compute?reason=replaced",
        &ada,
    ))
    .await;
    assert_eq!(status, StatusCode::OK, "{retired}");
    assert!(retired["retired_at"].is_string(), "{retired}");
    assert_eq!(retired["retired_reason"], "replaced");

    let (status, problem) = order(&app, &alice, 4, json!({})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert!(problem.to_string().contains("retired"), "{problem}");
    // Still listed and readable, with when it was retired.
    let (_, listed) = app.get_json("/v1/services", &alice).await;
    let found = listed["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "cloud-compute")
        .unwrap();
    assert!(found["retired_at"].is_string());

    // Its order goes on to the end.
    let text = sla_text(&app, old_id, &sam).await;
    assert!(text.contains("EGI Cloud Compute"));

    // A retired id is never defined again: a 409 that says why.
    let (_, v1) = app.get_json("/v1/services/cloud-compute", &ada).await;
    let response = put(&app, "/v1/services/cloud-compute", &ada, &v1)
        .send()
        .await
        .unwrap();
    let problem = expect_problem(response, StatusCode::CONFLICT).await;
    assert!(
        problem["detail"].as_str().unwrap().contains("retired"),
        "{problem}"
    );
    let (status, _) = send(delete(&app, "/v1/services/cloud-compute", &ada)).await;
    assert_eq!(status, StatusCode::CONFLICT, "retired once");
}

#[tokio::test]
async fn groups_and_providers_are_added_changed_and_retired_by_admins_only() {
    let app = spawn_app().await;
    let ada = app.role("ada", "admin").await;
    let alice = app.customer("alice", "acme").await;
    let sam = app.shifter("sam", &["compute"]).await;
    let head = app.head();

    // Only admins change the catalogue.
    for token in [&alice, &sam] {
        let response = put(
            &app,
            "/v1/groups/quantum",
            token,
            &json!({"name": "Quantum"}),
        )
        .send()
        .await
        .unwrap();
        expect_problem(response, StatusCode::FORBIDDEN).await;
    }
    // Bad input is a 422 and writes nothing.
    for (path, body, field) in [
        ("/v1/groups/Quantum_X", json!({"name": "Q"}), "Quantum_X"),
        ("/v1/groups/quantum", json!({"name": " "}), "name"),
        (
            "/v1/groups/quantum",
            json!({"id": "other", "name": "Q"}),
            "id",
        ),
    ] {
        let response = put(&app, path, &ada, &body).send().await.unwrap();
        let problem = expect_problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert!(
            problem.to_string().contains(field),
            "{path} {body}: {problem}"
        );
    }
    let response = put(
        &app,
        "/v1/groups/quantum",
        &ada,
        &json!({"name": "Q", "colour": 1}),
    )
    .send()
    .await
    .unwrap();
    expect_problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(app.head(), head, "nothing written");

    // A new group (201, Location), a service in it, a provider offering it.
    let response = put(
        &app,
        "/v1/groups/quantum",
        &ada,
        &json!({"name": "Quantum computing"}),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(response.headers()["location"], "/v1/groups/quantum");
    let service = json!({
        "id": "qpu-time", "name": "QPU time", "group": "quantum",
        "legacy_path": "Quantum/QPU time",
        "parameters": [{"key": "shots", "label": "Shots", "type": "integer", "min": 1}],
    });
    let response = app
        .post("/v1/services", &ada)
        .json(&service)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(response.headers()["location"], "/v1/services/qpu-time");
    let (status, provider) = send(put(
        &app,
        "/v1/providers/qlab",
        &ada,
        &json!({"name": "Q Lab", "country": "NL", "services": ["qpu-time"]}),
    ))
    .await;
    assert_eq!(status, StatusCode::CREATED, "{provider}");
    let (_, qpu) = app.get_json("/v1/services/qpu-time", &alice).await;
    assert_eq!(qpu["providers"], json!(["qlab"]));

    // A service never changes group: a 409 saying why.
    let mut moved = qpu.clone();
    moved["group"] = json!("compute");
    let response = put(&app, "/v1/services/qpu-time", &ada, &moved)
        .send()
        .await
        .unwrap();
    let problem = expect_problem(response, StatusCode::CONFLICT).await;
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("never changes group")
    );

    // A group with a live service is not retired; once the service is, it is.
    let (status, problem) = send(delete(&app, "/v1/groups/quantum", &ada)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert!(problem["detail"].as_str().unwrap().contains("qpu-time"));
    assert_eq!(
        send(delete(&app, "/v1/services/qpu-time", &ada)).await.0,
        StatusCode::OK
    );
    let (status, group) = send(delete(&app, "/v1/groups/quantum", &ada)).await;
    assert_eq!(status, StatusCode::OK, "{group}");
    assert!(group["retired_at"].is_string());
    // A retired group takes no new services.
    let mut again = service.clone();
    again["id"] = json!("qpu-time-2");
    again["legacy_path"] = json!("Quantum/QPU time 2");
    let (status, problem) = send(put(&app, "/v1/services/qpu-time-2", &ada, &again)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");

    // A retired provider takes no new steps: planning on it is refused.
    assert_eq!(
        send(delete(&app, "/v1/providers/cesnet-mcc", &ada)).await.0,
        StatusCode::OK
    );
    let (status, order) = order(&app, &alice, 4, json!({})).await;
    assert_eq!(status, StatusCode::CREATED);
    let id = order["id"].as_str().unwrap();
    app.command(id, "approve", &sam, json!({})).await;
    let (status, problem) = app
        .command(
            id,
            "provisioning",
            &sam,
            json!({"steps": [{"provider": "cesnet-mcc", "action": "a project"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert!(problem.to_string().contains("retired"), "{problem}");

    // Every change is an event with its actor.
    let (_, log) = app.get_json("/v1/events?after=0&limit=1000", &ada).await;
    let changes: Vec<&Value> = log["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["aggregate_type"] == "catalogue" && e["actor"]["subject"] == "ada")
        .collect();
    let types: Vec<&str> = changes
        .iter()
        .map(|e| e["event_type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "GroupDefined",
            "ServiceDefined",
            "ProviderRegistered",
            "ServiceRetired",
            "GroupRetired",
            "ProviderRetired"
        ],
        "{log}"
    );
    assert!(changes.iter().all(|e| e["actor"]["role"] == "admin"));
}

#[tokio::test]
async fn a_service_change_is_retried_safely_and_refused_when_it_breaks_the_rules() {
    let app = spawn_app().await;
    let ada = app.role("ada", "admin").await;
    let (_, mut service) = app.get_json("/v1/services/cloud-compute", &ada).await;
    service["description"] = json!("Now with GPUs on request.");
    let change =
        || put(&app, "/v1/services/cloud-compute", &ada, &service).header("idempotency-key", "c-1");
    let (status, first) = send(change()).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let head = app.head();
    let response = change().send().await.unwrap();
    assert_eq!(response.headers()["idempotent-replayed"], "true");
    assert_eq!(response.headers()["etag"], "\"2\"");
    assert_eq!(app.head(), head);

    // Two parameters with the same key, an unknown provider, a bound of the
    // wrong kind: 422, nothing written.
    let mut twice = first.clone();
    let cores = twice["parameters"][0].clone();
    twice["parameters"].as_array_mut().unwrap().push(cores);
    let mut unknown = first.clone();
    unknown["providers"] = json!(["nowhere"]);
    let mut wrong = first.clone();
    wrong["parameters"][0]["min"] = json!("one");
    for (body, needle) in [
        (twice, "twice"),
        (unknown, "nowhere"),
        (wrong, "parameters[0]"),
    ] {
        let (status, problem) = send(put(&app, "/v1/services/cloud-compute", &ada, &body)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
        assert!(problem.to_string().contains(needle), "{needle}: {problem}");
    }
    assert_eq!(app.head(), head);
}
