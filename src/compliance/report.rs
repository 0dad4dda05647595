//! What a compliance view shows: per agreement, each day's and the month's
//! service levels against the targets in force, and the month's usage against
//! commitment. `GET /v1/agreements/{id}/compliance` answers one
//! [`AgreementCompliance`]; `GET /v1/reports/compliance` a [`ComplianceReport`]
//! (also as CSV, and as a PDF rendered by typst).

use jiff::civil::Date;
use serde::{Deserialize, Serialize};

/// Service levels of one period (a day or a month), in percent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PeriodLevels {
    /// `YYYY-MM-DD` for a day, `YYYY-MM` for a month.
    pub period: String,
    /// up / (period − unknown), percent, 5 decimals; null when nothing was known.
    pub availability: Option<f64>,
    /// up / (period − unknown − downtime), percent, 5 decimals; null when undefined.
    pub reliability: Option<f64>,
    /// Share of the period with UNKNOWN or MISSING status, percent.
    pub unknown_pct: f64,
    /// Share of the period in scheduled DOWNTIME, percent.
    pub downtime_pct: f64,
    /// The targets of the agreement version in force (for a month: on its last
    /// covered day).
    pub target_availability: f64,
    pub target_reliability: f64,
    /// Whether availability met its target; null when undefined.
    pub availability_met: Option<bool>,
    /// Whether reliability met its target; null when undefined.
    pub reliability_met: Option<bool>,
    /// Where the figures come from: `measured` (status transitions),
    /// `imported` (ARGO's daily figures), or `none`.
    pub source: String,
}

/// Usage against commitment over a month.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Usage {
    /// `YYYY-MM`.
    pub period: String,
    /// Core-hours of the accounting records matched to the agreement.
    pub used_core_hours: f64,
    /// Cores × instances × hours of validity in the month.
    pub committed_core_hours: f64,
    /// used / committed, percent; null with nothing committed.
    pub used_pct: Option<f64>,
    /// `under` (below 50 % of commitment), `over` (above 100 %), or `within`.
    pub flag: String,
    /// How many records were matched.
    pub records: u64,
}

impl From<&Usage> for pactum_events::monitoring::MonthUsage {
    fn from(usage: &Usage) -> Self {
        Self {
            used_core_hours: usage.used_core_hours,
            committed_core_hours: usage.committed_core_hours,
            used_pct: usage.used_pct,
            flag: usage.flag.clone(),
            records: usage.records,
        }
    }
}

/// One agreement's compliance over a range of days.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AgreementCompliance {
    pub agreement_id: String,
    /// e.g. `SLA-01J9Z3AB`.
    pub reference: String,
    /// `sla` or `ola`.
    pub kind: String,
    /// The customer organisation.
    pub org: String,
    /// The provider, for an OLA.
    pub provider: Option<String>,
    /// The service's name as the agreement states it.
    pub service: String,
    /// The time zone its days and months are counted in.
    pub time_zone: String,
    /// The monitored endpoints and how they combine (`all` or `any`).
    pub endpoints: Vec<String>,
    pub combine: String,
    /// Each day (granularity `daily`), oldest first.
    pub days: Vec<PeriodLevels>,
    /// Each month touched by the range, oldest first.
    pub months: Vec<PeriodLevels>,
    /// Usage per month touched by the range.
    pub usage: Vec<Usage>,
}

/// Every agreement's compliance over one month.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ComplianceReport {
    /// `YYYY-MM`.
    pub period: String,
    /// The last log position the report reflects.
    pub position: i64,
    pub agreements: Vec<AgreementCompliance>,
}

/// The years figures are computed for.
pub const YEARS: std::ops::RangeInclusive<i16> = 1970..=2199;

/// Whether `day` is within [`YEARS`].
pub fn in_range(day: Date) -> bool {
    YEARS.contains(&day.year())
}

/// The days of `period` (`YYYY-MM`), or why it is not a month.
pub fn month_days(period: &str) -> Result<(Date, Date), String> {
    let bad = || format!("{period:?} is not a month: YYYY-MM");
    let (y, m) = period.split_once('-').ok_or_else(bad)?;
    if y.len() != 4 || m.len() != 2 {
        return Err(bad());
    }
    let y: i16 = y.parse().map_err(|_| bad())?;
    let m: i8 = m.parse().map_err(|_| bad())?;
    let first = Date::new(y, m, 1).map_err(|_| bad())?;
    if !YEARS.contains(&y) {
        return Err(format!(
            "{period:?} is out of range: years {} to {}",
            YEARS.start(),
            YEARS.end()
        ));
    }
    Ok((first, first.last_of_month()))
}

fn cell(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

fn opt<T: ToString>(value: Option<T>) -> String {
    value.map(|v| v.to_string()).unwrap_or_default()
}

/// The report as CSV: one row per agreement and month, then one per day;
/// empty cells where a figure is undefined.
pub fn to_csv(report: &ComplianceReport) -> String {
    let mut out = String::from(
        "agreement_id,reference,kind,org,provider,service,period,availability,reliability,\
         unknown_pct,downtime_pct,target_availability,target_reliability,availability_met,\
         reliability_met,used_core_hours,committed_core_hours,usage_flag\r\n",
    );
    for a in &report.agreements {
        let rows = a.months.iter().chain(a.days.iter());
        for p in rows {
            let usage = a.usage.iter().find(|u| p.period.starts_with(&u.period));
            let monthly = p.period.len() == 7;
            let fields = [
                cell(&a.agreement_id),
                cell(&a.reference),
                cell(&a.kind),
                cell(&a.org),
                cell(a.provider.as_deref().unwrap_or("")),
                cell(&a.service),
                cell(&p.period),
                opt(p.availability),
                opt(p.reliability),
                p.unknown_pct.to_string(),
                p.downtime_pct.to_string(),
                p.target_availability.to_string(),
                p.target_reliability.to_string(),
                opt(p.availability_met),
                opt(p.reliability_met),
                opt(usage.filter(|_| monthly).map(|u| u.used_core_hours)),
                opt(usage.filter(|_| monthly).map(|u| u.committed_core_hours)),
                usage
                    .filter(|_| monthly)
                    .map(|u| u.flag.clone())
                    .unwrap_or_default(),
            ];
            out.push_str(&fields.join(","));
            out.push_str("\r\n");
        }
    }
    out
}
