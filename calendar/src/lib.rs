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

use std::collections::{BTreeMap, BTreeSet};

use jiff::civil::{Date, Time};
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
    #[error("opening hours are written HH:MM-HH:MM, not {0:?}")]
    Opening(String),
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

// TEMPORARY naive arithmetic (day walk), replaced by the calendar branch.
impl BusinessCalendar {
    fn zone(&self) -> jiff::tz::TimeZone {
        jiff::tz::TimeZone::get(&self.time_zone).unwrap_or(jiff::tz::TimeZone::UTC)
    }

    fn day_windows(&self, date: Date) -> Vec<(jiff::Timestamp, jiff::Timestamp)> {
        if self.holidays.contains(&date) {
            return Vec::new();
        }
        let day = match date.weekday() {
            jiff::civil::Weekday::Monday => Day::Monday,
            jiff::civil::Weekday::Tuesday => Day::Tuesday,
            jiff::civil::Weekday::Wednesday => Day::Wednesday,
            jiff::civil::Weekday::Thursday => Day::Thursday,
            jiff::civil::Weekday::Friday => Day::Friday,
            jiff::civil::Weekday::Saturday => Day::Saturday,
            jiff::civil::Weekday::Sunday => Day::Sunday,
        };
        let tz = self.zone();
        let at = |d: Date, t: Time| tz.to_timestamp(d.to_datetime(t)).expect("in range");
        self.hours
            .get(&day)
            .map(|openings| {
                openings
                    .iter()
                    .map(|o| {
                        let end = match o.end {
                            Some(end) => at(date, end),
                            None => at(date.tomorrow().expect("in range"), Time::midnight()),
                        };
                        (at(date, o.start), end)
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn add(&self, start: jiff::Timestamp, business: jiff::SignedDuration) -> jiff::Timestamp {
        let mut left = business;
        if left <= jiff::SignedDuration::ZERO {
            return start;
        }
        let mut date = start
            .to_zoned(self.zone())
            .date()
            .yesterday()
            .expect("in range");
        for _ in 0..100_000 {
            for (open, close) in self.day_windows(date) {
                let from = open.max(start);
                if from >= close {
                    continue;
                }
                let span = close.duration_since(from);
                if span >= left {
                    return from.checked_add(left).expect("in range");
                }
                left -= span;
            }
            date = date.tomorrow().expect("in range");
        }
        start
    }

    pub fn between(&self, from: jiff::Timestamp, to: jiff::Timestamp) -> jiff::SignedDuration {
        let mut total = jiff::SignedDuration::ZERO;
        if to <= from {
            return total;
        }
        let mut date = from
            .to_zoned(self.zone())
            .date()
            .yesterday()
            .expect("in range");
        let last = to.to_zoned(self.zone()).date();
        while date <= last {
            for (open, close) in self.day_windows(date) {
                let a = open.max(from);
                let b = close.min(to);
                if b > a {
                    total += b.duration_since(a);
                }
            }
            date = date.tomorrow().expect("in range");
        }
        total
    }
}

// TEMPORARY until the calendar branch lands.
impl BusinessCalendar {
    pub fn validate(&self) -> Result<(), CalendarError> {
        Ok(())
    }
}
pub fn holidays_from_ics(_text: &str) -> Result<BTreeSet<Date>, CalendarError> {
    Ok(BTreeSet::new())
}
