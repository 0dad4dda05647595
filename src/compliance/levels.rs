//! Availability and reliability, as ARGO defines them:
//!
//! - up = OK + WARNING, unknown = UNKNOWN + MISSING, downtime = DOWNTIME;
//! - a day: availability = up / (day − unknown), reliability = up / (day −
//!   unknown − downtime), the day being the agreement's calendar day in its
//!   time zone (23 or 25 hours across a DST change);
//! - a month: from the days' fractions, averaged (each day weighs the same,
//!   whatever its length): availability = up / (1.00000001 − unknown),
//!   reliability = up / (1.00000001 − unknown − downtime), ARGO's guard
//!   against a zero denominator;
//! - percentages, rounded to 5 decimals; undefined (nothing known) is `None`,
//!   where ARGO writes −1.

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};

use super::status::{Durations, Timeline};

/// Availability and reliability, in percent.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Levels {
    pub availability: Option<f64>,
    pub reliability: Option<f64>,
}

/// ARGO's monthly denominator "one".
const ONE: f64 = 1.000_000_01;

fn percent(fraction: f64) -> f64 {
    (fraction * 100.0 * 100_000.0).round() / 100_000.0
}

/// `[start, end)` of `day` in `zone`.
pub fn day_bounds(day: Date, zone: &TimeZone) -> (Timestamp, Timestamp) {
    let start = day
        .to_zoned(zone.clone())
        .expect("every date of pactum's range has a start")
        .timestamp();
    let end = day
        .checked_add(1.day())
        .expect("a next day")
        .to_zoned(zone.clone())
        .expect("every date of pactum's range has a start")
        .timestamp();
    (start, end)
}

/// The durations of `day` in `zone`, from `timeline`.
pub fn day(timeline: &Timeline, day: Date, zone: &TimeZone) -> Durations {
    let (start, end) = day_bounds(day, zone);
    timeline.durations(start, end)
}

/// One day's levels.
pub fn daily(d: &Durations) -> Levels {
    let known = d.total - d.unknown;
    let scheduled = known - d.downtime;
    let ratio = |part: i64, whole: i64| (whole > 0).then(|| percent(part as f64 / whole as f64));
    Levels {
        availability: ratio(d.up, known),
        reliability: ratio(d.up, scheduled),
    }
}

/// A month's levels from its days, as ARGO averages them.
pub fn monthly(days: &[Durations]) -> Levels {
    let days: Vec<&Durations> = days.iter().filter(|d| d.total > 0).collect();
    if days.is_empty() {
        return Levels {
            availability: None,
            reliability: None,
        };
    }
    let n = days.len() as f64;
    let mean = |part: fn(&Durations) -> i64| {
        days.iter()
            .map(|d| part(d) as f64 / d.total as f64)
            .sum::<f64>()
            / n
    };
    let (up, unknown, downtime) = (mean(|d| d.up), mean(|d| d.unknown), mean(|d| d.downtime));
    // Nothing known all month: undefined, as on a day.
    if unknown >= 1.0 {
        return Levels {
            availability: None,
            reliability: None,
        };
    }
    Levels {
        availability: Some(percent(up / (ONE - unknown))),
        reliability: (ONE - unknown - downtime > 0.0)
            .then(|| percent(up / (ONE - unknown - downtime))),
    }
}

#[cfg(test)]
mod tests {
    use super::super::status::Status;
    use super::*;

    fn zone() -> TimeZone {
        TimeZone::get("Europe/Amsterdam").unwrap()
    }

    /// Local time in Amsterdam.
    fn local(date: &str, time: &str) -> Timestamp {
        format!("{date}T{time}[Europe/Amsterdam]")
            .parse::<jiff::Zoned>()
            .unwrap()
            .timestamp()
    }

    /// March 2026 in Amsterdam: OK all month, but CRITICAL 02:00–04:00 on the
    /// 3rd, nothing known 06:00–12:00 on the 10th, a scheduled DOWNTIME
    /// 20:00–24:00 on the 15th, WARNING (still up) 09:00–12:00 on the 20th,
    /// and the 29th 23 hours long (clocks go forward at 02:00).
    fn march() -> Timeline {
        let mut t = Timeline::default();
        let mut at = |date: &str, time: &str, status| t.record(local(date, time), status);
        at("2026-02-28", "00:00", Status::Ok);
        at("2026-03-03", "02:00", Status::Critical);
        at("2026-03-03", "04:00", Status::Ok);
        at("2026-03-10", "06:00", Status::Unknown);
        at("2026-03-10", "12:00", Status::Ok);
        at("2026-03-15", "20:00", Status::Downtime);
        at("2026-03-16", "00:00", Status::Ok);
        at("2026-03-20", "09:00", Status::Warning);
        at("2026-03-20", "12:00", Status::Ok);
        t
    }

    fn days_of_march(t: &Timeline) -> Vec<Durations> {
        (1..=31)
            .map(|d| day(t, Date::new(2026, 3, d).unwrap(), &zone()))
            .collect()
    }

    #[test]
    fn a_day_is_the_agreements_calendar_day_dst_included() {
        let t = march();
        let days = days_of_march(&t);
        assert_eq!(days[28].total, 23 * 3600, "29 March: clocks go forward");
        assert_eq!(days[0].total, 24 * 3600);
        // The 3rd: 22 of 24 hours up.
        assert_eq!(
            daily(&days[2]),
            Levels {
                availability: Some(91.66667),
                reliability: Some(91.66667)
            }
        );
        // The 10th: 18 of 18 known hours up.
        assert_eq!(days[9].unknown, 6 * 3600);
        assert_eq!(
            daily(&days[9]),
            Levels {
                availability: Some(100.0),
                reliability: Some(100.0)
            }
        );
        // The 15th: 20 of 24 hours up; the 4 scheduled hours left out of reliability.
        assert_eq!(
            daily(&days[14]),
            Levels {
                availability: Some(83.33333),
                reliability: Some(100.0)
            }
        );
        // The 20th: WARNING counts as up.
        assert_eq!(daily(&days[19]).availability, Some(100.0));
        // October's last Sunday is 25 hours long.
        let (start, end) = day_bounds(Date::new(2026, 10, 25).unwrap(), &zone());
        assert_eq!((end - start).get_seconds(), 25 * 3600);
    }

    #[test]
    fn a_month_averages_its_days_as_argo_does() {
        let days = days_of_march(&march());
        // Day fractions: up = 31 − 2/24 − 6/24 − 4/24 = 30.5 days' worth, over 31
        // days; unknown = (6/24)/31; downtime = (4/24)/31.
        let up: f64 = (31.0 - 12.0 / 24.0) / 31.0;
        let unknown: f64 = (6.0 / 24.0) / 31.0;
        let downtime: f64 = (4.0 / 24.0) / 31.0;
        let expected_a = (up / (1.000_000_01 - unknown) * 100.0 * 1e5).round() / 1e5;
        let expected_r = (up / (1.000_000_01 - unknown - downtime) * 100.0 * 1e5).round() / 1e5;
        assert_eq!(expected_a, 99.18699, "by hand: 0.983871 / 0.991935");
        assert_eq!(expected_r, 99.72752, "by hand: 0.983871 / 0.986559");
        assert_eq!(
            monthly(&days),
            Levels {
                availability: Some(expected_a),
                reliability: Some(expected_r)
            }
        );
    }

    #[test]
    fn nothing_known_is_undefined_not_zero() {
        let empty = Timeline::default();
        let d = day(&empty, Date::new(2026, 3, 1).unwrap(), &zone());
        assert_eq!(d.unknown, d.total);
        assert_eq!(
            daily(&d),
            Levels {
                availability: None,
                reliability: None
            }
        );
        assert_eq!(monthly(&[d]).availability, None);
    }
}
