//! One order as its readers see it: the fold behind `GET /v1/orders/{id}`, command
//! responses and (with a prefix of the history) `?as_of=`.

use std::collections::BTreeMap;

use jiff::Timestamp;
use pactum_events::order::{
    AgreementRef, Customer, OrderEvent, OrderSource, OrderStatus, Side, Visibility,
};
use serde::Serialize;
use serde_json::Value;

use crate::EventContext;
use crate::audience::Audience;
use crate::handling::{HandlingRow, HandlingView};
use pactum_calendar::BusinessCalendar;

#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OrderView {
    pub id: String,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub status: OrderStatus,
    pub service: String,
    /// The version of the service the order is pinned to (absent: version 1,
    /// for orders from before services had versions).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_version: Option<u32>,
    pub group: String,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub customer: Customer,
    /// The parameters as ordered.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub parameters: BTreeMap<String, Value>,
    /// The parameters agreed so far: as ordered, or as the last accepted proposal.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub agreed_parameters: BTreeMap<String, Value>,
    pub title: Option<String>,
    pub note: Option<String>,
    pub assignee: Option<String>,
    /// The aggregate's last sequence number; send it back in `If-Match`.
    pub version: u64,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: Timestamp,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub updated_at: Timestamp,
    /// `api`, `legacy`, `legacy_import`, `jira_import` or `eosc` (a project
    /// item of the EOSC Marketplace).
    pub source: &'static str,
    /// The legacy order string, verbatim, for orders that came as one.
    pub legacy_order: Option<String>,
    /// Its reference in the system it came from (a JIRA ticket's key); the
    /// queue can be filtered by it.
    pub reference: Option<String>,
    pub questions: Vec<QuestionView>,
    pub comments: Vec<CommentView>,
    pub decision: Option<DecisionView>,
    pub cancellation: Option<CancellationView>,
    pub proposals: Vec<ProposalView>,
    pub provisioning: Vec<StepView>,
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Object>))]
    pub agreements: Vec<AgreementRef>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub activated_at: Option<Timestamp>,
    pub closed: Option<ClosedView>,
    /// The handling clocks at the instant of the read ([`OrderView::clocks_at`]);
    /// staff only.
    pub handling: Option<HandlingView>,
    /// The clocks as folded, with the pinned calendar.
    #[serde(skip)]
    pub clocks: Option<(HandlingRow, BusinessCalendar)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ProposalStatus {
    Open,
    Accepted,
    Declined,
    /// Answered by a proposal of the other side.
    Countered,
    /// Still open when the order was rejected or cancelled: it closed with the
    /// order, unanswered.
    Closed,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProposalView {
    pub id: u32,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub side: Side,
    pub by: String,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub parameters: BTreeMap<String, Value>,
    pub changed: Vec<String>,
    pub note: Option<String>,
    pub counter_to: Option<u32>,
    pub status: ProposalStatus,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub made_at: Timestamp,
    pub decided_by: Option<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub decided_at: Option<Timestamp>,
    pub decision_note: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum StepStatus {
    Pending,
    Done,
    Failed,
    /// Replaced by a later plan before it was done.
    Superseded,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StepView {
    pub id: u32,
    pub provider: String,
    pub action: String,
    pub status: StepStatus,
    pub note: Option<String>,
    /// How many times it was tried (1, then one more per retry).
    pub attempts: u32,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub planned_at: Timestamp,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub updated_at: Timestamp,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ClosedView {
    pub reason: String,
    pub agreement_id: String,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub at: Timestamp,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct QuestionView {
    pub id: u32,
    pub body: String,
    pub asked_by: String,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub asked_at: Timestamp,
    pub answer: Option<AnswerView>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AnswerView {
    pub body: String,
    pub answered_by: String,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub answered_at: Timestamp,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CommentView {
    pub id: u32,
    pub body: String,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub visibility: Visibility,
    /// The provider a `provider` message is between staff and.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    pub author: String,
    pub author_role: String,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: Timestamp,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DecisionView {
    /// `approved` or `rejected`.
    pub outcome: &'static str,
    pub by: String,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub at: Timestamp,
    pub note: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CancellationView {
    pub by: String,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
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
                    OrderSource::JiraImport { raw, .. } => ("jira_import", Some(raw.clone())),
                    OrderSource::Eosc { .. } => ("eosc", None),
                };
                return Some(Self {
                    id: submitted.order_id.clone(),
                    status: OrderStatus::Submitted,
                    service: submitted.service.clone(),
                    service_version: submitted.service_version,
                    group: submitted.group.clone(),
                    customer: submitted.customer.clone(),
                    parameters: submitted.parameters.clone(),
                    agreed_parameters: submitted.parameters.clone(),
                    title: submitted.title.clone(),
                    note: submitted.note.clone(),
                    assignee: None,
                    version: ctx.sequence,
                    created_at: submitted.submitted_at,
                    updated_at: ctx.recorded_at,
                    source,
                    legacy_order,
                    reference: submitted.source.reference(),
                    questions: Vec::new(),
                    comments: Vec::new(),
                    decision: None,
                    cancellation: None,
                    proposals: Vec::new(),
                    provisioning: Vec::new(),
                    agreements: Vec::new(),
                    activated_at: None,
                    closed: None,
                    handling: None,
                    clocks: None,
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
                provider: comment.provider.clone(),
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
                view.close_open_proposals();
                view.decision = Some(DecisionView {
                    outcome: "rejected",
                    by,
                    at: ctx.recorded_at,
                    note: Some(rejected.reason.clone()),
                });
            }
            OrderEvent::OrderCancelled(cancelled) => {
                view.status = OrderStatus::Cancelled;
                view.close_open_proposals();
                view.cancellation = Some(CancellationView {
                    by,
                    at: ctx.recorded_at,
                    reason: cancelled.reason.clone(),
                });
            }
            OrderEvent::ProposalMade(made) => {
                view.status = OrderStatus::Negotiating;
                if let Some(countered) = made.counter_to
                    && let Some(previous) = view.proposals.iter_mut().find(|p| p.id == countered)
                {
                    previous.status = ProposalStatus::Countered;
                    previous.decided_by = Some(by.clone());
                    previous.decided_at = Some(ctx.recorded_at);
                }
                view.proposals.push(ProposalView {
                    id: made.proposal_id,
                    side: made.side,
                    by,
                    parameters: made.parameters.clone(),
                    changed: made.changed.clone(),
                    note: made.note.clone(),
                    counter_to: made.counter_to,
                    status: ProposalStatus::Open,
                    made_at: ctx.recorded_at,
                    decided_by: None,
                    decided_at: None,
                    decision_note: None,
                });
            }
            OrderEvent::ProposalAccepted(accepted) => {
                view.status = OrderStatus::InReview;
                if let Some(proposal) = view.proposal_mut(accepted.proposal_id) {
                    proposal.status = ProposalStatus::Accepted;
                    proposal.decided_by = Some(by);
                    proposal.decided_at = Some(ctx.recorded_at);
                    proposal.decision_note = accepted.note.clone();
                    view.agreed_parameters = proposal.parameters.clone();
                }
            }
            OrderEvent::ProposalDeclined(declined) => {
                view.status = OrderStatus::InReview;
                if let Some(proposal) = view.proposal_mut(declined.proposal_id) {
                    proposal.status = ProposalStatus::Declined;
                    proposal.decided_by = Some(by);
                    proposal.decided_at = Some(ctx.recorded_at);
                    proposal.decision_note = declined.note.clone();
                }
            }
            OrderEvent::ProvisioningPlanned(planned) => {
                view.status = OrderStatus::Provisioning;
                for step in view.provisioning.iter_mut() {
                    if planned.superseded.contains(&step.id) {
                        step.status = StepStatus::Superseded;
                        step.updated_at = ctx.recorded_at;
                    }
                }
                view.provisioning
                    .extend(planned.steps.iter().map(|step| StepView {
                        id: step.step_id,
                        provider: step.provider.clone(),
                        action: step.action.clone(),
                        status: StepStatus::Pending,
                        note: None,
                        attempts: 1,
                        planned_at: ctx.recorded_at,
                        updated_at: ctx.recorded_at,
                    }));
            }
            OrderEvent::ProvisioningStepDone(report) => view.report_step(
                report.step_id,
                StepStatus::Done,
                &report.note,
                ctx.recorded_at,
            ),
            OrderEvent::ProvisioningStepFailed(report) => view.report_step(
                report.step_id,
                StepStatus::Failed,
                &report.note,
                ctx.recorded_at,
            ),
            OrderEvent::ProvisioningStepRetried(report) => {
                if let Some(step) = view
                    .provisioning
                    .iter_mut()
                    .find(|s| s.id == report.step_id)
                {
                    step.attempts += 1;
                }
                view.report_step(
                    report.step_id,
                    StepStatus::Pending,
                    &report.note,
                    ctx.recorded_at,
                )
            }
            OrderEvent::OrderActivated(activated) => {
                view.status = OrderStatus::Active;
                view.agreements = activated.agreements.clone();
                view.activated_at = Some(ctx.recorded_at);
            }
            OrderEvent::OrderClosed(closed) => {
                view.status = OrderStatus::Closed;
                view.closed = Some(ClosedView {
                    reason: closed.reason.clone(),
                    agreement_id: closed.agreement_id.clone(),
                    at: ctx.recorded_at,
                });
            }
            // JIRA's history: the status as it was there (`docs/adr/0019`).
            OrderEvent::OrderStatusImported(imported) => {
                view.status = imported.status;
                match imported.status {
                    OrderStatus::Approved | OrderStatus::Rejected => {
                        let approved = imported.status == OrderStatus::Approved;
                        if !approved {
                            view.close_open_proposals();
                        }
                        view.decision = Some(DecisionView {
                            outcome: if approved { "approved" } else { "rejected" },
                            by,
                            at: ctx.recorded_at,
                            note: None,
                        });
                    }
                    OrderStatus::Cancelled => {
                        view.close_open_proposals();
                        view.cancellation = Some(CancellationView {
                            by,
                            at: ctx.recorded_at,
                            reason: None,
                        });
                    }
                    _ => {}
                }
                if let Some(question_id) = imported.question_id {
                    view.questions.push(QuestionView {
                        id: question_id,
                        body: imported.jira_status.clone(),
                        asked_by: ctx.actor.subject.clone(),
                        asked_at: ctx.recorded_at,
                        answer: None,
                    });
                }
            }
            OrderEvent::HandlingTargetsPinned(pinned) => {
                view.clocks = Some((HandlingRow::pinned(pinned), pinned.calendar.clone()));
            }
            OrderEvent::HandlingClockStarted(_)
            | OrderEvent::HandlingClockPaused(_)
            | OrderEvent::HandlingClockResumed(_)
            | OrderEvent::HandlingClockStopped(_)
            | OrderEvent::HandlingTargetAtRisk(_)
            | OrderEvent::HandlingTargetBreached(_) => {
                if let Some((clocks, _)) = view.clocks.as_mut() {
                    clocks.apply(event);
                }
                // Clock events are bookkeeping: the order did not change.
                view.version = ctx.sequence;
                return Some(view);
            }
        }
        view.version = ctx.sequence;
        view.updated_at = ctx.recorded_at;
        Some(view)
    }

    /// Fills `handling` with the clocks as they stand at `now`.
    pub fn clocks_at(mut self, now: Timestamp) -> Self {
        self.handling = self
            .clocks
            .as_ref()
            .map(|(clocks, calendar)| clocks.view(calendar, now));
        self
    }

    /// A final order leaves no proposal open.
    fn close_open_proposals(&mut self) {
        for proposal in &mut self.proposals {
            if proposal.status == ProposalStatus::Open {
                proposal.status = ProposalStatus::Closed;
            }
        }
    }

    fn proposal_mut(&mut self, id: u32) -> Option<&mut ProposalView> {
        self.proposals.iter_mut().find(|p| p.id == id)
    }

    fn report_step(&mut self, id: u32, status: StepStatus, note: &Option<String>, at: Timestamp) {
        if let Some(step) = self.provisioning.iter_mut().find(|s| s.id == id) {
            step.status = status;
            step.note = note.clone();
            step.updated_at = at;
        }
    }

    /// The view shaped for `audience`: customers lose internal comments.
    pub fn for_audience(mut self, audience: Audience) -> Self {
        self.comments
            .retain(|comment| audience.sees_comment(comment.visibility));
        self.agreements
            .retain(|agreement| audience.sees_agreement(&agreement.kind));
        if audience != Audience::Staff {
            self.handling = None;
            self.clocks = None;
        }
        self
    }

    /// What a resource provider's operator sees: the service, the agreed
    /// parameters, the steps and OLA addressed to it and the messages between
    /// staff and it — no other discussion, no other provider.
    pub fn for_provider(self, provider: &str) -> Self {
        self.for_providers(&std::collections::BTreeSet::from([provider.to_owned()]))
    }

    /// The order as the operator of `providers` sees it: only the steps
    /// addressed to them, their OLAs and their messages.
    pub fn for_providers(mut self, providers: &std::collections::BTreeSet<String>) -> Self {
        let own = |provider: Option<&str>| provider.is_some_and(|p| providers.contains(p));
        self.comments.retain(|comment| {
            comment.visibility == Visibility::Provider && own(comment.provider.as_deref())
        });
        self.questions.clear();
        self.proposals.clear();
        self.note = None;
        self.decision = None;
        self.cancellation = None;
        self.legacy_order = None;
        self.handling = None;
        self.clocks = None;
        self.provisioning
            .retain(|step| providers.contains(&step.provider));
        self.agreements
            .retain(|agreement| own(agreement.provider.as_deref()));
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
        crate::test_events::submitted_at("2026-01-01T10:00:00Z".parse().unwrap())
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
                    provider: None,
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
