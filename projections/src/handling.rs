//! An order's handling clocks as readers see them: folded from the clock events
//! (the queue stores this fold as JSON; the order view folds it on each read),
//! and shown at an instant with the remaining business time.

use std::collections::BTreeMap;

use jiff::{SignedDuration, Timestamp};
use pactum_calendar::BusinessCalendar;
use pactum_events::order::{HandlingClock, HandlingTargetsPinned, OrderEvent};
use serde::{Deserialize, Serialize};

/// An order's handling clocks as the queue keeps them (stored as JSON).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandlingRow {
    /// The targets the order is pinned to: key and version.
    pub key: String,
    pub version: u32,
    pub clocks: BTreeMap<HandlingClock, ClockRow>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ClockState {
    Running,
    Paused,
    Stopped,
}

/// One clock: its state since `since`, with the business time counted by then.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClockRow {
    pub state: ClockState,
    pub since: Timestamp,
    pub elapsed_seconds: i64,
    pub target_seconds: i64,
    pub warn_at: Timestamp,
    pub due_at: Timestamp,
    pub warned: bool,
    pub breached: bool,
    /// Once stopped: whether it was within target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub within_target: Option<bool>,
}

impl HandlingRow {
    /// No clock started yet, under the targets `pinned`.
    pub fn pinned(pinned: &HandlingTargetsPinned) -> Self {
        Self {
            key: pinned.key.clone(),
            version: pinned.version,
            clocks: BTreeMap::new(),
        }
    }

    /// Folds one clock event.
    pub fn apply(&mut self, event: &OrderEvent) {
        let handling = self;
        match event {
            OrderEvent::HandlingClockStarted(started) => {
                handling.clocks.insert(
                    started.clock,
                    ClockRow {
                        state: ClockState::Running,
                        since: started.at,
                        elapsed_seconds: 0,
                        target_seconds: started.target_seconds,
                        warn_at: started.warn_at,
                        due_at: started.due_at,
                        warned: false,
                        breached: false,
                        within_target: None,
                    },
                );
            }
            OrderEvent::HandlingClockPaused(paused) => {
                if let Some(clock) = handling.clocks.get_mut(&paused.clock) {
                    clock.state = ClockState::Paused;
                    clock.since = paused.at;
                    clock.elapsed_seconds = paused.elapsed_seconds;
                }
            }
            OrderEvent::HandlingClockResumed(resumed) => {
                if let Some(clock) = handling.clocks.get_mut(&resumed.clock) {
                    clock.state = ClockState::Running;
                    clock.since = resumed.at;
                    clock.warn_at = resumed.warn_at;
                    clock.due_at = resumed.due_at;
                }
            }
            OrderEvent::HandlingClockStopped(stopped) => {
                if let Some(clock) = handling.clocks.get_mut(&stopped.clock) {
                    clock.state = ClockState::Stopped;
                    clock.since = stopped.at;
                    clock.elapsed_seconds = stopped.elapsed_seconds;
                    clock.within_target = Some(stopped.within_target);
                }
            }
            OrderEvent::HandlingTargetAtRisk(risk) => {
                if let Some(clock) = handling.clocks.get_mut(&risk.clock) {
                    clock.warned = true;
                }
            }
            OrderEvent::HandlingTargetBreached(breach) => {
                if let Some(clock) = handling.clocks.get_mut(&breach.clock) {
                    clock.warned = true;
                    clock.breached = true;
                }
            }
            _ => {}
        }
    }

    /// The earliest deadline of a running clock.
    pub fn due_at(&self) -> Option<Timestamp> {
        self.clocks
            .values()
            .filter(|c| c.state == ClockState::Running)
            .map(|c| c.due_at)
            .min()
    }

    /// The next instant a running clock passes its warning threshold or its
    /// deadline without that being recorded yet: when the timer must look.
    pub fn next_alarm_at(&self) -> Option<Timestamp> {
        self.clocks
            .values()
            .filter(|c| c.state == ClockState::Running)
            .filter_map(|c| {
                if !c.warned && c.warn_at < c.due_at {
                    Some(c.warn_at)
                } else if !c.breached {
                    Some(c.due_at)
                } else {
                    None
                }
            })
            .min()
    }
}

/// An order's clocks at an instant, as the API shows them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HandlingView {
    /// The handling targets the order is pinned to.
    pub targets: TargetsRef,
    /// The earliest deadline of a running clock.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub due_at: Option<Timestamp>,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub clocks: BTreeMap<HandlingClock, ClockView>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TargetsRef {
    pub key: String,
    pub version: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ClockView {
    pub state: ClockState,
    pub target_seconds: i64,
    /// Business time counted so far.
    pub elapsed_seconds: i64,
    /// Business time left before the deadline; negative once past it.
    pub remaining_seconds: i64,
    /// `remaining_seconds` as an ISO 8601 duration (`PT7H30M`, `-PT15M`).
    pub remaining: String,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub warn_at: Timestamp,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub due_at: Timestamp,
    /// Past the warning threshold.
    pub warning: bool,
    /// Past the deadline.
    pub breached: bool,
    pub within_target: Option<bool>,
}

impl HandlingRow {
    /// The clocks as they stand at `now`, counted in `calendar` (the pinned
    /// version's).
    pub fn view(&self, calendar: &BusinessCalendar, now: Timestamp) -> HandlingView {
        let clocks = self
            .clocks
            .iter()
            .map(|(&clock, row)| {
                let running = row.state == ClockState::Running;
                let elapsed = if running {
                    row.elapsed_seconds + calendar.between(row.since, now).as_secs()
                } else {
                    row.elapsed_seconds
                };
                let remaining = row.target_seconds - elapsed;
                let view = ClockView {
                    state: row.state,
                    target_seconds: row.target_seconds,
                    elapsed_seconds: elapsed,
                    remaining_seconds: remaining,
                    remaining: SignedDuration::from_secs(remaining).to_string(),
                    warn_at: row.warn_at,
                    due_at: row.due_at,
                    warning: row.warned || (running && now >= row.warn_at),
                    breached: row.breached
                        || (running && now >= row.due_at)
                        || row.within_target == Some(false) && remaining < 0,
                    within_target: row.within_target,
                };
                (clock, view)
            })
            .collect();
        HandlingView {
            targets: TargetsRef {
                key: self.key.clone(),
                version: self.version,
            },
            due_at: self.due_at(),
            clocks,
        }
    }
}
