//! pactum as an order management system (OMS) of the EOSC Marketplace,
//! against the testkit's stand-in of the Marketplace's Ordering API: a
//! project item ordered there becomes an order here; what shifters do here
//! (review, a question the customer answers there, approval, provisioning,
//! activation) reaches the item as statuses and messages, once each, across
//! a restart of pactum and a repeated page of the Marketplace's feed.
//! Unmapped items are answered with an internal message and left alone;
//! failing pushes are retried and shown; the trigger wants its credentials;
//! a Marketplace that refuses the OMS's credentials is reported as such.

use std::path::Path;
use std::time::Duration;

use pactum::eosc::{Credentials, EoscConfig};
use pactum_testkit::eosc::Marketplace;
use reqwest::StatusCode;
use reqwest::header::WWW_AUTHENTICATE;
use serde_json::{Value, json};
use tempfile::TempDir;

use crate::helpers::*;

const OMS: &str = "7";
const TOKEN: &str = "oms-user-token";
const TRIGGER: (&str, &str) = ("marketplace", "trigger-secret");

fn config(market: &Marketplace) -> EoscConfig {
    let mut config = EoscConfig::new(market.url.clone(), OMS, TOKEN);
    config.poll_every = Duration::from_millis(200);
    config.retry_min = Duration::from_millis(100);
    config.retry_max = Duration::from_millis(400);
    config.trigger = Some(Credentials::new(TRIGGER.0, TRIGGER.1));
    config.author_email = "oms@egi.example.org".into();
    config
}

async fn serve(dir: &Path, config: EoscConfig) -> TestApp {
    spawn_app_at_with(
        dir,
        Options {
            eosc: Some(config),
            ..Options::default()
        },
    )
    .await
}

/// Alice's project, for ACME.
fn acme_project(market: &Marketplace) -> u64 {
    market.create_project(
        json!({"uid": "alice@egi.eu", "email": "alice@acme.example.org", "name": "Alice Liddell",
               "first_name": "Alice", "last_name": "Liddell"}),
        json!({"name": "Lab cloud", "customer_typology": "research", "organization": "acme",
               "department": "Physics", "country": "NL", "user_group_name": ""}),
    )
}

/// The seed's cloud-compute order, as the Marketplace's offer of it, from
/// January 2027 for 90 days.
fn cloud_item(market: &Marketplace, project: u64, offer: &str) -> u64 {
    market.create_project_item(
        project,
        json!({
            "category": "Compute", "service": "EGI Cloud compute", "offer": offer,
            "order_type": "order_required", "platforms": [], "request_voucher": false,
            "offer_properties": [
                {"id": "cores", "label": "Number of CPU Cores", "type": "input", "value": "4", "value_type": "integer"},
                {"id": "ram", "label": "Amount of RAM per CPU core", "type": "input", "value": "2"},
                {"id": "disk", "label": "Local disk", "type": "input", "value": 40},
                {"id": "vms", "label": "Number of VM instances", "type": "input", "value": "2"},
                {"id": "access", "label": "Access type", "type": "select", "value": "opportunistic"},
                {"id": "start", "label": "Start of service", "type": "date", "value": "04/01/2027"},
                {"id": "days", "label": "Number of days", "type": "input", "value": "90"}
            ]
        }),
    )
}

/// Waits until `check` answers something (the sync runs beside the test).
async fn eventually<T>(what: &str, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(found) = check().await {
            return found;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "gave up waiting: {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The orders a shifter of compute sees.
async fn orders(app: &TestApp, sam: &str) -> Vec<Value> {
    let (status, page) = app.queue(sam, "").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page["orders"].as_array().unwrap().clone()
}

async fn order(app: &TestApp, id: &str, token: &str) -> Value {
    let (status, order) = app.get_json(&format!("/v1/orders/{id}"), token).await;
    assert_eq!(status, StatusCode::OK, "{order}");
    order
}

fn ok((status, body): (StatusCode, Value)) -> Value {
    assert!(status.is_success(), "{status}: {body}");
    body
}

fn statuses(market: &Marketplace, project: u64, item: u64) -> Vec<String> {
    market
        .status_history(project, item)
        .into_iter()
        .map(|(kind, _)| kind)
        .collect()
}

/// (role, scope, content) of each message on the item.
fn messages(market: &Marketplace, project: u64, item: u64) -> Vec<(String, String, String)> {
    market
        .messages(project, item)
        .into_iter()
        .map(|m| {
            (
                m["author"]["role"].as_str().unwrap().to_owned(),
                m["scope"].as_str().unwrap().to_owned(),
                m["content"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

async fn status_reaches(market: &Marketplace, project: u64, item: u64, status: &str) {
    eventually(&format!("the item is {status}"), async || {
        (market.status(project, item) == status).then_some(())
    })
    .await;
}

#[tokio::test]
async fn an_item_ordered_in_the_marketplace_is_approved_in_pactum_and_ready_there() {
    let market = Marketplace::start(OMS, TOKEN).await;
    let project = acme_project(&market);
    let item = cloud_item(&market, project, "General purpose");
    let dir = TempDir::new().unwrap();
    let app = serve(dir.path(), config(&market)).await;
    let sam = app.shifter("sam", &["compute"]).await;
    let alice = app.customer("alice@egi.eu", "acme").await;
    let cesnet = app.provider("ops-cesnet", "cesnet-mcc").await;
    let in2p3 = app.provider("ops-in2p3", "in2p3-ires").await;

    // The item is an order in the queue, for ACME's Alice, with the
    // parameters its legacy string would give; the item is registered.
    let id = eventually("the item becomes an order", async || {
        let orders = orders(&app, &sam).await;
        Some(orders.first()?["id"].as_str()?.to_owned())
    })
    .await;
    let placed = order(&app, &id, &sam).await;
    assert_eq!(placed["service"], "cloud-compute");
    assert_eq!(placed["source"], "eosc");
    assert_eq!(
        placed["customer"],
        json!({"org": "acme", "subject": "alice@egi.eu"})
    );
    assert_eq!(placed["parameters"]["cpu_cores"], 4);
    assert_eq!(placed["parameters"]["start_date"], "2027-01-04");
    // Its reference is the item's, and the queue finds it by it.
    let reference = format!("eosc:{project}/{item}");
    assert_eq!(placed["reference"], reference.as_str());
    let (_, found) = app.queue(&sam, &format!("reference={reference}")).await;
    assert_eq!(found["orders"][0]["id"], id.as_str(), "{found}");
    let (_, none) = app.queue(&sam, "reference=eosc:99/1").await;
    assert_eq!(none["orders"], json!([]), "{none}");
    // The customer sees it in pactum too, as her organisation's order.
    assert_eq!(order(&app, &id, &alice).await["id"], id.as_str());
    status_reaches(&market, project, item, "registered").await;

    // Review and a question: the item is in progress, then waits for the
    // customer's answer, which the Marketplace shows as a message.
    ok(app
        .command(&id, "assign", &sam, json!({"assignee": "sam"}))
        .await);
    status_reaches(&market, project, item, "in_progress").await;
    ok(app
        .command(
            &id,
            "questions",
            &sam,
            json!({"body": "Which VO will use the machines?"}),
        )
        .await);
    status_reaches(&market, project, item, "waiting_for_response").await;
    // Internal words stay in pactum.
    ok(app
        .command(
            &id,
            "comments",
            &sam,
            json!({"body": "check the quota first", "visibility": "internal"}),
        )
        .await);

    // pactum stops; meanwhile the customer answers in the Marketplace.
    app.stop().await;
    market.post_user_message(project, item, "vo.alpha.eu, please");
    // The first page after the restart repeats the whole feed.
    market.repeat_events();
    let app = serve(dir.path(), config(&market)).await;

    // The answer answers the question; the item is in progress again.
    eventually("the answer reaches the order", async || {
        let order = order(&app, &id, &sam).await;
        (order["status"] == "in_review").then_some(())
    })
    .await;
    let answered = order(&app, &id, &sam).await;
    assert_eq!(
        answered["questions"][0]["answer"]["body"],
        "vo.alpha.eu, please"
    );
    status_reaches(&market, project, item, "in_progress").await;

    // Approval, provisioning by two providers, activation: approved, then ready.
    ok(app
        .command(&id, "approve", &sam, json!({"note": "two VMs on CESNET"}))
        .await);
    status_reaches(&market, project, item, "approved").await;
    ok(app
        .command(
            &id,
            "provisioning",
            &sam,
            json!({"steps": [
                {"provider": "cesnet-mcc", "action": "Create project acme-lab with 8 cores"},
                {"provider": "in2p3-ires", "action": "Open a 40 GB volume quota"}
            ]}),
        )
        .await);
    for (step, token) in [(1, &cesnet), (2, &in2p3)] {
        ok(app
            .post_json(
                &format!("/v1/orders/{id}/provisioning/{step}/done"),
                token,
                &json!({"note": "done"}),
            )
            .await);
    }
    ok(app.command(&id, "activate", &sam, json!({})).await);
    status_reaches(&market, project, item, "ready").await;

    // With no question open, the customer's word is a public comment.
    market.post_user_message(project, item, "Thanks, it works.");
    let thanked = eventually("the thanks reach the order", async || {
        let order = order(&app, &id, &sam).await;
        (order["comments"].as_array()?.len() == 2).then_some(order)
    })
    .await;
    let thanks = &thanked["comments"][1];
    assert_eq!(
        (&thanks["body"], &thanks["visibility"], &thanks["author"]),
        (
            &json!("Thanks, it works."),
            &json!("public"),
            &json!("alice@egi.eu")
        ),
        "{thanks}"
    );

    // Everything once: one order, each status change once, each message once.
    // Let the sync run a few more passes (the trigger reads the feed again).
    for _ in 0..3 {
        assert_eq!(
            Marketplace::trigger(&app.url("/v1/integrations/eosc/trigger"), Some(TRIGGER)).await,
            StatusCode::ACCEPTED
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let all = orders(&app, &sam).await;
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(
        statuses(&market, project, item),
        [
            "created",
            "registered",
            "in_progress",
            "waiting_for_response",
            "in_progress",
            "approved",
            "ready"
        ]
    );
    assert_eq!(
        messages(&market, project, item),
        [
            (
                "mediator".to_owned(),
                "public".to_owned(),
                "Which VO will use the machines?".to_owned()
            ),
            (
                "user".to_owned(),
                "public".to_owned(),
                "vo.alpha.eu, please".to_owned()
            ),
            (
                "mediator".to_owned(),
                "public".to_owned(),
                "Your order is approved: two VMs on CESNET".to_owned()
            ),
            (
                "user".to_owned(),
                "public".to_owned(),
                "Thanks, it works.".to_owned()
            ),
        ]
    );
    let active = order(&app, &id, &sam).await;
    assert_eq!(active["status"], "active");
    // The customer's answer was taken once, as the answer, not as a comment
    // too; the comments are the internal one and the thanks.
    assert_eq!(active["questions"].as_array().unwrap().len(), 1);
    let comments = active["comments"].as_array().unwrap();
    assert_eq!(comments.len(), 2, "{comments:?}");
    assert_eq!(comments[0]["visibility"], "internal");
    let messages_by_pactum = market
        .messages(project, item)
        .into_iter()
        .filter(|m| m["author"]["role"] == "mediator")
        .collect::<Vec<_>>();
    assert!(
        messages_by_pactum
            .iter()
            .all(|m| m["author"]["email"] == "oms@egi.example.org"),
        "{messages_by_pactum:?}"
    );
    app.stop().await;
}

#[tokio::test]
async fn an_item_that_maps_to_no_service_is_answered_internally_and_left_alone() {
    let market = Marketplace::start(OMS, TOKEN).await;
    let project = acme_project(&market);
    let item = cloud_item(&market, project, "Huge machine");
    let app = spawn_app_with(Options {
        eosc: Some(config(&market)),
        ..Options::default()
    })
    .await;
    let sam = app.shifter("sam", &["compute"]).await;
    let note = eventually("the item is answered", async || {
        let messages = messages(&market, project, item);
        messages.into_iter().next()
    })
    .await;
    assert_eq!((note.0.as_str(), note.1.as_str()), ("mediator", "internal"));
    assert!(
        note.2
            .contains("\"Compute/EGI Cloud compute/Huge machine\" is not mapped"),
        "{}",
        note.2
    );
    // Later passes do not answer it again, nor take it.
    let polls = |market: &Marketplace| {
        market
            .calls()
            .iter()
            .filter(|c| c.starts_with("GET /events"))
            .count()
    };
    let seen = polls(&market);
    eventually("two more polls", async || {
        (polls(&market) >= seen + 2).then_some(())
    })
    .await;
    assert_eq!(messages(&market, project, item).len(), 1);
    assert_eq!(statuses(&market, project, item), ["created"]);
    assert!(orders(&app, &sam).await.is_empty());
    app.stop().await;
}

/// The admin console's page as `token`'s holder sees it.
async fn admin_page(app: &TestApp, token: &str) -> String {
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let form = browser.get(app.url("/login")).send().await.unwrap();
    let csrf = crate::signin::csrf_of(&form.text().await.unwrap());
    let signed_in = browser
        .post(app.url("/login/token"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("token", token),
            ("return_to", "/"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
    browser
        .get(app.url("/ui/admin"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// The value of an unlabelled metric in Prometheus text.
fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(&format!("{name} ")))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in {text}"))
}

#[tokio::test]
async fn a_failing_push_is_retried_shown_and_lands_once() {
    let market = Marketplace::start(OMS, TOKEN).await;
    let project = acme_project(&market);
    let item = cloud_item(&market, project, "General purpose");
    // Every change pactum asks for fails until the test lets them through.
    market.fail_next(usize::MAX);
    let app = spawn_app_with(Options {
        eosc: Some(config(&market)),
        ..Options::default()
    })
    .await;
    let ada = app.role("ada", "admin").await;
    let metrics = eventually("a failure in /metrics", async || {
        let text = app
            .get("/metrics", &ada)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        (metric(&text, "pactum_eosc_push_failures_total") >= 2.0).then_some(text)
    })
    .await;
    assert_eq!(metric(&metrics, "pactum_eosc_pushes_pending"), 1.0);

    // The admin console lists it, with the Marketplace's error.
    let page = admin_page(&app, &ada).await;
    assert!(
        page.contains("<h2 id=\"eosc\">EOSC Marketplace</h2>"),
        "{page}"
    );
    assert!(page.contains(&format!("{project}/{item}")), "{page}");
    assert!(page.contains("500 Internal Server Error"), "{page}");

    // The Marketplace recovers: the push lands, once.
    market.fail_next(0);
    status_reaches(&market, project, item, "registered").await;
    eventually("nothing pending", async || {
        let text = app
            .get("/metrics", &ada)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        (metric(&text, "pactum_eosc_pushes_pending") == 0.0).then_some(())
    })
    .await;
    assert_eq!(statuses(&market, project, item), ["created", "registered"]);
    app.stop().await;
}

#[tokio::test]
async fn the_trigger_wants_its_credentials_and_wakes_the_sync() {
    let market = Marketplace::start(OMS, TOKEN).await;
    let project = acme_project(&market);
    let mut config = config(&market);
    // Only the trigger reads the feed after the first pass.
    config.poll_every = Duration::from_secs(3600);
    let app = spawn_app_with(Options {
        eosc: Some(config),
        ..Options::default()
    })
    .await;
    let sam = app.shifter("sam", &["compute"]).await;
    let trigger = app.url("/v1/integrations/eosc/trigger");
    eventually("the first pass", async || {
        market
            .calls()
            .iter()
            .any(|c| c.starts_with("GET /events"))
            .then_some(())
    })
    .await;
    let item = cloud_item(&market, project, "General purpose");

    for credentials in [
        None,
        Some(("marketplace", "wrong")),
        Some(("other", TRIGGER.1)),
    ] {
        let mut request = app.client.post(&trigger);
        if let Some((user, password)) = credentials {
            request = request.basic_auth(user, Some(password));
        }
        let response = request.send().await.unwrap();
        assert_eq!(
            response.headers()[WWW_AUTHENTICATE]
                .to_str()
                .unwrap()
                .split(' ')
                .next(),
            Some("Basic"),
            "{credentials:?}"
        );
        let problem = expect_problem(response, StatusCode::UNAUTHORIZED).await;
        assert!(
            problem["detail"].as_str().unwrap().contains("Basic"),
            "{problem}"
        );
    }
    // A bearer token is no credential for the trigger.
    let bearer = app.post(
        "/v1/integrations/eosc/trigger",
        &app.role("ada", "admin").await,
    );
    assert_eq!(
        bearer.send().await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    assert!(orders(&app, &sam).await.is_empty());

    assert_eq!(
        Marketplace::trigger(&trigger, Some(TRIGGER)).await,
        StatusCode::ACCEPTED
    );
    eventually("the woken sync takes the item", async || {
        (orders(&app, &sam).await.len() == 1).then_some(())
    })
    .await;
    status_reaches(&market, project, item, "registered").await;
    app.stop().await;

    // A server without the adapter does not serve the trigger.
    let plain = spawn_app().await;
    let response = plain
        .client
        .post(plain.url("/v1/integrations/eosc/trigger"))
        .basic_auth(TRIGGER.0, Some(TRIGGER.1))
        .send()
        .await
        .unwrap();
    expect_problem(response, StatusCode::NOT_FOUND).await;
}

// The binary runs while this test waits for it: the stand-in answers it from
// another thread.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eosc_sync_runs_one_pass_and_names_refused_credentials() {
    let market = Marketplace::start(OMS, TOKEN).await;
    let project = acme_project(&market);
    let item = cloud_item(&market, project, "General purpose");
    let dir = TempDir::new().unwrap();
    let sync = |token: &str, oms: &str| {
        pactum(
            &[
                "eosc",
                "sync",
                "--eosc-url",
                &market.url,
                "--eosc-oms-id",
                oms,
                "--eosc-token",
                token,
            ],
            dir.path(),
        )
    };

    let output = sync(TOKEN, OMS);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("1 new order(s)"),
        "{}",
        stderr(&output)
    );
    assert_eq!(market.status(project, item), "registered");
    // Again: nothing new.
    let again = sync(TOKEN, OMS);
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(
        stderr(&again).contains("0 new order(s)"),
        "{}",
        stderr(&again)
    );
    assert_eq!(statuses(&market, project, item), ["created", "registered"]);

    let refused = sync("not-the-token", OMS);
    assert!(!refused.status.success());
    let text = stderr(&refused);
    assert!(
        text.contains("401") && text.contains("PACTUM_EOSC_TOKEN"),
        "{text}"
    );

    let forbidden = sync(TOKEN, "8");
    assert!(!forbidden.status.success());
    let text = stderr(&forbidden);
    assert!(
        text.contains("403") && text.contains("OMS 8") && text.contains("--eosc-oms-id"),
        "{text}"
    );
}

#[tokio::test]
async fn the_stand_in_speaks_the_ordering_api() {
    // The stand-in holds pactum to the API's rules; these are the ones the
    // adapter must never break, checked here so a lax stand-in cannot hide it.
    let market = Marketplace::start(OMS, TOKEN).await;
    let project = acme_project(&market);
    let item = cloud_item(&market, project, "General purpose");
    let client = reqwest::Client::new();
    let api = |path: &str| format!("{}/api/v1/oms/{OMS}/{path}", market.url);
    let get = |path: String, token: &str| client.get(path).header("X-User-Token", token);
    for (path, status) in [
        ("events", StatusCode::BAD_REQUEST),
        (
            "events?from_timestamp=2026-03-01T10:00:00%2B01:00",
            StatusCode::BAD_REQUEST,
        ),
        ("events?from_timestamp=yesterday", StatusCode::BAD_REQUEST),
        ("events?from_timestamp=1970-01-01T00:00:00Z", StatusCode::OK),
    ] {
        let response = get(api(path), TOKEN).send().await.unwrap();
        assert_eq!(response.status(), status, "{path}");
        let body: Value = response.json().await.unwrap();
        if status == StatusCode::OK {
            let events = body["events"].as_array().unwrap();
            assert_eq!(events.len(), 2, "{body}");
            assert_eq!(events[1]["resource"], "project_item");
            assert!(events[1]["timestamp"].as_str().unwrap().ends_with('Z'));
        } else {
            assert!(body["error"].is_string(), "{body}");
        }
    }
    let unauthorised = get(api("projects/1"), "wrong").send().await.unwrap();
    assert_eq!(unauthorised.status(), StatusCode::UNAUTHORIZED);
    let other_oms = get(format!("{}/api/v1/oms/8/projects/1", market.url), TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(other_oms.status(), StatusCode::FORBIDDEN);
    let patch = |body: Value| {
        client
            .patch(api(&format!("projects/{project}/project_items/{item}")))
            .header("X-User-Token", TOKEN)
            .json(&body)
    };
    for bad in [
        json!({}),
        json!({"status": {"value": "x", "type": "done"}}),
        json!({"status": {"value": "x"}}),
        json!({"colour": "red"}),
    ] {
        assert_eq!(
            patch(bad.clone()).send().await.unwrap().status(),
            StatusCode::BAD_REQUEST,
            "{bad}"
        );
    }
    let post = |body: Value| {
        client
            .post(api("messages"))
            .header("X-User-Token", TOKEN)
            .json(&body)
    };
    let author = json!({"email": "oms@x", "name": "OMS", "role": "mediator"});
    for bad in [
        json!({"project_id": project, "author": author, "content": "x", "scope": "everyone"}),
        json!({"project_id": project, "author": {"email": "a", "name": "b", "role": "user"}, "content": "x", "scope": "public"}),
        json!({"author": author, "content": "x", "scope": "public"}),
    ] {
        assert_eq!(
            post(bad.clone()).send().await.unwrap().status(),
            StatusCode::BAD_REQUEST,
            "{bad}"
        );
    }
    for n in 0..3 {
        let created = post(json!({"project_id": project, "project_item_id": item,
            "author": author, "content": format!("m{n}"), "scope": "public"}))
        .send()
        .await
        .unwrap();
        assert_eq!(created.status(), StatusCode::CREATED);
    }
    let page: Value = get(
        api(&format!(
            "messages?project_id={project}&project_item_id={item}&from_id=1&limit=1"
        )),
        TOKEN,
    )
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(page["messages"].as_array().unwrap().len(), 1);
    assert_eq!(page["messages"][0]["id"], 2);
    assert_eq!(page["messages"][0]["content"], "m1");
}

#[tokio::test]
async fn a_marketplace_that_refuses_the_token_is_named_in_the_console() {
    let market = Marketplace::start(OMS, TOKEN).await;
    let mut config = config(&market);
    config.token = pactum::eosc::Secret("a-revoked-token".into());
    let app = spawn_app_with(Options {
        eosc: Some(config),
        ..Options::default()
    })
    .await;
    let ada = app.role("ada", "admin").await;
    let page = eventually("the console names the refusal", async || {
        let page = admin_page(&app, &ada).await;
        page.contains("refused the OMS token (401").then_some(page)
    })
    .await;
    assert!(page.contains("PACTUM_EOSC_TOKEN"), "{page}");
    app.stop().await;
}

// The binary runs while this test waits for it: the stand-in answers it from
// another thread.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_posted_but_not_recorded_is_not_posted_again() {
    let market = Marketplace::start(OMS, TOKEN).await;
    let project = acme_project(&market);
    let item = cloud_item(&market, project, "General purpose");
    let dir = TempDir::new().unwrap();
    let sync = || {
        let output = pactum(
            &[
                "eosc",
                "sync",
                "--eosc-url",
                &market.url,
                "--eosc-oms-id",
                OMS,
                "--eosc-token",
                TOKEN,
                "--eosc-author-email",
                "oms@egi.example.org",
            ],
            dir.path(),
        );
        assert!(output.status.success(), "{}", stderr(&output));
        stderr(&output)
    };
    sync();
    let app = spawn_app_at(dir.path()).await;
    let sam = app.shifter("sam", &["compute"]).await;
    let id = orders(&app, &sam).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    ok(app
        .command(&id, "questions", &sam, json!({"body": "Which VO?"}))
        .await);
    app.stop().await;
    // pactum posted the question and stopped before recording it: the
    // Marketplace has it, pactum's log does not.
    let posted = reqwest::Client::new()
        .post(format!("{}/api/v1/oms/{OMS}/messages", market.url))
        .header("X-User-Token", TOKEN)
        .json(&json!({"project_id": project, "project_item_id": item,
            "author": {"email": "oms@egi.example.org", "name": "sam (pactum)", "role": "mediator"},
            "content": "Which VO?", "scope": "public"}))
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), StatusCode::CREATED);
    let report = sync();
    assert!(report.contains("2 push(es) delivered"), "{report}");
    assert_eq!(
        messages(&market, project, item),
        [(
            "mediator".to_owned(),
            "public".to_owned(),
            "Which VO?".to_owned()
        )]
    );
    assert_eq!(market.status(project, item), "waiting_for_response");
    // And the adopted message is pactum's: read back, it is not imported.
    let again = sync();
    assert!(again.contains("0 message(s) imported"), "{again}");
}

#[tokio::test]
async fn a_restart_behind_a_failing_push_re_reads_the_log_and_repeats_nothing() {
    let market = Marketplace::start(OMS, TOKEN).await;
    let project = acme_project(&market);
    let stuck = cloud_item(&market, project, "General purpose");
    let moving = cloud_item(&market, project, "General purpose");
    // The first item's pushes fail: following the log cannot be recorded past
    // its first event, while the second item's pushes land.
    market.fail_item(project, stuck, usize::MAX);
    let dir = TempDir::new().unwrap();
    let app = serve(dir.path(), config(&market)).await;
    let sam = app.shifter("sam", &["compute"]).await;
    status_reaches(&market, project, moving, "registered").await;
    let reference = format!("reference=eosc:{project}/{moving}");
    let id = eventually("the second item's order", async || {
        let (_, page) = app.queue(&sam, &reference).await;
        Some(page["orders"][0]["id"].as_str()?.to_owned())
    })
    .await;
    ok(app
        .command(&id, "assign", &sam, json!({"assignee": "sam"}))
        .await);
    ok(app
        .command(
            &id,
            "comments",
            &sam,
            json!({"body": "On it.", "visibility": "public"}),
        )
        .await);
    status_reaches(&market, project, moving, "in_progress").await;
    eventually("the comment is posted", async || {
        (messages(&market, project, moving).len() == 1).then_some(())
    })
    .await;

    // A restart reads the log again from before the first item's event, past
    // the second item's events, whose pushes are recorded: none repeats.
    app.stop().await;
    let app = serve(dir.path(), config(&market)).await;
    let polls = |market: &Marketplace| {
        market
            .calls()
            .iter()
            .filter(|c| c.starts_with("GET /events"))
            .count()
    };
    let seen = polls(&market);
    eventually("a few passes", async || {
        (polls(&market) >= seen + 3).then_some(())
    })
    .await;
    assert_eq!(
        statuses(&market, project, moving),
        ["created", "registered", "in_progress"]
    );
    assert_eq!(messages(&market, project, moving).len(), 1);
    assert_eq!(statuses(&market, project, stuck), ["created"]);

    // The first item's Marketplace recovers: its push lands, once.
    market.fail_item(project, stuck, 0);
    status_reaches(&market, project, stuck, "registered").await;
    assert_eq!(statuses(&market, project, stuck), ["created", "registered"]);
    assert_eq!(orders(&app, &sam).await.len(), 2);
    app.stop().await;
}
