//! The `notification_preferences` aggregate: the kinds of mail one subject
//! opted out of.

use cqrs_es::Aggregate;
use cqrs_es::event_sink::EventSink;
use pactum_events::notification::{NotificationEvent, NotificationPreferencesSet};
use serde::{Deserialize, Serialize};

use super::errors::PreferencesError;
use crate::access::Principal;
use crate::access::policy::{self, Capability};
use crate::runner::Runnable;

/// The `notification_preferences` aggregate of one subject.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Preferences {
    opted_out: Vec<String>,
}

impl Preferences {
    /// The kinds opted out of, sorted.
    pub fn opted_out(self) -> Vec<String> {
        self.opted_out
    }
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
