//! Order endpoints: intake (`POST /v1/orders`, `POST /v1/orders:legacy`), reads
//! (`GET /v1/orders/{id}[?as_of=]`, `/history`) and the review commands.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use pactum_events::order::{OrderSource, OrderStatus, Visibility};
use serde::Deserialize;
use serde_json::{Map, Value};

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::agreements;
use crate::agreements::service::Activation;
use crate::app::App;
use crate::http::agreements::TargetsBody;
use crate::http::error::ApiError;
use crate::http::extract::{Caller, CommandInput, Path, Query, given, parse_instant, parse_json};
use crate::http::paging::ListRequest;
use crate::http::response::{etag, listed, respond};
use crate::orders::commands::{COMMENT_MAX, OrderAction, TITLE_MAX};
use crate::orders::queue::{self, QueueQuery};
use crate::orders::service::{self, Submission};
use crate::runner::Effect;
use crate::validation::{self, FieldError};
use utoipa::ToSchema;

const NOTE_MAX: usize = 4_000;

pub fn router() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(submit, list))
        .routes(routes!(submit_legacy))
        .routes(routes!(get_order))
        .routes(routes!(history))
        .routes(routes!(assign))
        .routes(routes!(comment))
        .routes(routes!(ask))
        .routes(routes!(answer))
        .routes(routes!(approve))
        .routes(routes!(reject))
        .routes(routes!(cancel))
        .routes(routes!(propose))
        .routes(routes!(accept_proposal))
        .routes(routes!(decline_proposal))
        .routes(routes!(plan))
        .routes(routes!(step_done))
        .routes(routes!(step_failed))
        .routes(routes!(step_retry))
        .routes(routes!(activate))
}

/// `POST /v1/orders` — `{service, parameters, title?, note?}` → 201 order.
#[utoipa::path(
    post,
    path = "/v1/orders",
    tag = "orders",
    summary = "Submit an order (customers)",
    params(crate::http::openapi::CommandHeaders),
    request_body(content = serde_json::Value, content_type = "application/json"),
    responses((status = 201, description = "The order, at Location", body = pactum_projections::order_view::OrderView, content_type = "application/json"), crate::http::openapi::Problems),
    security(("bearer" = []))
)]
async fn submit(State(app): State<App>, input: CommandInput) -> Result<Response, ApiError> {
    let submission = parse_submission(&input.body)?;
    let request = input.request(&app, Effect::Created);
    let order = service::prepare_json(
        &*app.catalogue().await?,
        &input.principal,
        submission,
        request.meta.now,
    )?;
    let id = order.order_id.clone();
    let answer = service::submit(&app.store, order, &request).await?;
    Ok(respond(answer, created(&id)))
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
#[utoipa::path(
    post,
    path = "/v1/orders:legacy",
    tag = "orders",
    summary = "Submit a legacy order string (customers)",
    params(crate::http::openapi::CommandHeaders),
    request_body(content = String, content_type = "text/plain"),
    responses((status = 201, description = "The order, at Location", body = pactum_projections::order_view::OrderView, content_type = "application/json"), crate::http::openapi::Problems),
    security(("bearer" = []))
)]
async fn submit_legacy(State(app): State<App>, input: CommandInput) -> Result<Response, ApiError> {
    let raw = input.text()?;
    let customer = service::legacy_customer(&input.principal)?;
    let request = input.request(&app, Effect::Created);
    let order = service::prepare_legacy(
        &*app.catalogue().await?,
        customer,
        raw,
        OrderSource::Legacy {
            raw: raw.to_owned(),
        },
        request.meta.now,
    )
    .map_err(ApiError::Validation)?;
    let id = order.order_id.clone();
    let answer = service::submit(&app.store, order, &request).await?;
    Ok(respond(answer, created(&id)))
}

/// Runs `action` on the order `id` with a 200 answer.
async fn run(
    app: &App,
    id: &str,
    input: &CommandInput,
    action: OrderAction,
) -> Result<Response, ApiError> {
    let request = input.request(app, Effect::Changed);
    let answer = service::execute(&app.store, id, action, &request).await?;
    Ok(respond(answer, None))
}

/// Where an order created (or added to) by a 201 answer lives.
fn created(id: &str) -> Option<String> {
    Some(format!("/v1/orders/{id}"))
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

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct AssignBody {
    assignee: String,
}

#[utoipa::path(
    post,
    path = "/v1/orders/{id}/assign",
    tag = "orders",
    summary = "Assign to a shifter of the group",
    params(("id" = String, Path, description = "The order's id"), crate::http::openapi::CommandHeaders),
    request_body(content = AssignBody, content_type = "application/json"),
    responses((status = 200, description = "The order as the caller sees it", body = pactum_projections::order_view::OrderView, content_type = "application/json"), crate::http::openapi::Problems),
    security(("bearer" = []))
)]
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

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CommentBody {
    body: String,
    /// public (default), internal, or provider.
    #[serde(default = "public")]
    #[schema(value_type = Option<String>, example = "public")]
    visibility: Visibility,
    /// For `visibility: provider`: the provider of one of the order's steps the
    /// message is between staff and (a provider writing one may leave it out).
    #[serde(default)]
    provider: Option<String>,
}

fn public() -> Visibility {
    Visibility::Public
}

/// `POST /v1/orders/{id}/comments` → 201 order with the new comment.
#[utoipa::path(
    post,
    path = "/v1/orders/{id}/comments",
    tag = "orders",
    summary = "Comment (public, internal, or to a provider)",
    params(("id" = String, Path, description = "The order's id"), crate::http::openapi::CommandHeaders),
    request_body(content = CommentBody, content_type = "application/json"),
    responses((status = 201, description = "The order as the caller sees it", body = pactum_projections::order_view::OrderView, content_type = "application/json"), crate::http::openapi::Problems),
    security(("bearer" = []))
)]
async fn comment(
    State(app): State<App>,
    Path(id): Path<String>,
    input: CommandInput,
) -> Result<Response, ApiError> {
    let body: CommentBody = input.json()?;
    let action = OrderAction::Comment {
        body: text("body", &body.body, COMMENT_MAX)?,
        visibility: body.visibility,
        provider: body.provider,
    };
    let request = input.request(&app, Effect::Created);
    let answer = service::execute(&app.store, &id, action, &request).await?;
    Ok(respond(answer, created(&id)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct TextBody {
    body: String,
}

#[utoipa::path(
    post,
    path = "/v1/orders/{id}/questions",
    tag = "orders",
    summary = "Ask the customer a question",
    params(("id" = String, Path, description = "The order's id"), crate::http::openapi::CommandHeaders),
    request_body(content = TextBody, content_type = "application/json"),
    responses((status = 200, description = "The order as the caller sees it", body = pactum_projections::order_view::OrderView, content_type = "application/json"), crate::http::openapi::Problems),
    security(("bearer" = []))
)]
async fn ask(
    State(app): State<App>,
    Path(id): Path<String>,
    input: CommandInput,
) -> Result<Response, ApiError> {
    let body: TextBody = input.json()?;
    let action = OrderAction::AskQuestion {
        body: text("body", &body.body, COMMENT_MAX)?,
    };
    run(&app, &id, &input, action).await
}

#[utoipa::path(
    post,
    path = "/v1/orders/{id}/answers",
    tag = "orders",
    summary = "Answer the open question (customers)",
    params(("id" = String, Path, description = "The order's id"), crate::http::openapi::CommandHeaders),
    request_body(content = TextBody, content_type = "application/json"),
    responses((status = 200, description = "The order as the caller sees it", body = pactum_projections::order_view::OrderView, content_type = "application/json"), crate::http::openapi::Problems),
    security(("bearer" = []))
)]
async fn answer(
    State(app): State<App>,
    Path(id): Path<String>,
    input: CommandInput,
) -> Result<Response, ApiError> {
    let body: TextBody = input.json()?;
    let action = OrderAction::Answer {
        body: text("body", &body.body, COMMENT_MAX)?,
    };
    run(&app, &id, &input, action).await
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct NoteBody {
    #[serde(default)]
    note: Option<String>,
}

#[utoipa::path(
    post,
    path = "/v1/orders/{id}/approve",
    tag = "orders",
    summary = "Approve",
    params(("id" = String, Path, description = "The order's id"), crate::http::openapi::CommandHeaders),
    request_body(content = NoteBody, content_type = "application/json"),
    responses((status = 200, description = "The order as the caller sees it", body = pactum_projections::order_view::OrderView, content_type = "application/json"), crate::http::openapi::Problems),
    security(("bearer" = []))
)]
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

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct RejectBody {
    reason: String,
}

#[utoipa::path(
    post,
    path = "/v1/orders/{id}/reject",
    tag = "orders",
    summary = "Reject, with a reason",
    params(("id" = String, Path, description = "The order's id"), crate::http::openapi::CommandHeaders),
    request_body(content = RejectBody, content_type = "application/json"),
    responses((status = 200, description = "The order as the caller sees it", body = pactum_projections::order_view::OrderView, content_type = "application/json"), crate::http::openapi::Problems),
    security(("bearer" = []))
)]
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

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CancelBody {
    #[serde(default)]
    reason: Option<String>,
}

#[utoipa::path(
    post,
    path = "/v1/orders/{id}/cancel",
    tag = "orders",
    summary = "Cancel (customers)",
    params(("id" = String, Path, description = "The order's id"), crate::http::openapi::CommandHeaders),
    request_body(content = CancelBody, content_type = "application/json"),
    responses((status = 200, description = "The order as the caller sees it", body = pactum_projections::order_view::OrderView, content_type = "application/json"), crate::http::openapi::Problems),
    security(("bearer" = []))
)]
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

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ProposalBody {
    #[schema(value_type = Object)]
    parameters: Map<String, Value>,
    #[serde(default)]
    note: Option<String>,
}

/// `POST /v1/orders/{id}/proposals` — changed parameters (merged into what is
/// agreed so far) → 201 order with the new proposal.
#[utoipa::path(
    post,
    path = "/v1/orders/{id}/proposals",
    tag = "orders",
    summary = "Propose changed parameters",
    params(("id" = String, Path, description = "The order's id"), crate::http::openapi::CommandHeaders),
    request_body(content = ProposalBody, content_type = "application/json"),
    responses((status = 201, description = "The order as the caller sees it", body = pactum_projections::order_view::OrderView, content_type = "application/json"), crate::http::openapi::Problems),
    security(("bearer" = []))
)]
async fn propose(
    State(app): State<App>,
    Path(id): Path<String>,
    input: CommandInput,
) -> Result<Response, ApiError> {
    let body: ProposalBody = input.json()?;
    let note = optional_text("note", body.note, NOTE_MAX)?;
    let request = input.request(&app, Effect::Created);
    let answer = service::propose(
        &app.store,
        &*app.catalogue().await?,
        &id,
        body.parameters,
        note,
        &request,
    )
    .await?;
    Ok(respond(answer, created(&id)))
}

/// A number in a path segment (`{n}`, `{step}`); anything else is no such thing.
fn number(what: &str, text: &str) -> Result<u32, ApiError> {
    text.parse()
        .map_err(|_| ApiError::NotFound(format!("no {what} {text:?} on this order")))
}

#[utoipa::path(
    post,
    path = "/v1/orders/{id}/proposals/{n}/accept",
    tag = "orders",
    summary = "Accept the open proposal",
    params(("id" = String, Path, description = "The order's id"), ("n" = u32, Path, description = "The proposal's number"), crate::http::openapi::CommandHeaders),
    request_body(content = NoteBody, content_type = "application/json"),
    responses((status = 200, description = "OK", body = pactum_projections::order_view::OrderView, content_type = "application/json"), crate::http::openapi::Problems),
    security(("bearer" = []))
)]
async fn accept_proposal(
    State(app): State<App>,
    Path((id, n)): Path<(String, String)>,
    input: CommandInput,
) -> Result<Response, ApiError> {
    let body: NoteBody = input.json()?;
    let action = OrderAction::AcceptProposal {
        proposal_id: number("proposal", &n)?,
        note: optional_text("note", body.note, NOTE_MAX)?,
    };
    run(&app, &id, &input, action).await
}

#[utoipa::path(
    post,
    path = "/v1/orders/{id}/proposals/{n}/decline",
    tag = "orders",
    summary = "Decline the open proposal",
    params(("id" = String, Path, description = "The order's id"), ("n" = u32, Path, description = "The proposal's number"), crate::http::openapi::CommandHeaders),
    request_body(content = NoteBody, content_type = "application/json"),
    responses((status = 200, description = "OK", body = pactum_projections::order_view::OrderView, content_type = "application/json"), crate::http::openapi::Problems),
    security(("bearer" = []))
)]
async fn decline_proposal(
    State(app): State<App>,
    Path((id, n)): Path<(String, String)>,
    input: CommandInput,
) -> Result<Response, ApiError> {
    let body: NoteBody = input.json()?;
    let action = OrderAction::DeclineProposal {
        proposal_id: number("proposal", &n)?,
        note: optional_text("note", body.note, NOTE_MAX)?,
    };
    run(&app, &id, &input, action).await
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct StepBody {
    provider: String,
    action: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct PlanBody {
    steps: Vec<StepBody>,
}

/// `POST /v1/orders/{id}/provisioning` — `{steps: [{provider, action}]}`.
#[utoipa::path(
    post,
    path = "/v1/orders/{id}/provisioning",
    tag = "orders",
    summary = "Plan provisioning steps",
    params(("id" = String, Path, description = "The order's id"), crate::http::openapi::CommandHeaders),
    request_body(content = PlanBody, content_type = "application/json"),
    responses((status = 200, description = "The order as the caller sees it", body = pactum_projections::order_view::OrderView, content_type = "application/json"), crate::http::openapi::Problems),
    security(("bearer" = []))
)]
async fn plan(
    State(app): State<App>,
    Path(id): Path<String>,
    input: CommandInput,
) -> Result<Response, ApiError> {
    let body: PlanBody = input.json()?;
    let mut errors = Vec::new();
    let mut steps = Vec::new();
    for (index, step) in body.steps.into_iter().enumerate() {
        match validation::text(&format!("steps[{index}].action"), &step.action, 500) {
            Ok(action) => steps.push((step.provider.trim().to_owned(), action)),
            Err(error) => errors.push(error),
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let request = input.request(&app, Effect::Changed);
    let answer = service::plan(&app.store, &*app.catalogue().await?, &id, steps, &request).await?;
    Ok(respond(answer, None))
}

async fn step_report(
    app: &App,
    id: &str,
    step: &str,
    input: &CommandInput,
    action: impl FnOnce(u32, Option<String>) -> OrderAction,
) -> Result<Response, ApiError> {
    let body: NoteBody = input.json()?;
    let action = action(
        number("provisioning step", step)?,
        optional_text("note", body.note, NOTE_MAX)?,
    );
    run(app, id, input, action).await
}

/// `POST /v1/orders/{id}/provisioning/{step}/done` — the step's provider.
#[utoipa::path(
    post,
    path = "/v1/orders/{id}/provisioning/{step}/done",
    tag = "orders",
    summary = "Report a step done (its provider)",
    params(("id" = String, Path, description = "The order's id"), ("step" = u32, Path), crate::http::openapi::CommandHeaders),
    request_body(content = NoteBody, content_type = "application/json"),
    responses((status = 200, description = "OK", body = pactum_projections::order_view::OrderView, content_type = "application/json"), crate::http::openapi::Problems),
    security(("bearer" = []))
)]
async fn step_done(
    State(app): State<App>,
    Path((id, step)): Path<(String, String)>,
    input: CommandInput,
) -> Result<Response, ApiError> {
    step_report(&app, &id, &step, &input, |step_id, note| {
        OrderAction::CompleteStep { step_id, note }
    })
    .await
}

/// `POST /v1/orders/{id}/provisioning/{step}/failed` — the step's provider.
#[utoipa::path(
    post,
    path = "/v1/orders/{id}/provisioning/{step}/failed",
    tag = "orders",
    summary = "Report a step failed (its provider)",
    params(("id" = String, Path, description = "The order's id"), ("step" = u32, Path), crate::http::openapi::CommandHeaders),
    request_body(content = NoteBody, content_type = "application/json"),
    responses((status = 200, description = "OK", body = pactum_projections::order_view::OrderView, content_type = "application/json"), crate::http::openapi::Problems),
    security(("bearer" = []))
)]
async fn step_failed(
    State(app): State<App>,
    Path((id, step)): Path<(String, String)>,
    input: CommandInput,
) -> Result<Response, ApiError> {
    step_report(&app, &id, &step, &input, |step_id, note| {
        OrderAction::FailStep { step_id, note }
    })
    .await
}

/// `POST /v1/orders/{id}/provisioning/{step}/retry` — a shifter, for a failed step.
#[utoipa::path(
    post,
    path = "/v1/orders/{id}/provisioning/{step}/retry",
    tag = "orders",
    summary = "Retry a failed step (shifters)",
    params(("id" = String, Path, description = "The order's id"), ("step" = u32, Path), crate::http::openapi::CommandHeaders),
    request_body(content = NoteBody, content_type = "application/json"),
    responses((status = 200, description = "OK", body = pactum_projections::order_view::OrderView, content_type = "application/json"), crate::http::openapi::Problems),
    security(("bearer" = []))
)]
async fn step_retry(
    State(app): State<App>,
    Path((id, step)): Path<(String, String)>,
    input: CommandInput,
) -> Result<Response, ApiError> {
    step_report(&app, &id, &step, &input, |step_id, note| {
        OrderAction::RetryStep { step_id, note }
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ActivateBody {
    #[serde(default)]
    targets: Option<TargetsBody>,
    #[serde(default)]
    provider_targets: BTreeMap<String, TargetsBody>,
}

/// `POST /v1/orders/{id}/activate` — issues the SLA and one OLA per provider,
/// each with its document → 200 order listing its agreements.
#[utoipa::path(
    post,
    path = "/v1/orders/{id}/activate",
    tag = "orders",
    summary = "Activate: issue the SLA and the OLAs",
    params(("id" = String, Path, description = "The order's id"), crate::http::openapi::CommandHeaders),
    request_body(content = serde_json::Value, content_type = "application/json"),
    responses((status = 200, description = "The order as the caller sees it", body = pactum_projections::order_view::OrderView, content_type = "application/json"), crate::http::openapi::Problems),
    security(("bearer" = []))
)]
async fn activate(
    State(app): State<App>,
    Path(id): Path<String>,
    input: CommandInput,
) -> Result<Response, ApiError> {
    let body: ActivateBody = input.json()?;
    let mut errors = Vec::new();
    let targets = TargetsBody::patch_of(body.targets, "targets", &mut errors);
    let mut provider_targets = BTreeMap::new();
    for (provider, targets) in body.provider_targets {
        match targets.patch(&format!("provider_targets.{provider}")) {
            Ok(patch) => {
                provider_targets.insert(provider, patch);
            }
            Err(e) => errors.extend(e),
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let activation = Activation {
        targets,
        provider_targets,
    };
    let request = input.request(&app, Effect::Changed);
    let answer = agreements::service::activate(
        &app.issuing(&*app.catalogue().await?),
        &id,
        activation,
        &request,
    )
    .await?;
    Ok(respond(answer, None))
}

/// `GET /v1/orders?status=&service=&group=&assignee=&customer=&reference=&cursor=&limit=&sort=&min_position=`
/// `GET /v1/orders?status=&service=&group=&assignee=&customer=&reference=` and paging.
#[derive(Deserialize)]
struct QueueParams {
    status: Option<String>,
    service: Option<String>,
    group: Option<String>,
    assignee: Option<String>,
    customer: Option<String>,
    reference: Option<String>,
}

#[utoipa::path(
    get,
    path = "/v1/orders",
    tag = "orders",
    summary = "The order queue, as the caller may see it",
    params(("status" = Option<String>, Query, description = "Statuses, comma-separated"), ("service" = Option<String>, Query), ("group" = Option<String>, Query), ("assignee" = Option<String>, Query), ("customer" = Option<String>, Query), ("reference" = Option<String>, Query, description = "The order's reference in the system it came from: a JIRA ticket's key"), ("cursor" = Option<String>, Query, description = "Where the previous page ended (its next_cursor)"), ("limit" = Option<u32>, Query, description = "At most this many items (default 50, at most 500)"), ("sort" = Option<String>, Query, description = "newest, oldest (or due_at for orders)"), ("min_position" = Option<u64>, Query, description = "Answer only once the list reflects the log up to this position (read your writes)")),
    responses((status = 200, description = "OK", body = serde_json::Value, content_type = "application/json"), crate::http::openapi::Problems),
    security(("bearer" = []))
)]
async fn list(
    State(app): State<App>,
    ListRequest {
        principal,
        paging,
        params,
    }: ListRequest<QueueParams>,
) -> Result<Response, ApiError> {
    let text = |value: &Option<String>| given(value).map(str::to_owned);
    let statuses = match text(&params.status) {
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
    paging
        .wait(&app.store, &app.projections.order_queue, "the order queue")
        .await?;
    let query = QueueQuery {
        statuses,
        service: text(&params.service),
        group: text(&params.group),
        assignee: text(&params.assignee),
        customer: text(&params.customer),
        reference: text(&params.reference),
        cursor: paging.cursor,
        limit: paging.limit,
        sort: paging.sort,
    };
    let page = queue::list(
        &app.store,
        &app.projections.order_queue,
        &principal,
        &query,
        app.now(),
    )
    .await?;
    Ok(listed(&page, page.position))
}

/// `GET /v1/orders/{id}[?as_of=RFC3339]` (other parameters are ignored, as
/// they always were).
#[derive(Deserialize)]
struct OrderParams {
    as_of: Option<String>,
}

/// `GET /v1/orders/{id}[?as_of=RFC3339]`
#[utoipa::path(
    get,
    path = "/v1/orders/{id}",
    tag = "orders",
    summary = "One order, now or as it was",
    params(("id" = String, Path, description = "The order's id"), ("as_of" = Option<String>, Query, description = "An RFC 3339 instant: the order as it was then")),
    responses((status = 200, description = "OK", body = pactum_projections::order_view::OrderView, content_type = "application/json"), crate::http::openapi::Problems),
    security(("bearer" = []))
)]
async fn get_order(
    State(app): State<App>,
    Caller(principal): Caller,
    Path(id): Path<String>,
    Query(query): Query<OrderParams>,
) -> Result<Response, ApiError> {
    let as_of = query.as_of.as_deref().map(parse_instant).transpose()?;
    let view = service::get(&app.store, &principal, &id, as_of, app.now()).await?;
    let mut response = Json(&view).into_response();
    response
        .headers_mut()
        .insert(header::ETAG, etag(view.version));
    Ok(response)
}

/// `GET /v1/orders/{id}/history`
#[utoipa::path(
    get,
    path = "/v1/orders/{id}/history",
    tag = "orders",
    summary = "The order's events the caller may see",
    params(("id" = String, Path, description = "The order's id")),
    responses((status = 200, description = "OK", body = serde_json::Value, content_type = "application/json"), crate::http::openapi::Problems),
    security(("bearer" = []))
)]
async fn history(
    State(app): State<App>,
    Caller(principal): Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let events = service::history(&app.store, &principal, &id).await?;
    Ok(Json(
        serde_json::json!({ "order_id": id, "events": events }),
    ))
}
