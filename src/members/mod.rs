//! Memberships: who belongs to which order-type group (its shifters) and which
//! resource provider (its operators) — the central list of people the
//! replaced system lacked (ADR 0014).
//!
//! A token is a credential; what its holder may work on comes from here. Each
//! group and provider is a `membership` aggregate ([`aggregate`]) whose events
//! an inline table keeps ([`queries::MembershipTable`]), so authentication
//! reads a subject's memberships in the request's one indexed read, and a
//! removal holds from the next request on every node. [`members`] folds the
//! log instead, for "who was a shifter of compute on 1 March".

pub mod aggregate;
pub mod commands;
pub mod errors;
pub mod queries;

use std::collections::BTreeMap;

use jiff::Timestamp;
use pactum_events::membership::{MemberOf, MembershipEvent};
use serde::Serialize;

use crate::catalogue::Catalogue;
use crate::execute::{self, CommandMeta};
use crate::runner::{self, CommandRequest, Ran, RunError, Source, Step};
use crate::store::{AppendRequest, EventStore, StoreError};
use crate::validation::{self, FieldError};

pub use aggregate::Membership;
use commands::MembershipCommand;
use errors::MembershipError;

/// One member, as the API shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Member {
    pub subject: String,
    /// When it (last) became a member.
    pub since: Timestamp,
}

/// A membership as `PUT .../members/{subject}` answers it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct MemberView {
    /// `group` or `provider`.
    #[schema(value_type = String)]
    pub of: MemberOf,
    /// The group's or provider's id.
    pub scope: String,
    pub subject: String,
    /// When it (last) became a member.
    #[schema(value_type = String, format = DateTime)]
    pub since: Timestamp,
}

#[derive(Debug, thiserror::Error)]
pub enum MembersError {
    #[error("invalid member: {0:?}")]
    Invalid(Vec<FieldError>),
    #[error("no {of} {scope:?}")]
    UnknownScope { of: &'static str, scope: String },
    #[error("{of} {scope} is retired and takes no new members")]
    RetiredScope { of: &'static str, scope: String },
    #[error(transparent)]
    Refused(#[from] MembershipError),
    #[error(transparent)]
    Run(#[from] RunError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Checks that `scope` names a group or provider of the catalogue; a retired
/// one takes no new members (`adding`), though its members may still leave.
fn check_scope(
    catalogue: &Catalogue,
    of: MemberOf,
    scope: &str,
    adding: bool,
) -> Result<(), MembersError> {
    let (known, retired) = match of {
        MemberOf::Group => (
            catalogue.has_group(scope),
            catalogue.retired.groups.contains_key(scope),
        ),
        MemberOf::Provider => (
            catalogue.has_provider(scope),
            catalogue.retired.providers.contains_key(scope),
        ),
    };
    if !known {
        return Err(MembersError::UnknownScope {
            of: of.as_str(),
            scope: scope.to_owned(),
        });
    }
    if adding && retired {
        return Err(MembersError::RetiredScope {
            of: of.as_str(),
            scope: scope.to_owned(),
        });
    }
    Ok(())
}

/// Makes `subject` a member of `of` `scope` (an admin's command); a member
/// already stays one, unchanged.
pub async fn add(
    store: &EventStore,
    catalogue: &Catalogue,
    of: MemberOf,
    scope: &str,
    subject: &str,
    request: &CommandRequest,
) -> Result<Ran<MemberView>, MembersError> {
    check_scope(catalogue, of, scope, true)?;
    let subject =
        validation::subject("subject", subject).map_err(|e| MembersError::Invalid(vec![e]))?;
    let command = MembershipCommand::Add {
        by: request.meta.principal.clone(),
        of,
        scope: scope.to_owned(),
        subject: subject.clone(),
        token: None,
    };
    let command = &command;
    let now = request.meta.now;
    runner::run::<Membership, _, MembersError>(
        store,
        &of.aggregate_id(scope),
        request,
        Source::Log,
        async |_| Ok(Step::alone(command.clone())),
        |loaded, _| {
            let since = if loaded.aggregate.is_member(&subject) {
                since_of(loaded, &subject).unwrap_or(now)
            } else {
                now
            };
            Ok(MemberView {
                of,
                scope: scope.to_owned(),
                subject: subject.clone(),
                since,
            })
        },
    )
    .await
}

/// Takes `subject` out of `of` `scope` (an admin's command).
pub async fn remove(
    store: &EventStore,
    catalogue: &Catalogue,
    of: MemberOf,
    scope: &str,
    subject: &str,
    request: &CommandRequest,
) -> Result<Ran<()>, MembersError> {
    check_scope(catalogue, of, scope, false)?;
    let command = MembershipCommand::Remove {
        by: request.meta.principal.clone(),
        of,
        scope: scope.to_owned(),
        subject: subject.trim().to_owned(),
    };
    let command = &command;
    runner::run::<Membership, _, MembersError>(
        store,
        &of.aggregate_id(scope),
        request,
        Source::Log,
        async |_| Ok(Step::alone(command.clone())),
        |_, _| Ok(()),
    )
    .await
}

/// When `subject` last joined, in `loaded`'s history.
fn since_of(loaded: &execute::Loaded<Membership>, subject: &str) -> Option<Timestamp> {
    loaded
        .history
        .iter()
        .rev()
        .find_map(|entry| match &**entry {
            (recorded, MembershipEvent::MemberAdded(added)) if added.subject == subject => {
                Some(recorded.recorded_at)
            }
            _ => None,
        })
}

/// The members of `of` `scope` now, or as they were at `as_of` (folded from
/// the log), by subject.
pub async fn members(
    store: &EventStore,
    of: MemberOf,
    scope: &str,
    as_of: Option<Timestamp>,
) -> Result<Vec<Member>, StoreError> {
    let loaded = execute::load::<Membership>(store, &of.aggregate_id(scope)).await?;
    let mut members = BTreeMap::new();
    for (recorded, event) in loaded.history.iter().map(|entry| &**entry) {
        if as_of.is_some_and(|at| recorded.recorded_at > at) {
            break;
        }
        match event {
            MembershipEvent::MemberAdded(added) => {
                members.insert(added.subject.clone(), recorded.recorded_at);
            }
            MembershipEvent::MemberRemoved(removed) => {
                members.remove(&removed.subject);
            }
        }
    }
    Ok(members
        .into_iter()
        .map(|(subject, since)| Member { subject, since })
        .collect())
}

/// The appends that make `subject` a member of each of `scopes` it is not a
/// member of yet, to commit with another command: an admin issuing a
/// shifter's or an operator's token `token` records what the token grants.
pub async fn joining(
    store: &EventStore,
    of: MemberOf,
    scopes: impl IntoIterator<Item = &str>,
    subject: &str,
    token: &str,
    meta: &CommandMeta,
) -> Result<Vec<AppendRequest>, MembersError> {
    let mut appends = Vec::new();
    for scope in scopes {
        let loaded = execute::load::<Membership>(store, &of.aggregate_id(scope)).await?;
        if loaded.aggregate.is_member(subject) {
            continue;
        }
        let command = MembershipCommand::Add {
            by: meta.principal.clone(),
            of,
            scope: scope.to_owned(),
            subject: subject.to_owned(),
            token: Some(token.to_owned()),
        };
        appends.push(runner::together(&loaded, command, meta).await?);
    }
    Ok(appends)
}

/// On the first start of a store from before memberships, records what each
/// live token grants (a shifter's groups, an operator's provider) as
/// memberships, with `pactum-upgrade` as the actor, each naming its token:
/// everyone keeps exactly what they had. Does nothing once any membership was
/// recorded. Answers how many memberships it recorded.
pub async fn upgrade_from_tokens(
    store: &EventStore,
    now: Timestamp,
) -> Result<usize, MembersError> {
    if queries::any_recorded(store.reader()).await? {
        return Ok(0);
    }
    let grants = queries::token_grants(store.reader()).await?;
    let meta = CommandMeta::system("pactum-upgrade", now);
    let mut recorded = 0;
    let mut seen = std::collections::BTreeSet::new();
    for (kind, scope, subject, token_id) in grants {
        let of = if kind == "group" {
            MemberOf::Group
        } else {
            MemberOf::Provider
        };
        if !seen.insert((kind, scope.clone(), subject.clone())) {
            continue;
        }
        let appends = joining(store, of, [scope.as_str()], &subject, &token_id, &meta).await?;
        recorded += appends.len();
        if !appends.is_empty() {
            store
                .append_all(appends)
                .await
                .map_err(|e| MembersError::Run(RunError::Append(e)))?;
        }
    }
    if recorded > 0 {
        tracing::info!(
            recorded,
            "memberships recorded from the grants of live tokens"
        );
    }
    Ok(recorded)
}

/// Whether `subject` is one of `group`'s shifters now.
pub async fn is_group_shifter(
    store: &crate::store::EventStore,
    subject: &str,
    group: &str,
) -> Result<bool, StoreError> {
    queries::is_member(store, "group", group, subject).await
}
