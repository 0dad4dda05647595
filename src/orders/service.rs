//! Order commands and reads for the HTTP API and the CLI.
//!
//! Every command goes through [`crate::runner`]; this module adds what is the
//! order's own: the outside facts a command needs (is the assignee a shifter of
//! the group? is the proposal valid for the service?) and the view after the
//! events, shaped for the caller.

use jiff::Timestamp;
use pactum_events::order::{Customer, OrderEvent, OrderSource};
use pactum_events::{Actor, EventPayload, RecordedEvent};
use pactum_projections::EventContext;
use pactum_projections::order_view::OrderView;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::access::policy::{self, Capability, OrderAction as PolicyAction, OrderScope};
use crate::access::{Principal, Role};
use crate::catalogue::{Catalogue, params};
use crate::execute::{self, Loaded};
use crate::handling;
use crate::members::is_group_shifter;
use crate::orders::aggregate::Order;
use crate::orders::commands::{NewOrder, OrderAction, OrderCommand};
use crate::orders::errors::OrderError;
use crate::orders::legacy;
use crate::runner::{self, CommandRequest, Ran, RunError, Source, Step};
use crate::store::{AppendError, EventStore, StoreError};
use crate::validation::FieldError;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Order(#[from] OrderError),
    #[error("invalid order")]
    Invalid(Vec<FieldError>),
    #[error("only customers submit orders")]
    NotACustomer,
    #[error("the {kind} is at version {current}, not the one given in If-Match")]
    PreconditionFailed { kind: &'static str, current: u64 },
    #[error("another command changed the {kind} first; reload and retry")]
    Conflict { kind: &'static str },
    #[error(transparent)]
    Append(AppendError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Agreement(#[from] crate::agreements::errors::AgreementError),
    /// A document could not be produced: a bug in a template or the renderer.
    #[error("document: {0}")]
    Document(String),
    #[error("no version {version} of this agreement")]
    NoSuchVersion { version: u32 },
}

impl From<RunError> for ServiceError {
    fn from(error: RunError) -> Self {
        match error {
            RunError::PreconditionFailed { kind, current } => {
                Self::PreconditionFailed { kind, current }
            }
            RunError::Conflict { kind } => Self::Conflict { kind },
            RunError::Append(e) => Self::Append(e),
            RunError::Store(e) => Self::Store(e),
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
    catalogue: &Catalogue,
    principal: &Principal,
    submission: Submission,
    now: Timestamp,
) -> Result<NewOrder, ServiceError> {
    let customer = customer_of(principal)?;
    if catalogue.retired.services.contains_key(&submission.service) {
        return Err(ServiceError::Invalid(vec![FieldError::new(
            "service",
            format!(
                "service {:?} is retired and takes no new orders",
                submission.service
            ),
        )]));
    }
    let Some(service) = catalogue.live_service(&submission.service) else {
        let known = catalogue
            .services
            .keys()
            .filter(|id| catalogue.live_service(id).is_some())
            .cloned()
            .collect::<Vec<_>>();
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
        service_version: service.version,
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
    catalogue: &Catalogue,
    customer: Customer,
    raw: &str,
    source: OrderSource,
    submitted_at: Timestamp,
) -> Result<NewOrder, Vec<FieldError>> {
    let parsed = legacy::parse(catalogue, raw)?;
    let service = catalogue
        .service(&parsed.service_id)
        .expect("the parser returns catalogue services");
    // An import brings past orders, of services since retired too; a new
    // legacy order is a new order.
    if matches!(source, OrderSource::Legacy { .. })
        && catalogue.live_service(&service.service_id).is_none()
    {
        return Err(vec![FieldError::new(
            "service",
            format!(
                "service {:?} is retired and takes no new orders",
                service.service_id
            ),
        )]);
    }
    Ok(NewOrder {
        order_id: new_order_id(),
        service: service.service_id.clone(),
        service_version: service.version,
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
    store: &EventStore,
    mut order: NewOrder,
    request: &CommandRequest,
) -> Result<Ran<OrderView>, ServiceError> {
    order.targets = handling::in_force(store, &order.group, &order.service).await?;
    let id = order.order_id.clone();
    execute(store, &id, OrderAction::Submit(Box::new(order)), request).await
}

/// Runs one command on an order.
#[tracing::instrument(skip(store, action, request), fields(order_id = %order_id, by = %request.meta.principal.subject))]
pub async fn execute(
    store: &EventStore,
    order_id: &str,
    action: OrderAction,
    request: &CommandRequest,
) -> Result<Ran<OrderView>, ServiceError> {
    let action = &action;
    run(store, order_id, request, Source::Hot, async |loaded| {
        let action = gather_facts(store, loaded, action.clone()).await?;
        step(loaded, request, action)
    })
    .await
}

/// Runs a command on an order through the runner, answering with the order as
/// the caller sees it after the command. `prepare` builds the command from the
/// loaded order.
pub async fn run(
    store: &EventStore,
    order_id: &str,
    request: &CommandRequest,
    source: Source,
    prepare: impl AsyncFnOnce(&Loaded<Order>) -> Result<Step<Order>, ServiceError> + Clone,
) -> Result<Ran<OrderView>, ServiceError> {
    let meta = &request.meta;
    let actor = meta.principal.actor();
    runner::run(
        store,
        order_id,
        request,
        source,
        prepare,
        |loaded, events| {
            let view = OrderView::fold(loaded.contexts_with(events, &actor, meta.now))
                .ok_or(OrderError::NotFound)?
                .clocks_at(meta.now);
            Ok(shape(view, &meta.principal))
        },
    )
    .await
}

/// The command for `action` by the request's caller; only a submission may
/// find no order.
pub fn step(
    loaded: &Loaded<Order>,
    request: &CommandRequest,
    action: OrderAction,
) -> Result<Step<Order>, ServiceError> {
    if !loaded.exists() && !matches!(action, OrderAction::Submit(_)) {
        return Err(OrderError::NotFound.into());
    }
    // A person with several roles acts as the most privileged one that may do
    // this here, and is recorded as that role.
    let principal = &request.meta.principal;
    let acting = loaded
        .aggregate
        .scope()
        .and_then(|scope| policy::acting(principal, scope, action.policy_action()));
    let mut step = Step::alone(OrderCommand {
        by: acting.clone().unwrap_or_else(|| principal.clone()),
        at: request.meta.now,
        action,
    });
    step.acting = acting.filter(|one| one != principal);
    Ok(step)
}

fn view_of(loaded: &Loaded<Order>) -> Option<OrderView> {
    OrderView::fold(loaded.contexts())
}

/// `POST /v1/orders/{id}/proposals`: `changes` are merged into the parameters
/// agreed so far and the whole set is validated against the service, like an
/// order's.
pub async fn propose(
    store: &EventStore,
    catalogue: &Catalogue,
    order_id: &str,
    changes: Map<String, Value>,
    note: Option<String>,
    request: &CommandRequest,
) -> Result<Ran<OrderView>, ServiceError> {
    let principal = &request.meta.principal;
    let (changes, note) = (&changes, &note);
    run(store, order_id, request, Source::Hot, async |loaded| {
        loaded.aggregate.permits(principal, PolicyAction::Propose)?;
        let view = view_of(loaded).ok_or(OrderError::NotFound)?;
        // Proposals are checked against the version the order was submitted
        // under, whatever the catalogue says now.
        let service = catalogue
            .service_at(&view.service, view.service_version)
            .ok_or_else(|| {
                ServiceError::Invalid(vec![FieldError::new(
                    "service",
                    format!("{} is no longer in the catalogue", view.service),
                )])
            })?;
        let mut merged: Map<String, Value> = view.agreed_parameters.clone().into_iter().collect();
        merged.extend(changes.clone());
        let parameters = params::from_json(service, &merged).map_err(ServiceError::Invalid)?;
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
        step(
            loaded,
            request,
            OrderAction::Propose {
                parameters,
                changed,
                note: note.clone(),
            },
        )
    })
    .await
}

/// `POST /v1/orders/{id}/provisioning`: every provider must be registered and
/// deliver the order's service.
pub async fn plan(
    store: &EventStore,
    catalogue: &Catalogue,
    order_id: &str,
    steps: Vec<(String, String)>,
    request: &CommandRequest,
) -> Result<Ran<OrderView>, ServiceError> {
    let principal = &request.meta.principal;
    let steps = &steps;
    run(store, order_id, request, Source::Hot, async |loaded| {
        loaded
            .aggregate
            .permits(principal, PolicyAction::PlanProvisioning)?;
        let view = view_of(loaded).ok_or(OrderError::NotFound)?;
        let mut errors = Vec::new();
        for (index, (provider, _)) in steps.iter().enumerate() {
            let field = format!("steps[{index}].provider");
            match catalogue.providers.get(provider) {
                None => errors.push(FieldError::new(
                    field,
                    format!("unknown provider {provider:?}"),
                )),
                Some(_) if catalogue.retired.providers.contains_key(provider) => errors.push(
                    FieldError::new(field, format!("provider {provider} is retired")),
                ),
                Some(registered) if !registered.services.contains(&view.service) => {
                    let able: Vec<&str> = catalogue
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
        step(
            loaded,
            request,
            OrderAction::PlanProvisioning {
                steps: steps.clone(),
            },
        )
    })
    .await
}

/// Fills in the facts a command needs that the aggregate cannot look up itself.
async fn gather_facts(
    store: &EventStore,
    loaded: &Loaded<Order>,
    action: OrderAction,
) -> Result<OrderAction, ServiceError> {
    Ok(match action {
        OrderAction::Assign { assignee, .. } => {
            let group = loaded.aggregate.group().unwrap_or_default();
            let assignee_is_group_shifter = is_group_shifter(store, &assignee, group).await?;
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
    store: &EventStore,
    principal: &Principal,
    order_id: &str,
    as_of: Option<Timestamp>,
    now: Timestamp,
) -> Result<OrderView, ServiceError> {
    let loaded = execute::load::<Order>(store, order_id).await?;
    if !loaded.aggregate.visible_to(principal) {
        return Err(OrderError::NotFound.into());
    }
    let events = loaded
        .history
        .iter()
        .map(|entry| &**entry)
        .filter(|(recorded, _)| as_of.is_none_or(|at| recorded.recorded_at <= at))
        .map(|(recorded, event)| (EventContext::from(recorded), event));
    let view = OrderView::fold(events)
        .ok_or(OrderError::NotFound)?
        .clocks_at(as_of.unwrap_or(now));
    Ok(shape(view, principal))
}

/// The order as `principal` may see it: customers without internal comments,
/// providers only their steps and OLA, staff everything. A person with several
/// roles sees it as the most privileged role that sees this order.
pub fn shape(view: OrderView, principal: &Principal) -> OrderView {
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
    let seen_as = policy::viewing(principal, scope).unwrap_or_else(|| principal.clone());
    match &seen_as.role {
        Role::Provider { providers } => view.for_providers(providers),
        _ => view.for_audience(seen_as.audience()),
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
    store: &EventStore,
    principal: &Principal,
    order_id: &str,
) -> Result<Vec<HistoryEntry>, ServiceError> {
    let loaded = execute::load::<Order>(store, order_id).await?;
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
        .map(std::sync::Arc::unwrap_or_clone)
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
