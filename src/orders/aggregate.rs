//! The order aggregate: the lifecycle of DESIGN.md ("Order lifecycle") as rules.
//!
//! ```text
//! submitted ─assign─▶ in_review ─ask─▶ waiting_for_customer ─answer─▶ in_review
//! submitted | in_review ─approve─▶ approved        (a decision, made once)
//! submitted | in_review | waiting_for_customer | negotiating ─reject─▶ rejected
//! anything before active ─cancel (customer)─▶ cancelled
//! ```
//! Negotiation, provisioning, activation and closing come with agreements.
//! Comments are allowed in every state. A command that does not fit the state is
//! refused with the current status and produces no event.

use cqrs_es::Aggregate;
use cqrs_es::event_sink::EventSink;
use pactum_events::order::{
    CommentAdded, OrderApproved, OrderAssigned, OrderCancelled, OrderEvent, OrderRejected,
    OrderStatus, OrderSubmitted, QuestionAnswered, QuestionAsked,
};
use serde::{Deserialize, Serialize};

use crate::access::Principal;
use crate::access::policy::{self, OrderAction as Action, OrderScope};
use crate::orders::commands::{OrderAction, OrderCommand};
use crate::orders::errors::OrderError;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Order {
    placed: Option<Placed>,
    assignee: Option<String>,
    open_question: Option<u32>,
    questions: u32,
    comments: u32,
}

/// What is fixed when an order is submitted.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Placed {
    org: String,
    group: String,
    status: OrderStatus,
}

impl Order {
    pub fn exists(&self) -> bool {
        self.placed.is_some()
    }

    pub fn status(&self) -> Option<OrderStatus> {
        self.placed.as_ref().map(|p| p.status)
    }

    /// The order's group, once submitted.
    pub fn group(&self) -> Option<&str> {
        self.placed.as_ref().map(|p| p.group.as_str())
    }

    /// Whether `principal` may see this order at all.
    pub fn visible_to(&self, principal: &Principal) -> bool {
        self.placed.as_ref().is_some_and(|placed| {
            policy::can_see_order(
                principal,
                OrderScope {
                    org: &placed.org,
                    group: &placed.group,
                },
            )
        })
    }

    /// Decides a command: the events it produces, or why it is refused.
    pub fn decide(&self, command: OrderCommand) -> Result<Vec<OrderEvent>, OrderError> {
        let OrderCommand { by, action } = command;
        if let OrderAction::Submit(new) = action {
            if self.placed.is_some() {
                return Err(OrderError::AlreadyExists);
            }
            let scope = OrderScope {
                org: &new.customer.org,
                group: &new.group,
            };
            if !policy::may(&by, scope, Action::Submit) {
                return Err(forbidden(&by, Action::Submit));
            }
            let new = *new;
            return Ok(vec![OrderEvent::OrderSubmitted(OrderSubmitted {
                order_id: new.order_id,
                service: new.service,
                group: new.group,
                customer: new.customer,
                parameters: new.parameters.into_map(),
                title: new.title,
                note: new.note,
                submitted_at: new.submitted_at,
                source: new.source,
            })]);
        }

        let placed = self.placed.as_ref().ok_or(OrderError::NotFound)?;
        let scope = OrderScope {
            org: &placed.org,
            group: &placed.group,
        };
        if !policy::can_see_order(&by, scope) {
            return Err(OrderError::NotFound);
        }
        let wanted = action.policy_action();
        if !policy::may(&by, scope, wanted) {
            return Err(forbidden(&by, wanted));
        }
        let status = placed.status;
        let require = |allowed: &[OrderStatus]| {
            if allowed.contains(&status) {
                Ok(())
            } else {
                Err(OrderError::InvalidState {
                    verb: wanted.verb(),
                    status,
                })
            }
        };
        use OrderStatus::*;
        let event = match action {
            OrderAction::Submit(_) => unreachable!("handled above"),
            OrderAction::Assign {
                assignee,
                assignee_is_group_shifter,
            } => {
                if status.is_final() {
                    return Err(OrderError::InvalidState {
                        verb: wanted.verb(),
                        status,
                    });
                }
                if !assignee_is_group_shifter {
                    return Err(OrderError::AssigneeNotInGroup {
                        assignee,
                        group: placed.group.clone(),
                    });
                }
                if self.assignee.as_deref() == Some(assignee.as_str()) {
                    // Assigning to the current assignee changes nothing.
                    return Ok(Vec::new());
                }
                OrderEvent::OrderAssigned(OrderAssigned {
                    assignee,
                    previous_assignee: self.assignee.clone(),
                })
            }
            OrderAction::Comment { body, visibility } => OrderEvent::CommentAdded(CommentAdded {
                comment_id: self.comments + 1,
                body,
                visibility,
            }),
            OrderAction::AskQuestion { body } => {
                require(&[Submitted, InReview])?;
                OrderEvent::QuestionAsked(QuestionAsked {
                    question_id: self.questions + 1,
                    body,
                })
            }
            OrderAction::Answer { body } => {
                require(&[WaitingForCustomer])?;
                OrderEvent::QuestionAnswered(QuestionAnswered {
                    question_id: self.open_question.unwrap_or(self.questions),
                    body,
                })
            }
            OrderAction::Approve { note } => {
                require(&[Submitted, InReview])?;
                OrderEvent::OrderApproved(OrderApproved { note })
            }
            OrderAction::Reject { reason } => {
                require(&[Submitted, InReview, WaitingForCustomer, Negotiating])?;
                OrderEvent::OrderRejected(OrderRejected { reason })
            }
            OrderAction::Cancel { reason } => {
                // Anything before active; an active order is terminated instead.
                if status.is_final() || status == Active {
                    return Err(OrderError::InvalidState {
                        verb: wanted.verb(),
                        status,
                    });
                }
                OrderEvent::OrderCancelled(OrderCancelled { reason })
            }
        };
        Ok(vec![event])
    }
}

fn forbidden(by: &Principal, action: Action) -> OrderError {
    OrderError::Forbidden {
        role: by.role_name(),
        verb: action.verb(),
    }
}

impl Aggregate for Order {
    const TYPE: &'static str = "order";
    type Command = OrderCommand;
    type Event = OrderEvent;
    type Error = OrderError;
    type Services = ();

    async fn handle(
        &mut self,
        command: OrderCommand,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), OrderError> {
        for event in self.decide(command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: OrderEvent) {
        let set_status = |order: &mut Self, status| {
            if let Some(placed) = order.placed.as_mut() {
                placed.status = status;
            }
        };
        match event {
            OrderEvent::OrderSubmitted(submitted) => {
                self.placed = Some(Placed {
                    org: submitted.customer.org,
                    group: submitted.group,
                    status: OrderStatus::Submitted,
                });
            }
            OrderEvent::OrderAssigned(assigned) => {
                self.assignee = Some(assigned.assignee);
                if self.status() == Some(OrderStatus::Submitted) {
                    set_status(self, OrderStatus::InReview);
                }
            }
            OrderEvent::CommentAdded(comment) => self.comments = comment.comment_id,
            OrderEvent::QuestionAsked(question) => {
                self.questions = question.question_id;
                self.open_question = Some(question.question_id);
                set_status(self, OrderStatus::WaitingForCustomer);
            }
            OrderEvent::QuestionAnswered(_) => {
                self.open_question = None;
                set_status(self, OrderStatus::InReview);
            }
            OrderEvent::OrderApproved(_) => set_status(self, OrderStatus::Approved),
            OrderEvent::OrderRejected(_) => set_status(self, OrderStatus::Rejected),
            OrderEvent::OrderCancelled(_) => set_status(self, OrderStatus::Cancelled),
        }
    }
}

#[cfg(test)]
#[path = "aggregate_tests.rs"]
mod tests;
