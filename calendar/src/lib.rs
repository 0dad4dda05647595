//! # pactum-calendar: business time
//!
//! A [`BusinessCalendar`] says when a team works: opening hours per weekday in a
//! time zone, and holidays. Handling clocks count only that time.
//!
//! The calendar's JSON is part of the event contract (it is pinned into an
//! order's history when the order is submitted):
//!
//! ```json
//! {"time_zone": "Europe/Paris",
//!  "hours": {"monday": ["09:00-12:00", "13:00-18:00"], "friday": ["09:00-17:00"]},
//!  "holidays": ["2026-12-25"]}
//! ```
//!
//! A weekday that is missing has no working hours.
//!
//! Openings are local wall-clock times: on the days daylight saving time starts
//! or ends, `09:00-18:00` is still nine hours, while `00:00-24:00` is 23 or 25.
//! A local time that does not exist (in the spring gap) or exists twice (in the
//! autumn fold) is resolved as jiff's `compatible` strategy does: the later
//! instant of a gap, the earlier of a fold.
//!
//! Arithmetic ([`BusinessCalendar::add`], [`BusinessCalendar::between`]) walks
//! the days from the start, each day's openings turned into instants; a target
//! of a year of business time is a few hundred days, microseconds each.
//! Worked examples: `docs/business-time.md`.

mod ics;

pub use ics::{IcsError, holidays_from_ics};

use std::collections::{BTreeMap, BTreeSet};

use jiff::civil::{Date, Time, Weekday};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

/// A day of the week, as it appears in a calendar's `hours`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Day {
    Monday,
    Tuesday,
    Wednesday,
    Thursday,
    Friday,
    Saturday,
    Sunday,
}

/// Working hours within one day, local time: `start` inclusive, `end`
/// exclusive. Written `"09:00-18:00"`; `end` may be `24:00`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Opening {
    pub start: Time,
    /// `None` means the end of the day (`24:00`).
    pub end: Option<Time>,
}

/// When a team works.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BusinessCalendar {
    /// An IANA time zone name, e.g. `Europe/Paris`.
    pub time_zone: String,
    pub hours: BTreeMap<Day, Vec<Opening>>,
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub holidays: BTreeSet<Date>,
}

/// Why a calendar or one of its parts is not valid.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    #[error("opening hours are written HH:MM-HH:MM with the end after the start, not {0:?}")]
    Opening(String),
    #[error("unknown time zone {0:?} (use an IANA name such as Europe/Paris)")]
    TimeZone(String),
    #[error("the openings of {day} overlap or are out of order: {first} then {second}")]
    Overlap {
        day: &'static str,
        first: Opening,
        second: Opening,
    },
    #[error("the calendar has no working hours on any day of the week")]
    NoHours,
}

impl TryFrom<String> for Opening {
    type Error = CalendarError;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl std::str::FromStr for Opening {
    type Err = CalendarError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || CalendarError::Opening(text.to_owned());
        let (start, end) = text.split_once('-').ok_or_else(bad)?;
        let time = |t: &str| -> Result<Time, CalendarError> {
            Time::strptime("%H:%M", t.trim()).map_err(|_| bad())
        };
        let start = time(start)?;
        let end = if end.trim() == "24:00" {
            None
        } else {
            Some(time(end)?)
        };
        if end.is_some_and(|end| end <= start) {
            return Err(bad());
        }
        Ok(Self { start, end })
    }
}

impl From<Opening> for String {
    fn from(opening: Opening) -> String {
        opening.to_string()
    }
}

impl std::fmt::Display for Opening {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let end = match self.end {
            Some(end) => end.strftime("%H:%M").to_string(),
            None => "24:00".to_owned(),
        };
        write!(f, "{}-{end}", self.start.strftime("%H:%M"))
    }
}

impl Day {
    pub const ALL: [Day; 7] = [
        Day::Monday,
        Day::Tuesday,
        Day::Wednesday,
        Day::Thursday,
        Day::Friday,
        Day::Saturday,
        Day::Sunday,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Day::Monday => "monday",
            Day::Tuesday => "tuesday",
            Day::Wednesday => "wednesday",
            Day::Thursday => "thursday",
            Day::Friday => "friday",
            Day::Saturday => "saturday",
            Day::Sunday => "sunday",
        }
    }

    fn of(date: Date) -> Self {
        match date.weekday() {
            Weekday::Monday => Day::Monday,
            Weekday::Tuesday => Day::Tuesday,
            Weekday::Wednesday => Day::Wednesday,
            Weekday::Thursday => Day::Thursday,
            Weekday::Friday => Day::Friday,
            Weekday::Saturday => Day::Saturday,
            Weekday::Sunday => Day::Sunday,
        }
    }
}

/// How far [`BusinessCalendar::add`] and [`subtract`](BusinessCalendar::subtract)
/// look for working time, and how far [`between`](BusinessCalendar::between)
/// counts it: ten years.
const HORIZON_DAYS: usize = 3_660;

impl BusinessCalendar {
    /// Checks what deserializing cannot: a known time zone, openings of each
    /// day in order without overlap, some working time in the week.
    pub fn validate(&self) -> Result<(), CalendarError> {
        TimeZone::get(&self.time_zone)
            .map_err(|_| CalendarError::TimeZone(self.time_zone.clone()))?;
        let mut any = false;
        for (day, openings) in &self.hours {
            for pair in openings.windows(2) {
                let ends = pair[0].end.ok_or(());
                if ends.is_err() || ends.is_ok_and(|end| end > pair[1].start) {
                    return Err(CalendarError::Overlap {
                        day: day.name(),
                        first: pair[0],
                        second: pair[1],
                    });
                }
            }
            any |= !openings.is_empty();
        }
        if !any {
            return Err(CalendarError::NoHours);
        }
        Ok(())
    }

    fn zone(&self) -> TimeZone {
        // A calendar that failed validation counts in UTC rather than panic.
        TimeZone::get(&self.time_zone).unwrap_or(TimeZone::UTC)
    }

    /// The working intervals of one local date, as instants, in order.
    fn windows(&self, zone: &TimeZone, date: Date) -> Vec<(Timestamp, Timestamp)> {
        if self.holidays.contains(&date) {
            return Vec::new();
        }
        let Some(openings) = self.hours.get(&Day::of(date)) else {
            return Vec::new();
        };
        let instant = |date: Date, time: Time| {
            zone.to_ambiguous_timestamp(date.to_datetime(time))
                .compatible()
                .unwrap_or(Timestamp::MAX)
        };
        openings
            .iter()
            .map(|opening| {
                let start = instant(date, opening.start);
                let end = match (opening.end, date.tomorrow()) {
                    (Some(end), _) => instant(date, end),
                    (None, Ok(next)) => instant(next, Time::midnight()),
                    (None, Err(_)) => Timestamp::MAX,
                };
                (start, end)
            })
            .filter(|(start, end)| start < end)
            .collect()
    }

    /// The local dates from the day before `from` on (a window of the previous
    /// local day may reach past midnight only through `24:00`, which ends at
    /// midnight, so one day back is enough).
    fn days_from(&self, zone: &TimeZone, from: Timestamp) -> impl Iterator<Item = Date> {
        let first = from.to_zoned(zone.clone()).date();
        let first = first.yesterday().unwrap_or(first);
        std::iter::successors(Some(first), |date| date.tomorrow().ok())
    }

    /// The instant at which `business` working time has elapsed, counting from
    /// `start`: `add(t, 0) == t`; a duration that ends exactly at a closing time
    /// gives that closing time. Durations of zero or less give `start`; working
    /// time not found within ten years gives `Timestamp::MAX`.
    pub fn add(&self, start: Timestamp, business: SignedDuration) -> Timestamp {
        if business <= SignedDuration::ZERO {
            return start;
        }
        let zone = self.zone();
        let mut left = business;
        for date in self.days_from(&zone, start).take(HORIZON_DAYS) {
            for (open, close) in self.windows(&zone, date) {
                let from = open.max(start);
                if from >= close {
                    continue;
                }
                let span = close.duration_since(from);
                if span >= left {
                    return from.checked_add(left).unwrap_or(Timestamp::MAX);
                }
                left -= span;
            }
        }
        Timestamp::MAX
    }

    /// The latest instant from which `business` working time elapses by `end`:
    /// the inverse of [`add`](Self::add). `subtract(add(t, d), d) == t` when `t`
    /// is in working time (outside it, the next opening); durations of zero or
    /// less give `end`; working time not found within ten years gives
    /// `Timestamp::MIN`.
    pub fn subtract(&self, end: Timestamp, business: SignedDuration) -> Timestamp {
        if business <= SignedDuration::ZERO {
            return end;
        }
        let zone = self.zone();
        let last = end.to_zoned(zone.clone()).date();
        let days = std::iter::successors(Some(last), |date| date.yesterday().ok());
        let mut left = business;
        for date in days.take(HORIZON_DAYS) {
            for (open, close) in self.windows(&zone, date).into_iter().rev() {
                let to = close.min(end);
                if open >= to {
                    continue;
                }
                let span = to.duration_since(open);
                if span >= left {
                    return to.checked_sub(left).unwrap_or(Timestamp::MIN);
                }
                left -= span;
            }
        }
        Timestamp::MIN
    }

    /// Working time in `[from, to)`; zero if `to <= from`. Counted over ten
    /// years from `from` at most: a longer span (a clock jumped to the far
    /// future) counts its first ten years, as [`add`](Self::add) looks no
    /// further, instead of walking every day up to the year 9999.
    pub fn between(&self, from: Timestamp, to: Timestamp) -> SignedDuration {
        let mut total = SignedDuration::ZERO;
        if to <= from {
            return total;
        }
        let zone = self.zone();
        for date in self.days_from(&zone, from).take(HORIZON_DAYS) {
            let windows = self.windows(&zone, date);
            // Past `to` once the day's first instant is.
            let day_start = zone
                .to_ambiguous_timestamp(date.to_datetime(Time::midnight()))
                .compatible()
                .unwrap_or(Timestamp::MAX);
            if day_start >= to {
                break;
            }
            for (open, close) in windows {
                let (a, b) = (open.max(from), close.min(to));
                if b > a {
                    total += b.duration_since(a);
                }
            }
        }
        total
    }

    /// Whether `at` falls in working time.
    pub fn is_open(&self, at: Timestamp) -> bool {
        let zone = self.zone();
        self.days_from(&zone, at).take(2).any(|date| {
            self.windows(&zone, date)
                .iter()
                .any(|(open, close)| *open <= at && at < *close)
        })
    }
}

#[cfg(test)]
mod tests;
