//! What callers ask of a membership.

use pactum_events::membership::MemberOf;

use crate::access::Principal;

#[derive(Clone, Debug)]
pub enum MembershipCommand {
    /// Makes `subject` a member (nothing happens if it is one already).
    Add {
        by: Principal,
        of: MemberOf,
        scope: String,
        subject: String,
        /// The token whose grant this records, if any.
        token: Option<String>,
    },
    /// Takes `subject` out; refused if it is not a member.
    Remove {
        by: Principal,
        of: MemberOf,
        scope: String,
        subject: String,
    },
}
