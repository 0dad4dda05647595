//! API tokens: minted by `pactum token create` or `POST /v1/tokens`, shown once,
//! stored as SHA-256. Who may issue, see and revoke which is `policy`'s
//! (`may_issue_token`, `may_hold_token`), decided in the `access_token` aggregate.
//!
//! A token is 256 random bits, so a plain SHA-256 is the right hash: there is
//! nothing to brute-force, and checking one costs a microsecond, not the
//! deliberate slowness a password hash needs.

use std::collections::BTreeSet;

use jiff::Timestamp;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::access::aggregate::AccessToken;
use crate::access::commands::AccessCommand;
use crate::access::errors::AccessError;
use crate::access::policy;
use crate::access::queries::{self, TokenFilter};
use crate::access::{Principal, Role};
use crate::catalogue::Catalogue;
use crate::execute::CommandMeta;
use crate::members;
use crate::runner::{self, CommandRequest, Effect, Ran, RunError, Source, Step};
use crate::store::{DbPool, EventStore, StoreError};
use crate::validation::{self, FieldError};
use pactum_events::membership::MemberOf;

/// Prefix of every token, so that a leaked one is recognisable in logs and scanners.
pub const TOKEN_PREFIX: &str = "pct_";

/// What `pactum token create` asks for, unvalidated.
#[derive(Clone, Debug, Default)]
pub struct TokenRequest {
    pub subject: String,
    pub role: String,
    pub org: Option<String>,
    pub groups: Vec<String>,
    pub provider: Option<String>,
    pub expires_at: Option<Timestamp>,
    /// Where notification mail for the subject goes.
    pub email: Option<String>,
}

impl TokenRequest {
    /// The principal this token will authenticate as, checked against the catalogue:
    /// each role takes exactly the scope it needs, and that scope must exist.
    pub fn validate(&self, catalogue: &Catalogue) -> Result<Principal, Vec<FieldError>> {
        let mut errors = Vec::new();
        let subject = validation::subject("subject", &self.subject).map_err(|e| errors.push(e));
        if let Some(email) = &self.email
            && email.parse::<lettre::Address>().is_err()
        {
            errors.push(FieldError::new(
                "email",
                format!("{email:?} is not an e-mail address"),
            ));
        }
        let not_for = |flag: &str, role: &str| {
            FieldError::new(flag, format!("does not apply to role {role}"))
        };
        let role = self.role.as_str();
        if role != "customer" && self.org.is_some() {
            errors.push(not_for("org", role));
        }
        if role != "shifter" && !self.groups.is_empty() {
            errors.push(not_for("groups", role));
        }
        if role != "provider" && self.provider.is_some() {
            errors.push(not_for("provider", role));
        }
        let role = match role {
            "customer" => match &self.org {
                Some(org) => validation::identifier("org", org)
                    .map(|org| Role::Customer { org })
                    .map_err(|e| errors.push(e))
                    .ok(),
                None => {
                    errors.push(FieldError::new("org", "is required for role customer"));
                    None
                }
            },
            // A shifter's token names the groups it grants (recorded as
            // memberships when an admin issues it); without any, its holder
            // works where memberships given directly say.
            "shifter" => {
                for group in &self.groups {
                    if !catalogue.has_group(group) {
                        let known = catalogue.groups.keys().cloned().collect::<Vec<_>>();
                        errors.push(FieldError::new(
                            "groups",
                            format!("unknown group {group:?} (known: {})", known.join(", ")),
                        ));
                    }
                }
                Some(Role::Shifter {
                    groups: self.groups.iter().cloned().collect::<BTreeSet<_>>(),
                })
            }
            "provider" => match &self.provider {
                Some(provider) if catalogue.has_provider(provider) => Some(Role::Provider {
                    providers: BTreeSet::from([provider.clone()]),
                }),
                Some(provider) => {
                    errors.push(FieldError::new(
                        "provider",
                        format!("unknown provider {provider:?}"),
                    ));
                    None
                }
                None => {
                    errors.push(FieldError::new("provider", "is required for role provider"));
                    None
                }
            },
            "auditor" => Some(Role::Auditor),
            "monitoring" => Some(Role::Monitoring),
            "admin" => Some(Role::Admin),
            other => {
                errors.push(FieldError::new(
                    "role",
                    format!(
                        "unknown role {other:?}: one of customer, shifter, provider, auditor, monitoring, admin"
                    ),
                ));
                None
            }
        };
        match (subject, role) {
            (Ok(subject), Some(role)) if errors.is_empty() => Ok(Principal::new(subject, role)),
            _ => Err(errors),
        }
    }
}

/// A freshly minted token: the secret (shown once) and its id.
#[derive(Debug)]
pub struct IssuedToken {
    pub token: String,
    pub token_id: String,
    pub principal: Principal,
    pub email: Option<String>,
    pub issued_at: Timestamp,
    pub expires_at: Option<Timestamp>,
}

/// What is kept under an issue's idempotency key: the token's id, never its
/// secret, so a retry can say which token the key already minted.
#[derive(Debug, Serialize, Deserialize)]
struct KeptIssue {
    token_id: String,
}

#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    #[error("invalid token request: {}", join_errors(.0))]
    Invalid(Vec<FieldError>),
    #[error(transparent)]
    Refused(#[from] AccessError),
    /// A retry (same `Idempotency-Key`, same request) of an issue that already
    /// minted `token_id`: its secret was shown once and is not kept, so it
    /// cannot be answered again, and a second token is not minted.
    #[error(
        "this Idempotency-Key already issued token {token_id}; its secret was shown once \
         and is not kept: revoke {token_id} if the secret was lost, and create another \
         with a new key"
    )]
    Retried { token_id: String },
    #[error(transparent)]
    Run(#[from] RunError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<members::MembersError> for IssueError {
    fn from(error: members::MembersError) -> Self {
        match error {
            members::MembersError::Run(e) => Self::Run(e),
            members::MembersError::Store(e) => Self::Store(e),
            // Joining a group the token names was checked against the
            // catalogue already; anything else is refused as not allowed.
            _ => Self::Refused(AccessError::NotAllowed),
        }
    }
}

fn join_errors(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    hex::encode(buf)
}

/// Mints a token for `request` and records its issue as an event, with
/// `meta`'s principal as its actor (who must be allowed to issue it). With an
/// idempotency key, a retry mints nothing and answers [`IssueError::Retried`].
pub async fn issue(
    store: &EventStore,
    catalogue: &Catalogue,
    request: &TokenRequest,
    meta: &CommandMeta,
) -> Result<IssuedToken, IssueError> {
    let mut grant = request.validate(catalogue);
    if let Some(expires_at) = request.expires_at
        && expires_at <= meta.now
    {
        let past = FieldError::new("expires_at", format!("{expires_at} is not in the future"));
        match &mut grant {
            Ok(_) => grant = Err(vec![past]),
            Err(errors) => errors.push(past),
        }
    }
    let grant = grant.map_err(IssueError::Invalid)?;
    let token = format!("{TOKEN_PREFIX}{}", random_hex(32));
    let token_id = format!("tok_{}", random_hex(8));
    let command = (
        token_id.clone(),
        AccessCommand::Issue {
            by: meta.principal.clone(),
            grant: grant.clone(),
            token_sha256: hash_token(&token),
            expires_at: request.expires_at,
            email: request.email.clone(),
        },
    );
    let command = &command;
    // What an admin's token grants a shifter or an operator is recorded as
    // memberships, in the same commit: they are where rights come from.
    let grants_members = policy::may_do(&meta.principal, policy::Capability::ManageMembers);
    let joins: Vec<(MemberOf, &String)> = match &grant.role {
        Role::Shifter { groups } if grants_members => {
            groups.iter().map(|g| (MemberOf::Group, g)).collect()
        }
        Role::Provider { providers } if grants_members => {
            providers.iter().map(|p| (MemberOf::Provider, p)).collect()
        }
        _ => Vec::new(),
    };
    let joins = &joins;
    let token_ref = &token_id;
    let subject = &grant.subject;
    let run_request = CommandRequest {
        meta: meta.clone(),
        if_match: None,
        effect: Effect::Created,
    };
    let ran = runner::run::<AccessToken, _, IssueError>(
        store,
        &token_id,
        &run_request,
        Source::Log,
        async |_| {
            let mut step = Step::alone(command.clone());
            for (of, scope) in joins {
                step.together.extend(
                    members::joining(store, *of, [scope.as_str()], subject, token_ref, meta)
                        .await
                        .map_err(IssueError::from)?,
                );
            }
            Ok(step)
        },
        |_, _| {
            Ok(KeptIssue {
                token_id: token_id.clone(),
            })
        },
    )
    .await?;
    match ran {
        Ran::Done { .. } => Ok(IssuedToken {
            token,
            token_id,
            principal: grant,
            email: request.email.clone(),
            issued_at: meta.now,
            expires_at: request.expires_at,
        }),
        Ran::Replayed(replayed) => {
            let kept: KeptIssue =
                serde_json::from_str(&replayed.body).map_err(|e| StoreError::CorruptRow {
                    table: "idempotency",
                    key: meta
                        .idempotency
                        .as_ref()
                        .map_or_else(String::new, |i| i.key.clone()),
                    reason: e.to_string(),
                })?;
            Err(IssueError::Retried {
                token_id: kept.token_id,
            })
        }
    }
}

/// Revokes a token by id; it stops working at once, in every process.
pub async fn revoke(
    store: &EventStore,
    token_id: &str,
    reason: Option<String>,
    meta: &CommandMeta,
) -> Result<(), IssueError> {
    let command = AccessCommand::Revoke {
        by: meta.principal.clone(),
        reason,
    };
    runner::set::<AccessToken, IssueError>(store, token_id, meta, (token_id.to_owned(), command))
        .await?;
    Ok(())
}

/// Revokes a token by id unless it is revoked already: `DELETE /v1/tokens/{id}`,
/// which may be repeated.
pub async fn withdraw(
    store: &EventStore,
    token_id: &str,
    meta: &CommandMeta,
) -> Result<(), IssueError> {
    match revoke(store, token_id, None, meta).await {
        Err(IssueError::Refused(AccessError::AlreadyRevoked)) => Ok(()),
        other => other,
    }
}

/// The principal a bearer token authenticates, if it is known, unexpired and
/// not revoked. One indexed read per request, so a revocation (by any process)
/// holds from the next request; the hash is one SHA-256 of a 256-bit random
/// token, no slow password hash.
pub async fn authenticate(
    store: &EventStore,
    token: &str,
    now: Timestamp,
) -> Result<Option<Principal>, StoreError> {
    if !token.starts_with(TOKEN_PREFIX) {
        return Ok(None);
    }
    authenticate_hash(store, &hash_token(token), now).await
}

/// [`authenticate`] by the token's SHA-256 (a console session signed in with
/// a token keeps only its hash).
pub async fn authenticate_hash(
    store: &EventStore,
    token_sha256: &str,
    now: Timestamp,
) -> Result<Option<Principal>, StoreError> {
    let rows = queries::live_token(store, token_sha256, now).await?;
    let Some((subject, role, org, capped, ..)) = rows.first().cloned() else {
        return Ok(None);
    };
    // What a token grants (a shifter's groups, an operator's provider) holds
    // while its holder is still a member there; memberships an admin gave the
    // person directly hold for every token it has (ADR 0014), unless the
    // token is capped (its holder narrowed it).
    let (mut groups, mut providers) = (BTreeSet::new(), BTreeSet::new());
    let (mut other_groups, mut other_providers) = (BTreeSet::new(), BTreeSet::new());
    for (.., kind, scope, by_token, granted) in rows {
        let (Some(kind), Some(scope)) = (kind, scope) else {
            continue;
        };
        let direct = by_token == Some(0) && capped == 0;
        let (own, other, kind_role) = match kind.as_str() {
            "group" => (&mut groups, &mut other_groups, "shifter"),
            "provider" => (&mut providers, &mut other_providers, "provider"),
            _ => continue,
        };
        if role == kind_role && (granted == Some(1) || direct) {
            own.insert(scope);
        } else if role != kind_role && direct {
            other.insert(scope);
        }
    }
    let role = match (role.as_str(), org) {
        ("customer", Some(org)) => Role::Customer { org },
        ("shifter", _) => Role::Shifter { groups },
        ("provider", _) => Role::Provider { providers },
        ("auditor", _) => Role::Auditor,
        ("monitoring", _) => Role::Monitoring,
        ("admin", _) => Role::Admin,
        _ => return Ok(None),
    };
    let mut principal = Principal::new(subject, role);
    if !other_groups.is_empty() {
        principal.also.push(Role::Shifter {
            groups: other_groups,
        });
    }
    if !other_providers.is_empty() {
        principal.also.push(Role::Provider {
            providers: other_providers,
        });
    }
    Ok(Some(principal))
}

/// When the bearer token `token` expires (`None`: never, or no such token).
pub async fn expiry_of(pool: &DbPool, token: &str) -> Result<Option<Timestamp>, StoreError> {
    Ok(queries::expiry(pool, &hash_token(token)).await?.flatten())
}

/// One row of `pactum token list`.
#[derive(Debug)]
pub struct TokenListing {
    pub token_id: String,
    pub subject: String,
    pub role: String,
    /// The organisation, provider or groups the token is scoped to.
    pub scope: String,
    pub issued_at: i64,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// Every token, in the order they were issued (`pactum token list`).
pub async fn list(pool: &DbPool) -> Result<Vec<TokenListing>, StoreError> {
    let rows = queries::tokens(pool).await?;
    let mut listings = Vec::with_capacity(rows.len());
    for (token_id, subject, role, org, provider, issued_at, expires_at, revoked_at) in rows {
        let scope = match org.or(provider) {
            Some(scope) => scope,
            None => queries::groups_of(pool, &token_id)
                .await?
                .into_iter()
                .collect::<Vec<_>>()
                .join(","),
        };
        listings.push(TokenListing {
            token_id,
            subject,
            role,
            scope,
            issued_at,
            expires_at,
            revoked_at,
        });
    }
    Ok(listings)
}

/// A token as `GET /v1/tokens` shows it: never its secret nor its hash.
#[derive(Clone, Debug)]
pub struct TokenRecord {
    pub token_id: String,
    pub subject: String,
    pub role: String,
    pub org: Option<String>,
    pub groups: Vec<String>,
    pub provider: Option<String>,
    pub email: Option<String>,
    pub issued_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
}

impl TokenRecord {
    /// `revoked`, `expired` (at `now`) or `active`.
    pub fn status(&self, now: Timestamp) -> &'static str {
        match (self.revoked_at, self.expires_at) {
            (Some(_), _) => "revoked",
            (None, Some(expires)) if expires <= now => "expired",
            _ => "active",
        }
    }
}

/// The tokens `principal` holds (those of its subject), or, if it may manage
/// every token, all of them (only `subject`'s if given).
pub async fn records(
    pool: &DbPool,
    principal: &Principal,
    subject: Option<&str>,
) -> Result<Vec<TokenRecord>, StoreError> {
    let filter = if policy::may_do(principal, policy::Capability::ManageTokens) {
        subject.map_or(TokenFilter::All, TokenFilter::Subject)
    } else {
        TokenFilter::Subject(&principal.subject)
    };
    read_records(pool, filter).await
}

/// One token, if `principal` may hold it (else, as if it did not exist).
pub async fn record(
    pool: &DbPool,
    principal: &Principal,
    token_id: &str,
) -> Result<Option<TokenRecord>, StoreError> {
    Ok(read_records(pool, TokenFilter::Id(token_id))
        .await?
        .into_iter()
        .find(|record| policy::may_hold_token(principal, &record.subject)))
}

async fn read_records(
    pool: &DbPool,
    filter: TokenFilter<'_>,
) -> Result<Vec<TokenRecord>, StoreError> {
    let at = |us: i64| Timestamp::from_microsecond(us).unwrap_or(Timestamp::UNIX_EPOCH);
    let rows = queries::token_records(pool, filter).await?;
    let mut records = Vec::with_capacity(rows.len());
    for (token_id, subject, role, org, provider, email, issued, expires, revoked) in rows {
        let groups = if role == "shifter" {
            queries::groups_of(pool, &token_id)
                .await?
                .into_iter()
                .collect()
        } else {
            Vec::new()
        };
        records.push(TokenRecord {
            token_id,
            subject,
            role,
            org,
            groups,
            provider,
            email,
            issued_at: at(issued),
            expires_at: expires.map(at),
            revoked_at: revoked.map(at),
        });
    }
    Ok(records)
}
