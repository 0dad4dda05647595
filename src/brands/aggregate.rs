//! The `brand` aggregate: one per organisation, its current brand.

use cqrs_es::Aggregate;
use cqrs_es::event_sink::EventSink;
use pactum_events::brand::{BrandDefined, BrandEvent, BrandRemoved};
use serde::{Deserialize, Serialize};

use super::errors::BrandError;
use crate::access::Principal;
use crate::access::policy::{self, Capability};
use crate::runner::Runnable;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Brand {
    current: Option<BrandDefined>,
}

impl Brand {
    /// The brand in force, if one was defined (and not removed since).
    pub fn current(self) -> Option<BrandDefined> {
        self.current
    }
}

/// What may be done to an organisation's brand.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BrandCommand {
    /// Define (or redefine) it; a brand equal to the current one writes nothing.
    Define(BrandDefined),
    /// Remove it (the organisation's documents go back to the issuer's brand).
    Remove { org: String },
}

impl Runnable for Brand {}

impl Aggregate for Brand {
    const TYPE: &'static str = "brand";
    type Command = (Principal, BrandCommand);
    type Event = BrandEvent;
    type Error = BrandError;
    type Services = ();

    async fn handle(
        &mut self,
        (by, command): Self::Command,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), BrandError> {
        if !policy::may_do(&by, Capability::DefineBrand) {
            return Err(BrandError::NotAllowed);
        }
        match command {
            BrandCommand::Define(brand) => {
                if self.current.as_ref() != Some(&brand) {
                    sink.write(BrandEvent::BrandDefined(brand), self).await;
                }
            }
            BrandCommand::Remove { org } => {
                if self.current.is_none() {
                    return Err(BrandError::NoBrand { org });
                }
                sink.write(BrandEvent::BrandRemoved(BrandRemoved { org }), self)
                    .await;
            }
        }
        Ok(())
    }

    fn apply(&mut self, event: BrandEvent) {
        match event {
            BrandEvent::BrandDefined(brand) => self.current = Some(brand),
            BrandEvent::BrandRemoved(_) => self.current = None,
        }
    }
}

#[cfg(test)]
mod tests {
    use cqrs_es::test::TestFramework;

    use super::*;
    use crate::access::Role;

    fn admin() -> Principal {
        Principal {
            subject: "ada".into(),
            role: Role::Admin,
            also: Vec::new(),
        }
    }

    fn acme() -> BrandDefined {
        BrandDefined {
            org: "acme".into(),
            name: "ACME Research".into(),
            colour: "#0a5f38".into(),
            footer: "ACME".into(),
            logo: None,
        }
    }

    fn remove() -> BrandCommand {
        BrandCommand::Remove { org: "acme".into() }
    }

    #[test]
    fn a_brand_is_removed_once_and_can_be_defined_again() {
        TestFramework::<Brand>::with(())
            .given(vec![BrandEvent::BrandDefined(acme())])
            .when((admin(), remove()))
            .then_expect_events(vec![BrandEvent::BrandRemoved(BrandRemoved {
                org: "acme".into(),
            })]);
        TestFramework::<Brand>::with(())
            .given(vec![
                BrandEvent::BrandDefined(acme()),
                BrandEvent::BrandRemoved(BrandRemoved { org: "acme".into() }),
            ])
            .when((admin(), remove()))
            .then_expect_error(BrandError::NoBrand { org: "acme".into() });
        TestFramework::<Brand>::with(())
            .given(vec![
                BrandEvent::BrandDefined(acme()),
                BrandEvent::BrandRemoved(BrandRemoved { org: "acme".into() }),
            ])
            .when((admin(), BrandCommand::Define(acme())))
            .then_expect_events(vec![BrandEvent::BrandDefined(acme())]);
    }

    #[test]
    fn only_admins_remove_a_brand() {
        let customer = Principal {
            subject: "alice".into(),
            role: Role::Customer { org: "acme".into() },
            also: Vec::new(),
        };
        TestFramework::<Brand>::with(())
            .given(vec![BrandEvent::BrandDefined(acme())])
            .when((customer, remove()))
            .then_expect_error(BrandError::NotAllowed);
    }
}
