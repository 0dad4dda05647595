//! Why the agreement aggregate refuses a command.

use jiff::civil::Date;

use crate::agreements::status::AgreementStatus;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AgreementError {
    /// It does not exist, or the caller may not see it.
    #[error("agreement not found")]
    NotFound,
    #[error("a {role} may not change agreements")]
    Forbidden { role: &'static str },
    #[error("this agreement id is already issued")]
    AlreadyIssued,
    #[error("the agreement is {status}")]
    NotActive { status: AgreementStatus },
    #[error("the new end date {requested} is not after the current one, {current}")]
    EndNotLater { current: Date, requested: Date },
    #[error("an amendment must change the targets or extend the end date")]
    NothingToAmend,
    #[error("the agreement runs until {end}; it cannot expire before then")]
    NotYetEnded { end: Date },
}
