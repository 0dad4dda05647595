//! Handling targets: how fast the orders of a group (or of one of its services)
//! are to be answered and decided, in business time, and the timer that records
//! when an order's clock passes its warning threshold or its deadline.
//!
//! Targets are events of the `handling_targets` aggregate, one per key (the group,
//! or `<group>/<service>`, which takes precedence). Each definition is a new
//! version; `handling_targets` (an inline table, every version) lets a submission
//! pin the version in force in the same breath, on any node. The clocks
//! themselves live in the order ([`crate::orders::clocks`]).

pub mod queries;
pub mod timer;

use cqrs_es::Aggregate;
use cqrs_es::event_sink::EventSink;
use jiff::SignedDuration;
use pactum_calendar::BusinessCalendar;
use pactum_events::handling::{HandlingEvent, HandlingTargetsDefined, target_key};
use pactum_events::order::HandlingTargetsPinned;
use serde::{Deserialize, Serialize};

use crate::access::Principal;
use crate::access::policy::{self, Capability};
use crate::catalogue::Catalogue;
use crate::execute::CommandMeta;
use crate::runner::{self, RunError, Runnable};
use crate::store::{EventStore, StoreError};
use crate::validation::FieldError;

/// The warning threshold when a definition gives none.
pub const DEFAULT_WARNING_PERCENT: u8 = 75;

/// The longest target accepted: a year of business time.
const MAX_TARGET: SignedDuration = SignedDuration::from_hours(24 * 366);

/// What an admin sends (`PUT /v1/handling-targets/{group}[/{service}]`),
/// unvalidated.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetsRequest {
    /// ISO 8601 (`PT8H`) or friendly (`8h 30m`) business time.
    pub first_response: Option<String>,
    pub decision: Option<String>,
    pub warning_percent: Option<u8>,
    pub calendar: Option<serde_json::Value>,
    /// The text of an iCalendar file whose events are holidays (added to the
    /// calendar's `holidays`).
    pub holidays_ics: Option<String>,
}

impl TargetsRequest {
    /// The definition this request makes for `group` (and `service`, both
    /// checked against `catalogue`), version left 0 for the aggregate to number.
    pub fn validate(
        &self,
        catalogue: &Catalogue,
        group: &str,
        service: Option<&str>,
    ) -> Result<HandlingTargetsDefined, Vec<FieldError>> {
        let mut errors = Vec::new();
        if !catalogue.groups.contains_key(group) {
            errors.push(FieldError::new(
                "group",
                format!("unknown order-type group {group:?}"),
            ));
        }
        if let Some(service) = service {
            match catalogue.service(service) {
                None => errors.push(FieldError::new(
                    "service",
                    format!("unknown service {service:?}"),
                )),
                Some(defined) if defined.group != group => errors.push(FieldError::new(
                    "service",
                    format!("service {service:?} is in group {:?}", defined.group),
                )),
                Some(_) => {}
            }
        }
        let mut target = |field: &str, value: &Option<String>| -> Option<i64> {
            let text = value.as_deref()?;
            match parse_target(text) {
                Ok(seconds) => Some(seconds),
                Err(message) => {
                    errors.push(FieldError::new(field, message));
                    None
                }
            }
        };
        let first_response_seconds = target("first_response", &self.first_response);
        let decision_seconds = target("decision", &self.decision);
        if self.first_response.is_none() && self.decision.is_none() {
            errors.push(FieldError::new(
                "first_response",
                "give first_response, decision or both",
            ));
        }
        let warning_percent = self.warning_percent.unwrap_or(DEFAULT_WARNING_PERCENT);
        if !(1..=99).contains(&warning_percent) {
            errors.push(FieldError::new(
                "warning_percent",
                "must be a whole percentage from 1 to 99",
            ));
        }
        let calendar = match &self.calendar {
            None => {
                errors.push(FieldError::new(
                    "calendar",
                    "required: {\"time_zone\": ..., \"hours\": {\"monday\": [\"09:00-18:00\"], ...}}",
                ));
                None
            }
            Some(value) => match serde_json::from_value::<BusinessCalendar>(value.clone()) {
                Err(e) => {
                    errors.push(FieldError::new("calendar", e.to_string()));
                    None
                }
                Ok(mut calendar) => {
                    if let Some(ics) = &self.holidays_ics {
                        match pactum_calendar::holidays_from_ics(ics) {
                            Ok(days) => calendar.holidays.extend(days),
                            Err(e) => errors.push(FieldError::new("holidays_ics", e.to_string())),
                        }
                    }
                    match calendar.validate() {
                        Ok(()) => Some(calendar),
                        Err(e) => {
                            errors.push(FieldError::new("calendar", e.to_string()));
                            None
                        }
                    }
                }
            },
        };
        match calendar {
            Some(calendar) if errors.is_empty() => Ok(HandlingTargetsDefined {
                group: group.to_owned(),
                service: service.map(str::to_owned),
                version: 0,
                first_response_seconds,
                decision_seconds,
                warning_percent,
                calendar,
            }),
            _ => Err(errors),
        }
    }
}

/// Whole seconds of business time from `PT8H` or `8h 30m`.
fn parse_target(text: &str) -> Result<i64, String> {
    let duration: SignedDuration = text
        .parse()
        .map_err(|e| format!("{text:?} is not a duration like PT8H or 8h 30m: {e}"))?;
    if duration <= SignedDuration::ZERO || duration > MAX_TARGET {
        return Err(format!(
            "{text:?} must be more than zero and at most {} hours",
            MAX_TARGET.as_hours()
        ));
    }
    if duration.subsec_nanos() != 0 {
        return Err(format!("{text:?} must be whole seconds"));
    }
    Ok(duration.as_secs())
}

/// The `handling_targets` aggregate: the current definition of one key.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Targets {
    current: Option<HandlingTargetsDefined>,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum TargetsError {
    #[error("only admins define handling targets")]
    NotAllowed,
}

impl Runnable for Targets {}

impl Aggregate for Targets {
    const TYPE: &'static str = "handling_targets";
    type Command = (Principal, HandlingTargetsDefined);
    type Event = HandlingEvent;
    type Error = TargetsError;
    type Services = ();

    async fn handle(
        &mut self,
        (by, mut definition): Self::Command,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), TargetsError> {
        if !policy::may_do(&by, Capability::DefineHandlingTargets) {
            return Err(TargetsError::NotAllowed);
        }
        let version = self.current.as_ref().map_or(0, |c| c.version);
        definition.version = version;
        if self.current.as_ref() == Some(&definition) {
            // The same targets again: no new version.
            return Ok(());
        }
        definition.version = version + 1;
        sink.write(HandlingEvent::HandlingTargetsDefined(definition), self)
            .await;
        Ok(())
    }

    fn apply(&mut self, event: HandlingEvent) {
        match event {
            HandlingEvent::HandlingTargetsDefined(defined) => self.current = Some(defined),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DefineError {
    #[error("invalid handling targets")]
    Invalid(Vec<FieldError>),
    #[error(transparent)]
    Refused(#[from] TargetsError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Run(#[from] RunError),
}

/// Defines the targets of `group` (or of `service` in it): a new version, in
/// force for orders submitted from now on. Returns the definition as stored.
pub async fn define(
    store: &EventStore,
    catalogue: &Catalogue,
    group: &str,
    service: Option<&str>,
    request: &TargetsRequest,
    meta: &CommandMeta,
) -> Result<HandlingTargetsDefined, DefineError> {
    let definition = request
        .validate(catalogue, group, service)
        .map_err(DefineError::Invalid)?;
    let key = definition.key();
    let after: Targets = runner::set::<Targets, DefineError>(
        store,
        &key,
        meta,
        (meta.principal.clone(), definition),
    )
    .await?;
    Ok(after.current.expect("defined"))
}

/// The targets in force for a new order of `service` in `group`: the service's
/// own, else its group's, else none.
pub async fn in_force(
    store: &EventStore,
    group: &str,
    service: &str,
) -> Result<Option<HandlingTargetsPinned>, StoreError> {
    let service_key = target_key(group, Some(service));
    let rows = queries::newest_first(store, [&service_key, group]).await?;
    let pick = rows
        .iter()
        .find(|(key, _, _)| *key == service_key)
        .or_else(|| rows.first());
    let Some(definition) = pick else {
        return Ok(None);
    };
    Ok(Some(pinned(queries::decode(definition)?)))
}

/// What an order copies of a definition.
pub fn pinned(defined: HandlingTargetsDefined) -> HandlingTargetsPinned {
    HandlingTargetsPinned {
        key: defined.key(),
        version: defined.version,
        first_response_seconds: defined.first_response_seconds,
        decision_seconds: defined.decision_seconds,
        warning_percent: defined.warning_percent,
        calendar: defined.calendar,
    }
}

/// One version of one key's targets.
pub async fn version(
    store: &EventStore,
    key: &str,
    version: u32,
) -> Result<Option<HandlingTargetsDefined>, StoreError> {
    queries::version(store, key, version).await
}

/// The current version of every key, by key.
pub async fn current(store: &EventStore) -> Result<Vec<HandlingTargetsDefined>, StoreError> {
    queries::current(store).await
}

/// Keeps `handling_targets` in step with the definitions, in their transaction
/// (its SQL is in [`queries`]).
pub struct TargetsTable;
