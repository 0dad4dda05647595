//! Why handling targets are refused.

use crate::runner::RunError;
use crate::store::StoreError;
use crate::validation::FieldError;

/// Why the `handling_targets` aggregate refuses a command.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum TargetsError {
    #[error("only admins define handling targets")]
    NotAllowed,
}

#[derive(Debug, thiserror::Error)]
pub enum DefineError {
    #[error("invalid handling targets")]
    Invalid(Vec<FieldError>),
    #[error(transparent)]
    Refused(#[from] TargetsError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Run(#[from] RunError),
}
