//! Given/when/then tests of the order aggregate: every transition and refusal.

use std::collections::BTreeSet;

use cqrs_es::test::TestFramework;
use pactum_events::order::*;
use serde_json::json;

use super::Order;
use crate::access::{Principal, Role};
use crate::catalogue::Catalogue;
use crate::catalogue::shipped::shipped_events;
use crate::orders::commands::{NewOrder, OrderAction, OrderCommand};
use crate::orders::errors::OrderError;

type Given = TestFramework<Order>;

fn alice() -> Principal {
    Principal {
        subject: "alice".into(),
        role: Role::Customer { org: "acme".into() },
    }
}

fn mallory() -> Principal {
    Principal {
        subject: "mallory".into(),
        role: Role::Customer {
            org: "globex".into(),
        },
    }
}

fn shifter(subject: &str, group: &str) -> Principal {
    Principal {
        subject: subject.into(),
        role: Role::Shifter {
            groups: BTreeSet::from([group.to_owned()]),
        },
    }
}

fn sam() -> Principal {
    shifter("sam", "compute")
}

fn auditor() -> Principal {
    Principal {
        subject: "audrey".into(),
        role: Role::Auditor,
    }
}

fn new_order() -> NewOrder {
    let catalogue = Catalogue::from_events(&shipped_events());
    let service = catalogue.service("cloud-compute").unwrap();
    let input = json!({
        "cpu_cores": 4, "ram_per_core_gb": 2, "local_disk_gb": 40, "vm_instances": 2,
        "access_type": "opportunistic", "start_date": "2019-12-02", "duration_days": 2
    });
    let parameters =
        crate::catalogue::params::from_json(service, input.as_object().unwrap()).unwrap();
    NewOrder {
        order_id: "o-1".into(),
        service: "cloud-compute".into(),
        group: "compute".into(),
        customer: Customer {
            org: "acme".into(),
            subject: "alice".into(),
        },
        parameters,
        title: Some("Cloud for the lab".into()),
        note: None,
        submitted_at: "2026-03-01T09:00:00Z".parse().unwrap(),
        source: OrderSource::Api,
    }
}

fn submitted() -> OrderEvent {
    let order = new_order();
    OrderEvent::OrderSubmitted(OrderSubmitted {
        order_id: order.order_id,
        service: order.service,
        group: order.group,
        customer: order.customer,
        parameters: order.parameters.into_map(),
        title: order.title,
        note: order.note,
        submitted_at: order.submitted_at,
        source: order.source,
    })
}

fn assigned(to: &str) -> OrderEvent {
    OrderEvent::OrderAssigned(OrderAssigned {
        assignee: to.into(),
        previous_assignee: None,
    })
}

fn asked() -> OrderEvent {
    OrderEvent::QuestionAsked(QuestionAsked {
        question_id: 1,
        body: "Which VO?".into(),
    })
}

fn answered() -> OrderEvent {
    OrderEvent::QuestionAnswered(QuestionAnswered {
        question_id: 1,
        body: "vo.acme.org".into(),
    })
}

fn approved() -> OrderEvent {
    OrderEvent::OrderApproved(OrderApproved { note: None })
}

fn rejected() -> OrderEvent {
    OrderEvent::OrderRejected(OrderRejected {
        reason: "no capacity".into(),
    })
}

fn cancelled() -> OrderEvent {
    OrderEvent::OrderCancelled(OrderCancelled { reason: None })
}

fn cmd(by: Principal, action: OrderAction) -> OrderCommand {
    OrderCommand { by, action }
}

fn assign(to: &str) -> OrderAction {
    OrderAction::Assign {
        assignee: to.into(),
        assignee_is_group_shifter: true,
    }
}

fn approve() -> OrderAction {
    OrderAction::Approve { note: None }
}

fn reject() -> OrderAction {
    OrderAction::Reject {
        reason: "no capacity".into(),
    }
}

fn cancel() -> OrderAction {
    OrderAction::Cancel { reason: None }
}

fn ask() -> OrderAction {
    OrderAction::AskQuestion {
        body: "Which VO?".into(),
    }
}

fn answer() -> OrderAction {
    OrderAction::Answer {
        body: "vo.acme.org".into(),
    }
}

fn invalid(verb: &'static str, status: OrderStatus) -> OrderError {
    OrderError::InvalidState { verb, status }
}

// --- submission -----------------------------------------------------------

#[test]
fn a_customer_submits_an_order_for_its_organisation() {
    Given::with(())
        .given_no_previous_events()
        .when(cmd(alice(), OrderAction::Submit(Box::new(new_order()))))
        .then_expect_events(vec![submitted()]);
}

#[test]
fn a_customer_cannot_submit_for_another_organisation() {
    Given::with(())
        .given_no_previous_events()
        .when(cmd(mallory(), OrderAction::Submit(Box::new(new_order()))))
        .then_expect_error(OrderError::Forbidden {
            role: "customer",
            verb: "submit",
        });
}

#[test]
fn shifters_do_not_submit_orders_but_imports_do() {
    Given::with(())
        .given_no_previous_events()
        .when(cmd(sam(), OrderAction::Submit(Box::new(new_order()))))
        .then_expect_error(OrderError::Forbidden {
            role: "shifter",
            verb: "submit",
        });
    Given::with(())
        .given_no_previous_events()
        .when(cmd(
            Principal::system("import-legacy"),
            OrderAction::Submit(Box::new(new_order())),
        ))
        .then_expect_events(vec![submitted()]);
}

#[test]
fn an_order_is_submitted_once() {
    Given::with(())
        .given(vec![submitted()])
        .when(cmd(alice(), OrderAction::Submit(Box::new(new_order()))))
        .then_expect_error(OrderError::AlreadyExists);
}

#[test]
fn commands_on_a_missing_order_are_not_found() {
    Given::with(())
        .given_no_previous_events()
        .when(cmd(sam(), approve()))
        .then_expect_error(OrderError::NotFound);
}

// --- assignment -----------------------------------------------------------

#[test]
fn assigning_puts_the_order_in_review() {
    Given::with(())
        .given(vec![submitted()])
        .when(cmd(sam(), assign("sam")))
        .then_expect_events(vec![assigned("sam")]);
}

#[test]
fn reassigning_records_the_previous_assignee() {
    Given::with(())
        .given(vec![submitted(), assigned("sam")])
        .when(cmd(sam(), assign("tess")))
        .then_expect_events(vec![OrderEvent::OrderAssigned(OrderAssigned {
            assignee: "tess".into(),
            previous_assignee: Some("sam".into()),
        })]);
}

#[test]
fn assigning_to_the_current_assignee_changes_nothing() {
    Given::with(())
        .given(vec![submitted(), assigned("sam")])
        .when(cmd(sam(), assign("sam")))
        .then_expect_events(vec![]);
}

#[test]
fn the_assignee_must_be_a_shifter_of_the_group() {
    Given::with(())
        .given(vec![submitted()])
        .when(cmd(
            sam(),
            OrderAction::Assign {
                assignee: "alice".into(),
                assignee_is_group_shifter: false,
            },
        ))
        .then_expect_error(OrderError::AssigneeNotInGroup {
            assignee: "alice".into(),
            group: "compute".into(),
        });
}

#[test]
fn a_final_order_cannot_be_assigned() {
    Given::with(())
        .given(vec![submitted(), rejected()])
        .when(cmd(sam(), assign("sam")))
        .then_expect_error(invalid("assign", OrderStatus::Rejected));
}

// --- who may act ----------------------------------------------------------

#[test]
fn shifters_of_other_groups_do_not_see_the_order() {
    Given::with(())
        .given(vec![submitted()])
        .when(cmd(shifter("stella", "storage"), assign("stella")))
        .then_expect_error(OrderError::NotFound);
}

#[test]
fn other_organisations_do_not_see_the_order() {
    Given::with(())
        .given(vec![submitted()])
        .when(cmd(mallory(), cancel()))
        .then_expect_error(OrderError::NotFound);
}

#[test]
fn customers_cannot_approve_and_auditors_cannot_act() {
    Given::with(())
        .given(vec![submitted(), assigned("sam")])
        .when(cmd(alice(), approve()))
        .then_expect_error(OrderError::Forbidden {
            role: "customer",
            verb: "approve",
        });
    Given::with(())
        .given(vec![submitted(), assigned("sam")])
        .when(cmd(
            auditor(),
            OrderAction::Comment {
                body: "hello".into(),
                visibility: Visibility::Public,
            },
        ))
        .then_expect_error(OrderError::Forbidden {
            role: "auditor",
            verb: "comment on",
        });
}

// --- comments -------------------------------------------------------------

#[test]
fn shifters_comment_publicly_or_internally_and_comments_are_numbered() {
    Given::with(())
        .given(vec![
            submitted(),
            OrderEvent::CommentAdded(CommentAdded {
                comment_id: 1,
                body: "first".into(),
                visibility: Visibility::Public,
            }),
        ])
        .when(cmd(
            sam(),
            OrderAction::Comment {
                body: "quota checked".into(),
                visibility: Visibility::Internal,
            },
        ))
        .then_expect_events(vec![OrderEvent::CommentAdded(CommentAdded {
            comment_id: 2,
            body: "quota checked".into(),
            visibility: Visibility::Internal,
        })]);
}

#[test]
fn customers_cannot_comment_internally() {
    Given::with(())
        .given(vec![submitted()])
        .when(cmd(
            alice(),
            OrderAction::Comment {
                body: "psst".into(),
                visibility: Visibility::Internal,
            },
        ))
        .then_expect_error(OrderError::Forbidden {
            role: "customer",
            verb: "comment internally on",
        });
}

#[test]
fn comments_are_allowed_on_a_decided_order() {
    Given::with(())
        .given(vec![submitted(), rejected()])
        .when(cmd(
            alice(),
            OrderAction::Comment {
                body: "why?".into(),
                visibility: Visibility::Public,
            },
        ))
        .then_expect_events(vec![OrderEvent::CommentAdded(CommentAdded {
            comment_id: 1,
            body: "why?".into(),
            visibility: Visibility::Public,
        })]);
}

// --- questions ------------------------------------------------------------

#[test]
fn a_question_waits_for_the_customer_and_the_answer_resumes_review() {
    Given::with(())
        .given(vec![submitted(), assigned("sam")])
        .when(cmd(sam(), ask()))
        .then_expect_events(vec![asked()]);
    Given::with(())
        .given(vec![submitted(), assigned("sam"), asked()])
        .when(cmd(alice(), answer()))
        .then_expect_events(vec![answered()]);
}

#[test]
fn a_second_question_is_numbered_after_the_first() {
    Given::with(())
        .given(vec![submitted(), assigned("sam"), asked(), answered()])
        .when(cmd(sam(), ask()))
        .then_expect_events(vec![OrderEvent::QuestionAsked(QuestionAsked {
            question_id: 2,
            body: "Which VO?".into(),
        })]);
}

#[test]
fn only_one_question_is_open_at_a_time() {
    Given::with(())
        .given(vec![submitted(), assigned("sam"), asked()])
        .when(cmd(sam(), ask()))
        .then_expect_error(invalid(
            "ask a question on",
            OrderStatus::WaitingForCustomer,
        ));
}

#[test]
fn an_answer_needs_an_open_question() {
    Given::with(())
        .given(vec![submitted(), assigned("sam")])
        .when(cmd(alice(), answer()))
        .then_expect_error(invalid("answer a question on", OrderStatus::InReview));
}

#[test]
fn shifters_cannot_answer_for_the_customer() {
    Given::with(())
        .given(vec![submitted(), assigned("sam"), asked()])
        .when(cmd(sam(), answer()))
        .then_expect_error(OrderError::Forbidden {
            role: "shifter",
            verb: "answer a question on",
        });
}

#[test]
fn approval_waits_for_the_answer() {
    Given::with(())
        .given(vec![submitted(), assigned("sam"), asked()])
        .when(cmd(sam(), approve()))
        .then_expect_error(invalid("approve", OrderStatus::WaitingForCustomer));
}

// --- decisions ------------------------------------------------------------

#[test]
fn a_shifter_approves_an_order_in_review_or_still_unassigned() {
    Given::with(())
        .given(vec![submitted(), assigned("sam")])
        .when(cmd(sam(), approve()))
        .then_expect_events(vec![approved()]);
    Given::with(())
        .given(vec![submitted()])
        .when(cmd(sam(), approve()))
        .then_expect_events(vec![approved()]);
}

#[test]
fn a_shifter_rejects_with_a_reason_even_while_waiting() {
    Given::with(())
        .given(vec![submitted(), assigned("sam"), asked()])
        .when(cmd(sam(), reject()))
        .then_expect_events(vec![rejected()]);
}

#[test]
fn a_decision_is_made_once() {
    Given::with(())
        .given(vec![submitted(), assigned("sam"), approved()])
        .when(cmd(sam(), approve()))
        .then_expect_error(invalid("approve", OrderStatus::Approved));
    Given::with(())
        .given(vec![submitted(), assigned("sam"), approved()])
        .when(cmd(sam(), reject()))
        .then_expect_error(invalid("reject", OrderStatus::Approved));
    Given::with(())
        .given(vec![submitted(), assigned("sam"), rejected()])
        .when(cmd(sam(), approve()))
        .then_expect_error(invalid("approve", OrderStatus::Rejected));
}

// --- cancellation ---------------------------------------------------------

#[test]
fn the_customer_cancels_before_activation() {
    for given in [
        vec![submitted()],
        vec![submitted(), assigned("sam")],
        vec![submitted(), assigned("sam"), asked()],
        vec![submitted(), assigned("sam"), approved()],
    ] {
        Given::with(())
            .given(given)
            .when(cmd(alice(), cancel()))
            .then_expect_events(vec![cancelled()]);
    }
}

#[test]
fn final_orders_cannot_be_cancelled() {
    Given::with(())
        .given(vec![submitted(), rejected()])
        .when(cmd(alice(), cancel()))
        .then_expect_error(invalid("cancel", OrderStatus::Rejected));
    Given::with(())
        .given(vec![submitted(), cancelled()])
        .when(cmd(alice(), cancel()))
        .then_expect_error(invalid("cancel", OrderStatus::Cancelled));
}

#[test]
fn shifters_reject_rather_than_cancel() {
    Given::with(())
        .given(vec![submitted()])
        .when(cmd(sam(), cancel()))
        .then_expect_error(OrderError::Forbidden {
            role: "shifter",
            verb: "cancel",
        });
}
