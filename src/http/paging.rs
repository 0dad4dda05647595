//! The query parameters every list shares: `cursor`, `limit`, `sort`,
//! `min_position` (or the `Pactum-Min-Position` header). Each list's query is a
//! struct that refuses unknown parameters (a typo must not silently widen a
//! list), read by `http::extract::Query`.

use std::time::Duration;

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::access::Principal;
use crate::app::App;
use crate::http::error::ApiError;
use crate::http::extract::{Caller, Query, given};
use crate::projector::ProjectionHandle;
use crate::projector::listing::{Cursor, Sort};
use crate::store::EventStore;

/// What every list handler starts from: the caller, its paging (parsed and
/// checked) and the list's own filters `P` (a struct of the query parameters
/// it names; any parameter neither it nor paging names is refused).
pub struct ListRequest<P> {
    pub principal: Principal,
    pub paging: Paging,
    pub params: P,
}

/// A list's query: its filters take the parameters they name first, paging
/// the rest (what it does not name lands in [`PagingQuery::unknown`]).
#[derive(serde::Deserialize)]
#[serde(bound = "P: DeserializeOwned")]
struct ListQuery<P> {
    #[serde(flatten)]
    filters: P,
    #[serde(flatten)]
    paging: PagingQuery,
}

impl<P: DeserializeOwned + Send> FromRequestParts<App> for ListRequest<P> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, ApiError> {
        let Caller(principal) = Caller::from_request_parts(parts, app).await?;
        let Query(query) = Query::<ListQuery<P>>::from_request_parts(parts, app).await?;
        let paging = Paging::parse(query.paging, &parts.headers)?;
        Ok(Self {
            principal,
            paging,
            params: query.filters,
        })
    }
}

/// How long a read waits for a read model to reach `min_position`.
const READ_YOUR_WRITES_WAIT: Duration = Duration::from_secs(5);

pub struct Paging {
    pub cursor: Option<Cursor>,
    pub limit: u32,
    pub sort: Sort,
    pub min_position: Option<u64>,
}

/// The paging parameters of a list's query, as given: a list's query struct
/// holds them as a `#[serde(flatten)]` field beside its own filters. Whatever
/// neither names lands in `unknown`, and [`Paging::parse`] refuses it (serde's
/// `deny_unknown_fields` does not work beside `flatten`).
#[derive(Clone, Debug, Default, serde::Deserialize)]
pub struct PagingQuery {
    pub cursor: Option<String>,
    pub limit: Option<String>,
    pub sort: Option<String>,
    pub min_position: Option<String>,
    #[serde(flatten)]
    pub unknown: std::collections::BTreeMap<String, String>,
}

impl Paging {
    /// Parses the paging parameters (`Pactum-Min-Position` stands in for
    /// `min_position`).
    pub fn parse(query: PagingQuery, headers: &HeaderMap) -> Result<Self, ApiError> {
        if let Some(unknown) = query.unknown.keys().next() {
            return Err(ApiError::BadRequest(format!(
                "unknown query parameter {unknown:?}"
            )));
        }
        let text = |value: &Option<String>| given(value).map(str::to_owned);
        let limit = match text(&query.limit) {
            None => 50,
            Some(limit) => limit
                .parse::<u32>()
                .ok()
                .filter(|l| (1..=500).contains(l))
                .ok_or_else(|| ApiError::BadRequest("limit must be between 1 and 500".into()))?,
        };
        let sort = match text(&query.sort).as_deref() {
            None | Some("newest") => Sort::Newest,
            Some("oldest") => Sort::Oldest,
            Some("due_at") => Sort::Due,
            Some(other) => {
                return Err(ApiError::BadRequest(format!(
                    "sort must be newest, oldest or due_at, not {other:?}"
                )));
            }
        };
        let cursor = text(&query.cursor)
            .map(|c| {
                Cursor::decode(&c).ok_or_else(|| {
                    ApiError::BadRequest("cursor is not one this server handed out".into())
                })
            })
            .transpose()?;
        let min_position = text(&query.min_position)
            .or_else(|| {
                headers
                    .get("pactum-min-position")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            })
            .map(|p| {
                p.trim()
                    .parse::<u64>()
                    .map_err(|_| ApiError::BadRequest("min_position must be a log position".into()))
            })
            .transpose()?;
        Ok(Self {
            cursor,
            limit,
            sort,
            min_position,
        })
    }

    /// Waits until `handle` reflects `min_position` (read-your-writes); 503 if
    /// it does not within a few seconds, 400 at once for a position the log has
    /// not reached (no wait can make it true).
    pub async fn wait(
        &self,
        store: &EventStore,
        handle: &ProjectionHandle,
        what: &str,
    ) -> Result<(), ApiError> {
        if let Some(position) = self.min_position {
            beyond_head(store, "min_position", position).await?;
        }
        if let Some(position) = self.min_position
            && handle
                .wait_for(position, READ_YOUR_WRITES_WAIT)
                .await
                .is_none()
        {
            return Err(ApiError::Unavailable(format!(
                "{what} has not reached position {position} yet; retry shortly"
            )));
        }
        Ok(())
    }
}

/// 400 if `position` (named `name` in the request) lies beyond the newest event
/// of the log.
pub async fn beyond_head(store: &EventStore, name: &str, position: u64) -> Result<(), ApiError> {
    if position <= store.head() {
        return Ok(());
    }
    let head = store.committed_head().await?;
    if position > head {
        return Err(ApiError::BadRequest(format!(
            "{name} {position} is beyond the log's newest position {head}"
        )));
    }
    Ok(())
}
