//! # pactum-events: the event contract
//!
//! Every change in pactum is one of the events defined here, appended to one log.
//! This crate is what reporting jobs link against: it holds the event types of each
//! aggregate, their stable type strings and schema versions, the envelope every
//! stored event carries ([`RecordedEvent`]), and the upcasters that read old schema
//! versions.
//!
//! Start with [`RecordedEvent`] (the shape of one line of `pactum export`), then the
//! event enum of the aggregate you care about: [`order::OrderEvent`],
//! [`catalogue::CatalogueEvent`], [`access::AccessEvent`],
//! [`agreement::AgreementEvent`], [`brand::BrandEvent`],
//! [`handling::HandlingEvent`], [`notification::NotificationEvent`],
//! [`membership::MembershipEvent`], compliance's [`monitoring::EndpointEvent`],
//! [`monitoring::ComplianceEvent`], [`monitoring::AccountingEvent`], and the EOSC
//! Marketplace adapter's [`eosc::EoscEvent`].
//!
//! **Contract rules.** An event's type string never changes once released. A payload
//! change that old readers cannot ignore is a new schema version with an upcaster in
//! [`upcast`]; stored events are never rewritten. Golden fixtures in `fixtures/`
//! pin the JSON of every event type.

pub mod access;
pub mod agreement;
pub mod brand;
pub mod catalogue;
mod codec;
#[cfg(feature = "cqrs")]
mod cqrs;
mod envelope;
pub mod eosc;
pub mod handling;
pub mod membership;
pub mod monitoring;
pub mod notification;
pub mod order;
pub mod upcast;

pub use codec::{DecodeError, EventPayload, type_names};
pub use envelope::{Actor, RecordedEvent};
