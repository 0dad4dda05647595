//! Why a membership command is refused.

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum MembershipError {
    #[error("only admins add and remove members of groups and providers")]
    NotAllowed,
    #[error("{subject} is not a member of {of} {scope}")]
    NotAMember {
        of: &'static str,
        scope: String,
        subject: String,
    },
}
