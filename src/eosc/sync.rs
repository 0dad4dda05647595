//! The adapter's work: [`Sync::pass`] (pull the Marketplace's feed, follow
//! pactum's log, push what is due) and [`run`], the loop `pactum serve` keeps
//! going. A `Sync` holds the `eosc` aggregate in memory and is its only writer
//! in the process; what it appends it folds once committed.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use cqrs_es::Aggregate;
use jiff::Timestamp;
use pactum_events::EventPayload;
use pactum_events::eosc::{
    EoscEvent, EoscItemLinked, EoscItemUnmapped, EoscMessageImported, EoscPushed, Push,
};
use pactum_events::order::{OrderEvent, OrderStatus, OrderSubmitted, Visibility};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::client::{Author, Client, ClientError, FeedEvent, NewMessage};
use super::ledger::{ItemKey, Ledger, LedgerCommand, LedgerError};
use super::outbound::{self, Plan};
use super::{EoscConfig, EoscHandle, PendingPush};
use crate::access::{Principal, Role};
use crate::catalogue;
use crate::clock::Clock;
use crate::execute::{self, CommandMeta};
use crate::handling;
use crate::metrics::METRICS;
use crate::orders::aggregate::Order;
use crate::orders::commands::{COMMENT_MAX, NewOrder, OrderAction};
use crate::orders::errors::OrderError;
use crate::orders::service::{self, ServiceError};
use crate::runner::{CommandRequest, Ran, Source};
use crate::store::{AppendError, AppendRequest, EventMeta, EventStore, NewEvent, StoreError};
use crate::validation;

/// Events asked of the feed at once; doubled (up to [`FEED_PAGE_MAX`]) when a
/// whole page holds one second, which the feed cannot page within.
const FEED_PAGE: u32 = 100;
const FEED_PAGE_MAX: u32 = 10_000;
/// Messages asked of an item at once.
const MESSAGE_PAGE: u32 = 100;
/// Events of the log read at once while following it.
const LOG_BATCH: u32 = 500;
/// Following the log records its position after pushes, or after this many
/// positions without any, so a restart re-reads a bounded stretch.
const FOLLOW_EVERY: u64 = 10_000;
/// How long the loop lets the log settle before following it.
const SETTLE: Duration = Duration::from_millis(50);

/// The subject the adapter's own commands record.
pub fn actor(oms_id: &str) -> String {
    format!("eosc:{oms_id}")
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Marketplace(#[from] ClientError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Append(#[from] AppendError),
    #[error("order {order_id}: {source}")]
    Order {
        order_id: String,
        #[source]
        source: ServiceError,
    },
    #[error("the eosc ledger refused: {0}")]
    Ledger(#[from] LedgerError),
    #[error("stored event at position {position} is unreadable: {reason}")]
    Corrupt { position: u64, reason: String },
}

impl SyncError {
    /// Whether the Marketplace refused the OMS's credentials.
    pub fn is_access(&self) -> bool {
        matches!(self, Self::Marketplace(error) if error.is_access())
    }
}

/// What a pass did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PassReport {
    pub feed_events: usize,
    pub orders: usize,
    pub unmapped: usize,
    pub messages: usize,
    pub pushed: usize,
    pub failed: usize,
    pub pending: usize,
}

/// One push waiting for its turn.
#[derive(Clone, Debug)]
struct Pending {
    cause: u64,
    order_id: String,
    item: ItemKey,
    plan: Plan,
    attempts: u32,
    due: Instant,
    last_error: Option<String>,
}

pub struct Sync {
    store: EventStore,
    catalogues: catalogue::Current,
    clock: Arc<dyn Clock>,
    client: Client,
    config: EoscConfig,
    handle: EoscHandle,
    ledger: Ledger,
    version: u64,
    /// The log is followed up to here.
    scanned: u64,
    /// The linked orders met while following, as of `scanned`.
    orders: HashMap<String, Order>,
    /// What each item waits to be told, oldest first.
    queues: BTreeMap<ItemKey, VecDeque<Pending>>,
}

impl Sync {
    /// Reads the `eosc` aggregate of the configured OMS from the log.
    pub async fn open(
        store: EventStore,
        catalogues: catalogue::Current,
        clock: Arc<dyn Clock>,
        config: EoscConfig,
        handle: EoscHandle,
    ) -> Result<Self, SyncError> {
        let client = Client::new(&config.url, &config.oms_id, &config.token.0)?;
        let mut sync = Self {
            store,
            catalogues,
            clock,
            client,
            config,
            handle,
            ledger: Ledger::default(),
            version: 0,
            scanned: 0,
            orders: HashMap::new(),
            queues: BTreeMap::new(),
        };
        sync.reload().await?;
        Ok(sync)
    }

    /// Reads the ledger again (another process appended to it) and follows
    /// the log again from where it was recorded.
    async fn reload(&mut self) -> Result<(), SyncError> {
        let loaded = execute::load::<Ledger>(&self.store, &self.config.oms_id).await?;
        self.ledger = loaded.aggregate;
        self.version = loaded.version;
        self.scanned = self.ledger.followed;
        self.orders.clear();
        self.queues.clear();
        self.publish();
        Ok(())
    }

    /// One pass: the feed, then the log, then the pushes that are due.
    pub async fn pass(&mut self) -> Result<PassReport, SyncError> {
        let (result, report) = self.turn(true).await;
        result.map(|()| report)
    }

    /// A pass, with the feed read or not; the status published either way.
    async fn turn(&mut self, pull: bool) -> (Result<(), SyncError>, PassReport) {
        let mut report = PassReport::default();
        let result = async {
            if pull {
                self.pull(&mut report).await?;
            }
            self.push_due(&mut report).await
        }
        .await;
        self.finish(&result, &mut report);
        (result, report)
    }

    /// Follows the log and pushes what is due, without reading the feed.
    async fn push_due(&mut self, report: &mut PassReport) -> Result<(), SyncError> {
        self.follow().await?;
        self.push(report).await?;
        self.record_followed(report.pushed > 0).await
    }

    fn finish(&self, result: &Result<(), SyncError>, report: &mut PassReport) {
        report.pending = self.queues.values().map(VecDeque::len).sum();
        let error = result.as_ref().err().map(ToString::to_string);
        let now = self.clock.now();
        self.handle.update(|status| {
            status.last_pass = Some(now);
            status.last_error = error;
        });
        self.publish();
    }

    /// The status the console and metrics show.
    fn publish(&self) {
        let pending: Vec<PendingPush> = self
            .queues
            .values()
            .flatten()
            .map(|p| PendingPush {
                item: p.item.to_string(),
                order_id: p.order_id.clone(),
                kind: p.plan.kind(),
                cause: p.cause,
                attempts: p.attempts,
                last_error: p.last_error.clone(),
            })
            .collect();
        METRICS.eosc_pushes_pending.set(pending.len() as i64);
        let linked = self.ledger.orders.len();
        let unmapped = self
            .ledger
            .items
            .values()
            .filter(|item| item.order_id.is_none() && item.unmapped.is_some())
            .count();
        self.handle.update(|status| {
            status.pending = pending;
            status.linked = linked;
            status.unmapped = unmapped;
        });
    }

    // ------------------------------------------------------------------ ledger

    /// Appends what `command` records (if anything), alone, and folds it.
    async fn record(&mut self, command: LedgerCommand) -> Result<(), SyncError> {
        let Some(event) = self.ledger.decide(command)? else {
            return Ok(());
        };
        let meta = CommandMeta::system(&actor(&self.config.oms_id), self.clock.now());
        let append = self.append_request(std::slice::from_ref(&event), &meta);
        match self.store.append(append).await {
            Ok(_) => {
                self.fold(event);
                Ok(())
            }
            Err(error @ AppendError::Conflict { .. }) => {
                // Another process appended to this OMS's ledger: read it
                // again; the work is done again from there.
                self.reload().await?;
                Err(error.into())
            }
            Err(error) => Err(error.into()),
        }
    }

    fn fold(&mut self, event: EoscEvent) {
        self.ledger.apply(event);
        self.version += 1;
    }

    /// The append of `events` to the ledger as it is in memory.
    fn append_request(&self, events: &[EoscEvent], meta: &CommandMeta) -> AppendRequest {
        AppendRequest {
            aggregate_type: Ledger::TYPE.to_owned(),
            aggregate_id: self.config.oms_id.clone(),
            expected_sequence: self.version,
            events: events.iter().map(NewEvent::encode).collect(),
            meta: EventMeta {
                recorded_at: meta.now,
                actor: meta.principal.actor(),
                correlation_id: meta.correlation_id.clone(),
                causation_id: Some(meta.command_id.clone()),
                idempotency_key: None,
            },
            response: None,
            attachments: Vec::new(),
            history: false,
        }
    }

    // -------------------------------------------------------------------- pull

    async fn pull(&mut self, report: &mut PassReport) -> Result<(), SyncError> {
        self.retry_unmapped(report).await?;
        let mut from = self.ledger.cursor.unwrap_or(Timestamp::UNIX_EPOCH);
        let mut limit = FEED_PAGE;
        loop {
            let events = self.client.events(from, limit).await?;
            report.feed_events += events.len();
            for event in &events {
                self.take(event, report).await?;
            }
            let full = events.len() >= limit as usize;
            match events.iter().filter_map(FeedEvent::at).max() {
                Some(newest) if newest > from => {
                    self.record(LedgerCommand::ReadFeed(newest)).await?;
                    from = newest;
                    limit = FEED_PAGE;
                    if !full {
                        return Ok(());
                    }
                }
                _ if full && limit < FEED_PAGE_MAX => limit *= 2,
                _ => {
                    if full {
                        tracing::warn!(
                            limit,
                            %from,
                            "a whole page of the EOSC events feed lies in one second; later events of that second are read when the feed moves on"
                        );
                    }
                    return Ok(());
                }
            }
        }
    }

    /// Items tried under another mapping file are tried again.
    async fn retry_unmapped(&mut self, report: &mut PassReport) -> Result<(), SyncError> {
        let fingerprint = self.config.mapping.fingerprint().to_owned();
        let stale: Vec<ItemKey> = self
            .ledger
            .items
            .iter()
            .filter(|(_, item)| {
                item.order_id.is_none()
                    && item
                        .unmapped
                        .as_ref()
                        .is_some_and(|(_, mapping)| *mapping != fingerprint)
            })
            .map(|(key, _)| *key)
            .collect();
        for item in stale {
            self.take_item(item, report).await?;
        }
        Ok(())
    }

    /// Acts on one event of the feed; events of other kinds, of projects and
    /// deletions need nothing.
    async fn take(&mut self, event: &FeedEvent, report: &mut PassReport) -> Result<(), SyncError> {
        let (Some(project_id), Some(project_item_id)) = (event.project_id, event.project_item_id)
        else {
            return Ok(());
        };
        let item = ItemKey {
            project_id,
            project_item_id,
        };
        match (event.resource.as_str(), event.kind.as_str()) {
            ("project_item", "create" | "update") => {
                let known = self.ledger.item(item);
                let settled = known.is_some_and(|state| {
                    state.order_id.is_some()
                        || state.unmapped.as_ref().is_some_and(|(_, mapping)| {
                            mapping == self.config.mapping.fingerprint()
                        })
                });
                if !settled {
                    self.take_item(item, report).await?;
                }
            }
            ("message", "create") => {
                let ours = event
                    .message_id
                    .is_some_and(|id| self.ledger.knows_message(id));
                if !ours && self.ledger.order_of(item).is_some() {
                    self.import_messages(item, report).await?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// A project item not taken yet: an order, or an internal message saying
    /// why not. Items past `created` were taken by someone else: left alone.
    async fn take_item(&mut self, key: ItemKey, report: &mut PassReport) -> Result<(), SyncError> {
        let item = match self
            .client
            .project_item(key.project_id, key.project_item_id)
            .await
        {
            Ok(item) => item,
            Err(ClientError::Status { status, .. }) if status == reqwest::StatusCode::NOT_FOUND => {
                tracing::info!(item = %key, "a project item of the feed is gone");
                return Ok(());
            }
            Err(error) => return Err(error.into()),
        };
        if item.status.kind != "created" {
            tracing::info!(item = %key, status = %item.status.kind, "a project item not new and not pactum's: left alone");
            return Ok(());
        }
        let project = match self.client.project(key.project_id).await {
            Ok(project) => project,
            Err(ClientError::Status { status, .. }) if status == reqwest::StatusCode::NOT_FOUND => {
                tracing::info!(item = %key, "the project of a project item is gone");
                return Ok(());
            }
            Err(error) => return Err(error.into()),
        };
        let catalogue = self.catalogues.get(&self.store).await?;
        let now = self.clock.now();
        let order_id = uuid::Uuid::now_v7().to_string();
        match super::mapping::map(
            &catalogue,
            &self.config.mapping,
            &self.config.oms_id,
            &project,
            &item,
            order_id,
            now,
        ) {
            Ok(order) => {
                self.submit(key, order).await?;
                METRICS.eosc_orders.inc();
                report.orders += 1;
                // What the customer wrote on the item before it was taken.
                self.import_messages(key, report).await?;
            }
            Err(problems) => {
                let mut content = String::from(
                    "pactum could not take this order as it is; it was left untouched:",
                );
                for problem in &problems {
                    content.push_str("\n- ");
                    content.push_str(problem);
                }
                let message = self
                    .client
                    .post_message(&NewMessage {
                        project_id: key.project_id,
                        project_item_id: key.project_item_id,
                        author: self.author("pactum"),
                        content,
                        scope: "internal".into(),
                    })
                    .await?;
                tracing::warn!(item = %key, ?problems, "an EOSC project item could not be mapped to an order");
                self.record(LedgerCommand::Unmapped(EoscItemUnmapped {
                    project_id: key.project_id,
                    project_item_id: key.project_item_id,
                    problems,
                    message_id: Some(message.id),
                    mapping: self.config.mapping.fingerprint().to_owned(),
                }))
                .await?;
                report.unmapped += 1;
            }
        }
        Ok(())
    }

    /// Submits an item's order and records the link in the same transaction.
    async fn submit(&mut self, key: ItemKey, mut order: NewOrder) -> Result<(), SyncError> {
        let order_id = order.order_id.clone();
        order.targets = handling::in_force(&self.store, &order.group, &order.service).await?;
        let meta = CommandMeta::system(&actor(&self.config.oms_id), self.clock.now());
        let link = self
            .ledger
            .decide(LedgerCommand::Link(EoscItemLinked {
                project_id: key.project_id,
                project_item_id: key.project_item_id,
                order_id: order_id.clone(),
            }))?
            .expect("a new link records an event");
        let together = self.append_request(std::slice::from_ref(&link), &meta);
        let request = CommandRequest::system(meta);
        let action = OrderAction::Submit(Box::new(order));
        let (request_ref, together_ref, action_ref) = (&request, &together, &action);
        let ran = service::run(
            &self.store,
            &order_id,
            request_ref,
            Source::Log,
            async |loaded| {
                let mut step = service::step(loaded, request_ref, action_ref.clone())?;
                step.together.push(together_ref.clone());
                Ok(step)
            },
        )
        .await;
        self.settle_together(&order_id, ran, link).await
    }

    /// Folds the ledger event appended with an order command, or reads the
    /// ledger again when that append lost a race.
    async fn settle_together<T>(
        &mut self,
        order_id: &str,
        ran: Result<Ran<T>, ServiceError>,
        event: EoscEvent,
    ) -> Result<(), SyncError> {
        match ran {
            Ok(Ran::Done { .. }) => {
                self.fold(event);
                Ok(())
            }
            // No idempotency key is sent: a command is never a replay.
            Ok(Ran::Replayed(_)) => Ok(()),
            Err(ServiceError::Conflict { .. }) => {
                self.reload().await?;
                Err(SyncError::Order {
                    order_id: order_id.to_owned(),
                    source: ServiceError::Conflict { kind: "eosc" },
                })
            }
            Err(source) => Err(SyncError::Order {
                order_id: order_id.to_owned(),
                source,
            }),
        }
    }

    /// The customer's public messages on an item, new since the last one
    /// imported, into its order.
    async fn import_messages(
        &mut self,
        key: ItemKey,
        report: &mut PassReport,
    ) -> Result<(), SyncError> {
        let Some(order_id) = self.ledger.order_of(key).map(str::to_owned) else {
            return Ok(());
        };
        let mut from = self.ledger.item(key).map_or(0, |item| item.last_imported);
        loop {
            let messages = self
                .client
                .messages(key.project_id, key.project_item_id, from, MESSAGE_PAGE)
                .await?;
            for message in &messages {
                from = from.max(message.id);
                if self.ledger.knows_message(message.id)
                    || message.author.role != "user"
                    || message.scope != "public"
                {
                    continue;
                }
                self.import_message(key, &order_id, message.id, &message.content)
                    .await?;
                report.messages += 1;
            }
            if messages.len() < MESSAGE_PAGE as usize {
                return Ok(());
            }
        }
    }

    /// One customer message: the answer to the order's open question, or a
    /// public comment, recorded as the order's customer (the project's owner),
    /// with the ledger's record of it in the same transaction.
    async fn import_message(
        &mut self,
        key: ItemKey,
        order_id: &str,
        message_id: u64,
        content: &str,
    ) -> Result<(), SyncError> {
        let loaded = execute::load::<Order>(&self.store, order_id).await?;
        let customer = loaded.history.iter().find_map(|entry| match &entry.1 {
            OrderEvent::OrderSubmitted(OrderSubmitted { customer, .. }) => Some(customer.clone()),
            _ => None,
        });
        let body = validation::text("content", content, COMMENT_MAX).ok();
        let status = loaded.aggregate.status();
        let record = |imported_as: &str| {
            LedgerCommand::ImportMessage(EoscMessageImported {
                project_id: key.project_id,
                project_item_id: key.project_item_id,
                message_id,
                order_id: order_id.to_owned(),
                imported_as: imported_as.to_owned(),
            })
        };
        let (Some(customer), Some(body), Some(status)) = (customer, body, status) else {
            return self.record(record("not_imported")).await;
        };
        let (action, imported_as) = if status == OrderStatus::WaitingForCustomer {
            (OrderAction::Answer { body }, "answer")
        } else {
            (
                OrderAction::Comment {
                    body,
                    visibility: Visibility::Public,
                    provider: None,
                },
                "comment",
            )
        };
        let Some(event) = self.ledger.decide(record(imported_as))? else {
            return Ok(());
        };
        let meta = CommandMeta {
            principal: Principal::new(
                customer.subject.clone(),
                Role::Customer {
                    org: customer.org.clone(),
                },
            ),
            ..CommandMeta::system(&customer.subject, self.clock.now())
        };
        let together = self.append_request(std::slice::from_ref(&event), &meta);
        let request = CommandRequest::system(meta);
        let (request_ref, together_ref, action_ref) = (&request, &together, &action);
        let ran = service::run(
            &self.store,
            order_id,
            request_ref,
            Source::Log,
            async |loaded| {
                let mut step = service::step(loaded, request_ref, action_ref.clone())?;
                step.together.push(together_ref.clone());
                Ok(step)
            },
        )
        .await;
        match ran {
            Err(ServiceError::Order(refusal))
                if matches!(
                    refusal,
                    OrderError::InvalidState { .. } | OrderError::Forbidden { .. }
                ) =>
            {
                tracing::info!(item = %key, order_id, %refusal, "a customer message the order takes no more");
                self.record(record("not_imported")).await
            }
            ran => self.settle_together(order_id, ran, event).await,
        }
    }

    fn author(&self, name: &str) -> Author {
        Author {
            email: self.config.author_email.clone(),
            name: name.to_owned(),
            role: "mediator".into(),
        }
    }

    // ------------------------------------------------------------------ follow

    /// Reads the log from where it was followed to, planning what each event
    /// of a linked order tells the Marketplace.
    async fn follow(&mut self) -> Result<(), SyncError> {
        let head = self.store.head();
        if !self.ledger.has_orders() {
            self.scanned = self.scanned.max(head);
            return Ok(());
        }
        while self.scanned < head {
            let batch = self.store.read_after(self.scanned, LOG_BATCH).await?;
            if batch.is_empty() {
                break;
            }
            for recorded in batch {
                let position = recorded.position;
                self.scanned = position;
                if recorded.aggregate_type != Order::TYPE {
                    continue;
                }
                let Some(item) = self.ledger.item_of(&recorded.aggregate_id) else {
                    continue;
                };
                let corrupt = |e: pactum_events::DecodeError| SyncError::Corrupt {
                    position,
                    reason: e.to_string(),
                };
                let event = OrderEvent::decode(
                    &recorded.event_type,
                    recorded.schema_version,
                    recorded.payload.clone(),
                )
                .map_err(corrupt)?;
                let order_id = recorded.aggregate_id.clone();
                let mut order = match self.orders.remove(&order_id) {
                    Some(order) => order,
                    None => self.order_before(&order_id, recorded.sequence).await?,
                };
                let before = order.status();
                order.apply(event.clone());
                let after = order.status();
                if after.is_some_and(|status| !status.is_final()) {
                    self.orders.insert(order_id.clone(), order);
                }
                if position <= self.ledger.followed {
                    continue;
                }
                let now = Instant::now();
                for plan in outbound::plans(&event, &recorded.actor, before, after) {
                    if self.ledger.was_pushed(position, plan.kind()) {
                        continue;
                    }
                    self.queues.entry(item).or_default().push_back(Pending {
                        cause: position,
                        order_id: order_id.clone(),
                        item,
                        plan,
                        attempts: 0,
                        due: now,
                        last_error: None,
                    });
                }
            }
        }
        Ok(())
    }

    /// An order as it was before its event `sequence`.
    async fn order_before(&self, order_id: &str, sequence: u64) -> Result<Order, SyncError> {
        let mut order = Order::default();
        for recorded in self.store.load(Order::TYPE, order_id).await? {
            if recorded.sequence >= sequence {
                break;
            }
            let event = OrderEvent::decode(
                &recorded.event_type,
                recorded.schema_version,
                recorded.payload,
            )
            .map_err(|e| SyncError::Corrupt {
                position: recorded.position,
                reason: e.to_string(),
            })?;
            order.apply(event);
        }
        Ok(order)
    }

    // -------------------------------------------------------------------- push

    /// Tries the first push of each item whose turn has come, and the ones
    /// after it while they land. A refused OMS (401, 403) stops the pass.
    async fn push(&mut self, report: &mut PassReport) -> Result<(), SyncError> {
        let items: Vec<ItemKey> = self.queues.keys().copied().collect();
        for item in items {
            while let Some(pending) = self.queues.get(&item).and_then(|q| q.front()).cloned() {
                if pending.due > Instant::now() {
                    break;
                }
                match self.deliver(&pending).await {
                    Ok(push) => {
                        self.record(LedgerCommand::Pushed(EoscPushed {
                            cause: pending.cause,
                            order_id: pending.order_id.clone(),
                            project_id: item.project_id,
                            project_item_id: item.project_item_id,
                            push,
                        }))
                        .await?;
                        if let Some(queue) = self.queues.get_mut(&item) {
                            queue.pop_front();
                        }
                        METRICS.eosc_pushes.inc();
                        report.pushed += 1;
                    }
                    Err(error) => {
                        METRICS.eosc_push_failures.inc();
                        report.failed += 1;
                        let wait = self.backoff(pending.attempts);
                        tracing::warn!(item = %item, order_id = %pending.order_id, kind = pending.plan.kind(), attempts = pending.attempts + 1, retry_in = ?wait, %error, "a push to the EOSC Marketplace failed");
                        if let Some(head) = self.queues.get_mut(&item).and_then(|q| q.front_mut()) {
                            head.attempts += 1;
                            head.due = Instant::now() + wait;
                            head.last_error = Some(error.to_string());
                        }
                        if error.is_access() {
                            return Err(error.into());
                        }
                        break;
                    }
                }
            }
        }
        self.queues.retain(|_, queue| !queue.is_empty());
        Ok(())
    }

    /// The wait after the `attempts`+1-th failure: doubling, capped.
    fn backoff(&self, attempts: u32) -> Duration {
        let factor = 1u32.checked_shl(attempts.min(20)).unwrap_or(u32::MAX);
        self.config
            .retry_min
            .saturating_mul(factor)
            .min(self.config.retry_max)
    }

    /// Delivers one push; what to record of it.
    async fn deliver(&self, pending: &Pending) -> Result<Push, ClientError> {
        let item = pending.item;
        match &pending.plan {
            Plan::Status { status_type, value } => {
                self.client
                    .set_status(item.project_id, item.project_item_id, status_type, value)
                    .await?;
                Ok(Push::Status {
                    status_type: (*status_type).to_owned(),
                    value: (*value).to_owned(),
                })
            }
            Plan::Message { content, author } => {
                let author = self.author(&format!("{author} (pactum)"));
                // A message posted just before a crash, whose push was not
                // recorded, is found and not posted again.
                if let Some(id) = self.posted_already(item, &author, content).await? {
                    return Ok(Push::Message {
                        message_id: id,
                        scope: "public".into(),
                    });
                }
                let message = self
                    .client
                    .post_message(&NewMessage {
                        project_id: item.project_id,
                        project_item_id: item.project_item_id,
                        author,
                        content: content.clone(),
                        scope: "public".into(),
                    })
                    .await?;
                Ok(Push::Message {
                    message_id: message.id,
                    scope: "public".into(),
                })
            }
        }
    }

    /// A message pactum posted on the item after the last one it recorded,
    /// with this author and content, that no push accounts for.
    async fn posted_already(
        &self,
        item: ItemKey,
        author: &Author,
        content: &str,
    ) -> Result<Option<u64>, ClientError> {
        let mut from = self.ledger.item(item).map_or(0, |state| state.last_posted);
        loop {
            let messages = self
                .client
                .messages(item.project_id, item.project_item_id, from, MESSAGE_PAGE)
                .await?;
            if let Some(found) = messages.iter().find(|m| {
                m.author.role == author.role
                    && m.author.email == author.email
                    && m.content == content
                    && !self.ledger.knows_message(m.id)
            }) {
                return Ok(Some(found.id));
            }
            match messages.last() {
                Some(last) if messages.len() >= MESSAGE_PAGE as usize => from = last.id,
                _ => return Ok(None),
            }
        }
    }

    /// Records how far the log is followed with every push before it done:
    /// after pushes, or when it moved far.
    async fn record_followed(&mut self, pushed: bool) -> Result<(), SyncError> {
        let oldest = self
            .queues
            .values()
            .filter_map(VecDeque::front)
            .map(|p| p.cause)
            .min();
        let followed = match oldest {
            Some(cause) => cause - 1,
            None => self.scanned,
        };
        if followed > self.ledger.followed
            && (pushed || followed - self.ledger.followed >= FOLLOW_EVERY)
        {
            self.record(LedgerCommand::Follow(followed)).await?;
        }
        Ok(())
    }

    /// When the next push falls due, if one waits.
    fn next_due(&self) -> Option<Instant> {
        self.queues
            .values()
            .filter_map(VecDeque::front)
            .map(|p| p.due)
            .min()
    }
}

/// The sync beside the server: a pass at start, then the feed again when the
/// Marketplace calls the trigger or the poll interval passes, and the log
/// followed whenever it moves or a retry falls due.
pub async fn run(mut sync: Sync, poll_every: Duration, cancel: CancellationToken) {
    let mut head = sync.store.subscribe();
    let mut pull = true;
    let mut next_poll = Instant::now();
    let mut last_error: Option<String> = None;
    loop {
        head.borrow_and_update();
        if pull {
            next_poll = Instant::now() + poll_every;
        }
        let (result, report) = sync.turn(std::mem::take(&mut pull)).await;
        match result {
            Ok(()) => {
                // Re-reading the feed's last second is no news.
                let quiet = PassReport {
                    feed_events: report.feed_events,
                    pending: report.pending,
                    ..PassReport::default()
                };
                if report != quiet {
                    tracing::info!(?report, "EOSC sync");
                }
                last_error = None;
            }
            Err(error) => {
                // Each new failure is logged once, not at every turn.
                let text = error.to_string();
                if last_error.as_deref() != Some(&text) {
                    if error.is_access() {
                        tracing::error!(%error, "the EOSC Marketplace refuses pactum's OMS credentials");
                    } else {
                        tracing::warn!(%error, "EOSC sync failed; retrying");
                    }
                }
                last_error = Some(text);
            }
        }
        let retry = sync.next_due();
        tokio::select! {
            () = cancel.cancelled() => return,
            () = sync.handle.woken() => pull = true,
            () = tokio::time::sleep_until(next_poll) => pull = true,
            () = async {
                match retry {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            } => {}
            changed = head.changed() => {
                if changed.is_err() {
                    return;
                }
                tokio::select! {
                    () = cancel.cancelled() => return,
                    () = tokio::time::sleep(SETTLE) => {}
                }
            }
        }
    }
}
