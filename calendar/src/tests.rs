//! Worked examples (the ones in `docs/business-time.md`) and properties.

use std::collections::{BTreeMap, BTreeSet};

use jiff::civil::{Date, DateTime, Time};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use proptest::prelude::*;

use super::*;

fn hours(h: i64) -> SignedDuration {
    SignedDuration::from_hours(h)
}

fn mins(m: i64) -> SignedDuration {
    SignedDuration::from_mins(m)
}

fn local(zone: &str, at: &str) -> Timestamp {
    at.parse::<DateTime>()
        .unwrap()
        .to_zoned(TimeZone::get(zone).unwrap())
        .unwrap()
        .timestamp()
}

fn paris(at: &str) -> Timestamp {
    local("Europe/Paris", at)
}

fn weekdays(zone: &str, openings: &[&str]) -> BusinessCalendar {
    let openings: Vec<Opening> = openings.iter().map(|o| o.parse().unwrap()).collect();
    BusinessCalendar {
        time_zone: zone.into(),
        hours: Day::ALL[..5]
            .iter()
            .map(|day| (*day, openings.clone()))
            .collect(),
        holidays: BTreeSet::new(),
    }
}

/// 09:00–18:00 with lunch 12:00–13:00: 8 working hours a day.
fn office() -> BusinessCalendar {
    weekdays("Europe/Paris", &["09:00-12:00", "13:00-18:00"])
}

#[test]
fn friday_evening_plus_eight_hours_is_monday_evening_with_a_lunch_break() {
    let due = office().add(paris("2026-11-27T17:30"), hours(8));
    assert_eq!(due, paris("2026-11-30T17:30"));
}

#[test]
fn without_a_lunch_break_eight_hours_from_friday_evening_end_monday_afternoon() {
    let calendar = weekdays("Europe/Paris", &["09:00-18:00"]);
    assert_eq!(
        calendar.add(paris("2026-11-27T17:30"), hours(8)),
        paris("2026-11-30T16:30")
    );
}

#[test]
fn a_holiday_from_an_ics_file_moves_the_deadline_to_tuesday() {
    let mut calendar = office();
    let ics = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nSUMMARY:Site closure\r\n\
               DTSTART;VALUE=DATE:20261130\r\nDTEND;VALUE=DATE:20261201\r\nEND:VEVENT\r\n\
               END:VCALENDAR\r\n";
    calendar.holidays = holidays_from_ics(ics).unwrap();
    assert_eq!(
        calendar.holidays,
        BTreeSet::from([Date::constant(2026, 11, 30)])
    );
    assert_eq!(
        calendar.add(paris("2026-11-27T17:30"), hours(8)),
        paris("2026-12-01T17:30")
    );
}

#[test]
fn subtracting_walks_back_over_the_weekend() {
    assert_eq!(
        office().subtract(paris("2026-11-30T17:30"), hours(8)),
        paris("2026-11-27T17:30")
    );
    assert_eq!(
        office().subtract(paris("2026-11-30T09:00"), mins(30)),
        paris("2026-11-27T17:30")
    );
}

#[test]
fn ending_at_closing_time_gives_the_closing_time() {
    let calendar = weekdays("Europe/Paris", &["09:00-18:00"]);
    assert_eq!(
        calendar.add(paris("2026-11-27T17:30"), mins(30)),
        paris("2026-11-27T18:00")
    );
    assert_eq!(
        calendar.add(paris("2026-11-28T10:00"), SignedDuration::ZERO),
        paris("2026-11-28T10:00")
    );
    // From a closed moment, counting starts at the next opening.
    assert_eq!(
        calendar.add(paris("2026-11-28T10:00"), mins(1)),
        paris("2026-11-30T09:01")
    );
}

#[test]
fn a_pause_moves_the_deadline_by_the_business_time_paused() {
    let calendar = office();
    let start = paris("2026-11-27T17:30");
    let due = calendar.add(start, hours(8));
    let (pause, resume) = (paris("2026-11-30T10:00"), paris("2026-12-01T10:00"));
    let paused = calendar.between(pause, resume);
    assert_eq!(paused, hours(8));
    let remaining = hours(8) - calendar.between(start, pause);
    assert_eq!(calendar.add(due, paused), calendar.add(resume, remaining));
    assert_eq!(calendar.add(due, paused), paris("2026-12-01T17:30"));
}

#[test]
fn between_counts_ten_years_at_most() {
    let calendar = office();
    let start = paris("2026-11-27T17:30");
    let horizon = start
        .to_zoned(TimeZone::get("Europe/Paris").unwrap())
        .date()
        .yesterday()
        .unwrap()
        .checked_add(jiff::Span::new().days(HORIZON_DAYS as i64))
        .unwrap();
    let horizon = local("Europe/Paris", &format!("{horizon}T00:00"));
    let ten_years = calendar.between(start, horizon);
    // About ten years of 8-hour weekdays, and nothing more however far `to` is.
    assert!(ten_years > hours(8 * 250 * 9), "{ten_years:?}");
    assert_eq!(calendar.between(start, Timestamp::MAX), ten_years);
    assert_eq!(
        calendar.between(start, paris("9999-12-30T00:00")),
        ten_years
    );
    // Within the horizon nothing changes: Friday's last half hour, Monday,
    // and Tuesday to 17:30.
    assert_eq!(
        calendar.between(start, paris("2026-12-01T17:30")),
        hours(16)
    );
}

#[test]
fn openings_are_wall_clock_times_across_daylight_saving_changes() {
    // Spring forward in Paris: Sunday 2026-03-29, 02:00 → 03:00.
    let every_day: BTreeMap<Day, Vec<Opening>> = Day::ALL
        .iter()
        .map(|d| (*d, vec!["00:00-24:00".parse().unwrap()]))
        .collect();
    let always = BusinessCalendar {
        time_zone: "Europe/Paris".into(),
        hours: every_day,
        holidays: BTreeSet::new(),
    };
    assert_eq!(
        always.between(paris("2026-03-29T00:00"), paris("2026-03-30T00:00")),
        hours(23)
    );
    assert_eq!(
        always.between(paris("2026-10-25T00:00"), paris("2026-10-26T00:00")),
        hours(25)
    );
    // An office day is nine hours either side of the change.
    let office = weekdays("Europe/Paris", &["09:00-18:00"]);
    assert_eq!(
        office.between(paris("2026-03-27T09:00"), paris("2026-03-30T18:00")),
        hours(18)
    );
    assert_eq!(
        office.add(paris("2026-10-23T17:00"), hours(2)),
        paris("2026-10-26T10:00")
    );
}

#[test]
fn validation_names_what_is_wrong() {
    let mut calendar = office();
    calendar.time_zone = "Mars/Olympus".into();
    assert!(matches!(
        calendar.validate(),
        Err(CalendarError::TimeZone(_))
    ));
    let mut calendar = office();
    calendar.hours.insert(
        Day::Monday,
        vec![
            "09:00-13:00".parse().unwrap(),
            "12:00-18:00".parse().unwrap(),
        ],
    );
    assert!(matches!(
        calendar.validate(),
        Err(CalendarError::Overlap { day: "monday", .. })
    ));
    let closed = BusinessCalendar {
        time_zone: "UTC".into(),
        hours: BTreeMap::new(),
        holidays: BTreeSet::new(),
    };
    assert_eq!(closed.validate(), Err(CalendarError::NoHours));
    assert!("18:00-09:00".parse::<Opening>().is_err());
    assert!("9-5".parse::<Opening>().is_err());
    assert_eq!(office().validate(), Ok(()));
}

#[test]
fn the_json_shape_is_the_contract() {
    let calendar: BusinessCalendar = serde_json::from_str(
        r#"{"time_zone": "Europe/Paris", "hours": {"monday": ["09:00-12:00", "13:00-24:00"]}, "holidays": ["2026-12-25"]}"#,
    )
    .unwrap();
    assert_eq!(calendar.hours[&Day::Monday][1].end, None);
    assert_eq!(
        serde_json::to_string(&calendar).unwrap(),
        r#"{"time_zone":"Europe/Paris","hours":{"monday":["09:00-12:00","13:00-24:00"]},"holidays":["2026-12-25"]}"#
    );
}

#[test]
fn ics_yearly_rules_multi_day_events_and_folded_lines() {
    let ics = "BEGIN:VCALENDAR\nBEGIN:VEVENT\nSUMMARY:Christmas\nDTSTART;VALUE=DATE:20261225\n\
               RRULE:FREQ=YEARLY;COUNT=3\nEND:VEVENT\nBEGIN:VEVENT\nSUMMARY:Winter \n closure\n\
               DTSTART:20261228T000000Z\nDURATION:P3D\nEND:VEVENT\nEND:VCALENDAR\n";
    let days = holidays_from_ics(ics).unwrap();
    let expected: BTreeSet<Date> = [
        (2026, 12, 25),
        (2027, 12, 25),
        (2028, 12, 25),
        (2026, 12, 28),
        (2026, 12, 29),
        (2026, 12, 30),
    ]
    .into_iter()
    .map(|(y, m, d)| Date::new(y, m, d).unwrap())
    .collect();
    assert_eq!(days, expected);
    let open_ended = "BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART;VALUE=DATE:20260101\n\
                      RRULE:FREQ=YEARLY\nEND:VEVENT\nEND:VCALENDAR\n";
    assert_eq!(holidays_from_ics(open_ended).unwrap().len(), 10);
}

#[test]
fn ics_refuses_what_it_cannot_read_faithfully() {
    assert_eq!(holidays_from_ics("hello"), Err(IcsError::NotACalendar));
    let weekly = "BEGIN:VCALENDAR\nBEGIN:VEVENT\nSUMMARY:Stand-up\nDTSTART;VALUE=DATE:20260105\n\
                  RRULE:FREQ=WEEKLY\nEND:VEVENT\nEND:VCALENDAR\n";
    let error = holidays_from_ics(weekly).unwrap_err().to_string();
    assert!(
        error.contains("Stand-up") && error.contains("FREQ=WEEKLY"),
        "{error}"
    );
    let undated = "BEGIN:VCALENDAR\nBEGIN:VEVENT\nSUMMARY:Someday\nEND:VEVENT\nEND:VCALENDAR\n";
    assert!(
        holidays_from_ics(undated)
            .unwrap_err()
            .to_string()
            .contains("DTSTART")
    );
}

// --- properties --------------------------------------------------------------

const ZONES: [&str; 4] = ["Europe/Paris", "America/New_York", "UTC", "Asia/Kolkata"];

fn arb_calendar() -> impl Strategy<Value = BusinessCalendar> {
    // Per day: zero to two openings on a half-hour grid, ordered, apart.
    let day = prop::collection::vec((0u8..48, 1u8..16), 0..3).prop_map(|slots| {
        let mut openings = Vec::new();
        let mut from = 0u8;
        for (gap, length) in slots {
            let start = from.saturating_add(gap % 12);
            let end = start.saturating_add(length);
            if end > 48 || start >= 48 {
                break;
            }
            let time = |half: u8| Time::new((half / 2) as i8, 30 * (half % 2) as i8, 0, 0).unwrap();
            openings.push(Opening {
                start: time(start),
                end: (end < 48).then(|| time(end)),
            });
            from = end + 1;
        }
        openings
    });
    (
        prop::sample::select(ZONES.to_vec()),
        prop::collection::vec(day, 7),
        prop::collection::btree_set(0i64..120, 0..6),
    )
        .prop_filter_map("some working time", |(zone, days, holidays)| {
            let hours: BTreeMap<Day, Vec<Opening>> = Day::ALL
                .iter()
                .zip(days)
                .filter(|(_, openings)| !openings.is_empty())
                .map(|(day, openings)| (*day, openings))
                .collect();
            let calendar = BusinessCalendar {
                time_zone: zone.into(),
                hours,
                holidays: holidays
                    .into_iter()
                    .map(|d| {
                        Date::constant(2026, 3, 1)
                            .checked_add(jiff::Span::new().days(d))
                            .unwrap()
                    })
                    .collect(),
            };
            calendar.validate().ok().map(|()| calendar)
        })
}

/// Instants over spring and autumn 2026, to the second.
fn arb_instant() -> impl Strategy<Value = Timestamp> {
    let start = Timestamp::from_second(1_772_323_200).unwrap(); // 2026-03-01
    (0i64..240 * 86_400).prop_map(move |s| start.checked_add(SignedDuration::from_secs(s)).unwrap())
}

fn arb_duration() -> impl Strategy<Value = SignedDuration> {
    (0i64..200 * 3600).prop_map(SignedDuration::from_secs)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn adding_then_measuring_round_trips(c in arb_calendar(), t in arb_instant(), d in arb_duration()) {
        let due = c.add(t, d);
        prop_assert_eq!(c.between(t, due), d);
    }

    #[test]
    fn adding_then_subtracting_round_trips(c in arb_calendar(), t in arb_instant(), d in arb_duration()) {
        let due = c.add(t, d);
        let back = c.subtract(due, d);
        // Back to the start when it was in working time; to the opening that
        // started the count otherwise (the same working time either way).
        prop_assert!(back >= t);
        prop_assert_eq!(c.between(t, back), SignedDuration::ZERO);
        if c.is_open(t) {
            prop_assert_eq!(back, t);
        }
        prop_assert_eq!(c.between(back, due), d);
        // And the other way round, never past where it started.
        prop_assert!(c.add(c.subtract(t, d), d) <= t);
    }

    #[test]
    fn adding_in_two_steps_is_adding_once(c in arb_calendar(), t in arb_instant(), a in arb_duration(), b in arb_duration()) {
        prop_assert_eq!(c.add(c.add(t, a), b), c.add(t, a + b));
    }

    #[test]
    fn adding_is_monotonic(c in arb_calendar(), t in arb_instant(), a in arb_duration(), b in arb_duration()) {
        let (small, large) = if a <= b { (a, b) } else { (b, a) };
        prop_assert!(c.add(t, small) <= c.add(t, large));
    }

    #[test]
    fn business_time_is_additive(c in arb_calendar(), a in arb_instant(), b in arb_instant(), x in arb_instant()) {
        let mut points = [a, b, x];
        points.sort();
        let [a, b, x] = points;
        prop_assert_eq!(c.between(a, b) + c.between(b, x), c.between(a, x));
        prop_assert!(c.between(a, x) <= x.duration_since(a));
    }

    #[test]
    fn pauses_never_shorten_and_resuming_agrees(
        c in arb_calendar(), start in arb_instant(), target in arb_duration(),
        p in arb_duration(), r in arb_duration(),
    ) {
        let due = c.add(start, target);
        let pause = start.checked_add(p).unwrap();
        let resume = pause.checked_add(r).unwrap();
        let paused = c.between(pause, resume);
        let moved = c.add(due, paused);
        prop_assert!(moved >= due);
        let counted = c.between(start, pause);
        if counted < target {
            // Moving the old deadline and counting the rest from the resumption
            // land on the same instant.
            prop_assert_eq!(moved, c.add(resume, target - counted));
        }
    }
}
