//! What the API, the command line and the timers do with compliance: bind
//! agreements to endpoints, take monitoring results, heartbeats, ARGO's
//! figures and accounting records in, close months, and answer the views.

use std::collections::{BTreeMap, BTreeSet};

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use pactum_events::monitoring::{
    AccountingEvent, AccountingMatch, ComplianceEvent, EndpointEvent, Heartbeat, ImportedDay,
    MonitoringBound, ServiceLevelCorrected, ServiceLevelMeasured, ServiceLevelMissed, UsageRecord,
};
use pactum_projections::agreement_view::AgreementView;
use serde::Serialize;

use super::aggregate::{Accounting, AgreementLevels, Endpoint};
use super::apel;
use super::commands::{AccountingCommand, ComplianceCommand, EndpointCommand};
use super::compute::{self, EndpointData, Inputs};
use super::errors::ComplianceError;
use super::report::{AgreementCompliance, ComplianceReport};
use super::status::Status;
use crate::access::Principal;
use crate::access::policy::{self, AgreementScope};
use crate::agreements::aggregate::Agreement;
use crate::catalogue::Catalogue;
use crate::execute::{self, CommandMeta, Loaded};
use crate::runner::{self, CommandRequest, Ran, RunError, Source, Step};
use crate::store::{EventStore, StoreError};
use crate::validation::FieldError;

/// The subject the compliance timers' commands are recorded under.
pub const TIMER: &str = "pactum-compliance-timer";

/// Results one push may carry at most.
pub const MAX_RESULTS: usize = 100_000;

/// How far ahead of the clock a result may be dated (clocks drift).
const FUTURE_SLACK_SECONDS: i64 = 300;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{} invalid field(s)", .0.len())]
    Invalid(Vec<FieldError>),
    #[error("{0}")]
    NotFound(String),
    /// A query's parameters do not fit together.
    #[error("{0}")]
    Query(String),
    #[error("{0}")]
    Forbidden(String),
    #[error(transparent)]
    Refused(#[from] ComplianceError),
    #[error(transparent)]
    Run(#[from] RunError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn invalid(field: impl Into<String>, message: impl Into<String>) -> Error {
    Error::Invalid(vec![FieldError::new(field, message)])
}

/// Checks an endpoint's name: letters, digits and `. _ : @ + -`, up to 200.
pub fn endpoint_name(field: &str, name: &str) -> Result<String, FieldError> {
    let name = name.trim();
    let ok = !name.is_empty()
        && name.len() <= 200
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._:@+-".contains(c));
    if ok {
        Ok(name.to_owned())
    } else {
        Err(FieldError::new(
            field,
            format!(
                "{name:?} is not an endpoint name: 1 to 200 letters, digits and . _ : @ + -, \
                 starting with a letter or digit"
            ),
        ))
    }
}

// ---------------------------------------------------------------- binding

/// An endpoint in a binding: its name, or its name with a declaration.
#[derive(Clone, Debug)]
pub enum EndpointSpec {
    Name(String),
    Declared(EndpointDeclaration),
}

/// An endpoint declared in a binding or on its own (admins).
#[derive(Clone, Debug, Default)]
pub struct EndpointDeclaration {
    /// Its name (in a binding).
    pub endpoint: Option<String>,
    /// The provider whose endpoint it is (its operators may push for it).
    pub provider: Option<String>,
    /// Declared to send heartbeats.
    pub heartbeat: Option<HeartbeatSpec>,
}

/// A heartbeat as asked for.
#[derive(Clone, Debug)]
pub struct HeartbeatSpec {
    /// Seconds between beats (10 to 86,400).
    pub interval_seconds: u32,
    /// Silence tolerated beyond the interval (0 to 86,400; default: one interval).
    pub grace_seconds: Option<u32>,
}

/// A binding as asked for: every field checked by [`bind`].
#[derive(Clone, Debug)]
pub struct BindInput {
    pub endpoints: Vec<EndpointSpec>,
    /// `all` (default) or `any`.
    pub combine: Option<String>,
    /// IANA time zone (default `UTC`).
    pub time_zone: Option<String>,
    /// The first day it applies to (default: the agreement's first day for a
    /// first binding, today for a later one).
    pub from: Option<Date>,
    /// How accounting records are matched (default: any site, the
    /// customer's organisation as group).
    pub accounting: Option<AccountingInput>,
}

#[derive(Clone, Debug, Default)]
pub struct AccountingInput {
    pub sites: Vec<String>,
    pub groups: Vec<String>,
}

/// A binding as the API shows it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct BindingView {
    pub agreement_id: String,
    pub endpoints: Vec<String>,
    pub combine: String,
    pub time_zone: String,
    #[schema(value_type = String, format = Date)]
    pub from: Date,
    #[schema(value_type = String, format = Date)]
    pub until: Date,
    pub sites: Vec<String>,
    pub groups: Vec<String>,
}

impl From<&MonitoringBound> for BindingView {
    fn from(b: &MonitoringBound) -> Self {
        Self {
            agreement_id: b.agreement_id.clone(),
            endpoints: b.endpoints.clone(),
            combine: b.combine.clone(),
            time_zone: b.time_zone.clone(),
            from: b.from,
            until: b.until,
            sites: b.accounting.sites.clone(),
            groups: b.accounting.groups.clone(),
        }
    }
}

fn scope_of(view: &AgreementView) -> AgreementScope<'_> {
    AgreementScope {
        kind: &view.content.kind,
        org: &view.content.customer.org,
        group: &view.content.service.group,
        provider: view.content.provider.as_ref().map(|p| p.id.as_str()),
    }
}

/// The agreement `agreement_id` as it was at `as_of` (now if `None`), if
/// `principal` may see it.
async fn visible_agreement(
    store: &EventStore,
    principal: &Principal,
    agreement_id: &str,
    as_of: Option<Timestamp>,
) -> Result<AgreementView, Error> {
    let loaded = execute::load::<Agreement>(store, agreement_id).await?;
    let view = AgreementView::fold(
        loaded
            .contexts()
            .filter(|(ctx, _)| as_of.is_none_or(|at| ctx.recorded_at <= at)),
    );
    match view {
        Some(view) if policy::can_see_agreement(principal, scope_of(&view)) => Ok(view),
        _ => Err(Error::NotFound(format!("no agreement {agreement_id:?}"))),
    }
}

fn heartbeat_of(spec: &HeartbeatSpec, field: &str) -> Result<Heartbeat, FieldError> {
    if !(10..=86_400).contains(&spec.interval_seconds) {
        return Err(FieldError::new(
            format!("{field}.interval_seconds"),
            "must be between 10 and 86400",
        ));
    }
    let grace = spec.grace_seconds.unwrap_or(spec.interval_seconds);
    if grace > 86_400 {
        return Err(FieldError::new(
            format!("{field}.grace_seconds"),
            "must be between 0 and 86400",
        ));
    }
    Ok(Heartbeat {
        interval_seconds: spec.interval_seconds,
        grace_seconds: grace,
    })
}

fn strings(field: &str, values: &[String]) -> Result<Vec<String>, FieldError> {
    let mut out = Vec::new();
    for (i, v) in values.iter().enumerate() {
        let v = v.trim();
        if v.is_empty() || v.len() > 200 || v.chars().any(char::is_control) {
            return Err(FieldError::new(
                format!("{field}[{i}]"),
                "must be 1 to 200 printable characters",
            ));
        }
        out.push(v.to_owned());
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// Binds agreement `agreement_id` to the endpoints that deliver it (staff: an
/// admin, or a shifter of its group). Endpoints of an OLA become its
/// provider's (unless they have one); endpoints given with a declaration are
/// declared too (admins).
pub async fn bind(
    store: &EventStore,
    catalogue: &Catalogue,
    agreement_id: &str,
    input: BindInput,
    request: &CommandRequest,
) -> Result<Ran<BindingView>, Error> {
    let by = &request.meta.principal;
    let view = visible_agreement(store, by, agreement_id, None).await?;
    let admin = policy::may_manage_monitoring(by);
    if !admin && !policy::may_manage_agreement(by, scope_of(&view)) {
        return Err(Error::Forbidden(format!(
            "{}s may not bind agreements to monitoring (admins and the group's shifters may)",
            by.role_name()
        )));
    }
    let mut errors = Vec::new();
    let mut endpoints = Vec::new();
    let mut declarations = Vec::new();
    if input.endpoints.is_empty() || input.endpoints.len() > 100 {
        errors.push(FieldError::new("endpoints", "1 to 100 endpoints"));
    }
    for (i, spec) in input.endpoints.iter().enumerate() {
        let field = format!("endpoints[{i}]");
        match spec {
            EndpointSpec::Name(name) => match endpoint_name(&field, name) {
                Ok(name) => endpoints.push(name),
                Err(e) => errors.push(e),
            },
            EndpointSpec::Declared(declared) => {
                let Some(name) = &declared.endpoint else {
                    errors.push(FieldError::new(format!("{field}.endpoint"), "is required"));
                    continue;
                };
                match endpoint_name(&format!("{field}.endpoint"), name) {
                    Ok(name) => {
                        endpoints.push(name.clone());
                        if declared.provider.is_some() || declared.heartbeat.is_some() {
                            match declaration(catalogue, declared, &field) {
                                Ok((provider, heartbeat)) => {
                                    declarations.push((name, provider, heartbeat))
                                }
                                Err(e) => errors.push(e),
                            }
                        }
                    }
                    Err(e) => errors.push(e),
                }
            }
        }
    }
    let mut seen = BTreeSet::new();
    endpoints.retain(|e| seen.insert(e.clone()));
    let combine = input.combine.as_deref().unwrap_or("all").trim().to_owned();
    if combine != "all" && combine != "any" {
        errors.push(FieldError::new("combine", "one of all, any"));
    }
    let time_zone = input
        .time_zone
        .as_deref()
        .unwrap_or("UTC")
        .trim()
        .to_owned();
    let zone = match TimeZone::get(&time_zone) {
        Ok(zone) => zone,
        Err(_) => {
            errors.push(FieldError::new(
                "time_zone",
                format!("{time_zone:?} is not an IANA time zone"),
            ));
            TimeZone::UTC
        }
    };
    if input
        .from
        .is_some_and(|from| !super::report::in_range(from))
    {
        errors.push(FieldError::new(
            "from",
            "must be a day between 1970 and 2199",
        ));
    }
    let accounting = input.accounting.unwrap_or_default();
    let sites = strings("accounting.sites", &accounting.sites).map_err(|e| errors.push(e));
    let groups = strings("accounting.groups", &accounting.groups).map_err(|e| errors.push(e));
    if !errors.is_empty() {
        return Err(Error::Invalid(errors));
    }
    if !declarations.is_empty() && !admin {
        return Err(Error::Forbidden(
            "only admins declare endpoints (provider, heartbeat)".into(),
        ));
    }
    if let Some(from) = input.from
        && from < view.content.validity.start
    {
        return Err(invalid(
            "from",
            format!(
                "{from} is before the agreement's first day ({}): no service level is owed then",
                view.content.validity.start
            ),
        ));
    }
    let levels = execute::load::<AgreementLevels>(store, agreement_id).await?;
    let first = levels.aggregate.binding.is_none();
    let from = input.from.unwrap_or_else(|| {
        if first {
            view.content.validity.start
        } else {
            request.meta.now.to_zoned(zone.clone()).date()
        }
    });
    let binding = MonitoringBound {
        agreement_id: agreement_id.to_owned(),
        endpoints,
        combine,
        time_zone,
        from,
        until: view.content.validity.end,
        accounting: AccountingMatch {
            sites: sites.unwrap_or_default(),
            groups: groups.unwrap_or_default(),
        },
    };
    let meta = &request.meta;
    let ola_provider = (view.content.kind == "ola")
        .then(|| view.content.provider.as_ref().map(|p| p.id.clone()))
        .flatten();
    let mut together = Vec::new();
    let declared: BTreeSet<&String> = declarations.iter().map(|(n, _, _)| n).collect();
    for (name, provider, heartbeat) in &declarations {
        let loaded = execute::load::<Endpoint>(store, name).await?;
        let command = EndpointCommand::Declare {
            by: by.clone(),
            endpoint: name.clone(),
            provider: provider
                .clone()
                .or_else(|| loaded.aggregate.provider.clone()),
            heartbeat: heartbeat.clone(),
        };
        together.push(runner::together(&loaded, command, meta).await?);
    }
    if let Some(provider) = &ola_provider {
        for name in binding.endpoints.iter().filter(|n| !declared.contains(n)) {
            let loaded = execute::load::<Endpoint>(store, name).await?;
            let command = EndpointCommand::Claim {
                by: by.clone(),
                endpoint: name.clone(),
                provider: provider.clone(),
            };
            together.push(runner::together(&loaded, command, meta).await?);
        }
    }
    let command = ComplianceCommand::Bind {
        by: by.clone(),
        binding,
    };
    runner::run::<AgreementLevels, _, Error>(
        store,
        agreement_id,
        request,
        Source::Log,
        async |_| {
            Ok(Step {
                together: together.clone(),
                ..Step::alone(command.clone())
            })
        },
        |loaded, events| {
            let after = loaded.after(events);
            Ok(BindingView::from(
                after.binding.as_ref().expect("just bound"),
            ))
        },
    )
    .await
}

fn declaration(
    catalogue: &Catalogue,
    declared: &EndpointDeclaration,
    field: &str,
) -> Result<(Option<String>, Option<Heartbeat>), FieldError> {
    let provider = match &declared.provider {
        Some(p) if !catalogue.has_provider(p.trim()) => {
            return Err(FieldError::new(
                format!("{field}.provider"),
                format!("unknown provider {p:?}"),
            ));
        }
        Some(p) => Some(p.trim().to_owned()),
        None => None,
    };
    let heartbeat = declared
        .heartbeat
        .as_ref()
        .map(|h| heartbeat_of(h, &format!("{field}.heartbeat")))
        .transpose()?;
    Ok((provider, heartbeat))
}

/// The agreement's binding now, if `principal` may see the agreement.
pub async fn binding(
    store: &EventStore,
    principal: &Principal,
    agreement_id: &str,
) -> Result<BindingView, Error> {
    visible_agreement(store, principal, agreement_id, None).await?;
    let levels = execute::load::<AgreementLevels>(store, agreement_id).await?;
    levels
        .aggregate
        .binding
        .as_ref()
        .map(BindingView::from)
        .ok_or_else(|| Error::NotFound(format!("agreement {agreement_id} is not bound")))
}

// ---------------------------------------------------------------- endpoints

/// An endpoint as the API shows it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct EndpointView {
    pub endpoint: String,
    pub provider: Option<String>,
    pub heartbeat: Option<HeartbeatView>,
    /// The status now (MISSING before the first result).
    pub status: String,
    /// Since when (null before the first result).
    #[schema(value_type = Option<String>, format = DateTime)]
    pub since: Option<Timestamp>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_beat: Option<Timestamp>,
    /// Status points kept.
    pub points: usize,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct HeartbeatView {
    pub interval_seconds: u32,
    pub grace_seconds: u32,
}

fn endpoint_view(name: &str, endpoint: &Endpoint, now: Timestamp) -> EndpointView {
    let status = endpoint.timeline.at(now);
    let since = endpoint
        .timeline
        .transitions()
        .into_iter()
        .rev()
        .find(|(at, _)| *at <= now)
        .map(|(at, _)| at);
    EndpointView {
        endpoint: name.to_owned(),
        provider: endpoint.provider.clone(),
        heartbeat: endpoint.heartbeat.as_ref().map(|h| HeartbeatView {
            interval_seconds: h.interval_seconds,
            grace_seconds: h.grace_seconds,
        }),
        status: status.as_str().to_owned(),
        since,
        last_beat: endpoint.last_beat,
        points: endpoint.timeline.len(),
    }
}

/// Declares endpoint `name` (admins).
pub async fn declare(
    store: &EventStore,
    catalogue: &Catalogue,
    name: &str,
    declared: EndpointDeclaration,
    request: &CommandRequest,
) -> Result<Ran<EndpointView>, Error> {
    let name = endpoint_name("endpoint", name).map_err(|e| Error::Invalid(vec![e]))?;
    if declared
        .endpoint
        .as_deref()
        .is_some_and(|e| e.trim() != name)
    {
        return Err(invalid("endpoint", "differs from the endpoint in the path"));
    }
    let (provider, heartbeat) =
        declaration(catalogue, &declared, "body").map_err(|e| Error::Invalid(vec![e]))?;
    let command = EndpointCommand::Declare {
        by: request.meta.principal.clone(),
        endpoint: name.clone(),
        provider,
        heartbeat,
    };
    let now = request.meta.now;
    runner::run::<Endpoint, _, Error>(
        store,
        &name,
        request,
        Source::Log,
        async |_| Ok(Step::alone(command.clone())),
        |loaded, events| Ok(endpoint_view(&name, &loaded.after(events), now)),
    )
    .await
}

/// Endpoint `name` as it is now: staff, monitoring, and its provider's operators.
pub async fn endpoint(
    store: &EventStore,
    principal: &Principal,
    name: &str,
    now: Timestamp,
) -> Result<EndpointView, Error> {
    let loaded = execute::load::<Endpoint>(store, name).await?;
    let e = &loaded.aggregate;
    let staff = principal.roles().any(|r| {
        matches!(
            r,
            crate::access::Role::Admin
                | crate::access::Role::Auditor
                | crate::access::Role::Shifter { .. }
                | crate::access::Role::System
                | crate::access::Role::Monitoring
        )
    });
    let own = policy::may_push_monitoring(principal, e.provider.as_deref());
    if loaded.version == 0 || !(staff || own) {
        return Err(Error::NotFound(format!("no endpoint {name:?}")));
    }
    Ok(endpoint_view(name, e, now))
}

/// One probe result as given: checked by [`parse_results`].
#[derive(Clone, Debug)]
pub struct ResultInput {
    pub timestamp: String,
    pub status: String,
}

/// A push of probe results as given.
#[derive(Clone, Debug)]
pub struct StatusInput {
    pub endpoint: String,
    pub results: Vec<ResultInput>,
}

/// What a push did.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct PushView {
    pub endpoint: String,
    /// Results received.
    pub accepted: usize,
    /// Status points recorded (changes, and the last result of each run).
    pub recorded: usize,
    /// The status now.
    pub status: String,
}

/// Validates a push: every result named when bad, nothing taken.
pub fn parse_results(
    input: &StatusInput,
    now: Timestamp,
) -> Result<(String, Vec<(Timestamp, Status)>), Error> {
    let mut errors = Vec::new();
    let endpoint = endpoint_name("endpoint", &input.endpoint).map_err(|e| errors.push(e));
    if input.results.is_empty() || input.results.len() > MAX_RESULTS {
        errors.push(FieldError::new(
            "results",
            format!("1 to {MAX_RESULTS} results"),
        ));
    }
    let latest = now + jiff::SignedDuration::from_secs(FUTURE_SLACK_SECONDS);
    let mut results = Vec::with_capacity(input.results.len());
    for (i, result) in input.results.iter().enumerate() {
        if errors.len() >= 20 {
            break;
        }
        let at = match result.timestamp.trim().parse::<Timestamp>() {
            Ok(at) if at.as_second() < 0 => {
                errors.push(FieldError::new(
                    format!("results[{i}].timestamp"),
                    "is before 1970",
                ));
                continue;
            }
            Ok(at) if at > latest => {
                errors.push(FieldError::new(
                    format!("results[{i}].timestamp"),
                    "is in the future",
                ));
                continue;
            }
            Ok(at) => at,
            Err(_) => {
                errors.push(FieldError::new(
                    format!("results[{i}].timestamp"),
                    format!(
                        "{:?} is not an RFC 3339 instant (2026-03-01T12:00:00Z)",
                        result.timestamp
                    ),
                ));
                continue;
            }
        };
        match result.status.parse::<Status>() {
            Ok(status) => results.push((at, status)),
            Err(message) => errors.push(FieldError::new(format!("results[{i}].status"), message)),
        }
    }
    if !errors.is_empty() {
        return Err(Error::Invalid(errors));
    }
    Ok((endpoint.expect("checked"), results))
}

/// Takes probe results for an endpoint: monitoring systems and admins for
/// any, a provider's operators for their own. Then corrects closed months
/// the results changed.
pub async fn push(
    store: &EventStore,
    input: &StatusInput,
    request: &CommandRequest,
) -> Result<Ran<PushView>, Error> {
    let now = request.meta.now;
    let (name, results) = parse_results(input, now)?;
    let accepted = results.len();
    let earliest = results.iter().map(|(at, _)| *at).min();
    let command = EndpointCommand::Record {
        by: request.meta.principal.clone(),
        results,
    };
    let ran = runner::run::<Endpoint, _, Error>(
        store,
        &name,
        request,
        Source::Hot,
        async |_| Ok(Step::alone(command.clone())),
        |loaded, events| {
            let recorded = events
                .iter()
                .map(|e| match e {
                    EndpointEvent::EndpointStatusRecorded(r) => r.points.len(),
                    _ => 0,
                })
                .sum();
            Ok(PushView {
                endpoint: name.clone(),
                accepted,
                recorded,
                status: loaded.after(events).timeline.at(now).as_str().to_owned(),
            })
        },
    )
    .await?;
    if let (Some(earliest), Ran::Done { answer, .. }) = (earliest, &ran)
        && answer.recorded > 0
    {
        recheck(store, &name, earliest, now).await?;
    }
    Ok(ran)
}

/// A heartbeat of endpoint `name`, now.
pub async fn beat(
    store: &EventStore,
    name: &str,
    request: &CommandRequest,
) -> Result<Ran<EndpointView>, Error> {
    let name = endpoint_name("endpoint", name).map_err(|e| Error::Invalid(vec![e]))?;
    let now = request.meta.now;
    let loaded = execute::load::<Endpoint>(store, &name).await?;
    if loaded.version == 0 {
        return Err(Error::NotFound(format!("no endpoint {name:?}")));
    }
    let command = EndpointCommand::Beat {
        by: request.meta.principal.clone(),
        at: now,
    };
    runner::run::<Endpoint, _, Error>(
        store,
        &name,
        request,
        Source::Hot,
        async |_| Ok(Step::alone(command.clone())),
        |loaded, events| Ok(endpoint_view(&name, &loaded.after(events), now)),
    )
    .await
}

/// Imports ARGO's daily figures, per endpoint; answers how many days were
/// new. Then corrects closed months they changed.
pub async fn import_days(
    store: &EventStore,
    report: &str,
    days: BTreeMap<String, Vec<ImportedDay>>,
    meta: &CommandMeta,
) -> Result<usize, Error> {
    let mut imported = 0;
    for (name, days) in days {
        let name = endpoint_name("endpoint", &name).map_err(|e| Error::Invalid(vec![e]))?;
        let Some(earliest) = days.iter().map(|d| d.day).min() else {
            continue;
        };
        let command = EndpointCommand::Import {
            by: meta.principal.clone(),
            report: report.to_owned(),
            days,
        };
        let ran = runner::run::<Endpoint, _, Error>(
            store,
            &name,
            &CommandRequest::system(meta.clone()),
            Source::Log,
            async |_| Ok(Step::alone(command.clone())),
            |_, events| {
                Ok(events
                    .iter()
                    .map(|e| match e {
                        EndpointEvent::DailyLevelsImported(d) => d.days.len(),
                        _ => 0,
                    })
                    .sum::<usize>())
            },
        )
        .await?;
        if let Ran::Done { answer, .. } = ran
            && answer > 0
        {
            imported += answer;
            let start = earliest
                .to_zoned(TimeZone::UTC)
                .map_or(meta.now, |z| z.timestamp())
                - jiff::SignedDuration::from_hours(24);
            recheck(store, &name, start, meta.now).await?;
        }
    }
    Ok(imported)
}

/// Records silences of endpoints whose heartbeat deadline passed by `now`;
/// answers when the next deadline falls.
pub async fn sweep_heartbeats(
    store: &EventStore,
    now: Timestamp,
) -> Result<Option<Timestamp>, Error> {
    let (due, next) = super::queries::silent(store.reader(), now, 200).await?;
    let meta = CommandMeta::system(TIMER, now);
    for name in &due {
        let command = EndpointCommand::Silence {
            by: meta.principal.clone(),
            now,
        };
        let ran = runner::run::<Endpoint, _, Error>(
            store,
            name,
            &CommandRequest::system(meta.clone()),
            Source::Log,
            async |_| Ok(Step::alone(command.clone())),
            |_, _| Ok(()),
        )
        .await;
        if let Err(error) = ran {
            tracing::warn!(endpoint = %name, %error, "heartbeat silence not recorded");
        } else {
            tracing::info!(endpoint = %name, "heartbeat silent: CRITICAL");
        }
    }
    if due.len() == 200 {
        return Ok(Some(now));
    }
    Ok(next)
}

// ---------------------------------------------------------------- usage

/// What an accounting import did.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct UsageView {
    pub records: usize,
    pub sites: Vec<String>,
}

/// Takes an APEL cloud message whole (monitoring systems and admins): every
/// bad record refused with its field named, nothing stored.
pub async fn record_usage(
    store: &EventStore,
    text: &str,
    request: &CommandRequest,
) -> Result<Ran<UsageView>, Error> {
    if !policy::may_record_usage(&request.meta.principal) {
        return Err(Error::Forbidden(format!(
            "{}s may not record usage (monitoring systems and admins may)",
            request.meta.principal.role_name()
        )));
    }
    let records = apel::parse(text).map_err(|errors| {
        Error::Invalid(
            errors
                .into_iter()
                .take(50)
                .map(|e| FieldError::new(format!("records[{}].{}", e.record, e.field), e.reason))
                .collect(),
        )
    })?;
    let mut by_site: BTreeMap<String, Vec<UsageRecord>> = BTreeMap::new();
    let mut refused = Vec::new();
    for (i, r) in records.into_iter().enumerate() {
        let wall = r.wall_duration.or_else(|| {
            r.end_time
                .map(|end| (end - r.start_time).get_seconds().max(0) as u64)
        });
        let Some(wall) = wall else {
            refused.push(FieldError::new(
                format!("records[{}].WallDuration", i + 1),
                "is required when EndTime is not given",
            ));
            continue;
        };
        by_site
            .entry(r.site_name.clone())
            .or_default()
            .push(UsageRecord {
                vm_uuid: r.vm_uuid,
                site: r.site_name,
                local_group: r.local_group_id,
                fqan: r.fqan,
                status: r.status,
                start: r.start_time,
                end: r.end_time,
                wall_seconds: wall,
                cpu_seconds: r.cpu_duration,
                cpu_count: r.cpu_count.unwrap_or(1),
                memory_mb: r.memory,
                disk_gb: r.disk,
            });
    }
    if !refused.is_empty() {
        return Err(Error::Invalid(refused));
    }
    let count = by_site.values().map(Vec::len).sum();
    let sites: Vec<String> = by_site.keys().cloned().collect();
    let mut iter = by_site.into_iter();
    let (first_site, first_records) = iter.next().expect("a message has a record");
    let meta = &request.meta;
    let mut together = Vec::new();
    for (site, records) in iter {
        let loaded = execute::load::<Accounting>(store, &site).await?;
        let command = AccountingCommand {
            by: meta.principal.clone(),
            records,
        };
        together.push(runner::together(&loaded, command, meta).await?);
    }
    let command = AccountingCommand {
        by: meta.principal.clone(),
        records: first_records,
    };
    runner::run::<Accounting, _, Error>(
        store,
        &first_site,
        request,
        Source::Log,
        async |_| {
            Ok(Step {
                together: together.clone(),
                ..Step::alone(command.clone())
            })
        },
        |_, _| {
            Ok(UsageView {
                records: count,
                sites: sites.clone(),
            })
        },
    )
    .await
}

// ---------------------------------------------------------------- reading

fn before<A: cqrs_es::Aggregate>(
    loaded: &Loaded<A>,
    as_of: Option<Timestamp>,
) -> impl Iterator<Item = &(pactum_events::RecordedEvent, A::Event)> {
    loaded
        .history
        .iter()
        .map(|entry| &**entry)
        .filter(move |(r, _)| as_of.is_none_or(|at| r.recorded_at <= at))
}

/// Everything one agreement's figures need, as at `as_of`.
struct Loaded1 {
    bindings: compute::Bindings,
    endpoints: BTreeMap<String, EndpointData>,
    usage: Vec<UsageRecord>,
}

async fn sites_recorded(store: &EventStore) -> Result<Vec<String>, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT DISTINCT aggregate_id FROM events WHERE aggregate_type = 'accounting' \
         ORDER BY aggregate_id",
    )
    .fetch_all(store.reader())
    .await?)
}

async fn load_inputs(
    store: &EventStore,
    agreement_id: &str,
    as_of: Option<Timestamp>,
    now: Timestamp,
    cache: &mut BTreeMap<String, EndpointData>,
    usage_cache: &mut BTreeMap<String, Vec<UsageRecord>>,
) -> Result<Loaded1, Error> {
    let levels = execute::load::<AgreementLevels>(store, agreement_id).await?;
    let bindings: compute::Bindings = before(&levels, as_of)
        .filter_map(|(_, e)| match e {
            ComplianceEvent::MonitoringBound(b) => Some(b.clone()),
            _ => None,
        })
        .collect();
    let mut endpoints = BTreeMap::new();
    let names: BTreeSet<&String> = bindings.iter().flat_map(|b| &b.endpoints).collect();
    for name in names {
        if !cache.contains_key(name) {
            let loaded = execute::load::<Endpoint>(store, name).await?;
            let mut endpoint = Endpoint::default();
            for (_, event) in before(&loaded, as_of) {
                cqrs_es::Aggregate::apply(&mut endpoint, event.clone());
            }
            // Nothing is known of what comes after now (or `as_of`): the
            // last status holds until then, not into the future.
            let known_until = as_of.unwrap_or(now);
            let mut timeline = endpoint.timeline;
            if timeline.last().is_some_and(|(at, _)| at < known_until) {
                timeline.record(known_until, Status::Missing);
            }
            cache.insert(
                name.clone(),
                EndpointData {
                    timeline,
                    imported: endpoint.imported,
                },
            );
        }
        endpoints.insert(name.clone(), cache[name].clone());
    }
    let mut sites: BTreeSet<String> = bindings
        .iter()
        .flat_map(|b| b.accounting.sites.iter().cloned())
        .collect();
    if bindings.iter().any(|b| b.accounting.sites.is_empty()) {
        sites.extend(sites_recorded(store).await?);
    }
    let mut usage = Vec::new();
    for site in sites {
        if !usage_cache.contains_key(&site) {
            let loaded = execute::load::<Accounting>(store, &site).await?;
            let records = before(&loaded, as_of)
                .flat_map(|(_, AccountingEvent::UsageRecorded(r))| r.records.clone());
            usage_cache.insert(site.clone(), super::usage::latest(records));
        }
        usage.extend(usage_cache[&site].iter().cloned());
    }
    Ok(Loaded1 {
        bindings,
        endpoints,
        usage,
    })
}

/// A compliance view's range: `from` and `to` (days), by default the current month.
pub struct Range {
    pub from: Option<Date>,
    pub to: Option<Date>,
    pub daily: bool,
    pub as_of: Option<Timestamp>,
}

/// Agreement `agreement_id`'s compliance (its customer for an SLA, its
/// provider for an OLA, staff).
pub async fn view(
    store: &EventStore,
    principal: &Principal,
    agreement_id: &str,
    range: Range,
    now: Timestamp,
) -> Result<AgreementCompliance, Error> {
    let agreement = visible_agreement(store, principal, agreement_id, range.as_of).await?;
    let (mut cache, mut usage_cache) = (BTreeMap::new(), BTreeMap::new());
    let loaded = load_inputs(
        store,
        agreement_id,
        range.as_of,
        now,
        &mut cache,
        &mut usage_cache,
    )
    .await?;
    let zone = compute::zone_of(&loaded.bindings);
    let today = range.as_of.unwrap_or(now).to_zoned(zone).date();
    let from = range.from.unwrap_or_else(|| today.first_of_month());
    let to = range.to.unwrap_or(today);
    if !super::report::in_range(from) || !super::report::in_range(to) {
        return Err(Error::Query(
            "from, to and as_of must fall between 1970 and 2199".into(),
        ));
    }
    if to < from {
        return Err(Error::Query(format!("to ({to}) is before from ({from})")));
    }
    if to.since(from).map_or(true, |span| span.get_days() > 366) {
        return Err(Error::Query("to is at most 366 days after from".into()));
    }
    let inputs = Inputs {
        agreement: &agreement,
        bindings: &loaded.bindings,
        endpoints: &loaded.endpoints,
        usage: &loaded.usage,
    };
    Ok(compute::compliance(&inputs, from, to, range.daily))
}

/// Every bound agreement `principal` may see, over month `period`.
pub async fn report(
    store: &EventStore,
    principal: &Principal,
    period: &str,
    as_of: Option<Timestamp>,
    now: Timestamp,
) -> Result<ComplianceReport, Error> {
    let (first, last) = super::report::month_days(period).map_err(Error::Query)?;
    let position = store.head() as i64;
    let bound = super::queries::bound_agreements(store.reader()).await?;
    let (mut cache, mut usage_cache) = (BTreeMap::new(), BTreeMap::new());
    let mut agreements = Vec::new();
    for b in bound {
        let Ok(agreement) = visible_agreement(store, principal, &b.agreement_id, as_of).await
        else {
            continue;
        };
        let loaded = load_inputs(
            store,
            &b.agreement_id,
            as_of,
            now,
            &mut cache,
            &mut usage_cache,
        )
        .await?;
        if loaded.bindings.is_empty() {
            continue;
        }
        let inputs = Inputs {
            agreement: &agreement,
            bindings: &loaded.bindings,
            endpoints: &loaded.endpoints,
            usage: &loaded.usage,
        };
        agreements.push(compute::compliance(&inputs, first, last, true));
    }
    Ok(ComplianceReport {
        period: period.to_owned(),
        position,
        agreements,
    })
}

// ---------------------------------------------------------------- closing months

fn month_text(first: Date) -> String {
    first.strftime("%Y-%m").to_string()
}

/// An agreement as it is now, with everything its figures depend on.
struct Current {
    agreement: AgreementView,
    loaded: Loaded1,
}

impl Current {
    fn inputs(&self) -> Inputs<'_> {
        Inputs {
            agreement: &self.agreement,
            bindings: &self.loaded.bindings,
            endpoints: &self.loaded.endpoints,
            usage: &self.loaded.usage,
        }
    }
}

/// Agreement `agreement_id` and its figures' inputs now (`None` if it was
/// never issued).
async fn current(
    store: &EventStore,
    agreement_id: &str,
    now: Timestamp,
) -> Result<Option<Current>, Error> {
    let loaded_agreement = execute::load::<Agreement>(store, agreement_id).await?;
    let Some(agreement) = AgreementView::fold(loaded_agreement.contexts()) else {
        return Ok(None);
    };
    let (mut cache, mut usage_cache) = (BTreeMap::new(), BTreeMap::new());
    let loaded = load_inputs(store, agreement_id, None, now, &mut cache, &mut usage_cache).await?;
    Ok(Some(Current { agreement, loaded }))
}

/// Measures the months of agreement `agreement_id` starting on each of
/// `firsts`, its inputs read once: records `ServiceLevelMeasured` for each,
/// and `ServiceLevelMissed` with its causes when a target was missed.
async fn measure(
    store: &EventStore,
    agreement_id: &str,
    firsts: &[Date],
    now: Timestamp,
) -> Result<(), Error> {
    let Some(current) = current(store, agreement_id, now).await? else {
        return Ok(());
    };
    for first in firsts {
        record_month(store, agreement_id, &current, *first, now).await?;
    }
    Ok(())
}

async fn record_month(
    store: &EventStore,
    agreement_id: &str,
    current: &Current,
    first: Date,
    now: Timestamp,
) -> Result<(), Error> {
    let inputs = current.inputs();
    let agreement = &current.agreement;
    let month = compute::month(&inputs, first);
    let mut missed = Vec::new();
    if month.levels.availability_met == Some(false) {
        missed.push("availability".to_owned());
    }
    if month.levels.reliability_met == Some(false) {
        missed.push("reliability".to_owned());
    }
    let content = &agreement.content;
    let missed_event = (!missed.is_empty()).then(|| ServiceLevelMissed {
        month: month_text(first),
        reference: content.reference.clone(),
        order_id: content.order_id.clone(),
        kind: content.kind.clone(),
        provider: content.provider.as_ref().map(|p| p.id.clone()),
        missed,
        figures: month.figures.clone(),
        targets: month.targets.clone(),
        causes: compute::causes(&inputs, first),
    });
    let measured = ServiceLevelMeasured {
        month: month_text(first),
        met: missed_event.is_none(),
        usage: Some((&month.usage).into()),
        figures: month.figures,
        targets: month.targets,
        days: month.days,
    };
    let command = ComplianceCommand::Measure {
        measured,
        missed: missed_event,
    };
    let meta = CommandMeta::system(TIMER, now);
    runner::run::<AgreementLevels, _, Error>(
        store,
        agreement_id,
        &CommandRequest::system(meta),
        Source::Log,
        async |_| Ok(Step::alone(command.clone())),
        |_, _| Ok(()),
    )
    .await?;
    Ok(())
}

/// Closes every month that ended (in its agreement's time zone) and was not
/// measured yet; answers when the next month ends.
pub async fn sweep_months(store: &EventStore, now: Timestamp) -> Result<Option<Timestamp>, Error> {
    let bound = super::queries::bound_agreements(store.reader()).await?;
    let mut next: Option<Timestamp> = None;
    for b in bound {
        let zone = TimeZone::get(&b.time_zone).unwrap_or(TimeZone::UTC);
        let (Ok(first_day), Ok(last_day)) =
            (b.first_day.parse::<Date>(), b.last_day.parse::<Date>())
        else {
            continue;
        };
        let mut month = match &b.measured_through {
            Some(m) => match super::report::month_days(m) {
                Ok((first, _)) => first.checked_add(1.month()).unwrap_or(first),
                Err(_) => continue,
            },
            None => first_day.first_of_month(),
        };
        // At most a year of months per sweep and agreement.
        let mut due = Vec::new();
        for _ in 0..12 {
            if month > last_day {
                break;
            }
            let end = compute::month_end(month, &zone);
            if end > now {
                next = Some(next.map_or(end, |n| n.min(end)));
                break;
            }
            due.push(month);
            month = match month.checked_add(1.month()) {
                Ok(m) => m,
                Err(_) => break,
            };
        }
        if !due.is_empty() {
            measure(store, &b.agreement_id, &due, now).await?;
        }
    }
    Ok(next)
}

/// After data for `endpoint` from `since` on arrived: every measured month of
/// its agreements from `since` on is computed again, and
/// `ServiceLevelCorrected` recorded where the figures changed.
pub async fn recheck(
    store: &EventStore,
    endpoint: &str,
    since: Timestamp,
    now: Timestamp,
) -> Result<(), Error> {
    let agreements = super::queries::agreements_of(store.reader(), endpoint).await?;
    for agreement_id in agreements {
        let levels = execute::load::<AgreementLevels>(store, &agreement_id).await?;
        let Some(binding) = &levels.aggregate.binding else {
            continue;
        };
        let zone = TimeZone::get(&binding.time_zone).unwrap_or(TimeZone::UTC);
        let since_month = month_text(since.to_zoned(zone).date().first_of_month());
        let months: Vec<String> = levels
            .aggregate
            .measured
            .keys()
            .filter(|m| **m >= since_month)
            .cloned()
            .collect();
        if months.is_empty() {
            continue;
        }
        let Some(current) = current(store, &agreement_id, now).await? else {
            continue;
        };
        let inputs = current.inputs();
        for m in months {
            let Ok((first, _)) = super::report::month_days(&m) else {
                continue;
            };
            let month = compute::month(&inputs, first);
            let (old, _) = &levels.aggregate.measured[&m];
            if *old == month.figures {
                continue;
            }
            let met = month.levels.availability_met != Some(false)
                && month.levels.reliability_met != Some(false);
            let command = ComplianceCommand::Correct {
                corrected: ServiceLevelCorrected {
                    month: m.clone(),
                    old: old.clone(),
                    usage: Some((&month.usage).into()),
                    new: month.figures,
                    met,
                    days: month.days,
                },
            };
            let meta = CommandMeta::system(TIMER, now);
            runner::run::<AgreementLevels, _, Error>(
                store,
                &agreement_id,
                &CommandRequest::system(meta),
                Source::Log,
                async |_| Ok(Step::alone(command.clone())),
                |_, _| Ok(()),
            )
            .await?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- ARGO

/// Where and how to pull ARGO's A/R results.
#[derive(Clone, Debug)]
pub struct ArgoSource {
    /// The web API's root, e.g. `https://api.argo.example.org`.
    pub url: String,
    /// The report, e.g. `Critical`.
    pub report: String,
    pub api_key: String,
}

/// Pulls ARGO's daily figures of every endpoint of `source`'s report over
/// `[from, to]` and imports what is new (as `pactum-argo`); answers
/// `(figures pulled, days imported)`.
pub async fn pull_argo(
    store: &EventStore,
    source: &ArgoSource,
    from: Date,
    to: Date,
    now: Timestamp,
) -> Result<(usize, usize), String> {
    let client = reqwest::Client::builder()
        .timeout(super::argo::TIMEOUT)
        .build()
        .map_err(|e| e.to_string())?;
    let figures = super::argo::pull(
        &client,
        &source.url,
        &source.report,
        &source.api_key,
        from,
        to,
    )
    .await
    .map_err(|e| format!("ARGO: {e}"))?;
    let pulled = figures.len();
    let mut days: BTreeMap<String, Vec<ImportedDay>> = BTreeMap::new();
    for figure in figures {
        days.entry(figure.endpoint).or_default().push(ImportedDay {
            day: figure.day,
            availability: figure.availability,
            reliability: figure.reliability,
            unknown: figure.unknown,
            downtime: figure.downtime,
        });
    }
    let meta = CommandMeta::system("pactum-argo", now);
    let imported = import_days(store, &source.report, days, &meta)
        .await
        .map_err(|e| e.to_string())?;
    Ok((pulled, imported))
}

/// Pulls the last three days from ARGO every `every`, until cancelled
/// (`serve --argo-url`); a failed pull is logged and retried at the next turn.
pub async fn pull_argo_every(
    store: EventStore,
    clock: std::sync::Arc<dyn crate::clock::Clock>,
    source: ArgoSource,
    every: std::time::Duration,
    cancel: tokio_util::sync::CancellationToken,
) {
    loop {
        let now = clock.now();
        let today = now.to_zoned(TimeZone::UTC).date();
        let from = today.checked_sub(3.days()).unwrap_or(today);
        let to = today.yesterday().unwrap_or(today);
        match pull_argo(&store, &source, from, to, now).await {
            Ok((pulled, imported)) => {
                tracing::info!(pulled, imported, report = %source.report, "ARGO pulled")
            }
            Err(error) => tracing::warn!(%error, "ARGO pull failed; retrying at the next turn"),
        }
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
    }
}
