use jiff::Timestamp;
use pactum_events::order::{
    AgreementRef, Customer, HandlingTargetsPinned, OrderSource, Visibility,
};

use crate::access::Principal;
use crate::access::policy::OrderAction as Action;
use crate::catalogue::params::Parameters;

/// The longest title an order may have.
pub const TITLE_MAX: usize = 200;
/// The longest comment, question or answer (from the API or the Marketplace).
pub const COMMENT_MAX: usize = 20_000;

/// A command to the order aggregate: who asks, and what.
#[derive(Clone, Debug)]
pub struct OrderCommand {
    pub by: Principal,
    /// When the command is decided: clocks count up to here.
    pub at: Timestamp,
    pub action: OrderAction,
}

/// Everything one can ask of an order. Text fields arrive validated (trimmed,
/// bounded); outside facts the aggregate cannot look up arrive as fields.
#[derive(Clone, Debug)]
pub enum OrderAction {
    Submit(Box<NewOrder>),
    Assign {
        assignee: String,
        /// Whether `assignee` is a shifter of the order's group (from the
        /// central list of shifters, looked up by the caller).
        assignee_is_group_shifter: bool,
    },
    Comment {
        body: String,
        visibility: Visibility,
        /// For a [`Visibility::Provider`] comment: the provider of one of the
        /// order's provisioning steps it is between staff and (a provider
        /// writing one names itself, or nothing).
        provider: Option<String>,
    },
    AskQuestion {
        body: String,
    },
    Answer {
        body: String,
    },
    Approve {
        note: Option<String>,
    },
    Reject {
        reason: String,
    },
    Cancel {
        reason: Option<String>,
    },
    /// Changed parameters: `parameters` is the whole set that would be agreed
    /// (validated), `changed` the keys that differ from what is agreed so far.
    Propose {
        parameters: Parameters,
        changed: Vec<String>,
        note: Option<String>,
    },
    AcceptProposal {
        proposal_id: u32,
        note: Option<String>,
    },
    DeclineProposal {
        proposal_id: u32,
        note: Option<String>,
    },
    /// Steps, each addressed to a provider that delivers the service (checked by
    /// the caller against the catalogue).
    PlanProvisioning {
        steps: Vec<(String, String)>,
    },
    CompleteStep {
        step_id: u32,
        note: Option<String>,
    },
    FailStep {
        step_id: u32,
        note: Option<String>,
    },
    RetryStep {
        step_id: u32,
        note: Option<String>,
    },
    /// The agreements issued with the activation (rendered by the caller).
    Activate {
        agreements: Vec<AgreementRef>,
    },
    /// Record the handling-clock warnings and breaches that fell due (the
    /// timer's command; nothing else changes).
    CheckClocks,
    /// Its SLA ended.
    Close {
        reason: String,
        agreement_id: String,
    },
}

/// A new order, its parameters already validated against its service.
#[derive(Clone, Debug)]
pub struct NewOrder {
    pub order_id: String,
    pub service: String,
    /// The version of the service the parameters were validated against.
    pub service_version: Option<u32>,
    pub group: String,
    pub customer: Customer,
    pub parameters: Parameters,
    pub title: Option<String>,
    pub note: Option<String>,
    pub submitted_at: Timestamp,
    pub source: OrderSource,
    /// The handling targets in force for the order's service, if any: its clocks
    /// start under them.
    pub targets: Option<HandlingTargetsPinned>,
}

impl OrderAction {
    /// The policy action this command needs permission for.
    pub fn policy_action(&self) -> Action {
        match self {
            Self::Submit(_) => Action::Submit,
            Self::Assign { .. } => Action::Assign,
            Self::Comment {
                visibility: Visibility::Public,
                ..
            } => Action::CommentPublic,
            Self::Comment {
                visibility: Visibility::Internal,
                ..
            } => Action::CommentInternal,
            Self::Comment {
                visibility: Visibility::Provider,
                ..
            } => Action::CommentProvider,
            Self::AskQuestion { .. } => Action::AskQuestion,
            Self::Answer { .. } => Action::Answer,
            Self::Approve { .. } => Action::Approve,
            Self::Reject { .. } => Action::Reject,
            Self::Cancel { .. } => Action::Cancel,
            Self::Propose { .. } => Action::Propose,
            Self::AcceptProposal { .. } | Self::DeclineProposal { .. } => Action::AnswerProposal,
            Self::PlanProvisioning { .. } => Action::PlanProvisioning,
            Self::CompleteStep { .. } | Self::FailStep { .. } => Action::ReportStep,
            Self::RetryStep { .. } => Action::RetryStep,
            Self::Activate { .. } => Action::Activate,
            Self::Close { .. } => Action::Close,
            Self::CheckClocks => Action::CheckClocks,
        }
    }
}
