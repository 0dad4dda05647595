//! An order's handling clocks, as rules (part of the order aggregate).
//!
//! When an order is submitted with handling targets in force, the targets are
//! pinned into its history and a clock starts for each: time to first response
//! (stops at the assignment or the first public reply of a shifter: a public
//! comment, a question, a proposal, or the decision) and time to decision (stops
//! at approval or rejection). Both pause while the order waits for the customer;
//! on the answer the deadline moves by exactly the business time paused.
//!
//! Clocks count business time ([`BusinessCalendar`]); instants come in with each
//! command, never from a clock read here. Whenever a command is decided at `now`,
//! the warnings and breaches that fell due before `now` are recorded first, with
//! the instant they fell due — so a breach is recorded exactly once, at its
//! deadline, whether the timer fired on time, late after a restart, or the
//! decision itself came too late.

use std::collections::BTreeMap;

use jiff::{SignedDuration, Timestamp};
use pactum_calendar::BusinessCalendar;
use pactum_events::order::{
    HandlingClock, HandlingClockPaused, HandlingClockResumed, HandlingClockStarted,
    HandlingClockStopped, HandlingTargetAtRisk, HandlingTargetBreached, HandlingTargetsPinned,
    OrderEvent, Side, Visibility,
};
use serde::{Deserialize, Serialize};

/// The clocks of one order (empty when it was submitted without targets).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Clocks {
    pinned: Option<Pinned>,
    clocks: BTreeMap<HandlingClock, Clock>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Pinned {
    calendar: BusinessCalendar,
    warning_percent: u8,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Clock {
    target: i64,
    started_at: Timestamp,
    phase: Phase,
    warn_at: Timestamp,
    due_at: Timestamp,
    warned: bool,
    breached: bool,
    /// Business seconds paused so far.
    paused: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
enum Phase {
    Running {
        since: Timestamp,
        elapsed_before: i64,
    },
    Paused {
        at: Timestamp,
        elapsed: i64,
    },
    Stopped,
}

/// What the command that produced an event was, as far as clocks care.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Actor {
    Customer,
    Staff,
}

/// The events that start an order's clocks under `pinned`, at `at`.
pub fn start(pinned: HandlingTargetsPinned, at: Timestamp) -> Vec<OrderEvent> {
    let calendar = &pinned.calendar;
    let cause = format!(
        "order submitted under handling targets {} version {}",
        pinned.key, pinned.version
    );
    let mut events = Vec::new();
    for (clock, target) in [
        (HandlingClock::FirstResponse, pinned.first_response_seconds),
        (HandlingClock::Decision, pinned.decision_seconds),
    ] {
        let Some(target) = target else { continue };
        events.push(OrderEvent::HandlingClockStarted(HandlingClockStarted {
            clock,
            at,
            target_seconds: target,
            warn_at: calendar.add(at, seconds(warning_budget(target, pinned.warning_percent))),
            due_at: calendar.add(at, seconds(target)),
            cause: cause.clone(),
        }));
    }
    let mut all = vec![OrderEvent::HandlingTargetsPinned(pinned)];
    all.extend(events);
    all
}

/// Business seconds after which a clock of `target` is at risk.
fn warning_budget(target: i64, percent: u8) -> i64 {
    target * i64::from(percent) / 100
}

fn seconds(s: i64) -> SignedDuration {
    SignedDuration::from_secs(s)
}

impl Clocks {
    /// Warnings and breaches that fell due at or before `now`, in the order they
    /// fell due.
    pub fn alarms(&self, now: Timestamp) -> Vec<OrderEvent> {
        let Some(pinned) = &self.pinned else {
            return Vec::new();
        };
        let mut due: Vec<(Timestamp, OrderEvent)> = Vec::new();
        for (&clock, state) in &self.clocks {
            if !matches!(state.phase, Phase::Running { .. }) {
                continue;
            }
            if !state.warned && state.warn_at <= now && state.warn_at < state.due_at {
                let elapsed = self.elapsed_at(state, state.warn_at);
                due.push((
                    state.warn_at,
                    OrderEvent::HandlingTargetAtRisk(HandlingTargetAtRisk {
                        clock,
                        at: state.warn_at,
                        due_at: state.due_at,
                        elapsed_seconds: elapsed,
                        target_seconds: state.target,
                        cause: format!(
                            "{}% of the {} target ({}) used: {} of business time counted \
                             since {}{}; due {}",
                            pinned.warning_percent,
                            clock_name(clock),
                            human(state.target),
                            human(elapsed),
                            state.started_at,
                            paused_note(state.paused),
                            state.due_at
                        ),
                    }),
                ));
            }
            if !state.breached && state.due_at <= now {
                due.push((
                    state.due_at,
                    OrderEvent::HandlingTargetBreached(HandlingTargetBreached {
                        clock,
                        at: state.due_at,
                        target_seconds: state.target,
                        paused_seconds: state.paused,
                        cause: format!(
                            "no {} within the target of {} of business time: counted from \
                             {}{}, the deadline {} passed before it",
                            measured(clock),
                            human(state.target),
                            state.started_at,
                            paused_note(state.paused),
                            state.due_at
                        ),
                    }),
                ));
            }
        }
        due.sort_by_key(|(at, _)| *at);
        due.into_iter().map(|(_, event)| event).collect()
    }

    /// The clock events `event` (decided at `now`, by `actor`) brings with it.
    pub fn follow(&self, event: &OrderEvent, actor: Actor, now: Timestamp) -> Vec<OrderEvent> {
        use HandlingClock::{Decision, FirstResponse};
        if self.pinned.is_none() {
            return Vec::new();
        }
        let mut events = Vec::new();
        match event {
            OrderEvent::OrderAssigned(assigned) => {
                let cause = format!("order assigned to {}", assigned.assignee);
                events.extend(self.stop(FirstResponse, now, true, &cause));
            }
            OrderEvent::CommentAdded(comment)
                if comment.visibility == Visibility::Public && actor == Actor::Staff =>
            {
                let cause = format!("public comment {} by a shifter", comment.comment_id);
                events.extend(self.stop(FirstResponse, now, true, &cause));
            }
            OrderEvent::QuestionAsked(question) => {
                let asked = format!("question {} asked", question.question_id);
                events.extend(self.stop(FirstResponse, now, true, &asked));
                let waiting = format!("{asked}: waiting for the customer");
                for clock in HandlingClock::ALL {
                    if clock != FirstResponse {
                        events.extend(self.pause(clock, now, &waiting));
                    }
                }
            }
            OrderEvent::QuestionAnswered(answer) => {
                let cause = format!("question {} answered", answer.question_id);
                for clock in HandlingClock::ALL {
                    events.extend(self.resume(clock, now, &cause));
                }
            }
            OrderEvent::ProposalMade(proposal) if proposal.side == Side::Shifter => {
                let cause = format!("proposal {} by a shifter", proposal.proposal_id);
                events.extend(self.stop(FirstResponse, now, true, &cause));
            }
            OrderEvent::OrderApproved(_) | OrderEvent::OrderRejected(_) => {
                let cause = if matches!(event, OrderEvent::OrderApproved(_)) {
                    "order approved"
                } else {
                    "order rejected"
                };
                events.extend(self.stop(FirstResponse, now, true, cause));
                events.extend(self.stop(Decision, now, true, cause));
            }
            OrderEvent::OrderCancelled(_) => {
                for clock in HandlingClock::ALL {
                    events.extend(self.stop(clock, now, false, "order cancelled"));
                }
            }
            _ => {}
        }
        events
    }

    fn calendar(&self) -> &BusinessCalendar {
        &self.pinned.as_ref().expect("clocks are pinned").calendar
    }

    /// Business seconds counted by `state` up to `at`.
    fn elapsed_at(&self, state: &Clock, at: Timestamp) -> i64 {
        match state.phase {
            Phase::Running {
                since,
                elapsed_before,
            } => elapsed_before + self.calendar().between(since, at).as_secs(),
            Phase::Paused { elapsed, .. } => elapsed,
            Phase::Stopped => unreachable!("stopped clocks are not asked"),
        }
    }

    fn stop(
        &self,
        clock: HandlingClock,
        now: Timestamp,
        reached: bool,
        cause: &str,
    ) -> Option<OrderEvent> {
        let state = self.clocks.get(&clock)?;
        if state.phase == Phase::Stopped {
            return None;
        }
        let elapsed = self.elapsed_at(state, now);
        Some(OrderEvent::HandlingClockStopped(HandlingClockStopped {
            clock,
            at: now,
            elapsed_seconds: elapsed,
            target_seconds: state.target,
            reached,
            // The deadline is the first instant of the breach: a clock that
            // counted its whole target is past it.
            within_target: reached && elapsed < state.target,
            cause: cause.to_owned(),
        }))
    }

    fn pause(&self, clock: HandlingClock, now: Timestamp, cause: &str) -> Option<OrderEvent> {
        let state = self.clocks.get(&clock)?;
        let Phase::Running { .. } = state.phase else {
            return None;
        };
        Some(OrderEvent::HandlingClockPaused(HandlingClockPaused {
            clock,
            at: now,
            elapsed_seconds: self.elapsed_at(state, now),
            cause: cause.to_owned(),
        }))
    }

    fn resume(&self, clock: HandlingClock, now: Timestamp, cause: &str) -> Option<OrderEvent> {
        let state = self.clocks.get(&clock)?;
        let Phase::Paused { at, .. } = state.phase else {
            return None;
        };
        let calendar = self.calendar();
        let paused = calendar.between(at, now);
        Some(OrderEvent::HandlingClockResumed(HandlingClockResumed {
            clock,
            at: now,
            paused_seconds: paused.as_secs(),
            // The deadline moves by exactly the business time paused.
            warn_at: calendar.add(state.warn_at, paused),
            due_at: calendar.add(state.due_at, paused),
            cause: cause.to_owned(),
        }))
    }

    /// Folds one of the order's events.
    pub fn apply(&mut self, event: &OrderEvent) {
        match event {
            OrderEvent::HandlingTargetsPinned(pinned) => {
                self.pinned = Some(Pinned {
                    calendar: pinned.calendar.clone(),
                    warning_percent: pinned.warning_percent,
                });
            }
            OrderEvent::HandlingClockStarted(started) => {
                self.clocks.insert(
                    started.clock,
                    Clock {
                        target: started.target_seconds,
                        started_at: started.at,
                        phase: Phase::Running {
                            since: started.at,
                            elapsed_before: 0,
                        },
                        warn_at: started.warn_at,
                        due_at: started.due_at,
                        warned: false,
                        breached: false,
                        paused: 0,
                    },
                );
            }
            OrderEvent::HandlingClockPaused(paused) => {
                if let Some(state) = self.clocks.get_mut(&paused.clock) {
                    state.phase = Phase::Paused {
                        at: paused.at,
                        elapsed: paused.elapsed_seconds,
                    };
                }
            }
            OrderEvent::HandlingClockResumed(resumed) => {
                if let Some(state) = self.clocks.get_mut(&resumed.clock)
                    && let Phase::Paused { elapsed, .. } = state.phase
                {
                    state.phase = Phase::Running {
                        since: resumed.at,
                        elapsed_before: elapsed,
                    };
                    state.warn_at = resumed.warn_at;
                    state.due_at = resumed.due_at;
                    state.paused += resumed.paused_seconds;
                }
            }
            OrderEvent::HandlingClockStopped(stopped) => {
                if let Some(state) = self.clocks.get_mut(&stopped.clock) {
                    state.phase = Phase::Stopped;
                }
            }
            OrderEvent::HandlingTargetAtRisk(risk) => {
                if let Some(state) = self.clocks.get_mut(&risk.clock) {
                    state.warned = true;
                }
            }
            OrderEvent::HandlingTargetBreached(breach) => {
                if let Some(state) = self.clocks.get_mut(&breach.clock) {
                    state.warned = true;
                    state.breached = true;
                }
            }
            _ => {}
        }
    }
}

fn clock_name(clock: HandlingClock) -> &'static str {
    match clock {
        HandlingClock::FirstResponse => "first-response",
        HandlingClock::Decision => "decision",
    }
}

fn measured(clock: HandlingClock) -> &'static str {
    match clock {
        HandlingClock::FirstResponse => "first response (assignment or public reply)",
        HandlingClock::Decision => "decision (approval or rejection)",
    }
}

fn paused_note(paused: i64) -> String {
    if paused == 0 {
        String::new()
    } else {
        format!(", paused {} for the customer", human(paused))
    }
}

/// Business seconds for people: `8h`, `7h 30m`, `45m`, `20s`.
pub fn human(seconds: i64) -> String {
    let (h, m, s) = (seconds / 3600, seconds % 3600 / 60, seconds % 60);
    let mut parts = Vec::new();
    if h != 0 {
        parts.push(format!("{h}h"));
    }
    if m != 0 {
        parts.push(format!("{m}m"));
    }
    if s != 0 || parts.is_empty() {
        parts.push(format!("{s}s"));
    }
    parts.join(" ")
}

#[cfg(test)]
#[path = "clocks_tests.rs"]
mod tests;
