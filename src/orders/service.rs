//! Runs order commands and reads for the HTTP API and the CLI.
//!
//! A command goes: idempotent replay? → load the order → may the caller see it?
//! → `If-Match` → gather outside facts (is the assignee a shifter of the group?)
//! → the aggregate decides → the view after the events is shaped for the caller
//! and stored with the events under the idempotency key → append. Nothing is
//! appended unless every step passed.

use jiff::Timestamp;
use pactum_events::order::{Customer, OrderEvent, OrderSource};
use pactum_events::{Actor, EventPayload, RecordedEvent};
use pactum_projections::EventContext;
use pactum_projections::order_view::OrderView;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::access::tokens::is_group_shifter;
use crate::access::{Principal, Role};
use crate::app::App;
use crate::catalogue::params;
use crate::execute::{self, CommandMeta, Loaded};
use crate::orders::aggregate::Order;
use crate::orders::commands::{NewOrder, OrderAction, OrderCommand};
use crate::orders::errors::OrderError;
use crate::orders::legacy;
use crate::store::{AppendError, AppendOutcome, StoreError, StoredResponse};
use crate::validation::FieldError;

/// How a command was asked for, besides the command itself.
#[derive(Clone, Debug)]
pub struct CommandRequest {
    pub meta: CommandMeta,
    /// The version the caller last saw (`If-Match`), if it asked for a check.
    pub if_match: Option<u64>,
    /// The status code of a successful answer (201 for creations).
    pub success_status: u16,
}

/// The answer to a command.
#[derive(Clone, Debug)]
pub enum CommandResponse {
    /// The command ran now. `body` is the order view for the caller.
    Done {
        status: u16,
        body: String,
        order_id: String,
        version: u64,
        /// Global position of the order's newest event.
        position: u64,
    },
    /// A retry of a command that already ran: its first answer.
    Replayed(StoredResponse),
}

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Order(#[from] OrderError),
    #[error("invalid order")]
    Invalid(Vec<FieldError>),
    #[error("only customers submit orders")]
    NotACustomer,
    #[error("the order is at version {current}, not the one given in If-Match")]
    PreconditionFailed { current: u64 },
    #[error("another command changed the order first; reload and retry")]
    Conflict,
    #[error(transparent)]
    Append(AppendError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl From<AppendError> for ServiceError {
    fn from(error: AppendError) -> Self {
        match error {
            AppendError::Conflict { .. } => Self::Conflict,
            other => Self::Append(other),
        }
    }
}

/// A JSON order as the HTTP layer parsed it.
#[derive(Clone, Debug)]
pub struct Submission {
    pub service: String,
    pub parameters: Map<String, Value>,
    pub title: Option<String>,
    pub note: Option<String>,
}

fn customer_of(principal: &Principal) -> Result<Customer, ServiceError> {
    match &principal.role {
        Role::Customer { org } => Ok(Customer {
            org: org.clone(),
            subject: principal.subject.clone(),
        }),
        _ => Err(ServiceError::NotACustomer),
    }
}

fn new_order_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// A new order from JSON, its parameters validated against the catalogue.
pub fn prepare_json(
    app: &App,
    principal: &Principal,
    submission: Submission,
    now: Timestamp,
) -> Result<NewOrder, ServiceError> {
    let customer = customer_of(principal)?;
    let Some(service) = app.catalogue.service(&submission.service) else {
        let known = app.catalogue.services.keys().cloned().collect::<Vec<_>>();
        return Err(ServiceError::Invalid(vec![FieldError::new(
            "service",
            format!(
                "unknown service {:?} (known: {})",
                submission.service,
                known.join(", ")
            ),
        )]));
    };
    let parameters =
        params::from_json(service, &submission.parameters).map_err(ServiceError::Invalid)?;
    Ok(NewOrder {
        order_id: new_order_id(),
        service: service.service_id.clone(),
        group: service.group.clone(),
        customer,
        parameters,
        title: submission.title,
        note: submission.note,
        submitted_at: now,
        source: OrderSource::Api,
    })
}

/// A new order from a legacy order string. `customer` is the caller for
/// `POST /v1/orders:legacy`, or the file's customer for an import.
pub fn prepare_legacy(
    app: &App,
    customer: Customer,
    raw: &str,
    source: OrderSource,
    submitted_at: Timestamp,
) -> Result<NewOrder, Vec<FieldError>> {
    let parsed = legacy::parse(&app.catalogue, raw)?;
    let service = app
        .catalogue
        .service(&parsed.service_id)
        .expect("the parser returns catalogue services");
    Ok(NewOrder {
        order_id: new_order_id(),
        service: service.service_id.clone(),
        group: service.group.clone(),
        customer,
        parameters: parsed.parameters,
        title: None,
        note: None,
        submitted_at,
        source,
    })
}

/// The customer a `POST /v1/orders:legacy` caller orders as.
pub fn legacy_customer(principal: &Principal) -> Result<Customer, ServiceError> {
    customer_of(principal)
}

/// Submits a prepared order.
pub async fn submit(
    app: &App,
    order: NewOrder,
    request: CommandRequest,
) -> Result<CommandResponse, ServiceError> {
    let id = order.order_id.clone();
    execute(app, &id, OrderAction::Submit(Box::new(order)), request).await
}

/// Runs one command on an order.
#[tracing::instrument(skip(app, action, request), fields(order_id = %order_id, by = %request.meta.principal.subject))]
pub async fn execute(
    app: &App,
    order_id: &str,
    action: OrderAction,
    request: CommandRequest,
) -> Result<CommandResponse, ServiceError> {
    let meta = &request.meta;
    let principal = &meta.principal;
    if let Some(idempotency) = &meta.idempotency
        && let Some(stored) = app
            .store
            .stored_response(&principal.subject, &idempotency.key)
            .await?
    {
        if stored.request_hash != idempotency.request_hash {
            return Err(AppendError::IdempotencyKeyReused {
                key: idempotency.key.clone(),
            }
            .into());
        }
        return Ok(CommandResponse::Replayed(stored));
    }

    let loaded = execute::load::<Order>(&app.store, order_id).await?;
    let is_submit = matches!(action, OrderAction::Submit(_));
    if !is_submit && !loaded.aggregate.visible_to(principal) {
        return Err(OrderError::NotFound.into());
    }
    if let Some(expected) = request.if_match
        && expected != loaded.version
    {
        return Err(ServiceError::PreconditionFailed {
            current: loaded.version,
        });
    }
    let action = gather_facts(app, &loaded, action, meta.now).await?;
    let (events, _) = execute::decide(
        &loaded,
        OrderCommand {
            by: principal.clone(),
            action,
        },
        &(),
    )
    .await?;

    let actor = principal.actor();
    let view = view_after(&loaded, &events, &actor, meta.now)
        .ok_or(OrderError::NotFound)?
        .for_audience(principal.audience());
    let body = serde_json::to_string(&view).expect("views serialize");
    if events.is_empty() {
        return Ok(CommandResponse::Done {
            status: request.success_status,
            body,
            order_id: order_id.to_owned(),
            version: loaded.version,
            position: loaded.history.last().map_or(0, |(r, _)| r.position),
        });
    }
    let append = execute::append_request(
        &loaded,
        &events,
        meta,
        Some((request.success_status, body.clone())),
    );
    match app.store.append(append).await? {
        AppendOutcome::Committed(recorded) => Ok(CommandResponse::Done {
            status: request.success_status,
            body,
            order_id: order_id.to_owned(),
            version: view.version,
            position: recorded.last().map_or(0, |e| e.position),
        }),
        AppendOutcome::Replayed(stored) => Ok(CommandResponse::Replayed(stored)),
    }
}

/// Fills in the facts a command needs that the aggregate cannot look up itself.
async fn gather_facts(
    app: &App,
    loaded: &Loaded<Order>,
    action: OrderAction,
    now: Timestamp,
) -> Result<OrderAction, ServiceError> {
    Ok(match action {
        OrderAction::Assign { assignee, .. } => {
            let group = loaded.aggregate.group().unwrap_or_default();
            let assignee_is_group_shifter =
                is_group_shifter(app.store.reader(), &assignee, group, now).await?;
            OrderAction::Assign {
                assignee,
                assignee_is_group_shifter,
            }
        }
        other => other,
    })
}

/// The order view after `events` would be appended to `loaded`.
fn view_after(
    loaded: &Loaded<Order>,
    events: &[OrderEvent],
    actor: &Actor,
    now: Timestamp,
) -> Option<OrderView> {
    let past = loaded
        .history
        .iter()
        .map(|(recorded, event)| (EventContext::from(recorded), event));
    let new = events.iter().enumerate().map(|(offset, event)| {
        (
            EventContext {
                sequence: loaded.version + 1 + offset as u64,
                recorded_at: now,
                actor,
            },
            event,
        )
    });
    OrderView::fold(past.chain(new))
}

/// The order as `principal` may see it, now or as it was at `as_of`.
pub async fn get(
    app: &App,
    principal: &Principal,
    order_id: &str,
    as_of: Option<Timestamp>,
) -> Result<OrderView, ServiceError> {
    let loaded = execute::load::<Order>(&app.store, order_id).await?;
    if !loaded.aggregate.visible_to(principal) {
        return Err(OrderError::NotFound.into());
    }
    let events = loaded
        .history
        .iter()
        .filter(|(recorded, _)| as_of.is_none_or(|at| recorded.recorded_at <= at))
        .map(|(recorded, event)| (EventContext::from(recorded), event));
    let view = OrderView::fold(events).ok_or(OrderError::NotFound)?;
    Ok(view.for_audience(principal.audience()))
}

/// One event of an order's timeline as shown by `GET /v1/orders/{id}/history`.
#[derive(Debug, Serialize)]
pub struct HistoryEntry {
    pub position: u64,
    pub sequence: u64,
    pub recorded_at: Timestamp,
    pub actor: Actor,
    #[serde(rename = "type")]
    pub event_type: String,
    pub schema_version: u32,
    /// The payload at the current schema version (old versions upcast).
    pub payload: Value,
    pub correlation_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub causation_id: Option<String>,
    /// The hash chain link; shown to staff, who may verify it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hash: Option<String>,
}

/// The order's events that `principal` may see, oldest first.
pub async fn history(
    app: &App,
    principal: &Principal,
    order_id: &str,
) -> Result<Vec<HistoryEntry>, ServiceError> {
    let loaded = execute::load::<Order>(&app.store, order_id).await?;
    if !loaded.aggregate.visible_to(principal) {
        return Err(OrderError::NotFound.into());
    }
    let audience = principal.audience();
    let staff = audience == pactum_projections::audience::Audience::Staff;
    Ok(loaded
        .history
        .into_iter()
        .filter(|(_, event)| audience.sees(event))
        .map(|(recorded, event)| history_entry(recorded, &event, staff))
        .collect())
}

fn history_entry(recorded: RecordedEvent, event: &OrderEvent, staff: bool) -> HistoryEntry {
    let (event_type, schema_version, payload) = event.encode();
    HistoryEntry {
        position: recorded.position,
        sequence: recorded.sequence,
        recorded_at: recorded.recorded_at,
        actor: recorded.actor,
        event_type: event_type.to_owned(),
        schema_version,
        payload,
        correlation_id: recorded.correlation_id,
        causation_id: recorded.causation_id,
        hash: staff.then_some(recorded.hash),
    }
}
