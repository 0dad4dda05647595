//! One agreement as its readers see it — current terms, status, and every version
//! with its document — folded from its events. Also the content as it stood at any
//! version, which is what re-rendering that version's document needs.

use jiff::Timestamp;
use jiff::civil::Date;
use pactum_events::agreement::{AgreementContent, AgreementEvent, DocumentRef};
use serde::Serialize;

use crate::EventContext;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AgreementView {
    pub id: String,
    /// `active`, `terminated` or `expired`.
    pub status: &'static str,
    /// The terms now (as amended): kind, reference, order, parties, service,
    /// parameters, validity, targets, support, brand.
    #[serde(flatten)]
    pub content: AgreementContent,
    /// The current version.
    pub version: u32,
    pub versions: Vec<VersionView>,
    pub issued_at: Timestamp,
    pub updated_at: Timestamp,
    pub ended: Option<EndedView>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct VersionView {
    pub version: u32,
    pub issued_at: Timestamp,
    pub issued_by: String,
    pub note: Option<String>,
    pub changes: Vec<String>,
    pub document: DocumentRef,
    /// The terms as of this version.
    #[serde(skip)]
    pub content: AgreementContent,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EndedView {
    /// `terminated` or `expired`.
    pub how: &'static str,
    pub at: Timestamp,
    pub reason: Option<String>,
    /// For an expiry, the last day covered.
    pub last_day: Option<Date>,
}

impl AgreementView {
    /// Folds an agreement's events, oldest first. `None` until it is issued.
    pub fn fold<'a>(
        events: impl IntoIterator<Item = (EventContext<'a>, &'a AgreementEvent)>,
    ) -> Option<Self> {
        let mut view: Option<Self> = None;
        for (envelope, event) in events {
            view = Self::step(view, envelope, event);
        }
        view
    }

    pub fn step(view: Option<Self>, ctx: EventContext<'_>, event: &AgreementEvent) -> Option<Self> {
        let at = ctx.recorded_at;
        let by = ctx.actor.subject.clone();
        let mut view = match (view, event) {
            (None, AgreementEvent::AgreementIssued(issued)) => {
                return Some(Self {
                    id: issued.agreement_id.clone(),
                    status: "active",
                    content: issued.content.clone(),
                    version: 1,
                    versions: vec![VersionView {
                        version: 1,
                        issued_at: at,
                        issued_by: by,
                        note: None,
                        changes: Vec::new(),
                        document: issued.document.clone(),
                        content: issued.content.clone(),
                    }],
                    issued_at: at,
                    updated_at: at,
                    ended: None,
                });
            }
            (Some(view), _) => view,
            (None, _) => return None,
        };
        match event {
            AgreementEvent::AgreementIssued(_) => {}
            AgreementEvent::AgreementAmended(amended) => {
                if let Some(targets) = &amended.targets {
                    view.content.targets = targets.clone();
                }
                if let Some(end) = amended.end {
                    view.content.validity.end = end;
                }
                view.version = amended.version;
                view.versions.push(VersionView {
                    version: amended.version,
                    issued_at: at,
                    issued_by: by,
                    note: Some(amended.note.clone()),
                    changes: amended.changes.clone(),
                    document: amended.document.clone(),
                    content: view.content.clone(),
                });
            }
            AgreementEvent::AgreementTerminated(terminated) => {
                view.status = "terminated";
                view.ended = Some(EndedView {
                    how: "terminated",
                    at,
                    reason: Some(terminated.reason.clone()),
                    last_day: None,
                });
            }
            AgreementEvent::AgreementExpired(expired) => {
                view.status = "expired";
                view.ended = Some(EndedView {
                    how: "expired",
                    at,
                    reason: None,
                    last_day: Some(expired.end),
                });
            }
        }
        view.updated_at = at;
        Some(view)
    }

    /// One version, if it exists.
    pub fn version(&self, version: u32) -> Option<&VersionView> {
        self.versions.iter().find(|v| v.version == version)
    }
}
