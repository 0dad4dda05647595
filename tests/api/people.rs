//! People over the API: an admin makes shifters of groups and operators of
//! providers (`PUT`/`DELETE .../members/{subject}`), which holds from the next
//! request; `GET /v1/groups/{group}[?as_of=]` says who was a member when; a
//! person with several roles may do what any of them allows and is shown an
//! order as the most privileged role that covers it.

use reqwest::{RequestBuilder, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

fn put(app: &TestApp, path: &str, token: &str) -> RequestBuilder {
    app.client.put(app.url(path)).bearer_auth(token)
}

fn delete(app: &TestApp, path: &str, token: &str) -> RequestBuilder {
    app.client.delete(app.url(path)).bearer_auth(token)
}

fn subjects(group: &Value) -> Vec<&str> {
    group["members"]
        .as_array()
        .unwrap_or_else(|| panic!("members: {group}"))
        .iter()
        .map(|m| m["subject"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn a_shifter_added_to_a_group_works_there_at_once_and_not_once_removed() {
    let app = spawn_app().await;
    let ada = app.role("ada", "admin").await;
    let alice = app.customer("alice", "acme").await;
    // Sam's token was issued for storage; compute comes from membership.
    let sam = app.shifter("sam", &["storage"]).await;
    let id = app.submit(&alice).await;
    let order = format!("/v1/orders/{id}");
    assert_eq!(app.get_json(&order, &sam).await.0, StatusCode::NOT_FOUND);
    let before_adding = jiff::Timestamp::now();

    let response = put(&app, "/v1/groups/compute/members/sam", &ada)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let member: Value = response.json().await.unwrap();
    assert_eq!(
        (&member["of"], &member["scope"], &member["subject"]),
        (&json!("group"), &json!("compute"), &json!("sam"))
    );
    // Again: already a member, nothing appended.
    let head = app.head();
    let (status, _) = send(put(&app, "/v1/groups/compute/members/sam", &ada)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(app.head(), head);

    let (status, seen) = app.get_json(&order, &sam).await;
    assert_eq!(status, StatusCode::OK, "{seen}");
    let (status, _) = app
        .command(&id, "assign", &ada, json!({"assignee": "sam"}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "admins do not work orders");
    let (status, assigned) = app
        .command(&id, "assign", &sam, json!({"assignee": "sam"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{assigned}");
    let (_, queue) = app.queue(&sam, "").await;
    assert_eq!(queue["orders"].as_array().unwrap().len(), 1, "{queue}");

    // The group lists its members, now and as they were.
    let (status, group) = app.get_json("/v1/groups/compute", &ada).await;
    assert_eq!(status, StatusCode::OK, "{group}");
    assert_eq!(subjects(&group), ["sam"]);
    let then = before_adding.to_string();
    let (_, earlier) = app
        .get_json(&format!("/v1/groups/compute?as_of={then}"), &ada)
        .await;
    assert!(subjects(&earlier).is_empty(), "{earlier}");
    // Customers see the group, not who works it.
    let (_, to_customer) = app.get_json("/v1/groups/compute", &alice).await;
    assert!(to_customer.get("members").is_none(), "{to_customer}");

    // Removed: from the next request on, the order is not sam's to see, and
    // sam is no longer one the order can be assigned to.
    let response = delete(&app, "/v1/groups/compute/members/sam", &ada)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.get_json(&order, &sam).await.0, StatusCode::NOT_FOUND);
    let bob = app.shifter("bob", &["compute"]).await;
    let (status, problem) = app
        .command(&id, "assign", &bob, json!({"assignee": "sam"}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    let (_, group) = app.get_json("/v1/groups/compute", &ada).await;
    assert_eq!(subjects(&group), ["bob"], "bob's token made him a member");

    // Removing someone who is not a member, or from no such group: 404.
    let response = delete(&app, "/v1/groups/compute/members/sam", &ada)
        .send()
        .await
        .unwrap();
    expect_problem(response, StatusCode::NOT_FOUND).await;
    let response = put(&app, "/v1/groups/quantum/members/sam", &ada)
        .send()
        .await
        .unwrap();
    expect_problem(response, StatusCode::NOT_FOUND).await;
}

#[tokio::test]
async fn removing_a_member_cuts_off_the_token_that_granted_the_group() {
    let app = spawn_app().await;
    let ada = app.role("ada", "admin").await;
    let alice = app.customer("alice", "acme").await;
    let sam = app.shifter("sam", &["compute"]).await;
    let id = app.submit(&alice).await;
    let order = format!("/v1/orders/{id}");
    assert_eq!(app.get_json(&order, &sam).await.0, StatusCode::OK);
    let (status, _) = send(delete(&app, "/v1/groups/compute/members/sam", &ada)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(app.get_json(&order, &sam).await.0, StatusCode::NOT_FOUND);
    let (_, queue) = app.queue(&sam, "").await;
    assert_eq!(queue["orders"], json!([]), "{queue}");
    // Back in: the same token works again.
    let (status, _) = send(put(&app, "/v1/groups/compute/members/sam", &ada)).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(app.get_json(&order, &sam).await.0, StatusCode::OK);
}

#[tokio::test]
async fn only_admins_change_memberships() {
    let app = spawn_app().await;
    let alice = app.customer("alice", "acme").await;
    let sam = app.shifter("sam", &["compute"]).await;
    let auditor = app.role("audrey", "auditor").await;
    let head = app.head();
    for token in [&alice, &sam, &auditor] {
        for request in [
            put(&app, "/v1/groups/compute/members/eve", token),
            delete(&app, "/v1/groups/compute/members/sam", token),
            put(&app, "/v1/providers/surf/members/eve", token),
        ] {
            let response = request.send().await.unwrap();
            expect_problem(response, StatusCode::FORBIDDEN).await;
        }
    }
    assert_eq!(app.head(), head);
}

#[tokio::test]
async fn an_operator_removed_from_a_provider_no_longer_sees_its_steps() {
    let app = spawn_app().await;
    let ada = app.role("ada", "admin").await;
    let alice = app.customer("alice", "acme").await;
    let sam = app.shifter("sam", &["compute"]).await;
    let olga = app.provider("olga", "cesnet-mcc").await;
    let id = app.submit(&alice).await;
    app.command(&id, "approve", &sam, json!({})).await;
    let (status, planned) = app
        .command(
            &id,
            "provisioning",
            &sam,
            json!({"steps": [{"provider": "cesnet-mcc", "action": "a project"},
                             {"provider": "in2p3-ires", "action": "a volume"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{planned}");
    let order = format!("/v1/orders/{id}");
    let (status, seen) = app.get_json(&order, &olga).await;
    assert_eq!(status, StatusCode::OK, "{seen}");
    assert_eq!(seen["provisioning"].as_array().unwrap().len(), 1);

    // Olga also operates in2p3-ires now: she sees both steps and reports on its.
    let (status, _) = send(put(&app, "/v1/providers/in2p3-ires/members/olga", &ada)).await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, seen) = app.get_json(&order, &olga).await;
    assert_eq!(seen["provisioning"].as_array().unwrap().len(), 2, "{seen}");
    let (status, done) = app
        .post_json(&format!("{order}/provisioning/2/done"), &olga, &json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{done}");
    let (_, provider) = app.get_json("/v1/providers/in2p3-ires", &olga).await;
    assert_eq!(subjects(&provider), ["olga"]);

    // Out of both: nothing of the order is hers to see.
    for path in [
        "/v1/providers/cesnet-mcc/members/olga",
        "/v1/providers/in2p3-ires/members/olga",
    ] {
        assert_eq!(
            send(delete(&app, path, &ada)).await.0,
            StatusCode::NO_CONTENT
        );
    }
    assert_eq!(app.get_json(&order, &olga).await.0, StatusCode::NOT_FOUND);
    let (status, _) = app
        .post_json(&format!("{order}/provisioning/1/done"), &olga, &json!({}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_person_with_two_roles_may_do_what_either_allows() {
    let app = spawn_app().await;
    let ada = app.role("ada", "admin").await;
    let globex_bob = app.customer("bob", "globex").await;
    // Pat orders for vo-alpha and is made a shifter of compute.
    let pat = app.customer("pat", "vo-alpha").await;
    let (status, _) = send(put(&app, "/v1/groups/compute/members/pat", &ada)).await;
    assert_eq!(status, StatusCode::CREATED);

    // As a customer: pat orders.
    let (status, own) = app.post_json("/v1/orders", &pat, &cloud_order()).await;
    assert_eq!(status, StatusCode::CREATED, "{own}");
    let own_id = own["id"].as_str().unwrap().to_owned();
    // As a shifter: pat works globex's compute order, internal comments included.
    let other_id = app.submit(&globex_bob).await;
    let (status, _) = app
        .post_json(
            &format!("/v1/orders/{other_id}/comments"),
            &pat,
            &json!({"body": "checking quota", "visibility": "internal"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, approved) = app.command(&own_id, "approve", &pat, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{approved}");
    // Shaped as staff: the internal comment shows.
    let (_, seen) = app.get_json(&format!("/v1/orders/{other_id}"), &pat).await;
    assert_eq!(seen["comments"][0]["visibility"], "internal", "{seen}");
    // The queue is the union: its own order and the compute group's.
    let (_, queue) = app.queue(&pat, "").await;
    assert_eq!(queue["orders"].as_array().unwrap().len(), 2, "{queue}");
    // Customers still see only what is theirs.
    let (_, to_bob) = app
        .get_json(&format!("/v1/orders/{other_id}"), &globex_bob)
        .await;
    assert_eq!(to_bob["comments"], json!([]));

    // Each command records the role that allowed it.
    let (_, history) = app
        .get_json(&format!("/v1/orders/{own_id}/history"), &pat)
        .await;
    let roles: Vec<(&str, &str)> = history["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["type"].as_str().unwrap(),
                e["actor"]["role"].as_str().unwrap(),
            )
        })
        .collect();
    assert!(roles.contains(&("OrderSubmitted", "customer")), "{roles:?}");
    assert!(roles.contains(&("OrderApproved", "shifter")), "{roles:?}");

    // Out of the group: pat is a customer again.
    let (status, _) = send(delete(&app, "/v1/groups/compute/members/pat", &ada)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.get_json(&format!("/v1/orders/{other_id}"), &pat)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    let (_, queue) = app.queue(&pat, "").await;
    assert_eq!(queue["orders"].as_array().unwrap().len(), 1, "{queue}");
}

#[tokio::test]
async fn me_says_who_the_caller_is_with_every_role() {
    let app = spawn_app().await;
    let ada = app.role("ada", "admin").await;
    let pat = app.customer("pat", "vo-alpha").await;
    let (_, me) = app.get_json("/v1/me", &pat).await;
    assert_eq!(
        me,
        json!({"subject": "pat", "roles": [{"role": "customer", "org": "vo-alpha"}]})
    );
    send(put(&app, "/v1/groups/compute/members/pat", &ada)).await;
    send(put(&app, "/v1/groups/storage/members/pat", &ada)).await;
    let (_, me) = app.get_json("/v1/me", &pat).await;
    assert_eq!(
        me["roles"],
        json!([{"role": "customer", "org": "vo-alpha"},
               {"role": "shifter", "groups": ["compute", "storage"]}])
    );
    let response = app.get("/v1/me", "pct_nothing").send().await.unwrap();
    expect_problem(response, StatusCode::UNAUTHORIZED).await;
}

#[tokio::test]
async fn a_shifter_token_without_groups_works_where_memberships_say() {
    let app = spawn_app().await;
    let ada = app.role("ada", "admin").await;
    let alice = app.customer("alice", "acme").await;
    let (status, issued) = app
        .post_json(
            "/v1/tokens",
            &ada,
            &json!({"subject": "nina", "role": "shifter"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{issued}");
    let nina = issued["token"].as_str().unwrap().to_owned();
    let id = app.submit(&alice).await;
    let order = format!("/v1/orders/{id}");
    let (_, queue) = app.queue(&nina, "").await;
    assert_eq!(queue["orders"], json!([]), "no group yet");
    send(put(&app, "/v1/groups/compute/members/nina", &ada)).await;
    assert_eq!(app.get_json(&order, &nina).await.0, StatusCode::OK);
    send(delete(&app, "/v1/groups/compute/members/nina", &ada)).await;
    assert_eq!(app.get_json(&order, &nina).await.0, StatusCode::NOT_FOUND);
}
