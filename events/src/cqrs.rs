//! `cqrs_es::DomainEvent` for every event enum (feature `cqrs`).

use crate::EventPayload;
use crate::access::AccessEvent;
use crate::agreement::AgreementEvent;
use crate::brand::BrandEvent;
use crate::catalogue::CatalogueEvent;
use crate::eosc::EoscEvent;
use crate::handling::HandlingEvent;
use crate::membership::MembershipEvent;
use crate::monitoring::{AccountingEvent, ComplianceEvent, EndpointEvent};
use crate::notification::NotificationEvent;
use crate::order::OrderEvent;

macro_rules! domain_event {
    ($($ty:ty),*) => {$(
        impl cqrs_es::DomainEvent for $ty {
            fn event_type(&self) -> String {
                EventPayload::event_type(self).to_owned()
            }
            fn event_version(&self) -> String {
                let version = <$ty as EventPayload>::current_version(EventPayload::event_type(self))
                    .expect("every variant has a version");
                version.to_string()
            }
        }
    )*};
}

domain_event!(
    OrderEvent,
    CatalogueEvent,
    AccessEvent,
    AgreementEvent,
    BrandEvent,
    HandlingEvent,
    NotificationEvent,
    MembershipEvent,
    EndpointEvent,
    ComplianceEvent,
    AccountingEvent,
    EoscEvent
);
