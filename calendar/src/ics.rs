//! Holidays from an iCalendar file (RFC 5545): every day an event covers.
//!
//! Holiday calendars published by governments and groupware are simple: one
//! `VEVENT` per holiday (or per yearly holiday with `RRULE:FREQ=YEARLY`), with an
//! all-day `DTSTART;VALUE=DATE` and an exclusive `DTEND` or a `DURATION`. That is
//! the subset read here, by a small parser of our own: the iCalendar crates
//! available either pull in much more than this needs or leave recurrence
//! expansion to the caller anyway. Anything else that would change which days
//! are holidays (another recurrence frequency, `RDATE`, `EXDATE`) is refused
//! with the event's name rather than ignored.

use std::collections::BTreeSet;

use jiff::ToSpan;
use jiff::civil::Date;

/// Why an iCalendar file could not be read as holidays.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IcsError {
    #[error("not an iCalendar file: no BEGIN:VCALENDAR")]
    NotACalendar,
    #[error("event {event:?}: {problem}")]
    Event { event: String, problem: String },
}

/// Years a yearly holiday without COUNT or UNTIL is expanded for.
pub const YEARLY_WINDOW: i16 = 10;

/// The longest single event accepted, in days.
const MAX_EVENT_DAYS: i64 = 366;

/// Every day covered by the file's events.
pub fn holidays_from_ics(text: &str) -> Result<BTreeSet<Date>, IcsError> {
    let lines = unfold(text);
    if !lines
        .iter()
        .any(|line| line.eq_ignore_ascii_case("BEGIN:VCALENDAR"))
    {
        return Err(IcsError::NotACalendar);
    }
    let mut days = BTreeSet::new();
    let mut event: Option<Vec<(String, String, String)>> = None;
    for line in &lines {
        let Some((head, value)) = line.split_once(':') else {
            continue;
        };
        let (name, params) = head.split_once(';').unwrap_or((head, ""));
        let name = name.to_ascii_uppercase();
        match (name.as_str(), value.to_ascii_uppercase().as_str()) {
            ("BEGIN", "VEVENT") => event = Some(Vec::new()),
            ("END", "VEVENT") => {
                if let Some(properties) = event.take() {
                    days.extend(event_days(&properties)?);
                }
            }
            _ => {
                if let Some(properties) = event.as_mut() {
                    properties.push((name, params.to_owned(), value.trim().to_owned()));
                }
            }
        }
    }
    Ok(days)
}

/// Joins folded lines (a line starting with a space or tab continues the last).
fn unfold(text: &str) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for raw in text.split('\n') {
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        match (raw.strip_prefix([' ', '\t']), lines.last_mut()) {
            (Some(rest), Some(last)) => last.push_str(rest),
            _ => lines.push(raw.to_owned()),
        }
    }
    lines
}

fn event_days(properties: &[(String, String, String)]) -> Result<Vec<Date>, IcsError> {
    let get = |wanted: &str| {
        properties
            .iter()
            .find(|(name, _, _)| name == wanted)
            .map(|(_, _, value)| value.as_str())
    };
    let summary = get("SUMMARY").unwrap_or("(no SUMMARY)").to_owned();
    let fail = |problem: String| IcsError::Event {
        event: summary.clone(),
        problem,
    };
    for refused in ["RDATE", "EXDATE", "EXRULE"] {
        if get(refused).is_some() {
            return Err(fail(format!("{refused} is not supported")));
        }
    }
    let start = date_of(get("DTSTART").ok_or_else(|| fail("no DTSTART".into()))?)
        .map_err(|e| fail(format!("DTSTART: {e}")))?;
    let days = match (get("DTEND"), get("DURATION")) {
        (Some(end), _) => {
            let end = date_of(end).map_err(|e| fail(format!("DTEND: {e}")))?;
            // DTEND is exclusive for dates; a date-time end on the start day
            // still covers that day.
            (end - start).get_days().max(1) as i64
        }
        (None, Some(duration)) => {
            duration_days(duration).map_err(|e| fail(format!("DURATION: {e}")))?
        }
        (None, None) => 1,
    };
    if !(1..=MAX_EVENT_DAYS).contains(&days) {
        return Err(fail(format!(
            "covers {days} days; an event must cover 1 to {MAX_EVENT_DAYS}"
        )));
    }
    let starts = match get("RRULE") {
        None => vec![start],
        Some(rule) => yearly(start, rule).map_err(|e| fail(format!("RRULE: {e}")))?,
    };
    let mut covered = Vec::new();
    for first in starts {
        for offset in 0..days {
            if let Ok(day) = first.checked_add(offset.days()) {
                covered.push(day);
            }
        }
    }
    Ok(covered)
}

/// The date of a `DATE` (`20261225`) or `DATE-TIME` (`20261225T000000[Z]`)
/// value.
fn date_of(value: &str) -> Result<Date, String> {
    let digits = value
        .get(..8)
        .ok_or_else(|| format!("{value:?} is not a date"))?;
    let parse = |range: std::ops::Range<usize>| -> Result<i64, String> {
        digits[range]
            .parse::<i64>()
            .map_err(|_| format!("{value:?} is not a date"))
    };
    let (year, month, day) = (parse(0..4)?, parse(4..6)?, parse(6..8)?);
    Date::new(year as i16, month as i8, day as i8).map_err(|_| format!("{value:?} is not a date"))
}

/// Whole days of a `DURATION` such as `P1D` or `P2W`.
fn duration_days(value: &str) -> Result<i64, String> {
    let bad = || format!("{value:?}: only whole days or weeks (P1D, P2W) are supported");
    let body = value.strip_prefix('P').ok_or_else(bad)?;
    let (number, unit) = body.split_at(body.len().saturating_sub(1));
    let number: i64 = number.parse().map_err(|_| bad())?;
    match unit {
        "D" => Ok(number),
        "W" => Ok(number * 7),
        _ => Err(bad()),
    }
}

/// The starts of a yearly rule: `FREQ=YEARLY` with optional `COUNT`, `UNTIL`
/// and `INTERVAL`; without COUNT or UNTIL, [`YEARLY_WINDOW`] years.
fn yearly(start: Date, rule: &str) -> Result<Vec<Date>, String> {
    let mut freq = None;
    let mut count: Option<i16> = None;
    let mut until: Option<Date> = None;
    let mut interval: i16 = 1;
    for part in rule.split(';') {
        let (key, value) = part
            .split_once('=')
            .ok_or_else(|| format!("bad part {part:?}"))?;
        match key.to_ascii_uppercase().as_str() {
            "FREQ" => freq = Some(value.to_ascii_uppercase()),
            "COUNT" => count = Some(value.parse().map_err(|_| format!("bad COUNT {value:?}"))?),
            "UNTIL" => until = Some(date_of(value)?),
            "INTERVAL" => {
                interval = value
                    .parse()
                    .ok()
                    .filter(|i| *i >= 1)
                    .ok_or_else(|| format!("bad INTERVAL {value:?}"))?
            }
            // Yearly holidays on a fixed date need nothing else.
            "WKST" => {}
            other => {
                return Err(format!(
                    "{other} is not supported (only fixed-date yearly rules)"
                ));
            }
        }
    }
    if freq.as_deref() != Some("YEARLY") {
        return Err(format!(
            "FREQ={} is not supported; only FREQ=YEARLY",
            freq.unwrap_or_default()
        ));
    }
    let limit = count.unwrap_or(if until.is_some() {
        i16::MAX
    } else {
        YEARLY_WINDOW
    });
    let mut starts = Vec::new();
    for n in 0..limit {
        let Ok(next) = start.checked_add((i64::from(n) * i64::from(interval)).years()) else {
            break;
        };
        if until.is_some_and(|until| next > until) || starts.len() > 1000 {
            break;
        }
        starts.push(next);
    }
    Ok(starts)
}
