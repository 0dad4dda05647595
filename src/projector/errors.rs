//! Why a projector stopped: shared by the runner, the log source and replay.

use crate::store::{AppendError, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum ProjectorError {
    #[error("projection {name} cannot apply the event at position {position}: {reason}")]
    Apply {
        name: String,
        position: u64,
        reason: String,
    },
    #[error("injected failure before commit at position {0}")]
    Injected(u64),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Append(#[from] AppendError),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error("reading the log: {0}")]
    Sqlite(#[from] rusqlite::Error),
}
