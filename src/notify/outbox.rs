//! The outbox: one row per mail, written by an inline projection in the same
//! transaction as the event that caused it — a committed event has its mails
//! queued, a refused or rolled-back one has none. Recipients are resolved there
//! too, from tables in the same database: the order's customer and group (kept
//! in `notification_orders`), the group's shifters and every subject's address
//! (`access_tokens`), opt-outs (`notification_opt_outs`), a provider's contact
//! (its `ProviderRegistered` event). Delivery is [`super::deliver`]'s job; the
//! statements are in [`super::queries`], with the inline projection's impl.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Mutex, MutexGuard, PoisonError};

use pactum_events::access::AccessEvent;
use pactum_events::membership::MembershipEvent;
use pactum_events::monitoring::{ComplianceEvent, ServiceLevelMissed};
use pactum_events::notification::NotificationEvent;
use pactum_events::order::{OrderEvent, Side, Visibility};
use pactum_events::{EventPayload, RecordedEvent};

use futures::future::BoxFuture;

use super::queries::{self, OrderFacts, QueuedMail};
use crate::orders::clocks::human;
use crate::store::{DbConnection, InlineProjection, StoreError, decode_own};

/// Keeps `outbox`, `notification_orders` and `notification_opt_outs`, and
/// remembers what it wrote and read to address mails ([`Memo`]).
#[derive(Default)]
pub struct Outbox {
    memo: Mutex<Memo>,
}

/// What the outbox wrote or read before, so that the mails of an order's
/// next events need no read in the writer's transaction (each read there is
/// a round trip every command of the batch waits for): an order's facts, a
/// group's shifters, a subject's address for a kind of mail.
///
/// It holds what the tables hold as long as this writer alone changes them
/// and its writes stand. So it is emptied of shifters and addresses when an
/// event that could change them is folded (a token's, a membership's, a
/// preference's), and of everything when the writer says its writes were
/// undone or another process appended ([`InlineProjection::forget`]).
#[derive(Default)]
struct Memo {
    facts: HashMap<String, OrderFacts>,
    shifters: HashMap<String, Vec<String>>,
    addresses: HashMap<(String, &'static str), Option<String>>,
}

/// The most entries of each kind remembered; all are dropped beyond it.
const MEMO_MOST: usize = 8192;

fn remember<K: Eq + Hash, V>(map: &mut HashMap<K, V>, key: K, value: V) {
    if map.len() >= MEMO_MOST {
        map.clear();
    }
    map.insert(key, value);
}

impl Outbox {
    fn memo(&self) -> MutexGuard<'_, Memo> {
        self.memo.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// What the outbox knows of order `order_id`.
    async fn facts(
        &self,
        conn: &mut DbConnection,
        order_id: &str,
    ) -> Result<Option<OrderFacts>, StoreError> {
        if let Some(facts) = self.memo().facts.get(order_id) {
            return Ok(Some(facts.clone()));
        }
        let facts = queries::order_facts(conn, order_id).await?;
        if let Some(facts) = &facts {
            remember(&mut self.memo().facts, order_id.to_owned(), facts.clone());
        }
        Ok(facts)
    }

    /// Every shifter of `group` now.
    async fn shifters(
        &self,
        conn: &mut DbConnection,
        group: &str,
    ) -> Result<Vec<String>, StoreError> {
        if let Some(shifters) = self.memo().shifters.get(group) {
            return Ok(shifters.clone());
        }
        let shifters = queries::shifters(conn, group).await?;
        remember(
            &mut self.memo().shifters,
            group.to_owned(),
            shifters.clone(),
        );
        Ok(shifters)
    }

    /// Where a mail of `kind` for `subject` goes ([`recipient`]).
    async fn recipient(
        &self,
        conn: &mut DbConnection,
        subject: &str,
        kind: &'static str,
    ) -> Result<Option<String>, StoreError> {
        let key = (subject.to_owned(), kind);
        if let Some(address) = self.memo().addresses.get(&key) {
            return Ok(address.clone());
        }
        let address = recipient(conn, subject, kind).await?;
        remember(&mut self.memo().addresses, key, address.clone());
        Ok(address)
    }
}

/// One mail before it is addressed.
struct Draft {
    kind: &'static str,
    to: Audience,
    subject_line: String,
    body: String,
}

/// Who a mail is for.
enum Audience {
    Customer,
    /// Every unrevoked shifter of the order's group.
    Shifters,
    /// The assignee, or the group's shifters if nobody is assigned.
    AssigneeOrShifters,
    Provider(String),
}

/// Folds one event: the order's row and the opt-outs, and, if `mail`, the mails
/// it calls for.
pub(super) async fn fold(
    outbox: &Outbox,
    conn: &mut DbConnection,
    event: &RecordedEvent,
    mail: bool,
) -> Result<(), StoreError> {
    let kind = event.aggregate_type.as_str();
    if kind == AccessEvent::AGGREGATE_TYPE
        || kind == MembershipEvent::AGGREGATE_TYPE
        || kind == NotificationEvent::AGGREGATE_TYPE
    {
        // Addresses, opt-outs or a group's members may change with it.
        let mut memo = outbox.memo();
        memo.shifters.clear();
        memo.addresses.clear();
    }
    if let Some(NotificationEvent::NotificationPreferencesSet(set)) = decode_own(event)? {
        return queries::set_opt_outs(conn, &set.subject, &set.opted_out).await;
    }
    if let Some(ComplianceEvent::ServiceLevelMissed(miss)) = decode_own(event)? {
        return if mail {
            missed(outbox, conn, event, &miss).await
        } else {
            Ok(())
        };
    }
    let Some(order) = decode_own::<OrderEvent>(event)? else {
        return Ok(());
    };
    let order_id = event.aggregate_id.as_str();
    let submitted = match &order {
        OrderEvent::OrderSubmitted(submitted) => {
            let facts = OrderFacts {
                customer: submitted.customer.subject.clone(),
                group: submitted.group.clone(),
                service: submitted.service.clone(),
                title: submitted.title.clone(),
                assignee: None,
            };
            queries::insert_order(conn, order_id, &facts).await?;
            remember(&mut outbox.memo().facts, order_id.to_owned(), facts.clone());
            Some(facts)
        }
        OrderEvent::OrderAssigned(assigned) => {
            queries::set_assignee(conn, order_id, &assigned.assignee).await?;
            if let Some(facts) = outbox.memo().facts.get_mut(order_id) {
                facts.assignee = Some(assigned.assignee.clone());
            }
            None
        }
        _ => None,
    };
    let by_customer = event.actor.role == "customer";
    if !mail || !mails(&order, by_customer) {
        return Ok(());
    }
    let facts = match submitted {
        // Just written above: no need to read it back.
        Some(facts) => facts,
        None => match outbox.facts(conn, order_id).await? {
            Some(facts) => facts,
            None => return Ok(()),
        },
    };
    let drafts = drafts(order_id, &facts, &order, by_customer);
    send(outbox, conn, event, order_id, &facts, drafts).await
}

/// Addresses and queues `drafts`, caused by `event`, about order `order_id`.
async fn send(
    outbox: &Outbox,
    conn: &mut DbConnection,
    event: &RecordedEvent,
    order_id: &str,
    facts: &OrderFacts,
    drafts: Vec<Draft>,
) -> Result<(), StoreError> {
    let mut n = 0;
    for draft in drafts {
        let subjects: Vec<String> = match &draft.to {
            Audience::Customer => vec![facts.customer.clone()],
            Audience::Shifters => outbox.shifters(conn, &facts.group).await?,
            Audience::AssigneeOrShifters => match &facts.assignee {
                Some(assignee) => vec![assignee.clone()],
                None => outbox.shifters(conn, &facts.group).await?,
            },
            Audience::Provider(provider) => {
                if let Some(address) = queries::provider_contact(conn, provider).await? {
                    n += 1;
                    queue(conn, event, n, &draft, order_id, &address).await?;
                }
                continue;
            }
        };
        for subject in subjects {
            let Some(address) = outbox.recipient(conn, &subject, draft.kind).await? else {
                continue;
            };
            n += 1;
            queue(conn, event, n, &draft, order_id, &address).await?;
        }
    }
    Ok(())
}

/// A missed service level: the customer hears of an SLA's, the provider of
/// an OLA's, the order's group of both.
async fn missed(
    outbox: &Outbox,
    conn: &mut DbConnection,
    event: &RecordedEvent,
    missed: &ServiceLevelMissed,
) -> Result<(), StoreError> {
    let Some(facts) = outbox.facts(conn, &missed.order_id).await? else {
        return Ok(());
    };
    let figure = |v: Option<f64>| v.map_or_else(|| "undefined".to_owned(), |v| format!("{v:.5} %"));
    let mut lines = vec![
        format!(
            "{} missed its service level target(s) in {}: {}.",
            missed.reference,
            missed.month,
            missed.missed.join(", ")
        ),
        format!(
            "Availability {} (target {} %), reliability {} (target {} %).",
            figure(missed.figures.availability),
            missed.targets.availability_pct,
            figure(missed.figures.reliability),
            missed.targets.reliability_pct
        ),
    ];
    if !missed.causes.is_empty() {
        lines.push(String::new());
        lines.push("What caused it:".into());
        for cause in missed.causes.iter().take(10) {
            let hours = (cause.to - cause.from).get_seconds() as f64 / 3600.0;
            lines.push(format!(
                "- {} {} from {} to {} ({hours:.1} h)",
                cause.endpoint, cause.status, cause.from, cause.to
            ));
        }
    }
    let subject_line = format!(
        "[pactum] Service level missed: {} in {}",
        missed.reference, missed.month
    );
    let draft = |to| Draft {
        kind: "service_level",
        to,
        subject_line: subject_line.clone(),
        body: lines.join("\n"),
    };
    let mut drafts = vec![draft(Audience::Shifters)];
    match (missed.kind.as_str(), &missed.provider) {
        ("ola", Some(provider)) => drafts.push(draft(Audience::Provider(provider.clone()))),
        _ => drafts.push(draft(Audience::Customer)),
    }
    send(outbox, conn, event, &missed.order_id, &facts, drafts).await
}

/// Whether an order event calls for any mail (most do not: the order's row is
/// not even read for them).
fn mails(event: &OrderEvent, by_customer: bool) -> bool {
    match event {
        OrderEvent::CommentAdded(comment) => {
            comment.visibility == Visibility::Public && !by_customer
        }
        OrderEvent::ProposalMade(proposal) => proposal.side == Side::Shifter,
        OrderEvent::OrderSubmitted(_)
        | OrderEvent::QuestionAsked(_)
        | OrderEvent::OrderApproved(_)
        | OrderEvent::OrderRejected(_)
        | OrderEvent::OrderActivated(_)
        | OrderEvent::ProvisioningPlanned(_)
        | OrderEvent::HandlingTargetAtRisk(_)
        | OrderEvent::HandlingTargetBreached(_) => true,
        _ => false,
    }
}

/// The mails an order event calls for.
fn drafts(order_id: &str, facts: &OrderFacts, event: &OrderEvent, by_customer: bool) -> Vec<Draft> {
    let name = match &facts.title {
        Some(title) => format!("{title} ({order_id})"),
        None => format!("{} order {order_id}", facts.service),
    };
    let draft = |kind, to, subject_line: String, lines: Vec<String>| Draft {
        kind,
        to,
        subject_line: format!("[pactum] {subject_line}"),
        body: lines.join("\n"),
    };
    match event {
        OrderEvent::OrderSubmitted(submitted) => vec![draft(
            "new_order",
            Audience::Shifters,
            format!("New order in {}: {name}", facts.group),
            vec![
                format!(
                    "{} of {} ordered {} ({}).",
                    submitted.customer.subject, submitted.customer.org, facts.service, order_id
                ),
                format!("It waits in the {} queue.", facts.group),
            ],
        )],
        OrderEvent::CommentAdded(comment)
            if comment.visibility == Visibility::Public && !by_customer =>
        {
            vec![draft(
                "comment",
                Audience::Customer,
                format!("New comment on {name}"),
                vec!["A new comment on your order:".into(), String::new(), comment.body.clone()],
            )]
        }
        OrderEvent::QuestionAsked(question) => vec![draft(
            "question",
            Audience::Customer,
            format!("A question about {name}"),
            vec![
                "We need an answer from you before we can go on with your order:".into(),
                String::new(),
                question.body.clone(),
            ],
        )],
        OrderEvent::ProposalMade(proposal) if proposal.side == Side::Shifter => vec![draft(
            "proposal",
            Audience::Customer,
            format!("A proposal for {name}"),
            vec![
                format!(
                    "We propose to change: {}. Accept or decline proposal {}.",
                    proposal.changed.join(", "),
                    proposal.proposal_id
                ),
                proposal.note.clone().unwrap_or_default(),
            ],
        )],
        OrderEvent::OrderApproved(approved) => vec![draft(
            "decision",
            Audience::Customer,
            format!("Approved: {name}"),
            vec![
                "Your order is approved; provisioning follows.".into(),
                approved.note.clone().unwrap_or_default(),
            ],
        )],
        OrderEvent::OrderRejected(rejected) => vec![draft(
            "decision",
            Audience::Customer,
            format!("Rejected: {name}"),
            vec![
                "Your order was rejected.".into(),
                format!("Reason: {}", rejected.reason),
            ],
        )],
        OrderEvent::OrderActivated(activated) => activated
            .agreements
            .iter()
            .filter(|agreement| agreement.kind == "sla")
            .map(|agreement| {
                draft(
                    "agreement_issued",
                    Audience::Customer,
                    format!("Your SLA for {name} is issued"),
                    vec![
                        format!(
                            "Service level agreement {} is issued; its document is at \
                             /v1/agreements/{}/document.",
                            agreement.agreement_id, agreement.agreement_id
                        ),
                    ],
                )
            })
            .collect(),
        OrderEvent::ProvisioningPlanned(plan) => plan
            .steps
            .iter()
            .map(|step| {
                draft(
                    "provisioning_step",
                    Audience::Provider(step.provider.clone()),
                    format!("Provisioning step {} of {name}", step.step_id),
                    vec![
                        format!("Please carry out: {}", step.action),
                        format!(
                            "Report it done or failed: POST /v1/orders/{order_id}/provisioning/{}/done",
                            step.step_id
                        ),
                    ],
                )
            })
            .collect(),
        OrderEvent::HandlingTargetAtRisk(risk) => vec![draft(
            "at_risk",
            Audience::AssigneeOrShifters,
            format!("At risk: {} of {name} due {}", risk.clock, risk.due_at),
            vec![
                risk.cause.clone(),
                format!(
                    "{} of {} used; due {}.",
                    human(risk.elapsed_seconds),
                    human(risk.target_seconds),
                    risk.due_at
                ),
            ],
        )],
        OrderEvent::HandlingTargetBreached(breach) => vec![draft(
            "breach",
            Audience::AssigneeOrShifters,
            format!("Breached: {} target of {name}", breach.clock),
            vec![breach.cause.clone()],
        )],
        _ => Vec::new(),
    }
}

/// Where a mail of `kind` for `subject` goes, in one statement: nowhere if the
/// subject opted out of the kind; else the e-mail of its newest unrevoked token
/// that has one, else the subject itself if it is an address.
async fn recipient(
    conn: &mut DbConnection,
    subject: &str,
    kind: &str,
) -> Result<Option<String>, StoreError> {
    let (email, opted_out) = queries::address_and_opt_out(conn, subject, kind).await?;
    if opted_out {
        return Ok(None);
    }
    let address = email.or_else(|| {
        subject
            .parse::<lettre::Address>()
            .is_ok()
            .then(|| subject.to_owned())
    });
    if address.is_none() {
        tracing::debug!(%subject, kind, "no address; mail not queued");
    }
    Ok(address)
}

async fn queue(
    conn: &mut DbConnection,
    event: &RecordedEvent,
    n: usize,
    draft: &Draft,
    order_id: &str,
    address: &str,
) -> Result<(), StoreError> {
    let body = wrap(&format!(
        "{}\n\nOrder: /v1/orders/{order_id}\n\nYou get this mail as {}. To stop mails of this \
         kind: PUT /v1/me/notifications {{\"opted_out\": [\"{}\"]}}\n",
        draft.body.trim_end(),
        address,
        draft.kind
    ));
    let mail = QueuedMail {
        id: format!("{}-{n}", event.position),
        position: event.position,
        kind: draft.kind,
        order_id,
        recipient: address,
        subject_line: &draft.subject_line,
        body,
        created_at: event.recorded_at,
    };
    queries::queue(conn, &mail).await
}

/// Wraps lines at 76 characters between words, as mail wants.
fn wrap(text: &str) -> String {
    const WIDTH: usize = 76;
    let mut out = String::with_capacity(text.len() + 16);
    for line in text.split('\n') {
        let mut width = 0;
        for (n, word) in line.split(' ').enumerate() {
            let len = word.chars().count();
            if n > 0 {
                if width + 1 + len > WIDTH {
                    out.push('\n');
                    width = 0;
                } else {
                    out.push(' ');
                    width += 1;
                }
            }
            out.push_str(word);
            width += len;
        }
        out.push('\n');
    }
    out.pop();
    out
}

impl InlineProjection for Outbox {
    fn apply<'a>(
        &'a self,
        conn: &'a mut DbConnection,
        event: &'a RecordedEvent,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move { fold(self, conn, event, true).await })
    }

    fn apply_imported<'a>(
        &'a self,
        conn: &'a mut DbConnection,
        event: &'a RecordedEvent,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move { fold(self, conn, event, false).await })
    }

    fn forget(&self) {
        *self.memo() = Memo::default();
    }

    fn check(&self, event: &RecordedEvent) -> Result<(), String> {
        // apply decodes order events too.
        crate::store::check_decodes::<OrderEvent>(event)?;
        crate::store::check_decodes::<NotificationEvent>(event)?;
        crate::store::check_decodes::<ComplianceEvent>(event)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn long_lines_are_wrapped_between_words() {
        let text = format!("{}\nshort", "word ".repeat(30).trim_end());
        let wrapped = super::wrap(&text);
        assert!(
            wrapped.lines().all(|l| l.chars().count() <= 76),
            "{wrapped}"
        );
        assert_eq!(wrapped.replace('\n', " "), text.replace('\n', " "));
        assert!(wrapped.ends_with("\nshort"));
    }
}
