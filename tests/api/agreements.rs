//! From an order to agreements: negotiation, provisioning, activation, documents,
//! amendment, termination, expiry — through HTTP, on a real store.

use std::sync::Arc;

use jiff::Timestamp;
use pactum::clock::ManualClock;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

/// The people of an agreement's story.
pub(crate) struct Cast {
    pub(crate) alice: String,
    pub(crate) sam: String,
    pub(crate) cesnet: String,
    pub(crate) in2p3: String,
    surf: String,
}

pub(crate) async fn cast(app: &TestApp) -> Cast {
    Cast {
        alice: app.customer("alice", "acme").await,
        sam: app.shifter("sam", &["compute"]).await,
        cesnet: app.provider("ops-cesnet", "cesnet-mcc").await,
        in2p3: app.provider("ops-in2p3", "in2p3-ires").await,
        surf: app.provider("ops-surf", "surf").await,
    }
}

/// An order for 2027, approved and planned on two providers.
async fn planned_order(app: &TestApp, cast: &Cast) -> String {
    let mut order = cloud_order();
    order["parameters"]["start_date"] = json!("2027-01-04");
    order["parameters"]["duration_days"] = json!(90);
    let (status, body) = app.post_json("/v1/orders", &cast.alice, &order).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = body["id"].as_str().unwrap().to_owned();
    let ok = |(status, body): (StatusCode, Value)| {
        assert!(status.is_success(), "{status}: {body}");
        body
    };
    ok(app
        .command(&id, "assign", &cast.sam, json!({"assignee": "sam"}))
        .await);
    ok(app.command(&id, "approve", &cast.sam, json!({})).await);
    let order = ok(app
        .command(
            &id,
            "provisioning",
            &cast.sam,
            json!({"steps": [
                {"provider": "cesnet-mcc", "action": "Create project acme-lab with 8 cores"},
                {"provider": "in2p3-ires", "action": "Open a 40 GB volume quota"}
            ]}),
        )
        .await);
    assert_eq!(order["status"], "provisioning");
    assert_eq!(order["provisioning"].as_array().unwrap().len(), 2);
    id
}

async fn step(
    app: &TestApp,
    id: &str,
    step: u32,
    outcome: &str,
    token: &str,
) -> (StatusCode, Value) {
    app.post_json(
        &format!("/v1/orders/{id}/provisioning/{step}/{outcome}"),
        token,
        &json!({"note": format!("{outcome} by the site")}),
    )
    .await
}

/// An active order: returns it and its agreements (SLA first).
pub(crate) async fn active_order(app: &TestApp, cast: &Cast) -> (String, Value) {
    let id = planned_order(app, cast).await;
    assert_eq!(
        step(app, &id, 1, "done", &cast.cesnet).await.0,
        StatusCode::OK
    );
    assert_eq!(
        step(app, &id, 2, "done", &cast.in2p3).await.0,
        StatusCode::OK
    );
    let (status, order) = app.command(&id, "activate", &cast.sam, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{order}");
    (id, order)
}

pub(crate) fn pdf_text(bytes: &[u8]) -> String {
    let dir = tempfile::TempDir::new().unwrap();
    let path = dir.path().join("agreement.pdf");
    std::fs::write(&path, bytes).unwrap();
    let output = std::process::Command::new("pdftotext")
        .args(["-layout"])
        .arg(&path)
        .arg("-")
        .output()
        .expect("pdftotext (Debian poppler-utils, installed by scripts/test)");
    assert!(output.status.success(), "pdftotext failed");
    String::from_utf8(output.stdout).unwrap()
}

pub(crate) async fn download(
    app: &TestApp,
    path: &str,
    token: &str,
) -> (StatusCode, reqwest::header::HeaderMap, Vec<u8>) {
    let response = app.get(path, token).send().await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    (status, headers, response.bytes().await.unwrap().to_vec())
}

fn sha256(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(bytes))
}

#[tokio::test]
async fn an_order_becomes_an_active_sla_with_an_ola_per_provider() {
    let app = spawn_app().await;
    let cast = cast(&app).await;
    let (id, order) = active_order(&app, &cast).await;
    assert_eq!(order["status"], "active");
    let agreements = order["agreements"].as_array().unwrap();
    let kinds: Vec<(&str, Option<&str>)> = agreements
        .iter()
        .map(|a| (a["kind"].as_str().unwrap(), a["provider"].as_str()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("sla", None),
            ("ola", Some("cesnet-mcc")),
            ("ola", Some("in2p3-ires"))
        ]
    );
    let sla_id = agreements[0]["agreement_id"].as_str().unwrap();

    let (status, sla) = app
        .get_json(&format!("/v1/agreements/{sla_id}"), &cast.alice)
        .await;
    assert_eq!(status, StatusCode::OK, "{sla}");
    assert_eq!(sla["kind"], "sla");
    assert_eq!(sla["status"], "active");
    assert_eq!(sla["order_id"], id.as_str());
    assert_eq!(sla["customer"]["org"], "acme");
    assert_eq!(sla["service"]["id"], "cloud-compute");
    assert_eq!(sla["parameters"]["cpu_cores"], 4);
    assert_eq!(
        sla["validity"],
        json!({"start": "2027-01-04", "end": "2027-04-03"})
    );
    assert_eq!(sla["targets"]["availability_pct"], 80);
    assert_eq!(sla["targets"]["reliability_pct"], 85);
    assert_eq!(sla["targets"]["period"], "monthly");
    assert_eq!(sla["version"], 1);

    // The document: a PDF, stored by content, with the customer, the service,
    // the agreed parameters and the targets in it.
    let (status, headers, pdf) = download(
        &app,
        &format!("/v1/agreements/{sla_id}/document"),
        &cast.alice,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "application/pdf");
    assert!(pdf.starts_with(b"%PDF-"), "a PDF");
    let hash = sha256(&pdf);
    assert_eq!(headers["etag"], format!("\"{hash}\"").as_str());
    assert_eq!(sla["versions"][0]["document"]["sha256"], hash.as_str());
    let disposition = headers["content-disposition"].to_str().unwrap();
    assert!(
        disposition.starts_with("attachment; filename=\"SLA-")
            && disposition.ends_with("-v1.pdf\""),
        "{disposition}"
    );
    let text = pdf_text(&pdf);
    for needle in [
        "acme",
        "EGI Cloud Compute",
        "Number of CPU Cores",
        "opportunistic",
        "2027-01-04",
        "4 January 2027",
        "3 April 2027",
        "≥ 80 %",
        "≥ 85 %",
    ] {
        assert!(
            text.contains(needle),
            "{needle:?} missing from the SLA:\n{text}"
        );
    }

    // The document is served again unchanged, or not at all if the client has it.
    let response = app
        .get(&format!("/v1/agreements/{sla_id}/document"), &cast.alice)
        .header("if-none-match", format!("\"{hash}\""))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_MODIFIED);

    // The order's history has every step of it.
    let (_, history) = app
        .get_json(&format!("/v1/orders/{id}/history"), &cast.sam)
        .await;
    let types: Vec<&str> = history["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "OrderSubmitted",
            "OrderAssigned",
            "OrderApproved",
            "ProvisioningPlanned",
            "ProvisioningStepDone",
            "ProvisioningStepDone",
            "OrderActivated"
        ]
    );
}

#[tokio::test]
async fn customers_see_their_slas_and_providers_only_their_own_olas() {
    let app = spawn_app().await;
    let cast = cast(&app).await;
    let (id, order) = active_order(&app, &cast).await;
    let ids: Vec<&str> = order["agreements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["agreement_id"].as_str().unwrap())
        .collect();
    let (sla, cesnet_ola, in2p3_ola) = (ids[0], ids[1], ids[2]);
    let list = async |token: &str| {
        let (status, page) = app
            .get_json(
                &format!("/v1/agreements?min_position={}", app.head()),
                token,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        page["agreements"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["id"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(list(&cast.alice).await, [sla]);
    assert_eq!(list(&cast.cesnet).await, [cesnet_ola]);
    assert_eq!(list(&cast.in2p3).await, [in2p3_ola]);
    assert!(list(&cast.surf).await.is_empty());
    assert_eq!(list(&cast.sam).await.len(), 3);

    for (token, visible, hidden) in [
        (&cast.alice, sla, cesnet_ola),
        (&cast.cesnet, cesnet_ola, in2p3_ola),
        (&cast.cesnet, cesnet_ola, sla),
    ] {
        let (status, _) = app
            .get_json(&format!("/v1/agreements/{visible}"), token)
            .await;
        assert_eq!(status, StatusCode::OK);
        for path in [
            format!("/v1/agreements/{hidden}"),
            format!("/v1/agreements/{hidden}/document"),
        ] {
            let response = app.get(&path, token).send().await.unwrap();
            expect_problem(response, StatusCode::NOT_FOUND).await;
        }
    }

    // A provider sees the order through its own steps only, and no history.
    let (status, view) = app
        .get_json(&format!("/v1/orders/{id}"), &cast.cesnet)
        .await;
    assert_eq!(status, StatusCode::OK);
    let steps = view["provisioning"].as_array().unwrap();
    assert_eq!(steps.len(), 1);
    assert_eq!(steps[0]["provider"], "cesnet-mcc");
    assert_eq!(view["agreements"].as_array().unwrap().len(), 1);
    assert!(view["comments"].as_array().unwrap().is_empty());
    let (status, _) = app
        .get_json(&format!("/v1/orders/{id}/history"), &cast.cesnet)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app.get_json(&format!("/v1/orders/{id}"), &cast.surf).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn providers_report_only_on_their_own_steps_and_a_failure_blocks_activation() {
    let app = spawn_app().await;
    let cast = cast(&app).await;
    let id = planned_order(&app, &cast).await;
    let (status, _) = step(&app, &id, 2, "done", &cast.cesnet).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "step 2 is in2p3's");
    let (status, _) = step(&app, &id, 1, "done", &cast.surf).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "surf has no step here");
    let (status, _) = step(&app, &id, 1, "done", &cast.sam).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "shifters do not report for providers"
    );

    assert_eq!(
        step(&app, &id, 1, "done", &cast.cesnet).await.0,
        StatusCode::OK
    );
    let (status, problem) = step(&app, &id, 2, "failed", &cast.in2p3).await;
    assert_eq!(status, StatusCode::OK, "{problem}");
    let head = app.head();
    let (status, problem) = app.command(&id, "activate", &cast.sam, json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert_eq!(problem["current_status"], "provisioning");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("step 2 is failed"),
        "{problem}"
    );
    assert_eq!(app.head(), head, "nothing issued");

    // Retry, then done: activation goes through.
    let (status, order) = app
        .post_json(
            &format!("/v1/orders/{id}/provisioning/2/retry"),
            &cast.sam,
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{order}");
    assert_eq!(order["provisioning"][1]["status"], "pending");
    assert_eq!(order["provisioning"][1]["attempts"], 2);
    assert_eq!(
        step(&app, &id, 2, "done", &cast.in2p3).await.0,
        StatusCode::OK
    );
    let (status, order) = app.command(&id, "activate", &cast.sam, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{order}");
    assert_eq!(order["agreements"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn a_new_plan_replaces_the_steps_not_done() {
    let app = spawn_app().await;
    let cast = cast(&app).await;
    let id = planned_order(&app, &cast).await;
    assert_eq!(
        step(&app, &id, 1, "done", &cast.cesnet).await.0,
        StatusCode::OK
    );
    assert_eq!(
        step(&app, &id, 2, "failed", &cast.in2p3).await.0,
        StatusCode::OK
    );
    let (status, order) = app
        .command(
            &id,
            "provisioning",
            &cast.sam,
            json!({"steps": [{"provider": "csc", "action": "Take over the volume quota"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{order}");
    let statuses: Vec<(&str, &str)> = order["provisioning"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["provider"].as_str().unwrap(),
                s["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        [
            ("cesnet-mcc", "done"),
            ("in2p3-ires", "superseded"),
            ("csc", "pending")
        ]
    );
    // A provider that does not deliver the service, or does not exist, is named.
    let (status, problem) = app
        .command(
            &id,
            "provisioning",
            &cast.sam,
            json!({"steps": [{"provider": "surf", "action": "x"}, {"provider": "nowhere", "action": "y"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["steps[0].provider", "steps[1].provider"]);
}

#[tokio::test]
async fn proposals_are_declined_countered_and_accepted_and_history_keeps_them_all() {
    let app = spawn_app().await;
    let cast = cast(&app).await;
    let id = app.submit(&cast.alice).await;
    app.command(&id, "assign", &cast.sam, json!({"assignee": "sam"}))
        .await;

    // Shifter offers 2 cores; the customer declines.
    let (status, order) = app
        .post_json(
            &format!("/v1/orders/{id}/proposals"),
            &cast.sam,
            &json!({"parameters": {"cpu_cores": 2}, "note": "Only 2 cores free"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{order}");
    assert_eq!(order["status"], "negotiating");
    assert_eq!(order["proposals"][0]["changed"], json!(["cpu_cores"]));
    let (status, order) = app
        .post_json(
            &format!("/v1/orders/{id}/proposals/1/decline"),
            &cast.alice,
            &json!({"note": "too few"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{order}");
    assert_eq!(order["status"], "in_review");
    assert_eq!(
        order["agreed_parameters"]["cpu_cores"], 4,
        "a declined proposal changes nothing"
    );

    // Shifter offers 3; the customer counters with 3 cores and 4 GB per core;
    // the shifter accepts the counter.
    app.post_json(
        &format!("/v1/orders/{id}/proposals"),
        &cast.sam,
        &json!({"parameters": {"cpu_cores": 3}}),
    )
    .await;
    let (status, order) = app
        .post_json(
            &format!("/v1/orders/{id}/proposals"),
            &cast.alice,
            &json!({"parameters": {"cpu_cores": 3, "ram_per_core_gb": 4}, "note": "then more memory"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{order}");
    assert_eq!(order["proposals"][1]["status"], "countered");
    assert_eq!(order["proposals"][2]["counter_to"], 2);
    // The author cannot accept its own proposal; a stale one cannot be answered.
    let (status, _) = app
        .post_json(
            &format!("/v1/orders/{id}/proposals/3/accept"),
            &cast.alice,
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app
        .post_json(
            &format!("/v1/orders/{id}/proposals/2/accept"),
            &cast.alice,
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, order) = app
        .post_json(
            &format!("/v1/orders/{id}/proposals/3/accept"),
            &cast.sam,
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{order}");
    assert_eq!(order["agreed_parameters"]["cpu_cores"], 3);
    assert_eq!(order["agreed_parameters"]["ram_per_core_gb"], 4);
    assert_eq!(
        order["parameters"]["cpu_cores"], 4,
        "what was ordered stays on record"
    );

    // Bad proposals are refused naming each field, like orders.
    let (status, problem) = app
        .post_json(
            &format!("/v1/orders/{id}/proposals"),
            &cast.sam,
            &json!({"parameters": {"cpu_cores": 5000, "colour": "red"}}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let text = problem.to_string();
    assert!(
        text.contains("cpu_cores") && text.contains("colour"),
        "{text}"
    );
    let (status, _) = app
        .post_json(
            &format!("/v1/orders/{id}/proposals"),
            &cast.sam,
            &json!({"parameters": {"cpu_cores": 3}}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "changes nothing");

    let (_, history) = app
        .get_json(&format!("/v1/orders/{id}/history"), &cast.alice)
        .await;
    let types: Vec<&str> = history["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .filter(|t| t.starts_with("Proposal"))
        .collect();
    assert_eq!(
        types,
        [
            "ProposalMade",
            "ProposalDeclined",
            "ProposalMade",
            "ProposalMade",
            "ProposalAccepted"
        ]
    );

    // Activation issues the agreed parameters.
    app.command(&id, "approve", &cast.sam, json!({})).await;
    let (_, order) = app.command(&id, "activate", &cast.sam, json!({})).await;
    assert_eq!(
        order["agreements"].as_array().unwrap().len(),
        1,
        "no provider, no OLA"
    );
    let sla = order["agreements"][0]["agreement_id"].as_str().unwrap();
    let (_, agreement) = app
        .get_json(&format!("/v1/agreements/{sla}"), &cast.alice)
        .await;
    assert_eq!(agreement["parameters"]["cpu_cores"], 3);
}

#[tokio::test]
async fn an_amendment_is_a_new_version_and_old_versions_stay_downloadable() {
    let app = spawn_app().await;
    let cast = cast(&app).await;
    let (_, order) = active_order(&app, &cast).await;
    let sla = order["agreements"][0]["agreement_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let document = |version: u32| {
        let path = format!("/v1/agreements/{sla}/document?version={version}");
        let token = cast.alice.clone();
        let app = &app;
        async move { download(app, &path, &token).await }
    };
    let (_, _, first) = document(1).await;

    let (status, amended) = app
        .post_json(
            &format!("/v1/agreements/{sla}/amend"),
            &cast.sam,
            &json!({
                "targets": {"availability_pct": 90},
                "end": "2027-06-30",
                "note": "Extended for the spring course"
            }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{amended}");
    assert_eq!(amended["version"], 2);
    assert_eq!(amended["targets"]["availability_pct"], 90);
    assert_eq!(amended["targets"]["reliability_pct"], 85, "unchanged");
    assert_eq!(amended["validity"]["end"], "2027-06-30");
    assert_eq!(
        amended["versions"][1]["changes"],
        json!([
            "Availability: 80 % → 90 %",
            "End of validity: 2027-04-03 → 2027-06-30"
        ])
    );

    let (status, _, again) = document(1).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again, first, "version 1 is unchanged");
    let (_, headers, second) = document(2).await;
    assert_ne!(second, first);
    assert!(
        headers["content-disposition"]
            .to_str()
            .unwrap()
            .ends_with("-v2.pdf\"")
    );
    let text = pdf_text(&second);
    assert!(
        text.contains("≥ 90 %") && text.contains("30 June 2027"),
        "{text}"
    );
    assert!(text.contains("Extended for the spring course"), "{text}");
    let (_, _, current) =
        download(&app, &format!("/v1/agreements/{sla}/document"), &cast.alice).await;
    assert_eq!(current, second, "the current version by default");
    let (status, _, _) = document(3).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Amendments are for shifters, and must change something or extend the end.
    let (status, _) = app
        .post_json(
            &format!("/v1/agreements/{sla}/amend"),
            &cast.alice,
            &json!({"note": "x", "end": "2028-01-01"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, problem) = app
        .post_json(
            &format!("/v1/agreements/{sla}/amend"),
            &cast.sam,
            &json!({"note": "x", "end": "2027-05-01"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(problem["errors"][0]["field"], "end");
    let (status, _) = app
        .post_json(
            &format!("/v1/agreements/{sla}/amend"),
            &cast.sam,
            &json!({"note": "x", "targets": {"availability_pct": 120}}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn documents_render_byte_identically_from_the_log_alone() {
    let app = spawn_app().await;
    let cast = cast(&app).await;
    let (_, order) = active_order(&app, &cast).await;
    let mut hashes = Vec::new();
    for agreement in order["agreements"].as_array().unwrap() {
        let id = agreement["agreement_id"].as_str().unwrap();
        let (_, _, pdf) = download(&app, &format!("/v1/agreements/{id}/document"), &cast.sam).await;
        hashes.push((id.to_owned(), sha256(&pdf)));
    }
    // Forget every stored document: downloads render them again from the log
    // and must give the very same bytes.
    app.app
        .store
        .write(|conn| {
            Box::pin(async move {
                sqlx::query("DELETE FROM documents")
                    .execute(&mut *conn)
                    .await
                    .map(drop)
            })
        })
        .await
        .unwrap()
        .unwrap();
    for (id, hash) in &hashes {
        let (status, headers, pdf) =
            download(&app, &format!("/v1/agreements/{id}/document"), &cast.sam).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(&sha256(&pdf), hash, "{id} re-renders identically");
        assert_eq!(headers["etag"], format!("\"{hash}\"").as_str());
    }
    let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM documents")
        .fetch_one(app.app.store.reader())
        .await
        .unwrap();
    assert_eq!(stored, 3, "re-rendered documents are stored again");
}

#[tokio::test]
async fn terminating_the_sla_ends_its_olas_and_closes_the_order() {
    let app = spawn_app().await;
    let cast = cast(&app).await;
    let (id, order) = active_order(&app, &cast).await;
    let ids: Vec<String> = order["agreements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["agreement_id"].as_str().unwrap().to_owned())
        .collect();
    let (status, _) = app
        .post_json(
            &format!("/v1/agreements/{}/terminate", ids[0]),
            &cast.alice,
            &json!({"reason": "done"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "customers do not terminate");
    let (status, sla) = app
        .post_json(
            &format!("/v1/agreements/{}/terminate", ids[0]),
            &cast.sam,
            &json!({"reason": "Project ended early"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{sla}");
    assert_eq!(sla["status"], "terminated");
    for ola in &ids[1..] {
        let (_, view) = app
            .get_json(&format!("/v1/agreements/{ola}"), &cast.sam)
            .await;
        assert_eq!(view["status"], "terminated");
    }
    let (_, order) = app.get_json(&format!("/v1/orders/{id}"), &cast.alice).await;
    assert_eq!(order["status"], "closed");
    assert_eq!(order["closed"]["reason"], "terminated");
    let (status, _) = app
        .post_json(
            &format!("/v1/agreements/{}/amend", ids[0]),
            &cast.sam,
            &json!({"note": "x", "end": "2028-01-01"}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "a terminated agreement accepts nothing"
    );
}

#[tokio::test]
async fn agreements_expire_after_their_last_day_and_the_order_closes() {
    let start: Timestamp = "2027-01-10T09:00:00Z".parse().unwrap();
    let clock = Arc::new(ManualClock::starting_at(start));
    let app = spawn_app_with_clock(clock.clone()).await;
    let cast = cast(&app).await;
    let (id, order) = active_order(&app, &cast).await;
    let sla = order["agreements"][0]["agreement_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, view) = app
        .get_json(&format!("/v1/agreements/{sla}"), &cast.alice)
        .await;
    // Activated on 2027-01-10, after the requested start: 90 days from then.
    assert_eq!(
        view["validity"],
        json!({"start": "2027-01-10", "end": "2027-04-09"})
    );

    let mut head = app.app.store.subscribe();
    clock.set("2027-04-09T23:59:00Z".parse().unwrap()).unwrap();
    let (_, view) = app
        .get_json(&format!("/v1/agreements/{sla}"), &cast.alice)
        .await;
    assert_eq!(view["status"], "active", "its last day is not over");

    clock.set("2027-04-10T00:00:01Z".parse().unwrap()).unwrap();
    // The timer wakes on the clock's jump; wait for its commits (each agreement
    // expires by its own end date, one command each).
    let ids: Vec<String> = order["agreements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["agreement_id"].as_str().unwrap().to_owned())
        .collect();
    let all_expired = async {
        loop {
            let mut statuses = Vec::new();
            for agreement in &ids {
                let (_, view) = app
                    .get_json(&format!("/v1/agreements/{agreement}"), &cast.sam)
                    .await;
                statuses.push(view["status"].as_str().unwrap().to_owned());
            }
            if statuses.iter().all(|s| s == "expired") {
                return;
            }
            head.changed().await.unwrap();
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(10), all_expired)
        .await
        .expect("every agreement expires after its last day");
    let (_, order) = app.get_json(&format!("/v1/orders/{id}"), &cast.alice).await;
    assert_eq!(order["status"], "closed");
    assert_eq!(order["closed"]["reason"], "expired");
    assert_eq!(order["closed"]["agreement_id"], sla.as_str());
}

#[tokio::test]
async fn a_tenant_brand_presents_its_customers_slas() {
    let app = spawn_app().await;
    let cast = cast(&app).await;
    pactum::brands::define(
        &app.app.store,
        &app.app.renderer,
        &pactum::brands::BrandRequest {
            org: "acme".into(),
            name: "ACME Research Cloud".into(),
            colour: "#0a5f38".into(),
            footer: "ACME Research · Lab street 1 · Example City".into(),
            logo: None,
        },
        &pactum::runner::CommandRequest::system(pactum::execute::CommandMeta::system(
            "test",
            app.app.now(),
        )),
    )
    .await
    .unwrap();
    let (_, order) = active_order(&app, &cast).await;
    let sla = order["agreements"][0]["agreement_id"].as_str().unwrap();
    let ola = order["agreements"][1]["agreement_id"].as_str().unwrap();
    let (_, view) = app
        .get_json(&format!("/v1/agreements/{sla}"), &cast.alice)
        .await;
    assert_eq!(view["brand"]["name"], "ACME Research Cloud");
    assert_eq!(view["customer"]["name"], "ACME Research Cloud");
    let (_, _, pdf) = download(&app, &format!("/v1/agreements/{sla}/document"), &cast.alice).await;
    let text = pdf_text(&pdf);
    assert!(text.contains("ACME Research Cloud"), "{text}");
    assert!(text.contains("Lab street 1"), "{text}");
    let (_, view) = app
        .get_json(&format!("/v1/agreements/{ola}"), &cast.cesnet)
        .await;
    assert_eq!(
        view["brand"]["name"], "EGI Foundation",
        "OLAs carry the issuer's brand"
    );
}

#[tokio::test]
async fn verify_re_renders_documents_and_names_one_that_no_longer_matches() {
    use sqlx::Connection;
    let dir = tempfile::TempDir::new().unwrap();
    let app = spawn_app_at(dir.path()).await;
    let cast = cast(&app).await;
    let (_, order) = active_order(&app, &cast).await;
    let sla = order["agreements"][0]["agreement_id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.stop().await;

    let output = crate::helpers::pactum(&["verify"], dir.path());
    assert!(
        output.status.success(),
        "{}",
        crate::helpers::stderr(&output)
    );
    assert!(
        crate::helpers::stdout(&output).contains("3 documents render to their recorded hashes"),
        "{}",
        crate::helpers::stdout(&output)
    );

    // Forge the SLA's recorded document hash and re-chain its events so the hash
    // chain still holds: only re-rendering can tell.
    let mut conn = crate::backend::raw_connection(dir.path()).await;
    let store = pactum::store::EventStore::open(&crate::backend::storage(dir.path()), vec![])
        .await
        .unwrap();
    let mut events = store.load("agreement", &sla).await.unwrap();
    store.close().await;
    events[0].payload["document"]["sha256"] = json!("0".repeat(64));
    let mut prev = String::new();
    for event in &mut events {
        event.hash = pactum::store::recorded_hash(&prev, event);
        prev = event.hash.clone();
        sqlx::query("UPDATE events SET payload = $1, hash = $2 WHERE position = $3")
            .bind(event.payload.to_string())
            .bind(&event.hash)
            .bind(event.position as i64)
            .execute(&mut conn)
            .await
            .unwrap();
    }
    conn.close().await.unwrap();

    let output = crate::helpers::pactum(&["verify"], dir.path());
    assert!(!output.status.success());
    let errors = crate::helpers::stderr(&output);
    assert!(
        errors.contains(&format!("position {}", events[0].position))
            && errors.contains("renders to"),
        "{errors}"
    );
}

#[tokio::test]
async fn customers_learn_of_their_sla_and_never_of_olas() {
    let app = spawn_app().await;
    let cast = cast(&app).await;
    let (id, order) = active_order(&app, &cast).await;
    assert_eq!(
        order["agreements"].as_array().unwrap().len(),
        3,
        "staff see all"
    );
    let sla = order["agreements"][0]["agreement_id"].clone();

    // The order as the customer sees it, now and at an instant after activation.
    let now = Timestamp::now();
    for path in [
        format!("/v1/orders/{id}"),
        format!("/v1/orders/{id}?as_of={now}"),
    ] {
        let (status, view) = app.get_json(&path, &cast.alice).await;
        assert_eq!(status, StatusCode::OK, "{view}");
        assert_eq!(
            view["agreements"],
            json!([{"agreement_id": sla, "kind": "sla"}]),
            "{path}"
        );
    }
    // Its history: the activation names the SLA only.
    let (_, history) = app
        .get_json(&format!("/v1/orders/{id}/history"), &cast.alice)
        .await;
    let activated = history["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "OrderActivated")
        .expect("the activation is in the customer's history");
    assert_eq!(
        activated["payload"]["agreements"],
        json!([{"agreement_id": sla, "kind": "sla"}])
    );
    let text = history.to_string();
    assert!(!text.contains("\"ola\""), "{text}");
    // Staff still see every agreement in the history.
    let (_, history) = app
        .get_json(&format!("/v1/orders/{id}/history"), &cast.sam)
        .await;
    let activated = history["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "OrderActivated")
        .unwrap();
    assert_eq!(
        activated["payload"]["agreements"].as_array().unwrap().len(),
        3
    );
}

/// Logos typst cannot draw: an SVG reading an external entity, SVGs linking a
/// file, a "PNG" and a "JPEG" that are only their magic bytes.
pub(crate) fn bad_logos() -> Vec<(&'static str, &'static str, Vec<u8>)> {
    vec![
        (
            "external entity",
            "image/svg+xml",
            br#"<?xml version="1.0"?>
<!DOCTYPE svg [<!ENTITY x SYSTEM "file:///etc/hostname">]>
<svg xmlns="http://www.w3.org/2000/svg" width="120" height="40"><text y="20">&x;</text></svg>"#
                .to_vec(),
        ),
        (
            "linked system file",
            "image/svg+xml",
            br#"<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="120" height="40"><image href="file:///etc/passwd" width="40" height="40"/></svg>"#
                .to_vec(),
        ),
        (
            "linked relative file",
            "image/svg+xml",
            br#"<svg xmlns="http://www.w3.org/2000/svg" width="120" height="40"><image href="other.png" width="40" height="40"/></svg>"#
                .to_vec(),
        ),
        (
            "broken PNG",
            "image/png",
            b"\x89PNG\r\n\x1a\nthis is not the rest of a PNG".to_vec(),
        ),
        (
            "broken JPEG",
            "image/jpeg",
            b"\xff\xd8\xffthis is not the rest of a JPEG".to_vec(),
        ),
    ]
}

/// A brand in the log as one set before logos were checked: appended the way
/// `brands::define` does, without its validation.
async fn brand_with_unchecked_logo(app: &TestApp, org: &str, media_type: &str, bytes: &[u8]) {
    use base64::Engine;
    use pactum::brands::{Brand, BrandCommand};
    use pactum_events::brand::{BrandDefined, LogoImage};
    let brand = BrandDefined {
        org: org.into(),
        name: "ACME Research Cloud".into(),
        colour: "#0a5f38".into(),
        footer: "ACME Research · Lab street 1".into(),
        logo: Some(LogoImage {
            media_type: media_type.into(),
            base64: base64::engine::general_purpose::STANDARD.encode(bytes),
            sha256: sha256(bytes),
        }),
    };
    let meta = pactum::execute::CommandMeta::system("test", app.app.now());
    let store = &app.app.store;
    let loaded = pactum::execute::load::<Brand>(store, org).await.unwrap();
    let (events, _) = pactum::execute::decide(
        &loaded,
        (meta.principal.clone(), BrandCommand::Define(brand)),
        &(),
    )
    .await
    .unwrap();
    store
        .append(pactum::execute::append_request(
            &loaded, &events, &meta, None,
        ))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_logo_that_does_not_render_never_blocks_activation_and_verify_still_passes() {
    for (what, media_type, bytes) in bad_logos() {
        let dir = tempfile::TempDir::new().unwrap();
        let app = spawn_app_at(dir.path()).await;
        let cast = cast(&app).await;
        brand_with_unchecked_logo(&app, "acme", media_type, &bytes).await;

        let id = planned_order(&app, &cast).await;
        step(&app, &id, 1, "done", &cast.cesnet).await;
        step(&app, &id, 2, "done", &cast.in2p3).await;
        let (status, order) = app.command(&id, "activate", &cast.sam, json!({})).await;
        assert_eq!(status, StatusCode::OK, "{what}: {order}");
        let sla = order["agreements"][0]["agreement_id"].as_str().unwrap();
        let (_, view) = app
            .get_json(&format!("/v1/agreements/{sla}"), &cast.alice)
            .await;
        assert_eq!(view["brand"]["name"], "ACME Research Cloud", "{what}");
        assert!(
            view["brand"]["logo"].is_null(),
            "{what}: issued without the logo, and says so: {view}"
        );
        let (status, headers, pdf) =
            download(&app, &format!("/v1/agreements/{sla}/document"), &cast.alice).await;
        assert_eq!(status, StatusCode::OK, "{what}");
        assert_eq!(headers[reqwest::header::CONTENT_TYPE], "application/pdf");
        assert!(pdf.starts_with(b"%PDF-"), "{what}");
        assert!(pdf_text(&pdf).contains("ACME Research Cloud"), "{what}");
        app.stop().await;

        let output = crate::helpers::pactum(&["verify"], dir.path());
        assert!(
            output.status.success(),
            "{what}: {}",
            crate::helpers::stderr(&output)
        );
        assert!(
            crate::helpers::stdout(&output).contains("3 documents render to their recorded hashes"),
            "{what}: {}",
            crate::helpers::stdout(&output)
        );
    }
}

#[tokio::test]
async fn an_order_from_before_dates_were_checked_is_not_activated_with_a_made_up_validity() {
    use sqlx::Connection;
    for (start, days, field) in [
        ("9999-12-31", 3650, "start_date"),
        ("0001-01-01", 90, "start_date"),
        ("2999-12-31", 3650, "duration_days"),
    ] {
        let dir = tempfile::TempDir::new().unwrap();
        let app = spawn_app_at(dir.path()).await;
        let cast = cast(&app).await;
        let id = planned_order(&app, &cast).await;
        step(&app, &id, 1, "done", &cast.cesnet).await;
        step(&app, &id, 2, "done", &cast.in2p3).await;
        app.stop().await;

        // Put the dates into the order's submission, as an older pactum accepted
        // them, re-chaining its events so the log is sound.
        let store = pactum::store::EventStore::open(&crate::backend::storage(dir.path()), vec![])
            .await
            .unwrap();
        let mut events = store.load("order", &id).await.unwrap();
        store.close().await;
        events[0].payload["parameters"]["start_date"] = json!(start);
        events[0].payload["parameters"]["duration_days"] = json!(days);
        let mut conn = crate::backend::raw_connection(dir.path()).await;
        let mut prev = String::new();
        for event in &mut events {
            event.hash = pactum::store::recorded_hash(&prev, event);
            prev = event.hash.clone();
            sqlx::query("UPDATE events SET payload = $1, hash = $2 WHERE position = $3")
                .bind(event.payload.to_string())
                .bind(&event.hash)
                .bind(event.position as i64)
                .execute(&mut conn)
                .await
                .unwrap();
        }
        conn.close().await.unwrap();

        let app = spawn_app_at(dir.path()).await;
        let head = app.head();
        let response = app
            .post(&format!("/v1/orders/{id}/activate"), &cast.sam)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        let problem = expect_problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(
            problem["errors"][0]["field"], field,
            "{start} + {days}: {problem}"
        );
        assert_eq!(app.head(), head, "nothing issued");
        app.stop().await;
    }
}

#[tokio::test]
async fn staff_and_a_provider_write_messages_that_only_they_see() {
    let app = spawn_app().await;
    let cast = cast(&app).await;
    let id = planned_order(&app, &cast).await;
    let comment = |by: &str, body: Value| {
        let (app, id, by) = (&app, id.clone(), by.to_owned());
        async move {
            app.post_json(&format!("/v1/orders/{id}/comments"), &by, &body)
                .await
        }
    };
    let (status, body) = comment(
        &cast.sam,
        json!({"body": "Is the quota ready?", "visibility": "provider", "provider": "cesnet-mcc"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = comment(
        &cast.cesnet,
        json!({"body": "Tomorrow morning.", "visibility": "provider"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = comment(
        &cast.sam,
        json!({"body": "Noted.", "visibility": "internal"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    // Refusals: another provider's name, a provider without a step, the
    // customer, a staff message naming no provider.
    let (status, problem) = comment(
        &cast.in2p3,
        json!({"body": "x", "visibility": "provider", "provider": "cesnet-mcc"}),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");
    let (status, _) = comment(&cast.surf, json!({"body": "x", "visibility": "provider"})).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "surf has no step here");
    let (status, problem) = comment(
        &cast.alice,
        json!({"body": "x", "visibility": "provider", "provider": "cesnet-mcc"}),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");
    let (status, problem) =
        comment(&cast.sam, json!({"body": "x", "visibility": "provider"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert!(problem.to_string().contains("provider"), "{problem}");

    let bodies = |view: &Value| -> Vec<String> {
        view["comments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["body"].as_str().unwrap().to_owned())
            .collect()
    };
    let order = format!("/v1/orders/{id}");
    let (_, seen) = app.get_json(&order, &cast.cesnet).await;
    assert_eq!(bodies(&seen), ["Is the quota ready?", "Tomorrow morning."]);
    assert_eq!(seen["comments"][0]["provider"], "cesnet-mcc");
    let (_, seen) = app.get_json(&order, &cast.in2p3).await;
    assert!(bodies(&seen).is_empty(), "{seen}");
    let (_, seen) = app.get_json(&order, &cast.alice).await;
    assert!(bodies(&seen).is_empty(), "{seen}");
    let (_, history) = app.get_json(&format!("{order}/history"), &cast.alice).await;
    assert!(
        !history.to_string().contains("quota ready"),
        "the customer's history has no provider message: {history}"
    );
    let (_, seen) = app.get_json(&order, &cast.sam).await;
    assert_eq!(
        bodies(&seen),
        ["Is the quota ready?", "Tomorrow morning.", "Noted."]
    );
}
