//! The query parameters every list shares: `cursor`, `limit`, `sort`,
//! `min_position` (or the `Pactum-Min-Position` header), and a check that no
//! unknown parameter slipped in (a typo must not silently widen a list).

use std::collections::HashMap;
use std::time::Duration;

use axum::http::HeaderMap;

use crate::http::error::ApiError;
use crate::projector::ProjectionHandle;
use crate::projector::listing::{Cursor, Sort};
use crate::store::EventStore;

/// How long a read waits for a read model to reach `min_position`.
const READ_YOUR_WRITES_WAIT: Duration = Duration::from_secs(5);

pub struct Paging {
    pub cursor: Option<Cursor>,
    pub limit: u32,
    pub sort: Sort,
    pub min_position: Option<u64>,
}

const PAGING: [&str; 4] = ["cursor", "limit", "sort", "min_position"];

/// A trimmed, non-empty parameter.
pub fn text(params: &HashMap<String, String>, name: &str) -> Option<String> {
    params
        .get(name)
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

impl Paging {
    /// Parses the paging parameters; `filters` are the list's own parameters.
    pub fn parse(
        params: &HashMap<String, String>,
        headers: &HeaderMap,
        filters: &[&str],
    ) -> Result<Self, ApiError> {
        if let Some(unknown) = params
            .keys()
            .find(|k| !filters.contains(&k.as_str()) && !PAGING.contains(&k.as_str()))
        {
            let known: Vec<&str> = filters.iter().chain(PAGING.iter()).copied().collect();
            return Err(ApiError::BadRequest(format!(
                "unknown query parameter {unknown:?} (known: {})",
                known.join(", ")
            )));
        }
        let limit = match text(params, "limit") {
            None => 50,
            Some(limit) => limit
                .parse::<u32>()
                .ok()
                .filter(|l| (1..=500).contains(l))
                .ok_or_else(|| ApiError::BadRequest("limit must be between 1 and 500".into()))?,
        };
        let sort = match text(params, "sort").as_deref() {
            None | Some("newest") => Sort::Newest,
            Some("oldest") => Sort::Oldest,
            Some("due_at") => Sort::Due,
            Some(other) => {
                return Err(ApiError::BadRequest(format!(
                    "sort must be newest, oldest or due_at, not {other:?}"
                )));
            }
        };
        let cursor = text(params, "cursor")
            .map(|c| {
                Cursor::decode(&c).ok_or_else(|| {
                    ApiError::BadRequest("cursor is not one this server handed out".into())
                })
            })
            .transpose()?;
        let min_position = text(params, "min_position")
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
