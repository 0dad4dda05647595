//! What an order event tells the Marketplace: pure rules, no I/O.
//!
//! - The project item's status follows the order's, as the Marketplace names
//!   statuses ([`marketplace_status`]): a push whenever the Marketplace's
//!   status changes, with a human `value`.
//! - What staff say to the customer becomes a public message by a `mediator`:
//!   public comments, questions, proposals and decisions (approval,
//!   rejection). Internal and provider comments stay in pactum; what the
//!   customer says (in pactum, or imported from the Marketplace) is never sent
//!   back, so nothing echoes.

use pactum_events::Actor;
use pactum_events::order::{OrderEvent, OrderStatus, Side, Visibility};

/// The Marketplace's status type for an order status, with the text shown.
pub fn marketplace_status(status: OrderStatus) -> (&'static str, &'static str) {
    match status {
        OrderStatus::Submitted => ("registered", "Your order is registered"),
        OrderStatus::InReview => ("in_progress", "Your order is being reviewed"),
        OrderStatus::WaitingForCustomer => (
            "waiting_for_response",
            "Waiting for your answer to a question",
        ),
        OrderStatus::Negotiating => ("waiting_for_response", "A change to your order is proposed"),
        OrderStatus::Approved => ("approved", "Your order is approved"),
        OrderStatus::Provisioning => ("approved", "Your order is approved and being provisioned"),
        OrderStatus::Active => ("ready", "Your service is ready"),
        OrderStatus::Closed => ("closed", "Your service has ended"),
        OrderStatus::Rejected => ("rejected", "Your order was rejected"),
        OrderStatus::Cancelled => ("rejected", "Your order was cancelled"),
    }
}

/// One thing to tell the Marketplace about an item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Plan {
    Status {
        status_type: &'static str,
        value: &'static str,
    },
    /// A public message by a mediator named `author`.
    Message { content: String, author: String },
}

impl Plan {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Status { .. } => "status",
            Self::Message { .. } => "message",
        }
    }
}

/// What `event`, recorded by `actor`, tells the Marketplace, given the order's
/// status before and after it: a message first (a question, a decision), then
/// the status it leads to.
pub fn plans(
    event: &OrderEvent,
    actor: &Actor,
    before: Option<OrderStatus>,
    after: Option<OrderStatus>,
) -> Vec<Plan> {
    let mut plans = Vec::new();
    if actor.role != "customer"
        && let Some(content) = message(event)
    {
        plans.push(Plan::Message {
            content,
            author: actor.subject.clone(),
        });
    }
    let shown = |status: Option<OrderStatus>| status.map(|s| marketplace_status(s).0);
    if let Some(after) = after
        && shown(before) != shown(Some(after))
    {
        let (status_type, value) = marketplace_status(after);
        plans.push(Plan::Status { status_type, value });
    }
    plans
}

/// The public message a staff event carries, if any.
fn message(event: &OrderEvent) -> Option<String> {
    Some(match event {
        OrderEvent::CommentAdded(comment) if comment.visibility == Visibility::Public => {
            comment.body.clone()
        }
        OrderEvent::QuestionAsked(question) => question.body.clone(),
        OrderEvent::OrderApproved(approved) => match &approved.note {
            Some(note) => format!("Your order is approved: {note}"),
            None => "Your order is approved.".to_owned(),
        },
        OrderEvent::OrderRejected(rejected) => {
            format!("Your order was rejected: {}", rejected.reason)
        }
        OrderEvent::ProposalMade(proposal) if proposal.side == Side::Shifter => {
            let changes = proposal
                .changed
                .iter()
                .map(|key| match proposal.parameters.get(key) {
                    Some(value) => format!("{key} = {value}"),
                    None => format!("{key} removed"),
                })
                .collect::<Vec<_>>()
                .join(", ");
            match &proposal.note {
                Some(note) => format!("A change to your order is proposed ({changes}): {note}"),
                None => format!("A change to your order is proposed ({changes})."),
            }
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use pactum_events::order::{CommentAdded, OrderApproved, QuestionAnswered, QuestionAsked};

    use super::*;

    fn staff() -> Actor {
        Actor {
            subject: "sam".into(),
            role: "shifter".into(),
            org: None,
        }
    }

    fn customer() -> Actor {
        Actor {
            subject: "alice@egi.eu".into(),
            role: "customer".into(),
            org: Some("acme".into()),
        }
    }

    #[test]
    fn a_question_is_a_message_then_a_wait() {
        let asked = OrderEvent::QuestionAsked(QuestionAsked {
            question_id: 1,
            body: "Which VO?".into(),
        });
        assert_eq!(
            plans(
                &asked,
                &staff(),
                Some(OrderStatus::InReview),
                Some(OrderStatus::WaitingForCustomer)
            ),
            [
                Plan::Message {
                    content: "Which VO?".into(),
                    author: "sam".into()
                },
                Plan::Status {
                    status_type: "waiting_for_response",
                    value: "Waiting for your answer to a question"
                }
            ]
        );
    }

    #[test]
    fn what_the_customer_says_is_not_sent_back() {
        let answered = OrderEvent::QuestionAnswered(QuestionAnswered {
            question_id: 1,
            body: "vo.example.org".into(),
        });
        assert_eq!(
            plans(
                &answered,
                &customer(),
                Some(OrderStatus::WaitingForCustomer),
                Some(OrderStatus::InReview)
            ),
            [Plan::Status {
                status_type: "in_progress",
                value: "Your order is being reviewed"
            }]
        );
        let comment = OrderEvent::CommentAdded(CommentAdded {
            comment_id: 1,
            body: "thanks".into(),
            visibility: Visibility::Public,
            provider: None,
        });
        let same = Some(OrderStatus::InReview);
        assert!(plans(&comment, &customer(), same, same).is_empty());
        assert_eq!(plans(&comment, &staff(), same, same).len(), 1);
        let internal = OrderEvent::CommentAdded(CommentAdded {
            visibility: Visibility::Internal,
            ..match comment {
                OrderEvent::CommentAdded(c) => c,
                _ => unreachable!(),
            }
        });
        assert!(plans(&internal, &staff(), same, same).is_empty());
    }

    #[test]
    fn statuses_the_marketplace_does_not_tell_apart_push_once() {
        let approved = OrderEvent::OrderApproved(OrderApproved { note: None });
        assert_eq!(
            plans(
                &approved,
                &staff(),
                Some(OrderStatus::InReview),
                Some(OrderStatus::Approved)
            )
            .iter()
            .map(Plan::kind)
            .collect::<Vec<_>>(),
            ["message", "status"]
        );
        let planned = OrderEvent::ProvisioningPlanned(pactum_events::order::ProvisioningPlanned {
            steps: Vec::new(),
            superseded: Vec::new(),
        });
        assert!(
            plans(
                &planned,
                &staff(),
                Some(OrderStatus::Approved),
                Some(OrderStatus::Provisioning)
            )
            .is_empty()
        );
    }

    #[test]
    fn every_status_has_a_marketplace_type() {
        for status in OrderStatus::ALL {
            let (kind, value) = marketplace_status(status);
            assert!(
                super::super::client::STATUS_TYPES.contains(&kind),
                "{status}"
            );
            assert!(!value.is_empty());
        }
    }
}
