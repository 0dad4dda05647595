//! The console over HTTP, as a browser uses it: signing in with a pactum token
//! (no OpenID provider configured), the queue and an order's forms for a
//! shifter, the generated order form for a customer (refusals at their
//! fields), a provider's step, an auditor's look into the past; CSRF refused,
//! output escaped, pages under a strict Content-Security-Policy.

use futures::StreamExt;
use reqwest::StatusCode;
use reqwest::header::{CONTENT_SECURITY_POLICY, LOCATION, SET_COOKIE};
use serde_json::json;

use crate::helpers::*;
use crate::signin::csrf_of;

fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Signs `token`'s holder in to the console in `browser`.
async fn sign_in(app: &TestApp, browser: &reqwest::Client, token: &str) {
    let form = browser.get(app.url("/login")).send().await.unwrap();
    assert_eq!(form.status(), StatusCode::OK);
    let page = form.text().await.unwrap();
    let csrf = csrf_of(&page);
    let response = browser
        .post(app.url("/login/token"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("token", token),
            ("return_to", "/"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "signed in");
    assert_eq!(response.headers()[LOCATION], "/");
}

async fn page(app: &TestApp, browser: &reqwest::Client, path: &str) -> (StatusCode, String) {
    let response = browser.get(app.url(path)).send().await.unwrap();
    let status = response.status();
    if status == StatusCode::OK {
        let policy = response.headers()[CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap();
        assert!(policy.contains("default-src 'none'"), "{policy}");
        assert!(!policy.contains("unsafe-inline"), "{policy}");
        assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    }
    (status, response.text().await.unwrap())
}

async fn post_form(
    app: &TestApp,
    browser: &reqwest::Client,
    path: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    browser
        .post(app.url(path))
        .form(fields)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_visitor_is_sent_to_sign_in_and_a_bad_or_forged_sign_in_is_refused() {
    let app = spawn_app().await;
    let browser = browser();
    let (status, home) = page(&app, &browser, "/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(home.contains("href=\"/login\""), "{home}");
    let response = browser.get(app.url("/ui/orders")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        response.headers()[LOCATION],
        "/login?return_to=%2Fui%2Forders"
    );

    // The form is tied to the browser it was shown to (a cookie and a field).
    let form = browser.get(app.url("/login")).send().await.unwrap();
    assert!(
        form.headers()[SET_COOKIE]
            .to_str()
            .unwrap()
            .contains("HttpOnly")
    );
    let csrf = csrf_of(&form.text().await.unwrap());
    let response = post_form(
        &app,
        &browser,
        "/login/token",
        &[("csrf", csrf.as_str()), ("token", "pct_nonsense")],
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("not a valid, live pactum token")
    );
    let alice = app.customer("alice", "acme").await;
    let elsewhere = reqwest::Client::new();
    let response = elsewhere
        .post(app.url("/login/token"))
        .form(&[("csrf", csrf.as_str()), ("token", alice.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::UNAUTHORIZED,
        "no cookie: a forged form"
    );
    assert!(!response.headers().contains_key(LOCATION));
}

#[tokio::test]
async fn a_shifter_works_an_order_from_the_queue_with_forms() {
    let app = spawn_app().await;
    let alice = app.customer("alice", "acme").await;
    let sam = app.shifter("sam", &["compute"]).await;
    let id = app.submit(&alice).await;
    let browser = browser();
    sign_in(&app, &browser, &sam).await;

    let (status, queue) = page(&app, &browser, "/ui/orders").await;
    assert_eq!(status, StatusCode::OK);
    assert!(queue.contains(&format!("/ui/orders/{id}")), "{queue}");
    assert!(queue.contains("Lab cloud"), "{queue}");
    let order_path = format!("/ui/orders/{id}");
    let (_, order) = page(&app, &browser, &order_path).await;
    for form in ["Assign to me", "Approve", "Reject", "staff only (internal)"] {
        assert!(order.contains(form), "{form}: {order}");
    }
    let csrf = csrf_of(&order);

    // A form without the session's token is refused, and changes nothing.
    let head = app.head();
    let response = post_form(
        &app,
        &browser,
        &order_path,
        &[("csrf", "forged"), ("action", "approve")],
    )
    .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.head(), head);

    for fields in [
        vec![("action", "assign")],
        vec![
            ("action", "comment"),
            ("visibility", "internal"),
            ("body", "quota is tight"),
        ],
        vec![("action", "approve"), ("note", "fine")],
    ] {
        let mut fields = fields.clone();
        fields.push(("csrf", csrf.as_str()));
        let response = post_form(&app, &browser, &order_path, &fields).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{fields:?}");
        assert_eq!(response.headers()[LOCATION], order_path.as_str());
    }
    let (_, view) = app.get_json(&format!("/v1/orders/{id}"), &sam).await;
    assert_eq!(view["status"], "approved");
    assert_eq!(view["assignee"], "sam");
    assert_eq!(view["comments"][0]["visibility"], "internal");
    let (_, order) = page(&app, &browser, &order_path).await;
    assert!(
        order.contains("class=\"internal\""),
        "the timeline marks it: {order}"
    );

    // A refusal is shown on the page, with its status.
    let response = post_form(
        &app,
        &browser,
        &order_path,
        &[("csrf", csrf.as_str()), ("action", "approve")],
    )
    .await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    assert!(response.text().await.unwrap().contains("role=\"alert\""));

    // The customer never sees the internal comment, nor staff forms.
    let customer = browser_signed_in(&app, &alice).await;
    let (_, to_alice) = page(&app, &customer, &order_path).await;
    assert!(!to_alice.contains("quota is tight"), "{to_alice}");
    assert!(!to_alice.contains("Assign to me"), "{to_alice}");

    // The session cookie does nothing under /v1/.
    let response = browser.get(app.url("/v1/orders")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

async fn browser_signed_in(app: &TestApp, token: &str) -> reqwest::Client {
    let browser = browser();
    sign_in(app, &browser, token).await;
    browser
}

#[tokio::test]
async fn a_customer_orders_through_the_generated_form_and_sees_errors_at_their_fields() {
    let app = spawn_app().await;
    let alice = app.customer("alice", "acme").await;
    let browser = browser_signed_in(&app, &alice).await;
    let (_, services) = page(&app, &browser, "/ui/services").await;
    assert!(
        services.contains("/ui/services/cloud-compute/order"),
        "{services}"
    );
    let (_, form) = page(&app, &browser, "/ui/services/cloud-compute/order").await;
    for control in [
        "id=\"p-cpu_cores\" name=\"cpu_cores\" type=\"number\"",
        "min=\"1\" max=\"1024\"",
        "<option value=\"guaranteed\"",
        "name=\"start_date\" type=\"date\"",
    ] {
        assert!(form.contains(control), "{control}: {form}");
    }
    let csrf = csrf_of(&form);
    let mut fields = vec![
        ("csrf", csrf.clone()),
        ("title", "Lab cloud".to_owned()),
        ("ram_per_core_gb", "2".to_owned()),
        ("local_disk_gb", "40".to_owned()),
        ("vm_instances", "2".to_owned()),
        ("access_type", "opportunistic".to_owned()),
        ("start_date", "2027-01-04".to_owned()),
        ("duration_days", "30".to_owned()),
        ("cpu_cores", "5000".to_owned()),
    ];
    let as_refs =
        |fields: &Vec<(&'static str, String)>| -> Vec<(&'static str, String)> { fields.clone() };
    let response = browser
        .post(app.url("/ui/services/cloud-compute/order"))
        .form(&as_refs(&fields))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let refused = response.text().await.unwrap();
    assert!(
        refused.contains("id=\"e-cpu_cores\""),
        "the error at its field: {refused}"
    );
    assert!(refused.contains("aria-invalid=\"true\""), "{refused}");
    assert!(
        refused.contains("value=\"5000\""),
        "what was typed stays: {refused}"
    );
    assert!(!refused.contains("id=\"e-vm_instances\""), "{refused}");

    fields.last_mut().unwrap().1 = "8".to_owned();
    let response = browser
        .post(app.url("/ui/services/cloud-compute/order"))
        .form(&fields)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let to = response.headers()[LOCATION].to_str().unwrap().to_owned();
    let id = to.strip_prefix("/ui/orders/").unwrap();
    let (status, order) = app.get_json(&format!("/v1/orders/{id}"), &alice).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(order["parameters"]["cpu_cores"], 8);
    assert_eq!(order["title"], "Lab cloud");
    let (_, mine) = page(&app, &browser, "/ui/orders").await;
    assert!(mine.contains(&to), "{mine}");
}

#[tokio::test]
async fn pages_escape_what_they_show() {
    let app = spawn_app().await;
    let alice = app.customer("alice", "acme").await;
    let sam = app.shifter("sam", &["compute"]).await;
    let mut order = cloud_order();
    order["title"] = json!("<script>alert(1)</script>");
    let (status, created) = app.post_json("/v1/orders", &alice, &order).await;
    assert_eq!(status, StatusCode::CREATED);
    let id = created["id"].as_str().unwrap();
    let browser = browser_signed_in(&app, &sam).await;
    for path in ["/ui/orders".to_owned(), format!("/ui/orders/{id}")] {
        let (_, html) = page(&app, &browser, &path).await;
        assert!(!html.contains("<script>alert"), "{path}: {html}");
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;/script&gt;")
                || html.contains("&#60;script&#62;"),
            "{path}"
        );
    }
}

#[tokio::test]
async fn a_provider_reports_its_step_and_an_auditor_sees_the_order_as_it_was() {
    let app = spawn_app().await;
    let alice = app.customer("alice", "acme").await;
    let sam = app.shifter("sam", &["compute"]).await;
    let olga = app.provider("olga", "cesnet-mcc").await;
    let audrey = app.role("audrey", "auditor").await;
    let id = app.submit(&alice).await;
    app.command(&id, "approve", &sam, json!({})).await;
    let before_plan = jiff::Timestamp::now();
    let (status, _) = app
        .command(
            &id,
            "provisioning",
            &sam,
            json!({"steps": [{"provider": "cesnet-mcc", "action": "a project"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    let provider = browser_signed_in(&app, &olga).await;
    let path = format!("/ui/orders/{id}");
    let (status, order) = page(&app, &provider, &path).await;
    assert_eq!(status, StatusCode::OK, "{order}");
    assert!(order.contains("value=\"step_done\""), "{order}");
    let csrf = csrf_of(&order);
    let response = post_form(
        &app,
        &provider,
        &path,
        &[
            ("csrf", csrf.as_str()),
            ("step", "1"),
            ("note", "project made"),
            ("action", "step_done"),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let (_, view) = app.get_json(&path.replace("/ui/", "/v1/"), &sam).await;
    assert_eq!(view["provisioning"][0]["status"], "done");

    let auditor = browser_signed_in(&app, &audrey).await;
    let then = before_plan.to_string();
    let query = serde_urlencoded::to_string([("as_of", then.as_str())]).unwrap();
    let (status, past) = page(&app, &auditor, &format!("{path}?{query}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(past.contains("As it was at"), "{past}");
    assert!(past.contains(">approved<"), "{past}");
    assert!(!past.contains("a project"), "no step planned yet: {past}");
    assert!(!past.contains("value=\"approve\""), "no forms in the past");
}

#[tokio::test]
async fn the_queue_page_hears_when_the_log_moves() {
    let app = spawn_app().await;
    let alice = app.customer("alice", "acme").await;
    let sam = app.shifter("sam", &["compute"]).await;
    let browser = browser_signed_in(&app, &sam).await;
    let (_, queue) = page(&app, &browser, "/ui/orders").await;
    assert!(queue.contains("data-live=\"/ui/orders/rows?"), "{queue}");
    let response = browser.get(app.url("/ui/stream")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut events = response.bytes_stream();
    let id = app.submit(&alice).await;
    let heard = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        let mut seen = String::new();
        while let Some(chunk) = events.next().await {
            seen.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
            if seen.contains("event: changed") {
                return seen;
            }
        }
        seen
    })
    .await
    .expect("an event within 10 s");
    assert!(heard.contains("event: changed"), "{heard}");
    let (_, rows) = page(&app, &browser, "/ui/orders/rows").await;
    assert!(rows.contains(&id), "{rows}");
}

#[tokio::test]
async fn an_admin_issues_and_revokes_tokens_and_manages_members_from_the_console() {
    let app = spawn_app().await;
    let ada = app.role("ada", "admin").await;
    let sam = app.shifter("sam", &["compute"]).await;
    let browser = browser_signed_in(&app, &ada).await;
    let (status, admin) = page(&app, &browser, "/ui/admin").await;
    assert_eq!(status, StatusCode::OK);
    assert!(admin.contains("Compute"), "{admin}");
    let csrf = csrf_of(&admin);

    // A token issued here is shown once and works.
    let response = post_form(
        &app,
        &browser,
        "/ui/admin/tokens",
        &[
            ("csrf", csrf.as_str()),
            ("subject", "nina"),
            ("role", "customer"),
            ("org", "acme"),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let shown = response.text().await.unwrap();
    let at = shown.find("<code>pct_").expect("the secret, once") + 6;
    let secret = shown[at..].split('<').next().unwrap().to_owned();
    let (status, me) = app.get_json("/v1/me", &secret).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["subject"], "nina");
    let (_, again) = page(&app, &browser, "/ui/admin").await;
    assert!(!again.contains(&secret), "never shown again");

    // A bad one is refused on the page, nothing issued.
    let response = post_form(
        &app,
        &browser,
        "/ui/admin/tokens",
        &[
            ("csrf", csrf.as_str()),
            ("subject", "x"),
            ("role", "wizard"),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(response.text().await.unwrap().contains("unknown role"));

    // Revoked from the console: it stops working at once.
    let (_, tokens) = app.get_json("/v1/tokens?subject=nina", &ada).await;
    let id = tokens["tokens"][0]["token_id"].as_str().unwrap().to_owned();
    let response = post_form(
        &app,
        &browser,
        "/ui/admin/revoke",
        &[("csrf", csrf.as_str()), ("token", id.as_str())],
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        app.get_json("/v1/me", &secret).await.0,
        StatusCode::UNAUTHORIZED
    );

    // Members: out of compute, sam no longer sees its orders; back in, he does.
    let alice = app.customer("alice", "acme").await;
    let id = app.submit(&alice).await;
    let order = format!("/v1/orders/{id}");
    let response = post_form(
        &app,
        &browser,
        "/ui/admin/members",
        &[
            ("csrf", csrf.as_str()),
            ("of", "group"),
            ("scope", "compute"),
            ("subject", "sam"),
            ("op", "remove"),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.get_json(&order, &sam).await.0, StatusCode::NOT_FOUND);
    let response = post_form(
        &app,
        &browser,
        "/ui/admin/members",
        &[
            ("csrf", csrf.as_str()),
            ("of", "group"),
            ("scope", "compute"),
            ("subject", "sam"),
            ("op", "add"),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.get_json(&order, &sam).await.0, StatusCode::OK);

    // Forged, or not an admin: refused.
    let head = app.head();
    let response = post_form(
        &app,
        &browser,
        "/ui/admin/members",
        &[("csrf", "forged"), ("scope", "compute"), ("subject", "eve")],
    )
    .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let shifter = browser_signed_in(&app, &sam).await;
    let (status, _) = page(&app, &shifter, "/ui/admin").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(app.head(), head);
}

#[tokio::test]
async fn an_auditor_reads_the_log_and_the_report_a_shifter_does_not_read_the_log() {
    let app = spawn_app().await;
    let alice = app.customer("alice", "acme").await;
    let sam = app.shifter("sam", &["compute"]).await;
    let audrey = app.role("audrey", "auditor").await;
    let id = app.submit(&alice).await;
    app.command(&id, "approve", &sam, json!({})).await;
    let auditor = browser_signed_in(&app, &audrey).await;
    let (status, log) = page(&app, &auditor, "/ui/events").await;
    assert_eq!(status, StatusCode::OK);
    assert!(log.contains("OrderApproved"), "{log}");
    assert!(log.contains(&format!("/ui/orders/{id}")), "{log}");
    let (status, report) = page(&app, &auditor, "/ui/reports").await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert!(report.contains("<svg"), "a chart: {report}");
    assert!(
        report.contains("<td>cloud-compute</td><td>compute</td><td>1</td><td>1</td>"),
        "{report}"
    );
    let shifter = browser_signed_in(&app, &sam).await;
    let (status, _) = page(&app, &shifter, "/ui/events").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_shifter_proposes_and_plans_a_customer_accepts_a_provider_finds_its_steps() {
    let app = spawn_app().await;
    let alice = app.customer("alice", "acme").await;
    let sam = app.shifter("sam", &["compute"]).await;
    let olga = app.provider("olga", "cesnet-mcc").await;
    let id = app.submit(&alice).await;
    let path = format!("/ui/orders/{id}");
    let shifter = browser_signed_in(&app, &sam).await;
    let (_, order) = page(&app, &shifter, &path).await;
    let csrf = csrf_of(&order);
    assert!(
        order.contains("name=\"p_cpu_cores\" value=\"4\""),
        "{order}"
    );

    // A proposal of 2 cores instead of 4: the changed parameter only.
    let response = post_form(
        &app,
        &shifter,
        &path,
        &[
            ("csrf", csrf.as_str()),
            ("action", "propose"),
            ("p_cpu_cores", "2"),
            ("p_ram_per_core_gb", "2"),
            ("p_local_disk_gb", "40"),
            ("p_vm_instances", "2"),
            ("p_access_type", "opportunistic"),
            ("p_start_date", "2019-12-02"),
            ("p_duration_days", "2"),
            ("note", "only 2 free"),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let (_, view) = app.get_json(&format!("/v1/orders/{id}"), &sam).await;
    assert_eq!(
        view["proposals"][0]["changed"],
        json!(["cpu_cores"]),
        "{view}"
    );

    // The customer accepts it from its page.
    let customer = browser_signed_in(&app, &alice).await;
    let (_, to_alice) = page(&app, &customer, &path).await;
    assert!(to_alice.contains("value=\"accept\""), "{to_alice}");
    let customer_csrf = csrf_of(&to_alice);
    let response = post_form(
        &app,
        &customer,
        &path,
        &[
            ("csrf", customer_csrf.as_str()),
            ("proposal", "1"),
            ("action", "accept"),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let (_, view) = app.get_json(&format!("/v1/orders/{id}"), &alice).await;
    assert_eq!(view["agreed_parameters"]["cpu_cores"], 2);

    // Approved, then planned from the form (only providers that deliver the service offered).
    app.command(&id, "approve", &sam, json!({})).await;
    let (_, order) = page(&app, &shifter, &path).await;
    assert!(order.contains("<option value=\"cesnet-mcc\">"), "{order}");
    assert!(
        !order.contains("<option value=\"surf\">"),
        "surf delivers no cloud compute"
    );
    let response = post_form(
        &app,
        &shifter,
        &path,
        &[
            ("csrf", csrf.as_str()),
            ("action", "plan"),
            ("provider_1", "cesnet-mcc"),
            ("step_1", "Create the project"),
            ("provider_2", ""),
            ("step_2", ""),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);

    // The operator finds it among its steps.
    let operator = browser_signed_in(&app, &olga).await;
    let (status, steps) = page(&app, &operator, "/ui/steps").await;
    assert_eq!(status, StatusCode::OK);
    assert!(steps.contains("Create the project"), "{steps}");
    assert!(steps.contains(&path), "{steps}");
}

#[tokio::test]
async fn an_admin_edits_the_catalogue_targets_and_brands_as_json_and_an_auditor_verifies() {
    let app = spawn_app().await;
    let ada = app.role("ada", "admin").await;
    let admin = browser_signed_in(&app, &ada).await;
    let (status, editor) = page(&app, &admin, "/ui/admin/edit/service/cloud-compute").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        editor.contains("&quot;version&quot;: 1") || editor.contains("&#34;version&#34;: 1"),
        "{editor}"
    );
    let csrf = csrf_of(&editor);
    let (_, mut service) = app.get_json("/v1/services/cloud-compute", &ada).await;
    service["name"] = json!("EGI Cloud Compute (edited)");
    let json_text = service.to_string();
    let response = post_form(
        &app,
        &admin,
        "/ui/admin/edit/service/cloud-compute",
        &[("csrf", csrf.as_str()), ("json", json_text.as_str())],
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let (_, now) = app.get_json("/v1/services/cloud-compute", &ada).await;
    assert_eq!(
        (now["version"].clone(), now["name"].clone()),
        (json!(2), json!("EGI Cloud Compute (edited)"))
    );

    // A refusal comes back with what was typed.
    let response = post_form(
        &app,
        &admin,
        "/ui/admin/edit/group/Bad_Id",
        &[("csrf", csrf.as_str()), ("json", "{\"name\": \"x\"}")],
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let refused = response.text().await.unwrap();
    assert!(refused.contains("role=\"alert\""), "{refused}");

    // Handling targets and a brand through the same editor.
    let (_, targets) = page(&app, &admin, "/ui/admin/edit/targets/compute").await;
    let example = targets.split("name=\"json\"").nth(1).unwrap();
    assert!(example.contains("first_response"), "{example}");
    // The example the editor starts from is a valid definition as it stands.
    let at = example.find('>').unwrap() + 1;
    let textarea = &example[at..example.find("</textarea>").unwrap()];
    let targets = textarea.replace("&quot;", "\"").replace("&#34;", "\"");
    let response = post_form(
        &app,
        &admin,
        "/ui/admin/edit/targets/compute",
        &[("csrf", csrf.as_str()), ("json", targets.as_str())],
    )
    .await;
    assert_eq!(
        response.status(),
        StatusCode::SEE_OTHER,
        "{}",
        response.text().await.unwrap()
    );
    let (status, _) = app.get_json("/v1/handling-targets/compute", &ada).await;
    assert_eq!(status, StatusCode::OK);
    let brand = json!({"name": "ACME Research", "colour": "#0a5f38", "footer": "ACME"}).to_string();
    let response = post_form(
        &app,
        &admin,
        "/ui/admin/edit/brand/acme",
        &[("csrf", csrf.as_str()), ("json", brand.as_str())],
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let (_, shown) = app.get_json("/v1/brands/acme", &ada).await;
    assert_eq!(shown["name"], "ACME Research");

    // Not an admin: no editor.
    let sam = app.shifter("sam", &["compute"]).await;
    let shifter = browser_signed_in(&app, &sam).await;
    let (status, _) = page(&app, &shifter, "/ui/admin/edit/service/cloud-compute").await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // The log verifies, from the console.
    let audrey = app.role("audrey", "auditor").await;
    let auditor = browser_signed_in(&app, &audrey).await;
    let (status, verified) = page(&app, &auditor, "/ui/verify?run=1").await;
    assert_eq!(status, StatusCode::OK);
    assert!(verified.contains("every chain intact"), "{verified}");
}

#[tokio::test]
async fn pages_refuse_whom_the_api_refuses() {
    let app = spawn_app().await;
    let alice = app.customer("alice", "acme").await;
    let bob = app.customer("bob", "globex").await;
    let sam = app.shifter("sam", &["compute"]).await;
    let ada = app.role("ada", "admin").await;
    // An active order of acme's, with its SLA.
    let id = app.submit(&alice).await;
    for action in ["approve", "activate"] {
        let (status, body) = app.command(&id, action, &sam, json!({})).await;
        assert_eq!(status, StatusCode::OK, "{action}: {body}");
    }
    let (_, order) = app.get_json(&format!("/v1/orders/{id}"), &sam).await;
    let sla = order["agreements"][0]["agreement_id"]
        .as_str()
        .unwrap()
        .to_owned();

    let globex = browser_signed_in(&app, &bob).await;
    for path in [
        format!("/ui/orders/{id}"),
        format!("/ui/agreements/{sla}/document"),
        format!("/ui/agreements/{sla}/compliance"),
    ] {
        let (status, _) = page(&app, &globex, &path).await;
        assert_eq!(
            status,
            StatusCode::NOT_FOUND,
            "another organisation's {path}"
        );
    }
    let (status, _) = page(&app, &globex, "/ui/reports").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "customers read no report");
    let acme = browser_signed_in(&app, &alice).await;
    let response = acme
        .get(app.url(&format!("/ui/agreements/{sla}/document")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/pdf");
    // Its service levels: unbound, so nothing known, said so.
    let (status, levels) = page(
        &app,
        &acme,
        &format!("/ui/agreements/{sla}/compliance?month=2019-12"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{levels}");
    assert!(
        levels.contains("Not bound to any monitored endpoint yet")
            && levels.contains("2019-12-02")
            && levels.contains("n/a"),
        "{levels}"
    );
    let (status, _) = page(
        &app,
        &acme,
        &format!("/ui/agreements/{sla}/compliance?month=2019-13"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let shifter = browser_signed_in(&app, &sam).await;
    let (status, _) = page(&app, &shifter, "/ui/verify?run=1").await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "only auditors and admins verify"
    );
    // Only customers order.
    let (_, form) = page(&app, &shifter, "/ui/services/cloud-compute/order").await;
    let csrf = csrf_of(&form);
    let head = app.head();
    let response = post_form(
        &app,
        &shifter,
        "/ui/services/cloud-compute/order",
        &[("csrf", csrf.as_str()), ("cpu_cores", "4")],
    )
    .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.head(), head);

    let admin = browser_signed_in(&app, &ada).await;
    let (status, _) = page(&app, &admin, "/ui/admin/edit/wizard/x").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
