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
        also: Vec::new(),
    }
}

fn mallory() -> Principal {
    Principal {
        subject: "mallory".into(),
        role: Role::Customer {
            org: "globex".into(),
        },
        also: Vec::new(),
    }
}

fn shifter(subject: &str, group: &str) -> Principal {
    Principal {
        subject: subject.into(),
        role: Role::Shifter {
            groups: BTreeSet::from([group.to_owned()]),
        },
        also: Vec::new(),
    }
}

fn sam() -> Principal {
    shifter("sam", "compute")
}

fn auditor() -> Principal {
    Principal {
        subject: "audrey".into(),
        role: Role::Auditor,
        also: Vec::new(),
    }
}

pub(crate) fn new_order() -> NewOrder {
    let catalogue = Catalogue::from_events(&shipped_events());
    let service = catalogue.service("cloud-compute").unwrap();
    let input = pactum_testkit::fixtures::cloud_parameter_map();
    let parameters = crate::catalogue::params::from_json(service, &input).unwrap();
    NewOrder {
        order_id: "o-1".into(),
        service: "cloud-compute".into(),
        service_version: Some(1),
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
        targets: None,
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
        service_version: order.service_version,
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
    OrderCommand {
        by,
        at: "2026-03-02T10:00:00Z".parse().unwrap(),
        action,
    }
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
                provider: None,
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
                provider: None,
            }),
        ])
        .when(cmd(
            sam(),
            OrderAction::Comment {
                body: "quota checked".into(),
                visibility: Visibility::Internal,
                provider: None,
            },
        ))
        .then_expect_events(vec![OrderEvent::CommentAdded(CommentAdded {
            comment_id: 2,
            body: "quota checked".into(),
            visibility: Visibility::Internal,
            provider: None,
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
                provider: None,
            },
        ))
        .then_expect_error(OrderError::Forbidden {
            role: "customer",
            verb: "comment internally on",
        });
}

#[test]
fn comments_are_allowed_on_an_approved_order_but_not_on_a_final_one() {
    Given::with(())
        .given(vec![submitted(), approved()])
        .when(cmd(
            alice(),
            OrderAction::Comment {
                body: "thanks".into(),
                visibility: Visibility::Public,
                provider: None,
            },
        ))
        .then_expect_events(vec![OrderEvent::CommentAdded(CommentAdded {
            comment_id: 1,
            body: "thanks".into(),
            visibility: Visibility::Public,
            provider: None,
        })]);
    // Rejected is final (issue 13): not even a comment is recorded any more.
    Given::with(())
        .given(vec![submitted(), rejected()])
        .when(cmd(
            alice(),
            OrderAction::Comment {
                body: "why?".into(),
                visibility: Visibility::Public,
                provider: None,
            },
        ))
        .then_expect_error(invalid("comment on", OrderStatus::Rejected));
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

// --- negotiation ----------------------------------------------------------

fn parameters_with(cores: i64) -> crate::catalogue::params::Parameters {
    let catalogue = Catalogue::from_events(&shipped_events());
    let service = catalogue.service("cloud-compute").unwrap();
    let input = json!({
        "cpu_cores": cores, "ram_per_core_gb": 2, "local_disk_gb": 40, "vm_instances": 2,
        "access_type": "opportunistic", "start_date": "2019-12-02", "duration_days": 2
    });
    crate::catalogue::params::from_json(service, input.as_object().unwrap()).unwrap()
}

fn propose(cores: i64) -> OrderAction {
    OrderAction::Propose {
        parameters: parameters_with(cores),
        changed: vec!["cpu_cores".into()],
        note: None,
    }
}

fn proposed(id: u32, side: Side, cores: i64, counter_to: Option<u32>) -> OrderEvent {
    OrderEvent::ProposalMade(ProposalMade {
        proposal_id: id,
        side,
        parameters: parameters_with(cores).into_map(),
        changed: vec!["cpu_cores".into()],
        note: None,
        counter_to,
    })
}

#[test]
fn a_shifter_proposes_changed_parameters() {
    Given::with(())
        .given(vec![submitted(), assigned("sam")])
        .when(cmd(sam(), propose(2)))
        .then_expect_events(vec![proposed(1, Side::Shifter, 2, None)]);
}

#[test]
fn the_customer_counters_an_open_proposal() {
    Given::with(())
        .given(vec![
            submitted(),
            assigned("sam"),
            proposed(1, Side::Shifter, 2, None),
        ])
        .when(cmd(alice(), propose(3)))
        .then_expect_events(vec![proposed(2, Side::Customer, 3, Some(1))]);
}

#[test]
fn one_side_cannot_stack_proposals() {
    Given::with(())
        .given(vec![
            submitted(),
            assigned("sam"),
            proposed(1, Side::Shifter, 2, None),
        ])
        .when(cmd(sam(), propose(3)))
        .then_expect_error(OrderError::ProposalOpen {
            proposal_id: 1,
            status: OrderStatus::Negotiating,
        });
}

#[test]
fn a_proposal_must_change_something() {
    Given::with(())
        .given(vec![submitted(), assigned("sam")])
        .when(cmd(
            sam(),
            OrderAction::Propose {
                parameters: parameters_with(4),
                changed: vec![],
                note: None,
            },
        ))
        .then_expect_error(OrderError::NothingChanged);
}

#[test]
fn the_other_side_accepts_or_declines() {
    let negotiating = || {
        vec![
            submitted(),
            assigned("sam"),
            proposed(1, Side::Shifter, 2, None),
        ]
    };
    Given::with(())
        .given(negotiating())
        .when(cmd(
            alice(),
            OrderAction::AcceptProposal {
                proposal_id: 1,
                note: None,
            },
        ))
        .then_expect_events(vec![OrderEvent::ProposalAccepted(ProposalAccepted {
            proposal_id: 1,
            note: None,
        })]);
    Given::with(())
        .given(negotiating())
        .when(cmd(
            alice(),
            OrderAction::DeclineProposal {
                proposal_id: 1,
                note: None,
            },
        ))
        .then_expect_events(vec![OrderEvent::ProposalDeclined(ProposalDeclined {
            proposal_id: 1,
            note: None,
        })]);
    Given::with(())
        .given(negotiating())
        .when(cmd(
            sam(),
            OrderAction::AcceptProposal {
                proposal_id: 1,
                note: None,
            },
        ))
        .then_expect_error(OrderError::OwnProposal);
}

#[test]
fn only_the_open_proposal_can_be_answered() {
    let countered = vec![
        submitted(),
        assigned("sam"),
        proposed(1, Side::Shifter, 2, None),
        proposed(2, Side::Customer, 3, Some(1)),
    ];
    Given::with(())
        .given(countered.clone())
        .when(cmd(
            alice(),
            OrderAction::AcceptProposal {
                proposal_id: 1,
                note: None,
            },
        ))
        .then_expect_error(OrderError::ProposalClosed {
            proposal_id: 1,
            status: OrderStatus::Negotiating,
        });
    Given::with(())
        .given(countered.clone())
        .when(cmd(
            sam(),
            OrderAction::AcceptProposal {
                proposal_id: 2,
                note: None,
            },
        ))
        .then_expect_events(vec![OrderEvent::ProposalAccepted(ProposalAccepted {
            proposal_id: 2,
            note: None,
        })]);
    Given::with(())
        .given(countered)
        .when(cmd(
            sam(),
            OrderAction::DeclineProposal {
                proposal_id: 9,
                note: None,
            },
        ))
        .then_expect_error(OrderError::NoSuchProposal { proposal_id: 9 });
}

#[test]
fn approval_waits_for_the_negotiation_to_end() {
    Given::with(())
        .given(vec![
            submitted(),
            assigned("sam"),
            proposed(1, Side::Shifter, 2, None),
        ])
        .when(cmd(sam(), approve()))
        .then_expect_error(invalid("approve", OrderStatus::Negotiating));
    Given::with(())
        .given(vec![
            submitted(),
            assigned("sam"),
            proposed(1, Side::Shifter, 2, None),
            OrderEvent::ProposalAccepted(ProposalAccepted {
                proposal_id: 1,
                note: None,
            }),
        ])
        .when(cmd(sam(), approve()))
        .then_expect_events(vec![approved()]);
}

// --- provisioning ---------------------------------------------------------

fn plan(steps: &[(&str, &str)]) -> OrderAction {
    OrderAction::PlanProvisioning {
        steps: steps
            .iter()
            .map(|(p, a)| (p.to_string(), a.to_string()))
            .collect(),
    }
}

fn planned(steps: &[(u32, &str)], superseded: Vec<u32>) -> OrderEvent {
    OrderEvent::ProvisioningPlanned(ProvisioningPlanned {
        steps: steps
            .iter()
            .map(|(id, provider)| PlannedStep {
                step_id: *id,
                provider: provider.to_string(),
                action: "create quota".into(),
            })
            .collect(),
        superseded,
    })
}

fn operator(provider: &str) -> Principal {
    Principal {
        subject: format!("op-{provider}"),
        role: Role::Provider {
            providers: std::collections::BTreeSet::from([provider.into()]),
        },
        also: Vec::new(),
    }
}

fn report(step_id: u32) -> StepReport {
    StepReport {
        step_id,
        note: None,
    }
}

fn two_steps() -> Vec<OrderEvent> {
    vec![
        submitted(),
        assigned("sam"),
        approved(),
        planned(&[(1, "cesnet-mcc"), (2, "surf")], vec![]),
    ]
}

#[test]
fn a_shifter_plans_provisioning_after_approval() {
    Given::with(())
        .given(vec![submitted(), assigned("sam"), approved()])
        .when(cmd(
            sam(),
            plan(&[("cesnet-mcc", "create quota"), ("surf", "create quota")]),
        ))
        .then_expect_events(vec![planned(&[(1, "cesnet-mcc"), (2, "surf")], vec![])]);
    Given::with(())
        .given(vec![submitted(), assigned("sam")])
        .when(cmd(sam(), plan(&[("cesnet-mcc", "create quota")])))
        .then_expect_error(invalid("plan provisioning of", OrderStatus::InReview));
    Given::with(())
        .given(vec![submitted(), assigned("sam"), approved()])
        .when(cmd(sam(), plan(&[])))
        .then_expect_error(OrderError::EmptyPlan);
}

#[test]
fn providers_report_on_their_own_steps_only() {
    Given::with(())
        .given(two_steps())
        .when(cmd(
            operator("cesnet-mcc"),
            OrderAction::CompleteStep {
                step_id: 1,
                note: None,
            },
        ))
        .then_expect_events(vec![OrderEvent::ProvisioningStepDone(report(1))]);
    Given::with(())
        .given(two_steps())
        .when(cmd(
            operator("cesnet-mcc"),
            OrderAction::FailStep {
                step_id: 2,
                note: None,
            },
        ))
        .then_expect_error(OrderError::NotYourStep { step_id: 2 });
    Given::with(())
        .given(two_steps())
        .when(cmd(
            operator("csc"),
            OrderAction::CompleteStep {
                step_id: 1,
                note: None,
            },
        ))
        .then_expect_error(OrderError::NotFound);
    Given::with(())
        .given(two_steps())
        .when(cmd(
            sam(),
            OrderAction::CompleteStep {
                step_id: 1,
                note: None,
            },
        ))
        .then_expect_error(OrderError::Forbidden {
            role: "shifter",
            verb: "report on a provisioning step of",
        });
}

fn message(provider: Option<&str>) -> OrderAction {
    OrderAction::Comment {
        body: "quota ready?".into(),
        visibility: Visibility::Provider,
        provider: provider.map(str::to_owned),
    }
}

fn message_added(provider: &str) -> OrderEvent {
    OrderEvent::CommentAdded(CommentAdded {
        comment_id: 1,
        body: "quota ready?".into(),
        visibility: Visibility::Provider,
        provider: Some(provider.into()),
    })
}

#[test]
fn staff_and_a_provider_of_the_order_write_provider_messages() {
    // A shifter names the provider; a provider writes as itself.
    Given::with(())
        .given(two_steps())
        .when(cmd(sam(), message(Some("surf"))))
        .then_expect_events(vec![message_added("surf")]);
    Given::with(())
        .given(two_steps())
        .when(cmd(operator("cesnet-mcc"), message(None)))
        .then_expect_events(vec![message_added("cesnet-mcc")]);
    Given::with(())
        .given(two_steps())
        .when(cmd(operator("cesnet-mcc"), message(Some("cesnet-mcc"))))
        .then_expect_events(vec![message_added("cesnet-mcc")]);
}

#[test]
fn provider_messages_are_refused_to_everyone_else() {
    // Not for another provider's name, nor for a provider without a step.
    Given::with(())
        .given(two_steps())
        .when(cmd(operator("cesnet-mcc"), message(Some("surf"))))
        .then_expect_error(OrderError::NotYourProvider {
            provider: "surf".into(),
        });
    Given::with(())
        .given(two_steps())
        .when(cmd(sam(), message(Some("csc"))))
        .then_expect_error(OrderError::NotAProviderOfThisOrder {
            provider: "csc".into(),
        });
    Given::with(())
        .given(two_steps())
        .when(cmd(sam(), message(None)))
        .then_expect_error(OrderError::NoProviderNamed);
    Given::with(())
        .given(two_steps())
        .when(cmd(operator("csc"), message(None)))
        .then_expect_error(OrderError::NotFound);
    Given::with(())
        .given(two_steps())
        .when(cmd(alice(), message(Some("surf"))))
        .then_expect_error(OrderError::Forbidden {
            role: "customer",
            verb: "write to a provider on",
        });
    // Only a provider message names a provider.
    Given::with(())
        .given(two_steps())
        .when(cmd(
            sam(),
            OrderAction::Comment {
                body: "x".into(),
                visibility: Visibility::Internal,
                provider: Some("surf".into()),
            },
        ))
        .then_expect_error(OrderError::ProviderOnlyForProviderMessages);
    // Providers still comment on nothing else.
    Given::with(())
        .given(two_steps())
        .when(cmd(
            operator("cesnet-mcc"),
            OrderAction::Comment {
                body: "x".into(),
                visibility: Visibility::Public,
                provider: None,
            },
        ))
        .then_expect_error(OrderError::Forbidden {
            role: "provider",
            verb: "comment on",
        });
}

#[test]
fn a_step_is_reported_once_and_a_failed_one_retried() {
    let mut failed = two_steps();
    failed.push(OrderEvent::ProvisioningStepFailed(report(2)));
    Given::with(())
        .given(failed.clone())
        .when(cmd(
            operator("surf"),
            OrderAction::CompleteStep {
                step_id: 2,
                note: None,
            },
        ))
        .then_expect_error(OrderError::StepState {
            step_id: 2,
            step_status: "failed",
            expected: "pending",
            status: OrderStatus::Provisioning,
        });
    Given::with(())
        .given(failed)
        .when(cmd(
            sam(),
            OrderAction::RetryStep {
                step_id: 2,
                note: None,
            },
        ))
        .then_expect_events(vec![OrderEvent::ProvisioningStepRetried(report(2))]);
    Given::with(())
        .given(two_steps())
        .when(cmd(
            sam(),
            OrderAction::RetryStep {
                step_id: 1,
                note: None,
            },
        ))
        .then_expect_error(OrderError::StepState {
            step_id: 1,
            step_status: "pending",
            expected: "failed",
            status: OrderStatus::Provisioning,
        });
}

#[test]
fn a_new_plan_supersedes_the_steps_not_done() {
    let mut history = two_steps();
    history.push(OrderEvent::ProvisioningStepDone(report(1)));
    history.push(OrderEvent::ProvisioningStepFailed(report(2)));
    Given::with(())
        .given(history)
        .when(cmd(sam(), plan(&[("csc", "create quota")])))
        .then_expect_events(vec![planned(&[(3, "csc")], vec![2])]);
}

fn agreements() -> Vec<AgreementRef> {
    vec![AgreementRef {
        agreement_id: "a-1".into(),
        kind: "sla".into(),
        provider: None,
    }]
}

#[test]
fn activation_needs_every_step_done() {
    let mut history = two_steps();
    history.push(OrderEvent::ProvisioningStepDone(report(1)));
    history.push(OrderEvent::ProvisioningStepFailed(report(2)));
    Given::with(())
        .given(history.clone())
        .when(cmd(
            sam(),
            OrderAction::Activate {
                agreements: agreements(),
            },
        ))
        .then_expect_error(OrderError::StepsNotDone {
            detail: "step 2 is failed".into(),
            status: OrderStatus::Provisioning,
        });
    history.push(OrderEvent::ProvisioningStepRetried(report(2)));
    history.push(OrderEvent::ProvisioningStepDone(report(2)));
    Given::with(())
        .given(history)
        .when(cmd(
            sam(),
            OrderAction::Activate {
                agreements: agreements(),
            },
        ))
        .then_expect_events(vec![OrderEvent::OrderActivated(OrderActivated {
            agreements: agreements(),
        })]);
}

#[test]
fn an_approved_order_without_provisioning_activates_directly() {
    Given::with(())
        .given(vec![submitted(), assigned("sam"), approved()])
        .when(cmd(
            sam(),
            OrderAction::Activate {
                agreements: agreements(),
            },
        ))
        .then_expect_events(vec![OrderEvent::OrderActivated(OrderActivated {
            agreements: agreements(),
        })]);
    Given::with(())
        .given(vec![submitted(), assigned("sam")])
        .when(cmd(
            sam(),
            OrderAction::Activate {
                agreements: agreements(),
            },
        ))
        .then_expect_error(invalid("activate", OrderStatus::InReview));
}

#[test]
fn an_active_order_closes_and_can_no_longer_be_cancelled() {
    let active = vec![
        submitted(),
        assigned("sam"),
        approved(),
        OrderEvent::OrderActivated(OrderActivated {
            agreements: agreements(),
        }),
    ];
    Given::with(())
        .given(active.clone())
        .when(cmd(alice(), cancel()))
        .then_expect_error(invalid("cancel", OrderStatus::Active));
    Given::with(())
        .given(active)
        .when(cmd(
            Principal::system("expiry"),
            OrderAction::Close {
                reason: "expired".into(),
                agreement_id: "a-1".into(),
            },
        ))
        .then_expect_events(vec![OrderEvent::OrderClosed(OrderClosed {
            reason: "expired".into(),
            agreement_id: "a-1".into(),
        })]);
}

// --- final states (issue 13, item 2) ------------------------------------------

/// One command of each kind an order can be asked, by someone allowed to ask it.
fn every_command() -> Vec<(Principal, OrderAction)> {
    let note = || Some("n".to_owned());
    vec![
        (sam(), assign("sam")),
        (
            sam(),
            OrderAction::Comment {
                body: "late".into(),
                visibility: Visibility::Internal,
                provider: None,
            },
        ),
        (
            alice(),
            OrderAction::Comment {
                body: "late".into(),
                visibility: Visibility::Public,
                provider: None,
            },
        ),
        (sam(), ask()),
        (alice(), answer()),
        (sam(), approve()),
        (sam(), reject()),
        (alice(), cancel()),
        (sam(), propose(8)),
        (alice(), propose(8)),
        (
            alice(),
            OrderAction::AcceptProposal {
                proposal_id: 1,
                note: note(),
            },
        ),
        (
            alice(),
            OrderAction::DeclineProposal {
                proposal_id: 1,
                note: note(),
            },
        ),
        (sam(), plan(&[("cesnet", "create quota")])),
        (
            operator("cesnet"),
            OrderAction::CompleteStep {
                step_id: 1,
                note: note(),
            },
        ),
        (
            operator("cesnet"),
            OrderAction::FailStep {
                step_id: 1,
                note: note(),
            },
        ),
        (
            sam(),
            OrderAction::RetryStep {
                step_id: 1,
                note: note(),
            },
        ),
        (
            sam(),
            OrderAction::Activate {
                agreements: agreements(),
            },
        ),
        (
            Principal::system("expiry"),
            OrderAction::Close {
                reason: "expired".into(),
                agreement_id: "a-1".into(),
            },
        ),
    ]
}

#[test]
fn every_command_on_a_final_order_is_refused() {
    let active = OrderEvent::OrderActivated(OrderActivated {
        agreements: agreements(),
    });
    let closed = OrderEvent::OrderClosed(OrderClosed {
        reason: "expired".into(),
        agreement_id: "a-1".into(),
    });
    let finals = [
        (vec![submitted(), rejected()], OrderStatus::Rejected),
        (vec![submitted(), cancelled()], OrderStatus::Cancelled),
        // With a proposal, a question and a provisioning plan open when it ended.
        (
            vec![
                submitted(),
                assigned("sam"),
                proposed(1, Side::Shifter, 2, None),
                rejected(),
            ],
            OrderStatus::Rejected,
        ),
        (
            vec![
                submitted(),
                assigned("sam"),
                proposed(1, Side::Shifter, 2, None),
                cancelled(),
            ],
            OrderStatus::Cancelled,
        ),
        (
            vec![submitted(), assigned("sam"), asked(), cancelled()],
            OrderStatus::Cancelled,
        ),
        (
            vec![
                submitted(),
                assigned("sam"),
                approved(),
                planned(&[(1, "cesnet")], vec![]),
                cancelled(),
            ],
            OrderStatus::Cancelled,
        ),
        (
            vec![submitted(), assigned("sam"), approved(), active, closed],
            OrderStatus::Closed,
        ),
    ];
    for (history, status) in finals {
        let order = Order::default_after(&history);
        for (by, action) in every_command() {
            let wanted = action.policy_action();
            let verb = wanted.verb();
            // Who may not see or do it is told so first; everyone else hears that
            // the order is final.
            let expected = match order.permits(&by, wanted) {
                Ok(()) => invalid(verb, status),
                Err(refusal) => refusal,
            };
            let refused = order.decide(cmd(by, action));
            assert_eq!(
                refused,
                Err(expected),
                "{verb} on {status} after {history:?}"
            );
        }
    }
}

#[test]
fn an_open_proposal_closes_with_the_order() {
    // The probe's sequence: propose → cancel → accept → approve.
    let cancelled_in_negotiation = vec![
        submitted(),
        assigned("sam"),
        proposed(1, Side::Shifter, 2, None),
        cancelled(),
    ];
    Given::with(())
        .given(cancelled_in_negotiation)
        .when(cmd(
            alice(),
            OrderAction::AcceptProposal {
                proposal_id: 1,
                note: None,
            },
        ))
        .then_expect_error(invalid("answer a proposal on", OrderStatus::Cancelled));
}

impl Order {
    fn default_after(history: &[OrderEvent]) -> Self {
        let mut order = Self::default();
        for event in history {
            cqrs_es::Aggregate::apply(&mut order, event.clone());
        }
        order
    }
}

mod lifecycle_properties {
    //! Random command sequences by random callers: whatever is asked, in whatever
    //! order, an order is decided (approved or rejected) at most once, and nothing
    //! is recorded after it reached a final state.

    use proptest::prelude::*;

    use super::*;

    fn callers() -> Vec<Principal> {
        vec![
            alice(),
            sam(),
            shifter("kim", "compute"),
            operator("cesnet"),
        ]
    }

    fn any_command() -> impl Strategy<Value = (Principal, OrderAction)> {
        let everything = every_command()
            .into_iter()
            .map(|(_, action)| action)
            .chain([
                assign("kim"),
                propose(2),
                propose(16),
                OrderAction::AcceptProposal {
                    proposal_id: 2,
                    note: None,
                },
                OrderAction::DeclineProposal {
                    proposal_id: 2,
                    note: None,
                },
                OrderAction::AcceptProposal {
                    proposal_id: 3,
                    note: None,
                },
                plan(&[("cesnet", "create quota"), ("cesnet", "open port")]),
                OrderAction::CompleteStep {
                    step_id: 2,
                    note: None,
                },
            ])
            .collect::<Vec<_>>();
        (
            proptest::sample::select(callers()),
            proptest::sample::select(everything),
        )
    }

    proptest! {
        #[test]
        fn decided_at_most_once_and_nothing_after_the_end(
            commands in proptest::collection::vec(any_command(), 1..40)
        ) {
            let mut order = Order::default_after(&[submitted()]);
            let mut decisions = 0;
            for (by, action) in commands {
                let before = order.status().expect("submitted");
                let Ok(events) = order.decide(cmd(by, action)) else { continue };
                if before.is_final() {
                    prop_assert!(events.is_empty(), "{events:?} after {before}");
                }
                for event in events {
                    if matches!(event, OrderEvent::OrderApproved(_) | OrderEvent::OrderRejected(_)) {
                        decisions += 1;
                    }
                    cqrs_es::Aggregate::apply(&mut order, event);
                }
                prop_assert!(decisions <= 1, "decided {decisions} times");
            }
        }
    }
}
