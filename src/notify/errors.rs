//! Why mail preferences are refused.

use crate::runner::RunError;
use crate::store::StoreError;
use crate::validation::FieldError;

/// Why the `notification_preferences` aggregate refuses a command.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum PreferencesError {
    #[error("only customers and shifters receive notifications they can opt out of")]
    NotAllowed,
}

#[derive(Debug, thiserror::Error)]
pub enum PreferencesServiceError {
    #[error("invalid preferences")]
    Invalid(Vec<FieldError>),
    #[error(transparent)]
    Refused(#[from] PreferencesError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Run(#[from] RunError),
}
