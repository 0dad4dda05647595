#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum AccessError {
    #[error("only admins may manage tokens")]
    NotAllowed,
    #[error("this token id is already in use")]
    AlreadyIssued,
    #[error("no such token")]
    NotFound,
    #[error("the token is already revoked")]
    AlreadyRevoked,
}
