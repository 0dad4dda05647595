//! Tickets to histories: what `prepare` makes of a ticket, folded by the order
//! aggregate and the order view as the log would be.

use pactum_events::{Actor, EventPayload};
use pactum_projections::EventContext;
use pactum_projections::audience::Audience;
use pactum_projections::order_view::OrderView;
use serde_json::{Value, json};

use super::*;
use crate::catalogue::shipped::shipped_events;

const ORDER: &str = "SO-1-legacy : **Compute/EGI Cloud compute/General purpose**?Number of CPU Cores=4&Amount of RAM per CPU core=2&Local disk=40&Number of VM instances=2&Access type=opportunistic&**Start of service=02/12/2019&Number of days=2**";

fn user(name: &str) -> Value {
    json!({"name": name, "key": format!("JIRAUSER{}", name.len()), "displayName": name.to_uppercase()})
}

fn ticket(key: &str, status: &str) -> Value {
    json!({
        "key": key,
        "fields": {
            "summary": "Cloud for the lab",
            "status": {"name": status},
            "reporter": user("alice"),
            "assignee": null,
            "created": "2019-12-02T10:15:30.000+0100",
            "description": ORDER,
            "comment": {"comments": [], "total": 0},
        },
        "changelog": {"histories": [], "total": 0},
    })
}

fn change(id: &str, by: &str, at: &str, items: Value) -> Value {
    json!({"id": id, "author": user(by), "created": at, "items": items})
}

fn status(from: &str, to: &str) -> Value {
    json!({"field": "status", "fromString": from, "toString": to})
}

fn comment(id: &str, by: &str, at: &str, body: &str, restricted: bool) -> Value {
    let mut comment = json!({"id": id, "author": user(by), "created": at, "body": body});
    if restricted {
        comment["visibility"] = json!({"type": "role", "value": "Administrators"});
    }
    comment
}

fn catalogue() -> Catalogue {
    Catalogue::from_events(&shipped_events())
}

fn defaults() -> Defaults {
    Defaults {
        org: Some("acme".into()),
    }
}

fn prepare_all(tickets: Vec<Value>) -> Result<Vec<Prepared>, Vec<TicketError>> {
    let issues = export::read(&Value::Array(tickets).to_string())?;
    prepare(
        &catalogue(),
        &issues,
        &Mapping::default(),
        &defaults(),
        "export.json",
    )
}

fn prepare_one(ticket: Value) -> Prepared {
    prepare_all(vec![ticket]).unwrap().remove(0)
}

/// The prepared history as the log holds it: (sequence, time, actor, event).
fn log(prepared: &Prepared) -> Vec<(u64, Timestamp, Actor, OrderEvent)> {
    let mut sequence = 0;
    let mut log = Vec::new();
    for entry in &prepared.entries {
        for event in &entry.events {
            sequence += 1;
            log.push((sequence, entry.at, entry.actor.clone(), event.clone()));
        }
    }
    log
}

fn view(log: &[(u64, Timestamp, Actor, OrderEvent)]) -> OrderView {
    OrderView::fold(log.iter().map(|(sequence, at, actor, event)| {
        (
            EventContext {
                sequence: *sequence,
                recorded_at: *at,
                actor,
            },
            event,
        )
    }))
    .unwrap()
}

fn aggregate(log: &[(u64, Timestamp, Actor, OrderEvent)]) -> Order {
    let mut order = Order::default();
    for (_, _, _, event) in log {
        cqrs_es::Aggregate::apply(&mut order, event.clone());
    }
    order
}

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn types(log: &[(u64, Timestamp, Actor, OrderEvent)]) -> Vec<&'static str> {
    log.iter().map(|(_, _, _, e)| e.event_type()).collect()
}

#[test]
fn a_ticket_becomes_its_order_with_its_history() {
    let mut t = ticket("EGISO-1", "Resolved");
    t["fields"]["assignee"] = user("sam");
    t["changelog"]["histories"] = json!([
        change(
            "101",
            "sam",
            "2019-12-02T11:00:00.000+0100",
            json!([
                status("Open", "In Progress"),
                {"field": "assignee", "from": null, "fromString": null, "to": "JIRAUSER3", "toString": "SAM"},
            ])
        ),
        change(
            "102",
            "sam",
            "2019-12-03T09:00:00.000+0100",
            json!([status("In Progress", "Waiting for Customer")])
        ),
        change(
            "103",
            "alice",
            "2019-12-04T09:00:00.000+0100",
            json!([status("Waiting for Customer", "In Progress")])
        ),
        change(
            "104",
            "sam",
            "2019-12-05T09:00:00.000+0100",
            json!([status("In Progress", "Resolved")])
        ),
    ]);
    t["changelog"]["total"] = json!(4);
    t["fields"]["comment"] = json!({"total": 2, "comments": [
        // Listed out of time order: the history is sorted.
        comment("201", "alice", "2019-12-04T08:59:00.000+0100", "vo.acme.org", false),
        comment("200", "sam", "2019-12-03T08:59:00.000+0100", "quota checked", true),
    ]});
    let prepared = prepare_one(t);
    assert_eq!(prepared.key, "EGISO-1");
    assert_eq!(prepared.order_id, order_id("EGISO-1"));
    assert_eq!(prepared.status, OrderStatus::Closed);
    let log = log(&prepared);
    assert_eq!(
        types(&log),
        [
            "OrderSubmitted",
            "OrderStatusImported",
            "OrderAssigned",
            "CommentAdded",
            "OrderStatusImported",
            "CommentAdded",
            "OrderStatusImported",
            "OrderStatusImported",
        ]
    );
    // Original times, never decreasing, and the people who acted.
    assert!(log.windows(2).all(|w| w[0].1 <= w[1].1));
    assert_eq!(log[0].1, at("2019-12-02T09:15:30Z"));
    assert_eq!(
        (
            log[0].2.subject.as_str(),
            log[0].2.role.as_str(),
            log[0].2.org.as_deref()
        ),
        ("alice", "customer", Some("acme"))
    );
    assert_eq!(
        (log[1].2.subject.as_str(), log[1].2.role.as_str()),
        ("sam", "shifter")
    );
    assert_eq!(log[1].1, at("2019-12-02T10:00:00Z"));
    assert_eq!(log[6].2.role, "customer", "the customer moved it back");

    let OrderEvent::OrderSubmitted(submitted) = &log[0].3 else {
        panic!("a submission first")
    };
    assert_eq!(submitted.order_id, prepared.order_id);
    assert_eq!(submitted.title.as_deref(), Some("Cloud for the lab"));
    assert_eq!(submitted.source.reference().as_deref(), Some("EGISO-1"));
    assert_eq!(submitted.parameters["cpu_cores"], json!(4));

    let order = aggregate(&log);
    assert_eq!(order.status(), Some(OrderStatus::Closed));
    let view = view(&log);
    assert_eq!(view.status, OrderStatus::Closed);
    assert_eq!(view.assignee.as_deref(), Some("sam"));
    assert_eq!(view.reference.as_deref(), Some("EGISO-1"));
    assert_eq!(view.source, "jira_import");
    assert_eq!(view.legacy_order.as_deref(), Some(ORDER));
    assert_eq!(view.created_at, at("2019-12-02T09:15:30Z"));
    assert_eq!(view.questions.len(), 1, "the wait stands for a question");
    let comments: Vec<_> = view
        .comments
        .iter()
        .map(|c| (c.body.as_str(), c.visibility, c.author.as_str()))
        .collect();
    assert_eq!(
        comments,
        [
            ("quota checked", Visibility::Internal, "sam"),
            ("vo.acme.org", Visibility::Public, "alice"),
        ]
    );
    assert_eq!(view.for_audience(Audience::Customer).comments.len(), 1);
}

#[test]
fn jira_workflows_pactum_would_refuse_are_history_all_the_same() {
    // Closed straight from open, reopened, then rejected.
    let mut t = ticket("EGISO-2", "Rejected");
    t["changelog"]["histories"] = json!([
        change(
            "1",
            "sam",
            "2019-12-02T11:00:00.000+0100",
            json!([status("Open", "Closed")])
        ),
        change(
            "2",
            "alice",
            "2019-12-03T11:00:00.000+0100",
            json!([status("Closed", "Reopened")])
        ),
        change(
            "3",
            "sam",
            "2019-12-04T11:00:00.000+0100",
            json!([status("Reopened", "Rejected")])
        ),
    ]);
    t["fields"]["comment"]["comments"] = json!([comment(
        "9",
        "alice",
        "2019-12-02T12:00:00.000+0100",
        "why closed?",
        false
    ),]);
    let log = log(&prepare_one(t));
    let statuses: Vec<OrderStatus> = (1..=log.len()).map(|n| view(&log[..n]).status).collect();
    assert_eq!(
        statuses,
        [
            OrderStatus::Submitted,
            OrderStatus::Closed,
            OrderStatus::Closed,
            OrderStatus::InReview,
            OrderStatus::Rejected,
        ]
    );
    let view = view(&log);
    assert_eq!(view.decision.as_ref().map(|d| d.outcome), Some("rejected"));
    assert_eq!(aggregate(&log).status(), Some(OrderStatus::Rejected));
}

#[test]
fn a_ticket_created_in_another_status_and_assigned_starts_so() {
    let mut t = ticket("EGISO-3", "Waiting for Customer");
    t["fields"]["assignee"] = user("sam");
    t["fields"]["status"] = json!({"name": "Waiting for Customer"});
    let prepared = prepare_one(t);
    let log = log(&prepared);
    assert_eq!(
        types(&log),
        ["OrderSubmitted", "OrderStatusImported", "OrderAssigned"]
    );
    assert!(log.iter().all(|(_, at, _, _)| *at == log[0].1));
    assert_eq!(log[1].2.subject, IMPORTER, "JIRA did it by itself");
    assert_eq!(prepared.status, OrderStatus::WaitingForCustomer);

    // The customer's answer in pactum answers the wait.
    let order = aggregate(&log);
    let answer = order
        .decide(OrderCommand {
            by: Principal::new("alice", Role::Customer { org: "acme".into() }),
            at: at("2026-01-05T10:00:00Z"),
            action: OrderAction::Answer {
                body: "vo.acme.org".into(),
            },
        })
        .unwrap();
    assert!(matches!(
        &answer[..],
        [OrderEvent::QuestionAnswered(a)] if a.question_id == 1
    ));
}

#[test]
fn an_order_id_is_its_key_s() {
    assert_eq!(order_id("EGISO-1"), order_id("EGISO-1"));
    assert_ne!(order_id("EGISO-1"), order_id("EGISO-10"));
    assert!(uuid::Uuid::parse_str(&order_id("EGISO-1")).is_ok());
}

#[test]
fn assignees_named_by_key_or_display_name_are_the_users_of_the_export() {
    let mut t = ticket("EGISO-4", "In Progress");
    t["fields"]["assignee"] = user("sam");
    t["changelog"]["histories"] = json!([
        change(
            "1",
            "sam",
            "2019-12-02T11:00:00.000+0100",
            json!([
                status("Open", "In Progress"),
                {"field": "assignee", "to": "JIRAUSER3", "toString": "SAM"},
            ])
        ),
        change(
            "2",
            "sam",
            "2019-12-02T12:00:00.000+0100",
            json!([
                {"field": "assignee", "from": "JIRAUSER3", "toString": "ALICE"},
            ])
        ),
        change(
            "3",
            "sam",
            "2019-12-02T13:00:00.000+0100",
            json!([
                {"field": "assignee", "from": "JIRAUSER5", "to": null},
            ])
        ),
    ]);
    let log = log(&prepare_one(t));
    let assignees: Vec<&str> = log
        .iter()
        .filter_map(|(_, _, _, e)| match e {
            OrderEvent::OrderAssigned(a) => Some(a.assignee.as_str()),
            _ => None,
        })
        .collect();
    // Unassigned at last: pactum keeps the last assignee.
    assert_eq!(assignees, ["sam", "alice"]);
}

#[test]
fn the_mapping_names_users_and_organisations() {
    let mapping = Mapping::with_file(
        r#"
        organisation_field = "customfield_10500"
        [users]
        "JIRAUSER5" = "alice@acme.example"
        [organisations]
        "University of Vienna" = "univie"
        "#,
    )
    .unwrap();
    let mut vienna = ticket("EGISO-5", "Open");
    vienna["fields"]["customfield_10500"] = json!({"value": "University of Vienna"});
    let plain = ticket("EGISO-6", "Open");
    let issues = export::read(&json!([vienna, plain]).to_string()).unwrap();
    let prepared = prepare(&catalogue(), &issues, &mapping, &defaults(), "x.json").unwrap();
    let customers: Vec<(String, String)> = prepared
        .iter()
        .map(|p| match &log(p)[0].3 {
            OrderEvent::OrderSubmitted(s) => (s.customer.org.clone(), s.customer.subject.clone()),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        customers,
        [
            ("univie".to_owned(), "alice@acme.example".to_owned()),
            ("acme".to_owned(), "alice@acme.example".to_owned()),
        ]
    );
}

#[test]
fn every_bad_ticket_is_named_with_its_field() {
    let good = ticket("EGISO-7", "Open");
    let mut unknown = ticket("EGISO-8", "Triage");
    unknown["fields"]["status"] = json!({"name": "Triage"});
    let mut unparsable = ticket("EGISO-9", "Open");
    unparsable["fields"]["description"] =
        json!("Compute/EGI Cloud compute/General purpose?Local disc=40");
    let mut bad_date = ticket("EGISO-10", "Open");
    bad_date["fields"]["created"] = json!("02/Dec/19 10:15 AM");
    let mut early = ticket("EGISO-11", "Open");
    early["fields"]["comment"]["comments"] = json!([comment(
        "1",
        "sam",
        "2019-12-01T10:00:00.000+0100",
        "first!",
        false
    )]);
    let mut truncated = ticket("EGISO-12", "Open");
    truncated["changelog"]["total"] = json!(120);
    let mut inconsistent = ticket("EGISO-13", "Closed");
    inconsistent["changelog"]["histories"] = json!([change(
        "1",
        "sam",
        "2019-12-02T11:00:00.000+0100",
        json!([status("Open", "In Progress")])
    ),]);
    let errors = prepare_all(vec![
        good,
        unknown,
        unparsable,
        bad_date,
        early,
        truncated,
        inconsistent,
    ])
    .unwrap_err();
    let named: Vec<(&str, &str)> = errors
        .iter()
        .map(|e| (e.key.as_str(), e.field.as_str()))
        .collect();
    for expected in [
        ("EGISO-8", "fields.status.name"),
        ("EGISO-9", "fields.description"),
        ("EGISO-10", "fields.created"),
        ("EGISO-11", "fields.comment.comments[0].created"),
        ("EGISO-12", "changelog"),
        ("EGISO-13", "fields.status.name"),
    ] {
        assert!(named.contains(&expected), "{expected:?} not in {errors:#?}");
    }
    assert!(named.iter().all(|(key, _)| *key != "EGISO-7"));
    let unknown = errors.iter().find(|e| e.key == "EGISO-8").unwrap();
    assert!(unknown.message.contains("Triage"), "{unknown}");
    let disc = errors.iter().find(|e| e.key == "EGISO-9").unwrap();
    assert!(disc.message.contains("Local disc"), "{disc}");

    // No organisation anywhere.
    let issues = export::read(&json!([ticket("EGISO-14", "Open")]).to_string()).unwrap();
    let errors = prepare(
        &catalogue(),
        &issues,
        &Mapping::default(),
        &Defaults::default(),
        "x.json",
    )
    .unwrap_err();
    assert_eq!(errors[0].field, "organisation", "{errors:?}");
}

#[test]
fn a_changelog_is_read_in_time_order_and_its_users_by_their_keys() {
    // Listed newest first; the first assignee appears nowhere but here.
    let mut t = ticket("EGISO-15", "Approved");
    t["changelog"]["histories"] = json!([
        change(
            "3",
            "sam",
            "2019-12-04T11:00:00.000+0100",
            json!([status("In Progress", "Approved")])
        ),
        change(
            "2",
            "sam",
            "2019-12-03T11:00:00.000+0100",
            json!([
                {"field": "assignee", "from": "JIRAUSER10999", "fromString": "Former Colleague", "to": "JIRAUSER3", "toString": "SAM"},
            ])
        ),
        change(
            "1",
            "sam",
            "2019-12-02T11:00:00.000+0100",
            json!([status("Open", "In Progress")])
        ),
    ]);
    let log = log(&prepare_one(t));
    let assignees: Vec<&str> = log
        .iter()
        .filter_map(|(_, _, _, e)| match e {
            OrderEvent::OrderAssigned(a) => Some(a.assignee.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(assignees, ["JIRAUSER10999", "sam"]);
    assert!(log.windows(2).all(|w| w[0].1 <= w[1].1));
    assert_eq!(view(&log).status, OrderStatus::Approved);
}
