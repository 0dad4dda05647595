//! What an admin sends to define handling targets, and its validation into the
//! event.

use jiff::SignedDuration;
use pactum_calendar::BusinessCalendar;
use pactum_events::handling::HandlingTargetsDefined;
use serde::Deserialize;

use super::DEFAULT_WARNING_PERCENT;
use crate::catalogue::Catalogue;
use crate::validation::FieldError;

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
