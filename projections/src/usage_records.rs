//! One row per site (an `accounting` aggregate) with the latest usage record
//! of each virtual machine: a later record of the same `vm_uuid` supersedes an
//! earlier one, as it does where usage is counted against commitment. Read by
//! reporting jobs.
//!
//! The records are one JSON array, sorted by `vm_uuid`, each record as
//! `UsageRecorded` stores it.

use std::collections::BTreeMap;

use jiff::Timestamp;
use pactum_events::monitoring::{AccountingEvent, UsageRecord};

use crate::projection::{
    ApplyError, Column, ColumnKind, Envelope, EventTypes, Projection, TableSpec, column,
};

#[derive(Clone, Debug, PartialEq)]
pub struct SiteUsageRow {
    /// The site's name (APEL `SiteName`): the `accounting` aggregate's id.
    pub site: String,
    /// The latest record of each VM, by `vm_uuid`.
    pub records: Vec<UsageRecord>,
    /// When the last records arrived.
    pub updated_at: Timestamp,
}

pub static TABLE: TableSpec = TableSpec {
    key: "site",
    columns: &[
        column("records", ColumnKind::Text, false),
        column("updated_at", ColumnKind::Integer, false),
    ],
    indexes: &[],
};

pub struct UsageRecords;

impl UsageRecords {
    pub const NAME: &'static str = "usage_records";
}

impl Projection for UsageRecords {
    type Event = AccountingEvent;
    type Row = SiteUsageRow;

    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn version(&self) -> u32 {
        1
    }

    fn event_types(&self) -> EventTypes {
        EventTypes::Only(&["UsageRecorded"])
    }

    fn table(&self) -> &'static TableSpec {
        &TABLE
    }

    fn apply(
        &self,
        row: Option<SiteUsageRow>,
        envelope: &Envelope,
        event: &AccountingEvent,
    ) -> Result<Option<SiteUsageRow>, ApplyError> {
        let AccountingEvent::UsageRecorded(recorded) = event;
        let earlier = row.map(|r| r.records).unwrap_or_default();
        // Later records (in the log, then in the event) supersede earlier ones.
        let by_vm: BTreeMap<&str, &UsageRecord> = earlier
            .iter()
            .chain(&recorded.records)
            .map(|r| (r.vm_uuid.as_str(), r))
            .collect();
        Ok(Some(SiteUsageRow {
            site: envelope.aggregate_id.clone(),
            records: by_vm.into_values().cloned().collect(),
            updated_at: envelope.recorded_at,
        }))
    }

    fn row_to_columns(&self, row: &SiteUsageRow) -> Vec<Column> {
        vec![
            Column::Text(serde_json::to_string(&row.records).expect("records serialise")),
            Column::Int(row.updated_at.as_microsecond()),
        ]
    }

    fn row_from_columns(
        &self,
        key: String,
        columns: Vec<Column>,
    ) -> Result<SiteUsageRow, ApplyError> {
        let bad = |why: String| ApplyError(format!("usage_records row {key}: {why}"));
        let [Column::Text(records), Column::Int(updated_at)] = columns.as_slice() else {
            return Err(bad("unexpected columns".into()));
        };
        Ok(SiteUsageRow {
            records: serde_json::from_str(records).map_err(|e| bad(format!("records: {e}")))?,
            updated_at: Timestamp::from_microsecond(*updated_at)
                .map_err(|e| bad(format!("updated_at: {e}")))?,
            site: key,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pactum_events::EventPayload;
    use pactum_events::monitoring::UsageRecorded;
    use serde_json::json;

    fn at(position: u64) -> Timestamp {
        "2026-04-01T00:00:00Z".parse::<Timestamp>().unwrap()
            + jiff::SignedDuration::from_hours(position as i64)
    }

    fn envelope(position: u64, event: &AccountingEvent) -> Envelope {
        Envelope {
            position,
            aggregate_type: "accounting".into(),
            aggregate_id: "CESNET-MCC".into(),
            sequence: position,
            event_type: event.event_type().into(),
            schema_version: 1,
            recorded_at: at(position),
            actor: pactum_events::Actor {
                subject: "apel".into(),
                role: "monitoring".into(),
                org: None,
            },
        }
    }

    fn record(vm_uuid: &str, wall_seconds: u64) -> UsageRecord {
        UsageRecord {
            vm_uuid: vm_uuid.into(),
            site: "CESNET-MCC".into(),
            local_group: Some("vo.alpha.eu".into()),
            fqan: None,
            status: "started".into(),
            start: "2026-03-01T00:00:00Z".parse().unwrap(),
            end: None,
            wall_seconds,
            cpu_seconds: None,
            cpu_count: 4,
            memory_mb: Some(8192),
            disk_gb: None,
        }
    }

    fn recorded(records: Vec<UsageRecord>) -> AccountingEvent {
        AccountingEvent::UsageRecorded(UsageRecorded { records })
    }

    fn fold(events: &[AccountingEvent]) -> SiteUsageRow {
        let mut row = None;
        for (n, event) in events.iter().enumerate() {
            let envelope = envelope(n as u64 + 1, event);
            assert_eq!(UsageRecords.key(&envelope, event), "CESNET-MCC");
            row = UsageRecords.apply(row, &envelope, event).unwrap();
        }
        row.unwrap()
    }

    #[test]
    fn a_later_record_of_a_vm_supersedes_the_earlier_one() {
        let row = fold(&[
            recorded(vec![record("vm-b", 3600), record("vm-a", 3600)]),
            recorded(vec![
                record("vm-c", 60),
                record("vm-a", 7200),
                record("vm-c", 120),
            ]),
        ]);
        assert_eq!(row.site, "CESNET-MCC");
        let latest: Vec<(&str, u64)> = row
            .records
            .iter()
            .map(|r| (r.vm_uuid.as_str(), r.wall_seconds))
            .collect();
        assert_eq!(latest, [("vm-a", 7200), ("vm-b", 3600), ("vm-c", 120)]);
        assert_eq!(row.updated_at, at(2));
    }

    #[test]
    fn rows_round_trip_through_their_columns() {
        let mut finished = record("vm-b", 86_400);
        finished.status = "completed".into();
        finished.end = Some("2026-03-02T00:00:00Z".parse().unwrap());
        finished.cpu_seconds = Some(80_000);
        let row = fold(&[recorded(vec![record("vm-a", 3600), finished])]);
        let columns = UsageRecords.row_to_columns(&row);
        assert_eq!(columns.len(), TABLE.columns.len());
        assert_eq!(columns[1], Column::Int(at(1).as_microsecond()));
        let Column::Text(records) = &columns[0] else {
            panic!("records are text");
        };
        // Each record as the event stores it.
        let records: serde_json::Value = serde_json::from_str(records).unwrap();
        assert_eq!(
            records,
            json!([
                {"vm_uuid": "vm-a", "site": "CESNET-MCC", "local_group": "vo.alpha.eu",
                 "status": "started", "start": "2026-03-01T00:00:00Z", "wall_seconds": 3600,
                 "cpu_count": 4, "memory_mb": 8192},
                {"vm_uuid": "vm-b", "site": "CESNET-MCC", "local_group": "vo.alpha.eu",
                 "status": "completed", "start": "2026-03-01T00:00:00Z",
                 "end": "2026-03-02T00:00:00Z", "wall_seconds": 86400, "cpu_seconds": 80000,
                 "cpu_count": 4, "memory_mb": 8192},
            ])
        );
        let back = UsageRecords
            .row_from_columns("CESNET-MCC".into(), columns)
            .unwrap();
        assert_eq!(back, row);
        assert!(
            UsageRecords
                .row_from_columns("CESNET-MCC".into(), vec![Column::text("[]")])
                .is_err()
        );
    }
}
