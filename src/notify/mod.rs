//! Notifications: mail to customers, providers and shifters about what happened
//! to their orders. [`outbox`] queues each mail in the transaction of the event
//! that caused it; [`deliver`] sends what is queued, with retries, as `.eml`
//! files in a directory (the default: no mail server needed) or over SMTP.
//! Customers and shifters opt out per kind ([`set_preferences`], `PUT
//! /v1/me/notifications`); the preference in force when the event happens
//! applies. `docs/adr/0013` explains the choices.
//!
//! - [`aggregate`] — the `notification_preferences` aggregate; [`errors`] — why
//!   it refuses.
//! - [`queries`] — the SQL of the outbox and of delivery.

pub mod aggregate;
pub mod deliver;
pub mod errors;
pub mod outbox;
pub mod queries;

pub use aggregate::Preferences;
pub use errors::{PreferencesError, PreferencesServiceError};

use pactum_events::notification::KINDS;

use crate::access::Principal;
use crate::execute::CommandMeta;
use crate::runner;
use crate::store::{EventStore, StoreError};
use crate::validation::FieldError;

/// The kinds `principal` opted out of.
pub async fn preferences(
    store: &EventStore,
    principal: &Principal,
) -> Result<Vec<String>, StoreError> {
    let loaded = crate::execute::load::<Preferences>(store, &principal.subject).await?;
    Ok(loaded.aggregate.opted_out())
}

/// Replaces the kinds the caller opted out of.
pub async fn set_preferences(
    store: &EventStore,
    opted_out: Vec<String>,
    meta: &CommandMeta,
) -> Result<Vec<String>, PreferencesServiceError> {
    let errors: Vec<FieldError> = opted_out
        .iter()
        .filter(|kind| !KINDS.contains(&kind.as_str()))
        .map(|kind| {
            FieldError::new(
                "opted_out",
                format!("unknown kind {kind:?} (known: {})", KINDS.join(", ")),
            )
        })
        .collect();
    if !errors.is_empty() {
        return Err(PreferencesServiceError::Invalid(errors));
    }
    let mut opted_out = opted_out;
    opted_out.sort();
    opted_out.dedup();
    let after: Preferences = runner::set::<Preferences, PreferencesServiceError>(
        store,
        &meta.principal.subject,
        meta,
        (meta.principal.clone(), opted_out),
    )
    .await?;
    Ok(after.opted_out())
}
