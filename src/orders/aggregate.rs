//! The order aggregate: the lifecycle of DESIGN.md ("Order lifecycle") as rules.
//!
//! ```text
//! submitted ─assign─▶ in_review ─ask─▶ waiting_for_customer ─answer─▶ in_review
//! submitted | in_review | negotiating ─propose─▶ negotiating (one open proposal;
//!     the other side accepts, declines or counters) ─accept | decline─▶ in_review
//! submitted | in_review ─approve─▶ approved        (a decision, made once)
//! submitted | in_review | waiting_for_customer | negotiating ─reject─▶ rejected
//! approved | provisioning ─plan─▶ provisioning (steps per provider: done, failed,
//!     retried; a new plan supersedes the steps not done)
//! provisioning (every step done) | approved (no steps) ─activate─▶ active
//! active ─close (its SLA terminated or expired)─▶ closed
//! anything before active ─cancel (customer)─▶ cancelled
//! ```
//! Comments are allowed in every state but the final ones. Rejected, cancelled and
//! closed are final: every command on a final order is refused, and an open
//! proposal or question closes with the order. A command that does not fit the
//! state is refused with the current status and produces no event.
//!
//! A ticket brought over from JIRA (`pactum import-jira`) carries its history as
//! `OrderStatusImported` events, folded here but never decided: they record what
//! JIRA's workflow did. From the import on, the rules above apply to it.

use std::collections::BTreeMap;

use cqrs_es::Aggregate;
use cqrs_es::event_sink::EventSink;
use pactum_events::order::{
    CommentAdded, OrderActivated, OrderApproved, OrderAssigned, OrderCancelled, OrderClosed,
    OrderEvent, OrderRejected, OrderStatus, OrderSubmitted, PlannedStep, ProposalAccepted,
    ProposalDeclined, ProposalMade, ProvisioningPlanned, QuestionAnswered, QuestionAsked, Side,
    StepReport, Visibility,
};
use serde::{Deserialize, Serialize};

use crate::access::policy::{self, OrderAction as Action, OrderScope};
use crate::access::{Principal, Role};
use crate::orders::clocks::{self, Clocks};
use crate::orders::commands::{OrderAction, OrderCommand};
use crate::orders::errors::OrderError;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Order {
    placed: Option<Placed>,
    assignee: Option<String>,
    open_question: Option<u32>,
    questions: u32,
    comments: u32,
    /// The open proposal and the side that made it.
    open_proposal: Option<(u32, Side)>,
    proposals: u32,
    steps: BTreeMap<u32, Step>,
    /// Providers any step was ever addressed to: they may see the order.
    providers: Vec<String>,
    clocks: Clocks,
}

/// What is fixed when an order is submitted.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Placed {
    org: String,
    group: String,
    status: OrderStatus,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Step {
    provider: String,
    state: StepState,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
enum StepState {
    Pending,
    Done,
    Failed,
    Superseded,
}

impl StepState {
    fn name(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Done => "done",
            Self::Failed => "failed",
            Self::Superseded => "superseded",
        }
    }
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

    /// The providers of the steps that are done (one OLA each on activation), in
    /// the order of their first step.
    pub fn providers_done(&self) -> Vec<String> {
        let mut providers = Vec::new();
        for step in self.steps.values() {
            if step.state == StepState::Done && !providers.contains(&step.provider) {
                providers.push(step.provider.clone());
            }
        }
        providers
    }

    pub fn scope(&self) -> Option<OrderScope<'_>> {
        self.placed.as_ref().map(|placed| OrderScope {
            org: &placed.org,
            group: &placed.group,
            providers: &self.providers,
        })
    }

    /// Whether `principal` may see this order at all.
    pub fn visible_to(&self, principal: &Principal) -> bool {
        self.scope()
            .is_some_and(|scope| policy::can_see_order(principal, scope))
    }

    /// The provider a comment of `visibility` is addressed to: for a provider
    /// message, one of the order's provisioning providers (a provider writes
    /// only its own); no other comment names one.
    fn message_provider(
        &self,
        by: &Principal,
        visibility: Visibility,
        provider: Option<String>,
    ) -> Result<Option<String>, OrderError> {
        if visibility != Visibility::Provider {
            return match provider {
                None => Ok(None),
                Some(_) => Err(OrderError::ProviderOnlyForProviderMessages),
            };
        }
        let provider = match (&by.role, provider) {
            // An operator writes as its provider on this order, if that is one.
            (Role::Provider { providers }, None) => {
                let mut own = self.providers.iter().filter(|p| providers.contains(*p));
                match (own.next(), own.next()) {
                    (Some(one), None) => one.clone(),
                    _ => return Err(OrderError::NoProviderNamed),
                }
            }
            (Role::Provider { providers }, Some(named)) if !providers.contains(&named) => {
                return Err(OrderError::NotYourProvider { provider: named });
            }
            (_, Some(named)) => named,
            (_, None) => return Err(OrderError::NoProviderNamed),
        };
        if !self.providers.contains(&provider) {
            return Err(OrderError::NotAProviderOfThisOrder { provider });
        }
        Ok(Some(provider))
    }

    /// Whether `principal` may do `action` here at all (seeing the order first),
    /// as `decide` would answer: a check callers run before costly preparation.
    pub fn permits(&self, principal: &Principal, action: Action) -> Result<(), OrderError> {
        let scope = self.scope().ok_or(OrderError::NotFound)?;
        if !policy::can_see_order(principal, scope) {
            return Err(OrderError::NotFound);
        }
        if !policy::may(principal, scope, action) {
            return Err(forbidden(principal, action));
        }
        Ok(())
    }

    /// Decides a command: the events it produces, or why it is refused.
    pub fn decide(&self, command: OrderCommand) -> Result<Vec<OrderEvent>, OrderError> {
        let OrderCommand { by, at, action } = command;
        if let OrderAction::Submit(new) = action {
            if self.placed.is_some() {
                return Err(OrderError::AlreadyExists);
            }
            let scope = OrderScope {
                org: &new.customer.org,
                group: &new.group,
                providers: &[],
            };
            if !policy::may(&by, scope, Action::Submit) {
                return Err(forbidden(&by, Action::Submit));
            }
            let mut new = *new;
            let targets = new.targets.take();
            let mut events = vec![OrderEvent::OrderSubmitted(OrderSubmitted {
                order_id: new.order_id,
                service: new.service,
                group: new.group,
                customer: new.customer,
                parameters: new.parameters.into_map(),
                title: new.title,
                note: new.note,
                submitted_at: new.submitted_at,
                source: new.source,
                service_version: new.service_version,
            })];
            if let Some(targets) = targets {
                events.extend(clocks::start(targets, new.submitted_at));
            }
            return Ok(events);
        }

        let placed = self.placed.as_ref().ok_or(OrderError::NotFound)?;
        let scope = self.scope().expect("placed");
        if !policy::can_see_order(&by, scope) {
            return Err(OrderError::NotFound);
        }
        let wanted = action.policy_action();
        if !policy::may(&by, scope, wanted) {
            return Err(forbidden(&by, wanted));
        }
        let status = placed.status;
        let invalid = || OrderError::InvalidState {
            verb: wanted.verb(),
            status,
        };
        let require = |allowed: &[OrderStatus]| {
            if allowed.contains(&status) {
                Ok(())
            } else {
                Err(invalid())
            }
        };
        use OrderStatus::*;
        // Warnings and breaches that fell due before now come first, dated when
        // they fell due.
        let mut events = self.clocks.alarms(at);
        let actor = match by.role {
            Role::Customer { .. } => clocks::Actor::Customer,
            _ => clocks::Actor::Staff,
        };
        if let OrderAction::CheckClocks = action {
            return Ok(events);
        }
        // Nothing happens to a final order any more: not even a comment.
        if status.is_final() {
            return Err(invalid());
        }
        let event = match action {
            OrderAction::Submit(_) | OrderAction::CheckClocks => unreachable!("handled above"),
            OrderAction::Assign {
                assignee,
                assignee_is_group_shifter,
            } => {
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
            OrderAction::Comment {
                body,
                visibility,
                provider,
            } => OrderEvent::CommentAdded(CommentAdded {
                comment_id: self.comments + 1,
                body,
                visibility,
                provider: self.message_provider(&by, visibility, provider)?,
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
                if status == Active {
                    return Err(invalid());
                }
                OrderEvent::OrderCancelled(OrderCancelled { reason })
            }
            OrderAction::Propose {
                parameters,
                changed,
                note,
            } => {
                require(&[Submitted, InReview, Negotiating])?;
                if changed.is_empty() {
                    return Err(OrderError::NothingChanged);
                }
                let side = side_of(&by);
                let counter_to = match self.open_proposal {
                    Some((open, open_side)) if open_side == side => {
                        return Err(OrderError::ProposalOpen {
                            proposal_id: open,
                            status,
                        });
                    }
                    Some((open, _)) => Some(open),
                    None => None,
                };
                OrderEvent::ProposalMade(ProposalMade {
                    proposal_id: self.proposals + 1,
                    side,
                    parameters: parameters.into_map(),
                    changed,
                    note,
                    counter_to,
                })
            }
            OrderAction::AcceptProposal { proposal_id, note } => {
                self.answerable(proposal_id, &by, status)?;
                OrderEvent::ProposalAccepted(ProposalAccepted { proposal_id, note })
            }
            OrderAction::DeclineProposal { proposal_id, note } => {
                self.answerable(proposal_id, &by, status)?;
                OrderEvent::ProposalDeclined(ProposalDeclined { proposal_id, note })
            }
            OrderAction::PlanProvisioning { steps } => {
                require(&[Approved, Provisioning])?;
                if steps.is_empty() {
                    return Err(OrderError::EmptyPlan);
                }
                let next = self.steps.keys().max().copied().unwrap_or(0) + 1;
                let superseded = self
                    .steps
                    .iter()
                    .filter(|(_, step)| {
                        matches!(step.state, StepState::Pending | StepState::Failed)
                    })
                    .map(|(id, _)| *id)
                    .collect();
                OrderEvent::ProvisioningPlanned(ProvisioningPlanned {
                    steps: steps
                        .into_iter()
                        .zip(next..)
                        .map(|((provider, action), step_id)| PlannedStep {
                            step_id,
                            provider,
                            action,
                        })
                        .collect(),
                    superseded,
                })
            }
            OrderAction::CompleteStep { step_id, note } => {
                self.reportable(step_id, &by, StepState::Pending, status)?;
                OrderEvent::ProvisioningStepDone(StepReport { step_id, note })
            }
            OrderAction::FailStep { step_id, note } => {
                self.reportable(step_id, &by, StepState::Pending, status)?;
                OrderEvent::ProvisioningStepFailed(StepReport { step_id, note })
            }
            OrderAction::RetryStep { step_id, note } => {
                self.reportable(step_id, &by, StepState::Failed, status)?;
                OrderEvent::ProvisioningStepRetried(StepReport { step_id, note })
            }
            OrderAction::Activate { agreements } => {
                match status {
                    Provisioning => self.all_steps_done(status)?,
                    Approved if self.steps.is_empty() => {}
                    _ => return Err(invalid()),
                }
                OrderEvent::OrderActivated(OrderActivated { agreements })
            }
            OrderAction::Close {
                reason,
                agreement_id,
            } => {
                require(&[Active])?;
                OrderEvent::OrderClosed(OrderClosed {
                    reason,
                    agreement_id,
                })
            }
        };
        let follow = self.clocks.follow(&event, actor, at);
        events.push(event);
        events.extend(follow);
        Ok(events)
    }

    /// A proposal may be answered if it is the open one and `by` is the other side.
    fn answerable(
        &self,
        proposal_id: u32,
        by: &Principal,
        status: OrderStatus,
    ) -> Result<(), OrderError> {
        if proposal_id == 0 || proposal_id > self.proposals {
            return Err(OrderError::NoSuchProposal { proposal_id });
        }
        match self.open_proposal {
            Some((open, side)) if open == proposal_id => {
                if side == side_of(by) {
                    Err(OrderError::OwnProposal)
                } else {
                    Ok(())
                }
            }
            _ => Err(OrderError::ProposalClosed {
                proposal_id,
                status,
            }),
        }
    }

    /// A step may be reported on (or retried) when it is in state `expected`;
    /// providers only report on their own steps.
    fn reportable(
        &self,
        step_id: u32,
        by: &Principal,
        expected: StepState,
        status: OrderStatus,
    ) -> Result<(), OrderError> {
        if status != OrderStatus::Provisioning {
            return Err(OrderError::InvalidState {
                verb: if expected == StepState::Failed {
                    Action::RetryStep.verb()
                } else {
                    Action::ReportStep.verb()
                },
                status,
            });
        }
        let step = self
            .steps
            .get(&step_id)
            .ok_or(OrderError::NoSuchStep { step_id })?;
        if let Role::Provider { providers } = &by.role
            && !providers.contains(&step.provider)
        {
            return Err(OrderError::NotYourStep { step_id });
        }
        if step.state != expected {
            return Err(OrderError::StepState {
                step_id,
                step_status: step.state.name(),
                expected: expected.name(),
                status,
            });
        }
        Ok(())
    }

    fn all_steps_done(&self, status: OrderStatus) -> Result<(), OrderError> {
        let open: Vec<String> = self
            .steps
            .iter()
            .filter(|(_, step)| matches!(step.state, StepState::Pending | StepState::Failed))
            .map(|(id, step)| format!("step {id} is {}", step.state.name()))
            .collect();
        if open.is_empty() {
            Ok(())
        } else {
            Err(OrderError::StepsNotDone {
                detail: open.join(", "),
                status,
            })
        }
    }
}

fn side_of(principal: &Principal) -> Side {
    match principal.role {
        Role::Customer { .. } => Side::Customer,
        _ => Side::Shifter,
    }
}

fn forbidden(by: &Principal, action: Action) -> OrderError {
    OrderError::Forbidden {
        role: by.role_name(),
        verb: action.verb(),
    }
}

impl crate::runner::Runnable for Order {
    /// An order that does not exist yet is anyone's to submit.
    fn visible(&self, principal: &Principal) -> Result<(), OrderError> {
        match self.scope().is_none() || self.visible_to(principal) {
            true => Ok(()),
            false => Err(OrderError::NotFound),
        }
    }

    /// The handling timer's records of a warning or a breach.
    fn is_bookkeeping(event_type: &str) -> bool {
        matches!(
            event_type,
            "HandlingTargetAtRisk" | "HandlingTargetBreached"
        )
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
        self.clocks.apply(&event);
        let set_status = |order: &mut Self, status| {
            if let Some(placed) = order.placed.as_mut() {
                placed.status = status;
            }
        };
        let set_step = |order: &mut Self, step_id: u32, state| {
            if let Some(step) = order.steps.get_mut(&step_id) {
                step.state = state;
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
            // A final order closes what was open on it.
            OrderEvent::OrderRejected(_) => {
                self.open_proposal = None;
                self.open_question = None;
                set_status(self, OrderStatus::Rejected);
            }
            OrderEvent::OrderCancelled(_) => {
                self.open_proposal = None;
                self.open_question = None;
                set_status(self, OrderStatus::Cancelled);
            }
            OrderEvent::ProposalMade(made) => {
                self.proposals = made.proposal_id;
                self.open_proposal = Some((made.proposal_id, made.side));
                set_status(self, OrderStatus::Negotiating);
            }
            OrderEvent::ProposalAccepted(_) | OrderEvent::ProposalDeclined(_) => {
                self.open_proposal = None;
                set_status(self, OrderStatus::InReview);
            }
            OrderEvent::ProvisioningPlanned(planned) => {
                for id in planned.superseded {
                    set_step(self, id, StepState::Superseded);
                }
                for step in planned.steps {
                    if !self.providers.contains(&step.provider) {
                        self.providers.push(step.provider.clone());
                    }
                    self.steps.insert(
                        step.step_id,
                        Step {
                            provider: step.provider,
                            state: StepState::Pending,
                        },
                    );
                }
                set_status(self, OrderStatus::Provisioning);
            }
            OrderEvent::ProvisioningStepDone(report) => {
                set_step(self, report.step_id, StepState::Done)
            }
            OrderEvent::ProvisioningStepFailed(report) => {
                set_step(self, report.step_id, StepState::Failed)
            }
            OrderEvent::ProvisioningStepRetried(report) => {
                set_step(self, report.step_id, StepState::Pending)
            }
            OrderEvent::OrderActivated(_) => set_status(self, OrderStatus::Active),
            OrderEvent::OrderClosed(_) => set_status(self, OrderStatus::Closed),
            // History from JIRA: the status it had there, whatever this
            // lifecycle would have allowed; a wait stands for a question the
            // customer answers here (`docs/adr/0019`).
            OrderEvent::OrderStatusImported(imported) => {
                self.open_proposal = None;
                match imported.question_id {
                    Some(question_id) => {
                        self.questions = self.questions.max(question_id);
                        self.open_question = Some(question_id);
                    }
                    None if imported.status != OrderStatus::WaitingForCustomer => {
                        self.open_question = None;
                    }
                    None => {}
                }
                set_status(self, imported.status);
            }
            OrderEvent::HandlingTargetsPinned(_)
            | OrderEvent::HandlingClockStarted(_)
            | OrderEvent::HandlingClockPaused(_)
            | OrderEvent::HandlingClockResumed(_)
            | OrderEvent::HandlingClockStopped(_)
            | OrderEvent::HandlingTargetAtRisk(_)
            | OrderEvent::HandlingTargetBreached(_) => {}
        }
    }
}

#[cfg(test)]
#[path = "aggregate_tests.rs"]
pub(crate) mod tests;
