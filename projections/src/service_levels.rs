//! One row per agreement and closed month with its service levels as last
//! recorded: the figures, targets and verdict of `ServiceLevelMeasured`, each
//! day's figures and the month's usage, updated by every
//! `ServiceLevelCorrected` (copied from the events, never recomputed). Read by
//! reporting jobs.
//!
//! Percentages are stored as text, written by Rust's `f64::to_string` (the
//! shortest text that reads back as the same number; SQL `CAST` parses it).

use jiff::Timestamp;
use pactum_events::monitoring::{
    ComplianceEvent, DayLevels, MeasuredTargets, MonthFigures, MonthUsage,
};

use crate::projection::{
    ApplyError, Column, ColumnKind, Envelope, EventTypes, Projection, TableSpec, column,
};

#[derive(Clone, Debug, PartialEq)]
pub struct ServiceLevelRow {
    pub agreement_id: String,
    /// `YYYY-MM`.
    pub month: String,
    /// As measured, or as the last correction made them.
    pub figures: MonthFigures,
    pub targets: MeasuredTargets,
    pub met: bool,
    /// How many corrections were applied.
    pub corrections: i64,
    /// Each day, oldest first: as measured, or as the last correction that
    /// carried days made them (empty for months measured before days were
    /// recorded).
    pub days: Vec<DayLevels>,
    /// The month's usage, as measured or as the last correction that carried
    /// usage made it.
    pub usage: Option<MonthUsage>,
    /// When the month was measured.
    pub measured_at: Timestamp,
    /// When the last event changed it.
    pub updated_at: Timestamp,
}

pub static TABLE: TableSpec = TableSpec {
    // `{agreement_id}/{month}`.
    key: "agreement_month",
    columns: &[
        column("agreement_id", ColumnKind::Text, false),
        column("month", ColumnKind::Text, false),
        column("availability", ColumnKind::Text, true),
        column("reliability", ColumnKind::Text, true),
        column("unknown_pct", ColumnKind::Text, false),
        column("downtime_pct", ColumnKind::Text, false),
        column("target_availability", ColumnKind::Text, false),
        column("target_reliability", ColumnKind::Text, false),
        column("met", ColumnKind::Integer, false),
        column("corrections", ColumnKind::Integer, false),
        column("days", ColumnKind::Text, false),
        column("used_core_hours", ColumnKind::Text, true),
        column("committed_core_hours", ColumnKind::Text, true),
        column("used_pct", ColumnKind::Text, true),
        column("usage_flag", ColumnKind::Text, true),
        column("usage_records", ColumnKind::Integer, true),
        column("measured_at", ColumnKind::Integer, false),
        column("updated_at", ColumnKind::Integer, false),
    ],
    // An agreement's months; every agreement's figures of a month.
    indexes: &[&["agreement_id", "month"], &["month", "agreement_id"]],
};

pub struct ServiceLevels;

impl ServiceLevels {
    pub const NAME: &'static str = "service_levels";
}

fn month_of(event: &ComplianceEvent) -> Option<&str> {
    match event {
        ComplianceEvent::ServiceLevelMeasured(measured) => Some(&measured.month),
        ComplianceEvent::ServiceLevelCorrected(corrected) => Some(&corrected.month),
        ComplianceEvent::MonitoringBound(_) | ComplianceEvent::ServiceLevelMissed(_) => None,
    }
}

impl Projection for ServiceLevels {
    type Event = ComplianceEvent;
    type Row = ServiceLevelRow;

    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn version(&self) -> u32 {
        1
    }

    fn event_types(&self) -> EventTypes {
        EventTypes::Only(&["ServiceLevelMeasured", "ServiceLevelCorrected"])
    }

    fn table(&self) -> &'static TableSpec {
        &TABLE
    }

    /// `{agreement_id}/{month}`: a `compliance` aggregate's id is its
    /// agreement's.
    fn key(&self, envelope: &Envelope, event: &ComplianceEvent) -> String {
        let month = month_of(event).unwrap_or_default();
        format!("{}/{month}", envelope.aggregate_id)
    }

    fn apply(
        &self,
        row: Option<ServiceLevelRow>,
        envelope: &Envelope,
        event: &ComplianceEvent,
    ) -> Result<Option<ServiceLevelRow>, ApplyError> {
        let at = envelope.recorded_at;
        match event {
            ComplianceEvent::ServiceLevelMeasured(measured) => {
                if row.is_some() {
                    return Err(ApplyError(format!(
                        "month {} of agreement {} measured twice (position {})",
                        measured.month, envelope.aggregate_id, envelope.position
                    )));
                }
                Ok(Some(ServiceLevelRow {
                    agreement_id: envelope.aggregate_id.clone(),
                    month: measured.month.clone(),
                    figures: measured.figures.clone(),
                    targets: measured.targets.clone(),
                    met: measured.met,
                    corrections: 0,
                    days: measured.days.clone(),
                    usage: measured.usage.clone(),
                    measured_at: at,
                    updated_at: at,
                }))
            }
            ComplianceEvent::ServiceLevelCorrected(corrected) => {
                let mut row = row.ok_or_else(|| {
                    ApplyError(format!(
                        "month {} of agreement {} corrected before it was measured (position {})",
                        corrected.month, envelope.aggregate_id, envelope.position
                    ))
                })?;
                row.figures = corrected.new.clone();
                row.met = corrected.met;
                if !corrected.days.is_empty() {
                    row.days = corrected.days.clone();
                }
                if let Some(usage) = &corrected.usage {
                    row.usage = Some(usage.clone());
                }
                row.corrections += 1;
                row.updated_at = at;
                Ok(Some(row))
            }
            ComplianceEvent::MonitoringBound(_) | ComplianceEvent::ServiceLevelMissed(_) => Ok(row),
        }
    }

    fn row_to_columns(&self, row: &ServiceLevelRow) -> Vec<Column> {
        let number = |x: f64| Column::text(x.to_string());
        let opt_number = |x: Option<f64>| Column::opt_text(x.map(|x| x.to_string()));
        let usage = row.usage.as_ref();
        vec![
            Column::text(&row.agreement_id),
            Column::text(&row.month),
            opt_number(row.figures.availability),
            opt_number(row.figures.reliability),
            number(row.figures.unknown_pct),
            number(row.figures.downtime_pct),
            number(row.targets.availability_pct),
            number(row.targets.reliability_pct),
            Column::Int(i64::from(row.met)),
            Column::Int(row.corrections),
            Column::Text(serde_json::to_string(&row.days).expect("days serialise")),
            opt_number(usage.map(|u| u.used_core_hours)),
            opt_number(usage.map(|u| u.committed_core_hours)),
            opt_number(usage.and_then(|u| u.used_pct)),
            Column::opt_text(usage.map(|u| u.flag.as_str())),
            Column::opt_int(usage.map(|u| u.records as i64)),
            Column::Int(row.measured_at.as_microsecond()),
            Column::Int(row.updated_at.as_microsecond()),
        ]
    }

    fn row_from_columns(
        &self,
        key: String,
        columns: Vec<Column>,
    ) -> Result<ServiceLevelRow, ApplyError> {
        let bad = || ApplyError(format!("service_levels row {key}: unexpected columns"));
        let text = |c: &Column| c.as_text().map(str::to_owned).ok_or_else(bad);
        let int = |c: &Column| c.as_int().ok_or_else(bad);
        let number = |c: &Column| text(c)?.parse::<f64>().map_err(|_| bad());
        let opt_number = |c: &Column| match c {
            Column::Null => Ok(None),
            c => number(c).map(Some),
        };
        let timestamp = |c: &Column| Timestamp::from_microsecond(int(c)?).map_err(|_| bad());
        let [
            agreement_id,
            month,
            availability,
            reliability,
            unknown_pct,
            downtime_pct,
            target_availability,
            target_reliability,
            met,
            corrections,
            days,
            used_core_hours,
            committed_core_hours,
            used_pct,
            usage_flag,
            usage_records,
            measured_at,
            updated_at,
        ] = columns.as_slice()
        else {
            return Err(bad());
        };
        let usage = match usage_flag {
            Column::Null => None,
            flag => Some(MonthUsage {
                used_core_hours: number(used_core_hours)?,
                committed_core_hours: number(committed_core_hours)?,
                used_pct: opt_number(used_pct)?,
                flag: text(flag)?,
                records: u64::try_from(int(usage_records)?).map_err(|_| bad())?,
            }),
        };
        Ok(ServiceLevelRow {
            agreement_id: text(agreement_id)?,
            month: text(month)?,
            figures: MonthFigures {
                availability: opt_number(availability)?,
                reliability: opt_number(reliability)?,
                unknown_pct: number(unknown_pct)?,
                downtime_pct: number(downtime_pct)?,
            },
            targets: MeasuredTargets {
                availability_pct: number(target_availability)?,
                reliability_pct: number(target_reliability)?,
            },
            met: int(met)? != 0,
            corrections: int(corrections)?,
            days: serde_json::from_str(&text(days)?)
                .map_err(|e| ApplyError(format!("service_levels row {key}: days: {e}")))?,
            usage,
            measured_at: timestamp(measured_at)?,
            updated_at: timestamp(updated_at)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pactum_events::EventPayload;
    use pactum_events::monitoring::{ServiceLevelCorrected, ServiceLevelMeasured};
    use serde_json::json;

    fn at(position: u64) -> Timestamp {
        "2026-04-01T00:00:00Z".parse::<Timestamp>().unwrap()
            + jiff::SignedDuration::from_hours(position as i64)
    }

    fn envelope(position: u64, event: &ComplianceEvent) -> Envelope {
        Envelope {
            position,
            aggregate_type: "compliance".into(),
            aggregate_id: "agr-1".into(),
            sequence: position,
            event_type: event.event_type().into(),
            schema_version: 1,
            recorded_at: at(position),
            actor: pactum_events::Actor {
                subject: "pactum-timer".into(),
                role: "system".into(),
                org: None,
            },
        }
    }

    fn figures(availability: Option<f64>) -> MonthFigures {
        MonthFigures {
            availability,
            reliability: availability.map(|a| a + 0.5),
            unknown_pct: 1.25,
            downtime_pct: 0.0,
        }
    }

    fn day(day: &str, availability: Option<f64>) -> DayLevels {
        DayLevels {
            day: day.parse().unwrap(),
            availability,
            reliability: availability,
            unknown_pct: if availability.is_some() { 0.0 } else { 100.0 },
            downtime_pct: 0.0,
        }
    }

    fn usage(used: f64) -> MonthUsage {
        MonthUsage {
            used_core_hours: used,
            committed_core_hours: 2976.0,
            used_pct: Some((used / 2976.0 * 10_000.0).round() / 100.0),
            flag: "under".into(),
            records: 2,
        }
    }

    fn measured(month: &str) -> ComplianceEvent {
        ComplianceEvent::ServiceLevelMeasured(ServiceLevelMeasured {
            month: month.into(),
            figures: figures(Some(79.5)),
            targets: MeasuredTargets {
                availability_pct: 80.0,
                reliability_pct: 85.0,
            },
            met: false,
            days: vec![
                day("2026-03-01", Some(99.5)),
                day("2026-03-02", Some(0.1 + 0.2)),
            ],
            usage: Some(usage(1234.5)),
        })
    }

    fn corrected(month: &str, days: Vec<DayLevels>, usage: Option<MonthUsage>) -> ComplianceEvent {
        ComplianceEvent::ServiceLevelCorrected(ServiceLevelCorrected {
            month: month.into(),
            old: figures(Some(79.5)),
            new: figures(Some(81.0)),
            met: true,
            days,
            usage,
        })
    }

    fn fold(events: &[ComplianceEvent]) -> Result<Option<ServiceLevelRow>, ApplyError> {
        let mut row = None;
        for (n, event) in events.iter().enumerate() {
            let envelope = envelope(n as u64 + 1, event);
            assert_eq!(ServiceLevels.key(&envelope, event), "agr-1/2026-03");
            row = ServiceLevels.apply(row, &envelope, event)?;
        }
        Ok(row)
    }

    fn round_trip(row: &ServiceLevelRow) {
        let columns = ServiceLevels.row_to_columns(row);
        assert_eq!(columns.len(), TABLE.columns.len());
        let back = ServiceLevels
            .row_from_columns(format!("{}/{}", row.agreement_id, row.month), columns)
            .unwrap();
        assert_eq!(&back, row);
    }

    #[test]
    fn a_measured_month_is_one_row_with_its_days_and_usage() {
        let row = fold(&[measured("2026-03")]).unwrap().unwrap();
        assert_eq!(
            (row.agreement_id.as_str(), row.month.as_str()),
            ("agr-1", "2026-03")
        );
        assert_eq!(row.figures, figures(Some(79.5)));
        assert!(!row.met);
        assert_eq!(row.corrections, 0);
        assert_eq!(row.days.len(), 2);
        assert_eq!(row.usage, Some(usage(1234.5)));
        assert_eq!((row.measured_at, row.updated_at), (at(1), at(1)));
        round_trip(&row);

        let columns = ServiceLevels.row_to_columns(&row);
        let column = |name: &str| {
            let i = TABLE.columns.iter().position(|c| c.name == name).unwrap();
            columns[i].clone()
        };
        assert_eq!(column("availability"), Column::text("79.5"));
        assert_eq!(column("target_availability"), Column::text("80"));
        assert_eq!(column("met"), Column::Int(0));
        assert_eq!(column("usage_flag"), Column::text("under"));
        assert_eq!(column("usage_records"), Column::Int(2));
        assert_eq!(column("measured_at"), Column::Int(at(1).as_microsecond()));
        let Column::Text(days) = column("days") else {
            panic!("days are text");
        };
        let days: serde_json::Value = serde_json::from_str(&days).unwrap();
        assert_eq!(
            days,
            json!([
                {"day": "2026-03-01", "availability": 99.5, "reliability": 99.5,
                 "unknown_pct": 0.0, "downtime_pct": 0.0},
                {"day": "2026-03-02", "availability": 0.30000000000000004,
                 "reliability": 0.30000000000000004, "unknown_pct": 0.0, "downtime_pct": 0.0},
            ])
        );
    }

    #[test]
    fn corrections_update_the_figures_and_what_they_carry() {
        let new_days = vec![day("2026-03-01", Some(100.0)), day("2026-03-02", None)];
        let row = fold(&[
            measured("2026-03"),
            corrected("2026-03", new_days.clone(), Some(usage(1500.0))),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(row.figures, figures(Some(81.0)));
        assert!(row.met);
        assert_eq!(row.corrections, 1);
        assert_eq!(row.days, new_days);
        assert_eq!(row.usage, Some(usage(1500.0)));
        assert_eq!((row.measured_at, row.updated_at), (at(1), at(2)));
        round_trip(&row);

        // A correction recorded before days and usage were keeps the measured ones.
        let row = fold(&[measured("2026-03"), corrected("2026-03", Vec::new(), None)])
            .unwrap()
            .unwrap();
        assert_eq!(row.corrections, 1);
        assert_eq!(row.figures, figures(Some(81.0)));
        assert_eq!(row.days.len(), 2);
        assert_eq!(row.days[0].availability, Some(99.5));
        assert_eq!(row.usage, Some(usage(1234.5)));
    }

    #[test]
    fn a_month_measured_before_days_and_usage_has_none() {
        let ComplianceEvent::ServiceLevelMeasured(mut old) = measured("2026-03") else {
            unreachable!()
        };
        old.days.clear();
        old.usage = None;
        old.figures = figures(None);
        let row = fold(&[ComplianceEvent::ServiceLevelMeasured(old)])
            .unwrap()
            .unwrap();
        let columns = ServiceLevels.row_to_columns(&row);
        let names: Vec<&str> = TABLE.columns.iter().map(|c| c.name).collect();
        for (name, value) in names.iter().zip(&columns) {
            match *name {
                "availability"
                | "reliability"
                | "used_core_hours"
                | "committed_core_hours"
                | "used_pct"
                | "usage_flag"
                | "usage_records" => {
                    assert_eq!(value, &Column::Null, "{name}")
                }
                "days" => assert_eq!(value, &Column::text("[]")),
                _ => assert_ne!(value, &Column::Null, "{name}"),
            }
        }
        round_trip(&row);
    }

    #[test]
    fn nullable_columns_are_the_ones_declared() {
        let row = fold(&[measured("2026-03")]).unwrap().unwrap();
        let mut bare = row.clone();
        bare.figures = figures(None);
        bare.usage = None;
        for row in [row, bare] {
            for (spec, value) in TABLE.columns.iter().zip(ServiceLevels.row_to_columns(&row)) {
                assert!(spec.nullable || value != Column::Null, "{}", spec.name);
            }
        }
    }

    #[test]
    fn events_out_of_order_are_errors() {
        assert!(fold(&[corrected("2026-03", Vec::new(), None)]).is_err());
        assert!(fold(&[measured("2026-03"), measured("2026-03")]).is_err());
    }
}
