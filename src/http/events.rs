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
use std::time::Duration;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::get;
use axum::{Json, Router};
use futures::Stream;
use pactum_events::RecordedEvent;
use serde_json::{Value, json};

use crate::access::Principal;
use crate::access::policy::can_read_log;
use crate::app::App;
use crate::http::error::ApiError;
use crate::http::extract::Caller;

/// Events per page of `GET /v1/events` by default, and at most.
const DEFAULT_LIMIT: u32 = 100;
const MAX_LIMIT: u32 = 1_000;
/// Events read from the store at a time while a stream catches up.
const STREAM_BATCH: u32 = 500;
/// Appends by other processes do not wake the in-process notification.
const CROSS_PROCESS_TICK: Duration = Duration::from_secs(2);

pub fn router() -> Router<App> {
    Router::new()
        .route("/v1/events", get(page))
        .route("/v1/events/stream", get(stream))
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

/// `GET /v1/events?after=<position>&limit=` → `{events, next_after}`.
async fn page(
    State(app): State<App>,
    Caller(principal): Caller,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    authorize(&principal)?;
    let Query(params) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    if let Some(unknown) = params
        .keys()
        .find(|k| !matches!(k.as_str(), "after" | "limit"))
    {
        return Err(ApiError::BadRequest(format!(
            "unknown query parameter {unknown:?} (known: after, limit)"
        )));
    }
    let after = position("after", params.get("after").map(String::as_str))?;
    let limit = match params.get("limit") {
        None => DEFAULT_LIMIT,
        Some(limit) => limit
            .trim()
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
async fn stream(
    State(app): State<App>,
    Caller(principal): Caller,
    headers: HeaderMap,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    authorize(&principal)?;
    let Query(params) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let after = match headers.get("last-event-id") {
        Some(id) => position("Last-Event-ID", id.to_str().ok())?,
        None => position("after", params.get("after").map(String::as_str))?,
    };
    let follower = Follower {
        app,
        after,
        buffer: VecDeque::new(),
    };
    let events = futures::stream::unfold(follower, |mut follower| async move {
        let event = follower.next().await?;
        let sse = Event::default()
            .id(event.position.to_string())
            .json_data(&event)
            .expect("events serialize");
        Some((Ok(sse), follower))
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// Reads the log in order after a position: catches up in batches, then waits for
/// commits. Ends when the server shuts down or the store fails.
struct Follower {
    app: App,
    after: u64,
    buffer: VecDeque<RecordedEvent>,
}

impl Follower {
    async fn next(&mut self) -> Option<RecordedEvent> {
        let mut head = self.app.store.subscribe();
        loop {
            if let Some(event) = self.buffer.pop_front() {
                return Some(event);
            }
            head.borrow_and_update();
            match self.app.store.read_after(self.after, STREAM_BATCH).await {
                Ok(batch) if !batch.is_empty() => {
                    self.after = batch.last().map_or(self.after, |e| e.position);
                    self.buffer.extend(batch);
                }
                Ok(_) => {
                    tokio::select! {
                        changed = head.changed() => changed.ok()?,
                        () = tokio::time::sleep(CROSS_PROCESS_TICK) => {}
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
}
