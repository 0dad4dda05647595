//! A stand-in for the EOSC Marketplace's Ordering API, for the tests of
//! pactum as an OMS: an HTTP server on a free loopback port with its state in
//! memory, written from the API's shapes (OpenAPI 3.0.1 "EOSC Marketplace
//! Ordering API", `swagger/v1/ordering/` of cyfronet-fid/marketplace):
//!
//! - base `/api/v1/oms/{oms_id}`; `X-User-Token` missing or wrong → 401, an
//!   OMS other than the one the token administers → 403, errors as
//!   `{"error": ...}`;
//! - `GET events?from_timestamp=&limit=`: `from_timestamp` is required and ISO
//!   8601 in UTC (`Z`), else 400; timestamps have whole seconds and the feed
//!   answers the events of `from_timestamp`'s second and after, so polling from
//!   the last timestamp seen answers that second's events again;
//! - `GET projects/{id}`, `GET`/`PATCH projects/{pid}/project_items/{iid}`
//!   (status `{value, type}` with the eight types, `user_secrets`);
//! - `GET messages?project_id=&project_item_id=&from_id=&limit=` (ids above
//!   `from_id`, by id, 20 by default), `POST messages` (author role `provider`
//!   or `mediator`, scope `public`, `internal` or `user_direct`).
//!
//! Every change (a project, an item, a message created; an item updated)
//! records an event, with `changes` for updates. The test drives the
//! Marketplace's side through [`Marketplace`]: projects and items ordered,
//! customers' messages, failures of the next calls, a repeated feed page, and
//! calls of pactum's trigger.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use jiff::Timestamp;
use serde_json::{Map, Value, json};
use tokio::task::JoinHandle;

/// The project item status types.
pub const STATUS_TYPES: [&str; 8] = [
    "created",
    "registered",
    "in_progress",
    "waiting_for_response",
    "approved",
    "ready",
    "closed",
    "rejected",
];

/// The Marketplace, serving until dropped.
pub struct Marketplace {
    /// Its root, `http://127.0.0.1:PORT` (the API is under `/api/v1`).
    pub url: String,
    /// The OMS its token administers.
    pub oms_id: String,
    /// The OMS user's token.
    pub token: String,
    state: Arc<Mutex<Market>>,
    task: JoinHandle<()>,
}

impl Drop for Marketplace {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[derive(Default)]
struct Market {
    oms_id: String,
    token: String,
    projects: BTreeMap<u64, Project>,
    messages: BTreeMap<u64, Message>,
    events: Vec<Value>,
    next_message: u64,
    /// Calls that change something (PATCH, POST) to answer 500 to.
    fail_next: usize,
    /// The same, for the calls about one project item.
    fail_item: BTreeMap<(u64, u64), usize>,
    /// The next events call answers the whole feed from its start.
    repeat_events: bool,
    /// Every call of the API, as `METHOD path?query → status`.
    calls: Vec<String>,
}

struct Project {
    owner: Value,
    attributes: Value,
    items: BTreeMap<u64, Item>,
}

struct Item {
    status: (String, String),
    attributes: Value,
    user_secrets: Map<String, Value>,
    /// Every status it was given, oldest first: (type, value).
    history: Vec<(String, String)>,
}

#[derive(Clone)]
struct Message {
    id: u64,
    project_id: u64,
    project_item_id: Option<u64>,
    author: Value,
    content: String,
    scope: String,
    created_at: String,
}

impl Message {
    fn json(&self) -> Value {
        json!({
            "id": self.id,
            "author": self.author,
            "content": self.content,
            "scope": self.scope,
            "created_at": self.created_at,
            "updated_at": self.created_at,
        })
    }
}

/// Now, to the whole second, as the Marketplace's timestamps are.
fn now() -> Timestamp {
    Timestamp::from_second(Timestamp::now().as_second()).expect("now is a time")
}

fn stamp(at: Timestamp) -> String {
    at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

impl Market {
    fn event(&mut self, kind: &str, resource: &str, ids: Value, changes: Option<Value>) {
        let mut event = json!({
            "timestamp": stamp(now()),
            "type": kind,
            "resource": resource,
        });
        if let Value::Object(ids) = ids {
            for (key, value) in ids {
                event[key] = value;
            }
        }
        if let Some(changes) = changes {
            event["changes"] = changes;
        }
        self.events.push(event);
    }

    fn project_json(&self, id: u64, project: &Project) -> Value {
        json!({
            "id": id,
            "owner": project.owner,
            "project_items": project.items.keys().collect::<Vec<_>>(),
            "attributes": project.attributes,
        })
    }

    fn item_json(project_id: u64, id: u64, item: &Item) -> Value {
        json!({
            "id": id,
            "project_id": project_id,
            "status": {"value": item.status.1, "type": item.status.0},
            "attributes": item.attributes,
            "user_secrets": item.user_secrets.keys().map(|k| (k.clone(), json!("<OBFUSCATED>"))).collect::<Map<_, _>>(),
        })
    }

    fn add_message(
        &mut self,
        project_id: u64,
        project_item_id: Option<u64>,
        author: Value,
        content: String,
        scope: String,
    ) -> Message {
        self.next_message += 1;
        let message = Message {
            id: self.next_message,
            project_id,
            project_item_id,
            author,
            content,
            scope,
            created_at: stamp(now()),
        };
        self.messages.insert(message.id, message.clone());
        let mut ids = json!({"project_id": project_id, "message_id": message.id});
        if let Some(item) = project_item_id {
            ids["project_item_id"] = json!(item);
        }
        self.event("create", "message", ids, None);
        message
    }
}

impl Marketplace {
    /// A Marketplace whose token `token` administers OMS `oms_id`.
    pub async fn start(oms_id: &str, token: &str) -> Self {
        let state = Arc::new(Mutex::new(Market {
            oms_id: oms_id.to_owned(),
            token: token.to_owned(),
            ..Market::default()
        }));
        let app = Router::new()
            .route("/api/v1/oms/{oms_id}/events", get(events))
            .route("/api/v1/oms/{oms_id}/projects/{project_id}", get(project))
            .route(
                "/api/v1/oms/{oms_id}/projects/{project_id}/project_items/{item_id}",
                get(item).patch(update_item),
            )
            .route(
                "/api/v1/oms/{oms_id}/messages",
                get(messages).post(create_message),
            )
            .with_state(Arc::clone(&state));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let url = format!("http://{}", listener.local_addr().expect("an address"));
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .await
                .expect("the stand-in serves");
        });
        Self {
            url,
            oms_id: oms_id.to_owned(),
            token: token.to_owned(),
            state,
            task,
        }
    }

    fn market(&self) -> MutexGuard<'_, Market> {
        lock(&self.state)
    }

    /// A project of `owner` (`{uid, email, name, first_name, last_name}`)
    /// with `attributes` (`name`, `organization`, `user_group_name`...).
    pub fn create_project(&self, owner: Value, attributes: Value) -> u64 {
        let mut market = self.market();
        let id = market.projects.keys().last().map_or(1, |last| last + 1);
        market.projects.insert(
            id,
            Project {
                owner,
                attributes,
                items: BTreeMap::new(),
            },
        );
        market.event("create", "project", json!({"project_id": id}), None);
        id
    }

    /// An item ordered in project `project_id` with `attributes`
    /// (`category`, `service`, `offer`, `offer_properties`, ...), status
    /// `created`; its id within the project.
    pub fn create_project_item(&self, project_id: u64, attributes: Value) -> u64 {
        let mut market = self.market();
        let project = market.projects.get_mut(&project_id).expect("a project");
        let id = project.items.keys().last().map_or(1, |last| last + 1);
        let status = ("created".to_owned(), "New order".to_owned());
        project.items.insert(
            id,
            Item {
                status: status.clone(),
                attributes,
                user_secrets: Map::new(),
                history: vec![status],
            },
        );
        market.event(
            "create",
            "project_item",
            json!({"project_id": project_id, "project_item_id": id}),
            None,
        );
        id
    }

    /// The project's owner writes on an item (role `user`, scope `public`).
    pub fn post_user_message(&self, project_id: u64, project_item_id: u64, content: &str) -> u64 {
        let mut market = self.market();
        let owner = market.projects[&project_id].owner.clone();
        let author = json!({"email": owner["email"], "name": owner["name"], "role": "user"});
        market
            .add_message(
                project_id,
                Some(project_item_id),
                author,
                content.to_owned(),
                "public".into(),
            )
            .id
    }

    /// The item as the API shows it.
    pub fn project_item(&self, project_id: u64, project_item_id: u64) -> Value {
        let market = self.market();
        Market::item_json(
            project_id,
            project_item_id,
            &market.projects[&project_id].items[&project_item_id],
        )
    }

    /// Every status the item was given, oldest first: (type, value).
    pub fn status_history(&self, project_id: u64, project_item_id: u64) -> Vec<(String, String)> {
        self.market().projects[&project_id].items[&project_item_id]
            .history
            .clone()
    }

    /// The item's status type now.
    pub fn status(&self, project_id: u64, project_item_id: u64) -> String {
        self.market().projects[&project_id].items[&project_item_id]
            .status
            .0
            .clone()
    }

    /// Every message on the item, by id, as the API shows them.
    pub fn messages(&self, project_id: u64, project_item_id: u64) -> Vec<Value> {
        self.market()
            .messages
            .values()
            .filter(|m| m.project_id == project_id && m.project_item_id == Some(project_item_id))
            .map(Message::json)
            .collect()
    }

    /// The next `n` calls that change something (PATCH, POST) answer 500 and
    /// change nothing.
    pub fn fail_next(&self, n: usize) {
        self.market().fail_next = n;
    }

    /// The next `n` calls that change something about one item answer 500.
    pub fn fail_item(&self, project_id: u64, project_item_id: u64, n: usize) {
        self.market()
            .fail_item
            .insert((project_id, project_item_id), n);
    }

    /// The next events call answers the feed from its start again, whatever
    /// it asks for: a page seen before, repeated.
    pub fn repeat_events(&self) {
        self.market().repeat_events = true;
    }

    /// Every call of the API so far, as `METHOD /path?query → status`.
    pub fn calls(&self) -> Vec<String> {
        self.market().calls.clone()
    }

    /// Calls an OMS's trigger URL as the Marketplace does: POST, no body,
    /// HTTP Basic when credentials are given.
    pub async fn trigger(url: &str, credentials: Option<(&str, &str)>) -> StatusCode {
        let mut request = reqwest::Client::new().post(url);
        if let Some((user, password)) = credentials {
            request = request.basic_auth(user, Some(password));
        }
        request.send().await.expect("the trigger answers").status()
    }
}

fn lock(state: &Mutex<Market>) -> MutexGuard<'_, Market> {
    state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn error(status: StatusCode, text: impl Into<String>) -> Response {
    (status, Json(json!({"error": text.into()}))).into_response()
}

/// An answer refusing a call, before it is one.
struct Refusal(StatusCode, String);

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        error(self.0, self.1)
    }
}

/// Checks the token and the OMS; records the call.
fn admit(
    market: &mut Market,
    headers: &HeaderMap,
    oms_id: &str,
    call: String,
) -> Result<(), Refusal> {
    let token = headers.get("x-user-token").and_then(|v| v.to_str().ok());
    let refused = if token != Some(market.token.as_str()) {
        Some(Refusal(
            StatusCode::UNAUTHORIZED,
            "You need to sign in or sign up before continuing.".into(),
        ))
    } else if oms_id != market.oms_id {
        Some(Refusal(
            StatusCode::FORBIDDEN,
            "You are not authorized to perform this action.".into(),
        ))
    } else {
        None
    };
    let status = refused.as_ref().map_or(200, |r| r.0.as_u16());
    market.calls.push(format!("{call} → {status}"));
    refused.map_or(Ok(()), Err)
}

/// A change the test made fail: 500, nothing changed.
fn failing(market: &mut Market, item: Option<(u64, u64)>) -> Option<Response> {
    let for_item = item.and_then(|item| market.fail_item.get_mut(&item).filter(|n| **n > 0));
    if let Some(remaining) = for_item {
        *remaining -= 1;
    } else if market.fail_next > 0 {
        market.fail_next -= 1;
    } else {
        return None;
    }
    if let Some(last) = market.calls.last_mut() {
        last.push_str(" (failed on purpose: 500)");
    }
    Some(error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Internal Server Error",
    ))
}

fn unsigned(query: &BTreeMap<String, String>, name: &str) -> Result<Option<u64>, Refusal> {
    match query.get(name) {
        None => Ok(None),
        Some(text) => text.parse().map(Some).map_err(|_| {
            Refusal(
                StatusCode::BAD_REQUEST,
                format!("{name}: {text:?} is not an integer"),
            )
        }),
    }
}

fn rendered(query: &BTreeMap<String, String>) -> String {
    query
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

async fn events(
    State(state): State<Arc<Mutex<Market>>>,
    Path(oms_id): Path<String>,
    Query(query): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let mut market = lock(&state);
    let call = format!("GET /events?{}", rendered(&query));
    if let Err(refused) = admit(&mut market, &headers, &oms_id, call) {
        return refused.into_response();
    }
    let Some(text) = query.get("from_timestamp") else {
        return error(StatusCode::BAD_REQUEST, "from_timestamp is required");
    };
    let from = match text.parse::<Timestamp>() {
        Ok(from) if text.ends_with('Z') => from,
        _ => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("from_timestamp: {text:?} is not an ISO 8601 time in UTC (…Z)"),
            );
        }
    };
    let limit = match unsigned(&query, "limit") {
        Ok(limit) => limit.unwrap_or(100) as usize,
        Err(refused) => return refused.into_response(),
    };
    let from = if std::mem::take(&mut market.repeat_events) {
        Timestamp::UNIX_EPOCH
    } else {
        Timestamp::from_second(from.as_second()).expect("a whole second")
    };
    let events: Vec<Value> = market
        .events
        .iter()
        .filter(|event| {
            event["timestamp"]
                .as_str()
                .and_then(|t| t.parse::<Timestamp>().ok())
                .is_some_and(|at| at >= from)
        })
        .take(limit)
        .cloned()
        .collect();
    Json(json!({ "events": events })).into_response()
}

async fn project(
    State(state): State<Arc<Mutex<Market>>>,
    Path((oms_id, project_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let mut market = lock(&state);
    let call = format!("GET /projects/{project_id}");
    if let Err(refused) = admit(&mut market, &headers, &oms_id, call) {
        return refused.into_response();
    }
    match project_id
        .parse::<u64>()
        .ok()
        .and_then(|id| Some((id, market.projects.get(&id)?)))
    {
        Some((id, project)) => Json(market.project_json(id, project)).into_response(),
        None => error(StatusCode::NOT_FOUND, "Project not found"),
    }
}

fn ids(project_id: &str, item_id: &str) -> Option<(u64, u64)> {
    Some((project_id.parse().ok()?, item_id.parse().ok()?))
}

async fn item(
    State(state): State<Arc<Mutex<Market>>>,
    Path((oms_id, project_id, item_id)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    let mut market = lock(&state);
    let call = format!("GET /projects/{project_id}/project_items/{item_id}");
    if let Err(refused) = admit(&mut market, &headers, &oms_id, call) {
        return refused.into_response();
    }
    let found = ids(&project_id, &item_id).and_then(|(pid, iid)| {
        let item = market.projects.get(&pid)?.items.get(&iid)?;
        Some(Market::item_json(pid, iid, item))
    });
    match found {
        Some(item) => Json(item).into_response(),
        None => error(StatusCode::NOT_FOUND, "Project item not found"),
    }
}

/// A `{value, type}` status, or why not.
fn status_of(value: &Value) -> Result<(String, String), String> {
    let Value::Object(status) = value else {
        return Err("status: must be an object".into());
    };
    if let Some(extra) = status
        .keys()
        .find(|k| !["value", "type"].contains(&k.as_str()))
    {
        return Err(format!("status: unknown property {extra:?}"));
    }
    let text = status.get("value").and_then(Value::as_str);
    let kind = status.get("type").and_then(Value::as_str);
    match (text, kind) {
        (Some(text), Some(kind)) if STATUS_TYPES.contains(&kind) => {
            Ok((kind.to_owned(), text.to_owned()))
        }
        (Some(_), Some(kind)) => Err(format!(
            "status.type: {kind:?} is not one of {}",
            STATUS_TYPES.join(", ")
        )),
        _ => Err("status: value and type are required strings".into()),
    }
}

async fn update_item(
    State(state): State<Arc<Mutex<Market>>>,
    Path((oms_id, project_id, item_id)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let mut market = lock(&state);
    let call = format!("PATCH /projects/{project_id}/project_items/{item_id}");
    if let Err(refused) = admit(&mut market, &headers, &oms_id, call) {
        return refused.into_response();
    }
    let Some((pid, iid)) = ids(&project_id, &item_id).filter(|(pid, iid)| {
        market
            .projects
            .get(pid)
            .is_some_and(|p| p.items.contains_key(iid))
    }) else {
        return error(StatusCode::NOT_FOUND, "Project item not found");
    };
    let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(&body) else {
        return error(StatusCode::BAD_REQUEST, "the body must be a JSON object");
    };
    if let Some(extra) = body
        .keys()
        .find(|k| !["status", "user_secrets"].contains(&k.as_str()))
    {
        return error(
            StatusCode::BAD_REQUEST,
            format!("unknown property {extra:?}"),
        );
    }
    if body.is_empty() {
        return error(
            StatusCode::BAD_REQUEST,
            "one of status and user_secrets is required",
        );
    }
    let status = match body.get("status").map(status_of).transpose() {
        Ok(status) => status,
        Err(reason) => return error(StatusCode::BAD_REQUEST, reason),
    };
    let secrets = match body.get("user_secrets") {
        None => None,
        Some(Value::Object(secrets)) => Some(secrets.clone()),
        Some(_) => return error(StatusCode::BAD_REQUEST, "user_secrets: must be an object"),
    };
    if let Some(failed) = failing(&mut market, Some((pid, iid))) {
        return failed;
    }
    let item = market
        .projects
        .get_mut(&pid)
        .and_then(|p| p.items.get_mut(&iid))
        .expect("checked above");
    let mut changes = Vec::new();
    if let Some(status) = status {
        changes.push(json!({"field": "status", "before": item.status.1, "after": status.1}));
        changes.push(json!({"field": "status_type", "before": item.status.0, "after": status.0}));
        item.history.push(status.clone());
        item.status = status;
    }
    if let Some(secrets) = secrets {
        item.user_secrets.extend(secrets);
        changes.push(
            json!({"field": "user_secrets", "before": "<OBFUSCATED>", "after": "<OBFUSCATED>"}),
        );
    }
    let answer = Market::item_json(pid, iid, item);
    market.event(
        "update",
        "project_item",
        json!({"project_id": pid, "project_item_id": iid}),
        Some(Value::Array(changes)),
    );
    Json(answer).into_response()
}

async fn messages(
    State(state): State<Arc<Mutex<Market>>>,
    Path(oms_id): Path<String>,
    Query(query): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let mut market = lock(&state);
    let call = format!("GET /messages?{}", rendered(&query));
    if let Err(refused) = admit(&mut market, &headers, &oms_id, call) {
        return refused.into_response();
    }
    let read = |name| unsigned(&query, name);
    let (project_id, item_id, from_id, limit) = match (
        read("project_id"),
        read("project_item_id"),
        read("from_id"),
        read("limit"),
    ) {
        (Ok(Some(p)), Ok(i), Ok(f), Ok(l)) => (p, i, f.unwrap_or(0), l.unwrap_or(20) as usize),
        (Ok(None), ..) => return error(StatusCode::BAD_REQUEST, "project_id is required"),
        (Err(e), ..) | (_, Err(e), ..) | (_, _, Err(e), _) | (.., Err(e)) => {
            return e.into_response();
        }
    };
    let Some(project) = market.projects.get(&project_id) else {
        return error(StatusCode::NOT_FOUND, "Project not found");
    };
    if item_id.is_some_and(|iid| !project.items.contains_key(&iid)) {
        return error(StatusCode::NOT_FOUND, "Project item not found");
    }
    let messages: Vec<Value> = market
        .messages
        .values()
        .filter(|m| m.project_id == project_id && m.project_item_id == item_id && m.id > from_id)
        .take(limit)
        .map(Message::json)
        .collect();
    Json(json!({ "messages": messages })).into_response()
}

/// A message as `message_write.json` allows it, or why not.
fn new_message(
    body: &Map<String, Value>,
) -> Result<(u64, Option<u64>, Value, String, String), String> {
    let allowed = [
        "project_id",
        "project_item_id",
        "author",
        "content",
        "scope",
    ];
    if let Some(extra) = body.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(format!("unknown property {extra:?}"));
    }
    let project_id = body
        .get("project_id")
        .and_then(Value::as_u64)
        .ok_or("project_id: a required integer")?;
    let item_id = match body.get("project_item_id") {
        None => None,
        Some(value) => Some(
            value
                .as_u64()
                .ok_or("project_item_id: must be an integer")?,
        ),
    };
    let Some(Value::Object(author)) = body.get("author") else {
        return Err("author: a required object".into());
    };
    if let Some(extra) = author
        .keys()
        .find(|k| !["email", "name", "role"].contains(&k.as_str()))
    {
        return Err(format!("author: unknown property {extra:?}"));
    }
    for field in ["email", "name", "role"] {
        if !author.get(field).is_some_and(Value::is_string) {
            return Err(format!("author.{field}: a required string"));
        }
    }
    let role = author["role"].as_str().unwrap_or_default();
    if !["provider", "mediator"].contains(&role) {
        return Err(format!(
            "author.role: {role:?} is not one of provider, mediator"
        ));
    }
    let content = body
        .get("content")
        .and_then(Value::as_str)
        .ok_or("content: a required string")?;
    let scope = body
        .get("scope")
        .and_then(Value::as_str)
        .ok_or("scope: a required string")?;
    if !["public", "internal", "user_direct"].contains(&scope) {
        return Err(format!(
            "scope: {scope:?} is not one of public, internal, user_direct"
        ));
    }
    Ok((
        project_id,
        item_id,
        Value::Object(author.clone()),
        content.to_owned(),
        scope.to_owned(),
    ))
}

async fn create_message(
    State(state): State<Arc<Mutex<Market>>>,
    Path(oms_id): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let mut market = lock(&state);
    if let Err(refused) = admit(&mut market, &headers, &oms_id, "POST /messages".into()) {
        return refused.into_response();
    }
    let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(&body) else {
        return error(StatusCode::BAD_REQUEST, "the body must be a JSON object");
    };
    let (project_id, item_id, author, content, scope) = match new_message(&body) {
        Ok(message) => message,
        Err(reason) => return error(StatusCode::BAD_REQUEST, reason),
    };
    let Some(project) = market.projects.get(&project_id) else {
        return error(StatusCode::NOT_FOUND, "Project not found");
    };
    if item_id.is_some_and(|iid| !project.items.contains_key(&iid)) {
        return error(StatusCode::NOT_FOUND, "Project item not found");
    }
    if let Some(failed) = failing(&mut market, item_id.map(|iid| (project_id, iid))) {
        return failed;
    }
    let message = market.add_message(project_id, item_id, author, content, scope);
    (StatusCode::CREATED, Json(message.json())).into_response()
}
