//! Events of service-level compliance (ADR 0016), on three aggregates:
//!
//! - `endpoint` (id: the endpoint's name): what monitoring said of one
//!   monitored endpoint — who it belongs to and whether it sends heartbeats
//!   ([`EndpointDeclared`]), the status points that change what is known of
//!   it ([`EndpointStatusRecorded`]: repeated results are not recorded), and
//!   ARGO's daily figures pulled from its web API ([`DailyLevelsImported`]).
//! - `compliance` (id: the agreement's id): which endpoints deliver an
//!   agreement ([`MonitoringBound`]), and each closed month's figures
//!   ([`ServiceLevelMeasured`], [`ServiceLevelMissed`], and
//!   [`ServiceLevelCorrected`] when data arrived after the month was closed).
//! - `accounting` (id: the site's name): usage records accepted
//!   ([`UsageRecorded`]).
//!
//! Statuses are ARGO's words: `OK`, `WARNING`, `CRITICAL`, `UNKNOWN`,
//! `MISSING`, `DOWNTIME`.

use jiff::Timestamp;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use crate::EventPayload;

/// An endpoint that sends heartbeats: silence beyond `interval + grace`
/// seconds since the last beat turns it `CRITICAL`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Heartbeat {
    pub interval_seconds: u32,
    pub grace_seconds: u32,
}

/// An endpoint was declared, or its declaration changed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointDeclared {
    pub endpoint: String,
    /// The provider whose endpoint it is: its operators may push for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heartbeat: Option<Heartbeat>,
}

/// A status from an instant on, until the next point.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusPoint {
    pub at: Timestamp,
    pub status: String,
}

/// Status points of one endpoint that change what is known of it: a change of
/// status, or the last result of a run (so that a result arriving late, inside
/// the run, holds only until the run's next known result).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointStatusRecorded {
    /// `push` (probe results), `heartbeat` (a beat, or the silence after one).
    pub source: String,
    pub points: Vec<StatusPoint>,
}

/// One day's figures as ARGO computed them, in percent (`None`: undefined).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ImportedDay {
    pub day: Date,
    pub availability: Option<f64>,
    pub reliability: Option<f64>,
    /// Fractions of the day, 0 to 1.
    pub unknown: f64,
    pub downtime: f64,
}

/// ARGO's daily availability and reliability of an endpoint, pulled from its
/// web API; a day with imported figures takes them over any computed from
/// status points.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DailyLevelsImported {
    /// The ARGO report they come from.
    pub report: String,
    pub days: Vec<ImportedDay>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum EndpointEvent {
    EndpointDeclared(EndpointDeclared),
    EndpointStatusRecorded(EndpointStatusRecorded),
    DailyLevelsImported(DailyLevelsImported),
}

impl EventPayload for EndpointEvent {
    const AGGREGATE_TYPE: &'static str = "endpoint";

    fn event_type(&self) -> &'static str {
        match self {
            Self::EndpointDeclared(_) => "EndpointDeclared",
            Self::EndpointStatusRecorded(_) => "EndpointStatusRecorded",
            Self::DailyLevelsImported(_) => "DailyLevelsImported",
        }
    }

    fn current_version(event_type: &str) -> Option<u32> {
        match event_type {
            "EndpointDeclared" | "EndpointStatusRecorded" | "DailyLevelsImported" => Some(1),
            _ => None,
        }
    }
}

/// How usage records are matched to an agreement.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountingMatch {
    /// APEL `SiteName`s that deliver it.
    pub sites: Vec<String>,
    /// APEL `LocalGroupId`s or `FQAN`s of the customer's group.
    pub groups: Vec<String>,
}

/// The endpoints that deliver an agreement, from now on (replacing any
/// earlier binding).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MonitoringBound {
    pub agreement_id: String,
    pub endpoints: Vec<String>,
    /// `all` (every endpoint is needed: the worst status holds) or `any` (the
    /// best holds).
    pub combine: String,
    /// The IANA time zone its days and months are counted in.
    pub time_zone: String,
    /// The first day the binding applies to (for the first binding, by
    /// default the agreement's first day).
    pub from: Date,
    /// The agreement's last day when bound: no month after it is measured.
    pub until: Date,
    #[serde(default)]
    pub accounting: AccountingMatch,
}

/// A month's figures, in percent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MonthFigures {
    pub availability: Option<f64>,
    pub reliability: Option<f64>,
    pub unknown_pct: f64,
    pub downtime_pct: f64,
}

/// The targets a month was measured against.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MeasuredTargets {
    pub availability_pct: f64,
    pub reliability_pct: f64,
}

/// One day's figures, in percent (`None`: undefined), as the month they
/// belong to was measured.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DayLevels {
    pub day: Date,
    pub availability: Option<f64>,
    pub reliability: Option<f64>,
    pub unknown_pct: f64,
    pub downtime_pct: f64,
}

/// A month's usage against commitment, in core-hours.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MonthUsage {
    pub used_core_hours: f64,
    pub committed_core_hours: f64,
    /// used / committed, percent; `None` with nothing committed.
    pub used_pct: Option<f64>,
    /// `under`, `over`, `within`, or `none` with nothing committed.
    pub flag: String,
    /// How many usage records were matched.
    pub records: u64,
}

/// A month ended (in the agreement's time zone) and was measured.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServiceLevelMeasured {
    /// `YYYY-MM`.
    pub month: String,
    pub figures: MonthFigures,
    pub targets: MeasuredTargets,
    /// Every target met (or nothing known to judge by).
    pub met: bool,
    /// Each day of the month, oldest first (empty in events recorded before
    /// days were).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub days: Vec<DayLevels>,
    /// The month's usage (absent in events recorded before usage was).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<MonthUsage>,
}

/// A span in which an endpoint was down or in scheduled downtime.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cause {
    pub endpoint: String,
    /// `CRITICAL`, `DOWNTIME`...
    pub status: String,
    pub from: Timestamp,
    pub to: Timestamp,
}

/// A measured month missed a target.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServiceLevelMissed {
    pub month: String,
    /// Whom the miss concerns, for its mail: the agreement's reference, its
    /// order, its kind (`sla`: the customer hears; `ola`: the provider) and
    /// an OLA's provider.
    pub reference: String,
    pub order_id: String,
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// `availability`, `reliability`.
    pub missed: Vec<String>,
    pub figures: MonthFigures,
    pub targets: MeasuredTargets,
    /// The endpoints and spans that took the figures down, longest first.
    pub causes: Vec<Cause>,
}

/// Data arrived for a month already measured: its figures are now `new`. The
/// measured event stays as it was.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServiceLevelCorrected {
    pub month: String,
    pub old: MonthFigures,
    pub new: MonthFigures,
    pub met: bool,
    /// Each day of the month as now computed, oldest first (empty in events
    /// recorded before days were).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub days: Vec<DayLevels>,
    /// The month's usage as now computed (absent in events recorded before
    /// usage was).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<MonthUsage>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum ComplianceEvent {
    MonitoringBound(MonitoringBound),
    ServiceLevelMeasured(ServiceLevelMeasured),
    ServiceLevelMissed(ServiceLevelMissed),
    ServiceLevelCorrected(ServiceLevelCorrected),
}

impl EventPayload for ComplianceEvent {
    const AGGREGATE_TYPE: &'static str = "compliance";

    fn event_type(&self) -> &'static str {
        match self {
            Self::MonitoringBound(_) => "MonitoringBound",
            Self::ServiceLevelMeasured(_) => "ServiceLevelMeasured",
            Self::ServiceLevelMissed(_) => "ServiceLevelMissed",
            Self::ServiceLevelCorrected(_) => "ServiceLevelCorrected",
        }
    }

    fn current_version(event_type: &str) -> Option<u32> {
        match event_type {
            "MonitoringBound"
            | "ServiceLevelMeasured"
            | "ServiceLevelMissed"
            | "ServiceLevelCorrected" => Some(1),
            _ => None,
        }
    }
}

/// One virtual machine's usage as an APEL cloud record reported it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UsageRecord {
    pub vm_uuid: String,
    pub site: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_group: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fqan: Option<String>,
    pub status: String,
    pub start: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<Timestamp>,
    /// Seconds.
    pub wall_seconds: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_seconds: Option<u64>,
    pub cpu_count: u64,
    /// MB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_mb: Option<u64>,
    /// GB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk_gb: Option<u64>,
}

/// Usage records accepted for a site, whole (a later record of the same VM
/// supersedes an earlier one).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UsageRecorded {
    pub records: Vec<UsageRecord>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum AccountingEvent {
    UsageRecorded(UsageRecorded),
}

impl EventPayload for AccountingEvent {
    const AGGREGATE_TYPE: &'static str = "accounting";

    fn event_type(&self) -> &'static str {
        match self {
            Self::UsageRecorded(_) => "UsageRecorded",
        }
    }

    fn current_version(event_type: &str) -> Option<u32> {
        match event_type {
            "UsageRecorded" => Some(1),
            _ => None,
        }
    }
}
