//! The `access_token` aggregate: one API token, issued once, revocable once.

use cqrs_es::Aggregate;
use cqrs_es::event_sink::EventSink;
use pactum_events::access::{AccessEvent, TokenIssued, TokenRevoked};
use serde::{Deserialize, Serialize};

use crate::access::commands::AccessCommand;
use crate::access::errors::AccessError;
use crate::access::policy;
use crate::access::{Principal, Role};
use crate::runner::Runnable;

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct AccessToken {
    token_id: Option<String>,
    /// Whom the token authenticates: who besides admins may revoke it.
    #[serde(default)]
    subject: Option<String>,
    revoked: bool,
}

impl AccessToken {
    fn decide(&self, command: AccessCommand, id: &str) -> Result<Vec<AccessEvent>, AccessError> {
        match command {
            AccessCommand::Issue {
                by,
                grant,
                token_sha256,
                expires_at,
                email,
            } => {
                if !policy::may_issue_token(&by, &grant) {
                    return Err(AccessError::NotAllowed);
                }
                if self.token_id.is_some() {
                    return Err(AccessError::AlreadyIssued);
                }
                let (org, groups, provider) = match &grant.role {
                    Role::Customer { org } => (Some(org.clone()), Vec::new(), None),
                    Role::Shifter { groups } => (None, groups.iter().cloned().collect(), None),
                    Role::Provider { providers } => (None, Vec::new(), providers.first().cloned()),
                    Role::Auditor | Role::Monitoring | Role::Admin | Role::System => {
                        (None, Vec::new(), None)
                    }
                };
                Ok(vec![AccessEvent::TokenIssued(TokenIssued {
                    token_id: id.to_owned(),
                    subject: grant.subject.clone(),
                    role: grant.role_name().to_owned(),
                    org,
                    groups,
                    provider,
                    token_sha256,
                    expires_at,
                    email,
                })])
            }
            AccessCommand::Revoke { by, reason } => {
                self.visible(&by)?;
                let token_id = self.token_id.clone().ok_or(AccessError::NotFound)?;
                if self.revoked {
                    return Err(AccessError::AlreadyRevoked);
                }
                Ok(vec![AccessEvent::TokenRevoked(TokenRevoked {
                    token_id,
                    reason,
                })])
            }
        }
    }
}

impl crate::runner::Runnable for AccessToken {
    /// Someone else's token does not exist for a caller who may not hold it.
    fn visible(&self, principal: &Principal) -> Result<(), AccessError> {
        match &self.subject {
            Some(owner) if !policy::may_hold_token(principal, owner) => Err(AccessError::NotFound),
            _ => Ok(()),
        }
    }
}

impl Aggregate for AccessToken {
    const TYPE: &'static str = "access_token";
    type Command = (String, AccessCommand);
    type Event = AccessEvent;
    type Error = AccessError;
    type Services = ();

    /// The command comes with the token id: a fresh aggregate does not know its own.
    async fn handle(
        &mut self,
        (id, command): Self::Command,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), AccessError> {
        for event in self.decide(command, &id)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: AccessEvent) {
        match event {
            AccessEvent::TokenIssued(issued) => {
                self.token_id = Some(issued.token_id);
                self.subject = Some(issued.subject);
            }
            AccessEvent::TokenRevoked(_) => self.revoked = true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cqrs_es::test::TestFramework;

    fn admin() -> Principal {
        Principal {
            subject: "root".into(),
            role: Role::Admin,
            also: Vec::new(),
        }
    }

    fn issue(by: Principal) -> (String, AccessCommand) {
        (
            "tok_1".into(),
            AccessCommand::Issue {
                by,
                grant: Principal {
                    subject: "alice".into(),
                    role: Role::Customer { org: "acme".into() },
                    also: Vec::new(),
                },
                token_sha256: "00".repeat(32),
                expires_at: None,
                email: None,
            },
        )
    }

    fn issued() -> AccessEvent {
        AccessEvent::TokenIssued(TokenIssued {
            token_id: "tok_1".into(),
            subject: "alice".into(),
            role: "customer".into(),
            org: Some("acme".into()),
            groups: vec![],
            provider: None,
            token_sha256: "00".repeat(32),
            expires_at: None,
            email: None,
        })
    }

    #[test]
    fn an_admin_issues_a_token() {
        TestFramework::<AccessToken>::with(())
            .given_no_previous_events()
            .when(issue(admin()))
            .then_expect_events(vec![issued()]);
    }

    #[test]
    fn a_customer_cannot_issue_tokens_for_others() {
        let alice = Principal {
            subject: "bob".into(),
            role: Role::Customer { org: "acme".into() },
            also: Vec::new(),
        };
        TestFramework::<AccessToken>::with(())
            .given_no_previous_events()
            .when(issue(alice))
            .then_expect_error(AccessError::NotAllowed);
    }

    #[test]
    fn a_customer_issues_a_token_for_itself_only() {
        let alice = Principal {
            subject: "alice".into(),
            role: Role::Customer { org: "acme".into() },
            also: Vec::new(),
        };
        TestFramework::<AccessToken>::with(())
            .given_no_previous_events()
            .when(issue(alice))
            .then_expect_events(vec![issued()]);
    }

    #[test]
    fn someone_elses_token_cannot_be_revoked_and_does_not_exist_for_them() {
        let bob = Principal {
            subject: "bob".into(),
            role: Role::Customer { org: "acme".into() },
            also: Vec::new(),
        };
        TestFramework::<AccessToken>::with(())
            .given(vec![issued()])
            .when((
                "tok_1".to_owned(),
                AccessCommand::Revoke {
                    by: bob,
                    reason: None,
                },
            ))
            .then_expect_error(AccessError::NotFound);
    }

    #[test]
    fn a_token_id_is_issued_once() {
        TestFramework::<AccessToken>::with(())
            .given(vec![issued()])
            .when(issue(admin()))
            .then_expect_error(AccessError::AlreadyIssued);
    }

    #[test]
    fn revocation_happens_once() {
        let revoke = || {
            (
                "tok_1".to_owned(),
                AccessCommand::Revoke {
                    by: admin(),
                    reason: None,
                },
            )
        };
        TestFramework::<AccessToken>::with(())
            .given(vec![issued()])
            .when(revoke())
            .then_expect_events(vec![AccessEvent::TokenRevoked(TokenRevoked {
                token_id: "tok_1".into(),
                reason: None,
            })]);
        TestFramework::<AccessToken>::with(())
            .given(vec![
                issued(),
                AccessEvent::TokenRevoked(TokenRevoked {
                    token_id: "tok_1".into(),
                    reason: None,
                }),
            ])
            .when(revoke())
            .then_expect_error(AccessError::AlreadyRevoked);
        TestFramework::<AccessToken>::with(())
            .given_no_previous_events()
            .when(revoke())
            .then_expect_error(AccessError::NotFound);
    }
}
