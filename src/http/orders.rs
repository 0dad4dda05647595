//! Order endpoints: intake (`POST /v1/orders`, `POST /v1/orders:legacy`), reads
//! (`GET /v1/orders/{id}[?as_of=]`, `/history`) and the review commands.

use std::collections::HashMap;
use std::time::Duration;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use jiff::Timestamp;
use pactum_events::order::{OrderSource, OrderStatus, Visibility};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::app::App;
use crate::http::error::ApiError;
use crate::http::extract::{Caller, CommandInput, parse_json};
use crate::orders::commands::OrderAction;
use crate::orders::queue::{self, Cursor, QueueError, QueueQuery, Sort};
use crate::orders::service::{self, CommandResponse, Submission};
use crate::validation::{self, FieldError};

const TITLE_MAX: usize = 200;
const NOTE_MAX: usize = 4_000;
const BODY_MAX: usize = 20_000;

pub fn router() -> Router<App> {
    Router::new()
        .route("/v1/orders", post(submit).get(list))
        .route("/v1/orders:legacy", post(submit_legacy))
        .route("/v1/orders/{id}", get(get_order))
        .route("/v1/orders/{id}/history", get(history))
        .route("/v1/orders/{id}/assign", post(assign))
        .route("/v1/orders/{id}/comments", post(comment))
        .route("/v1/orders/{id}/questions", post(ask))
        .route("/v1/orders/{id}/answers", post(answer))
        .route("/v1/orders/{id}/approve", post(approve))
        .route("/v1/orders/{id}/reject", post(reject))
        .route("/v1/orders/{id}/cancel", post(cancel))
}

static POSITION: HeaderName = HeaderName::from_static("pactum-position");
static REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

fn etag(version: u64) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{version}\"")).expect("digits are a valid header")
}

/// Turns a command's answer into the HTTP response; retries get the first answer.
fn respond(answer: CommandResponse) -> Response {
    let json = HeaderValue::from_static("application/json");
    match answer {
        CommandResponse::Done {
            status,
            body,
            order_id,
            version,
            position,
        } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            let mut response = (status, body).into_response();
            let headers = response.headers_mut();
            headers.insert(header::CONTENT_TYPE, json);
            headers.insert(header::ETAG, etag(version));
            headers.insert(POSITION.clone(), position.into());
            if status == StatusCode::CREATED
                && let Ok(location) = HeaderValue::from_str(&format!("/v1/orders/{order_id}"))
            {
                headers.insert(header::LOCATION, location);
            }
            response
        }
        CommandResponse::Replayed(stored) => {
            let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
            let version = serde_json::from_str::<Value>(&stored.body)
                .ok()
                .and_then(|body| body.get("version")?.as_u64());
            let mut response = (status, stored.body).into_response();
            let headers = response.headers_mut();
            headers.insert(header::CONTENT_TYPE, json);
            headers.insert(POSITION.clone(), stored.position.into());
            headers.insert(REPLAYED.clone(), HeaderValue::from_static("true"));
            if let Some(version) = version {
                headers.insert(header::ETAG, etag(version));
            }
            response
        }
    }
}

/// `POST /v1/orders` — `{service, parameters, title?, note?}` → 201 order.
async fn submit(State(app): State<App>, input: CommandInput) -> Result<Response, ApiError> {
    let submission = parse_submission(&input.body)?;
    let request = input.request(&app, 201);
    let order = service::prepare_json(&app, &input.principal, submission, request.meta.now)?;
    Ok(respond(service::submit(&app, order, request).await?))
}

fn parse_submission(body: &[u8]) -> Result<Submission, ApiError> {
    let value: Value = parse_json(body)?;
    let Value::Object(mut fields) = value else {
        return Err(ApiError::Validation(vec![FieldError::new(
            "body",
            "must be a JSON object",
        )]));
    };
    let mut errors = Vec::new();
    let service = match fields.remove("service") {
        Some(Value::String(service)) => Some(service),
        Some(_) => {
            errors.push(FieldError::new(
                "service",
                "must be a string (a service id)",
            ));
            None
        }
        None => {
            errors.push(FieldError::new("service", "is required"));
            None
        }
    };
    // A missing parameters object is validated as an empty one, so the answer
    // names every required parameter.
    let parameters = match fields.remove("parameters") {
        Some(Value::Object(parameters)) => parameters,
        None | Some(Value::Null) => Map::new(),
        Some(_) => {
            errors.push(FieldError::new(
                "parameters",
                "must be an object of parameter values",
            ));
            Map::new()
        }
    };
    let mut optional_text = |field: &str, max: usize| match fields.remove(field) {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) => validation::text(field, &text, max)
            .map_err(|e| errors.push(e))
            .ok(),
        Some(_) => {
            errors.push(FieldError::new(field, "must be a string"));
            None
        }
    };
    let title = optional_text("title", TITLE_MAX);
    let note = optional_text("note", NOTE_MAX);
    for unknown in fields.keys() {
        errors.push(FieldError::new(unknown.clone(), "unknown field"));
    }
    match service {
        Some(service) if errors.is_empty() => Ok(Submission {
            service,
            parameters,
            title,
            note,
        }),
        _ => Err(ApiError::Validation(errors)),
    }
}

/// `POST /v1/orders:legacy` — a legacy order string as text/plain → 201 order.
async fn submit_legacy(State(app): State<App>, input: CommandInput) -> Result<Response, ApiError> {
    let raw = input.text()?;
    let customer = service::legacy_customer(&input.principal)?;
    let request = input.request(&app, 201);
    let order = service::prepare_legacy(
        &app,
        customer,
        raw,
        OrderSource::Legacy {
            raw: raw.to_owned(),
        },
        request.meta.now,
    )
    .map_err(ApiError::Validation)?;
    Ok(respond(service::submit(&app, order, request).await?))
}

/// Runs `action` on the order `id` with a 200 answer.
async fn run(
    app: &App,
    id: &str,
    input: &CommandInput,
    action: OrderAction,
) -> Result<Response, ApiError> {
    let answer = service::execute(app, id, action, input.request(app, 200)).await?;
    Ok(respond(answer))
}

fn text(field: &str, value: &str, max: usize) -> Result<String, ApiError> {
    validation::text(field, value, max).map_err(|e| ApiError::Validation(vec![e]))
}

fn optional_text(
    field: &str,
    value: Option<String>,
    max: usize,
) -> Result<Option<String>, ApiError> {
    value.map(|v| text(field, &v, max)).transpose()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AssignBody {
    assignee: String,
}

async fn assign(
    State(app): State<App>,
    Path(id): Path<String>,
    input: CommandInput,
) -> Result<Response, ApiError> {
    let body: AssignBody = input.json()?;
    let assignee = validation::subject("assignee", &body.assignee)
        .map_err(|e| ApiError::Validation(vec![e]))?;
    let action = OrderAction::Assign {
        assignee,
        assignee_is_group_shifter: false,
    };
    run(&app, &id, &input, action).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CommentBody {
    body: String,
    #[serde(default = "public")]
    visibility: Visibility,
}

fn public() -> Visibility {
    Visibility::Public
}

/// `POST /v1/orders/{id}/comments` → 201 order with the new comment.
async fn comment(
    State(app): State<App>,
    Path(id): Path<String>,
    input: CommandInput,
) -> Result<Response, ApiError> {
    let body: CommentBody = input.json()?;
    let action = OrderAction::Comment {
        body: text("body", &body.body, BODY_MAX)?,
        visibility: body.visibility,
    };
    let answer = service::execute(&app, &id, action, input.request(&app, 201)).await?;
    Ok(respond(answer))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TextBody {
    body: String,
}

async fn ask(
    State(app): State<App>,
    Path(id): Path<String>,
    input: CommandInput,
) -> Result<Response, ApiError> {
    let body: TextBody = input.json()?;
    let action = OrderAction::AskQuestion {
        body: text("body", &body.body, BODY_MAX)?,
    };
    run(&app, &id, &input, action).await
}

async fn answer(
    State(app): State<App>,
    Path(id): Path<String>,
    input: CommandInput,
) -> Result<Response, ApiError> {
    let body: TextBody = input.json()?;
    let action = OrderAction::Answer {
        body: text("body", &body.body, BODY_MAX)?,
    };
    run(&app, &id, &input, action).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoteBody {
    #[serde(default)]
    note: Option<String>,
}

async fn approve(
    State(app): State<App>,
    Path(id): Path<String>,
    input: CommandInput,
) -> Result<Response, ApiError> {
    let body: NoteBody = input.json()?;
    let action = OrderAction::Approve {
        note: optional_text("note", body.note, NOTE_MAX)?,
    };
    run(&app, &id, &input, action).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RejectBody {
    reason: String,
}

async fn reject(
    State(app): State<App>,
    Path(id): Path<String>,
    input: CommandInput,
) -> Result<Response, ApiError> {
    let body: RejectBody = input.json()?;
    let action = OrderAction::Reject {
        reason: text("reason", &body.reason, NOTE_MAX)?,
    };
    run(&app, &id, &input, action).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CancelBody {
    #[serde(default)]
    reason: Option<String>,
}

async fn cancel(
    State(app): State<App>,
    Path(id): Path<String>,
    input: CommandInput,
) -> Result<Response, ApiError> {
    let body: CancelBody = input.json()?;
    let action = OrderAction::Cancel {
        reason: optional_text("reason", body.reason, NOTE_MAX)?,
    };
    run(&app, &id, &input, action).await
}

/// How long a read waits for a read model to reach `min_position`.
const READ_YOUR_WRITES_WAIT: Duration = Duration::from_secs(5);

/// `GET /v1/orders?status=&service=&group=&assignee=&customer=&cursor=&limit=&sort=&min_position=`
async fn list(
    State(app): State<App>,
    Caller(principal): Caller,
    headers: HeaderMap,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(params) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let (query, min_position) = parse_queue_query(&params, &headers)?;
    if let Some(position) = min_position
        && app
            .projections
            .order_queue
            .wait_for(position, READ_YOUR_WRITES_WAIT)
            .await
            .is_none()
    {
        return Err(ApiError::Unavailable(format!(
            "the order queue has not reached position {position} yet; retry shortly"
        )));
    }
    let page = queue::list(&app, &principal, &query)
        .await
        .map_err(|e| match e {
            QueueError::Forbidden => ApiError::Forbidden(e.to_string()),
            QueueError::NotReady => ApiError::Unavailable(e.to_string()),
            QueueError::CursorMismatch => ApiError::BadRequest(e.to_string()),
            QueueError::Database(e) => e.into(),
            QueueError::Row(e) => ApiError::internal(e),
        })?;
    let mut response = Json(&page).into_response();
    response
        .headers_mut()
        .insert(POSITION.clone(), page.position.into());
    Ok(response)
}

/// The queue filters of a query string; every parameter is checked.
fn parse_queue_query(
    params: &HashMap<String, String>,
    headers: &HeaderMap,
) -> Result<(QueueQuery, Option<u64>), ApiError> {
    const KNOWN: [&str; 9] = [
        "status",
        "service",
        "group",
        "assignee",
        "customer",
        "cursor",
        "limit",
        "sort",
        "min_position",
    ];
    if let Some(unknown) = params.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return Err(ApiError::BadRequest(format!(
            "unknown query parameter {unknown:?} (known: {})",
            KNOWN.join(", ")
        )));
    }
    let text = |name: &str| {
        params
            .get(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let statuses = match text("status") {
        None => Vec::new(),
        Some(list) => list
            .split(',')
            .map(|s| s.trim().parse::<OrderStatus>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| {
                ApiError::BadRequest(format!(
                    "status: {e} (one of {})",
                    OrderStatus::ALL.map(|s| s.as_str()).join(", ")
                ))
            })?,
    };
    let limit = match text("limit") {
        None => 50,
        Some(limit) => limit
            .parse::<u32>()
            .ok()
            .filter(|l| (1..=500).contains(l))
            .ok_or_else(|| ApiError::BadRequest("limit must be between 1 and 500".into()))?,
    };
    let sort = match text("sort").as_deref() {
        None | Some("newest") => Sort::Newest,
        Some("oldest") => Sort::Oldest,
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "sort must be newest or oldest, not {other:?}"
            )));
        }
    };
    let cursor = text("cursor")
        .map(|c| {
            Cursor::decode(&c).ok_or_else(|| {
                ApiError::BadRequest("cursor is not one this server handed out".into())
            })
        })
        .transpose()?;
    let min_position = text("min_position")
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
    Ok((
        QueueQuery {
            statuses,
            service: text("service"),
            group: text("group"),
            assignee: text("assignee"),
            customer: text("customer"),
            cursor,
            limit,
            sort,
        },
        min_position,
    ))
}

/// `GET /v1/orders/{id}[?as_of=RFC3339]`
async fn get_order(
    State(app): State<App>,
    Caller(principal): Caller,
    Path(id): Path<String>,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let as_of = query
        .get("as_of")
        .map(|raw| parse_instant(raw))
        .transpose()?;
    let view = service::get(&app, &principal, &id, as_of).await?;
    let mut response = Json(&view).into_response();
    response
        .headers_mut()
        .insert(header::ETAG, etag(view.version));
    Ok(response)
}

/// An RFC 3339 instant; a `+` offset that a query string decoded to a space is
/// read back as `+`.
fn parse_instant(raw: &str) -> Result<Timestamp, ApiError> {
    raw.trim().replace(' ', "+").parse().map_err(|e| {
        ApiError::BadRequest(format!(
            "as_of must be an RFC 3339 instant like 2026-03-01T12:00:00Z: {e}"
        ))
    })
}

/// `GET /v1/orders/{id}/history`
async fn history(
    State(app): State<App>,
    Caller(principal): Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let events = service::history(&app, &principal, &id).await?;
    Ok(Json(
        serde_json::json!({ "order_id": id, "events": events }),
    ))
}
