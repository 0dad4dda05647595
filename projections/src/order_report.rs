//! One row per order with what `GET /v1/reports/orders` counts: its service,
//! group and customer organisation, when it was submitted, whether it was ever
//! approved, rejected or cancelled, how and when it was decided, and for each
//! handling clock that reached what it measures, the business time it counted
//! and whether that was within target (copied from `HandlingClockStopped`,
//! never recomputed).

use jiff::Timestamp;
use pactum_events::order::{HandlingClock, OrderEvent, OrderStatus};

use crate::projection::{
    ApplyError, Column, ColumnKind, Envelope, EventTypes, Projection, TableSpec, column,
};

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReportRow {
    pub order_id: String,
    pub service: String,
    pub group: String,
    /// The customer's organisation.
    pub org: String,
    pub submitted_at: Timestamp,
    pub approved: bool,
    pub rejected: bool,
    pub cancelled: bool,
    /// Business seconds to the first response, and whether within target.
    pub first_response: Option<Measured>,
    pub decision: Option<Measured>,
    /// How the order was decided, and when.
    pub decided: Option<Decided>,
}

/// An order's outcome as a report counts it: approved or rejected (the
/// decisions: at most one is made, and a cancellation after it does not undo
/// it), or cancelled before any decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Approved,
    Rejected,
    Cancelled,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Approved => "approved",
            Self::Rejected => "rejected",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Approved, Self::Rejected, Self::Cancelled]
            .into_iter()
            .find(|d| d.as_str() == text)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decided {
    pub decision: Decision,
    /// When the deciding event was recorded.
    pub at: Timestamp,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Measured {
    pub seconds: i64,
    pub within_target: bool,
}

pub static TABLE: TableSpec = TableSpec {
    key: "order_id",
    columns: &[
        column("service", ColumnKind::Text, false),
        column("group_id", ColumnKind::Text, false),
        column("submitted_at", ColumnKind::Integer, false),
        column("approved", ColumnKind::Integer, false),
        column("rejected", ColumnKind::Integer, false),
        column("cancelled", ColumnKind::Integer, false),
        column("first_response_seconds", ColumnKind::Integer, true),
        column("first_response_within", ColumnKind::Integer, true),
        column("decision_seconds", ColumnKind::Integer, true),
        column("decision_within", ColumnKind::Integer, true),
        column("org", ColumnKind::Text, false),
        column("decision", ColumnKind::Text, true),
        column("decided_at", ColumnKind::Integer, true),
    ],
    // The report reads the orders submitted in a range.
    indexes: &[&["submitted_at", "order_id"]],
};

pub struct OrderReport;

impl OrderReport {
    pub const NAME: &'static str = "order_report";
}

impl Projection for OrderReport {
    type Event = OrderEvent;
    type Row = ReportRow;

    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn version(&self) -> u32 {
        // 3: decisions in imported JIRA history (`OrderStatusImported`).
        3
    }

    fn event_types(&self) -> EventTypes {
        EventTypes::Only(&[
            "OrderSubmitted",
            "OrderApproved",
            "OrderRejected",
            "OrderCancelled",
            "HandlingClockStopped",
            "OrderStatusImported",
        ])
    }

    fn table(&self) -> &'static TableSpec {
        &TABLE
    }

    fn apply(
        &self,
        row: Option<ReportRow>,
        envelope: &Envelope,
        event: &OrderEvent,
    ) -> Result<Option<ReportRow>, ApplyError> {
        if let OrderEvent::OrderSubmitted(submitted) = event {
            if row.is_some() {
                return Err(ApplyError(format!(
                    "order {} submitted twice (position {})",
                    envelope.aggregate_id, envelope.position
                )));
            }
            return Ok(Some(ReportRow {
                order_id: submitted.order_id.clone(),
                service: submitted.service.clone(),
                group: submitted.group.clone(),
                org: submitted.customer.org.clone(),
                submitted_at: submitted.submitted_at,
                ..ReportRow::default()
            }));
        }
        let mut row = row.ok_or_else(|| {
            ApplyError(format!(
                "{} for order {} before its submission (position {})",
                envelope.event_type, envelope.aggregate_id, envelope.position
            ))
        })?;
        // None of these events carries its own time: the log's is when it happened.
        let decided = |decision| {
            Some(Decided {
                decision,
                at: envelope.recorded_at,
            })
        };
        match event {
            OrderEvent::OrderApproved(_) => {
                row.approved = true;
                row.decided = decided(Decision::Approved);
            }
            OrderEvent::OrderRejected(_) => {
                row.rejected = true;
                row.decided = decided(Decision::Rejected);
            }
            OrderEvent::OrderCancelled(_) => {
                row.cancelled = true;
                if row.decided.is_none() {
                    row.decided = decided(Decision::Cancelled);
                }
            }
            // JIRA's history may decide twice (a ticket reopened and decided
            // again): the last decision is the order's.
            OrderEvent::OrderStatusImported(imported) => match imported.status {
                OrderStatus::Approved => {
                    row.approved = true;
                    row.decided = decided(Decision::Approved);
                }
                OrderStatus::Rejected => {
                    row.rejected = true;
                    row.decided = decided(Decision::Rejected);
                }
                OrderStatus::Cancelled => {
                    row.cancelled = true;
                    if row.decided.is_none() {
                        row.decided = decided(Decision::Cancelled);
                    }
                }
                _ => {}
            },
            OrderEvent::HandlingClockStopped(stopped) if stopped.reached => {
                let measured = Some(Measured {
                    seconds: stopped.elapsed_seconds,
                    within_target: stopped.within_target,
                });
                match stopped.clock {
                    HandlingClock::FirstResponse => row.first_response = measured,
                    HandlingClock::Decision => row.decision = measured,
                }
            }
            _ => {}
        }
        Ok(Some(row))
    }

    fn row_to_columns(&self, row: &ReportRow) -> Vec<Column> {
        let flag = |b: bool| Column::Int(i64::from(b));
        let measured = |m: Option<Measured>| {
            [
                Column::opt_int(m.map(|m| m.seconds)),
                Column::opt_int(m.map(|m| i64::from(m.within_target))),
            ]
        };
        let mut columns = vec![
            Column::text(&row.service),
            Column::text(&row.group),
            Column::Int(row.submitted_at.as_microsecond()),
            flag(row.approved),
            flag(row.rejected),
            flag(row.cancelled),
        ];
        columns.extend(measured(row.first_response));
        columns.extend(measured(row.decision));
        columns.extend([
            Column::text(&row.org),
            Column::opt_text(row.decided.map(|d| d.decision.as_str())),
            Column::opt_int(row.decided.map(|d| d.at.as_microsecond())),
        ]);
        columns
    }

    fn row_from_columns(&self, key: String, columns: Vec<Column>) -> Result<ReportRow, ApplyError> {
        let bad = || ApplyError(format!("order_report row {key}: unexpected columns"));
        let text = |c: &Column| c.as_text().map(str::to_owned).ok_or_else(bad);
        let int = |c: &Column| c.as_int().ok_or_else(bad);
        let timestamp = |c: &Column| Timestamp::from_microsecond(int(c)?).map_err(|_| bad());
        let measured =
            |seconds: &Column, within: &Column| -> Result<Option<Measured>, ApplyError> {
                match (seconds, within) {
                    (Column::Null, _) => Ok(None),
                    (seconds, within) => Ok(Some(Measured {
                        seconds: int(seconds)?,
                        within_target: int(within)? != 0,
                    })),
                }
            };
        let [
            service,
            group,
            submitted_at,
            approved,
            rejected,
            cancelled,
            fr_seconds,
            fr_within,
            decision_seconds,
            decision_within,
            org,
            decision,
            decided_at,
        ] = columns.as_slice()
        else {
            return Err(bad());
        };
        let decided = match decision {
            Column::Null => None,
            decision => Some(Decided {
                decision: Decision::parse(&text(decision)?).ok_or_else(bad)?,
                at: timestamp(decided_at)?,
            }),
        };
        Ok(ReportRow {
            order_id: key.clone(),
            service: text(service)?,
            group: text(group)?,
            org: text(org)?,
            submitted_at: timestamp(submitted_at)?,
            approved: int(approved)? != 0,
            rejected: int(rejected)? != 0,
            cancelled: int(cancelled)? != 0,
            first_response: measured(fr_seconds, fr_within)?,
            decision: measured(decision_seconds, decision_within)?,
            decided,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pactum_events::EventPayload;
    use pactum_events::order::*;

    fn envelope(position: u64, event: &OrderEvent) -> Envelope {
        Envelope {
            position,
            aggregate_type: "order".into(),
            aggregate_id: "o-1".into(),
            sequence: position,
            event_type: event.event_type().into(),
            schema_version: 1,
            recorded_at: recorded_at(position),
            actor: pactum_events::Actor {
                subject: "sam".into(),
                role: "shifter".into(),
                org: None,
            },
        }
    }

    /// Event `position` was recorded `position` minutes after 16:30.
    fn recorded_at(position: u64) -> Timestamp {
        "2026-11-27T16:30:00Z".parse::<Timestamp>().unwrap()
            + jiff::SignedDuration::from_mins(position as i64)
    }

    fn stopped(clock: HandlingClock, seconds: i64, reached: bool) -> OrderEvent {
        OrderEvent::HandlingClockStopped(HandlingClockStopped {
            clock,
            at: "2026-11-30T10:00:00Z".parse().unwrap(),
            elapsed_seconds: seconds,
            target_seconds: 3600,
            reached,
            within_target: reached && seconds < 3600,
            cause: "x".into(),
        })
    }

    fn submitted() -> OrderEvent {
        crate::test_events::submitted_at("2026-11-27T16:30:00Z".parse().unwrap())
    }

    fn fold(events: &[OrderEvent]) -> Result<Option<ReportRow>, ApplyError> {
        let mut row = None;
        for (n, event) in events.iter().enumerate() {
            row = OrderReport.apply(row, &envelope(n as u64 + 1, event), event)?;
        }
        Ok(row)
    }

    #[test]
    fn copies_outcomes_and_reached_clocks_only() {
        let events = [
            submitted(),
            stopped(HandlingClock::FirstResponse, 1200, true),
            OrderEvent::OrderApproved(OrderApproved { note: None }),
            stopped(HandlingClock::Decision, 4000, true),
            OrderEvent::OrderCancelled(OrderCancelled { reason: None }),
        ];
        let row = fold(&events).unwrap().unwrap();
        assert!(row.approved && row.cancelled && !row.rejected);
        assert_eq!(
            row.first_response,
            Some(Measured {
                seconds: 1200,
                within_target: true
            })
        );
        assert_eq!(
            row.decision,
            Some(Measured {
                seconds: 4000,
                within_target: false
            })
        );
        let back = OrderReport
            .row_from_columns("o-1".into(), OrderReport.row_to_columns(&row))
            .unwrap();
        assert_eq!(back, row);

        // A clock stopped by a cancellation measured nothing.
        let unreached = stopped(HandlingClock::Decision, 50, false);
        let row = OrderReport
            .apply(Some(back), &envelope(6, &unreached), &unreached)
            .unwrap()
            .unwrap();
        assert_eq!(row.decision.unwrap().seconds, 4000);
    }

    #[test]
    fn imported_decisions_count_the_last_one_as_the_order_s() {
        let imported = |status| {
            OrderEvent::OrderStatusImported(OrderStatusImported {
                status,
                jira_status: "x".into(),
                previous_jira_status: None,
                question_id: None,
            })
        };
        // Approved, reopened, rejected: JIRA's workflow allowed it.
        let events = [
            submitted(),
            imported(OrderStatus::Approved),
            imported(OrderStatus::InReview),
            imported(OrderStatus::Rejected),
        ];
        let row = fold(&events).unwrap().unwrap();
        assert!(row.approved && row.rejected && !row.cancelled);
        assert_eq!(
            row.decided,
            Some(Decided {
                decision: Decision::Rejected,
                at: recorded_at(4),
            })
        );
        let cancelled = fold(&[submitted(), imported(OrderStatus::Cancelled)])
            .unwrap()
            .unwrap();
        assert_eq!(cancelled.decided.unwrap().decision, Decision::Cancelled);
        let closed = fold(&[submitted(), imported(OrderStatus::Closed)])
            .unwrap()
            .unwrap();
        assert_eq!(closed.decided, None, "closed straight away: never decided");
    }

    #[test]
    fn an_order_without_targets_counts_but_measures_nothing() {
        let row = fold(&[
            submitted(),
            OrderEvent::OrderRejected(OrderRejected {
                reason: "no capacity".into(),
            }),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(
            (row.service.as_str(), row.group.as_str()),
            ("cloud-compute", "compute")
        );
        assert_eq!(
            row.submitted_at,
            "2026-11-27T16:30:00Z".parse::<Timestamp>().unwrap()
        );
        assert!(row.rejected && !row.approved && !row.cancelled);
        assert_eq!((row.first_response, row.decision), (None, None));
        let back = OrderReport
            .row_from_columns("o-1".into(), OrderReport.row_to_columns(&row))
            .unwrap();
        assert_eq!(back, row);
    }

    #[test]
    fn a_cancelled_order_keeps_the_response_it_had() {
        // Responded to (a question) within target, then cancelled before any
        // decision: the decision clock stops unreached.
        let row = fold(&[
            submitted(),
            stopped(HandlingClock::FirstResponse, 600, true),
            OrderEvent::OrderCancelled(OrderCancelled { reason: None }),
            stopped(HandlingClock::Decision, 900, false),
        ])
        .unwrap()
        .unwrap();
        assert!(row.cancelled && !row.approved && !row.rejected);
        assert_eq!(
            row.first_response,
            Some(Measured {
                seconds: 600,
                within_target: true
            })
        );
        assert_eq!(row.decision, None);
    }

    #[test]
    fn the_decision_is_the_approval_or_rejection_or_a_cancellation_before_either() {
        let approved = OrderEvent::OrderApproved(OrderApproved { note: None });
        let rejected = OrderEvent::OrderRejected(OrderRejected {
            reason: "no capacity".into(),
        });
        let cancelled = OrderEvent::OrderCancelled(OrderCancelled { reason: None });
        let cases = [
            // Approved (position 2), then cancelled before activation: approved.
            (
                vec![submitted(), approved, cancelled.clone()],
                Some((Decision::Approved, 2)),
            ),
            (vec![submitted(), rejected], Some((Decision::Rejected, 2))),
            (
                vec![
                    submitted(),
                    stopped(HandlingClock::FirstResponse, 600, true),
                    cancelled,
                ],
                Some((Decision::Cancelled, 3)),
            ),
            (vec![submitted()], None),
        ];
        for (events, expected) in cases {
            let row = fold(&events).unwrap().unwrap();
            assert_eq!(row.org, "acme");
            assert_eq!(
                row.decided,
                expected.map(|(decision, position)| Decided {
                    decision,
                    at: recorded_at(position),
                }),
                "{events:?}"
            );
            let columns = OrderReport.row_to_columns(&row);
            assert_eq!(columns.len(), TABLE.columns.len());
            let expected_columns = match expected {
                Some((decision, position)) => [
                    Column::text("acme"),
                    Column::text(decision.as_str()),
                    Column::Int(recorded_at(position).as_microsecond()),
                ],
                None => [Column::text("acme"), Column::Null, Column::Null],
            };
            assert_eq!(columns[columns.len() - 3..], expected_columns);
            let back = OrderReport.row_from_columns("o-1".into(), columns).unwrap();
            assert_eq!(back, row);
        }
    }

    #[test]
    fn the_columns_added_in_version_2_come_last() {
        let names: Vec<&str> = TABLE.columns.iter().map(|c| c.name).collect();
        assert_eq!(names[names.len() - 3..], ["org", "decision", "decided_at"]);
        let nullable: Vec<bool> = TABLE.columns[names.len() - 3..]
            .iter()
            .map(|c| c.nullable)
            .collect();
        assert_eq!(nullable, [false, true, true]);
    }

    #[test]
    fn events_out_of_order_are_errors() {
        let approved = OrderEvent::OrderApproved(OrderApproved { note: None });
        assert!(fold(&[approved]).is_err());
        assert!(fold(&[submitted(), submitted()]).is_err());
    }
}
