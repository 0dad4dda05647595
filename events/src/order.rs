//! Events of the `order` aggregate: intake, review, negotiation, decision,
//! provisioning, activation and closing.
//!
//! An order's parameters are stored canonically: keys are the catalogue's parameter
//! keys, integers are JSON integers, decimals JSON numbers, dates `YYYY-MM-DD`
//! strings, enums their canonical value.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::EventPayload;

/// The lifecycle states of an order (see DESIGN.md, "Order lifecycle").
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    Submitted,
    InReview,
    WaitingForCustomer,
    Negotiating,
    Approved,
    Provisioning,
    Active,
    Closed,
    Rejected,
    Cancelled,
}

impl OrderStatus {
    pub const ALL: [OrderStatus; 10] = [
        Self::Submitted,
        Self::InReview,
        Self::WaitingForCustomer,
        Self::Negotiating,
        Self::Approved,
        Self::Provisioning,
        Self::Active,
        Self::Closed,
        Self::Rejected,
        Self::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Submitted => "submitted",
            Self::InReview => "in_review",
            Self::WaitingForCustomer => "waiting_for_customer",
            Self::Negotiating => "negotiating",
            Self::Approved => "approved",
            Self::Provisioning => "provisioning",
            Self::Active => "active",
            Self::Closed => "closed",
            Self::Rejected => "rejected",
            Self::Cancelled => "cancelled",
        }
    }

    /// Closed, rejected and cancelled orders accept no further work.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Closed | Self::Rejected | Self::Cancelled)
    }
}

impl std::fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for OrderStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| format!("unknown order status {s:?}"))
    }
}

/// The customer an order belongs to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Customer {
    pub org: String,
    pub subject: String,
}

/// How an order entered pactum. Legacy orders keep their original string verbatim,
/// so an import is lossless.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OrderSource {
    /// `POST /v1/orders` with JSON.
    Api,
    /// `POST /v1/orders:legacy` with a legacy order string.
    Legacy { raw: String },
    /// `pactum import-legacy`: one line of a file, with the file's name.
    LegacyImport {
        raw: String,
        file: String,
        line: u64,
    },
    /// `pactum import-jira`: a ticket of the replaced JIRA back office, brought
    /// over with its history; `raw` is its description (the legacy order string)
    /// verbatim, `file` the export's name.
    JiraImport {
        key: String,
        raw: String,
        file: String,
    },
    /// A project item of the EOSC Marketplace, taken by pactum as its order
    /// management system (`oms_id`): `src/eosc/`, `docs/adr/0020`.
    Eosc {
        oms_id: String,
        project_id: u64,
        project_item_id: u64,
    },
}

impl OrderSource {
    /// The order's reference in the system it came from, which the queue
    /// can be filtered by (`GET /v1/orders?reference=`): a JIRA ticket's key.
    /// `None` for orders placed in pactum. A new source adds its arm here.
    pub fn reference(&self) -> Option<String> {
        match self {
            Self::Api | Self::Legacy { .. } | Self::LegacyImport { .. } => None,
            Self::JiraImport { key, .. } => Some(key.clone()),
            Self::Eosc {
                project_id,
                project_item_id,
                ..
            } => Some(format!("eosc:{project_id}/{project_item_id}")),
        }
    }
}

/// Who can read a comment: everyone on the order, shifters (and auditors) only,
/// or staff and one provider of the order's provisioning (named in the comment).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    Public,
    Internal,
    Provider,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OrderSubmitted {
    pub order_id: String,
    pub service: String,
    /// The order-type group the service belongs to; shifters of this group work it.
    pub group: String,
    pub customer: Customer,
    pub parameters: BTreeMap<String, Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// When the customer submitted the order. Equal to the envelope's `recorded_at`
    /// except for imported legacy orders, which keep their original time.
    pub submitted_at: Timestamp,
    pub source: OrderSource,
    /// The version of the service's definition the order was validated against
    /// (see `ServiceDefined::version`); its proposals and agreements keep using
    /// it. Absent in orders from before versions: those read as version 1, the
    /// only one there was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_version: Option<u32>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderAssigned {
    pub assignee: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_assignee: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommentAdded {
    /// 1-based number of the comment within its order.
    pub comment_id: u32,
    pub body: String,
    pub visibility: Visibility,
    /// The provider a [`Visibility::Provider`] comment is between staff and.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuestionAsked {
    /// 1-based number of the question within its order.
    pub question_id: u32,
    pub body: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuestionAnswered {
    pub question_id: u32,
    pub body: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderApproved {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderRejected {
    pub reason: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderCancelled {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Which side of a negotiation made a proposal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// A shifter, for the infrastructure.
    Shifter,
    /// The ordering organisation.
    Customer,
}

/// Changed parameters offered by one side; `parameters` is the whole set that
/// would be agreed, validated against the service like an order's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProposalMade {
    /// 1-based number of the proposal within its order.
    pub proposal_id: u32,
    pub side: Side,
    pub parameters: BTreeMap<String, Value>,
    /// Keys whose value differs from the parameters agreed so far.
    pub changed: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The open proposal of the other side this one answers, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counter_to: Option<u32>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProposalAccepted {
    pub proposal_id: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProposalDeclined {
    pub proposal_id: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// One piece of provisioning work, addressed to one resource provider.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedStep {
    /// 1-based number of the step within its order, never reused.
    pub step_id: u32,
    pub provider: String,
    pub action: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProvisioningPlanned {
    pub steps: Vec<PlannedStep>,
    /// Steps of an earlier plan that were not done and are replaced by this one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub superseded: Vec<u32>,
}

/// A provider reports on a step (done or failed), or a shifter retries one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepReport {
    pub step_id: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// An agreement issued when its order became active.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgreementRef {
    pub agreement_id: String,
    /// `sla` or `ola`.
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderActivated {
    pub agreements: Vec<AgreementRef>,
}

/// A status the order had in the system it was brought over from: a JIRA
/// ticket's workflow status, mapped to pactum's by `pactum import-jira`. It is
/// history recorded as it happened there, not a decision taken here, so it
/// follows that workflow's rules (a ticket closed straight from open, or
/// reopened) rather than pactum's lifecycle: readers set the order's status to
/// `status`, whatever it was before (`docs/adr/0019`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderStatusImported {
    pub status: OrderStatus,
    /// The status's name in JIRA, e.g. `Waiting for Customer`.
    pub jira_status: String,
    /// The name of the JIRA status it left; absent for the status the ticket
    /// was created in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_jira_status: Option<String>,
    /// Set when the order starts waiting for the customer: the wait stands for
    /// this question (numbered with the order's questions), which the
    /// customer's answer in pactum answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub question_id: Option<u32>,
}

/// The service ended: its SLA was terminated or expired.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderClosed {
    /// `terminated` or `expired`.
    pub reason: String,
    pub agreement_id: String,
}

/// One of an order's handling clocks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HandlingClock {
    /// From submission to assignment or the first public reply of a shifter.
    FirstResponse,
    /// From submission to approval or rejection.
    Decision,
}

impl HandlingClock {
    pub const ALL: [HandlingClock; 2] = [Self::FirstResponse, Self::Decision];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::FirstResponse => "first_response",
            Self::Decision => "decision",
        }
    }
}

impl std::fmt::Display for HandlingClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The handling targets in force when the order was submitted, copied whole: the
/// order's clocks follow them whatever is defined later.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandlingTargetsPinned {
    /// The `handling_targets` aggregate the targets come from, and its version.
    pub key: String,
    pub version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_response_seconds: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision_seconds: Option<i64>,
    pub warning_percent: u8,
    pub calendar: pactum_calendar::BusinessCalendar,
}

/// A clock started: `target_seconds` of business time from `at`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandlingClockStarted {
    pub clock: HandlingClock,
    pub at: Timestamp,
    pub target_seconds: i64,
    pub warn_at: Timestamp,
    pub due_at: Timestamp,
    pub cause: String,
}

/// A clock stopped counting while the order waits for the customer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandlingClockPaused {
    pub clock: HandlingClock,
    pub at: Timestamp,
    /// Business time counted so far.
    pub elapsed_seconds: i64,
    pub cause: String,
}

/// A paused clock counts again; its deadline moved by exactly the business time
/// it was paused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandlingClockResumed {
    pub clock: HandlingClock,
    pub at: Timestamp,
    /// Business time between the pause and this resumption.
    pub paused_seconds: i64,
    pub warn_at: Timestamp,
    pub due_at: Timestamp,
    pub cause: String,
}

/// A clock reached its end: the response or decision it measures happened, or
/// the order ended without it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandlingClockStopped {
    pub clock: HandlingClock,
    pub at: Timestamp,
    /// Business time counted in all.
    pub elapsed_seconds: i64,
    pub target_seconds: i64,
    /// Whether what the clock measures happened (a response, a decision);
    /// `false` when the order ended first (cancelled).
    pub reached: bool,
    /// `reached` and `elapsed_seconds < target_seconds` (the deadline itself is
    /// the first instant of a breach).
    pub within_target: bool,
    pub cause: String,
}

/// A running clock passed its warning threshold.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandlingTargetAtRisk {
    pub clock: HandlingClock,
    /// When the threshold was reached (the clock's `warn_at`).
    pub at: Timestamp,
    pub due_at: Timestamp,
    pub elapsed_seconds: i64,
    pub target_seconds: i64,
    pub cause: String,
}

/// A running clock passed its deadline.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandlingTargetBreached {
    pub clock: HandlingClock,
    /// When the deadline passed (the clock's `due_at`).
    pub at: Timestamp,
    pub target_seconds: i64,
    /// Business time the clock was paused in all before the deadline.
    pub paused_seconds: i64,
    pub cause: String,
}

/// Every event of the `order` aggregate.
// Events are built, encoded and dropped one at a time; boxing the large submission
// would add an allocation for nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum OrderEvent {
    OrderSubmitted(OrderSubmitted),
    OrderAssigned(OrderAssigned),
    CommentAdded(CommentAdded),
    QuestionAsked(QuestionAsked),
    QuestionAnswered(QuestionAnswered),
    OrderApproved(OrderApproved),
    OrderRejected(OrderRejected),
    OrderCancelled(OrderCancelled),
    ProposalMade(ProposalMade),
    ProposalAccepted(ProposalAccepted),
    ProposalDeclined(ProposalDeclined),
    ProvisioningPlanned(ProvisioningPlanned),
    ProvisioningStepDone(StepReport),
    ProvisioningStepFailed(StepReport),
    ProvisioningStepRetried(StepReport),
    OrderActivated(OrderActivated),
    OrderClosed(OrderClosed),
    HandlingTargetsPinned(HandlingTargetsPinned),
    HandlingClockStarted(HandlingClockStarted),
    HandlingClockPaused(HandlingClockPaused),
    HandlingClockResumed(HandlingClockResumed),
    HandlingClockStopped(HandlingClockStopped),
    HandlingTargetAtRisk(HandlingTargetAtRisk),
    HandlingTargetBreached(HandlingTargetBreached),
    OrderStatusImported(OrderStatusImported),
}

impl EventPayload for OrderEvent {
    const AGGREGATE_TYPE: &'static str = "order";

    fn event_type(&self) -> &'static str {
        match self {
            Self::OrderSubmitted(_) => "OrderSubmitted",
            Self::OrderAssigned(_) => "OrderAssigned",
            Self::CommentAdded(_) => "CommentAdded",
            Self::QuestionAsked(_) => "QuestionAsked",
            Self::QuestionAnswered(_) => "QuestionAnswered",
            Self::OrderApproved(_) => "OrderApproved",
            Self::OrderRejected(_) => "OrderRejected",
            Self::OrderCancelled(_) => "OrderCancelled",
            Self::ProposalMade(_) => "ProposalMade",
            Self::ProposalAccepted(_) => "ProposalAccepted",
            Self::ProposalDeclined(_) => "ProposalDeclined",
            Self::ProvisioningPlanned(_) => "ProvisioningPlanned",
            Self::ProvisioningStepDone(_) => "ProvisioningStepDone",
            Self::ProvisioningStepFailed(_) => "ProvisioningStepFailed",
            Self::ProvisioningStepRetried(_) => "ProvisioningStepRetried",
            Self::OrderActivated(_) => "OrderActivated",
            Self::OrderClosed(_) => "OrderClosed",
            Self::HandlingTargetsPinned(_) => "HandlingTargetsPinned",
            Self::HandlingClockStarted(_) => "HandlingClockStarted",
            Self::HandlingClockPaused(_) => "HandlingClockPaused",
            Self::HandlingClockResumed(_) => "HandlingClockResumed",
            Self::HandlingClockStopped(_) => "HandlingClockStopped",
            Self::HandlingTargetAtRisk(_) => "HandlingTargetAtRisk",
            Self::HandlingTargetBreached(_) => "HandlingTargetBreached",
            Self::OrderStatusImported(_) => "OrderStatusImported",
        }
    }

    fn current_version(event_type: &str) -> Option<u32> {
        match event_type {
            "OrderSubmitted"
            | "OrderAssigned"
            | "CommentAdded"
            | "QuestionAsked"
            | "QuestionAnswered"
            | "OrderApproved"
            | "OrderRejected"
            | "OrderCancelled"
            | "ProposalMade"
            | "ProposalAccepted"
            | "ProposalDeclined"
            | "ProvisioningPlanned"
            | "ProvisioningStepDone"
            | "ProvisioningStepFailed"
            | "ProvisioningStepRetried"
            | "OrderActivated"
            | "OrderClosed"
            | "HandlingTargetsPinned"
            | "HandlingClockStarted"
            | "HandlingClockPaused"
            | "HandlingClockResumed"
            | "HandlingClockStopped"
            | "HandlingTargetAtRisk"
            | "HandlingTargetBreached"
            | "OrderStatusImported" => Some(1),
            _ => None,
        }
    }
}
