//! The one source of "now". Aggregates never read the clock: handlers ask the
//! [`Clock`] once per command and pass the instant in, so tests and
//! `serve --manual-clock` control time completely.

use std::sync::Mutex;

use jiff::{SignedDuration, Timestamp};

pub trait Clock: Send + Sync + 'static {
    /// The current instant, truncated to microseconds (the log's precision).
    fn now(&self) -> Timestamp;

    /// For a clock that jumps (the manual one): a receiver told of each jump, so
    /// timers recompute instead of sleeping through it. `None` for real time.
    fn jumps(&self) -> Option<tokio::sync::watch::Receiver<Timestamp>> {
        None
    }
}

/// The machine's clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        truncate(Timestamp::now())
    }
}

/// A clock that moves only when told to, and never backwards.
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<Timestamp>,
    jumps: tokio::sync::watch::Sender<Timestamp>,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("the clock only moves forward: {requested} is before {current}")]
pub struct BackwardsError {
    pub current: Timestamp,
    pub requested: Timestamp,
}

impl ManualClock {
    pub fn starting_at(start: Timestamp) -> Self {
        let start = truncate(start);
        Self {
            now: Mutex::new(start),
            jumps: tokio::sync::watch::Sender::new(start),
        }
    }

    pub fn set(&self, to: Timestamp) -> Result<Timestamp, BackwardsError> {
        let mut now = self.now.lock().expect("clock lock poisoned");
        let to = truncate(to);
        if to < *now {
            return Err(BackwardsError {
                current: *now,
                requested: to,
            });
        }
        *now = to;
        self.jumps.send_replace(to);
        Ok(to)
    }

    pub fn advance(&self, by: SignedDuration) -> Result<Timestamp, BackwardsError> {
        let current = self.now();
        let to = current.saturating_add(by).unwrap_or(current);
        self.set(to)
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *self.now.lock().expect("clock lock poisoned")
    }

    fn jumps(&self) -> Option<tokio::sync::watch::Receiver<Timestamp>> {
        Some(self.jumps.subscribe())
    }
}

fn truncate(t: Timestamp) -> Timestamp {
    Timestamp::from_microsecond(t.as_microsecond()).expect("in range")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_forward_only() {
        let start: Timestamp = "2026-03-01T09:00:00Z".parse().unwrap();
        let clock = ManualClock::starting_at(start);
        assert_eq!(clock.now(), start);
        let later = clock.advance(SignedDuration::from_hours(4)).unwrap();
        assert_eq!(later, "2026-03-01T13:00:00Z".parse().unwrap());
        assert!(clock.set(start).is_err());
        assert_eq!(clock.now(), later);
    }

    #[test]
    fn system_clock_has_microsecond_precision() {
        assert_eq!(SystemClock.now().subsec_nanosecond() % 1000, 0);
    }
}
