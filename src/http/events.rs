//! The global log for auditors and reporting jobs: `GET /v1/events` pages it,
//! `GET /v1/events/stream` follows it as server-sent events.
//!
//! Both serve events exactly as stored (the line format of `pactum export`); old
//! schema versions are lifted with `pactum-events`' upcasters by the reader. Each
//! SSE event's `id` is its global position: a client that reconnects with
//! `Last-Event-ID` resumes right after it. Positions are gap-free and commit-ordered
//! (SQLite's single writer), so a follower never misses or repeats an event.
//! Who may read them is decided by `access::policy::can_read_log`.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::{Extension, Json};
use futures::Stream;
use serde::Deserialize;
use serde_json::{Value, json};

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::access::Principal;
use crate::access::policy::can_read_log;
use crate::access::tokens::authenticate;
use crate::app::App;
use crate::http::error::ApiError;
use crate::http::extract::{Caller, Query, bearer_token, given};
use crate::http::paging::beyond_head;

/// Events per page of `GET /v1/events` by default, and at most.
const DEFAULT_LIMIT: u32 = 100;
const MAX_LIMIT: u32 = 1_000;
/// Events read from the store at a time while a stream catches up, at most.
const STREAM_BATCH: u32 = 500;
/// What one stream holds in memory of events read but not yet sent, about (one
/// event larger than this is still sent, alone).
const BUFFER_BYTES: usize = 256 * 1024;
/// How often a waiting stream checks again that its token still reads the log.
const RECHECK: Duration = Duration::from_secs(2);
/// Appends by other processes do not wake the in-process notification.
const CROSS_PROCESS_TICK: Duration = Duration::from_secs(2);

pub fn router(limits: StreamLimits) -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(page))
        .routes(routes!(stream))
        .layer(Extension(Arc::new(StreamSlots::new(limits))))
}

fn authorize(principal: &Principal) -> Result<(), ApiError> {
    if can_read_log(principal) {
        Ok(())
    } else {
        Err(ApiError::Forbidden(
            "the global log is for auditors and admins; read an order's history instead".into(),
        ))
    }
}

fn position(name: &str, value: Option<&str>) -> Result<u64, ApiError> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(0),
        Some(v) => v.parse().map_err(|_| {
            ApiError::BadRequest(format!("{name} must be a log position (0 or more)"))
        }),
    }
}

/// `GET /v1/events?after=<position>&limit=`
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PageQuery {
    after: Option<String>,
    limit: Option<String>,
}

/// `GET /v1/events/stream?after=<position>` (or `Last-Event-ID`); other
/// parameters are ignored, as before (browsers' `EventSource` users add their own).
#[derive(Deserialize)]
struct StreamQuery {
    after: Option<String>,
}

/// `GET /v1/events?after=<position>&limit=` → `{events, next_after}`.
#[utoipa::path(
    get,
    path = "/v1/events",
    tag = "events",
    summary = "A page of the global log",
    params(("after" = Option<u64>, Query, description = "Events after this position"), ("limit" = Option<u32>, Query)),
    responses((status = 200, description = "OK", body = serde_json::Value, content_type = "application/json"), crate::http::openapi::Problems),
    security(("bearer" = []))
)]
async fn page(
    State(app): State<App>,
    Caller(principal): Caller,
    Query(params): Query<PageQuery>,
) -> Result<Json<Value>, ApiError> {
    authorize(&principal)?;
    let after = position("after", given(&params.after))?;
    beyond_head(&app.store, "after", after).await?;
    let limit = match given(&params.limit) {
        None => DEFAULT_LIMIT,
        Some(limit) => limit
            .parse()
            .ok()
            .filter(|l| (1..=MAX_LIMIT).contains(l))
            .ok_or_else(|| {
                ApiError::BadRequest(format!("limit must be between 1 and {MAX_LIMIT}"))
            })?,
    };
    let events = app.store.read_after(after, limit).await?;
    let next_after = events.last().map_or(after, |e| e.position);
    Ok(Json(json!({
        "events": events,
        "next_after": next_after,
        "head_position": app.store.head(),
    })))
}

/// `GET /v1/events/stream`, resuming after `Last-Event-ID` (or `?after=`).
///
/// The stream lives only as long as its token: the token is checked again with
/// every batch read and at least every [`RECHECK`] while waiting, and the stream
/// ends when it is revoked, expired or no longer allowed to read the log. Streams
/// are capped per principal and in total ([`StreamLimits`]), and each buffers at
/// most [`BUFFER_BYTES`] of events.
#[utoipa::path(
    get,
    path = "/v1/events/stream",
    tag = "events",
    summary = "The global log as Server-Sent Events, live",
    params(("after" = Option<u64>, Query), ("Last-Event-ID" = Option<String>, Header)),
    responses((status = 200, description = "OK", body = serde_json::Value, content_type = "text/event-stream"), crate::http::openapi::Problems),
    security(("bearer" = []))
)]
async fn stream(
    State(app): State<App>,
    Extension(slots): Extension<Arc<StreamSlots>>,
    Caller(principal): Caller,
    headers: HeaderMap,
    Query(params): Query<StreamQuery>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    authorize(&principal)?;
    let after = match headers.get("last-event-id") {
        Some(id) => (
            "Last-Event-ID",
            position("Last-Event-ID", id.to_str().ok())?,
        ),
        None => ("after", position("after", given(&params.after))?),
    };
    beyond_head(&app.store, after.0, after.1).await?;
    let token = bearer_token(&headers)
        .ok_or(ApiError::Unauthenticated)?
        .to_owned();
    let slot = slots.take(&principal)?;
    let follower = Follower {
        app,
        token,
        checked_at: Instant::now(),
        after: after.1,
        batch: STREAM_BATCH,
        buffer: VecDeque::new(),
        _slot: slot,
    };
    let events = futures::stream::unfold(follower, |mut follower| async move {
        let (position, json) = follower.next().await?;
        let sse = Event::default().id(position.to_string()).data(json);
        Some((Ok(sse), follower))
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// How many event streams may be open at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StreamLimits {
    /// By one principal (the same subject, role and scope).
    pub per_principal: usize,
    /// By everyone together.
    pub total: usize,
}

impl StreamLimits {
    /// `serve`'s defaults.
    pub const STANDARD: Self = Self {
        per_principal: 4,
        total: 128,
    };
}

impl Default for StreamLimits {
    fn default() -> Self {
        Self::STANDARD
    }
}

/// The streams open now, by principal.
#[derive(Debug)]
pub struct StreamSlots {
    limits: StreamLimits,
    open: Mutex<HashMap<String, usize>>,
}

impl StreamSlots {
    pub fn new(limits: StreamLimits) -> Self {
        Self {
            limits,
            open: Mutex::new(HashMap::new()),
        }
    }

    /// A slot for one more stream of `principal`, or 429 when a limit is reached.
    fn take(self: &Arc<Self>, principal: &Principal) -> Result<Slot, ApiError> {
        let key = principal.idempotency_scope();
        let mut open = self.lock();
        let total: usize = open.values().sum();
        let mine = open.get(&key).copied().unwrap_or(0);
        if total >= self.limits.total {
            return Err(ApiError::TooManyRequests(format!(
                "the server has {total} event streams open, its limit; retry later"
            )));
        }
        if mine >= self.limits.per_principal {
            return Err(ApiError::TooManyRequests(format!(
                "you have {mine} event streams open, the limit per caller; close one first"
            )));
        }
        open.insert(key.clone(), mine + 1);
        Ok(Slot {
            slots: Arc::clone(self),
            key,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, usize>> {
        // Counts are whole after every operation.
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One open stream's place; given back when the stream ends.
struct Slot {
    slots: Arc<StreamSlots>,
    key: String,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.slots.lock();
        if let Some(count) = open.get_mut(&self.key) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.key);
            }
        }
    }
}

/// Reads the log in order after a position: catches up in batches, then waits for
/// commits. Ends when the server shuts down, the store fails, or the token no
/// longer reads the log.
struct Follower {
    app: App,
    token: String,
    checked_at: Instant,
    after: u64,
    /// Events to read next time: fewer when events are large, so the buffer
    /// stays within [`BUFFER_BYTES`].
    batch: u32,
    /// Events read, already as the JSON sent.
    buffer: VecDeque<(u64, String)>,
    _slot: Slot,
}

impl Follower {
    async fn next(&mut self) -> Option<(u64, String)> {
        let mut head = self.app.store.subscribe();
        loop {
            if let Some(event) = self.buffer.pop_front() {
                return Some(event);
            }
            if !self.may_still_read().await {
                return None;
            }
            head.borrow_and_update();
            match self.app.store.read_after(self.after, self.batch).await {
                Ok(batch) if !batch.is_empty() => {
                    self.after = batch.last().map_or(self.after, |e| e.position);
                    let mut bytes = 0;
                    for event in &batch {
                        let json = serde_json::to_string(event).expect("events serialize");
                        bytes += json.len();
                        self.buffer.push_back((event.position, json));
                    }
                    self.batch = next_batch(bytes, batch.len());
                }
                Ok(_) => {
                    tokio::select! {
                        changed = head.changed() => changed.ok()?,
                        () = tokio::time::sleep(CROSS_PROCESS_TICK.min(RECHECK)) => {}
                        () = self.app.shutdown.cancelled() => return None,
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, "event stream ends: the store failed");
                    return None;
                }
            }
        }
    }

    /// Whether the stream's token still reads the log: asked before every batch,
    /// and so at least every [`RECHECK`] while the stream waits.
    async fn may_still_read(&mut self) -> bool {
        match authenticate(&self.app.store, &self.token, self.app.now()).await {
            Ok(Some(principal)) if can_read_log(&principal) => {
                self.checked_at = Instant::now();
                true
            }
            Ok(_) => {
                tracing::info!("event stream ends: its token no longer reads the log");
                false
            }
            // The store is briefly unreachable: the last check stands for a while.
            Err(error) => {
                tracing::warn!(%error, "event stream: cannot check its token");
                self.checked_at.elapsed() < RECHECK * 3
            }
        }
    }
}

/// How many events to read next, after `count` events took `bytes` as JSON.
fn next_batch(bytes: usize, count: usize) -> u32 {
    let average = (bytes / count.max(1)).max(1);
    (BUFFER_BYTES / average).clamp(1, STREAM_BATCH as usize) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_of_large_events_is_small() {
        assert_eq!(next_batch(500 * 300, 500), STREAM_BATCH);
        assert_eq!(next_batch(4 * 300_000, 4), 1);
        assert_eq!(next_batch(10 * 8_192, 10), 32);
        assert_eq!(next_batch(0, 0), STREAM_BATCH);
    }
}
