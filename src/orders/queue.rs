//! `GET /v1/orders`: the queue, read from the `order_queue` projection.
//!
//! Who sees what becomes a set of equality-filter scans ([`scans`]); paging them
//! at O(page) is [`crate::projector::listing`]'s job: every filter combination a
//! queue uses maps to an index whose leading columns are the filters, followed by
//! the keyset `(created_at, order_id)`.

use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;
use pactum_events::order::OrderStatus;
use pactum_projections::handling::HandlingView;
use pactum_projections::order_queue::{NO_DEADLINE, OrderQueue, QueueRow};
use pactum_projections::projection::Projection;
use serde::Serialize;

use crate::access::{Principal, policy};
use crate::handling;
use crate::projector::ProjectionHandle;
pub use crate::projector::listing::{Cursor, ListError, Listing, Scan, Sort};
use crate::store::{EventStore, StoreError};
use pactum_projections::audience::Audience;

/// The queue: `order_queue` rows, newest or oldest first by submission time.
pub const QUEUE: Listing = Listing {
    spec: &pactum_projections::order_queue::TABLE,
    sort_column: "created_at",
};

/// The queue soonest due first (`sort=due_at`): the earliest deadline of a
/// running handling clock; orders without one come last, oldest first.
pub const QUEUE_BY_DUE: Listing = Listing {
    spec: &pactum_projections::order_queue::TABLE,
    sort_column: "due_at",
};

/// The filters of a queue request, as the caller asked.
#[derive(Clone, Debug, Default)]
pub struct QueueQuery {
    pub statuses: Vec<OrderStatus>,
    pub service: Option<String>,
    pub group: Option<String>,
    pub assignee: Option<String>,
    /// The customer organisation.
    pub customer: Option<String>,
    /// The order's reference in the system it came from (a JIRA ticket's key).
    pub reference: Option<String>,
    pub cursor: Option<Cursor>,
    pub limit: u32,
    pub sort: Sort,
}

/// One row of the queue as the API shows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct QueueItem {
    pub id: String,
    pub service: String,
    pub group: String,
    pub status: OrderStatus,
    pub customer: pactum_events::order::Customer,
    pub assignee: Option<String>,
    pub title: Option<String>,
    pub created_at: Timestamp,
    pub last_activity_at: Timestamp,
    pub status_since: Timestamp,
    /// Set while the order waits for the customer's answer.
    pub waiting_since: Option<Timestamp>,
    pub version: u64,
    /// Its reference in the system it came from (a JIRA ticket's key).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// The earliest deadline of a running handling clock (staff only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub due_at: Option<Timestamp>,
    /// The handling clocks now: remaining business time, due-at, warning and
    /// breached flags (staff only; absent for orders without targets).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub handling: Option<HandlingView>,
}

#[derive(Clone, Debug, Serialize)]
pub struct QueuePage {
    pub orders: Vec<QueueItem>,
    pub next_cursor: Option<String>,
    /// Every event up to this global position is reflected in this page.
    pub position: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("providers see provisioning steps and agreements, not the order queue")]
    Forbidden,
    #[error("the order queue is not built yet; retry shortly")]
    NotReady,
    #[error(transparent)]
    List(#[from] ListError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The scans that together answer `query` for `principal`: their union, in
/// keyset order, is the queue. An empty list means nothing is visible.
pub fn scans(principal: &Principal, query: &QueueQuery) -> Result<Vec<Scan>, QueueError> {
    // What the caller's roles pin, whatever it asks (`access::policy`): the
    // union of each role's scope.
    let scopes = policy::order_queue_scopes(principal);
    if scopes.is_empty() {
        return Err(QueueError::Forbidden);
    }
    Ok(scopes
        .iter()
        .flat_map(|scope| scans_within(scope, query))
        .collect())
}

/// The scans of `query` within one role's scope.
fn scans_within(scope: &policy::ListScope, query: &QueueQuery) -> Vec<Scan> {
    let mut fixed: Vec<(&'static str, String)> = Vec::new();
    if let Some(org) = &scope.org {
        if query.customer.as_ref().is_some_and(|c| c != org) {
            return Vec::new();
        }
        fixed.push(("org", org.clone()));
    }
    let groups: Vec<Option<String>> = match &scope.groups {
        Some(groups) => {
            let visible: BTreeSet<&String> = match &query.group {
                Some(group) => groups.iter().filter(|g| *g == group).collect(),
                None => groups.iter().collect(),
            };
            visible.into_iter().map(|g| Some(g.clone())).collect()
        }
        None => vec![query.group.clone()],
    };
    if scope.org.is_none()
        && let Some(customer) = &query.customer
    {
        fixed.push(("org", customer.clone()));
    }
    if let Some(service) = &query.service {
        fixed.push(("service", service.clone()));
    }
    if let Some(assignee) = &query.assignee {
        fixed.push(("assignee", assignee.clone()));
    }
    if let Some(reference) = &query.reference {
        fixed.push(("reference", reference.clone()));
    }
    let statuses: Vec<Option<OrderStatus>> = if query.statuses.is_empty() {
        vec![None]
    } else {
        query
            .statuses
            .iter()
            .copied()
            .map(Some)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect()
    };
    let mut scans = Vec::new();
    for group in &groups {
        for status in &statuses {
            let mut equals = fixed.clone();
            if let Some(group) = group {
                equals.push(("group_id", group.clone()));
            }
            if let Some(status) = status {
                equals.push(("status", status.as_str().to_owned()));
            }
            scans.push(Scan { equals });
        }
    }
    scans
}

/// A page of the queue (read from the `order_queue` projection, `index`), as
/// `principal` may see it at `now`.
pub async fn list(
    store: &EventStore,
    index: &ProjectionHandle,
    principal: &Principal,
    query: &QueueQuery,
    now: Timestamp,
) -> Result<QueuePage, QueueError> {
    let scans = scans(principal, query)?;
    let live = index.current().ok_or(QueueError::NotReady)?;
    let (listing, sort_key): (Listing, SortKey) = match query.sort {
        Sort::Due => (QUEUE_BY_DUE, |row| (due_key(row), row.order_id.as_str())),
        _ => (QUEUE, |row| {
            (row.created_at.as_microsecond(), row.order_id.as_str())
        }),
    };
    let page = listing
        .page(
            store,
            &live.table,
            &scans,
            query.cursor.as_ref(),
            query.sort,
            query.limit,
            |key, columns| OrderQueue.row_from_columns(key, columns),
            sort_key,
        )
        .await?;
    let customer_view = principal.audience() == Audience::Customer;
    let mut calendars = BTreeMap::new();
    if !customer_view {
        for handling in page.rows.iter().filter_map(|row| row.handling.as_ref()) {
            let pin = (handling.key.clone(), handling.version);
            if !calendars.contains_key(&pin)
                && let Some(defined) = handling::version(store, &pin.0, pin.1).await?
            {
                calendars.insert(pin, defined.calendar);
            }
        }
    }
    let orders = page
        .rows
        .into_iter()
        .map(|row| {
            let handling = row.handling.as_ref().and_then(|handling| {
                let calendar = calendars.get(&(handling.key.clone(), handling.version))?;
                Some(handling.view(calendar, now))
            });
            (row, handling)
        })
        .map(|(row, handling)| QueueItem {
            id: row.order_id,
            service: row.service,
            group: row.group,
            status: row.status,
            customer: pactum_events::order::Customer {
                org: row.org,
                subject: row.customer_subject,
            },
            assignee: row.assignee,
            title: row.title,
            created_at: row.created_at,
            // Customers do not learn when staff talked among themselves.
            last_activity_at: if customer_view {
                row.last_public_activity_at
            } else {
                row.last_activity_at
            },
            status_since: row.status_since,
            waiting_since: row.waiting_since,
            version: row.version,
            reference: row.reference,
            due_at: handling.as_ref().and_then(|h| h.due_at),
            handling,
        })
        .collect();
    Ok(QueuePage {
        orders,
        next_cursor: page.next.map(|c| c.encode()),
        position: live.checkpoint,
    })
}

/// A row's place in a listing: (sort value, key).
type SortKey = fn(&QueueRow) -> (i64, &str);

/// A row's place in `sort=due_at`: its stored `due_at` column.
fn due_key(row: &QueueRow) -> i64 {
    row.handling
        .as_ref()
        .and_then(|h| h.due_at())
        .map_or(NO_DEADLINE, |t| t.as_microsecond())
}

#[cfg(test)]
#[path = "queue_tests.rs"]
mod tests;
