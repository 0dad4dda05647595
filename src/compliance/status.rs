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
#[derive(Clone, Debug, Default, PartialEq, Eq)]
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
        let instants: std::collections::BTreeSet<Timestamp> = timelines
            .iter()
            .flat_map(|t| t.points.keys().copied())
            .collect();
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
    fn statuses_parse_in_argos_words_only() {
        assert_eq!("warning".parse::<Status>(), Ok(Status::Warning));
        assert_eq!(" DOWNTIME ".parse::<Status>(), Ok(Status::Downtime));
        assert!("DOWN".parse::<Status>().unwrap_err().contains("one of OK"));
    }
}
