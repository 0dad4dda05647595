//! Notifications: mail to customers, providers and shifters about what happened
//! to their orders. [`outbox`] queues each mail in the transaction of the event
//! that caused it; [`deliver`] sends what is queued, with retries, as `.eml`
//! files in a directory (the default: no mail server needed) or over SMTP.
//! Customers and shifters opt out per kind ([`set_preferences`], `PUT
//! /v1/me/notifications`); the preference in force when the event happens
//! applies. `docs/adr/0013` explains the choices.

pub mod deliver;
pub mod outbox;
pub mod queries;

use cqrs_es::Aggregate;
use cqrs_es::event_sink::EventSink;
use pactum_events::notification::{KINDS, NotificationEvent, NotificationPreferencesSet};
use serde::{Deserialize, Serialize};

use crate::access::Principal;
use crate::access::policy::{self, Capability};
use crate::execute::CommandMeta;
use crate::runner::{self, RunError, Runnable};
use crate::store::{EventStore, StoreError};
use crate::validation::FieldError;

/// The `notification_preferences` aggregate of one subject.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Preferences {
    opted_out: Vec<String>,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum PreferencesError {
    #[error("only customers and shifters receive notifications they can opt out of")]
    NotAllowed,
}

impl Runnable for Preferences {}

impl Aggregate for Preferences {
    const TYPE: &'static str = "notification_preferences";
    type Command = (Principal, Vec<String>);
    type Event = NotificationEvent;
    type Error = PreferencesError;
    type Services = ();

    async fn handle(
        &mut self,
        (by, opted_out): Self::Command,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), PreferencesError> {
        if !policy::may_do(&by, Capability::KeepNotificationPreferences) {
            return Err(PreferencesError::NotAllowed);
        }
        if opted_out != self.opted_out {
            let set = NotificationPreferencesSet {
                subject: by.subject,
                opted_out,
            };
            sink.write(NotificationEvent::NotificationPreferencesSet(set), self)
                .await;
        }
        Ok(())
    }

    fn apply(&mut self, event: NotificationEvent) {
        match event {
            NotificationEvent::NotificationPreferencesSet(set) => self.opted_out = set.opted_out,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PreferencesServiceError {
    #[error("invalid preferences")]
    Invalid(Vec<FieldError>),
    #[error(transparent)]
    Refused(#[from] PreferencesError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Run(#[from] RunError),
}

/// The kinds `principal` opted out of.
pub async fn preferences(
    store: &EventStore,
    principal: &Principal,
) -> Result<Vec<String>, StoreError> {
    let loaded = runner::load::<Preferences>(store, &principal.subject).await?;
    Ok(loaded.aggregate.opted_out)
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
    Ok(after.opted_out)
}
