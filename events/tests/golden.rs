//! Golden fixtures: the stored JSON of every event type at its current schema
//! version. A failing test here means a change would break stored history or a
//! reporting job: add a new schema version and an upcaster instead.
//!
//! To write fixtures for a *new* event type: `UPDATE_FIXTURES=1 cargo test -p pactum-events`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use pactum_events::EventPayload;
use pactum_events::access::*;
use pactum_events::catalogue::*;
use pactum_events::monitoring::*;
use pactum_events::order::*;
use serde_json::json;

fn at(s: &str) -> jiff::Timestamp {
    s.parse().unwrap()
}

fn samples_order() -> Vec<OrderEvent> {
    let mut parameters = BTreeMap::new();
    parameters.insert("cpu_cores".into(), json!(4));
    parameters.insert("ram_per_core_gb".into(), json!(2.5));
    parameters.insert("start_date".into(), json!("2019-12-02"));
    vec![
        OrderEvent::OrderSubmitted(OrderSubmitted {
            order_id: "0190b7e4-0000-7000-8000-000000000001".into(),
            service: "cloud-compute".into(),
            group: "compute".into(),
            customer: Customer {
                org: "acme".into(),
                subject: "alice".into(),
            },
            parameters,
            title: Some("GPU-less cloud".into()),
            note: None,
            submitted_at: at("2019-11-30T08:15:00Z"),
            source: OrderSource::LegacyImport {
                raw: "Compute/EGI Cloud compute/General purpose?Number of CPU Cores=4".into(),
                file: "orders.csv".into(),
                line: 2,
            },
            service_version: None,
        }),
        OrderEvent::OrderAssigned(OrderAssigned {
            assignee: "sam".into(),
            previous_assignee: None,
        }),
        OrderEvent::CommentAdded(CommentAdded {
            comment_id: 1,
            body: "checking quota".into(),
            visibility: Visibility::Internal,
            provider: None,
        }),
        OrderEvent::QuestionAsked(QuestionAsked {
            question_id: 1,
            body: "Which VO?".into(),
        }),
        OrderEvent::QuestionAnswered(QuestionAnswered {
            question_id: 1,
            body: "vo.example.org".into(),
        }),
        OrderEvent::OrderApproved(OrderApproved {
            note: Some("ok".into()),
        }),
        OrderEvent::OrderRejected(OrderRejected {
            reason: "no capacity".into(),
        }),
        OrderEvent::OrderCancelled(OrderCancelled { reason: None }),
        OrderEvent::ProposalMade(ProposalMade {
            proposal_id: 1,
            side: Side::Shifter,
            parameters: BTreeMap::from([("cpu_cores".into(), json!(2))]),
            changed: vec!["cpu_cores".into()],
            note: Some("Only 2 cores free until March".into()),
            counter_to: None,
        }),
        OrderEvent::ProposalAccepted(ProposalAccepted {
            proposal_id: 2,
            note: None,
        }),
        OrderEvent::ProposalDeclined(ProposalDeclined {
            proposal_id: 1,
            note: Some("too few".into()),
        }),
        OrderEvent::ProvisioningPlanned(ProvisioningPlanned {
            steps: vec![PlannedStep {
                step_id: 3,
                provider: "cesnet-mcc".into(),
                action: "Create project and quota".into(),
            }],
            superseded: vec![2],
        }),
        OrderEvent::ProvisioningStepDone(StepReport {
            step_id: 3,
            note: Some("project acme-lab".into()),
        }),
        OrderEvent::ProvisioningStepFailed(StepReport {
            step_id: 1,
            note: Some("quota exceeded".into()),
        }),
        OrderEvent::ProvisioningStepRetried(StepReport {
            step_id: 1,
            note: None,
        }),
        OrderEvent::OrderActivated(OrderActivated {
            agreements: vec![
                AgreementRef {
                    agreement_id: "0190b7e4-0000-7000-8000-00000000000a".into(),
                    kind: "sla".into(),
                    provider: None,
                },
                AgreementRef {
                    agreement_id: "0190b7e4-0000-7000-8000-00000000000b".into(),
                    kind: "ola".into(),
                    provider: Some("cesnet-mcc".into()),
                },
            ],
        }),
        OrderEvent::OrderClosed(OrderClosed {
            reason: "expired".into(),
            agreement_id: "0190b7e4-0000-7000-8000-00000000000a".into(),
        }),
        OrderEvent::HandlingTargetsPinned(HandlingTargetsPinned {
            key: "compute".into(),
            version: 2,
            first_response_seconds: Some(14_400),
            decision_seconds: Some(28_800),
            warning_percent: 75,
            calendar: sample_calendar(),
        }),
        OrderEvent::HandlingClockStarted(HandlingClockStarted {
            clock: HandlingClock::Decision,
            at: at("2026-11-27T16:30:00Z"),
            target_seconds: 28_800,
            warn_at: at("2026-11-30T14:30:00Z"),
            due_at: at("2026-11-30T16:30:00Z"),
            cause: "order submitted under handling targets compute version 2".into(),
        }),
        OrderEvent::HandlingClockPaused(HandlingClockPaused {
            clock: HandlingClock::Decision,
            at: at("2026-11-30T09:00:00Z"),
            elapsed_seconds: 5_400,
            cause: "question 1 asked: waiting for the customer".into(),
        }),
        OrderEvent::HandlingClockResumed(HandlingClockResumed {
            clock: HandlingClock::Decision,
            at: at("2026-12-01T09:00:00Z"),
            paused_seconds: 28_800,
            warn_at: at("2026-12-01T14:30:00Z"),
            due_at: at("2026-12-01T16:30:00Z"),
            cause: "question 1 answered".into(),
        }),
        OrderEvent::HandlingTargetAtRisk(HandlingTargetAtRisk {
            clock: HandlingClock::Decision,
            at: at("2026-12-01T14:30:00Z"),
            due_at: at("2026-12-01T16:30:00Z"),
            elapsed_seconds: 21_600,
            target_seconds: 28_800,
            cause: "75% of the decision target (8h) used".into(),
        }),
        OrderEvent::HandlingTargetBreached(HandlingTargetBreached {
            clock: HandlingClock::Decision,
            at: at("2026-12-01T16:30:00Z"),
            target_seconds: 28_800,
            paused_seconds: 28_800,
            cause: "no decision (approval or rejection) within the target of 8h".into(),
        }),
        OrderEvent::HandlingClockStopped(HandlingClockStopped {
            clock: HandlingClock::Decision,
            at: at("2026-12-02T08:00:00Z"),
            elapsed_seconds: 32_400,
            target_seconds: 28_800,
            reached: true,
            within_target: false,
            cause: "order approved".into(),
        }),
        OrderEvent::OrderStatusImported(OrderStatusImported {
            status: OrderStatus::WaitingForCustomer,
            jira_status: "Waiting for Customer".into(),
            previous_jira_status: Some("In Progress".into()),
            question_id: Some(1),
        }),
    ]
}

fn document() -> pactum_events::agreement::DocumentRef {
    pactum_events::agreement::DocumentRef {
        template_id: "sla".into(),
        template_version: 1,
        sha256: "cd".repeat(32),
        size: 23_456,
    }
}

fn targets(availability: u64) -> pactum_events::agreement::Targets {
    pactum_events::agreement::Targets {
        availability_pct: availability.into(),
        reliability_pct: 85.into(),
        period: "monthly".into(),
    }
}

fn samples_agreement() -> Vec<pactum_events::agreement::AgreementEvent> {
    use pactum_events::agreement::*;
    vec![
        AgreementEvent::AgreementIssued(AgreementIssued {
            agreement_id: "0190b7e4-0000-7000-8000-00000000000a".into(),
            content: AgreementContent {
                kind: "sla".into(),
                reference: "SLA-0190B7E4".into(),
                order_id: "0190b7e4-0000-7000-8000-000000000001".into(),
                title: Some("Lab cloud".into()),
                service: ServiceSnapshot {
                    id: "cloud-compute".into(),
                    name: "EGI Cloud Compute".into(),
                    group: "compute".into(),
                    description: None,
                },
                customer: CustomerParty {
                    org: "acme".into(),
                    subject: "alice".into(),
                    name: "ACME Research".into(),
                },
                provider: None,
                issuer: Issuer {
                    name: "EGI Foundation".into(),
                    contact: Some("sla@egi.example.org".into()),
                },
                parameters: BTreeMap::from([("cpu_cores".into(), json!(4))]),
                lines: vec![ParameterLine {
                    key: "cpu_cores".into(),
                    label: "Number of CPU Cores".into(),
                    value: "4".into(),
                    unit: Some("cores".into()),
                }],
                validity: Validity {
                    start: "2027-01-04".parse().unwrap(),
                    end: "2027-04-03".parse().unwrap(),
                },
                targets: targets(80),
                support: Support {
                    level: "standard".into(),
                    response_hours: 8,
                    contacts: vec!["support@egi.example.org".into()],
                },
                brand: BrandSnapshot {
                    name: "ACME Research".into(),
                    colour: "#0a5f38".into(),
                    footer: "ACME Research · Lab street 1".into(),
                    logo: Some(LogoRef {
                        media_type: "image/png".into(),
                        sha256: "ef".repeat(32),
                    }),
                },
            },
            document: document(),
        }),
        AgreementEvent::AgreementAmended(AgreementAmended {
            version: 2,
            targets: Some(targets(90)),
            end: Some("2027-06-30".parse().unwrap()),
            note: "Extended for the second course".into(),
            changes: vec!["Availability: 80 % → 90 %".into()],
            document: document(),
        }),
        AgreementEvent::AgreementTerminated(AgreementTerminated {
            reason: "Project ended early".into(),
        }),
        AgreementEvent::AgreementExpired(AgreementExpired {
            end: "2027-06-30".parse().unwrap(),
        }),
    ]
}

fn sample_calendar() -> pactum_calendar::BusinessCalendar {
    serde_json::from_value(json!({
        "time_zone": "Europe/Paris",
        "hours": {"monday": ["09:00-12:00", "13:00-18:00"], "friday": ["09:00-17:00"]},
        "holidays": ["2026-12-25"]
    }))
    .unwrap()
}

fn samples_handling() -> Vec<pactum_events::handling::HandlingEvent> {
    use pactum_events::handling::*;
    vec![HandlingEvent::HandlingTargetsDefined(
        HandlingTargetsDefined {
            group: "compute".into(),
            service: Some("cloud-compute".into()),
            version: 1,
            first_response_seconds: None,
            decision_seconds: Some(28_800),
            warning_percent: 80,
            calendar: sample_calendar(),
        },
    )]
}

fn samples_notification() -> Vec<pactum_events::notification::NotificationEvent> {
    use pactum_events::notification::*;
    vec![NotificationEvent::NotificationPreferencesSet(
        NotificationPreferencesSet {
            subject: "alice".into(),
            opted_out: vec!["comment".into(), "proposal".into()],
        },
    )]
}

fn samples_brand() -> Vec<pactum_events::brand::BrandEvent> {
    use pactum_events::brand::*;
    vec![
        BrandEvent::BrandDefined(BrandDefined {
            org: "acme".into(),
            name: "ACME Research".into(),
            colour: "#0a5f38".into(),
            footer: "ACME Research · Lab street 1".into(),
            logo: Some(LogoImage {
                media_type: "image/png".into(),
                base64: "iVBORw0KGgo=".into(),
                sha256: "ef".repeat(32),
            }),
        }),
        BrandEvent::BrandRemoved(BrandRemoved { org: "acme".into() }),
    ]
}

fn samples_catalogue() -> Vec<CatalogueEvent> {
    vec![
        CatalogueEvent::GroupDefined(GroupDefined {
            group_id: "compute".into(),
            name: "Compute".into(),
            description: None,
        }),
        CatalogueEvent::ServiceDefined(ServiceDefined {
            service_id: "cloud-compute".into(),
            name: "EGI Cloud Compute".into(),
            group: "compute".into(),
            legacy_path: "Compute/EGI Cloud compute/General purpose".into(),
            description: None,
            parameters: vec![
                ParameterSpec {
                    key: "cpu_cores".into(),
                    label: "Number of CPU Cores".into(),
                    kind: ParameterKind::Integer {
                        min: Some(1),
                        max: Some(1024),
                    },
                    required: true,
                    unit: Some("cores".into()),
                    description: None,
                },
                ParameterSpec {
                    key: "ram_per_core_gb".into(),
                    label: "Amount of RAM per CPU core".into(),
                    kind: ParameterKind::Number {
                        min: serde_json::Number::from_f64(0.5),
                        max: Some(512.into()),
                    },
                    required: true,
                    unit: Some("GB".into()),
                    description: None,
                },
                ParameterSpec {
                    key: "access_type".into(),
                    label: "Access type".into(),
                    kind: ParameterKind::Enum {
                        values: vec!["opportunistic".into(), "guaranteed".into()],
                    },
                    required: true,
                    unit: None,
                    description: None,
                },
                ParameterSpec {
                    key: "start_date".into(),
                    label: "Start of service".into(),
                    kind: ParameterKind::Date,
                    required: true,
                    unit: None,
                    description: None,
                },
                ParameterSpec {
                    key: "public_ip".into(),
                    label: "Public IP".into(),
                    kind: ParameterKind::Boolean,
                    required: false,
                    unit: None,
                    description: None,
                },
                ParameterSpec {
                    key: "vo".into(),
                    label: "Virtual organisation".into(),
                    kind: ParameterKind::Text {
                        max_length: Some(200),
                    },
                    required: false,
                    unit: None,
                    description: Some("VO name".into()),
                },
            ],
            targets: None,
            support: None,
            validity: None,
            version: None,
        }),
        CatalogueEvent::IssuerDefined(IssuerDefined {
            name: "EGI Foundation".into(),
            contact: Some("sla@egi.example.org".into()),
            colour: "#004a87".into(),
            footer: "EGI Foundation · Science Park 140 · Amsterdam".into(),
        }),
        CatalogueEvent::ProviderRegistered(ProviderRegistered {
            provider_id: "cesnet-mcc".into(),
            name: "CESNET MetaCentrum Cloud".into(),
            country: "CZ".into(),
            services: vec!["cloud-compute".into()],
            contact_email: Some("cloud@metacentrum.cz".into()),
        }),
        CatalogueEvent::ServiceRetired(ServiceRetired {
            service_id: "cloud-compute".into(),
            reason: Some("replaced by cloud-compute-2".into()),
            retired_at: at("2027-03-01T09:00:00Z"),
        }),
        CatalogueEvent::GroupRetired(GroupRetired {
            group_id: "compute".into(),
            reason: None,
            retired_at: at("2027-03-02T09:00:00Z"),
        }),
        CatalogueEvent::ProviderRetired(ProviderRetired {
            provider_id: "cesnet-mcc".into(),
            reason: Some("left the federation".into()),
            retired_at: at("2027-03-03T09:00:00Z"),
        }),
    ]
}

fn samples_membership() -> Vec<pactum_events::membership::MembershipEvent> {
    use pactum_events::membership::*;
    vec![
        MembershipEvent::MemberAdded(MemberAdded {
            of: MemberOf::Group,
            scope: "compute".into(),
            subject: "sam".into(),
            token: Some("tok_01".into()),
        }),
        MembershipEvent::MemberRemoved(MemberRemoved {
            of: MemberOf::Provider,
            scope: "cesnet-mcc".into(),
            subject: "olga".into(),
        }),
    ]
}

fn samples_access() -> Vec<AccessEvent> {
    vec![
        AccessEvent::TokenIssued(TokenIssued {
            token_id: "tok_01".into(),
            subject: "sam".into(),
            role: "shifter".into(),
            org: None,
            groups: vec!["compute".into(), "storage".into()],
            provider: None,
            token_sha256: "ab".repeat(32),
            email: None,
            expires_at: Some(at("2027-01-01T00:00:00Z")),
        }),
        AccessEvent::TokenRevoked(TokenRevoked {
            token_id: "tok_01".into(),
            reason: Some("left the team".into()),
        }),
    ]
}

fn check<E: EventPayload + PartialEq + std::fmt::Debug>(samples: Vec<E>) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(E::AGGREGATE_TYPE);
    let update = std::env::var_os("UPDATE_FIXTURES").is_some();
    // Every event type the enum defines has a sample here: a new type without
    // one fails, whatever the count.
    let sampled: std::collections::BTreeSet<&str> =
        samples.iter().map(|e| e.event_type()).collect();
    let defined = pactum_events::type_names::<E>();
    assert!(
        !defined.is_empty(),
        "the {} event types can be listed",
        E::AGGREGATE_TYPE
    );
    let missing: Vec<&String> = defined
        .iter()
        .filter(|t| !sampled.contains(t.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "{} event types without a golden sample: {missing:?}",
        E::AGGREGATE_TYPE
    );
    for event_type in &defined {
        assert!(
            E::current_version(event_type).is_some(),
            "{event_type} has no current schema version"
        );
    }
    for event in samples {
        let (event_type, version, payload) = event.encode();
        let path = dir.join(format!("{event_type}.v{version}.json"));
        let written = serde_json::to_string_pretty(&payload).unwrap() + "\n";
        if update && !path.exists() {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &written).unwrap();
        }
        let golden = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("missing fixture {}: {e}", path.display()));
        assert_eq!(
            written, golden,
            "{event_type} v{version} no longer serializes as its fixture"
        );
        let stored: serde_json::Value = serde_json::from_str(&golden).unwrap();
        let decoded = E::decode(event_type, version, stored).unwrap();
        assert_eq!(
            decoded, event,
            "fixture of {event_type} v{version} decodes differently"
        );
        let from_text = E::decode_str(event_type, version, &golden).unwrap();
        assert_eq!(
            from_text, event,
            "fixture of {event_type} v{version} decodes differently from its text"
        );
    }
}

fn samples_endpoint() -> Vec<EndpointEvent> {
    vec![
        EndpointEvent::EndpointDeclared(EndpointDeclared {
            endpoint: "cloud.cesnet.cz".into(),
            provider: Some("cesnet-mcc".into()),
            heartbeat: Some(Heartbeat {
                interval_seconds: 60,
                grace_seconds: 120,
            }),
        }),
        EndpointEvent::EndpointStatusRecorded(EndpointStatusRecorded {
            source: "push".into(),
            points: vec![
                StatusPoint {
                    at: at("2026-03-01T00:00:00Z"),
                    status: "OK".into(),
                },
                StatusPoint {
                    at: at("2026-03-01T00:10:00Z"),
                    status: "CRITICAL".into(),
                },
            ],
        }),
        EndpointEvent::DailyLevelsImported(DailyLevelsImported {
            report: "EGI_Critical".into(),
            days: vec![ImportedDay {
                day: "2026-03-01".parse().unwrap(),
                availability: Some(99.5),
                reliability: None,
                unknown: 0.25,
                downtime: 0.0,
            }],
        }),
    ]
}

fn samples_compliance() -> Vec<ComplianceEvent> {
    let figures = MonthFigures {
        availability: Some(79.5),
        reliability: Some(81.25),
        unknown_pct: 1.5,
        downtime_pct: 0.0,
    };
    let targets = MeasuredTargets {
        availability_pct: 80.0,
        reliability_pct: 85.0,
    };
    vec![
        ComplianceEvent::MonitoringBound(MonitoringBound {
            agreement_id: "agr_01".into(),
            endpoints: vec!["cloud.cesnet.cz".into(), "storage.cesnet.cz".into()],
            combine: "all".into(),
            time_zone: "Europe/Prague".into(),
            from: "2026-03-01".parse().unwrap(),
            until: "2027-02-28".parse().unwrap(),
            accounting: AccountingMatch {
                sites: vec!["CESNET-MCC".into()],
                groups: vec!["vo.alpha.eu".into()],
            },
        }),
        ComplianceEvent::ServiceLevelMeasured(ServiceLevelMeasured {
            month: "2026-03".into(),
            figures: figures.clone(),
            targets: targets.clone(),
            met: false,
            days: Vec::new(),
            usage: None,
        }),
        ComplianceEvent::ServiceLevelMissed(ServiceLevelMissed {
            month: "2026-03".into(),
            reference: "OLA-01J9Z3AB-CESNET-MCC".into(),
            order_id: "ord_01J9Z3AB".into(),
            kind: "ola".into(),
            provider: Some("cesnet-mcc".into()),
            missed: vec!["availability".into(), "reliability".into()],
            figures: figures.clone(),
            targets,
            causes: vec![Cause {
                endpoint: "cloud.cesnet.cz".into(),
                status: "CRITICAL".into(),
                from: at("2026-03-03T01:00:00Z"),
                to: at("2026-03-09T03:00:00Z"),
            }],
        }),
        ComplianceEvent::ServiceLevelCorrected(ServiceLevelCorrected {
            month: "2026-03".into(),
            old: figures,
            new: MonthFigures {
                availability: Some(80.5),
                reliability: Some(85.0),
                unknown_pct: 0.5,
                downtime_pct: 0.0,
            },
            met: true,
            days: Vec::new(),
            usage: None,
        }),
    ]
}

fn samples_accounting() -> Vec<AccountingEvent> {
    vec![AccountingEvent::UsageRecorded(UsageRecorded {
        records: vec![UsageRecord {
            vm_uuid: "vm-0001".into(),
            site: "CESNET-MCC".into(),
            local_group: Some("vo.alpha.eu".into()),
            fqan: None,
            status: "completed".into(),
            start: at("2026-03-01T00:00:00Z"),
            end: Some(at("2026-03-02T00:00:00Z")),
            wall_seconds: 86_400,
            cpu_seconds: Some(80_000),
            cpu_count: 4,
            memory_mb: Some(8192),
            disk_gb: Some(40),
        }],
    })]
}

fn samples_eosc() -> Vec<pactum_events::eosc::EoscEvent> {
    use pactum_events::eosc::*;
    vec![
        EoscEvent::EoscFeedRead(EoscFeedRead {
            timestamp: at("2026-03-02T09:15:07Z"),
        }),
        EoscEvent::EoscItemLinked(EoscItemLinked {
            project_id: 12,
            project_item_id: 1,
            order_id: "0190b7e4-0000-7000-8000-000000000001".into(),
        }),
        EoscEvent::EoscItemUnmapped(EoscItemUnmapped {
            project_id: 12,
            project_item_id: 2,
            problems: vec![
                "offer \"Compute/EGI Cloud compute/Huge\" is not mapped to a service".into(),
            ],
            message_id: Some(301),
            mapping: "ab".repeat(32),
        }),
        EoscEvent::EoscMessageImported(EoscMessageImported {
            project_id: 12,
            project_item_id: 1,
            message_id: 305,
            order_id: "0190b7e4-0000-7000-8000-000000000001".into(),
            imported_as: "answer".into(),
        }),
        EoscEvent::EoscPushed(EoscPushed {
            cause: 4821,
            order_id: "0190b7e4-0000-7000-8000-000000000001".into(),
            project_id: 12,
            project_item_id: 1,
            push: Push::Status {
                status_type: "approved".into(),
                value: "Your order is approved".into(),
            },
        }),
        EoscEvent::EoscLogFollowed(EoscLogFollowed { position: 4821 }),
    ]
}

#[test]
fn eosc_orders_keep_their_source() {
    // OrderSubmitted's fixture is a legacy import; this pins the JSON of the
    // source of an order taken from the EOSC Marketplace, and its reference.
    let source = OrderSource::Eosc {
        oms_id: "7".into(),
        project_id: 12,
        project_item_id: 1,
    };
    let golden = json!({"kind": "eosc", "oms_id": "7", "project_id": 12, "project_item_id": 1});
    assert_eq!(serde_json::to_value(&source).unwrap(), golden);
    assert_eq!(
        serde_json::from_value::<OrderSource>(golden).unwrap(),
        source
    );
    assert_eq!(source.reference().as_deref(), Some("eosc:12/1"));
}

#[test]
fn eosc_events_match_their_fixtures() {
    check(samples_eosc());
}

#[test]
fn eosc_pushes_of_messages_keep_their_shape() {
    // EoscPushed's fixture pushes a status; this pins the JSON of a pushed
    // message, which the adapter reads back after a restart.
    use pactum_events::eosc::Push;
    let push = Push::Message {
        message_id: 306,
        scope: "public".into(),
    };
    let golden = json!({"kind": "message", "message_id": 306, "scope": "public"});
    assert_eq!(serde_json::to_value(&push).unwrap(), golden);
    assert_eq!(serde_json::from_value::<Push>(golden).unwrap(), push);
}

#[test]
fn endpoint_events_match_their_fixtures() {
    check(samples_endpoint());
}

#[test]
fn compliance_events_match_their_fixtures() {
    check(samples_compliance());
}

#[test]
fn accounting_events_match_their_fixtures() {
    check(samples_accounting());
}

#[test]
fn membership_events_match_their_fixtures() {
    check(samples_membership());
}

#[test]
fn order_events_match_their_fixtures() {
    check(samples_order());
}

#[test]
fn catalogue_events_match_their_fixtures() {
    check(samples_catalogue());
}

#[test]
fn access_events_match_their_fixtures() {
    check(samples_access());
}

#[test]
fn agreement_events_match_their_fixtures() {
    check(samples_agreement());
}

#[test]
fn handling_events_match_their_fixtures() {
    check(samples_handling());
}

#[test]
fn notification_events_match_their_fixtures() {
    check(samples_notification());
}

#[test]
fn brand_events_match_their_fixtures() {
    check(samples_brand());
}

#[test]
fn service_definitions_without_agreement_defaults_still_decode() {
    // ServiceDefined gained optional targets, support and validity: the fixture
    // written before them (no such fields) must still decode, to None.
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/catalogue/ServiceDefined.v1.json");
    let stored: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let CatalogueEvent::ServiceDefined(service) =
        CatalogueEvent::decode("ServiceDefined", 1, stored).unwrap()
    else {
        panic!("a service definition");
    };
    assert_eq!(
        (service.targets, service.support, service.validity),
        (None, None, None)
    );
}

#[test]
fn service_levels_with_days_and_usage_keep_their_shape() {
    // Days and usage were added to ServiceLevelMeasured and
    // ServiceLevelCorrected v1 as optional fields: the fixtures above are
    // events from before them (and still decode, to none); this pins the JSON
    // of events that carry them, which reporting jobs read.
    let days = vec![
        DayLevels {
            day: "2026-03-01".parse().unwrap(),
            availability: Some(99.5),
            reliability: None,
            unknown_pct: 2.5,
            downtime_pct: 0.0,
        },
        DayLevels {
            day: "2026-03-02".parse().unwrap(),
            availability: None,
            reliability: None,
            unknown_pct: 100.0,
            downtime_pct: 0.0,
        },
    ];
    let usage = MonthUsage {
        used_core_hours: 1234.5,
        committed_core_hours: 2976.0,
        used_pct: Some(41.48),
        flag: "under".into(),
        records: 3,
    };
    let figures = MonthFigures {
        availability: Some(99.5),
        reliability: None,
        unknown_pct: 51.25,
        downtime_pct: 0.0,
    };
    let days_json = json!([
        {"day": "2026-03-01", "availability": 99.5, "reliability": null,
         "unknown_pct": 2.5, "downtime_pct": 0.0},
        {"day": "2026-03-02", "availability": null, "reliability": null,
         "unknown_pct": 100.0, "downtime_pct": 0.0},
    ]);
    let usage_json = json!({
        "used_core_hours": 1234.5, "committed_core_hours": 2976.0, "used_pct": 41.48,
        "flag": "under", "records": 3,
    });
    let figures_json = json!({
        "availability": 99.5, "reliability": null, "unknown_pct": 51.25, "downtime_pct": 0.0,
    });
    let measured = ComplianceEvent::ServiceLevelMeasured(ServiceLevelMeasured {
        month: "2026-03".into(),
        figures: figures.clone(),
        targets: MeasuredTargets {
            availability_pct: 80.0,
            reliability_pct: 85.0,
        },
        met: true,
        days: days.clone(),
        usage: Some(usage.clone()),
    });
    let corrected = ComplianceEvent::ServiceLevelCorrected(ServiceLevelCorrected {
        month: "2026-03".into(),
        old: figures.clone(),
        new: figures,
        met: true,
        days,
        usage: Some(usage),
    });
    for (event, golden) in [
        (
            measured,
            json!({
                "month": "2026-03", "figures": figures_json, "met": true,
                "targets": {"availability_pct": 80.0, "reliability_pct": 85.0},
                "days": days_json, "usage": usage_json,
            }),
        ),
        (
            corrected,
            json!({
                "month": "2026-03", "old": figures_json, "new": figures_json, "met": true,
                "days": days_json, "usage": usage_json,
            }),
        ),
    ] {
        let (event_type, version, payload) = event.encode();
        assert_eq!(version, 1, "{event_type}");
        assert_eq!(payload, golden, "{event_type}");
        let text = serde_json::to_string(&golden).unwrap();
        assert_eq!(
            ComplianceEvent::decode_str(event_type, version, &text).unwrap(),
            event
        );
    }

    for event_type in ["ServiceLevelMeasured", "ServiceLevelCorrected"] {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join(format!("fixtures/compliance/{event_type}.v1.json"));
        let stored = std::fs::read_to_string(path).unwrap();
        let (days, usage) = match ComplianceEvent::decode_str(event_type, 1, &stored).unwrap() {
            ComplianceEvent::ServiceLevelMeasured(m) => (m.days, m.usage),
            ComplianceEvent::ServiceLevelCorrected(c) => (c.days, c.usage),
            other => panic!("{other:?}"),
        };
        assert_eq!((days, usage), (Vec::new(), None), "{event_type}");
    }
}

#[test]
fn jira_imported_orders_keep_their_source() {
    // OrderSubmitted's fixture is a legacy import; this pins the JSON of the
    // source of an order brought over from JIRA, which reporting jobs read.
    let source = OrderSource::JiraImport {
        key: "EGISO-42".into(),
        raw: "SO-1-legacy : Compute/EGI Cloud compute/General purpose?Number of CPU Cores=4".into(),
        file: "export.json".into(),
    };
    let golden = json!({
        "kind": "jira_import",
        "key": "EGISO-42",
        "raw": "SO-1-legacy : Compute/EGI Cloud compute/General purpose?Number of CPU Cores=4",
        "file": "export.json",
    });
    assert_eq!(serde_json::to_value(&source).unwrap(), golden);
    assert_eq!(
        serde_json::from_value::<OrderSource>(golden).unwrap(),
        source
    );
    assert_eq!(source.reference().as_deref(), Some("EGISO-42"));
    assert_eq!(OrderSource::Api.reference(), None);
}

#[test]
fn every_fixture_file_still_decodes() {
    // Fixtures of old versions stay here forever: each must decode through the
    // upcasters to the current version.
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut seen = 0;
    for aggregate in std::fs::read_dir(&root).unwrap() {
        let aggregate = aggregate.unwrap().path();
        for file in std::fs::read_dir(&aggregate).unwrap() {
            let path = file.unwrap().path();
            let name = path.file_stem().unwrap().to_str().unwrap().to_owned();
            let (event_type, version) = name.split_once(".v").unwrap();
            let version: u32 = version.parse().unwrap();
            let payload: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            let result = match aggregate.file_name().unwrap().to_str().unwrap() {
                "order" => OrderEvent::decode(event_type, version, payload).map(|_| ()),
                "catalogue" => CatalogueEvent::decode(event_type, version, payload).map(|_| ()),
                "access_token" => AccessEvent::decode(event_type, version, payload).map(|_| ()),
                "agreement" => {
                    pactum_events::agreement::AgreementEvent::decode(event_type, version, payload)
                        .map(|_| ())
                }
                "brand" => pactum_events::brand::BrandEvent::decode(event_type, version, payload)
                    .map(|_| ()),
                "notification_preferences" => {
                    pactum_events::notification::NotificationEvent::decode(
                        event_type, version, payload,
                    )
                    .map(|_| ())
                }
                "membership" => {
                    pactum_events::membership::MembershipEvent::decode(event_type, version, payload)
                        .map(|_| ())
                }
                "handling_targets" => {
                    pactum_events::handling::HandlingEvent::decode(event_type, version, payload)
                        .map(|_| ())
                }
                "endpoint" => EndpointEvent::decode(event_type, version, payload).map(|_| ()),
                "compliance" => ComplianceEvent::decode(event_type, version, payload).map(|_| ()),
                "accounting" => AccountingEvent::decode(event_type, version, payload).map(|_| ()),
                "eosc" => {
                    pactum_events::eosc::EoscEvent::decode(event_type, version, payload).map(|_| ())
                }
                other => panic!("fixture folder for unknown aggregate {other}"),
            };
            result.unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            seen += 1;
        }
    }
    assert!(seen >= 38, "expected a fixture per event type, saw {seen}");
}

#[test]
fn unknown_event_types_are_refused() {
    let err = OrderEvent::decode("OrderTeleported", 1, json!({})).unwrap_err();
    assert!(err.to_string().contains("unknown event type"), "{err}");
}

#[test]
fn decoding_from_text_refuses_what_decoding_a_value_refuses() {
    let approved = r#"{"note":"ok"}"#;
    assert!(OrderEvent::decode_str("OrderApproved", 1, approved).is_ok());
    for (event_type, version, payload) in [
        ("OrderApproved", 1, r#"{"note":"ok"} {"note":"again"}"#),
        (
            "OrderApproved",
            1,
            r#"{"note":"ok"},"type":"OrderRejected""#,
        ),
        ("OrderApproved", 1, r#"{"note":3}"#),
        ("OrderShipped", 1, approved),
        ("OrderApproved", 9, approved),
    ] {
        assert!(
            OrderEvent::decode_str(event_type, version, payload).is_err(),
            "{event_type} v{version} {payload}"
        );
    }
}
