//! Usage against commitment: accounting records (APEL cloud) matched to an
//! agreement by site and the customer's group, in core-hours per month.
//!
//! - used: each record's `CpuCount × WallDuration`, spread evenly over the
//!   time it ran (`StartTime` to `StartTime + WallDuration`), the part in the
//!   month counted;
//! - committed: `cpu_cores × vm_instances` (one instance if not given) × the
//!   hours of the month the agreement is valid; or, for a service ordered in
//!   `cpu_hours`, that many spread evenly over the validity;
//! - flag: `under` below 50 % of the commitment, `over` above 100 %, else
//!   `within` (`none` with nothing committed).

use jiff::civil::Date;
use jiff::tz::TimeZone;
use pactum_events::monitoring::{AccountingMatch, UsageRecord};
use pactum_projections::agreement_view::AgreementView;

use super::levels::day_bounds;
use super::report::Usage;

/// Below this share of the commitment, usage is `under`.
pub const UNDER_PCT: f64 = 50.0;

/// Whether `record` counts for an agreement matched by `matching` (no sites:
/// any site; no groups: the customer's organisation).
pub fn matches(record: &UsageRecord, matching: &AccountingMatch, org: &str) -> bool {
    let site = matching.sites.is_empty() || matching.sites.iter().any(|s| s == &record.site);
    let org_group = [org.to_owned()];
    let groups: &[String] = if matching.groups.is_empty() {
        &org_group
    } else {
        &matching.groups
    };
    let group = groups.iter().any(|g| {
        record.local_group.as_deref() == Some(g.as_str())
            || record.fqan.as_deref().is_some_and(|fqan| {
                fqan == g || fqan.trim_start_matches('/').split('/').next() == Some(g.as_str())
            })
    });
    site && group
}

fn hours_between(a: jiff::Timestamp, b: jiff::Timestamp) -> f64 {
    (b - a).get_seconds().max(0) as f64 / 3600.0
}

fn number(value: Option<&serde_json::Value>) -> Option<f64> {
    value.and_then(|v| {
        v.as_f64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
    })
}

/// The month holding `first` (its first day): core-hours used and committed.
pub fn month(
    agreement: &AgreementView,
    matching: Option<&AccountingMatch>,
    records: &[UsageRecord],
    first: Date,
    zone: &TimeZone,
) -> Usage {
    let content = &agreement.content;
    let (month_start, _) = day_bounds(first, zone);
    let (_, month_end) = day_bounds(first.last_of_month(), zone);
    let default_match = AccountingMatch::default();
    let matching = matching.unwrap_or(&default_match);
    let mut used = 0.0;
    let mut matched = 0;
    for record in records
        .iter()
        .filter(|r| matches(r, matching, &content.customer.org))
    {
        let ran_until = record.start + jiff::SignedDuration::from_secs(record.wall_seconds as i64);
        let overlap = hours_between(record.start.max(month_start), ran_until.min(month_end));
        if overlap <= 0.0 {
            continue;
        }
        matched += 1;
        used += overlap * record.cpu_count as f64;
    }
    let (valid_from, _) = day_bounds(content.validity.start, zone);
    let (_, valid_to) = day_bounds(content.validity.end, zone);
    let valid_hours = hours_between(valid_from.max(month_start), valid_to.min(month_end));
    let parameters = &content.parameters;
    let committed = match (
        number(parameters.get("cpu_cores")),
        number(parameters.get("cpu_hours")),
    ) {
        (Some(cores), _) => {
            cores * number(parameters.get("vm_instances")).unwrap_or(1.0) * valid_hours
        }
        (None, Some(hours)) => {
            let total = hours_between(valid_from, valid_to);
            if total > 0.0 {
                hours * valid_hours / total
            } else {
                0.0
            }
        }
        (None, None) => 0.0,
    };
    let round2 = |x: f64| (x * 100.0).round() / 100.0;
    let used_pct = (committed > 0.0).then(|| round2(used / committed * 100.0));
    let flag = match used_pct {
        None => "none",
        Some(p) if p > 100.0 => "over",
        Some(p) if p < UNDER_PCT => "under",
        Some(_) => "within",
    };
    Usage {
        period: first.strftime("%Y-%m").to_string(),
        used_core_hours: round2(used),
        committed_core_hours: round2(committed),
        used_pct,
        flag: flag.to_owned(),
        records: matched,
    }
}

/// The latest record of each VM, in the order they were recorded.
pub fn latest(records: impl IntoIterator<Item = UsageRecord>) -> Vec<UsageRecord> {
    let mut by_vm: std::collections::BTreeMap<(String, String), UsageRecord> =
        std::collections::BTreeMap::new();
    for record in records {
        by_vm.insert((record.site.clone(), record.vm_uuid.clone()), record);
    }
    by_vm.into_values().collect()
}
