//! Commands of the compliance aggregates.

use jiff::Timestamp;
use pactum_events::monitoring::{
    Heartbeat, ImportedDay, MonitoringBound, ServiceLevelCorrected, ServiceLevelMeasured,
    ServiceLevelMissed, UsageRecord,
};

use super::status::Status;
use crate::access::Principal;

/// A command on an `endpoint`.
#[derive(Clone, Debug)]
pub enum EndpointCommand {
    /// Declare whose endpoint it is and whether it sends heartbeats.
    Declare {
        by: Principal,
        endpoint: String,
        provider: Option<String>,
        heartbeat: Option<Heartbeat>,
    },
    /// Claim an endpoint for an OLA's provider when it is bound to the OLA
    /// (staff binding it); an endpoint that has a provider keeps it.
    Claim {
        by: Principal,
        endpoint: String,
        provider: String,
    },
    /// Probe results.
    Record {
        by: Principal,
        results: Vec<(Timestamp, Status)>,
    },
    /// A heartbeat now.
    Beat { by: Principal, at: Timestamp },
    /// The heartbeat timer: record the silence if it went on past the grace.
    Silence { by: Principal, now: Timestamp },
    /// ARGO's daily figures.
    Import {
        by: Principal,
        report: String,
        days: Vec<ImportedDay>,
    },
}

/// A command on an agreement's `compliance`.
#[derive(Clone, Debug)]
pub enum ComplianceCommand {
    Bind {
        by: Principal,
        binding: MonitoringBound,
    },
    /// Close a month: record its figures (and the miss, if any) unless it was
    /// measured already.
    Measure {
        measured: ServiceLevelMeasured,
        missed: Option<ServiceLevelMissed>,
    },
    /// Record new figures for a measured month, if they differ from the last.
    Correct { corrected: ServiceLevelCorrected },
}

/// A command on a site's `accounting`.
#[derive(Clone, Debug)]
pub struct AccountingCommand {
    pub by: Principal,
    pub records: Vec<UsageRecord>,
}
