//! Agreement commands and reads for the HTTP API, the expiry timer and `verify`.
//!
//! Activation is an order command that also issues agreements: the order's
//! `OrderActivated`, each agreement's `AgreementIssued` and the rendered PDFs are
//! committed in one transaction, so an order is never active without its
//! agreements nor an agreement issued without its document.

use std::collections::BTreeMap;

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use pactum_events::agreement::{AgreementContent, DocumentRef, Targets};
use pactum_events::order::AgreementRef;
use pactum_projections::agreement_view::AgreementView;
use pactum_projections::order_view::OrderView;
use serde_json::Number;

use crate::access::Principal;
use crate::agreements::aggregate::{Agreement, AgreementStatus};
use crate::agreements::commands::{AgreementAction, AgreementCommand};
use crate::agreements::content::{self, AmendmentNote, ContentError, IssueContext};
use crate::agreements::errors::AgreementError;
use crate::brands;
use crate::catalogue::Catalogue;
use crate::documents::model::{DocumentData, Logo};
use crate::documents::{RenderError, Rendered, Renderer};
use crate::execute::{self, CommandMeta, Loaded};
use crate::orders::aggregate::Order;
use crate::orders::commands::{OrderAction, OrderCommand};
use crate::orders::errors::OrderError;
use crate::orders::service::{self, ServiceError};
use crate::runner::{self, CommandRequest, Ran, Source, Step};
use crate::store::{AppendRequest, Attachment, EventStore};
use crate::validation::FieldError;

/// The media type of every agreement document.
pub const PDF: &str = "application/pdf";

/// What issuing an agreement's document takes: the log (brands, stored
/// documents), the catalogue (parties, default targets) and the renderer.
#[derive(Clone, Copy)]
pub struct Issuing<'a> {
    pub store: &'a EventStore,
    pub catalogue: &'a Catalogue,
    pub renderer: &'a Renderer,
}

/// Targets chosen at activation over the catalogue's defaults.
#[derive(Clone, Debug, Default)]
pub struct Activation {
    /// For every agreement of the order.
    pub targets: Option<TargetsPatch>,
    /// For the OLA of one provider (over `targets`).
    pub provider_targets: BTreeMap<String, TargetsPatch>,
}

/// Some of the targets, to lay over others.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TargetsPatch {
    pub availability_pct: Option<Number>,
    pub reliability_pct: Option<Number>,
    pub period: Option<String>,
}

impl TargetsPatch {
    pub fn over(&self, base: &Targets) -> Targets {
        Targets {
            availability_pct: self
                .availability_pct
                .clone()
                .unwrap_or_else(|| base.availability_pct.clone()),
            reliability_pct: self
                .reliability_pct
                .clone()
                .unwrap_or_else(|| base.reliability_pct.clone()),
            period: self.period.clone().unwrap_or_else(|| base.period.clone()),
        }
    }

    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }
}

/// Renders off the async runtime: a page costs milliseconds of CPU.
pub async fn render(
    renderer: &Renderer,
    data: DocumentData,
    logo: Option<Logo>,
    template: Option<(String, u32)>,
) -> Result<Rendered, ServiceError> {
    let renderer = renderer.clone();
    tokio::task::spawn_blocking(move || match template {
        Some((id, version)) => renderer.render_with(&id, version, &data, logo.as_ref()),
        None => renderer.render(&data, logo.as_ref()),
    })
    .await
    .map_err(|e| ServiceError::Document(e.to_string()))?
    .map_err(|e: RenderError| ServiceError::Document(e.to_string()))
}

/// Renders the first version of a new agreement, with the brand's logo when its
/// content names one.
///
/// A logo that cannot be drawn never blocks activation. Logos are rendered once
/// when a brand is set (`brands::define`), but the log may hold one from before:
/// when the document does not render with it, it is issued without it, and its
/// content says so (no logo). Re-rendering from the log (`verify`, a lost
/// document) then gives the same bytes without trying the logo again.
async fn render_issued(
    renderer: &Renderer,
    agreement_id: &str,
    mut content: AgreementContent,
    logo: Option<Logo>,
    now: Timestamp,
) -> Result<(AgreementContent, Rendered), ServiceError> {
    let data = content::document_data(agreement_id, &content, 1, now, None);
    let logo = content.brand.logo.as_ref().and(logo);
    match render(renderer, data, logo, None).await {
        Ok(rendered) => Ok((content, rendered)),
        Err(error) if content.brand.logo.is_some() => {
            tracing::warn!(
                agreement_id,
                brand = content.brand.name,
                %error,
                "the brand's logo does not render: the agreement is issued without it"
            );
            content.brand.logo = None;
            let data = content::document_data(agreement_id, &content, 1, now, None);
            let rendered = render(renderer, data, None, None).await?;
            Ok((content, rendered))
        }
        Err(error) => Err(error),
    }
}

fn attachment(rendered: &Rendered) -> Attachment {
    Attachment {
        sha256: rendered.sha256.clone(),
        media_type: PDF.into(),
        bytes: rendered.bytes.clone(),
    }
}

fn document_ref(rendered: &Rendered) -> DocumentRef {
    DocumentRef {
        template_id: rendered.template_id.clone(),
        template_version: rendered.template_version,
        sha256: rendered.sha256.clone(),
        size: rendered.bytes.len() as u64,
    }
}

fn today(now: Timestamp) -> Date {
    now.to_zoned(TimeZone::UTC).date()
}

/// `POST /v1/orders/{id}/activate`: the order becomes active and its SLA and one
/// OLA per provider that provisioned it are issued, each with its document.
pub async fn activate(
    deps: &Issuing<'_>,
    order_id: &str,
    activation: Activation,
    request: &CommandRequest,
) -> Result<Ran<OrderView>, ServiceError> {
    let meta = &request.meta;
    let Issuing {
        store,
        catalogue,
        renderer,
    } = *deps;
    // Activation renders documents: it reads the order from the log rather than
    // risk rendering twice on a stale hot order.
    service::run(
        store,
        order_id,
        request,
        Source::Log,
        async |loaded: &Loaded<Order>| {
            // Refuse before rendering anything if the order cannot be activated.
            loaded.aggregate.decide(OrderCommand {
                by: meta.principal.clone(),
                at: meta.now,
                action: OrderAction::Activate {
                    agreements: Vec::new(),
                },
            })?;
            let order = OrderView::fold(loaded.contexts()).ok_or(OrderError::NotFound)?;
            let customer_brand = brands::current(store, &order.customer.org).await?;
            let ctx = IssueContext {
                catalogue,
                order: &order,
                customer_brand: customer_brand.as_ref(),
                today: today(meta.now),
            };
            let customer_logo = customer_brand
                .as_ref()
                .and_then(|brand| brand.logo.as_ref())
                .and_then(brands::logo_of);
            let mut parties = vec![None];
            for provider in loaded.aggregate.providers_done() {
                let registered = catalogue.providers.get(&provider).ok_or_else(|| {
                    ServiceError::Document(format!("provider {provider} left the catalogue"))
                })?;
                parties.push(Some(registered));
            }
            let mut refs = Vec::new();
            let mut together = Vec::new();
            for provider in parties {
                let agreement_id = uuid::Uuid::now_v7().to_string();
                let defaults = catalogue
                    .service_at(&order.service, order.service_version)
                    .map(content::default_targets);
                let mut targets = defaults;
                for patch in [
                    activation.targets.as_ref(),
                    provider.and_then(|p| activation.provider_targets.get(&p.provider_id)),
                ]
                .into_iter()
                .flatten()
                {
                    targets = targets.map(|base| patch.over(&base));
                }
                let content = content::content(&ctx, &agreement_id, provider, targets).map_err(
                    |e| match e {
                        ContentError::Validity { field, message } => {
                            ServiceError::Invalid(vec![FieldError::new(field, message)])
                        }
                        other => ServiceError::Document(other.to_string()),
                    },
                )?;
                let (content, rendered) = render_issued(
                    renderer,
                    &agreement_id,
                    content,
                    customer_logo.clone(),
                    meta.now,
                )
                .await?;
                let fresh = Loaded::<Agreement>::fresh(agreement_id.clone());
                let mut append = runner::together(
                    &fresh,
                    AgreementCommand {
                        by: meta.principal.clone(),
                        action: AgreementAction::Issue {
                            agreement_id: agreement_id.clone(),
                            content: Box::new(content.clone()),
                            document: document_ref(&rendered),
                        },
                    },
                    meta,
                )
                .await?;
                append.attachments.push(attachment(&rendered));
                together.push(append);
                refs.push(AgreementRef {
                    agreement_id,
                    kind: content.kind.clone(),
                    provider: provider.map(|p| p.provider_id.clone()),
                });
            }
            let mut step =
                service::step(loaded, request, OrderAction::Activate { agreements: refs })?;
            step.together = together;
            Ok(step)
        },
    )
    .await
}

fn view_of(loaded: &Loaded<Agreement>) -> Option<AgreementView> {
    AgreementView::fold(loaded.contexts())
}

/// A command on one agreement, with the appends that must commit with it.
struct AgreementStep {
    action: AgreementAction,
    together: Vec<AppendRequest>,
    attachments: Vec<Attachment>,
}

/// Runs a command on one agreement; answers with the agreement's view. `prepare`
/// gets the agreement and its current view and builds the action.
async fn run_agreement(
    store: &EventStore,
    agreement_id: &str,
    request: &CommandRequest,
    prepare: impl AsyncFnOnce(&Loaded<Agreement>, &AgreementView) -> Result<AgreementStep, ServiceError>
    + Clone,
) -> Result<Ran<AgreementView>, ServiceError> {
    let meta = &request.meta;
    let actor = meta.principal.actor();
    runner::run(
        store,
        agreement_id,
        request,
        Source::Log,
        async |loaded| {
            let current = view_of(loaded).ok_or(AgreementError::NotFound)?;
            let step = prepare.clone()(loaded, &current).await?;
            Ok(Step {
                command: AgreementCommand {
                    by: meta.principal.clone(),
                    action: step.action,
                },
                together: step.together,
                attachments: step.attachments,
                acting: None,
            })
        },
        |loaded, events| {
            Ok(
                AgreementView::fold(loaded.contexts_with(events, &actor, meta.now))
                    .ok_or(AgreementError::NotFound)?,
            )
        },
    )
    .await
}

/// What a shifter asks an amendment to change.
#[derive(Clone, Debug)]
pub struct Amendment {
    pub targets: Option<TargetsPatch>,
    pub end: Option<Date>,
    pub note: String,
}

/// `POST /v1/agreements/{id}/amend`: a new version with new targets and/or a
/// later end date, rendered; earlier versions stay downloadable.
pub async fn amend(
    store: &EventStore,
    renderer: &Renderer,
    agreement_id: &str,
    amendment: Amendment,
    request: &CommandRequest,
) -> Result<Ran<AgreementView>, ServiceError> {
    let meta = &request.meta;
    run_agreement(store, agreement_id, request, async |loaded, current| {
        let placeholder = DocumentRef {
            template_id: String::new(),
            template_version: 0,
            sha256: String::new(),
            size: 0,
        };
        let targets = amendment
            .targets
            .as_ref()
            .filter(|patch| !patch.is_empty())
            .map(|patch| patch.over(&current.content.targets))
            .filter(|targets| targets != &current.content.targets);
        let action = |changes: Vec<String>, document| AgreementAction::Amend {
            targets: targets.clone(),
            end: amendment.end,
            note: amendment.note.clone(),
            changes,
            document,
        };
        // Refuse before rendering anything if the amendment cannot be made.
        loaded.aggregate.decide(AgreementCommand {
            by: meta.principal.clone(),
            action: action(Vec::new(), placeholder),
        })?;
        let changes = describe_changes(current, targets.as_ref(), amendment.end);
        let mut content = current.content.clone();
        if let Some(targets) = &targets {
            content.targets = targets.clone();
        }
        if let Some(end) = amendment.end {
            content.validity.end = end;
        }
        let version = current.version + 1;
        let data = content::document_data(
            &current.id,
            &content,
            version,
            meta.now,
            Some(AmendmentNote {
                previous_version: current.version,
                note: amendment.note.clone(),
                changes: changes.clone(),
            }),
        );
        let logo = logo_for(store, &content).await?;
        let rendered = render(renderer, data, logo, None).await?;
        Ok(AgreementStep {
            action: action(changes, document_ref(&rendered)),
            together: Vec::new(),
            attachments: vec![attachment(&rendered)],
        })
    })
    .await
}

fn describe_changes(
    current: &AgreementView,
    targets: Option<&Targets>,
    end: Option<Date>,
) -> Vec<String> {
    let mut changes = Vec::new();
    if let Some(targets) = targets {
        let before = &current.content.targets;
        if before.availability_pct != targets.availability_pct {
            changes.push(format!(
                "Availability: {} % → {} %",
                before.availability_pct, targets.availability_pct
            ));
        }
        if before.reliability_pct != targets.reliability_pct {
            changes.push(format!(
                "Reliability: {} % → {} %",
                before.reliability_pct, targets.reliability_pct
            ));
        }
        if before.period != targets.period {
            changes.push(format!(
                "Measurement period: {} → {}",
                before.period, targets.period
            ));
        }
    }
    if let Some(end) = end {
        changes.push(format!(
            "End of validity: {} → {end}",
            current.content.validity.end
        ));
    }
    changes
}

/// The logo a content's brand names, from the brands' history.
async fn logo_for(
    store: &EventStore,
    content: &pactum_events::agreement::AgreementContent,
) -> Result<Option<Logo>, ServiceError> {
    match &content.brand.logo {
        None => Ok(None),
        Some(logo) => Ok(brands::logo_by_hash(store, &logo.sha256).await?),
    }
}

/// `POST /v1/agreements/{id}/terminate`. Terminating an SLA ends the service:
/// the order's other active agreements are terminated with it and the order is
/// closed, in one transaction.
pub async fn terminate(
    store: &EventStore,
    agreement_id: &str,
    reason: String,
    request: &CommandRequest,
) -> Result<Ran<AgreementView>, ServiceError> {
    let meta = &request.meta;
    let reason = &reason;
    run_agreement(store, agreement_id, request, async |loaded, current| {
        let mut together = Vec::new();
        if loaded.aggregate.kind() == Some("sla") {
            let order = execute::load::<Order>(store, &current.content.order_id).await?;
            together = terminate_others(store, meta, &order, agreement_id, reason).await?;
            together.push(close_order(&order, meta, agreement_id, "terminated").await?);
        }
        Ok(AgreementStep {
            action: AgreementAction::Terminate {
                reason: reason.clone(),
            },
            together,
            attachments: Vec::new(),
        })
    })
    .await
}

/// Terminations of the order's active agreements other than `sla_id`.
async fn terminate_others(
    store: &EventStore,
    meta: &CommandMeta,
    order: &Loaded<Order>,
    sla_id: &str,
    reason: &str,
) -> Result<Vec<AppendRequest>, ServiceError> {
    let view = OrderView::fold(order.contexts()).ok_or(OrderError::NotFound)?;
    let mut appends = Vec::new();
    for other in view.agreements.iter().filter(|a| a.agreement_id != sla_id) {
        let loaded = execute::load::<Agreement>(store, &other.agreement_id).await?;
        if loaded.aggregate.status() != Some(AgreementStatus::Active) {
            continue;
        }
        let termination = AgreementCommand {
            by: Principal::system("pactum"),
            action: AgreementAction::Terminate {
                reason: format!("its SLA was terminated: {reason}"),
            },
        };
        appends.push(runner::together(&loaded, termination, meta).await?);
    }
    Ok(appends)
}

/// The order's closing, because its SLA `sla_id` ended (`how`).
async fn close_order(
    order: &Loaded<Order>,
    meta: &CommandMeta,
    sla_id: &str,
    how: &str,
) -> Result<AppendRequest, ServiceError> {
    let closing = OrderCommand {
        by: Principal::system("pactum"),
        at: meta.now,
        action: OrderAction::Close {
            reason: how.to_owned(),
            agreement_id: sla_id.to_owned(),
        },
    };
    Ok(runner::together(order, closing, meta).await?)
}

/// Expires an agreement whose last day is before `now`'s date (the expiry
/// timer). An SLA's expiry closes its order; each OLA expires by its own end
/// date. Refused, harmlessly, if it is not due or no longer active.
pub async fn expire(
    store: &EventStore,
    agreement_id: &str,
    now: Timestamp,
) -> Result<(), ServiceError> {
    let request = CommandRequest::system(CommandMeta::system("expiry", now));
    let meta = &request.meta;
    let day = today(now);
    run_agreement(store, agreement_id, &request, async |loaded, current| {
        let mut together = Vec::new();
        if loaded.aggregate.kind() == Some("sla") {
            let order = execute::load::<Order>(store, &current.content.order_id).await?;
            if order.aggregate.status() == Some(pactum_events::order::OrderStatus::Active) {
                together.push(close_order(&order, meta, agreement_id, "expired").await?);
            }
        }
        Ok(AgreementStep {
            action: AgreementAction::Expire { today: day },
            together,
            attachments: Vec::new(),
        })
    })
    .await
    .map(|_| ())
}

/// The agreement as `principal` may see it (404 if it may not).
pub async fn get(
    store: &EventStore,
    principal: &Principal,
    agreement_id: &str,
) -> Result<AgreementView, ServiceError> {
    let loaded = execute::load::<Agreement>(store, agreement_id).await?;
    if !loaded.aggregate.visible_to(principal) {
        return Err(AgreementError::NotFound.into());
    }
    Ok(view_of(&loaded).ok_or(AgreementError::NotFound)?)
}

/// A document ready to download.
pub struct Download {
    pub bytes: Vec<u8>,
    pub sha256: String,
    pub filename: String,
}

/// The document of one version (the current one by default). Served from the
/// document store; re-rendered from the log (and checked against the recorded
/// hash) if the store lacks it, e.g. after `pactum import`.
pub async fn document(
    deps: &Issuing<'_>,
    principal: &Principal,
    agreement_id: &str,
    version: Option<u32>,
    now: Timestamp,
) -> Result<Download, ServiceError> {
    let Issuing {
        store, renderer, ..
    } = *deps;
    let view = get(store, principal, agreement_id).await?;
    let version = version.unwrap_or(view.version);
    let found = view
        .version(version)
        .ok_or(ServiceError::NoSuchVersion { version })?;
    let filename = format!("{}-v{version}.pdf", view.content.reference);
    if let Some((_, bytes)) = store.document(&found.document.sha256).await? {
        return Ok(Download {
            bytes,
            sha256: found.document.sha256.clone(),
            filename,
        });
    }
    let rendered = rerender(store, renderer, &view, version).await?;
    if rendered.sha256 != found.document.sha256 {
        return Err(ServiceError::Document(format!(
            "{agreement_id} v{version} renders to {} instead of the recorded {}",
            rendered.sha256, found.document.sha256
        )));
    }
    store
        .store_document(attachment(&rendered), now)
        .await
        .map_err(ServiceError::Append)?;
    Ok(Download {
        bytes: rendered.bytes,
        sha256: rendered.sha256,
        filename,
    })
}

/// Renders one version of an agreement again, with the template version and the
/// logo it was issued with.
pub async fn rerender(
    store: &EventStore,
    renderer: &Renderer,
    view: &AgreementView,
    version: u32,
) -> Result<Rendered, ServiceError> {
    let (data, template) = version_document(view, version)?;
    let content = &view.version(version).expect("checked").content;
    let logo = logo_for(store, content).await?;
    render(renderer, data, logo, Some(template)).await
}

/// The document data and template of one version.
pub fn version_document(
    view: &AgreementView,
    version: u32,
) -> Result<(DocumentData, (String, u32)), ServiceError> {
    let found = view
        .version(version)
        .ok_or(ServiceError::NoSuchVersion { version })?;
    let amendment = (version > 1).then(|| AmendmentNote {
        previous_version: version - 1,
        note: found.note.clone().unwrap_or_default(),
        changes: found.changes.clone(),
    });
    let data = content::document_data(
        &view.id,
        &found.content,
        version,
        found.issued_at,
        amendment,
    );
    Ok((
        data,
        (
            found.document.template_id.clone(),
            found.document.template_version,
        ),
    ))
}
