//! The order queue: one row per order with what a queue screen needs — who, what,
//! which state since when, who works it, when it last moved. Behind
//! `GET /v1/orders`.

use jiff::Timestamp;
use pactum_events::order::{OrderEvent, OrderSource, OrderStatus, Visibility};

use crate::handling::HandlingRow;
use crate::projection::{
    ApplyError, Column, ColumnKind, ColumnSpec, Envelope, EventTypes, Projection, TableSpec,
};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueueRow {
    pub order_id: String,
    pub service: String,
    pub group: String,
    pub status: OrderStatus,
    pub org: String,
    pub customer_subject: String,
    pub assignee: Option<String>,
    pub title: Option<String>,
    pub created_at: Timestamp,
    /// The last event of any kind.
    pub last_activity_at: Timestamp,
    /// The last event a customer can see (internal comments excluded).
    pub last_public_activity_at: Timestamp,
    /// When the order entered its current status.
    pub status_since: Timestamp,
    /// While waiting for the customer: since when.
    pub waiting_since: Option<Timestamp>,
    pub version: u64,
    /// The order's handling clocks, when it was submitted under targets.
    pub handling: Option<HandlingRow>,
    /// Its reference in the system it came from (a JIRA ticket's key), copied
    /// from its source ([`OrderSource::reference`]).
    pub reference: Option<String>,
}

/// The sort value of an order without a running clock: after every deadline.
pub const NO_DEADLINE: i64 = i64::MAX;

const fn text(name: &'static str) -> ColumnSpec {
    ColumnSpec {
        name,
        kind: ColumnKind::Text,
        nullable: false,
    }
}

const fn int(name: &'static str) -> ColumnSpec {
    ColumnSpec {
        name,
        kind: ColumnKind::Integer,
        nullable: false,
    }
}

const fn nullable(mut spec: ColumnSpec) -> ColumnSpec {
    spec.nullable = true;
    spec
}

/// Columns after the key `order_id`; times are microseconds since the epoch.
pub static TABLE: TableSpec = TableSpec {
    key: "order_id",
    columns: &[
        text("service"),
        text("group_id"),
        text("status"),
        text("org"),
        text("customer_subject"),
        nullable(text("assignee")),
        nullable(text("title")),
        int("created_at"),
        int("last_activity_at"),
        int("last_public_activity_at"),
        int("status_since"),
        nullable(int("waiting_since")),
        int("version"),
        nullable(text("handling")),
        // The earliest running deadline ([`NO_DEADLINE`] if none), for `sort=due_at`.
        int("due_at"),
        nullable(int("next_alarm_at")),
        nullable(text("reference")),
    ],
    // Keyset pagination runs newest/oldest first on (created_at, order_id); each
    // index puts the equality filters a queue uses in front of that keyset, so a
    // page is one index range scan whatever the store's size.
    indexes: &[
        &["created_at", "order_id"],
        // Before the scopes' indexes: a reference names one order or a few, so
        // a shifter's or customer's search by it reads those and checks their
        // group or organisation (an index wins a tie by coming first).
        &["reference", "created_at", "order_id"],
        &["group_id", "created_at", "order_id"],
        &["group_id", "status", "created_at", "order_id"],
        &["group_id", "assignee", "created_at", "order_id"],
        &["org", "created_at", "order_id"],
        &["org", "status", "created_at", "order_id"],
        &["status", "created_at", "order_id"],
        &["service", "created_at", "order_id"],
        &["assignee", "created_at", "order_id"],
        // `sort=due_at`: a shifter's groups, and everything else through the
        // first; other filters are checked on the rows the range yields (each
        // index here costs every queue write).
        &["due_at", "order_id"],
        &["group_id", "due_at", "order_id"],
        // The handling timer's next instant.
        &["next_alarm_at", "order_id"],
    ],
};

pub struct OrderQueue;

impl OrderQueue {
    pub const NAME: &'static str = "order_queue";
}

fn micros(t: Timestamp) -> Column {
    Column::Int(t.as_microsecond())
}

impl Projection for OrderQueue {
    type Event = OrderEvent;
    type Row = QueueRow;

    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn version(&self) -> u32 {
        // 2: negotiation, provisioning, activation and closing events.
        // 3: handling clocks.
        // 4: imported JIRA history (`OrderStatusImported`) and the reference.
        4
    }

    fn event_types(&self) -> EventTypes {
        EventTypes::Only(&[
            "OrderSubmitted",
            "OrderAssigned",
            "CommentAdded",
            "QuestionAsked",
            "QuestionAnswered",
            "OrderApproved",
            "OrderRejected",
            "OrderCancelled",
            "ProposalMade",
            "ProposalAccepted",
            "ProposalDeclined",
            "ProvisioningPlanned",
            "ProvisioningStepDone",
            "ProvisioningStepFailed",
            "ProvisioningStepRetried",
            "OrderActivated",
            "OrderClosed",
            "HandlingTargetsPinned",
            "HandlingClockStarted",
            "HandlingClockPaused",
            "HandlingClockResumed",
            "HandlingClockStopped",
            "HandlingTargetAtRisk",
            "HandlingTargetBreached",
            "OrderStatusImported",
        ])
    }

    fn table(&self) -> &'static TableSpec {
        &TABLE
    }

    fn apply(
        &self,
        row: Option<QueueRow>,
        envelope: &Envelope,
        event: &OrderEvent,
    ) -> Result<Option<QueueRow>, ApplyError> {
        let at = envelope.recorded_at;
        let mut row = match (row, event) {
            (None, OrderEvent::OrderSubmitted(submitted)) => {
                return Ok(Some(QueueRow {
                    order_id: submitted.order_id.clone(),
                    service: submitted.service.clone(),
                    group: submitted.group.clone(),
                    status: OrderStatus::Submitted,
                    org: submitted.customer.org.clone(),
                    customer_subject: submitted.customer.subject.clone(),
                    assignee: None,
                    title: submitted.title.clone(),
                    created_at: submitted.submitted_at,
                    last_activity_at: submitted.submitted_at,
                    last_public_activity_at: submitted.submitted_at,
                    status_since: submitted.submitted_at,
                    waiting_since: None,
                    version: envelope.sequence,
                    handling: None,
                    reference: OrderSource::reference(&submitted.source),
                }));
            }
            (Some(_), OrderEvent::OrderSubmitted(_)) => {
                return Err(ApplyError(format!(
                    "order {} submitted twice (position {})",
                    envelope.aggregate_id, envelope.position
                )));
            }
            (Some(row), _) => row,
            (None, _) => {
                return Err(ApplyError(format!(
                    "{} for order {} before its submission (position {})",
                    envelope.event_type, envelope.aggregate_id, envelope.position
                )));
            }
        };
        let enter = |row: &mut QueueRow, status: OrderStatus| {
            if row.status != status {
                row.status = status;
                row.status_since = at;
            }
        };
        let mut public = true;
        let mut activity = true;
        match event {
            OrderEvent::OrderSubmitted(_) => unreachable!("handled above"),
            OrderEvent::OrderAssigned(assigned) => {
                row.assignee = Some(assigned.assignee.clone());
                if row.status == OrderStatus::Submitted {
                    enter(&mut row, OrderStatus::InReview);
                }
            }
            OrderEvent::CommentAdded(comment) => {
                public = comment.visibility == Visibility::Public;
            }
            OrderEvent::QuestionAsked(_) => {
                enter(&mut row, OrderStatus::WaitingForCustomer);
                row.waiting_since = Some(at);
            }
            OrderEvent::QuestionAnswered(_) => {
                enter(&mut row, OrderStatus::InReview);
                row.waiting_since = None;
            }
            OrderEvent::OrderApproved(_) => enter(&mut row, OrderStatus::Approved),
            OrderEvent::OrderRejected(_) => enter(&mut row, OrderStatus::Rejected),
            OrderEvent::OrderCancelled(_) => {
                enter(&mut row, OrderStatus::Cancelled);
                row.waiting_since = None;
            }
            OrderEvent::ProposalMade(_) => enter(&mut row, OrderStatus::Negotiating),
            OrderEvent::ProposalAccepted(_) | OrderEvent::ProposalDeclined(_) => {
                enter(&mut row, OrderStatus::InReview)
            }
            OrderEvent::ProvisioningPlanned(_) => enter(&mut row, OrderStatus::Provisioning),
            OrderEvent::ProvisioningStepDone(_)
            | OrderEvent::ProvisioningStepFailed(_)
            | OrderEvent::ProvisioningStepRetried(_) => {}
            OrderEvent::OrderActivated(_) => enter(&mut row, OrderStatus::Active),
            OrderEvent::OrderClosed(_) => enter(&mut row, OrderStatus::Closed),
            OrderEvent::OrderStatusImported(imported) => {
                enter(&mut row, imported.status);
                row.waiting_since =
                    (imported.status == OrderStatus::WaitingForCustomer).then_some(at);
            }
            OrderEvent::HandlingTargetsPinned(pinned) => {
                activity = false;
                row.handling = Some(HandlingRow::pinned(pinned));
            }
            OrderEvent::HandlingClockStarted(_)
            | OrderEvent::HandlingClockPaused(_)
            | OrderEvent::HandlingClockResumed(_)
            | OrderEvent::HandlingClockStopped(_)
            | OrderEvent::HandlingTargetAtRisk(_)
            | OrderEvent::HandlingTargetBreached(_) => {
                activity = false;
                let handling = row.handling.as_mut().ok_or_else(|| {
                    ApplyError(format!(
                        "{} for order {} without pinned targets (position {})",
                        envelope.event_type, envelope.aggregate_id, envelope.position
                    ))
                })?;
                handling.apply(event);
            }
        }
        if matches!(row.status, OrderStatus::Rejected | OrderStatus::Cancelled) {
            row.waiting_since = None;
        }
        row.version = envelope.sequence;
        if activity {
            row.last_activity_at = at;
            if public {
                row.last_public_activity_at = at;
            }
        }
        Ok(Some(row))
    }

    fn row_to_columns(&self, row: &QueueRow) -> Vec<Column> {
        vec![
            Column::text(&row.service),
            Column::text(&row.group),
            Column::text(row.status.as_str()),
            Column::text(&row.org),
            Column::text(&row.customer_subject),
            Column::opt_text(row.assignee.as_deref()),
            Column::opt_text(row.title.as_deref()),
            micros(row.created_at),
            micros(row.last_activity_at),
            micros(row.last_public_activity_at),
            micros(row.status_since),
            Column::opt_int(row.waiting_since.map(|t| t.as_microsecond())),
            Column::Int(row.version as i64),
            Column::opt_text(
                row.handling
                    .as_ref()
                    .map(|h| serde_json::to_string(h).expect("clocks serialize")),
            ),
            Column::Int(
                row.handling
                    .as_ref()
                    .and_then(HandlingRow::due_at)
                    .map_or(NO_DEADLINE, |t| t.as_microsecond()),
            ),
            Column::opt_int(
                row.handling
                    .as_ref()
                    .and_then(HandlingRow::next_alarm_at)
                    .map(|t| t.as_microsecond()),
            ),
            Column::opt_text(row.reference.as_deref()),
        ]
    }

    fn row_from_columns(&self, key: String, columns: Vec<Column>) -> Result<QueueRow, ApplyError> {
        let bad = |what: &str| ApplyError(format!("order_queue row {key}: bad {what}"));
        let mut it = columns.into_iter();
        let mut text = |what: &str| match it.next() {
            Some(Column::Text(v)) => Ok(Some(v)),
            Some(Column::Null) => Ok(None),
            _ => Err(bad(what)),
        };
        let service = text("service")?.ok_or_else(|| bad("service"))?;
        let group = text("group_id")?.ok_or_else(|| bad("group_id"))?;
        let status = text("status")?
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad("status"))?;
        let org = text("org")?.ok_or_else(|| bad("org"))?;
        let customer_subject = text("customer_subject")?.ok_or_else(|| bad("customer_subject"))?;
        let assignee = text("assignee")?;
        let title = text("title")?;
        let mut time = |what: &str| match it.next() {
            Some(Column::Int(us)) => Timestamp::from_microsecond(us)
                .map(Some)
                .map_err(|_| bad(what)),
            Some(Column::Null) => Ok(None),
            _ => Err(bad(what)),
        };
        let created_at = time("created_at")?.ok_or_else(|| bad("created_at"))?;
        let last_activity_at = time("last_activity_at")?.ok_or_else(|| bad("last_activity_at"))?;
        let last_public_activity_at =
            time("last_public_activity_at")?.ok_or_else(|| bad("last_public_activity_at"))?;
        let status_since = time("status_since")?.ok_or_else(|| bad("status_since"))?;
        let waiting_since = time("waiting_since")?;
        let version = match it.next() {
            Some(Column::Int(v)) if v >= 0 => v as u64,
            _ => return Err(bad("version")),
        };
        let handling = match it.next() {
            Some(Column::Text(json)) => {
                Some(serde_json::from_str(&json).map_err(|_| bad("handling"))?)
            }
            Some(Column::Null) => None,
            _ => return Err(bad("handling")),
        };
        // due_at and next_alarm_at follow from the clocks.
        let reference = match it.nth(2) {
            Some(Column::Text(reference)) => Some(reference),
            Some(Column::Null) => None,
            _ => return Err(bad("reference")),
        };
        Ok(QueueRow {
            order_id: key,
            service,
            group,
            status,
            org,
            customer_subject,
            assignee,
            title,
            created_at,
            last_activity_at,
            last_public_activity_at,
            status_since,
            waiting_since,
            version,
            handling,
            reference,
        })
    }
}

#[cfg(test)]
mod tests {
    //! The queue's fold, event by event, to the row a queue screen reads.

    use pactum_events::Actor;
    use pactum_events::order::*;

    use super::*;
    use pactum_events::EventPayload;

    fn at(minute: i64) -> Timestamp {
        Timestamp::from_second(1_772_355_600 + minute * 60).unwrap()
    }

    /// The envelope of the `sequence`-th event of order o-1, recorded at minute
    /// `sequence`.
    fn envelope(sequence: u64, event: &OrderEvent) -> Envelope {
        Envelope {
            position: 100 + sequence,
            aggregate_type: "order".into(),
            aggregate_id: "o-1".into(),
            sequence,
            event_type: event.event_type().into(),
            schema_version: 1,
            recorded_at: at(sequence as i64),
            actor: Actor {
                subject: "sam".into(),
                role: "shifter".into(),
                org: None,
            },
        }
    }

    fn submitted() -> OrderEvent {
        crate::test_events::submitted_at(at(0))
    }

    /// Folds `events` (sequence 1, 2, ...) from no row.
    fn fold(events: &[OrderEvent]) -> Result<Option<QueueRow>, ApplyError> {
        let mut row = None;
        for (index, event) in events.iter().enumerate() {
            row = OrderQueue.apply(row, &envelope(index as u64 + 1, event), event)?;
        }
        Ok(row)
    }

    #[test]
    fn a_reviewed_order_folds_to_its_queue_row() {
        let events = [
            submitted(),
            OrderEvent::OrderAssigned(OrderAssigned {
                assignee: "sam".into(),
                previous_assignee: None,
            }),
            OrderEvent::QuestionAsked(QuestionAsked {
                question_id: 1,
                body: "Which VO?".into(),
            }),
        ];
        let waiting = fold(&events).unwrap().unwrap();
        assert_eq!(waiting.status, OrderStatus::WaitingForCustomer);
        assert_eq!(waiting.assignee.as_deref(), Some("sam"));
        assert_eq!(waiting.waiting_since, Some(at(3)));
        assert_eq!((waiting.created_at, waiting.status_since), (at(0), at(3)));

        let mut more = events.to_vec();
        more.extend([
            OrderEvent::QuestionAnswered(QuestionAnswered {
                question_id: 1,
                body: "vo.acme".into(),
            }),
            // Internal: moves the staff's activity, not the customer's.
            OrderEvent::CommentAdded(CommentAdded {
                comment_id: 1,
                body: "quota ok".into(),
                visibility: Visibility::Internal,
                provider: None,
            }),
            OrderEvent::OrderApproved(OrderApproved { note: None }),
        ]);
        let approved = fold(&more).unwrap().unwrap();
        assert_eq!(approved.status, OrderStatus::Approved);
        assert_eq!(approved.status_since, at(6));
        assert_eq!(approved.waiting_since, None);
        assert_eq!(approved.version, 6);
        assert_eq!(approved.last_activity_at, at(6));
        // The answer at minute 4 then the approval at 6 are public; the comment
        // at 5 is not, and the approval after it moves the public time to 6.
        assert_eq!(approved.last_public_activity_at, at(6));
        more.truncate(5);
        let commented = fold(&more).unwrap().unwrap();
        assert_eq!(commented.last_activity_at, at(5));
        assert_eq!(commented.last_public_activity_at, at(4));
    }

    #[test]
    fn a_final_order_waits_for_nobody() {
        let events = [
            submitted(),
            OrderEvent::QuestionAsked(QuestionAsked {
                question_id: 1,
                body: "Which VO?".into(),
            }),
            OrderEvent::OrderCancelled(OrderCancelled { reason: None }),
        ];
        let row = fold(&events).unwrap().unwrap();
        assert_eq!(row.status, OrderStatus::Cancelled);
        assert_eq!(row.waiting_since, None);
    }

    #[test]
    fn imported_history_sets_the_status_as_jira_had_it() {
        let mut submitted = submitted();
        if let OrderEvent::OrderSubmitted(s) = &mut submitted {
            s.source = OrderSource::JiraImport {
                key: "EGISO-7".into(),
                raw: "x".into(),
                file: "export.json".into(),
            };
        }
        let imported = |status, question_id| {
            OrderEvent::OrderStatusImported(OrderStatusImported {
                status,
                jira_status: "x".into(),
                previous_jira_status: None,
                question_id,
            })
        };
        let events = [
            submitted,
            imported(OrderStatus::WaitingForCustomer, Some(1)),
            imported(OrderStatus::Closed, None),
            imported(OrderStatus::InReview, None),
        ];
        let waiting = fold(&events[..2]).unwrap().unwrap();
        assert_eq!(waiting.status, OrderStatus::WaitingForCustomer);
        assert_eq!(waiting.waiting_since, Some(at(2)));
        assert_eq!(waiting.reference.as_deref(), Some("EGISO-7"));
        // Closed straight from a wait, then reopened: what pactum would refuse.
        let closed = fold(&events[..3]).unwrap().unwrap();
        assert_eq!(
            (closed.status, closed.status_since),
            (OrderStatus::Closed, at(3))
        );
        assert_eq!(closed.waiting_since, None);
        let reopened = fold(&events).unwrap().unwrap();
        assert_eq!(reopened.status, OrderStatus::InReview);
        assert_eq!(reopened.handling, None);
        let columns = OrderQueue.row_to_columns(&reopened);
        assert_eq!(
            OrderQueue.row_from_columns("o-1".into(), columns).unwrap(),
            reopened
        );
    }

    #[test]
    fn a_row_survives_its_columns() {
        let row = fold(&[submitted()]).unwrap().unwrap();
        let columns = OrderQueue.row_to_columns(&row);
        assert_eq!(columns.len(), TABLE.columns.len());
        assert_eq!(
            OrderQueue.row_from_columns("o-1".into(), columns).unwrap(),
            row
        );
    }

    #[test]
    fn events_out_of_order_are_refused_not_folded() {
        let approved = OrderEvent::OrderApproved(OrderApproved { note: None });
        assert!(
            fold(std::slice::from_ref(&approved)).is_err(),
            "before submission"
        );
        assert!(
            fold(&[submitted(), submitted()]).is_err(),
            "submitted twice"
        );
    }
}
