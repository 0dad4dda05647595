//! `GET /v1/orders`: the queue, read from the `order_queue` projection.
//!
//! Cost is O(page), whatever the number of orders: every filter combination that
//! a queue uses maps to an index whose leading columns are the equality filters,
//! followed by the keyset `(created_at, order_id)`; a page is one range scan of
//! that index (`INDEXED BY`, so the plan does not depend on statistics), cut off
//! by `LIMIT`. Multi-valued filters (a shifter's several groups, several statuses)
//! become one such scan per value, merged here. No OFFSET, no sort of the matches.

use std::collections::BTreeSet;

use jiff::Timestamp;
use pactum_events::order::OrderStatus;
use pactum_projections::order_queue::{OrderQueue, QueueRow};
use pactum_projections::projection::Projection;
use serde::Serialize;
use sqlx::Arguments;
use sqlx::sqlite::SqliteArguments;

use crate::access::{Principal, Role};
use crate::app::App;
use crate::projector::tables;

/// Newest or oldest first, by submission time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Sort {
    #[default]
    Newest,
    Oldest,
}

/// Where a page starts: after this (created_at, order id) in the sort order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cursor {
    pub sort: Sort,
    pub created_at_us: i64,
    pub order_id: String,
}

impl Cursor {
    /// Opaque to clients: they send back what they were given.
    pub fn encode(&self) -> String {
        let sort = match self.sort {
            Sort::Newest => "n",
            Sort::Oldest => "o",
        };
        hex::encode(format!(
            "v1|{sort}|{}|{}",
            self.created_at_us, self.order_id
        ))
    }

    pub fn decode(text: &str) -> Option<Self> {
        let raw = String::from_utf8(hex::decode(text).ok()?).ok()?;
        let mut parts = raw.splitn(4, '|');
        let (Some("v1"), Some(sort), Some(at), Some(id)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        Some(Self {
            sort: match sort {
                "n" => Sort::Newest,
                "o" => Sort::Oldest,
                _ => return None,
            },
            created_at_us: at.parse().ok()?,
            order_id: id.to_owned(),
        })
    }
}

/// The filters of a queue request, as the caller asked.
#[derive(Clone, Debug, Default)]
pub struct QueueQuery {
    pub statuses: Vec<OrderStatus>,
    pub service: Option<String>,
    pub group: Option<String>,
    pub assignee: Option<String>,
    /// The customer organisation.
    pub customer: Option<String>,
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
    #[error("the cursor was made for the other sort order")]
    CursorMismatch,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Row(#[from] pactum_projections::projection::ApplyError),
}

/// One index range scan: equality filters in column order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scan {
    pub equals: Vec<(&'static str, String)>,
}

/// The scans that together answer `query` for `principal`: their union, in
/// keyset order, is the queue. An empty list means nothing is visible.
pub fn scans(principal: &Principal, query: &QueueQuery) -> Result<Vec<Scan>, QueueError> {
    let mut fixed: Vec<(&'static str, String)> = Vec::new();
    let groups: Vec<Option<String>> = match &principal.role {
        Role::Customer { org } => {
            if query.customer.as_ref().is_some_and(|c| c != org) {
                return Ok(Vec::new());
            }
            fixed.push(("org", org.clone()));
            vec![query.group.clone()]
        }
        Role::Shifter { groups } => {
            let visible: BTreeSet<&String> = match &query.group {
                Some(group) => groups.iter().filter(|g| *g == group).collect(),
                None => groups.iter().collect(),
            };
            visible.into_iter().map(|g| Some(g.clone())).collect()
        }
        Role::Auditor | Role::Admin | Role::System => vec![query.group.clone()],
        Role::Provider { .. } => return Err(QueueError::Forbidden),
    };
    if !matches!(principal.role, Role::Customer { .. })
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
    Ok(scans)
}

/// The index a scan uses: the one whose columns before the keyset are all
/// equality-filtered, covering as many filters as possible. Filters it does not
/// cover are checked on the rows the range yields.
pub fn index_for(scan: &Scan) -> usize {
    let filtered: BTreeSet<&str> = scan.equals.iter().map(|(c, _)| *c).collect();
    OrderQueue
        .table()
        .indexes
        .iter()
        .enumerate()
        .filter_map(|(n, columns)| {
            let prefix: Vec<&str> = columns
                .iter()
                .copied()
                .take_while(|c| *c != "created_at")
                .collect();
            prefix
                .iter()
                .all(|c| filtered.contains(c))
                .then_some((prefix.len(), std::cmp::Reverse(n)))
        })
        .max()
        .map(|(_, std::cmp::Reverse(n))| n)
        .expect("the (created_at, order_id) index serves every scan")
}

/// The SQL and arguments of one scan of one page.
pub fn scan_sql<'q>(
    table: &str,
    scan: &'q Scan,
    cursor: Option<&'q Cursor>,
    sort: Sort,
    limit: u32,
) -> (String, SqliteArguments<'q>) {
    let spec = OrderQueue.table();
    let index = tables::index_name(table, index_for(scan));
    let mut args = SqliteArguments::default();
    let mut conditions = Vec::new();
    for (column, value) in &scan.equals {
        conditions.push(format!("{column} = ?"));
        args.add(value.as_str()).expect("binds a string");
    }
    let (direction, compare) = match sort {
        Sort::Newest => ("DESC", "<"),
        Sort::Oldest => ("ASC", ">"),
    };
    if let Some(cursor) = cursor {
        conditions.push(format!("(created_at, order_id) {compare} (?, ?)"));
        args.add(cursor.created_at_us).expect("binds an integer");
        args.add(cursor.order_id.as_str()).expect("binds a string");
    }
    let columns = std::iter::once(spec.key)
        .chain(spec.columns.iter().map(|c| c.name))
        .collect::<Vec<_>>()
        .join(", ");
    let filter = if conditions.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", conditions.join(" AND "))
    };
    let sql = format!(
        "SELECT {columns} FROM {table} INDEXED BY {index}{filter} \
         ORDER BY created_at {direction}, order_id {direction} LIMIT {limit}"
    );
    (sql, args)
}

/// A page of the queue, as `principal` may see it.
pub async fn list(
    app: &App,
    principal: &Principal,
    query: &QueueQuery,
) -> Result<QueuePage, QueueError> {
    if query.cursor.as_ref().is_some_and(|c| c.sort != query.sort) {
        return Err(QueueError::CursorMismatch);
    }
    let scans = scans(principal, query)?;
    let live = app
        .projections
        .order_queue
        .current()
        .ok_or(QueueError::NotReady)?;
    let spec = OrderQueue.table();
    let mut rows: Vec<QueueRow> = Vec::new();
    // One more than a page tells whether there is a next one.
    let fetch = query.limit + 1;
    for scan in &scans {
        let (sql, args) = scan_sql(&live.table, scan, query.cursor.as_ref(), query.sort, fetch);
        for row in sqlx::query_with(&sql, args)
            .fetch_all(app.store.reader())
            .await?
        {
            let (key, columns) = tables::row_columns(spec, &row)?;
            rows.push(OrderQueue.row_from_columns(key, columns)?);
        }
    }
    rows.sort_by(|a, b| {
        let order = (a.created_at, &a.order_id).cmp(&(b.created_at, &b.order_id));
        match query.sort {
            Sort::Newest => order.reverse(),
            Sort::Oldest => order,
        }
    });
    rows.dedup_by(|a, b| a.order_id == b.order_id);
    let next_cursor = (rows.len() > query.limit as usize).then(|| {
        let last = &rows[query.limit as usize - 1];
        Cursor {
            sort: query.sort,
            created_at_us: last.created_at.as_microsecond(),
            order_id: last.order_id.clone(),
        }
        .encode()
    });
    rows.truncate(query.limit as usize);
    let customer_view = matches!(principal.role, Role::Customer { .. });
    let orders = rows
        .into_iter()
        .map(|row| QueueItem {
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
        })
        .collect();
    Ok(QueuePage {
        orders,
        next_cursor,
        position: live.checkpoint,
    })
}

#[cfg(test)]
#[path = "queue_tests.rs"]
mod tests;
