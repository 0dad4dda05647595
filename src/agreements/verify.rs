//! `pactum verify`'s document check: every issued version of every agreement is
//! rendered again from the log, with the template version it records, and must
//! give the bytes whose SHA-256 the event recorded.

use futures::future::BoxFuture;
use pactum_events::agreement::AgreementEvent;
use pactum_events::{EventPayload, RecordedEvent};
use pactum_projections::EventContext;
use pactum_projections::agreement_view::AgreementView;

use crate::agreements::service::rerender;
use crate::documents::Renderer;
use crate::store::EventStore;
use crate::store::verify::EventCheck;

/// Re-renders documents as `verify` walks each agreement's chain in order.
pub struct DocumentCheck {
    store: EventStore,
    renderer: Renderer,
    /// The agreement being walked and its events so far.
    current: Option<(String, Vec<(RecordedEvent, AgreementEvent)>)>,
    /// How many documents were rendered and matched.
    pub matched: u64,
}

impl DocumentCheck {
    pub fn new(store: EventStore, renderer: Renderer) -> Self {
        Self {
            store,
            renderer,
            current: None,
            matched: 0,
        }
    }
}

impl EventCheck for DocumentCheck {
    fn name(&self) -> &'static str {
        "document"
    }

    fn check<'a>(&'a mut self, event: &'a RecordedEvent) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            if event.aggregate_type != AgreementEvent::AGGREGATE_TYPE {
                return Ok(());
            }
            let decoded = AgreementEvent::decode(
                &event.event_type,
                event.schema_version,
                event.payload.clone(),
            )
            .map_err(|e| e.to_string())?;
            let issues_document = matches!(
                decoded,
                AgreementEvent::AgreementIssued(_) | AgreementEvent::AgreementAmended(_)
            );
            let history = match &mut self.current {
                Some((id, history)) if *id == event.aggregate_id => history,
                slot => {
                    *slot = Some((event.aggregate_id.clone(), Vec::new()));
                    &mut slot.as_mut().expect("just set").1
                }
            };
            history.push((event.clone(), decoded));
            if !issues_document {
                return Ok(());
            }
            let view = AgreementView::fold(
                history
                    .iter()
                    .map(|(recorded, event)| (EventContext::from(recorded), event)),
            )
            .ok_or("an amendment before the agreement was issued")?;
            let version = view.version;
            let recorded = &view
                .version(version)
                .ok_or("the version just folded is missing")?
                .document;
            let rendered = rerender(&self.store, &self.renderer, &view, version)
                .await
                .map_err(|e| format!("version {version} cannot be rendered again: {e}"))?;
            if rendered.sha256 != recorded.sha256 {
                return Err(format!(
                    "the document of version {version} renders to {} but its event recorded {}",
                    rendered.sha256, recorded.sha256
                ));
            }
            self.matched += 1;
            Ok(())
        })
    }
}
