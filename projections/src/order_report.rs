//! One row per order with what `GET /v1/reports/orders` counts: its service and
//! group, when it was submitted, whether it was ever approved, rejected or
//! cancelled, and for each handling clock that reached what it measures, the
//! business time it counted and whether that was within target (copied from
//! `HandlingClockStopped`, never recomputed).

use jiff::Timestamp;
use pactum_events::order::{HandlingClock, OrderEvent};

use crate::projection::{
    ApplyError, Column, ColumnKind, ColumnSpec, Envelope, EventTypes, Projection, TableSpec,
};

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReportRow {
    pub order_id: String,
    pub service: String,
    pub group: String,
    pub submitted_at: Timestamp,
    pub approved: bool,
    pub rejected: bool,
    pub cancelled: bool,
    /// Business seconds to the first response, and whether within target.
    pub first_response: Option<Measured>,
    pub decision: Option<Measured>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Measured {
    pub seconds: i64,
    pub within_target: bool,
}

const fn column(name: &'static str, kind: ColumnKind, nullable: bool) -> ColumnSpec {
    ColumnSpec {
        name,
        kind,
        nullable,
    }
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
        1
    }

    fn event_types(&self) -> EventTypes {
        EventTypes::Only(&[
            "OrderSubmitted",
            "OrderApproved",
            "OrderRejected",
            "OrderCancelled",
            "HandlingClockStopped",
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
        match event {
            OrderEvent::OrderApproved(_) => row.approved = true,
            OrderEvent::OrderRejected(_) => row.rejected = true,
            OrderEvent::OrderCancelled(_) => row.cancelled = true,
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
        columns
    }

    fn row_from_columns(&self, key: String, columns: Vec<Column>) -> Result<ReportRow, ApplyError> {
        let bad = || ApplyError(format!("order_report row {key}: unexpected columns"));
        let text = |c: &Column| match c {
            Column::Text(v) => Ok(v.clone()),
            _ => Err(bad()),
        };
        let int = |c: &Column| match c {
            Column::Int(v) => Ok(*v),
            _ => Err(bad()),
        };
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
        ] = columns.as_slice()
        else {
            return Err(bad());
        };
        Ok(ReportRow {
            order_id: key.clone(),
            service: text(service)?,
            group: text(group)?,
            submitted_at: Timestamp::from_microsecond(int(submitted_at)?).map_err(|_| bad())?,
            approved: int(approved)? != 0,
            rejected: int(rejected)? != 0,
            cancelled: int(cancelled)? != 0,
            first_response: measured(fr_seconds, fr_within)?,
            decision: measured(decision_seconds, decision_within)?,
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
            recorded_at: "2026-11-27T16:30:00Z".parse().unwrap(),
            actor: pactum_events::Actor {
                subject: "sam".into(),
                role: "shifter".into(),
                org: None,
            },
        }
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
    fn events_out_of_order_are_errors() {
        let approved = OrderEvent::OrderApproved(OrderApproved { note: None });
        assert!(fold(&[approved]).is_err());
        assert!(fold(&[submitted(), submitted()]).is_err());
    }
}
