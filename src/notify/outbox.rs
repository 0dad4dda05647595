//! The outbox: one row per mail, written by an inline projection in the same
//! transaction as the event that caused it — a committed event has its mails
//! queued, a refused or rolled-back one has none. Recipients are resolved there
//! too, from tables in the same database: the order's customer and group (kept
//! in `notification_orders`), the group's shifters and every subject's address
//! (`access_tokens`), opt-outs (`notification_opt_outs`), a provider's contact
//! (its `ProviderRegistered` event). Delivery is [`super::deliver`]'s job.

use futures::future::BoxFuture;
use pactum_events::catalogue::CatalogueEvent;
use pactum_events::notification::NotificationEvent;
use pactum_events::order::{OrderEvent, Side, Visibility};
use pactum_events::{EventPayload, RecordedEvent};

use crate::orders::clocks::human;
use crate::store::{DbConnection, InlineProjection};

/// Keeps `outbox`, `notification_orders` and `notification_opt_outs`.
pub struct Outbox;

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

/// What the outbox knows of an order.
struct OrderFacts {
    customer: String,
    group: String,
    service: String,
    title: Option<String>,
    assignee: Option<String>,
}

impl InlineProjection for Outbox {
    fn apply<'a>(
        &'a self,
        conn: &'a mut DbConnection,
        event: &'a RecordedEvent,
    ) -> BoxFuture<'a, Result<(), sqlx::Error>> {
        Box::pin(fold(conn, event, true))
    }

    fn apply_imported<'a>(
        &'a self,
        conn: &'a mut DbConnection,
        event: &'a RecordedEvent,
    ) -> BoxFuture<'a, Result<(), sqlx::Error>> {
        Box::pin(fold(conn, event, false))
    }

    fn check(&self, event: &RecordedEvent) -> Result<(), String> {
        // apply decodes order events too.
        crate::store::check_decodes::<OrderEvent>(event)?;
        crate::store::check_decodes::<NotificationEvent>(event)
    }
}

fn decode_error(e: impl std::error::Error + Send + Sync + 'static) -> sqlx::Error {
    sqlx::Error::Decode(Box::new(e))
}

async fn fold(
    conn: &mut DbConnection,
    event: &RecordedEvent,
    mail: bool,
) -> Result<(), sqlx::Error> {
    if event.aggregate_type == NotificationEvent::AGGREGATE_TYPE {
        let NotificationEvent::NotificationPreferencesSet(set) = NotificationEvent::decode(
            &event.event_type,
            event.schema_version,
            event.payload.clone(),
        )
        .map_err(decode_error)?;
        sqlx::query("DELETE FROM notification_opt_outs WHERE subject = $1")
            .bind(&set.subject)
            .execute(&mut *conn)
            .await?;
        for kind in &set.opted_out {
            sqlx::query("INSERT INTO notification_opt_outs (subject, kind) VALUES ($1, $2)")
                .bind(&set.subject)
                .bind(kind)
                .execute(&mut *conn)
                .await?;
        }
        return Ok(());
    }
    if event.aggregate_type != OrderEvent::AGGREGATE_TYPE {
        return Ok(());
    }
    let order = OrderEvent::decode(
        &event.event_type,
        event.schema_version,
        event.payload.clone(),
    )
    .map_err(decode_error)?;
    let order_id = event.aggregate_id.as_str();
    match &order {
        OrderEvent::OrderSubmitted(submitted) => {
            sqlx::query(
                "INSERT INTO notification_orders (order_id, customer_subject, group_id, service, \
                 title) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(order_id)
            .bind(&submitted.customer.subject)
            .bind(&submitted.group)
            .bind(&submitted.service)
            .bind(&submitted.title)
            .execute(&mut *conn)
            .await?;
        }
        OrderEvent::OrderAssigned(assigned) => {
            sqlx::query("UPDATE notification_orders SET assignee = $1 WHERE order_id = $2")
                .bind(&assigned.assignee)
                .bind(order_id)
                .execute(&mut *conn)
                .await?;
        }
        _ => {}
    }
    let by_customer = event.actor.role == "customer";
    if !mail || !mails(&order, by_customer) {
        return Ok(());
    }
    let facts = match &order {
        // Just written above: no need to read it back.
        OrderEvent::OrderSubmitted(submitted) => OrderFacts {
            customer: submitted.customer.subject.clone(),
            group: submitted.group.clone(),
            service: submitted.service.clone(),
            title: submitted.title.clone(),
            assignee: None,
        },
        _ => match facts(conn, order_id).await? {
            Some(facts) => facts,
            None => return Ok(()),
        },
    };
    let drafts = drafts(order_id, &facts, &order, by_customer);
    let mut n = 0;
    for draft in drafts {
        let subjects: Vec<String> = match &draft.to {
            Audience::Customer => vec![facts.customer.clone()],
            Audience::Shifters => shifters(conn, &facts.group).await?,
            Audience::AssigneeOrShifters => match &facts.assignee {
                Some(assignee) => vec![assignee.clone()],
                None => shifters(conn, &facts.group).await?,
            },
            Audience::Provider(provider) => {
                if let Some(address) = provider_contact(conn, provider).await? {
                    n += 1;
                    queue(conn, event, n, &draft, order_id, &address).await?;
                }
                continue;
            }
        };
        for subject in subjects {
            let Some(address) = recipient(conn, &subject, draft.kind).await? else {
                continue;
            };
            n += 1;
            queue(conn, event, n, &draft, order_id, &address).await?;
        }
    }
    Ok(())
}

/// customer, group, service, title, assignee.
type FactsRow = (String, String, String, Option<String>, Option<String>);

async fn facts(conn: &mut DbConnection, order_id: &str) -> Result<Option<OrderFacts>, sqlx::Error> {
    let row: Option<FactsRow> = sqlx::query_as(
        "SELECT customer_subject, group_id, service, title, assignee FROM notification_orders \
         WHERE order_id = $1",
    )
    .bind(order_id)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(
        row.map(|(customer, group, service, title, assignee)| OrderFacts {
            customer,
            group,
            service,
            title,
            assignee,
        }),
    )
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

async fn shifters(conn: &mut DbConnection, group: &str) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT DISTINCT t.subject FROM access_tokens t \
         JOIN access_token_groups g ON g.token_id = t.token_id \
         WHERE t.role = 'shifter' AND g.group_id = $1 AND t.revoked_at IS NULL \
         ORDER BY t.subject",
    )
    .bind(group)
    .fetch_all(&mut *conn)
    .await
}

/// Where a mail of `kind` for `subject` goes, in one statement: nowhere if the
/// subject opted out of the kind; else the e-mail of its newest unrevoked token
/// that has one, else the subject itself if it is an address.
async fn recipient(
    conn: &mut DbConnection,
    subject: &str,
    kind: &str,
) -> Result<Option<String>, sqlx::Error> {
    let (email, opted_out): (Option<String>, i64) = sqlx::query_as(
        "SELECT (SELECT email FROM access_tokens WHERE subject = $1 AND email IS NOT NULL \
         AND revoked_at IS NULL ORDER BY issued_at DESC LIMIT 1), \
         (SELECT COUNT(*) FROM notification_opt_outs WHERE subject = $1 AND kind = $2)",
    )
    .bind(subject)
    .bind(kind)
    .fetch_one(&mut *conn)
    .await?;
    if opted_out > 0 {
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

/// A provider's contact address, from its newest registration.
async fn provider_contact(
    conn: &mut DbConnection,
    provider: &str,
) -> Result<Option<String>, sqlx::Error> {
    let rows: Vec<(String, i64, String)> = sqlx::query_as(
        "SELECT event_type, schema_version, payload FROM events \
         WHERE aggregate_type = 'catalogue' AND event_type = 'ProviderRegistered' \
         ORDER BY position DESC",
    )
    .fetch_all(&mut *conn)
    .await?;
    for (event_type, version, payload) in rows {
        if let Ok(CatalogueEvent::ProviderRegistered(registered)) =
            CatalogueEvent::decode_str(&event_type, version as u32, &payload)
            && registered.provider_id == provider
        {
            return Ok(registered.contact_email);
        }
    }
    Ok(None)
}

async fn queue(
    conn: &mut DbConnection,
    event: &RecordedEvent,
    n: usize,
    draft: &Draft,
    order_id: &str,
    address: &str,
) -> Result<(), sqlx::Error> {
    let at = event.recorded_at.as_microsecond();
    let body = wrap(&format!(
        "{}\n\nOrder: /v1/orders/{order_id}\n\nYou get this mail as {}. To stop mails of this \
         kind: PUT /v1/me/notifications {{\"opted_out\": [\"{}\"]}}\n",
        draft.body.trim_end(),
        address,
        draft.kind
    ));
    sqlx::query(
        "INSERT INTO outbox (id, position, kind, order_id, recipient, subject_line, body, \
         created_at, status, attempts, next_attempt_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', 0, $9)",
    )
    .bind(format!("{}-{n}", event.position))
    .bind(event.position as i64)
    .bind(draft.kind)
    .bind(order_id)
    .bind(address)
    .bind(&draft.subject_line)
    .bind(body)
    .bind(at)
    // Due at once: delivery runs on real time, whatever clock commands use.
    .bind(0_i64)
    .execute(&mut *conn)
    .await?;
    Ok(())
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
