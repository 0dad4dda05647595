#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum AccessError {
    #[error(
        "only admins issue tokens for others; anyone else only for itself, with at most its own role and scope"
    )]
    NotAllowed,
    #[error("this token id is already in use")]
    AlreadyIssued,
    #[error("no such token")]
    NotFound,
    #[error("the token is already revoked")]
    AlreadyRevoked,
}
