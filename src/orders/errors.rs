use pactum_events::order::OrderStatus;

/// Why the order aggregate refused a command. Each variant is one broken rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrderError {
    /// The order does not exist, or the caller may not see it.
    #[error("order not found")]
    NotFound,
    #[error("a {role} may not {verb} this order")]
    Forbidden {
        role: &'static str,
        verb: &'static str,
    },
    #[error("cannot {verb} an order that is {status}")]
    InvalidState {
        verb: &'static str,
        status: OrderStatus,
    },
    #[error("an order with this id already exists")]
    AlreadyExists,
    #[error("{assignee:?} is not a shifter of group {group:?}")]
    AssigneeNotInGroup { assignee: String, group: String },
    #[error("proposal {proposal_id} is still open; answer it, or counter it from the other side")]
    ProposalOpen {
        proposal_id: u32,
        status: OrderStatus,
    },
    #[error("no proposal {proposal_id} on this order")]
    NoSuchProposal { proposal_id: u32 },
    #[error("proposal {proposal_id} is no longer open")]
    ProposalClosed {
        proposal_id: u32,
        status: OrderStatus,
    },
    #[error("a proposal is accepted or declined by the other side, not by its author's")]
    OwnProposal,
    #[error("the proposal changes nothing")]
    NothingChanged,
    #[error("a provisioning plan needs at least one step")]
    EmptyPlan,
    #[error("no provisioning step {step_id} on this order")]
    NoSuchStep { step_id: u32 },
    #[error("step {step_id} is addressed to another provider")]
    NotYourStep { step_id: u32 },
    #[error("a provider message names the provider it is for")]
    NoProviderNamed,
    #[error("{provider:?} provisions none of this order's steps")]
    NotAProviderOfThisOrder { provider: String },
    #[error("a provider writes only its own messages, not {provider:?}'s")]
    NotYourProvider { provider: String },
    #[error("only a provider message names a provider")]
    ProviderOnlyForProviderMessages,
    #[error("step {step_id} is {step_status}, not {expected}")]
    StepState {
        step_id: u32,
        step_status: &'static str,
        expected: &'static str,
        status: OrderStatus,
    },
    #[error("provisioning is not finished: {detail}")]
    StepsNotDone { detail: String, status: OrderStatus },
}
