//! Refusals of the compliance aggregates.

/// Why a compliance command was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ComplianceError {
    #[error("{role}s may not {what}")]
    Forbidden {
        role: &'static str,
        what: &'static str,
    },
    #[error("the endpoint is not one of your providers' endpoints")]
    NotYourEndpoint,
    #[error("the endpoint is not declared with a heartbeat")]
    NoHeartbeat,
    #[error("month {month} has not been measured")]
    NotMeasured { month: String },
}
