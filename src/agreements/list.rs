//! `GET /v1/agreements`: the `agreements` projection, scoped to the caller.

use std::collections::BTreeSet;

use jiff::Timestamp;
use pactum_projections::agreement_index::{AgreementIndex, AgreementRow, TABLE};
use pactum_projections::projection::Projection;
use serde::Serialize;

use crate::access::{Principal, policy};
use crate::projector::ProjectionHandle;
use crate::projector::listing::{Cursor, ListError, Listing, Scan, Sort};
use crate::store::EventStore;

/// Agreements, newest or oldest first by issue time.
pub const AGREEMENTS: Listing = Listing {
    spec: &TABLE,
    sort_column: "issued_at",
};

#[derive(Clone, Debug, Default)]
pub struct AgreementQuery {
    /// The customer organisation.
    pub customer: Option<String>,
    /// `sla` or `ola`.
    pub kind: Option<String>,
    pub status: Option<String>,
    pub order: Option<String>,
    pub provider: Option<String>,
    pub cursor: Option<Cursor>,
    pub limit: u32,
    pub sort: Sort,
}

#[derive(Clone, Debug, Serialize)]
pub struct Validity {
    pub start: String,
    pub end: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct AgreementItem {
    pub id: String,
    pub kind: String,
    pub status: String,
    pub reference: String,
    pub order_id: String,
    pub service: String,
    pub customer: String,
    pub provider: Option<String>,
    pub version: u32,
    pub validity: Validity,
    pub issued_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Clone, Debug, Serialize)]
pub struct AgreementPage {
    pub agreements: Vec<AgreementItem>,
    pub next_cursor: Option<String>,
    pub position: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum AgreementListError {
    #[error("the agreement list is not built yet; retry shortly")]
    NotReady,
    #[error(transparent)]
    List(#[from] ListError),
}

/// The scans that answer `query` for `principal`; none if nothing is visible.
/// What the caller's roles pin, whatever it asks (`access::policy`): the
/// union of each role's scope.
pub fn scans(principal: &Principal, query: &AgreementQuery) -> Vec<Scan> {
    policy::agreement_list_scopes(principal)
        .iter()
        .flat_map(|scope| scans_within(scope, query))
        .collect()
}

/// The scans of `query` within one role's scope.
fn scans_within(scope: &policy::ListScope, query: &AgreementQuery) -> Vec<Scan> {
    let mut fixed: Vec<(&'static str, String)> = Vec::new();
    fn push(fixed: &mut Vec<(&'static str, String)>, column: &'static str, value: &Option<String>) {
        if let Some(value) = value {
            fixed.push((column, value.clone()));
        }
    }
    if let Some(org) = &scope.org {
        if query.customer.as_ref().is_some_and(|c| c != org) {
            return Vec::new();
        }
        fixed.push(("org", org.clone()));
    }
    let providers: Vec<Option<String>> = match &scope.providers {
        Some(own) => own
            .iter()
            .filter(|p| query.provider.as_ref().is_none_or(|asked| asked == *p))
            .map(|p| Some(p.clone()))
            .collect(),
        None => vec![None],
    };
    let forced_kind = scope.kind;
    let groups: Vec<Option<String>> = match &scope.groups {
        Some(groups) => groups
            .iter()
            .map(|g| Some(g.clone()))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect(),
        None => vec![None],
    };
    if let (Some(forced), Some(asked)) = (forced_kind, &query.kind)
        && forced != asked
    {
        return Vec::new();
    }
    if scope.org.is_none() {
        push(&mut fixed, "org", &query.customer);
    }
    if scope.providers.is_none() {
        push(&mut fixed, "provider", &query.provider);
    }
    let kind = forced_kind.map(str::to_owned).or(query.kind.clone());
    push(&mut fixed, "kind", &kind);
    push(&mut fixed, "status", &query.status);
    push(&mut fixed, "order_id", &query.order);
    let mut scans = Vec::new();
    for group in &groups {
        for provider in &providers {
            let mut equals = fixed.clone();
            if let Some(group) = group {
                equals.push(("group_id", group.clone()));
            }
            if let Some(provider) = provider {
                equals.push(("provider", provider.clone()));
            }
            scans.push(Scan { equals });
        }
    }
    scans
}

/// A page of agreements (read from the `agreements` projection, `index`), as
/// `principal` may see them.
pub async fn list(
    store: &EventStore,
    index: &ProjectionHandle,
    principal: &Principal,
    query: &AgreementQuery,
) -> Result<AgreementPage, AgreementListError> {
    let live = index.current().ok_or(AgreementListError::NotReady)?;
    let page = AGREEMENTS
        .page(
            store,
            &live.table,
            &scans(principal, query),
            query.cursor.as_ref(),
            query.sort,
            query.limit,
            |key, columns| AgreementIndex.row_from_columns(key, columns),
            |row: &AgreementRow| (row.issued_at.as_microsecond(), row.agreement_id.as_str()),
        )
        .await?;
    Ok(AgreementPage {
        agreements: page
            .rows
            .into_iter()
            .map(|row| AgreementItem {
                id: row.agreement_id,
                kind: row.kind,
                status: row.status,
                reference: row.reference,
                order_id: row.order_id,
                service: row.service,
                customer: row.org,
                provider: row.provider,
                version: row.version,
                validity: Validity {
                    start: row.start,
                    end: row.end,
                },
                issued_at: row.issued_at,
                updated_at: row.updated_at,
            })
            .collect(),
        next_cursor: page.next.map(|c| c.encode()),
        position: live.checkpoint,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::Role;

    fn principal(role: Role) -> Principal {
        Principal {
            subject: "x".into(),
            role,
            also: Vec::new(),
        }
    }

    fn columns(scans: &[Scan]) -> Vec<Vec<&'static str>> {
        scans
            .iter()
            .map(|s| s.equals.iter().map(|(c, _)| *c).collect())
            .collect()
    }

    #[test]
    fn customers_see_their_slas_and_providers_their_olas() {
        let alice = principal(Role::Customer { org: "acme".into() });
        let all = AgreementQuery::default();
        assert_eq!(columns(&scans(&alice, &all)), [["org", "kind"]]);
        let olas = AgreementQuery {
            kind: Some("ola".into()),
            ..Default::default()
        };
        assert!(scans(&alice, &olas).is_empty());
        let op = principal(Role::Provider {
            providers: std::collections::BTreeSet::from(["surf".into()]),
        });
        assert_eq!(columns(&scans(&op, &all)), [["kind", "provider"]]);
        let other = AgreementQuery {
            provider: Some("csc".into()),
            ..Default::default()
        };
        assert!(scans(&op, &other).is_empty());
    }

    #[test]
    fn every_scan_has_an_index() {
        let sam = principal(Role::Shifter {
            groups: ["compute".to_owned(), "storage".to_owned()].into(),
        });
        let query = AgreementQuery {
            kind: Some("sla".into()),
            ..Default::default()
        };
        for scan in scans(&sam, &query) {
            let index = TABLE.indexes[AGREEMENTS.index_for(&scan)];
            assert_eq!(index[..2], ["group_id", "kind"], "{scan:?}");
        }
    }
}
