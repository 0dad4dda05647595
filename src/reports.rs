//! `GET /v1/reports/orders`: per service and group, the orders submitted in a
//! period, their outcomes, and how fast they were handled in business time —
//! read only from the `order_report` projection, so recomputing it from history
//! (`pactum replay`) gives the same numbers.
//!
//! Definitions:
//! - an order counts in the period it was **submitted** in, `[from, to)`;
//!   `approved`, `rejected`, `cancelled` count orders that ever were (an
//!   approved order cancelled later counts in both);
//! - times are the business time a handling clock counted when it stopped
//!   because what it measures happened (`HandlingClockStopped` with `reached`);
//!   orders without targets, and clocks still running or stopped by a
//!   cancellation, are not `measured`;
//! - `within_target` is the clock's own verdict, copied from the event: the
//!   business time counted was strictly less than the target;
//! - `median_seconds`: the middle value, or the mean of the two middle values
//!   (rounded down) for an even count; `p90_seconds`: nearest rank, the
//!   ⌈0.9·n⌉-th smallest; `within_target_percent`: 100 · within / measured,
//!   rounded to one decimal. All `null` when nothing was measured.

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::Timestamp;
use pactum_projections::order_report::{Measured, OrderReport, ReportRow, TABLE};
use pactum_projections::projection::Projection;
use serde::Serialize;

use crate::access::Principal;
use crate::access::policy::{self, ReportScope};
use crate::app::App;
use crate::projector::tables;

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("order reports are for shifters, auditors and admins")]
    Forbidden,
    #[error("the order report has not caught up with the log yet; retry shortly")]
    NotReady,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error("stored report row unreadable: {0}")]
    Row(String),
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OrdersReport {
    pub from: Timestamp,
    pub to: Timestamp,
    pub rows: Vec<ReportLine>,
}

/// One service of one group.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReportLine {
    pub service: String,
    pub group: String,
    pub submitted: u64,
    pub approved: u64,
    pub rejected: u64,
    pub cancelled: u64,
    pub first_response: ClockStats,
    pub decision: ClockStats,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ClockStats {
    pub measured: u64,
    pub median_seconds: Option<i64>,
    pub p90_seconds: Option<i64>,
    pub within_target: u64,
    pub within_target_percent: Option<f64>,
}

impl ClockStats {
    pub fn of(measured: &[Measured]) -> Self {
        let mut seconds: Vec<i64> = measured.iter().map(|m| m.seconds).collect();
        seconds.sort_unstable();
        let within = measured.iter().filter(|m| m.within_target).count() as u64;
        let n = seconds.len();
        Self {
            measured: n as u64,
            median_seconds: median(&seconds),
            p90_seconds: (n > 0).then(|| seconds[(9 * n).div_ceil(10) - 1]),
            within_target: within,
            within_target_percent: (n > 0)
                .then(|| (1000.0 * within as f64 / n as f64).round() / 10.0),
        }
    }
}

/// The middle of sorted values; the mean of the two middle ones, rounded down.
fn median(sorted: &[i64]) -> Option<i64> {
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(sorted[n / 2]),
        _ => Some((sorted[n / 2 - 1] + sorted[n / 2]).div_euclid(2)),
    }
}

/// The report of orders submitted in `[from, to)`, as `principal` may read it.
pub async fn orders(
    app: &App,
    principal: &Principal,
    from: Timestamp,
    to: Timestamp,
) -> Result<OrdersReport, ReportError> {
    let groups = match policy::order_report_scope(principal) {
        ReportScope::None => return Err(ReportError::Forbidden),
        ReportScope::All => None,
        ReportScope::Groups(groups) => Some(groups),
    };
    let handle = &app.projections.order_report;
    // Everything committed before the request counts: an older view would give
    // results missing what the caller just committed, so none is served.
    let live = handle
        .wait_for(app.store.head(), Duration::from_secs(5))
        .await
        .ok_or(ReportError::NotReady)?;
    let hint = tables::index_hint(app.store.dialect(), &live.table, 0);
    let columns = std::iter::once(TABLE.key)
        .chain(TABLE.columns.iter().map(|c| c.name))
        .collect::<Vec<_>>()
        .join(", ");
    let rows = sqlx::query(&format!(
        "SELECT {columns} FROM {}{hint} WHERE submitted_at >= $1 AND submitted_at < $2",
        live.table
    ))
    .bind(from.as_microsecond())
    .bind(to.as_microsecond())
    .fetch_all(app.store.reader())
    .await?;
    let mut lines: BTreeMap<(String, String), Vec<ReportRow>> = BTreeMap::new();
    for row in rows {
        let (key, columns) = tables::row_columns(&TABLE, &row)?;
        let row = OrderReport
            .row_from_columns(key, columns)
            .map_err(|e| ReportError::Row(e.0))?;
        if groups.as_ref().is_some_and(|g| !g.contains(&row.group)) {
            continue;
        }
        lines
            .entry((row.group.clone(), row.service.clone()))
            .or_default()
            .push(row);
    }
    Ok(OrdersReport {
        from,
        to,
        rows: lines
            .into_iter()
            .map(|((group, service), orders)| line(group, service, &orders))
            .collect(),
    })
}

fn line(group: String, service: String, orders: &[ReportRow]) -> ReportLine {
    let count = |f: fn(&ReportRow) -> bool| orders.iter().filter(|o| f(o)).count() as u64;
    let first: Vec<Measured> = orders.iter().filter_map(|o| o.first_response).collect();
    let decision: Vec<Measured> = orders.iter().filter_map(|o| o.decision).collect();
    ReportLine {
        service,
        group,
        submitted: orders.len() as u64,
        approved: count(|o| o.approved),
        rejected: count(|o| o.rejected),
        cancelled: count(|o| o.cancelled),
        first_response: ClockStats::of(&first),
        decision: ClockStats::of(&decision),
    }
}

/// The CSV header of [`to_csv`].
pub const CSV_HEADER: [&str; 14] = [
    "service",
    "group",
    "submitted",
    "approved",
    "rejected",
    "cancelled",
    "first_response_measured",
    "first_response_median_seconds",
    "first_response_p90_seconds",
    "first_response_within_target_percent",
    "decision_measured",
    "decision_median_seconds",
    "decision_p90_seconds",
    "decision_within_target_percent",
];

/// The report as CSV: one line per row, empty cells for `null`.
pub fn to_csv(report: &OrdersReport) -> String {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(CSV_HEADER).expect("writes to memory");
    let opt = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_default();
    let pct = |v: Option<f64>| v.map(|v| format!("{v:.1}")).unwrap_or_default();
    for row in &report.rows {
        writer
            .write_record([
                row.service.clone(),
                row.group.clone(),
                row.submitted.to_string(),
                row.approved.to_string(),
                row.rejected.to_string(),
                row.cancelled.to_string(),
                row.first_response.measured.to_string(),
                opt(row.first_response.median_seconds),
                opt(row.first_response.p90_seconds),
                pct(row.first_response.within_target_percent),
                row.decision.measured.to_string(),
                opt(row.decision.median_seconds),
                opt(row.decision.p90_seconds),
                pct(row.decision.within_target_percent),
            ])
            .expect("writes to memory");
    }
    String::from_utf8(writer.into_inner().expect("flushes to memory")).expect("UTF-8")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn measured(seconds: &[i64]) -> Vec<Measured> {
        seconds
            .iter()
            .map(|&seconds| Measured {
                seconds,
                within_target: seconds <= 100,
            })
            .collect()
    }

    #[test]
    fn medians_of_odd_and_even_counts() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[7]), Some(7));
        assert_eq!(median(&[1, 5, 9]), Some(5));
        assert_eq!(median(&[1, 4]), Some(2));
        assert_eq!(median(&[10, 20, 30, 40]), Some(25));
    }

    #[test]
    fn p90_is_the_nearest_rank() {
        // n = 10: the 9th smallest; n = 11: ⌈9.9⌉ = the 10th; n = 1: the only one.
        let ten: Vec<i64> = (1..=10).map(|s| s * 10).collect();
        assert_eq!(ClockStats::of(&measured(&ten)).p90_seconds, Some(90));
        let eleven: Vec<i64> = (1..=11).map(|s| s * 10).collect();
        assert_eq!(ClockStats::of(&measured(&eleven)).p90_seconds, Some(100));
        assert_eq!(ClockStats::of(&measured(&[42])).p90_seconds, Some(42));
    }

    #[test]
    fn within_target_percent_is_rounded_to_one_decimal() {
        let stats = ClockStats::of(&measured(&[50, 60, 500]));
        assert_eq!(stats.within_target, 2);
        assert_eq!(stats.within_target_percent, Some(66.7));
        let none = ClockStats::of(&[]);
        assert_eq!(
            (
                none.measured,
                none.median_seconds,
                none.within_target_percent
            ),
            (0, None, None)
        );
    }

    #[test]
    fn percentages_round_half_away_from_zero() {
        // 1/8 = 12.5 %; 1/3 = 33.33… %; 5/6 = 83.33… %; 7/8 = 87.5 %.
        let percent = |within: usize, n: usize| {
            let seconds: Vec<i64> = (0..n as i64)
                .map(|i| if (i as usize) < within { 1 } else { 1000 })
                .collect();
            ClockStats::of(&measured(&seconds)).within_target_percent
        };
        assert_eq!(percent(1, 8), Some(12.5));
        // 1/16 = 6.25 %: the half rounds up.
        assert_eq!(percent(1, 16), Some(6.3));
        assert_eq!(percent(1, 3), Some(33.3));
        assert_eq!(percent(5, 6), Some(83.3));
        assert_eq!(percent(7, 8), Some(87.5));
        assert_eq!(percent(0, 2), Some(0.0));
        assert_eq!(percent(2, 2), Some(100.0));
    }

    #[test]
    fn csv_leaves_unmeasured_cells_empty() {
        let report = OrdersReport {
            from: "2026-06-01T00:00:00Z".parse().unwrap(),
            to: "2026-06-02T00:00:00Z".parse().unwrap(),
            rows: vec![ReportLine {
                service: "cloud-compute".into(),
                group: "compute".into(),
                submitted: 2,
                approved: 0,
                rejected: 0,
                cancelled: 1,
                first_response: ClockStats::of(&measured(&[30, 90])),
                decision: ClockStats::of(&[]),
            }],
        };
        assert_eq!(
            to_csv(&report),
            format!(
                "{}\ncloud-compute,compute,2,0,0,1,2,60,90,100.0,0,,,\n",
                CSV_HEADER.join(",")
            )
        );
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(
            json["rows"][0]["decision"],
            serde_json::json!({"measured": 0, "median_seconds": null, "p90_seconds": null,
                               "within_target": 0, "within_target_percent": null})
        );
    }
}
