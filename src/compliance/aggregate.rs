//! The aggregates of service-level compliance (ADR 0016): an `endpoint` (what
//! monitoring said of it), an agreement's `compliance` (its binding and
//! closed months) and a site's `accounting` (usage records).

use std::collections::BTreeMap;

use cqrs_es::Aggregate;
use cqrs_es::event_sink::EventSink;
use jiff::Timestamp;
use jiff::civil::Date;
use pactum_events::monitoring::{
    AccountingEvent, ComplianceEvent, DailyLevelsImported, EndpointDeclared, EndpointEvent,
    EndpointStatusRecorded, Heartbeat, ImportedDay, MonitoringBound, MonthFigures, StatusPoint,
    UsageRecorded,
};
use serde::{Deserialize, Serialize};

use super::commands::{AccountingCommand, ComplianceCommand, EndpointCommand};
use super::errors::ComplianceError;
use super::status::{Status, Timeline};
use crate::access::policy;

/// Where status points come from.
pub const PUSH: &str = "push";
pub const HEARTBEAT: &str = "heartbeat";

/// One monitored endpoint.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Endpoint {
    pub declared: bool,
    pub provider: Option<String>,
    pub heartbeat: Option<Heartbeat>,
    pub timeline: Timeline,
    /// The last heartbeat.
    pub last_beat: Option<Timestamp>,
    /// When silence after the last beat was recorded.
    pub silenced: Option<Timestamp>,
    /// ARGO's figures per day.
    pub imported: BTreeMap<Date, ImportedDay>,
}

impl Endpoint {
    /// When silence turns it CRITICAL, if it sends heartbeats and is not
    /// CRITICAL already since its last beat.
    pub fn deadline(&self) -> Option<Timestamp> {
        let heartbeat = self.heartbeat.as_ref()?;
        let last = self.last_beat?;
        let due = last
            + jiff::SignedDuration::from_secs(
                i64::from(heartbeat.interval_seconds) + i64::from(heartbeat.grace_seconds),
            );
        match self.silenced {
            Some(at) if at >= last => None,
            _ => Some(due),
        }
    }

    fn decide(&self, command: EndpointCommand) -> Result<Vec<EndpointEvent>, ComplianceError> {
        let forbidden = |by: &crate::access::Principal, what| ComplianceError::Forbidden {
            role: by.role_name(),
            what,
        };
        let points = |source: &str, kept: Vec<(Timestamp, Status)>| {
            if kept.is_empty() {
                return Vec::new();
            }
            vec![EndpointEvent::EndpointStatusRecorded(
                EndpointStatusRecorded {
                    source: source.to_owned(),
                    points: kept
                        .into_iter()
                        .map(|(at, status)| StatusPoint {
                            at,
                            status: status.as_str().to_owned(),
                        })
                        .collect(),
                },
            )]
        };
        Ok(match command {
            EndpointCommand::Declare {
                by,
                endpoint,
                provider,
                heartbeat,
            } => {
                if !policy::may_manage_monitoring(&by) {
                    return Err(forbidden(&by, "declare endpoints"));
                }
                if self.declared && self.provider == provider && self.heartbeat == heartbeat {
                    return Ok(Vec::new());
                }
                vec![EndpointEvent::EndpointDeclared(EndpointDeclared {
                    endpoint,
                    provider,
                    heartbeat,
                })]
            }
            EndpointCommand::Claim {
                endpoint, provider, ..
            } => {
                if self.provider.is_some() {
                    return Ok(Vec::new());
                }
                vec![EndpointEvent::EndpointDeclared(EndpointDeclared {
                    endpoint,
                    provider: Some(provider),
                    heartbeat: self.heartbeat.clone(),
                })]
            }
            EndpointCommand::Record { by, results } => {
                self.may_push(&by)?;
                points(PUSH, self.timeline.worth_keeping(&results))
            }
            EndpointCommand::Beat { by, at } => {
                self.may_push(&by)?;
                if self.heartbeat.is_none() {
                    return Err(ComplianceError::NoHeartbeat);
                }
                // Every beat is recorded: the next silence is counted from it.
                points(HEARTBEAT, vec![(at, Status::Ok)])
            }
            EndpointCommand::Silence { by, now } => {
                if !policy::may_manage_monitoring(&by) {
                    return Err(forbidden(&by, "record silences"));
                }
                match self.deadline() {
                    Some(due) if due <= now => points(HEARTBEAT, vec![(due, Status::Critical)]),
                    _ => Vec::new(),
                }
            }
            EndpointCommand::Import { by, report, days } => {
                if !policy::may_manage_monitoring(&by) {
                    return Err(forbidden(&by, "import monitoring figures"));
                }
                let days: Vec<ImportedDay> = days
                    .into_iter()
                    .filter(|day| self.imported.get(&day.day) != Some(day))
                    .collect();
                if days.is_empty() {
                    return Ok(Vec::new());
                }
                vec![EndpointEvent::DailyLevelsImported(DailyLevelsImported {
                    report,
                    days,
                })]
            }
        })
    }

    fn may_push(&self, by: &crate::access::Principal) -> Result<(), ComplianceError> {
        if policy::may_push_monitoring(by, self.provider.as_deref()) {
            Ok(())
        } else if by
            .roles()
            .any(|r| matches!(r, crate::access::Role::Provider { .. }))
        {
            Err(ComplianceError::NotYourEndpoint)
        } else {
            Err(ComplianceError::Forbidden {
                role: by.role_name(),
                what: "push monitoring results",
            })
        }
    }

    fn fold(&mut self, event: EndpointEvent) {
        match event {
            EndpointEvent::EndpointDeclared(declared) => {
                self.declared = true;
                self.provider = declared.provider;
                self.heartbeat = declared.heartbeat;
            }
            EndpointEvent::EndpointStatusRecorded(recorded) => {
                for point in recorded.points {
                    let status = point.status.parse().unwrap_or(Status::Unknown);
                    self.timeline.record(point.at, status);
                    if recorded.source == HEARTBEAT {
                        let latest =
                            |t: Option<Timestamp>| Some(t.map_or(point.at, |b| b.max(point.at)));
                        match status {
                            Status::Ok => self.last_beat = latest(self.last_beat),
                            _ => self.silenced = latest(self.silenced),
                        }
                    }
                }
            }
            EndpointEvent::DailyLevelsImported(imported) => {
                for day in imported.days {
                    self.imported.insert(day.day, day);
                }
            }
        }
    }
}

impl Aggregate for Endpoint {
    const TYPE: &'static str = "endpoint";
    type Command = EndpointCommand;
    type Event = EndpointEvent;
    type Error = ComplianceError;
    type Services = ();

    async fn handle(
        &mut self,
        command: EndpointCommand,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), ComplianceError> {
        for event in self.decide(command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: EndpointEvent) {
        self.fold(event);
    }
}

impl crate::runner::Runnable for Endpoint {
    fn is_bookkeeping(event_type: &str) -> bool {
        event_type == "EndpointStatusRecorded"
    }
}

/// An agreement's compliance: its binding and the months closed.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AgreementLevels {
    pub binding: Option<MonitoringBound>,
    /// Each measured month's latest figures (after corrections) and verdict.
    pub measured: BTreeMap<String, (MonthFigures, bool)>,
}

impl AgreementLevels {
    fn decide(&self, command: ComplianceCommand) -> Result<Vec<ComplianceEvent>, ComplianceError> {
        Ok(match command {
            ComplianceCommand::Bind { by, binding } => {
                // Who may bind is decided against the agreement by the service.
                let _ = by;
                if self.binding.as_ref() == Some(&binding) {
                    return Ok(Vec::new());
                }
                vec![ComplianceEvent::MonitoringBound(binding)]
            }
            ComplianceCommand::Measure { measured, missed } => {
                if self.measured.contains_key(&measured.month) {
                    return Ok(Vec::new());
                }
                let mut events = vec![ComplianceEvent::ServiceLevelMeasured(measured)];
                events.extend(missed.map(ComplianceEvent::ServiceLevelMissed));
                events
            }
            ComplianceCommand::Correct { corrected } => {
                let Some((last, _)) = self.measured.get(&corrected.month) else {
                    return Err(ComplianceError::NotMeasured {
                        month: corrected.month,
                    });
                };
                if *last == corrected.new {
                    return Ok(Vec::new());
                }
                vec![ComplianceEvent::ServiceLevelCorrected(corrected)]
            }
        })
    }
}

impl Aggregate for AgreementLevels {
    const TYPE: &'static str = "compliance";
    type Command = ComplianceCommand;
    type Event = ComplianceEvent;
    type Error = ComplianceError;
    type Services = ();

    async fn handle(
        &mut self,
        command: ComplianceCommand,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), ComplianceError> {
        for event in self.decide(command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: ComplianceEvent) {
        match event {
            ComplianceEvent::MonitoringBound(bound) => self.binding = Some(bound),
            ComplianceEvent::ServiceLevelMeasured(measured) => {
                self.measured
                    .insert(measured.month, (measured.figures, measured.met));
            }
            ComplianceEvent::ServiceLevelMissed(_) => {}
            ComplianceEvent::ServiceLevelCorrected(corrected) => {
                self.measured
                    .insert(corrected.month, (corrected.new, corrected.met));
            }
        }
    }
}

impl crate::runner::Runnable for AgreementLevels {
    fn is_bookkeeping(event_type: &str) -> bool {
        event_type != "MonitoringBound"
    }
}

/// A site's accounting: nothing to decide but who may record.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Accounting;

impl Aggregate for Accounting {
    const TYPE: &'static str = "accounting";
    type Command = AccountingCommand;
    type Event = AccountingEvent;
    type Error = ComplianceError;
    type Services = ();

    async fn handle(
        &mut self,
        command: AccountingCommand,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), ComplianceError> {
        if !policy::may_record_usage(&command.by) {
            return Err(ComplianceError::Forbidden {
                role: command.by.role_name(),
                what: "record usage",
            });
        }
        let event = AccountingEvent::UsageRecorded(UsageRecorded {
            records: command.records,
        });
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, _: AccountingEvent) {}
}

impl crate::runner::Runnable for Accounting {}
