//! Every agreement in one table: who it binds, its state, its validity. Behind
//! `GET /v1/agreements` and the expiry timer (active agreements by end date).

use jiff::Timestamp;
use pactum_events::agreement::AgreementEvent;

use crate::projection::{
    ApplyError, Column, ColumnKind, Envelope, EventTypes, Projection, TableSpec, column,
};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgreementRow {
    pub agreement_id: String,
    /// `sla` or `ola`.
    pub kind: String,
    pub org: String,
    pub group: String,
    pub provider: Option<String>,
    pub order_id: String,
    pub service: String,
    /// `active`, `terminated` or `expired`.
    pub status: String,
    pub version: u32,
    pub reference: String,
    /// `YYYY-MM-DD`.
    pub start: String,
    /// `YYYY-MM-DD`, the last day covered.
    pub end: String,
    pub issued_at: Timestamp,
    pub updated_at: Timestamp,
}

pub static TABLE: TableSpec = TableSpec {
    key: "agreement_id",
    columns: &[
        column("kind", ColumnKind::Text, false),
        column("org", ColumnKind::Text, false),
        column("group_id", ColumnKind::Text, false),
        column("provider", ColumnKind::Text, true),
        column("order_id", ColumnKind::Text, false),
        column("service", ColumnKind::Text, false),
        column("status", ColumnKind::Text, false),
        column("version", ColumnKind::Integer, false),
        column("reference", ColumnKind::Text, false),
        column("start_date", ColumnKind::Text, false),
        column("end_date", ColumnKind::Text, false),
        column("issued_at", ColumnKind::Integer, false),
        column("updated_at", ColumnKind::Integer, false),
    ],
    indexes: &[
        &["issued_at", "agreement_id"],
        &["org", "issued_at", "agreement_id"],
        &["org", "kind", "issued_at", "agreement_id"],
        &["provider", "issued_at", "agreement_id"],
        &["group_id", "issued_at", "agreement_id"],
        &["group_id", "kind", "issued_at", "agreement_id"],
        &["kind", "issued_at", "agreement_id"],
        &["order_id", "issued_at", "agreement_id"],
        &["status", "issued_at", "agreement_id"],
        // The expiry timer: the active agreements that end first.
        &["status", "end_date", "agreement_id"],
    ],
};

pub struct AgreementIndex;

impl AgreementIndex {
    pub const NAME: &'static str = "agreements";
}

impl Projection for AgreementIndex {
    type Event = AgreementEvent;
    type Row = AgreementRow;

    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn version(&self) -> u32 {
        1
    }

    fn event_types(&self) -> EventTypes {
        EventTypes::Only(&[
            "AgreementIssued",
            "AgreementAmended",
            "AgreementTerminated",
            "AgreementExpired",
        ])
    }

    fn table(&self) -> &'static TableSpec {
        &TABLE
    }

    fn apply(
        &self,
        row: Option<AgreementRow>,
        envelope: &Envelope,
        event: &AgreementEvent,
    ) -> Result<Option<AgreementRow>, ApplyError> {
        let at = envelope.recorded_at;
        if let AgreementEvent::AgreementIssued(issued) = event {
            let content = &issued.content;
            return Ok(Some(AgreementRow {
                agreement_id: issued.agreement_id.clone(),
                kind: content.kind.clone(),
                org: content.customer.org.clone(),
                group: content.service.group.clone(),
                provider: content.provider.as_ref().map(|p| p.id.clone()),
                order_id: content.order_id.clone(),
                service: content.service.id.clone(),
                status: "active".into(),
                version: 1,
                reference: content.reference.clone(),
                start: content.validity.start.to_string(),
                end: content.validity.end.to_string(),
                issued_at: at,
                updated_at: at,
            }));
        }
        let mut row = row.ok_or_else(|| {
            ApplyError(format!(
                "{} for agreement {} before its issue (position {})",
                envelope.event_type, envelope.aggregate_id, envelope.position
            ))
        })?;
        match event {
            AgreementEvent::AgreementIssued(_) => unreachable!("handled above"),
            AgreementEvent::AgreementAmended(amended) => {
                row.version = amended.version;
                if let Some(end) = amended.end {
                    row.end = end.to_string();
                }
            }
            AgreementEvent::AgreementTerminated(_) => row.status = "terminated".into(),
            AgreementEvent::AgreementExpired(_) => row.status = "expired".into(),
        }
        row.updated_at = at;
        Ok(Some(row))
    }

    fn row_to_columns(&self, row: &AgreementRow) -> Vec<Column> {
        vec![
            Column::text(&row.kind),
            Column::text(&row.org),
            Column::text(&row.group),
            Column::opt_text(row.provider.as_deref()),
            Column::text(&row.order_id),
            Column::text(&row.service),
            Column::text(&row.status),
            Column::Int(row.version as i64),
            Column::text(&row.reference),
            Column::text(&row.start),
            Column::text(&row.end),
            Column::Int(row.issued_at.as_microsecond()),
            Column::Int(row.updated_at.as_microsecond()),
        ]
    }

    fn row_from_columns(
        &self,
        key: String,
        columns: Vec<Column>,
    ) -> Result<AgreementRow, ApplyError> {
        let bad = || ApplyError(format!("agreements row {key}: unexpected columns"));
        let text = |c: &Column| c.as_text().map(str::to_owned).ok_or_else(bad);
        let int = |c: &Column| c.as_int().ok_or_else(bad);
        let time = |c: &Column| Timestamp::from_microsecond(int(c)?).map_err(|_| bad());
        let [
            kind,
            org,
            group,
            provider,
            order_id,
            service,
            status,
            version,
            reference,
            start,
            end,
            issued_at,
            updated_at,
        ] = columns.as_slice()
        else {
            return Err(bad());
        };
        Ok(AgreementRow {
            agreement_id: key.clone(),
            kind: text(kind)?,
            org: text(org)?,
            group: text(group)?,
            provider: match provider {
                Column::Null => None,
                other => Some(text(other)?),
            },
            order_id: text(order_id)?,
            service: text(service)?,
            status: text(status)?,
            version: int(version)? as u32,
            reference: text(reference)?,
            start: text(start)?,
            end: text(end)?,
            issued_at: time(issued_at)?,
            updated_at: time(updated_at)?,
        })
    }
}

#[cfg(test)]
mod tests {
    //! The agreement list's fold, from the golden fixtures of the agreement events.

    use pactum_events::Actor;

    use super::*;
    use pactum_events::EventPayload;

    fn event(event_type: &str) -> AgreementEvent {
        let text = match event_type {
            "AgreementIssued" => {
                include_str!("../../events/fixtures/agreement/AgreementIssued.v1.json")
            }
            "AgreementAmended" => {
                include_str!("../../events/fixtures/agreement/AgreementAmended.v1.json")
            }
            "AgreementTerminated" => {
                include_str!("../../events/fixtures/agreement/AgreementTerminated.v1.json")
            }
            _ => include_str!("../../events/fixtures/agreement/AgreementExpired.v1.json"),
        };
        AgreementEvent::decode_str(event_type, 1, text).unwrap()
    }

    fn envelope(sequence: u64, event_type: &str) -> Envelope {
        Envelope {
            position: 10 + sequence,
            aggregate_type: "agreement".into(),
            aggregate_id: "0190b7e4-0000-7000-8000-00000000000a".into(),
            sequence,
            event_type: event_type.into(),
            schema_version: 1,
            recorded_at: Timestamp::from_second(1_800_000_000 + sequence as i64).unwrap(),
            actor: Actor {
                subject: "pactum".into(),
                role: "system".into(),
                org: None,
            },
        }
    }

    fn fold(types: &[&str]) -> Result<Option<AgreementRow>, ApplyError> {
        let mut row = None;
        for (index, event_type) in types.iter().enumerate() {
            let envelope = envelope(index as u64 + 1, event_type);
            row = AgreementIndex.apply(row, &envelope, &event(event_type))?;
        }
        Ok(row)
    }

    #[test]
    fn an_issued_sla_is_active_then_amended_then_terminated() {
        let issued = fold(&["AgreementIssued"]).unwrap().unwrap();
        assert_eq!(
            (
                issued.kind.as_str(),
                issued.org.as_str(),
                issued.group.as_str()
            ),
            ("sla", "acme", "compute")
        );
        assert_eq!((issued.status.as_str(), issued.version), ("active", 1));
        assert_eq!(
            (issued.start.as_str(), issued.end.as_str()),
            ("2027-01-04", "2027-04-03")
        );
        assert_eq!(issued.provider, None);

        let amended = fold(&["AgreementIssued", "AgreementAmended"])
            .unwrap()
            .unwrap();
        assert_eq!((amended.version, amended.end.as_str()), (2, "2027-06-30"));
        assert_eq!(amended.issued_at, issued.issued_at);
        assert!(amended.updated_at > issued.updated_at);

        let ended = fold(&["AgreementIssued", "AgreementAmended", "AgreementTerminated"])
            .unwrap()
            .unwrap();
        assert_eq!(ended.status, "terminated");
        let expired = fold(&["AgreementIssued", "AgreementExpired"])
            .unwrap()
            .unwrap();
        assert_eq!(expired.status, "expired");
    }

    #[test]
    fn a_row_survives_its_columns_and_nothing_comes_before_the_issue() {
        let row = fold(&["AgreementIssued", "AgreementAmended"])
            .unwrap()
            .unwrap();
        let columns = AgreementIndex.row_to_columns(&row);
        assert_eq!(columns.len(), TABLE.columns.len());
        assert_eq!(
            AgreementIndex
                .row_from_columns(row.agreement_id.clone(), columns)
                .unwrap(),
            row
        );
        assert!(fold(&["AgreementTerminated"]).is_err());
    }
}
