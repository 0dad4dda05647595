//! The `membership` aggregate: the members of one group or provider. Adding a
//! member twice changes nothing (but an admin's direct decision about a member
//! recorded from a token's grant is recorded: it widens where it counts);
//! removing a non-member is refused.

use std::collections::BTreeMap;

use cqrs_es::Aggregate;
use cqrs_es::event_sink::EventSink;
use pactum_events::membership::{MemberAdded, MemberRemoved, MembershipEvent};
use serde::{Deserialize, Serialize};

use crate::access::policy::{self, Capability};
use crate::members::commands::MembershipCommand;
use crate::members::errors::MembershipError;

/// The members of one group or provider now, each with whether it was
/// recorded from a token's grant only.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Membership {
    pub members: BTreeMap<String, bool>,
}

impl Membership {
    pub fn is_member(&self, subject: &str) -> bool {
        self.members.contains_key(subject)
    }
}

impl Membership {
    fn decide(&self, command: MembershipCommand) -> Result<Vec<MembershipEvent>, MembershipError> {
        let by = match &command {
            MembershipCommand::Add { by, .. } | MembershipCommand::Remove { by, .. } => by,
        };
        if !policy::may_do(by, Capability::ManageMembers) {
            return Err(MembershipError::NotAllowed);
        }
        Ok(match command {
            MembershipCommand::Add {
                of,
                scope,
                subject,
                token,
                ..
            } => match self.members.get(&subject) {
                // Already so, or as wide already.
                Some(false) => Vec::new(),
                Some(true) if token.is_some() => Vec::new(),
                _ => vec![MembershipEvent::MemberAdded(MemberAdded {
                    of,
                    scope,
                    subject,
                    token,
                })],
            },
            MembershipCommand::Remove {
                of, scope, subject, ..
            } => {
                if !self.is_member(&subject) {
                    return Err(MembershipError::NotAMember {
                        of: of.as_str(),
                        scope,
                        subject,
                    });
                }
                vec![MembershipEvent::MemberRemoved(MemberRemoved {
                    of,
                    scope,
                    subject,
                })]
            }
        })
    }
}

impl Aggregate for Membership {
    const TYPE: &'static str = "membership";
    type Command = MembershipCommand;
    type Event = MembershipEvent;
    type Error = MembershipError;
    type Services = ();

    async fn handle(
        &mut self,
        command: MembershipCommand,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), MembershipError> {
        for event in self.decide(command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: MembershipEvent) {
        match event {
            MembershipEvent::MemberAdded(added) => {
                let by_token = added.token.is_some();
                let entry = self.members.entry(added.subject).or_insert(by_token);
                *entry = *entry && by_token;
            }
            MembershipEvent::MemberRemoved(removed) => {
                self.members.remove(&removed.subject);
            }
        }
    }
}

impl crate::runner::Runnable for Membership {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::{Principal, Role};
    use cqrs_es::test::TestFramework;
    use pactum_events::membership::MemberOf;

    fn admin() -> Principal {
        Principal::new("ada", Role::Admin)
    }

    fn add(by: Principal) -> MembershipCommand {
        MembershipCommand::Add {
            by,
            of: MemberOf::Group,
            scope: "compute".into(),
            subject: "sam".into(),
            token: None,
        }
    }

    fn added() -> MembershipEvent {
        MembershipEvent::MemberAdded(MemberAdded {
            of: MemberOf::Group,
            scope: "compute".into(),
            subject: "sam".into(),
            token: None,
        })
    }

    #[test]
    fn admins_add_once_and_remove_members() {
        TestFramework::<Membership>::with(())
            .given_no_previous_events()
            .when(add(admin()))
            .then_expect_events(vec![added()]);
        TestFramework::<Membership>::with(())
            .given(vec![added()])
            .when(add(admin()))
            .then_expect_events(vec![]);
        TestFramework::<Membership>::with(())
            .given(vec![added()])
            .when(MembershipCommand::Remove {
                by: admin(),
                of: MemberOf::Group,
                scope: "compute".into(),
                subject: "sam".into(),
            })
            .then_expect_events(vec![MembershipEvent::MemberRemoved(MemberRemoved {
                of: MemberOf::Group,
                scope: "compute".into(),
                subject: "sam".into(),
            })]);
    }

    #[test]
    fn only_admins_change_members_and_non_members_are_not_removed() {
        let shifter = Principal::new(
            "sam",
            Role::Shifter {
                groups: std::collections::BTreeSet::from(["compute".to_owned()]),
            },
        );
        TestFramework::<Membership>::with(())
            .given_no_previous_events()
            .when(add(shifter))
            .then_expect_error(MembershipError::NotAllowed);
        TestFramework::<Membership>::with(())
            .given_no_previous_events()
            .when(MembershipCommand::Remove {
                by: admin(),
                of: MemberOf::Group,
                scope: "compute".into(),
                subject: "sam".into(),
            })
            .then_expect_error(MembershipError::NotAMember {
                of: "group",
                scope: "compute".into(),
                subject: "sam".into(),
            });
    }
}
