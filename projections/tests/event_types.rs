//! Every projection reads events by their type strings: each string it lists must
//! be one the event enums define, or the projection silently never sees it.

use std::collections::BTreeSet;

use pactum_events::type_names;
use pactum_events::{
    access::AccessEvent,
    agreement::AgreementEvent,
    brand::BrandEvent,
    catalogue::CatalogueEvent,
    handling::HandlingEvent,
    monitoring::{AccountingEvent, ComplianceEvent},
    notification::NotificationEvent,
    order::OrderEvent,
};
use pactum_projections::agreement_index::AgreementIndex;
use pactum_projections::order_queue::OrderQueue;
use pactum_projections::order_report::OrderReport;
use pactum_projections::projection::{EventTypes, Projection};
use pactum_projections::service_levels::ServiceLevels;
use pactum_projections::usage_records::UsageRecords;

fn defined() -> BTreeSet<String> {
    [
        type_names::<OrderEvent>(),
        type_names::<AgreementEvent>(),
        type_names::<AccessEvent>(),
        type_names::<BrandEvent>(),
        type_names::<CatalogueEvent>(),
        type_names::<HandlingEvent>(),
        type_names::<NotificationEvent>(),
        type_names::<ComplianceEvent>(),
        type_names::<AccountingEvent>(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

fn check(projection: &impl Projection) {
    let EventTypes::Only(types) = projection.event_types() else {
        return;
    };
    let defined = defined();
    let unknown: Vec<&&str> = types.iter().filter(|t| !defined.contains(**t)).collect();
    assert!(
        unknown.is_empty(),
        "{} reads event types no enum defines: {unknown:?}",
        projection.name()
    );
}

#[test]
fn every_projection_reads_only_event_types_that_exist() {
    check(&OrderQueue);
    check(&OrderReport);
    check(&AgreementIndex);
    check(&ServiceLevels);
    check(&UsageRecords);
}
