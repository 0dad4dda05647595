//! The catalogue and order intake: JSON and legacy strings.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

#[tokio::test]
async fn the_catalogue_lists_groups_services_parameters_and_providers() {
    let app = spawn_app().await;
    let alice = app.customer("alice", "acme").await;
    let (status, catalogue) = app.get_json("/v1/services", &alice).await;
    assert_eq!(status, StatusCode::OK);
    let groups: Vec<&str> = catalogue["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["id"].as_str().unwrap())
        .collect();
    for group in ["compute", "storage", "training", "eudat"] {
        assert!(groups.contains(&group), "{groups:?}");
    }
    let services = catalogue["services"].as_array().unwrap();
    let ids: Vec<&str> = services.iter().map(|s| s["id"].as_str().unwrap()).collect();
    for id in [
        "cloud-compute",
        "htc-compute",
        "online-storage",
        "training-infrastructure",
        "b2safe",
    ] {
        assert!(ids.contains(&id), "{ids:?}");
    }
    let cloud = services
        .iter()
        .find(|s| s["id"] == "cloud-compute")
        .unwrap();
    assert_eq!(cloud["group"], "compute");
    assert_eq!(
        cloud["legacy_path"],
        "Compute/EGI Cloud compute/General purpose"
    );
    let cores = cloud["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["key"] == "cpu_cores")
        .unwrap();
    assert_eq!(cores["label"], "Number of CPU Cores");
    assert_eq!(cores["type"], "integer");
    assert_eq!(
        (cores["min"].clone(), cores["max"].clone()),
        (json!(1), json!(1024))
    );

    let (status, providers) = app.get_json("/v1/providers", &alice).await;
    assert_eq!(status, StatusCode::OK);
    assert!(providers["providers"].as_array().unwrap().len() >= 4);
}

#[tokio::test]
async fn a_customer_submits_a_json_order() {
    let app = spawn_app().await;
    let alice = app.customer("alice", "acme").await;
    let response = app
        .post("/v1/orders", &alice)
        .json(&cloud_order())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(response.headers()["etag"], "\"1\"");
    let order: Value = response.json().await.unwrap();
    let id = order["id"].as_str().unwrap();
    assert_eq!(location, format!("/v1/orders/{id}"));
    assert_eq!(order["status"], "submitted");
    assert_eq!(order["service"], "cloud-compute");
    assert_eq!(order["group"], "compute");
    assert_eq!(
        order["customer"],
        json!({"org": "acme", "subject": "alice"})
    );
    assert_eq!(order["parameters"], cloud_parameters());
    assert_eq!(order["version"], 1);
    assert_eq!(order["title"], "Lab cloud");
    assert!(order["created_at"].as_str().unwrap().ends_with('Z'));

    let (status, fetched) = app.get_json(&location, &alice).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(fetched, order);
}

#[tokio::test]
async fn decimal_parameters_are_exact_and_canonical() {
    let app = spawn_app().await;
    let alice = app.customer("alice", "acme").await;
    let mut order = cloud_order();
    order["parameters"]["ram_per_core_gb"] = json!(2.5);
    let (status, body) = app.post_json("/v1/orders", &alice, &order).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["parameters"]["ram_per_core_gb"], json!(2.5));
    order["parameters"]["ram_per_core_gb"] = json!(0.5);
    let (status, _) = app.post_json("/v1/orders", &alice, &order).await;
    assert_eq!(status, StatusCode::CREATED, "0.5 is the inclusive minimum");
    order["parameters"]["ram_per_core_gb"] = json!(0.49);
    let (status, _) = app.post_json("/v1/orders", &alice, &order).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn every_bad_parameter_is_named_and_nothing_is_appended() {
    let app = spawn_app().await;
    let alice = app.customer("alice", "acme").await;
    let head = app.head();
    let body = json!({
        "service": "cloud-compute",
        "parameters": {
            "cpu_cores": 2000,
            "ram_per_core_gb": "lots",
            "local_disk_gb": 40,
            "vm_instances": 2.5,
            "access_type": "whenever",
            "start_date": "02/12/2019",
            "colour": "blue"
        }
    });
    let response = app
        .post("/v1/orders", &alice)
        .json(&body)
        .send()
        .await
        .unwrap();
    let problem = expect_problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    for field in [
        "cpu_cores",
        "ram_per_core_gb",
        "vm_instances",
        "access_type",
        "start_date",
        "duration_days",
        "colour",
    ] {
        assert!(fields.contains(&field), "{field} missing from {fields:?}");
    }
    assert!(!fields.contains(&"local_disk_gb"), "{fields:?}");
    assert_eq!(app.head(), head);
}

#[tokio::test]
async fn unknown_services_and_malformed_submissions_are_refused() {
    let app = spawn_app().await;
    let alice = app.customer("alice", "acme").await;
    let head = app.head();
    for (body, field) in [
        (json!({"service": "teleport", "parameters": {}}), "service"),
        (json!({"parameters": {}}), "service"),
        (json!({"service": 7}), "service"),
        (
            json!({"service": "cloud-compute", "parameters": [1]}),
            "parameters",
        ),
        (
            json!({"service": "cloud-compute", "parameters": cloud_parameters(), "priority": 1}),
            "priority",
        ),
        (
            json!({"service": "cloud-compute", "parameters": cloud_parameters(), "title": "  "}),
            "title",
        ),
    ] {
        let response = app
            .post("/v1/orders", &alice)
            .json(&body)
            .send()
            .await
            .unwrap();
        let problem = expect_problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert!(
            problem["errors"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["field"] == field),
            "{field}: {problem}"
        );
    }
    assert_eq!(app.head(), head);
}

#[tokio::test]
async fn only_customers_submit() {
    let app = spawn_app().await;
    let sam = app.shifter("sam", &["compute"]).await;
    let response = app
        .post("/v1/orders", &sam)
        .json(&cloud_order())
        .send()
        .await
        .unwrap();
    expect_problem(response, StatusCode::FORBIDDEN).await;
}

#[tokio::test]
async fn the_three_legacy_renderings_import_to_the_json_orders_parameters() {
    let app = spawn_app().await;
    let alice = app.customer("alice", "acme").await;
    let mut orders = Vec::new();
    for raw in [SEED_PLAIN, SEED_BOLD, SEED_LINK] {
        let response = app
            .post("/v1/orders:legacy", &alice)
            .header("content-type", "text/plain")
            .body(raw)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
        let order: Value = response.json().await.unwrap();
        assert_eq!(order["source"], "legacy");
        assert_eq!(order["legacy_order"], raw, "kept verbatim");
        assert_eq!(order["service"], "cloud-compute");
        orders.push(order);
    }
    for order in &orders {
        assert_eq!(order["parameters"], cloud_parameters());
    }
}

#[tokio::test]
async fn bad_legacy_strings_name_each_problem_and_store_nothing() {
    let app = spawn_app().await;
    let alice = app.customer("alice", "acme").await;
    let head = app.head();

    let unknown_label = "Compute/EGI Cloud compute/General purpose?Number of CPU Cores=4&Amount of RAM per CPU core=2&Local disk=40&Number of VM instances=2&Access type=opportunistic&Start of service=02/12/2019&Number of days=2&Favourite colour=blue";
    let unknown_service = "Compute/Quantum annealer/Large?Qubits=5000";
    let bad_values = "Compute/EGI Cloud compute/General purpose?Number of CPU Cores=four&Amount of RAM per CPU core=2&Local disk=40&Number of VM instances=2&Access type=opportunistic&Start of service=31/02/2019&Number of days=2";
    for (raw, expected) in [
        (unknown_label, vec!["Favourite colour"]),
        (unknown_service, vec!["Quantum annealer"]),
        (bad_values, vec!["cpu_cores", "start_date"]),
    ] {
        let response = app
            .post("/v1/orders:legacy", &alice)
            .body(raw)
            .send()
            .await
            .unwrap();
        let problem = expect_problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
        let text = problem.to_string();
        for needle in expected {
            assert!(text.contains(needle), "{needle} not named in {text}");
        }
    }
    assert_eq!(app.head(), head, "nothing was appended");
}

/// The fields a 422 names.
async fn refused_fields(response: reqwest::Response) -> Vec<String> {
    let problem = expect_problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    problem["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("field errors: {problem}"))
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn dates_out_of_range_or_a_validity_past_2999_are_refused_naming_the_field() {
    let app = spawn_app().await;
    let alice = app.customer("alice", "acme").await;
    let sam = app.shifter("sam", &["compute"]).await;
    let head = app.head();

    let cases = [
        ("9999-12-31", 3650, "start_date"),
        ("0001-01-01", 90, "start_date"),
        ("1969-12-31", 90, "start_date"),
        ("3000-01-01", 1, "start_date"),
        ("2999-12-31", 3650, "duration_days"),
        ("2999-12-31", 2, "duration_days"),
    ];
    for (start, days, field) in cases {
        let mut order = cloud_order();
        order["parameters"]["start_date"] = json!(start);
        order["parameters"]["duration_days"] = json!(days);
        let response = app
            .post("/v1/orders", &alice)
            .json(&order)
            .send()
            .await
            .unwrap();
        assert_eq!(refused_fields(response).await, [field], "{start} + {days}");

        let [year, month, day] = [&start[..4], &start[5..7], &start[8..]];
        let legacy = SEED_PLAIN
            .replace("02/12/2019", &format!("{day}/{month}/{year}"))
            .replace("Number of days=2", &format!("Number of days={days}"));
        let response = app
            .post("/v1/orders:legacy", &alice)
            .body(legacy.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(refused_fields(response).await, [field], "{legacy}");
    }
    assert_eq!(app.head(), head, "nothing was appended");

    // The edges are accepted, and 2019 (in the past: the agreement would start
    // on activation) still is.
    for (start, days) in [("1970-01-01", 1), ("2019-12-02", 2), ("2990-01-03", 3650)] {
        let mut order = cloud_order();
        order["parameters"]["start_date"] = json!(start);
        order["parameters"]["duration_days"] = json!(days);
        let (status, body) = app.post_json("/v1/orders", &alice, &order).await;
        assert_eq!(status, StatusCode::CREATED, "{start} + {days}: {body}");
    }

    // A proposal may not move the dates out of range either.
    let id = app.submit(&alice).await;
    let (status, body) = app
        .command(&id, "assign", &sam, json!({"assignee": "sam"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for (parameters, field) in [
        (json!({"start_date": "9999-12-31"}), "start_date"),
        (json!({"start_date": "0001-01-01"}), "start_date"),
        (
            json!({"start_date": "2999-12-31", "duration_days": 3650}),
            "duration_days",
        ),
    ] {
        let response = app
            .post(&format!("/v1/orders/{id}/proposals"), &sam)
            .json(&json!({"parameters": parameters, "note": "later"}))
            .send()
            .await
            .unwrap();
        assert_eq!(refused_fields(response).await, [field], "{parameters}");
    }
}
