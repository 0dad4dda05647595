//! Handling targets: how fast the orders of a group (or of one of its services)
//! are to be answered and decided, in business time, and the timer that records
//! when an order's clock passes its warning threshold or its deadline.
//!
//! Targets are events of the `handling_targets` aggregate, one per key (the group,
//! or `<group>/<service>`, which takes precedence). Each definition is a new
//! version; `handling_targets` (an inline table, every version) lets a submission
//! pin the version in force in the same breath, on any node. The clocks
//! themselves live in the order ([`crate::orders::clocks`]).
//!
//! - [`commands`] — what an admin sends, validated into a definition.
//! - [`aggregate`] — the `handling_targets` aggregate; [`errors`] — why it refuses.
//! - [`queries`] — the SQL: the `handling_targets` inline table, the timer's reads.
//! - [`timer`] — records warnings and breaches as they fall due.

pub mod aggregate;
pub mod commands;
pub mod errors;
pub mod queries;
pub mod timer;

pub use aggregate::Targets;
pub use commands::TargetsRequest;
pub use errors::{DefineError, TargetsError};

use pactum_events::handling::{HandlingTargetsDefined, target_key};
use pactum_events::order::HandlingTargetsPinned;

use crate::catalogue::Catalogue;
use crate::execute::CommandMeta;
use crate::runner;
use crate::store::{EventStore, StoreError};

/// The warning threshold when a definition gives none.
pub const DEFAULT_WARNING_PERCENT: u8 = 75;

/// Defines the targets of `group` (or of `service` in it): a new version, in
/// force for orders submitted from now on. Returns the definition as stored.
pub async fn define(
    store: &EventStore,
    catalogue: &Catalogue,
    group: &str,
    service: Option<&str>,
    request: &TargetsRequest,
    meta: &CommandMeta,
) -> Result<HandlingTargetsDefined, DefineError> {
    let definition = request
        .validate(catalogue, group, service)
        .map_err(DefineError::Invalid)?;
    let key = definition.key();
    let after: Targets = runner::set::<Targets, DefineError>(
        store,
        &key,
        meta,
        (meta.principal.clone(), definition),
    )
    .await?;
    Ok(after.current().expect("defined"))
}

/// The targets in force for a new order of `service` in `group`: the service's
/// own, else its group's, else none.
pub async fn in_force(
    store: &EventStore,
    group: &str,
    service: &str,
) -> Result<Option<HandlingTargetsPinned>, StoreError> {
    let service_key = target_key(group, Some(service));
    let rows = queries::newest_first(store, [&service_key, group]).await?;
    let pick = rows
        .iter()
        .find(|(key, _, _)| *key == service_key)
        .or_else(|| rows.first());
    let Some(definition) = pick else {
        return Ok(None);
    };
    Ok(Some(pinned(queries::decode(definition)?)))
}

/// What an order copies of a definition.
pub fn pinned(defined: HandlingTargetsDefined) -> HandlingTargetsPinned {
    HandlingTargetsPinned {
        key: defined.key(),
        version: defined.version,
        first_response_seconds: defined.first_response_seconds,
        decision_seconds: defined.decision_seconds,
        warning_percent: defined.warning_percent,
        calendar: defined.calendar,
    }
}

/// One version of one key's targets.
pub async fn version(
    store: &EventStore,
    key: &str,
    version: u32,
) -> Result<Option<HandlingTargetsDefined>, StoreError> {
    queries::version(store, key, version).await
}

/// The current version of every key, by key.
pub async fn current(store: &EventStore) -> Result<Vec<HandlingTargetsDefined>, StoreError> {
    queries::current(store).await
}

/// Keeps `handling_targets` in step with the definitions, in their transaction
/// (its SQL is in [`queries`]).
pub struct TargetsTable;
