//! ARGO's statuses, and the timeline of one endpoint (or of several combined).

use std::collections::BTreeMap;

use jiff::Timestamp;

/// A probe result, in ARGO's vocabulary.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Status {
    Ok,
    Warning,
    Unknown,
    Missing,
    /// Scheduled downtime.
    Downtime,
    Critical,
}

/// How a status counts in service levels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// OK, WARNING.
    Up,
    /// CRITICAL.
    Down,
    /// UNKNOWN, MISSING: not known, left out of both figures.
    Unknown,
    /// Scheduled DOWNTIME: left out of reliability only.
    Downtime,
}

impl Status {
    pub const ALL: [Status; 6] = [
        Self::Ok,
        Self::Warning,
        Self::Unknown,
        Self::Missing,
        Self::Downtime,
        Self::Critical,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "OK",
            Self::Warning => "WARNING",
            Self::Unknown => "UNKNOWN",
            Self::Missing => "MISSING",
            Self::Downtime => "DOWNTIME",
            Self::Critical => "CRITICAL",
        }
    }

    pub fn class(self) -> Class {
        match self {
            Self::Ok | Self::Warning => Class::Up,
            Self::Critical => Class::Down,
            Self::Unknown | Self::Missing => Class::Unknown,
            Self::Downtime => Class::Downtime,
        }
    }

    /// How bad it is, for combining endpoints: an agreement that needs all
    /// of them is as bad as the worst. CRITICAL is worst; a scheduled
    /// DOWNTIME is worse than not knowing; OK is best.
    fn badness(self) -> u8 {
        match self {
            Self::Ok => 0,
            Self::Warning => 1,
            Self::Unknown => 2,
            Self::Missing => 3,
            Self::Downtime => 4,
            Self::Critical => 5,
        }
    }
}

impl std::str::FromStr for Status {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let wanted = text.trim().to_ascii_uppercase();
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == wanted)
            .ok_or_else(|| {
                format!(
                    "{text:?} is not a status: one of {}",
                    Self::ALL.map(Status::as_str).join(", ")
                )
            })
    }
}

/// How an agreement's endpoints make one status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Combine {
    /// Every endpoint is needed: the worst status holds.
    All,
    /// Any endpoint will do: the best status holds.
    Any,
}

/// The statuses of one endpoint over time: each holds from its instant until
/// the next. Before the first result nothing is known (MISSING).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Timeline {
    points: BTreeMap<Timestamp, Status>,
}

impl Timeline {
    /// Adds a result. The same result again changes nothing; a result for an
    /// instant already known replaces it (the later report wins); order of
    /// arrival does not matter.
    pub fn record(&mut self, at: Timestamp, status: Status) {
        self.points.insert(at, status);
    }

    /// The points of `results` worth keeping, given what is known already:
    /// the same point again is nothing new, and a result inside a run of its
    /// own status (its neighbours, known or new, say the same) adds nothing
    /// but the run's last result, which bounds how long a late result inside
    /// the run holds. Results are taken in time order; of two for one
    /// instant, the later listed wins.
    pub fn worth_keeping(&self, results: &[(Timestamp, Status)]) -> Vec<(Timestamp, Status)> {
        let mut new: BTreeMap<Timestamp, Status> = BTreeMap::new();
        for (at, status) in results {
            new.insert(*at, *status);
        }
        new.retain(|at, status| self.points.get(at) != Some(status));
        let mut merged = self.clone();
        for (at, status) in &new {
            merged.record(*at, *status);
        }
        let mut kept = Vec::new();
        for (at, status) in new {
            // A result for an instant already known changes it: kept.
            if self.points.contains_key(&at) {
                kept.push((at, status));
                continue;
            }
            let before = merged.points.range(..at).next_back().map(|(_, s)| *s);
            let after = merged
                .points
                .range((std::ops::Bound::Excluded(at), std::ops::Bound::Unbounded))
                .next()
                .map(|(_, s)| *s);
            if before == Some(status) && after == Some(status) {
                merged.points.remove(&at);
            } else {
                kept.push((at, status));
            }
        }
        kept
    }

    /// How many points it holds.
    pub fn len(&self) -> usize {
        self.points.len()
    }

    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    /// The last point, if any.
    pub fn last(&self) -> Option<(Timestamp, Status)> {
        self.points.last_key_value().map(|(at, s)| (*at, *s))
    }

    /// The spans within `[from, to)` in which the status was one of `wanted`,
    /// as `(start, end, status)`, runs of one status merged.
    pub fn spans(
        &self,
        from: Timestamp,
        to: Timestamp,
        wanted: &[Status],
    ) -> Vec<(Timestamp, Timestamp, Status)> {
        let mut spans: Vec<(Timestamp, Timestamp, Status)> = Vec::new();
        let mut cursor = from;
        let mut status = self.at(from);
        let mut close = |start: Timestamp, end: Timestamp, status: Status| {
            if end > start && wanted.contains(&status) {
                match spans.last_mut() {
                    Some(last) if last.1 == start && last.2 == status => last.1 = end,
                    _ => spans.push((start, end, status)),
                }
            }
        };
        for (at, next) in self.points.range(from..to) {
            if *at > cursor {
                close(cursor, *at, status);
                cursor = *at;
            }
            status = *next;
        }
        if to > cursor {
            close(cursor, to, status);
        }
        spans
    }

    /// The status at `at`.
    pub fn at(&self, at: Timestamp) -> Status {
        self.points
            .range(..=at)
            .next_back()
            .map_or(Status::Missing, |(_, s)| *s)
    }

    /// The changes only: repeated values dropped.
    pub fn transitions(&self) -> Vec<(Timestamp, Status)> {
        let mut changes: Vec<(Timestamp, Status)> = Vec::new();
        for (at, status) in &self.points {
            if changes.last().is_none_or(|(_, last)| last != status) {
                changes.push((*at, *status));
            }
        }
        changes
    }

    /// Several endpoints as one, at every instant any of them changes.
    pub fn combined(timelines: &[&Timeline], how: Combine) -> Timeline {
        let first = timelines
            .iter()
            .filter_map(|t| t.points.keys().next())
            .min()
            .copied();
        match first {
            Some(from) => Self::combined_within(timelines, how, from, Timestamp::MAX),
            None => Timeline::default(),
        }
    }

    /// [`Self::combined`] over `[from, to)` only: the status at `from` and
    /// every change within, so a day costs what its own points cost.
    pub fn combined_within(
        timelines: &[&Timeline],
        how: Combine,
        from: Timestamp,
        to: Timestamp,
    ) -> Timeline {
        let mut instants: std::collections::BTreeSet<Timestamp> = timelines
            .iter()
            .flat_map(|t| t.points.range(from..to).map(|(at, _)| *at))
            .collect();
        instants.insert(from);
        let mut combined = Timeline::default();
        for at in instants {
            let statuses = timelines.iter().map(|t| t.at(at));
            let status = match how {
                Combine::All => statuses.max_by_key(|s| s.badness()),
                Combine::Any => statuses.min_by_key(|s| s.badness()),
            };
            if let Some(status) = status {
                combined.record(at, status);
            }
        }
        combined
    }

    /// How long each class held within `[from, to)`, in seconds.
    pub fn durations(&self, from: Timestamp, to: Timestamp) -> Durations {
        let mut durations = Durations {
            total: (to - from).get_seconds().max(0),
            ..Durations::default()
        };
        let mut cursor = from;
        let mut status = self.at(from);
        for (at, next) in self.points.range(from..to) {
            if *at > cursor {
                durations.add(status.class(), (*at - cursor).get_seconds());
                cursor = *at;
            }
            status = *next;
        }
        if to > cursor {
            durations.add(status.class(), (to - cursor).get_seconds());
        }
        durations
    }
}

/// Seconds of a period by how they count.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Durations {
    pub total: i64,
    pub up: i64,
    pub down: i64,
    pub unknown: i64,
    pub downtime: i64,
}

impl Durations {
    fn add(&mut self, class: Class, seconds: i64) {
        match class {
            Class::Up => self.up += seconds,
            Class::Down => self.down += seconds,
            Class::Unknown => self.unknown += seconds,
            Class::Downtime => self.downtime += seconds,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn results_in_any_order_and_repeated_give_the_same_transitions() {
        let mut a = Timeline::default();
        let mut b = Timeline::default();
        let results = [
            ("2026-03-01T00:00:00Z", Status::Ok),
            ("2026-03-01T00:05:00Z", Status::Ok),
            ("2026-03-01T00:10:00Z", Status::Critical),
            ("2026-03-01T00:15:00Z", Status::Ok),
        ];
        for (t, s) in results {
            a.record(at(t), s);
        }
        for (t, s) in results.iter().rev().chain(results.iter()) {
            b.record(at(t), *s);
        }
        assert_eq!(a, b);
        assert_eq!(
            a.transitions(),
            [
                (at("2026-03-01T00:00:00Z"), Status::Ok),
                (at("2026-03-01T00:10:00Z"), Status::Critical),
                (at("2026-03-01T00:15:00Z"), Status::Ok),
            ]
        );
    }

    #[test]
    fn durations_split_a_period_by_class_and_nothing_known_before_the_first_result() {
        let mut t = Timeline::default();
        t.record(at("2026-03-01T01:00:00Z"), Status::Ok);
        t.record(at("2026-03-01T02:00:00Z"), Status::Warning);
        t.record(at("2026-03-01T03:00:00Z"), Status::Critical);
        t.record(at("2026-03-01T04:00:00Z"), Status::Downtime);
        t.record(at("2026-03-01T05:00:00Z"), Status::Ok);
        let d = t.durations(at("2026-03-01T00:00:00Z"), at("2026-03-01T06:00:00Z"));
        assert_eq!(
            d,
            Durations {
                total: 6 * 3600,
                up: 3 * 3600,
                down: 3600,
                unknown: 3600,
                downtime: 3600,
            }
        );
    }

    #[test]
    fn endpoints_combine_as_the_worst_or_the_best() {
        let (mut a, mut b) = (Timeline::default(), Timeline::default());
        a.record(at("2026-03-01T00:00:00Z"), Status::Ok);
        a.record(at("2026-03-01T01:00:00Z"), Status::Critical);
        b.record(at("2026-03-01T00:00:00Z"), Status::Warning);
        b.record(at("2026-03-01T02:00:00Z"), Status::Ok);
        let all = Timeline::combined(&[&a, &b], Combine::All);
        let any = Timeline::combined(&[&a, &b], Combine::Any);
        assert_eq!(all.at(at("2026-03-01T00:30:00Z")), Status::Warning);
        assert_eq!(all.at(at("2026-03-01T01:30:00Z")), Status::Critical);
        assert_eq!(any.at(at("2026-03-01T01:30:00Z")), Status::Warning);
        assert_eq!(any.at(at("2026-03-01T02:30:00Z")), Status::Ok);
    }

    #[test]
    fn only_changes_and_the_ends_of_runs_are_kept() {
        let five =
            |minute: i64| at("2026-03-01T00:00:00Z") + jiff::SignedDuration::from_mins(minute);
        let mut t = Timeline::default();
        // A day of OK with a 10-minute CRITICAL: the run starts, the change,
        // the change back and the last result.
        let mut push: Vec<(Timestamp, Status)> =
            (0..288).map(|i| (five(i * 5), Status::Ok)).collect();
        push[100].1 = Status::Critical;
        push[101].1 = Status::Critical;
        let kept = t.worth_keeping(&push);
        assert_eq!(
            kept,
            [
                (five(0), Status::Ok),
                (five(495), Status::Ok),
                (five(500), Status::Critical),
                (five(505), Status::Critical),
                (five(510), Status::Ok),
                (five(287 * 5), Status::Ok),
            ]
        );
        for (a, s) in &kept {
            t.record(*a, *s);
        }
        // The same push again, or any part of it, adds nothing.
        assert!(t.worth_keeping(&push).is_empty());
        assert!(t.worth_keeping(&push[10..20]).is_empty());
        // The next day's OK results extend the run by their last result only.
        let next: Vec<(Timestamp, Status)> =
            (288..576).map(|i| (five(i * 5), Status::Ok)).collect();
        assert_eq!(t.worth_keeping(&next), [(five(575 * 5), Status::Ok)]);
        // A late WARNING inside the OK run is kept.
        assert_eq!(
            t.worth_keeping(&[(five(42), Status::Warning)]),
            [(five(42), Status::Warning)]
        );
    }

    #[test]
    fn combining_within_a_period_agrees_with_combining_everything() {
        let (mut a, mut b) = (Timeline::default(), Timeline::default());
        a.record(at("2026-03-01T00:00:00Z"), Status::Ok);
        a.record(at("2026-03-01T05:00:00Z"), Status::Critical);
        a.record(at("2026-03-02T05:00:00Z"), Status::Ok);
        b.record(at("2026-03-01T12:00:00Z"), Status::Downtime);
        b.record(at("2026-03-02T01:00:00Z"), Status::Warning);
        let (from, to) = (at("2026-03-02T00:00:00Z"), at("2026-03-03T00:00:00Z"));
        for how in [Combine::All, Combine::Any] {
            let whole = Timeline::combined(&[&a, &b], how).durations(from, to);
            let within = Timeline::combined_within(&[&a, &b], how, from, to).durations(from, to);
            assert_eq!(whole, within, "{how:?}");
        }
    }

    #[test]
    fn spans_merge_runs_and_clip_to_the_period() {
        let mut t = Timeline::default();
        t.record(at("2026-03-01T00:00:00Z"), Status::Ok);
        t.record(at("2026-03-01T01:00:00Z"), Status::Critical);
        t.record(at("2026-03-01T01:30:00Z"), Status::Critical);
        t.record(at("2026-03-01T02:00:00Z"), Status::Downtime);
        t.record(at("2026-03-01T03:00:00Z"), Status::Ok);
        let spans = t.spans(
            at("2026-03-01T01:15:00Z"),
            at("2026-03-01T04:00:00Z"),
            &[Status::Critical, Status::Downtime],
        );
        assert_eq!(
            spans,
            [
                (
                    at("2026-03-01T01:15:00Z"),
                    at("2026-03-01T02:00:00Z"),
                    Status::Critical
                ),
                (
                    at("2026-03-01T02:00:00Z"),
                    at("2026-03-01T03:00:00Z"),
                    Status::Downtime
                ),
            ]
        );
    }

    #[test]
    fn statuses_parse_in_argos_words_only() {
        assert_eq!("warning".parse::<Status>(), Ok(Status::Warning));
        assert_eq!(" DOWNTIME ".parse::<Status>(), Ok(Status::Downtime));
        assert!("DOWN".parse::<Status>().unwrap_err().contains("one of OK"));
    }
}
