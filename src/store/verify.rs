//! `pactum verify`: is the log still what was written?
//!
//! Two checks, each in bounded memory:
//! - every aggregate's hash chain (`docs/adr/0003`), walked aggregate by aggregate
//!   with [`EventStore::stream_by_aggregate`]: sequences run 1, 2, 3… without gaps,
//!   each stored hash is the hash of the event's stored fields chained to its
//!   predecessor's stored hash, and positions grow with sequence;
//! - the global positions run 1..=MAX without gaps (found in SQL, not by loading
//!   the log: the hash chains are per aggregate, so only the positions protect
//!   the global order and reveal a removed event).
//!
//! Each link is checked against its predecessor's *stored* hash, not a recomputed
//! one, so one changed event is reported alone rather than with every event
//! after it. Findings are ordered by position: the first is the earliest place
//! where the log reads wrong. Start with [`verify`]; further per-event checks
//! (re-rendered documents) plug in through [`EventCheck`] and [`verify_with`].
//!
//! What it cannot see: events cut from the *end* of the log leave no gap and no
//! broken link; only a head position known from elsewhere (an export, a relayed
//! stream) reveals that. And payloads are hashed as their compact serialization
//! (see [`recorded_hash`]), so a change to the stored text that keeps its JSON
//! value (spacing, key order) is not a finding: readers see the same event.

use std::fmt;

use super::DbPool;
use futures::StreamExt;
use futures::future::BoxFuture;
use pactum_events::RecordedEvent;

use super::{EventStore, StoreError, recorded_hash};

/// The most findings a report lists; it counts the rest.
pub const MAX_FINDINGS: usize = 20;

/// What is wrong at one position of the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    /// No event has this position though later ones exist: an event was removed.
    MissingPosition {
        /// How many positions are missing in all.
        count: u64,
    },
    /// The aggregate's chain skips `expected`: this event should have had it.
    MissingSequence { expected: u64 },
    /// The stored hash is not the hash of the event's stored fields chained to
    /// its predecessor's stored hash: the event, or its place, was changed.
    HashMismatch,
    /// The event is at an earlier position than its predecessor in the chain.
    OutOfOrder { predecessor_position: u64 },
    /// The row cannot be read as an event at all.
    Unreadable { reason: String },
    /// An [`EventCheck`] refused the event.
    Check { check: &'static str, detail: String },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MissingPosition { count: 1 } => {
                f.write_str("missing: no event has this position, though later ones do")
            }
            Self::MissingPosition { count } => write!(
                f,
                "missing: no event has this position, though later ones do \
                 ({count} positions are missing in all)"
            ),
            Self::MissingSequence { expected } => {
                write!(f, "sequence {expected} is missing before it")
            }
            Self::HashMismatch => {
                f.write_str("hash does not match its contents or its predecessor")
            }
            Self::OutOfOrder {
                predecessor_position,
            } => write!(
                f,
                "comes before its predecessor in the log, which is at position {predecessor_position}"
            ),
            Self::Unreadable { reason } => write!(f, "unreadable: {reason}"),
            Self::Check { check, detail } => write!(f, "{check}: {detail}"),
        }
    }
}

/// The event a finding is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventRef {
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub sequence: u64,
}

/// One problem, at the position where the log first reads wrong because of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub position: u64,
    /// The event at `position`; `None` for a missing or unreadable one.
    pub event: Option<EventRef>,
    pub problem: Problem,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.event {
            Some(e) => write!(
                f,
                "position {} ({} {} sequence {}): {}",
                self.position, e.aggregate_type, e.aggregate_id, e.sequence, self.problem
            ),
            None => write!(f, "position {}: {}", self.position, self.problem),
        }
    }
}

/// The outcome of [`verify`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyReport {
    /// Events read (unreadable rows included).
    pub events: u64,
    pub aggregates: u64,
    /// At most [`MAX_FINDINGS`], smallest position first: one per broken
    /// aggregate (its earliest problem), one for the first missing position, one
    /// per unreadable row.
    pub findings: Vec<Finding>,
    /// How many findings there were before the list was cut at [`MAX_FINDINGS`].
    pub total_findings: u64,
}

impl VerifyReport {
    /// Whether every chain is intact and no position is missing.
    pub fn is_intact(&self) -> bool {
        self.total_findings == 0
    }

    /// The earliest problem in the log.
    pub fn first(&self) -> Option<&Finding> {
        self.findings.first()
    }
}

/// A further check of each event whose chain link is intact, run by
/// [`verify_with`] in the same pass.
///
/// This is the extension point for what the chain cannot tell: re-rendering an
/// agreement's document from history and comparing its SHA-256 with the one the
/// event recorded (DESIGN.md, "Agreements and documents") is meant to be one.
/// A refusal becomes a [`Problem::Check`] finding at the event's position.
pub trait EventCheck: Send {
    /// A short name for reports, e.g. `document`.
    fn name(&self) -> &'static str;

    /// `Err(detail)` if `event` fails the check.
    fn check<'a>(&'a mut self, event: &'a RecordedEvent) -> BoxFuture<'a, Result<(), String>>;
}

/// Checks every hash chain and the gap-free positions.
pub async fn verify(store: &EventStore) -> Result<VerifyReport, StoreError> {
    verify_with(store, &mut []).await
}

/// [`verify`], also running `checks` on every event whose chain link is intact.
#[tracing::instrument(skip_all)]
pub async fn verify_with(
    store: &EventStore,
    checks: &mut [&mut dyn EventCheck],
) -> Result<VerifyReport, StoreError> {
    let mut findings = Findings::default();
    if let Some(finding) = first_missing_position(store.reader()).await? {
        findings.push(finding);
    }

    let mut events = 0;
    let mut aggregates = 0;
    let mut chain: Option<Chain> = None;
    let mut stream = std::pin::pin!(store.stream_by_aggregate());
    while let Some(item) = stream.next().await {
        events += 1;
        let event = match item {
            Ok(event) => event,
            Err(StoreError::Corrupt { position, reason }) => {
                findings.push(Finding {
                    position,
                    event: None,
                    problem: Problem::Unreadable { reason },
                });
                continue;
            }
            Err(other) => return Err(other),
        };
        if !chain.as_ref().is_some_and(|link| link.is_of(&event)) {
            if let Some(done) = chain.take() {
                findings.extend(done.earliest);
            }
            aggregates += 1;
            chain = Some(Chain::new(&event));
        }
        let link = chain.as_mut().expect("a chain is under way");
        let mut problem = link.problem(&event);
        if problem.is_none() {
            // Extension point: checks beyond the chain (document re-rendering).
            for check in checks.iter_mut() {
                if let Err(detail) = check.check(&event).await {
                    problem = Some(Problem::Check {
                        check: check.name(),
                        detail,
                    });
                    break;
                }
            }
        }
        link.advance(event, problem);
    }
    if let Some(done) = chain {
        findings.extend(done.earliest);
    }
    let (findings, total_findings) = findings.finish();
    Ok(VerifyReport {
        events,
        aggregates,
        findings,
        total_findings,
    })
}

/// The smallest position in 1..=MAX that no event has, if any.
async fn first_missing_position(pool: &DbPool) -> Result<Option<Finding>, sqlx::Error> {
    let (max, present): (i64, i64) = sqlx::query_as(
        "SELECT COALESCE(MAX(position), 0), COUNT(*) FROM events WHERE position >= 1",
    )
    .fetch_one(pool)
    .await?;
    let missing = max - present;
    if missing <= 0 {
        return Ok(None);
    }
    // `position` is the rowid, so each NOT EXISTS is one index lookup. Appends
    // made meanwhile only add positions above MAX: the gap found is still there.
    let first: i64 = sqlx::query_scalar(
        "SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM events WHERE position = 1) THEN 1 \
         ELSE (SELECT MIN(e.position) + 1 FROM events e WHERE e.position >= 1 \
               AND NOT EXISTS (SELECT 1 FROM events n WHERE n.position = e.position + 1)) END",
    )
    .fetch_one(pool)
    .await?;
    Ok(Some(Finding {
        position: first as u64,
        event: None,
        problem: Problem::MissingPosition {
            count: missing as u64,
        },
    }))
}

/// The walk along one aggregate's chain.
struct Chain {
    aggregate_type: String,
    aggregate_id: String,
    next_sequence: u64,
    prev_hash: String,
    prev_position: Option<u64>,
    /// The problem of this aggregate with the smallest position.
    earliest: Option<Finding>,
}

impl Chain {
    fn new(first: &RecordedEvent) -> Self {
        Self {
            aggregate_type: first.aggregate_type.clone(),
            aggregate_id: first.aggregate_id.clone(),
            next_sequence: 1,
            prev_hash: String::new(),
            prev_position: None,
            earliest: None,
        }
    }

    fn is_of(&self, event: &RecordedEvent) -> bool {
        self.aggregate_type == event.aggregate_type && self.aggregate_id == event.aggregate_id
    }

    /// What is wrong with `event` as the next link, judged in this order: a
    /// skipped sequence, a hash that does not chain, a position out of order.
    fn problem(&self, event: &RecordedEvent) -> Option<Problem> {
        if event.sequence != self.next_sequence {
            return Some(Problem::MissingSequence {
                expected: self.next_sequence,
            });
        }
        if recorded_hash(&self.prev_hash, event) != event.hash {
            return Some(Problem::HashMismatch);
        }
        match self.prev_position {
            Some(previous) if event.position <= previous => Some(Problem::OutOfOrder {
                predecessor_position: previous,
            }),
            _ => None,
        }
    }

    fn advance(&mut self, event: RecordedEvent, problem: Option<Problem>) {
        if let Some(problem) = problem
            && self
                .earliest
                .as_ref()
                .is_none_or(|f| event.position < f.position)
        {
            self.earliest = Some(Finding {
                position: event.position,
                event: Some(EventRef {
                    aggregate_type: event.aggregate_type.clone(),
                    aggregate_id: event.aggregate_id.clone(),
                    sequence: event.sequence,
                }),
                problem,
            });
        }
        self.next_sequence = event.sequence + 1;
        self.prev_position = Some(event.position);
        self.prev_hash = event.hash;
    }
}

/// The findings with the smallest positions, in bounded memory.
#[derive(Default)]
struct Findings {
    kept: Vec<Finding>,
    total: u64,
}

impl Findings {
    fn push(&mut self, finding: Finding) {
        self.total += 1;
        self.kept.push(finding);
        if self.kept.len() >= 2 * MAX_FINDINGS {
            self.trim();
        }
    }

    fn trim(&mut self) {
        self.kept.sort_by_key(|f| f.position);
        self.kept.truncate(MAX_FINDINGS);
    }

    fn finish(mut self) -> (Vec<Finding>, u64) {
        self.trim();
        (self.kept, self.total)
    }
}

impl Extend<Finding> for Findings {
    fn extend<I: IntoIterator<Item = Finding>>(&mut self, findings: I) {
        findings.into_iter().for_each(|f| self.push(f));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(position: u64) -> Finding {
        Finding {
            position,
            event: None,
            problem: Problem::MissingPosition { count: 1 },
        }
    }

    #[test]
    fn findings_keep_the_earliest_and_count_the_rest() {
        let mut findings = Findings::default();
        findings.extend((1..=100).rev().map(at));
        let (kept, total) = findings.finish();
        assert_eq!(total, 100);
        let positions: Vec<u64> = kept.iter().map(|f| f.position).collect();
        assert_eq!(positions, (1..=MAX_FINDINGS as u64).collect::<Vec<_>>());
    }

    #[test]
    fn a_finding_names_position_aggregate_and_sequence() {
        let finding = Finding {
            position: 57,
            event: Some(EventRef {
                aggregate_type: "order".into(),
                aggregate_id: "0190".into(),
                sequence: 3,
            }),
            problem: Problem::HashMismatch,
        };
        assert_eq!(
            finding.to_string(),
            "position 57 (order 0190 sequence 3): hash does not match its contents or its predecessor"
        );
        assert_eq!(
            at(9).to_string(),
            "position 9: missing: no event has this position, though later ones do"
        );
    }
}
