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
}
