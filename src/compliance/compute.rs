//! An agreement's service levels, computed from what its endpoints' events
//! say and the binding and targets in force each day: pure, so the compliance
//! view, the month's closing and the report compute them the same way.

use std::collections::BTreeMap;

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use pactum_events::monitoring::{
    Cause, DayLevels, ImportedDay, MeasuredTargets, MonitoringBound, MonthFigures, UsageRecord,
};
use pactum_projections::agreement_view::AgreementView;

use super::levels::{self, Levels};
use super::report::{AgreementCompliance, PeriodLevels, Usage};
use super::status::{Combine, Durations, Status, Timeline};
use super::usage;

/// What is known of one endpoint.
#[derive(Clone, Debug, Default)]
pub struct EndpointData {
    pub timeline: Timeline,
    pub imported: BTreeMap<Date, ImportedDay>,
}

/// An agreement's bindings, oldest first, each applying from its `from` day.
pub type Bindings = Vec<MonitoringBound>;

/// Everything the figures of one agreement depend on.
pub struct Inputs<'a> {
    pub agreement: &'a AgreementView,
    pub bindings: &'a Bindings,
    pub endpoints: &'a BTreeMap<String, EndpointData>,
    /// Usage records of the agreement's sites (the latest of each VM).
    pub usage: &'a [UsageRecord],
}

/// The time zone days are counted in: the latest binding's (UTC unbound).
pub fn zone_of(bindings: &Bindings) -> TimeZone {
    bindings
        .last()
        .and_then(|b| TimeZone::get(&b.time_zone).ok())
        .unwrap_or(TimeZone::UTC)
}

fn binding_on(bindings: &Bindings, day: Date) -> Option<&MonitoringBound> {
    bindings.iter().rev().find(|b| b.from <= day)
}

fn combine_of(binding: &MonitoringBound) -> Combine {
    if binding.combine == "any" {
        Combine::Any
    } else {
        Combine::All
    }
}

/// The targets of the version in force on `day` (the first version before
/// it was issued).
pub fn targets_on(agreement: &AgreementView, day: Date, zone: &TimeZone) -> MeasuredTargets {
    let number = |n: &serde_json::Number| n.as_f64().unwrap_or(0.0);
    let version = agreement
        .versions
        .iter()
        .rev()
        .find(|v| v.issued_at.to_zoned(zone.clone()).date() <= day)
        .or(agreement.versions.first());
    let targets = match version {
        Some(v) => &v.content.targets,
        None => &agreement.content.targets,
    };
    MeasuredTargets {
        availability_pct: number(&targets.availability_pct),
        reliability_pct: number(&targets.reliability_pct),
    }
}

/// A day's durations by how they count, where they come from, and ARGO's own
/// figures when the day was imported (durations in whole seconds would round
/// them).
fn day_figures(
    inputs: &Inputs<'_>,
    day: Date,
    zone: &TimeZone,
) -> (Durations, &'static str, Option<Levels>) {
    let (start, end) = levels::day_bounds(day, zone);
    let total = (end - start).get_seconds();
    let unknown_day = Durations {
        total,
        unknown: total,
        ..Durations::default()
    };
    let Some(binding) = binding_on(inputs.bindings, day) else {
        return (unknown_day, "none", None);
    };
    let empty = EndpointData::default();
    let data: Vec<&EndpointData> = binding
        .endpoints
        .iter()
        .map(|e| inputs.endpoints.get(e).unwrap_or(&empty))
        .collect();
    if data.is_empty() {
        return (unknown_day, "none", None);
    }
    let how = combine_of(binding);
    if data.iter().any(|d| d.imported.contains_key(&day)) {
        // ARGO's figures are per day: endpoints combine as their days do.
        let per_endpoint: Vec<(Durations, Levels)> = data
            .iter()
            .map(|d| match d.imported.get(&day) {
                Some(imported) => (
                    from_imported(imported, total),
                    Levels {
                        availability: imported.availability,
                        reliability: imported.reliability,
                    },
                ),
                None => {
                    let durations = d.timeline.durations(start, end);
                    (durations, levels::daily(&durations))
                }
            })
            .collect();
        let availability = |(_, l): &&(Durations, Levels)| l.availability.unwrap_or(-1.0);
        let chosen = match how {
            Combine::All => per_endpoint
                .iter()
                .min_by(|a, b| availability(a).total_cmp(&availability(b))),
            Combine::Any => per_endpoint
                .iter()
                .max_by(|a, b| availability(a).total_cmp(&availability(b))),
        };
        return match chosen {
            Some((durations, levels)) => (*durations, "imported", Some(*levels)),
            None => (unknown_day, "none", None),
        };
    }
    let timelines: Vec<&Timeline> = data.iter().map(|d| &d.timeline).collect();
    let combined = Timeline::combined_within(&timelines, how, start, end);
    let durations = combined.durations(start, end);
    let source = if durations.unknown == total {
        "none"
    } else {
        "measured"
    };
    (durations, source, None)
}

/// ARGO's day as durations: up = availability × (day − unknown).
fn from_imported(day: &ImportedDay, total: i64) -> Durations {
    let seconds = |fraction: f64| (fraction.clamp(0.0, 1.0) * total as f64).round() as i64;
    let unknown = seconds(day.unknown);
    let downtime = seconds(day.downtime);
    let known = total - unknown;
    let up = match day.availability {
        Some(a) => ((a / 100.0).clamp(0.0, 1.0) * known as f64).round() as i64,
        None => 0,
    };
    let unknown = if day.availability.is_none() {
        total
    } else {
        unknown
    };
    Durations {
        total,
        up: up.min(known),
        down: (known - up - downtime).max(0),
        unknown,
        downtime: downtime.min(known - up.min(known)),
    }
}

fn round5(x: f64) -> f64 {
    (x * 100_000.0).round() / 100_000.0
}

fn period_levels(
    period: String,
    levels: Levels,
    unknown_pct: f64,
    downtime_pct: f64,
    targets: &MeasuredTargets,
    source: &str,
) -> PeriodLevels {
    PeriodLevels {
        period,
        availability: levels.availability,
        reliability: levels.reliability,
        unknown_pct: round5(unknown_pct),
        downtime_pct: round5(downtime_pct),
        target_availability: targets.availability_pct,
        target_reliability: targets.reliability_pct,
        availability_met: levels.availability.map(|a| a >= targets.availability_pct),
        reliability_met: levels.reliability.map(|r| r >= targets.reliability_pct),
        source: source.to_owned(),
    }
}

/// The days of `month` (its first and last).
pub fn month_of(day: Date) -> (Date, Date) {
    let first = day.first_of_month();
    (first, first.last_of_month())
}

fn days(from: Date, to: Date) -> impl Iterator<Item = Date> {
    std::iter::successors(Some(from), move |d| {
        d.checked_add(1.day()).ok().filter(|next| *next <= to)
    })
    .take_while(move |d| *d <= to)
}

/// One day's levels against the targets in force that day, and the
/// durations they come from.
fn day_levels(inputs: &Inputs<'_>, day: Date, zone: &TimeZone) -> (Durations, PeriodLevels) {
    let (d, source, imported) = day_figures(inputs, day, zone);
    let targets = targets_on(inputs.agreement, day, zone);
    let pct = |part: i64| part as f64 / d.total.max(1) as f64 * 100.0;
    let levels = period_levels(
        day.to_string(),
        imported.unwrap_or_else(|| levels::daily(&d)),
        pct(d.unknown),
        pct(d.downtime),
        &targets,
        source,
    );
    (d, levels)
}

/// One month's figures, as closing it records them.
pub struct Month {
    pub levels: PeriodLevels,
    pub figures: MonthFigures,
    pub targets: MeasuredTargets,
    /// Each day's figures, oldest first.
    pub days: Vec<DayLevels>,
    pub usage: Usage,
}

/// The figures of the month holding `first` (its first day), its days' and
/// its usage.
pub fn month(inputs: &Inputs<'_>, first: Date) -> Month {
    let zone = zone_of(inputs.bindings);
    let (first, last) = month_of(first);
    let mut all = Vec::new();
    let mut days_out = Vec::new();
    let mut sources = std::collections::BTreeSet::new();
    for day in days(first, last) {
        let (d, of_day) = day_levels(inputs, day, &zone);
        days_out.push(DayLevels {
            day,
            availability: of_day.availability,
            reliability: of_day.reliability,
            unknown_pct: of_day.unknown_pct,
            downtime_pct: of_day.downtime_pct,
        });
        sources.insert(of_day.source);
        all.push(d);
    }
    let levels = levels::monthly(&all);
    let share = |part: fn(&Durations) -> i64| {
        all.iter()
            .map(|d| part(d) as f64 / d.total.max(1) as f64)
            .sum::<f64>()
            / all.len().max(1) as f64
            * 100.0
    };
    let unknown_pct = share(|d| d.unknown);
    let downtime_pct = share(|d| d.downtime);
    let targets = targets_on(inputs.agreement, last, &zone);
    let usage = usage::month(
        inputs.agreement,
        binding_on(inputs.bindings, last).map(|b| &b.accounting),
        inputs.usage,
        first,
        &zone,
    );
    let source = if sources.contains("imported") {
        "imported"
    } else if sources.contains("measured") {
        "measured"
    } else {
        "none"
    };
    let period = first.strftime("%Y-%m").to_string();
    let levels = period_levels(period, levels, unknown_pct, downtime_pct, &targets, source);
    Month {
        figures: MonthFigures {
            availability: levels.availability,
            reliability: levels.reliability,
            unknown_pct: levels.unknown_pct,
            downtime_pct: levels.downtime_pct,
        },
        levels,
        targets,
        days: days_out,
        usage,
    }
}

/// What took a month's figures down: each bound endpoint's CRITICAL and
/// DOWNTIME spans in the month, longest first (at most 50).
pub fn causes(inputs: &Inputs<'_>, first: Date) -> Vec<Cause> {
    let zone = zone_of(inputs.bindings);
    let (first, last) = month_of(first);
    let (start, _) = levels::day_bounds(first, &zone);
    let (_, end) = levels::day_bounds(last, &zone);
    let mut endpoints: Vec<&String> = inputs
        .bindings
        .iter()
        .filter(|b| b.from <= last)
        .flat_map(|b| &b.endpoints)
        .collect();
    endpoints.sort();
    endpoints.dedup();
    let mut causes: Vec<Cause> = Vec::new();
    for endpoint in endpoints {
        let Some(data) = inputs.endpoints.get(endpoint) else {
            continue;
        };
        for (from, to, status) in
            data.timeline
                .spans(start, end, &[Status::Critical, Status::Downtime])
        {
            causes.push(Cause {
                endpoint: endpoint.clone(),
                status: status.as_str().to_owned(),
                from,
                to,
            });
        }
    }
    causes.sort_by(|a, b| {
        (b.to - b.from)
            .get_seconds()
            .cmp(&(a.to - a.from).get_seconds())
            .then(a.from.cmp(&b.from))
            .then(a.endpoint.cmp(&b.endpoint))
    });
    causes.truncate(50);
    causes
}

/// The agreement's compliance over `[from, to]` (days in its time zone):
/// each day (when `daily`), each month touched, and each month's usage.
pub fn compliance(inputs: &Inputs<'_>, from: Date, to: Date, daily: bool) -> AgreementCompliance {
    let zone = zone_of(inputs.bindings);
    let agreement = inputs.agreement;
    let content = &agreement.content;
    let mut days_out = Vec::new();
    if daily {
        for day in days(from, to) {
            days_out.push(day_levels(inputs, day, &zone).1);
        }
    }
    let mut months = Vec::new();
    let mut usages: Vec<Usage> = Vec::new();
    let mut first = from.first_of_month();
    while first <= to {
        let month = month(inputs, first);
        months.push(month.levels);
        usages.push(month.usage);
        match first.checked_add(1.month()) {
            Ok(next) => first = next,
            Err(_) => break,
        }
    }
    let binding = inputs.bindings.last();
    AgreementCompliance {
        agreement_id: agreement.id.clone(),
        reference: content.reference.clone(),
        kind: content.kind.clone(),
        org: content.customer.org.clone(),
        provider: content.provider.as_ref().map(|p| p.id.clone()),
        service: content.service.name.clone(),
        time_zone: binding.map_or_else(|| "UTC".to_owned(), |b| b.time_zone.clone()),
        endpoints: binding.map(|b| b.endpoints.clone()).unwrap_or_default(),
        combine: binding.map_or_else(|| "all".to_owned(), |b| b.combine.clone()),
        days: days_out,
        months,
        usage: usages,
    }
}

/// The instant `month` (its first day) ends in `zone`.
pub fn month_end(first: Date, zone: &TimeZone) -> Timestamp {
    levels::day_bounds(first.last_of_month(), zone).1
}
