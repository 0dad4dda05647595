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

use crate::access::policy::{self, Capability, OrderAction as PolicyAction};
use crate::access::tokens::is_group_shifter;
use crate::access::{Principal, Role};
use crate::app::App;
use crate::catalogue::params;
use crate::execute::{self, CommandMeta, Loaded};
use crate::handling;
use crate::orders::aggregate::Order;
use crate::orders::commands::{NewOrder, OrderAction, OrderCommand};
use crate::orders::errors::OrderError;
use crate::orders::legacy;
use crate::store::{AppendError, AppendOutcome, AppendRequest, StoreError, StoredResponse};
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
        /// Where the created resource lives (for 201 answers).
        location: Option<String>,
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
    /// A command on the order served from memory was refused in a way the order
    /// being stale may explain (see `stale`). [`hot_then_log`] decides it again
    /// on the log, so this reaches no caller.
    #[error("another command changed the order first; reload and retry")]
    StaleOrder,
    #[error(transparent)]
    Append(AppendError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Agreement(#[from] crate::agreements::aggregate::AgreementError),
    /// A document could not be produced: a bug in a template or the renderer.
    #[error("document: {0}")]
    Document(String),
    #[error("no version {version} of this agreement")]
    NoSuchVersion { version: u32 },
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
        targets: None,
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
        targets: None,
    })
}

/// The customer a `POST /v1/orders:legacy` caller orders as.
pub fn legacy_customer(principal: &Principal) -> Result<Customer, ServiceError> {
    customer_of(principal)
}

/// Submits a prepared order, its clocks under the handling targets in force.
pub async fn submit(
    app: &App,
    mut order: NewOrder,
    request: CommandRequest,
) -> Result<CommandResponse, ServiceError> {
    order.targets = handling::in_force(&app.store, &order.group, &order.service).await?;
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
    let now = request.meta.now;
    let (action, request) = (&action, &request);
    hot_then_log(app, order_id, move |source| {
        execute_with(
            app,
            order_id,
            request.clone(),
            source,
            async move |loaded: &Loaded<Order>| {
                Ok(Prepared::alone(
                    gather_facts(app, loaded, action.clone(), now).await?,
                ))
            },
        )
    })
    .await
}

/// Where a command reads its order from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// From memory when the order is hot ([`execute::load_cached`]).
    Hot,
    /// From the log.
    Log,
}

/// How often a command is decided again on the log before a lost race is the
/// caller's 409.
const RETRIES: u32 = 16;

/// Runs a command on the hot order, in its turn, and again on the order read
/// from the log while it turns out stale ([`ServiceError::StaleOrder`]), at most
/// [`RETRIES`] times.
pub async fn hot_then_log<F, Fut>(
    app: &App,
    order_id: &str,
    attempt: F,
) -> Result<CommandResponse, ServiceError>
where
    F: Fn(Source) -> Fut,
    Fut: Future<Output = Result<CommandResponse, ServiceError>>,
{
    // Commands on this order in this process take turns: each decides on what
    // the one before it wrote. Races with other nodes remain, and are retried.
    let _turn = app.store.turn(OrderEvent::AGGREGATE_TYPE, order_id).await;
    let mut answer = attempt(Source::Hot).await;
    // Decided again on the log: for a stale hot order, for the handling timer
    // recording a warning or breach between the load and the append, and for a
    // command that asked for no version check losing a race to another command.
    // Each round of a race has a winner, so a bounded number of rounds serves
    // every one of a few concurrent callers; a short random pause spreads them.
    for round in 0..RETRIES {
        match answer {
            Err(ServiceError::StaleOrder) => {
                if round > 0 {
                    let pause = rand::random_range(0..=(2u64 << round.min(5)));
                    tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
                }
                answer = attempt(Source::Log).await;
            }
            answer => return answer,
        }
    }
    match answer {
        Err(ServiceError::StaleOrder) => Err(ServiceError::Conflict),
        answer => answer,
    }
}

/// A command ready to decide, with the appends of other aggregates that must
/// commit with it (the agreements an activation issues).
pub struct Prepared {
    pub action: OrderAction,
    pub together: Vec<AppendRequest>,
}

impl Prepared {
    pub fn alone(action: OrderAction) -> Self {
        Self {
            action,
            together: Vec::new(),
        }
    }
}

/// Runs a command whose action is built from the loaded order by `prepare`
/// (after the caller's replay, visibility and `If-Match` checks passed), on the
/// order read from `source`: from [`Source::Hot`], a refusal is answered with
/// [`ServiceError::StaleOrder`] if the order came from memory and may have been
/// stale (see [`hot_then_log`]).
pub async fn execute_with(
    app: &App,
    order_id: &str,
    request: CommandRequest,
    source: Source,
    prepare: impl AsyncFnOnce(&Loaded<Order>) -> Result<Prepared, ServiceError>,
) -> Result<CommandResponse, ServiceError> {
    let loaded = match source {
        Source::Hot => execute::load_cached::<Order>(&app.store, order_id).await?,
        Source::Log => execute::load::<Order>(&app.store, order_id).await?,
    };
    let cached = loaded.cached;
    let version = loaded.version;
    // A retry is answered only while the caller may still see the order (a
    // refusal from a stale hot order is decided again on the log, below).
    let answer = if loaded.exists() && !loaded.aggregate.visible_to(&request.meta.principal) {
        Err(OrderError::NotFound.into())
    } else if let Some(replayed) = replay(app, &request.meta).await? {
        return Ok(replayed);
    } else {
        match check(&loaded, &request) {
            Ok(()) => match prepare(&loaded).await {
                Ok(prepared) => decide_and_append(app, order_id, &request, prepared, loaded).await,
                Err(refused) => Err(refused),
            },
            Err(refused) => Err(refused),
        }
    };
    match (answer, cached) {
        (Err(error), Some(generation)) if stale(&error, generation, app) => {
            Err(ServiceError::StaleOrder)
        }
        // Without If-Match a lost race is not the caller's business: decide the
        // command again on the order as it now is.
        (Err(ServiceError::Conflict), _) if request.if_match.is_none() => {
            Err(ServiceError::StaleOrder)
        }
        (Err(ServiceError::Conflict), _) if only_alarms_since(app, order_id, version).await? => {
            Err(ServiceError::StaleOrder)
        }
        (answer, _) => answer,
    }
}

/// Whether everything appended to the order after `version` is the handling
/// timer's bookkeeping (warnings, breaches): a race with it is no reason to
/// refuse a command that did not ask for a version.
async fn only_alarms_since(app: &App, order_id: &str, version: u64) -> Result<bool, StoreError> {
    let events = app.store.load(OrderEvent::AGGREGATE_TYPE, order_id).await?;
    let newer: Vec<_> = events.iter().filter(|e| e.sequence > version).collect();
    Ok(!newer.is_empty()
        && newer.iter().all(|e| {
            matches!(
                e.event_type.as_str(),
                "HandlingTargetAtRisk" | "HandlingTargetBreached"
            )
        }))
}

/// Whether `error`, met on an order served from memory in cache `generation`,
/// may come from the order being stale, so the command must be decided again on
/// the log. A refusal that depends on the order's state may; a conflict may only
/// if the store has since found someone else's appends (with only this process
/// appending, the cache is exact and a conflict is a real race).
fn stale(error: &ServiceError, generation: u64, app: &App) -> bool {
    match error {
        ServiceError::Conflict => generation != app.store.cache_generation(),
        ServiceError::Order(_)
        | ServiceError::PreconditionFailed { .. }
        | ServiceError::Invalid(_) => true,
        _ => false,
    }
}

/// The `If-Match` check, before anything is prepared.
fn check(loaded: &Loaded<Order>, request: &CommandRequest) -> Result<(), ServiceError> {
    if let Some(expected) = request.if_match
        && expected != loaded.version
    {
        return Err(ServiceError::PreconditionFailed {
            current: loaded.version,
        });
    }
    Ok(())
}

async fn decide_and_append(
    app: &App,
    order_id: &str,
    request: &CommandRequest,
    prepared: Prepared,
    loaded: Loaded<Order>,
) -> Result<CommandResponse, ServiceError> {
    let meta = &request.meta;
    let principal = &meta.principal;
    let exists = loaded.exists();
    let Prepared { action, together } = prepared;
    if !exists && !matches!(action, OrderAction::Submit(_)) {
        return Err(OrderError::NotFound.into());
    }
    let (events, _) = execute::decide(
        &loaded,
        OrderCommand {
            by: principal.clone(),
            at: meta.now,
            action,
        },
        &(),
    )
    .await?;

    let actor = principal.actor();
    let view = shape(
        OrderView::fold(loaded.contexts_with(&events, &actor, meta.now))
            .ok_or(OrderError::NotFound)?
            .clocks_at(meta.now),
        principal,
    );
    let body = serde_json::to_string(&view).expect("views serialize");
    if events.is_empty() {
        return Ok(CommandResponse::Done {
            status: request.success_status,
            body,
            location: None,
            version: loaded.version,
            position: loaded.history.last().map_or(0, |(r, _)| r.position),
        });
    }
    let mut appends = vec![execute::append_request(
        &loaded,
        &events,
        meta,
        Some((request.success_status, body.clone())),
    )];
    appends.extend(together);
    let outcomes = app.store.append_all(appends).await?;
    // Read-your-writes: the newest position of everything this command wrote.
    let position = outcomes
        .iter()
        .filter_map(|outcome| match outcome {
            AppendOutcome::Committed(events) => events.last().map(|e| e.position),
            AppendOutcome::Replayed(_) => None,
        })
        .max();
    match (outcomes.into_iter().next(), position) {
        (Some(AppendOutcome::Replayed(stored)), _) => Ok(CommandResponse::Replayed(stored)),
        (_, position) => Ok(CommandResponse::Done {
            status: request.success_status,
            body,
            location: (request.success_status == 201).then(|| format!("/v1/orders/{order_id}")),
            version: view.version,
            position: position.unwrap_or(0),
        }),
    }
}

/// The first answer to a retried command, if this is a retry.
pub async fn replay(
    app: &App,
    meta: &CommandMeta,
) -> Result<Option<CommandResponse>, ServiceError> {
    let Some(idempotency) = &meta.idempotency else {
        return Ok(None);
    };
    let Some(stored) = app
        .store
        .stored_response(&meta.principal.idempotency_scope(), &idempotency.key)
        .await?
    else {
        return Ok(None);
    };
    if stored.request_hash != idempotency.request_hash {
        return Err(AppendError::IdempotencyKeyReused {
            key: idempotency.key.clone(),
        }
        .into());
    }
    Ok(Some(CommandResponse::Replayed(stored)))
}

fn view_of(loaded: &Loaded<Order>) -> Option<OrderView> {
    OrderView::fold(loaded.contexts())
}

/// `POST /v1/orders/{id}/proposals`: `changes` are merged into the parameters
/// agreed so far and the whole set is validated against the service, like an
/// order's.
pub async fn propose(
    app: &App,
    order_id: &str,
    changes: Map<String, Value>,
    note: Option<String>,
    request: CommandRequest,
) -> Result<CommandResponse, ServiceError> {
    let principal = &request.meta.principal;
    let (changes, note, request) = (&changes, &note, &request);
    hot_then_log(app, order_id, move |source| {
        execute_with(
            app,
            order_id,
            request.clone(),
            source,
            async move |loaded: &Loaded<Order>| {
                loaded.aggregate.permits(principal, PolicyAction::Propose)?;
                let view = view_of(loaded).ok_or(OrderError::NotFound)?;
                let service = app.catalogue.service(&view.service).ok_or_else(|| {
                    ServiceError::Invalid(vec![FieldError::new(
                        "service",
                        format!("{} is no longer in the catalogue", view.service),
                    )])
                })?;
                let mut merged: Map<String, Value> =
                    view.agreed_parameters.clone().into_iter().collect();
                merged.extend(changes.clone());
                let parameters =
                    params::from_json(service, &merged).map_err(ServiceError::Invalid)?;
                let changed = parameters
                    .as_map()
                    .iter()
                    .filter(|(key, value)| view.agreed_parameters.get(*key) != Some(*value))
                    .map(|(key, _)| key.clone())
                    .chain(
                        view.agreed_parameters
                            .keys()
                            .filter(|key| !parameters.as_map().contains_key(*key))
                            .cloned(),
                    )
                    .collect();
                Ok(Prepared::alone(OrderAction::Propose {
                    parameters,
                    changed,
                    note: note.clone(),
                }))
            },
        )
    })
    .await
}

/// `POST /v1/orders/{id}/provisioning`: every provider must be registered and
/// deliver the order's service.
pub async fn plan(
    app: &App,
    order_id: &str,
    steps: Vec<(String, String)>,
    request: CommandRequest,
) -> Result<CommandResponse, ServiceError> {
    let principal = &request.meta.principal;
    let (steps, request) = (&steps, &request);
    hot_then_log(app, order_id, move |source| {
        execute_with(
            app,
            order_id,
            request.clone(),
            source,
            async move |loaded: &Loaded<Order>| {
                loaded
                    .aggregate
                    .permits(principal, PolicyAction::PlanProvisioning)?;
                let view = view_of(loaded).ok_or(OrderError::NotFound)?;
                let mut errors = Vec::new();
                for (index, (provider, _)) in steps.iter().enumerate() {
                    let field = format!("steps[{index}].provider");
                    match app.catalogue.providers.get(provider) {
                        None => errors.push(FieldError::new(
                            field,
                            format!("unknown provider {provider:?}"),
                        )),
                        Some(registered) if !registered.services.contains(&view.service) => {
                            let able: Vec<&str> = app
                                .catalogue
                                .providers
                                .values()
                                .filter(|p| p.services.contains(&view.service))
                                .map(|p| p.provider_id.as_str())
                                .collect();
                            errors.push(FieldError::new(
                                field,
                                format!(
                                    "{provider} does not deliver {} (providers that do: {})",
                                    view.service,
                                    able.join(", ")
                                ),
                            ));
                        }
                        Some(_) => {}
                    }
                }
                if !errors.is_empty() {
                    return Err(ServiceError::Invalid(errors));
                }
                Ok(Prepared::alone(OrderAction::PlanProvisioning {
                    steps: steps.clone(),
                }))
            },
        )
    })
    .await
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
    let view = OrderView::fold(events)
        .ok_or(OrderError::NotFound)?
        .clocks_at(as_of.unwrap_or_else(|| app.now()));
    Ok(shape(view, principal))
}

/// The order as `principal` may see it: customers without internal comments,
/// providers only their steps and OLA, staff everything.
pub fn shape(view: OrderView, principal: &Principal) -> OrderView {
    match &principal.role {
        Role::Provider { provider } => view.for_provider(provider),
        _ => view.for_audience(principal.audience()),
    }
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
    // Providers see an order's steps, not its history.
    if !loaded.aggregate.visible_to(principal)
        || !policy::may_do(principal, Capability::ReadOrderHistory)
    {
        return Err(OrderError::NotFound.into());
    }
    let audience = principal.audience();
    let staff = audience == pactum_projections::audience::Audience::Staff;
    Ok(loaded
        .history
        .into_iter()
        .filter(|(_, event)| audience.sees(event))
        .map(|(recorded, event)| history_entry(recorded, &audience.redact(event), staff))
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
