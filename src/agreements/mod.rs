//! Agreements: the SLA a customer holds and the OLAs of the providers that deliver
//! it, issued when an order becomes active, amended into new versions, terminated
//! or expired — each version with its rendered document.
//!
//! - [`commands`] — what callers ask ([`commands::AgreementCommand`]).
//! - [`aggregate`] — the `agreement` aggregate and its rules.
//! - [`errors`] — why it refuses a command; [`status`] — active, terminated, expired.
//! - [`content`] — what an agreement says, built from the order, the catalogue and
//!   the brand at issue time, and the document data of each version.
//! - [`service`] — activation (the order and its agreements in one transaction),
//!   amendment, termination, reads and document downloads.
//! - [`expiry`] — the timer that expires agreements when their validity ends.
//! - [`list`] — the agreement list, read from the `agreements` projection.
//! - [`queries`] — the SQL agreements read (the expiry timer's).

pub mod aggregate;
pub mod commands;
pub mod content;
pub mod errors;
pub mod expiry;
pub mod list;
pub mod queries;
pub mod service;
pub mod status;
pub mod verify;
