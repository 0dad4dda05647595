//! Why a brand is refused.

use crate::runner::RunError;
use crate::store::StoreError;
use crate::validation::FieldError;

/// Why the brand aggregate refuses a command.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum BrandError {
    #[error("only admins define brands")]
    NotAllowed,
    /// Removing a brand that is not there (never defined, or removed already).
    #[error("{org} has no brand")]
    NoBrand { org: String },
}

/// Why defining or removing a brand failed.
#[derive(Debug, thiserror::Error)]
pub enum DefineError {
    #[error("invalid brand")]
    Invalid(Vec<FieldError>),
    #[error(transparent)]
    Refused(#[from] BrandError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Run(#[from] RunError),
    /// The logo's rendering did not finish (the runtime shut down, or it panicked).
    #[error("the logo check did not finish: {0}")]
    Interrupted(String),
}
