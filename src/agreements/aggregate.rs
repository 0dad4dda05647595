//! The `agreement` aggregate: issued once, amended into versions 2, 3..., then
//! terminated or expired; after that it accepts nothing more.

use cqrs_es::Aggregate;
use cqrs_es::event_sink::EventSink;
use jiff::civil::Date;
use pactum_events::agreement::{
    AgreementAmended, AgreementEvent, AgreementExpired, AgreementIssued, AgreementTerminated,
};
use serde::{Deserialize, Serialize};

use crate::access::Principal;
use crate::access::policy::{self, AgreementScope};
use crate::agreements::commands::{AgreementAction, AgreementCommand};
use crate::agreements::errors::AgreementError;
pub use crate::agreements::status::AgreementStatus;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Agreement {
    issued: Option<Issued>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Issued {
    kind: String,
    org: String,
    group: String,
    provider: Option<String>,
    order_id: String,
    end: Date,
    version: u32,
    status: AgreementStatus,
}

impl Agreement {
    fn scope(&self) -> Option<AgreementScope<'_>> {
        self.issued.as_ref().map(|i| AgreementScope {
            kind: &i.kind,
            org: &i.org,
            group: &i.group,
            provider: i.provider.as_deref(),
        })
    }

    pub fn visible_to(&self, principal: &Principal) -> bool {
        self.scope()
            .is_some_and(|scope| policy::can_see_agreement(principal, scope))
    }

    pub fn status(&self) -> Option<AgreementStatus> {
        self.issued.as_ref().map(|i| i.status)
    }

    pub fn kind(&self) -> Option<&str> {
        self.issued.as_ref().map(|i| i.kind.as_str())
    }

    pub fn order_id(&self) -> Option<&str> {
        self.issued.as_ref().map(|i| i.order_id.as_str())
    }

    pub fn version(&self) -> u32 {
        self.issued.as_ref().map_or(0, |i| i.version)
    }

    pub fn end(&self) -> Option<Date> {
        self.issued.as_ref().map(|i| i.end)
    }

    pub fn decide(&self, command: AgreementCommand) -> Result<Vec<AgreementEvent>, AgreementError> {
        let AgreementCommand { by, action } = command;
        if let AgreementAction::Issue {
            agreement_id,
            content,
            document,
        } = action
        {
            if self.issued.is_some() {
                return Err(AgreementError::AlreadyIssued);
            }
            let scope = AgreementScope {
                kind: &content.kind,
                org: &content.customer.org,
                group: &content.service.group,
                provider: content.provider.as_ref().map(|p| p.id.as_str()),
            };
            if !policy::may_manage_agreement(&by, scope) {
                return Err(AgreementError::Forbidden {
                    role: by.role_name(),
                });
            }
            return Ok(vec![AgreementEvent::AgreementIssued(AgreementIssued {
                agreement_id,
                content: *content,
                document,
            })]);
        }
        let issued = self.issued.as_ref().ok_or(AgreementError::NotFound)?;
        let scope = self.scope().expect("issued");
        if !policy::can_see_agreement(&by, scope) {
            return Err(AgreementError::NotFound);
        }
        if !policy::may_manage_agreement(&by, scope) {
            return Err(AgreementError::Forbidden {
                role: by.role_name(),
            });
        }
        if issued.status != AgreementStatus::Active {
            return Err(AgreementError::NotActive {
                status: issued.status,
            });
        }
        let event = match action {
            AgreementAction::Issue { .. } => unreachable!("handled above"),
            AgreementAction::Amend {
                targets,
                end,
                note,
                changes,
                document,
            } => {
                if let Some(requested) = end
                    && requested <= issued.end
                {
                    return Err(AgreementError::EndNotLater {
                        current: issued.end,
                        requested,
                    });
                }
                if targets.is_none() && end.is_none() {
                    return Err(AgreementError::NothingToAmend);
                }
                AgreementEvent::AgreementAmended(AgreementAmended {
                    version: issued.version + 1,
                    targets,
                    end,
                    note,
                    changes,
                    document,
                })
            }
            AgreementAction::Terminate { reason } => {
                AgreementEvent::AgreementTerminated(AgreementTerminated { reason })
            }
            AgreementAction::Expire { today } => {
                if today <= issued.end {
                    return Err(AgreementError::NotYetEnded { end: issued.end });
                }
                AgreementEvent::AgreementExpired(AgreementExpired { end: issued.end })
            }
        };
        Ok(vec![event])
    }
}

impl crate::runner::Runnable for Agreement {
    fn visible(&self, principal: &Principal) -> Result<(), AgreementError> {
        match self.visible_to(principal) {
            true => Ok(()),
            false => Err(AgreementError::NotFound),
        }
    }
}

impl Aggregate for Agreement {
    const TYPE: &'static str = "agreement";
    type Command = AgreementCommand;
    type Event = AgreementEvent;
    type Error = AgreementError;
    type Services = ();

    async fn handle(
        &mut self,
        command: AgreementCommand,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), AgreementError> {
        for event in self.decide(command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: AgreementEvent) {
        match event {
            AgreementEvent::AgreementIssued(issued) => {
                let content = issued.content;
                self.issued = Some(Issued {
                    kind: content.kind,
                    org: content.customer.org,
                    group: content.service.group,
                    provider: content.provider.map(|p| p.id),
                    order_id: content.order_id,
                    end: content.validity.end,
                    version: 1,
                    status: AgreementStatus::Active,
                });
            }
            AgreementEvent::AgreementAmended(amended) => {
                if let Some(issued) = self.issued.as_mut() {
                    issued.version = amended.version;
                    if let Some(end) = amended.end {
                        issued.end = end;
                    }
                }
            }
            AgreementEvent::AgreementTerminated(_) => {
                if let Some(issued) = self.issued.as_mut() {
                    issued.status = AgreementStatus::Terminated;
                }
            }
            AgreementEvent::AgreementExpired(_) => {
                if let Some(issued) = self.issued.as_mut() {
                    issued.status = AgreementStatus::Expired;
                }
            }
        }
    }
}

#[cfg(test)]
#[path = "aggregate_tests.rs"]
mod tests;
