//! Orders in the console: the queue (`/ui/orders`, refreshed when the log
//! moves: `/ui/orders/rows` is its table, `/ui/stream` says when), and one
//! order (`/ui/orders/{id}[?as_of=]`) with its timeline and a form for each
//! thing the viewer may do there (`POST /ui/orders/{id}`, field `action`).

use std::collections::HashMap;
use std::convert::Infallible;
use std::time::Duration;

use askama::Template;
use axum::Router;
use axum::extract::{Form, Query, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures::Stream;
use pactum_events::order::{OrderStatus, Visibility};
use pactum_projections::order_view::OrderView;
use serde::Serialize;

use super::{Chrome, Viewer, failed, field, render, see_other, when};
use crate::access::policy::{self, OrderAction as Action, OrderScope};
use crate::app::App;
use crate::http::error::ApiError;
use crate::http::extract::{Path, parse_instant};
use crate::orders::commands::OrderAction;
use crate::orders::queue::{self, QueueQuery};
use crate::orders::service;
use crate::projector::listing::Sort;
use crate::runner::Effect;

pub fn router() -> Router<App> {
    Router::new()
        .route("/ui/orders", get(queue_page))
        .route("/ui/orders/rows", get(queue_rows))
        .route("/ui/stream", get(stream))
        .route("/ui/orders/{id}", get(order_page).post(act))
        .route("/ui/steps", get(steps_page))
}

/// The name serde gives a value (`in_review`).
fn name<T: Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

pub struct Row {
    pub id: String,
    pub title: String,
    pub service: String,
    pub group: String,
    pub status: String,
    pub org: String,
    pub assignee: String,
    pub created: String,
    pub due: String,
    /// Business time left on the clock due first (staff).
    pub remaining: String,
    /// `at risk` or `breached`, for staff.
    pub badge: &'static str,
}

#[derive(Template)]
#[template(path = "queue.html")]
struct QueuePage {
    chrome: Chrome,
    rows: Vec<Row>,
    filter: Filter,
    statuses: Vec<&'static str>,
    rows_url: String,
}

#[derive(Template)]
#[template(path = "queue_rows.html")]
struct QueueRows {
    rows: Vec<Row>,
}

#[derive(Clone, Debug, Default, serde::Deserialize, Serialize)]
pub struct Filter {
    #[serde(default)]
    status: String,
    #[serde(default)]
    service: String,
    #[serde(default)]
    assignee: String,
    #[serde(default)]
    sort: String,
}

async fn rows(app: &App, viewer: &Viewer, filter: &Filter) -> Result<Vec<Row>, ApiError> {
    let given = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
    let statuses = match given(&filter.status) {
        Some(status) => vec![
            status
                .parse::<OrderStatus>()
                .map_err(|e| ApiError::BadRequest(format!("status: {e}")))?,
        ],
        None => Vec::new(),
    };
    let query = QueueQuery {
        statuses,
        service: given(&filter.service),
        group: None,
        assignee: given(&filter.assignee),
        customer: None,
        reference: None,
        cursor: None,
        limit: 200,
        sort: match filter.sort.as_str() {
            "due_at" => Sort::Due,
            "oldest" => Sort::Oldest,
            _ => Sort::Newest,
        },
    };
    // What the viewer just did shows: the queue waits (briefly) for the read
    // model to reach the log's head.
    app.projections
        .order_queue
        .wait_for(app.store.head(), Duration::from_secs(2))
        .await;
    let page = queue::list(
        &app.store,
        &app.projections.order_queue,
        &viewer.principal,
        &query,
        app.now(),
    )
    .await?;
    Ok(page
        .orders
        .into_iter()
        .map(|item| {
            let clocks = item.handling.as_ref().map(|h| h.clocks.values());
            let breached = clocks
                .clone()
                .is_some_and(|mut c| c.any(|c| c.remaining_seconds < 0));
            let at_risk = clocks.is_some_and(|mut c| c.any(|c| c.warn_at <= app.now()));
            let remaining = item
                .handling
                .as_ref()
                .and_then(|h| {
                    h.clocks
                        .values()
                        .filter(|c| {
                            matches!(c.state, pactum_projections::handling::ClockState::Running)
                        })
                        .min_by_key(|c| c.due_at)
                })
                .map(|c| business_time(c.remaining_seconds))
                .unwrap_or_default();
            Row {
                title: item.title.clone().unwrap_or_else(|| "(untitled)".into()),
                id: item.id,
                service: item.service,
                group: item.group,
                status: name(&item.status),
                org: item.customer.org,
                assignee: item.assignee.unwrap_or_default(),
                created: when(item.created_at),
                due: item.due_at.map(when).unwrap_or_default(),
                remaining,
                badge: if breached {
                    "breached"
                } else if at_risk {
                    "at risk"
                } else {
                    ""
                },
            }
        })
        .collect())
}

async fn queue_page(
    State(app): State<App>,
    viewer: Viewer,
    Query(filter): Query<Filter>,
) -> Response {
    let rows = match rows(&app, &viewer, &filter).await {
        Ok(rows) => rows,
        Err(error) => return failed(error),
    };
    let rows_url = format!(
        "/ui/orders/rows?{}",
        serde_urlencoded::to_string(&filter).unwrap_or_default()
    );
    render(
        StatusCode::OK,
        &QueuePage {
            chrome: viewer.chrome(),
            rows,
            filter,
            statuses: OrderStatus::ALL.map(|s| s.as_str()).to_vec(),
            rows_url,
        },
    )
}

async fn queue_rows(
    State(app): State<App>,
    viewer: Viewer,
    Query(filter): Query<Filter>,
) -> Response {
    match rows(&app, &viewer, &filter).await {
        Ok(rows) => render(StatusCode::OK, &QueueRows { rows }),
        Err(error) => failed(error),
    }
}

/// Business time as people read it: `7 h 30 min left`, `15 min over`.
fn business_time(seconds: i64) -> String {
    let minutes = seconds.unsigned_abs() / 60;
    let (h, m) = (minutes / 60, minutes % 60);
    let amount = match (h, m) {
        (0, m) => format!("{m} min"),
        (h, 0) => format!("{h} h"),
        (h, m) => format!("{h} h {m} min"),
    };
    if seconds < 0 {
        format!("{amount} over")
    } else {
        format!("{amount} left")
    }
}

/// `changed` each time the order queue's read model moves (at most twice a
/// second): the queue page then fetches its rows again.
async fn stream(
    State(app): State<App>,
    _viewer: Viewer,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let head = app.projections.order_queue.subscribe();
    let shutdown = app.shutdown.clone();
    let events = futures::stream::unfold(
        (head, shutdown, true),
        |(mut head, shutdown, first)| async move {
            if !first {
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            tokio::select! {
                changed = head.changed() => if changed.is_err() { return None },
                () = shutdown.cancelled() => return None,
            }
            let position = head
                .borrow_and_update()
                .as_ref()
                .map_or(0, |view| view.checkpoint);
            let event = Event::default().event("changed").data(position.to_string());
            Some((Ok(event), (head, shutdown, false)))
        },
    );
    Sse::new(events).keep_alive(KeepAlive::default())
}

pub struct StepItem {
    pub order: String,
    pub title: String,
    pub id: u32,
    pub provider: String,
    pub action: String,
    pub status: String,
}

#[derive(Template)]
#[template(path = "steps.html")]
struct StepsPage {
    chrome: Chrome,
    steps: Vec<StepItem>,
}

/// A provider's operator: the steps addressed to its providers, pending first.
async fn steps_page(State(app): State<App>, viewer: Viewer) -> Response {
    let providers: Vec<String> = viewer
        .principal
        .roles()
        .flat_map(|role| match role {
            crate::access::Role::Provider { providers } => providers.iter().cloned().collect(),
            _ => Vec::new(),
        })
        .collect();
    let mut steps = Vec::new();
    for provider in &providers {
        let ids =
            match crate::orders::queries::orders_with_steps_for(app.store.reader(), provider, 200)
                .await
            {
                Ok(ids) => ids,
                Err(error) => return failed(error.into()),
            };
        for id in ids {
            let Ok(view) = service::get(&app.store, &viewer.principal, &id, None, app.now()).await
            else {
                continue;
            };
            for step in view.provisioning.iter().filter(|s| &s.provider == provider) {
                steps.push(StepItem {
                    order: view.id.clone(),
                    title: view.title.clone().unwrap_or_else(|| "(untitled)".into()),
                    id: step.id,
                    provider: step.provider.clone(),
                    action: step.action.clone(),
                    status: name(&step.status),
                });
            }
        }
    }
    steps.sort_by_key(|s| s.status != "pending");
    render(
        StatusCode::OK,
        &StepsPage {
            chrome: viewer.chrome(),
            steps,
        },
    )
}

pub struct Line {
    pub label: String,
    pub value: String,
}

pub struct Entry {
    pub when: String,
    pub who: String,
    pub what: String,
    pub text: String,
    pub internal: bool,
}

pub struct StepRow {
    pub id: u32,
    pub provider: String,
    pub action: String,
    pub status: String,
    pub note: String,
    pub can_report: bool,
}

pub struct ProposalRow {
    pub id: u32,
    pub side: String,
    pub changes: String,
    pub note: String,
    pub status: String,
    pub open: bool,
}

pub struct AgreementRow {
    pub id: String,
    pub kind: String,
    pub provider: String,
}

/// What the viewer may do on this order (as `policy` says; the order's state
/// may still refuse, which the page then shows).
#[derive(Default)]
pub struct May {
    pub assign: bool,
    pub comment: bool,
    pub internal: bool,
    pub provider: bool,
    pub ask: bool,
    pub answer: bool,
    pub approve: bool,
    pub reject: bool,
    pub cancel: bool,
    pub answer_proposal: bool,
    pub propose: bool,
    pub plan: bool,
    pub activate: bool,
}

#[derive(Template)]
#[template(path = "order.html")]
struct OrderPage {
    chrome: Chrome,
    csrf: String,
    id: String,
    title: String,
    status: String,
    service: String,
    org: String,
    assignee: String,
    parameters: Vec<Line>,
    timeline: Vec<Entry>,
    open_question: bool,
    steps: Vec<StepRow>,
    proposals: Vec<ProposalRow>,
    agreements: Vec<AgreementRow>,
    providers: Vec<String>,
    /// Who delivers the order's service (for a plan).
    deliverers: Vec<String>,
    plan_rows: Vec<usize>,
    may: May,
    as_of: String,
    error: Option<String>,
}

#[derive(serde::Deserialize)]
struct OrderQuery {
    as_of: Option<String>,
}

async fn order_page(
    State(app): State<App>,
    viewer: Viewer,
    Path(id): Path<String>,
    Query(query): Query<OrderQuery>,
) -> Response {
    let as_of = match query.as_of.as_deref().filter(|s| !s.trim().is_empty()) {
        None => None,
        Some(raw) => match parse_instant(raw) {
            Ok(at) => Some(at),
            Err(error) => return failed(error),
        },
    };
    show(&app, &viewer, &id, as_of, None, StatusCode::OK).await
}

async fn show(
    app: &App,
    viewer: &Viewer,
    id: &str,
    as_of: Option<jiff::Timestamp>,
    error: Option<String>,
    status: StatusCode,
) -> Response {
    let view = match service::get(&app.store, &viewer.principal, id, as_of, app.now()).await {
        Ok(view) => view,
        Err(error) => return failed(error.into()),
    };
    // Providers see an order's steps, not its history.
    let history = service::history(&app.store, &viewer.principal, id)
        .await
        .unwrap_or_default();
    let timeline = history
        .iter()
        .filter(|entry| as_of.is_none_or(|at| entry.recorded_at <= at))
        .map(|entry| {
            let text = ["body", "reason", "note"]
                .iter()
                .find_map(|k| entry.payload.get(*k).and_then(|v| v.as_str()))
                .unwrap_or_default()
                .to_owned();
            Entry {
                when: when(entry.recorded_at),
                who: format!("{} ({})", entry.actor.subject, entry.actor.role),
                what: entry.event_type.clone(),
                internal: entry.payload.get("visibility").and_then(|v| v.as_str())
                    == Some("internal"),
                text,
            }
        })
        .collect();
    let page = OrderPage {
        chrome: viewer.chrome(),
        csrf: viewer.csrf.clone(),
        may: may(viewer, &view),
        id: view.id.clone(),
        title: view.title.clone().unwrap_or_else(|| "(untitled)".into()),
        status: name(&view.status),
        service: match view.service_version {
            Some(v) => format!("{} (version {v})", view.service),
            None => view.service.clone(),
        },
        org: view.customer.org.clone(),
        assignee: view.assignee.clone().unwrap_or_default(),
        parameters: view
            .agreed_parameters
            .iter()
            .map(|(key, value)| Line {
                label: key.clone(),
                value: match value {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                },
            })
            .collect(),
        timeline,
        open_question: view.questions.iter().any(|q| q.answer.is_none()),
        steps: view
            .provisioning
            .iter()
            .map(|step| StepRow {
                id: step.id,
                provider: step.provider.clone(),
                action: step.action.clone(),
                status: name(&step.status),
                note: step.note.clone().unwrap_or_default(),
                can_report: name(&step.status) == "pending"
                    && viewer.principal.roles().any(|r| match r {
                        crate::access::Role::Provider { providers } => {
                            providers.contains(&step.provider)
                        }
                        _ => false,
                    }),
            })
            .collect(),
        proposals: view
            .proposals
            .iter()
            .map(|p| ProposalRow {
                id: p.id,
                side: name(&p.side),
                changes: p
                    .changed
                    .iter()
                    .map(|k| {
                        format!(
                            "{k} = {}",
                            p.parameters
                                .get(k)
                                .map(|v| v.to_string())
                                .unwrap_or_default()
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
                note: p.note.clone().unwrap_or_default(),
                status: name(&p.status),
                open: name(&p.status) == "open",
            })
            .collect(),
        agreements: view
            .agreements
            .iter()
            .map(|a| AgreementRow {
                id: a.agreement_id.clone(),
                kind: a.kind.to_uppercase(),
                provider: a.provider.clone().unwrap_or_default(),
            })
            .collect(),
        providers: view
            .provisioning
            .iter()
            .map(|s| s.provider.clone())
            .collect(),
        deliverers: match app.catalogue().await {
            Ok(catalogue) => catalogue
                .providers_of(&view.service)
                .into_iter()
                .filter(|p| !catalogue.retired.providers.contains_key(p))
                .collect(),
            Err(_) => Vec::new(),
        },
        plan_rows: (1..=PLAN_ROWS).collect(),
        as_of: as_of.map(|at| at.to_string()).unwrap_or_default(),
        error,
    };
    render(status, &page)
}

fn may(viewer: &Viewer, view: &OrderView) -> May {
    let providers: Vec<String> = view
        .provisioning
        .iter()
        .map(|s| s.provider.clone())
        .collect();
    let scope = OrderScope {
        org: &view.customer.org,
        group: &view.group,
        providers: &providers,
    };
    let can = |action| policy::may(&viewer.principal, scope, action);
    May {
        assign: can(Action::Assign),
        comment: can(Action::CommentPublic),
        internal: can(Action::CommentInternal),
        provider: can(Action::CommentProvider) && !providers.is_empty(),
        ask: can(Action::AskQuestion),
        answer: can(Action::Answer),
        approve: can(Action::Approve),
        reject: can(Action::Reject),
        cancel: can(Action::Cancel),
        answer_proposal: can(Action::AnswerProposal),
        propose: can(Action::Propose),
        plan: can(Action::PlanProvisioning),
        activate: can(Action::Activate),
    }
}

const TEXT_MAX: usize = 20_000;
/// How many steps the plan form offers at once.
const PLAN_ROWS: usize = 3;

enum Command {
    Order(OrderAction),
    Activate,
    /// Changed parameters (`p_<key>` fields), typed by the order's pinned
    /// service version.
    Propose,
    Plan(Vec<(String, String)>),
}

/// The command a form asks for, validated as the API validates it.
fn command_of(
    form: &HashMap<String, String>,
    viewer: &Viewer,
) -> Result<(Command, Effect), ApiError> {
    let text = |name: &str| {
        crate::validation::text(name, form.get(name).map_or("", String::as_str), TEXT_MAX)
            .map_err(|e| ApiError::Validation(vec![e]))
    };
    let number = |name: &str| {
        field(form, name)
            .and_then(|n| n.parse::<u32>().ok())
            .ok_or_else(|| ApiError::BadRequest(format!("{name} must be a number")))
    };
    let note = field(form, "note");
    let action = field(form, "action").unwrap_or_default();
    if action == "activate" {
        return Ok((Command::Activate, Effect::Changed));
    }
    if action == "propose" {
        return Ok((Command::Propose, Effect::Created));
    }
    if action == "plan" {
        let steps: Vec<(String, String)> = (1..=PLAN_ROWS)
            .filter_map(|n| {
                let provider = field(form, &format!("provider_{n}"))?;
                Some((
                    provider,
                    field(form, &format!("step_{n}")).unwrap_or_default(),
                ))
            })
            .collect();
        return Ok((Command::Plan(steps), Effect::Changed));
    }
    let (action, effect) = match action.as_str() {
        "assign" => (
            OrderAction::Assign {
                assignee: field(form, "assignee")
                    .unwrap_or_else(|| viewer.principal.subject.clone()),
                assignee_is_group_shifter: false,
            },
            Effect::Changed,
        ),
        "comment" => {
            let visibility = match field(form, "visibility").as_deref() {
                Some("internal") => Visibility::Internal,
                Some("provider") => Visibility::Provider,
                _ => Visibility::Public,
            };
            (
                OrderAction::Comment {
                    body: text("body")?,
                    visibility,
                    provider: field(form, "provider")
                        .filter(|_| visibility == Visibility::Provider),
                },
                Effect::Created,
            )
        }
        "question" => (
            OrderAction::AskQuestion {
                body: text("body")?,
            },
            Effect::Changed,
        ),
        "answer" => (
            OrderAction::Answer {
                body: text("body")?,
            },
            Effect::Changed,
        ),
        "approve" => (OrderAction::Approve { note }, Effect::Changed),
        "reject" => (
            OrderAction::Reject {
                reason: text("reason")?,
            },
            Effect::Changed,
        ),
        "cancel" => (OrderAction::Cancel { reason: note }, Effect::Changed),
        "accept" => (
            OrderAction::AcceptProposal {
                proposal_id: number("proposal")?,
                note,
            },
            Effect::Changed,
        ),
        "decline" => (
            OrderAction::DeclineProposal {
                proposal_id: number("proposal")?,
                note,
            },
            Effect::Changed,
        ),
        "step_done" => (
            OrderAction::CompleteStep {
                step_id: number("step")?,
                note,
            },
            Effect::Changed,
        ),
        "step_failed" => (
            OrderAction::FailStep {
                step_id: number("step")?,
                note,
            },
            Effect::Changed,
        ),
        other => {
            return Err(ApiError::BadRequest(format!("no such action {other:?}")));
        }
    };
    Ok((Command::Order(action), effect))
}

/// What a form on an order page asks: done, then back to the order (a
/// reload sends nothing again); refused, the page says why.
async fn act(
    State(app): State<App>,
    viewer: Viewer,
    Path(id): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = viewer.refuse_forged(form.get("csrf").map(String::as_str)) {
        return refused;
    }
    let result = async {
        let (action, effect) = command_of(&form, &viewer)?;
        let request = viewer.request(&app, effect);
        match action {
            Command::Order(action) => service::execute(&app.store, &id, action, &request)
                .await
                .map(drop)
                .map_err(ApiError::from),
            Command::Propose => {
                let catalogue = app.catalogue().await?;
                let view =
                    service::get(&app.store, &viewer.principal, &id, None, app.now()).await?;
                let spec = catalogue
                    .service_at(&view.service, view.service_version)
                    .ok_or_else(|| ApiError::NotFound(format!("no service {}", view.service)))?;
                let mut changes = serde_json::Map::new();
                for parameter in &spec.parameters {
                    let raw = field(&form, &format!("p_{}", parameter.key));
                    let value = super::catalogue::typed(parameter, raw);
                    if value.as_ref() != view.agreed_parameters.get(&parameter.key)
                        && let Some(value) = value
                    {
                        changes.insert(parameter.key.clone(), value);
                    }
                }
                service::propose(
                    &app.store,
                    &catalogue,
                    &id,
                    changes,
                    field(&form, "note"),
                    &request,
                )
                .await
                .map(drop)
                .map_err(ApiError::from)
            }
            Command::Plan(steps) => {
                let catalogue = app.catalogue().await?;
                service::plan(&app.store, &catalogue, &id, steps, &request)
                    .await
                    .map(drop)
                    .map_err(ApiError::from)
            }
            Command::Activate => {
                let catalogue = app.catalogue().await?;
                crate::agreements::service::activate(
                    &app.issuing(&catalogue),
                    &id,
                    crate::agreements::service::Activation::default(),
                    &request,
                )
                .await
                .map(drop)
                .map_err(ApiError::from)
            }
        }
    }
    .await;
    match result {
        Ok(_) => see_other(&format!("/ui/orders/{id}")),
        Err(error) => {
            let (text, status) = super::refusal(error);
            show(&app, &viewer, &id, None, Some(text), status).await
        }
    }
    .into_response()
}
