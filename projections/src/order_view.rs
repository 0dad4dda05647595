//! One order as its readers see it: the fold behind `GET /v1/orders/{id}`, command
//! responses and (with a prefix of the history) `?as_of=`.

use std::collections::BTreeMap;

use jiff::Timestamp;
use pactum_events::order::{Customer, OrderEvent, OrderSource, OrderStatus, Visibility};
use serde::Serialize;
use serde_json::Value;

use crate::EventContext;
use crate::audience::Audience;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OrderView {
    pub id: String,
    pub status: OrderStatus,
    pub service: String,
    pub group: String,
    pub customer: Customer,
    pub parameters: BTreeMap<String, Value>,
    pub title: Option<String>,
    pub note: Option<String>,
    pub assignee: Option<String>,
    /// The aggregate's last sequence number; send it back in `If-Match`.
    pub version: u64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// `api`, `legacy` or `legacy_import`.
    pub source: &'static str,
    /// The legacy order string, verbatim, for orders that came as one.
    pub legacy_order: Option<String>,
    pub questions: Vec<QuestionView>,
    pub comments: Vec<CommentView>,
    pub decision: Option<DecisionView>,
    pub cancellation: Option<CancellationView>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct QuestionView {
    pub id: u32,
    pub body: String,
    pub asked_by: String,
    pub asked_at: Timestamp,
    pub answer: Option<AnswerView>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AnswerView {
    pub body: String,
    pub answered_by: String,
    pub answered_at: Timestamp,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CommentView {
    pub id: u32,
    pub body: String,
    pub visibility: Visibility,
    pub author: String,
    pub author_role: String,
    pub created_at: Timestamp,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DecisionView {
    /// `approved` or `rejected`.
    pub outcome: &'static str,
    pub by: String,
    pub at: Timestamp,
    pub note: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CancellationView {
    pub by: String,
    pub at: Timestamp,
    pub reason: Option<String>,
}

impl OrderView {
    /// Folds an order's events, oldest first. `None` until `OrderSubmitted`.
    pub fn fold<'a>(
        events: impl IntoIterator<Item = (EventContext<'a>, &'a OrderEvent)>,
    ) -> Option<Self> {
        let mut view: Option<Self> = None;
        for (ctx, event) in events {
            view = Self::step(view, ctx, event);
        }
        view
    }

    /// Applies one event.
    pub fn step(view: Option<Self>, ctx: EventContext<'_>, event: &OrderEvent) -> Option<Self> {
        let mut view = match (view, event) {
            (None, OrderEvent::OrderSubmitted(submitted)) => {
                let (source, legacy_order) = match &submitted.source {
                    OrderSource::Api => ("api", None),
                    OrderSource::Legacy { raw } => ("legacy", Some(raw.clone())),
                    OrderSource::LegacyImport { raw, .. } => ("legacy_import", Some(raw.clone())),
                };
                return Some(Self {
                    id: submitted.order_id.clone(),
                    status: OrderStatus::Submitted,
                    service: submitted.service.clone(),
                    group: submitted.group.clone(),
                    customer: submitted.customer.clone(),
                    parameters: submitted.parameters.clone(),
                    title: submitted.title.clone(),
                    note: submitted.note.clone(),
                    assignee: None,
                    version: ctx.sequence,
                    created_at: submitted.submitted_at,
                    updated_at: ctx.recorded_at,
                    source,
                    legacy_order,
                    questions: Vec::new(),
                    comments: Vec::new(),
                    decision: None,
                    cancellation: None,
                });
            }
            (Some(view), _) => view,
            // An event before submission cannot happen in a valid log; skip it.
            (None, _) => return None,
        };
        let by = ctx.actor.subject.clone();
        match event {
            OrderEvent::OrderSubmitted(_) => {}
            OrderEvent::OrderAssigned(assigned) => {
                view.assignee = Some(assigned.assignee.clone());
                if view.status == OrderStatus::Submitted {
                    view.status = OrderStatus::InReview;
                }
            }
            OrderEvent::CommentAdded(comment) => view.comments.push(CommentView {
                id: comment.comment_id,
                body: comment.body.clone(),
                visibility: comment.visibility,
                author: by,
                author_role: ctx.actor.role.clone(),
                created_at: ctx.recorded_at,
            }),
            OrderEvent::QuestionAsked(question) => {
                view.status = OrderStatus::WaitingForCustomer;
                view.questions.push(QuestionView {
                    id: question.question_id,
                    body: question.body.clone(),
                    asked_by: by,
                    asked_at: ctx.recorded_at,
                    answer: None,
                });
            }
            OrderEvent::QuestionAnswered(answer) => {
                view.status = OrderStatus::InReview;
                if let Some(question) = view
                    .questions
                    .iter_mut()
                    .find(|q| q.id == answer.question_id)
                {
                    question.answer = Some(AnswerView {
                        body: answer.body.clone(),
                        answered_by: by,
                        answered_at: ctx.recorded_at,
                    });
                }
            }
            OrderEvent::OrderApproved(approved) => {
                view.status = OrderStatus::Approved;
                view.decision = Some(DecisionView {
                    outcome: "approved",
                    by,
                    at: ctx.recorded_at,
                    note: approved.note.clone(),
                });
            }
            OrderEvent::OrderRejected(rejected) => {
                view.status = OrderStatus::Rejected;
                view.decision = Some(DecisionView {
                    outcome: "rejected",
                    by,
                    at: ctx.recorded_at,
                    note: Some(rejected.reason.clone()),
                });
            }
            OrderEvent::OrderCancelled(cancelled) => {
                view.status = OrderStatus::Cancelled;
                view.cancellation = Some(CancellationView {
                    by,
                    at: ctx.recorded_at,
                    reason: cancelled.reason.clone(),
                });
            }
        }
        view.version = ctx.sequence;
        view.updated_at = ctx.recorded_at;
        Some(view)
    }

    /// The view shaped for `audience`: customers lose internal comments.
    pub fn for_audience(mut self, audience: Audience) -> Self {
        self.comments
            .retain(|comment| audience.sees_comment(comment.visibility));
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pactum_events::Actor;
    use pactum_events::order::*;

    fn actor(subject: &str, role: &str) -> Actor {
        Actor {
            subject: subject.into(),
            role: role.into(),
            org: None,
        }
    }

    fn submitted() -> OrderEvent {
        OrderEvent::OrderSubmitted(OrderSubmitted {
            order_id: "o-1".into(),
            service: "cloud-compute".into(),
            group: "compute".into(),
            customer: Customer {
                org: "acme".into(),
                subject: "alice".into(),
            },
            parameters: BTreeMap::new(),
            title: None,
            note: None,
            submitted_at: "2026-01-01T10:00:00Z".parse().unwrap(),
            source: OrderSource::Api,
        })
    }

    #[test]
    fn folds_the_review_and_hides_internal_comments_from_customers() {
        let customer = actor("alice", "customer");
        let shifter = actor("sam", "shifter");
        let t = |m: i64| {
            "2026-01-01T10:00:00Z"
                .parse::<Timestamp>()
                .unwrap()
                .checked_add(jiff::SignedDuration::from_mins(m))
                .unwrap()
        };
        let events = [
            (&customer, submitted()),
            (
                &shifter,
                OrderEvent::OrderAssigned(OrderAssigned {
                    assignee: "sam".into(),
                    previous_assignee: None,
                }),
            ),
            (
                &shifter,
                OrderEvent::CommentAdded(CommentAdded {
                    comment_id: 1,
                    body: "internal note".into(),
                    visibility: Visibility::Internal,
                }),
            ),
            (
                &shifter,
                OrderEvent::QuestionAsked(QuestionAsked {
                    question_id: 1,
                    body: "Which VO?".into(),
                }),
            ),
        ];
        let view = OrderView::fold(events.iter().enumerate().map(|(i, (actor, e))| {
            (
                EventContext {
                    sequence: i as u64 + 1,
                    recorded_at: t(i as i64),
                    actor,
                },
                e,
            )
        }))
        .unwrap();
        assert_eq!(view.status, OrderStatus::WaitingForCustomer);
        assert_eq!(view.assignee.as_deref(), Some("sam"));
        assert_eq!(view.version, 4);
        assert_eq!(view.updated_at, t(3));
        assert_eq!(view.comments.len(), 1);
        assert!(
            view.clone()
                .for_audience(Audience::Customer)
                .comments
                .is_empty()
        );
        assert_eq!(view.for_audience(Audience::Staff).comments.len(), 1);
    }
}
