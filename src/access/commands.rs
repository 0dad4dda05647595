use jiff::Timestamp;

use crate::access::Principal;

/// Commands of the `access_token` aggregate.
#[derive(Clone, Debug)]
pub enum AccessCommand {
    Issue {
        by: Principal,
        /// Who the token authenticates as.
        grant: Principal,
        token_sha256: String,
        expires_at: Option<Timestamp>,
        email: Option<String>,
    },
    Revoke {
        by: Principal,
        reason: Option<String>,
    },
}
