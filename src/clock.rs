//! The one source of "now". Aggregates never read the clock: handlers ask the
//! [`Clock`] once per command and pass the instant in, so tests and
//! `serve --manual-clock` control time completely.

use std::sync::atomic::{AtomicI64, Ordering};

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

/// A clock that moves only when told to, and never backwards, within
/// [`EARLIEST`]..=[`LATEST`].
///
/// The instant is an atomic count of microseconds, not a lock: nothing a request
/// does to the clock can leave it unusable for the next one.
#[derive(Debug)]
pub struct ManualClock {
    micros: AtomicI64,
    jumps: tokio::sync::watch::Sender<Timestamp>,
}

/// The earliest instant the manual clock shows.
pub const EARLIEST: Timestamp = Timestamp::constant(0, 0);
/// The latest instant the manual clock may be moved to (9999-12-30T00:00:00Z):
/// the last midnight before the end of the time jiff can represent
/// (9999-12-30T22:00Z). A move past it is refused rather than clamped or
/// wrapped; what is computed from "now" uses checked arithmetic and fails with an
/// error, never a panic.
pub const LATEST: Timestamp = Timestamp::constant(253_402_128_000, 0);

/// Why the manual clock refused to move.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum MoveError {
    #[error("the clock only moves forward: {requested} is before {current}")]
    Backwards {
        current: Timestamp,
        requested: Timestamp,
    },
    #[error("the clock cannot be moved past {LATEST}")]
    OutOfRange,
}

impl ManualClock {
    /// A clock showing `start` (clamped into the clock's range).
    pub fn starting_at(start: Timestamp) -> Self {
        let start = truncate(start.clamp(EARLIEST, LATEST));
        Self {
            micros: AtomicI64::new(start.as_microsecond()),
            jumps: tokio::sync::watch::Sender::new(start),
        }
    }

    pub fn set(&self, to: Timestamp) -> Result<Timestamp, MoveError> {
        if to > LATEST {
            return Err(MoveError::OutOfRange);
        }
        let to = truncate(to);
        let target = to.as_microsecond();
        self.micros
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |current| {
                (target >= current).then_some(target)
            })
            .map_err(|current| MoveError::Backwards {
                current: from_micros(current),
                requested: to,
            })?;
        self.jumps.send_replace(to);
        Ok(to)
    }

    pub fn advance(&self, by: SignedDuration) -> Result<Timestamp, MoveError> {
        let to = self
            .now()
            .checked_add(by)
            .map_err(|_| MoveError::OutOfRange)?;
        self.set(to)
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        from_micros(self.micros.load(Ordering::SeqCst))
    }

    fn jumps(&self) -> Option<tokio::sync::watch::Receiver<Timestamp>> {
        Some(self.jumps.subscribe())
    }
}

fn from_micros(micros: i64) -> Timestamp {
    Timestamp::from_microsecond(micros).expect("the manual clock stays in its range")
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
    fn manual_clock_refuses_the_end_of_time_and_keeps_working() {
        let clock = ManualClock::starting_at("2026-03-01T09:00:00Z".parse().unwrap());
        let end: Timestamp = "9999-12-30T00:00:01Z".parse().unwrap();
        assert_eq!(clock.set(end), Err(MoveError::OutOfRange));
        assert_eq!(clock.set(LATEST), Ok(LATEST));
        assert_eq!(
            clock.advance(SignedDuration::from_hours(48)),
            Err(MoveError::OutOfRange)
        );
        assert_eq!(
            clock.advance(SignedDuration::MAX),
            Err(MoveError::OutOfRange)
        );
        assert_eq!(clock.now(), LATEST);
        assert_eq!(LATEST.to_string(), "9999-12-30T00:00:00Z");
    }

    #[test]
    fn system_clock_has_microsecond_precision() {
        assert_eq!(SystemClock.now().subsec_nanosecond() % 1000, 0);
    }
}
