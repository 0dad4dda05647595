//! Micro-benchmarks of the hot pure code: legacy-string parsing, parameter
//! validation, event (de)serialization, and deciding a command on an aggregate
//! loaded from a long history.
//!
//! Run: `cargo bench --bench micro`

use std::collections::BTreeSet;
use std::hint::black_box;

use cqrs_es::Aggregate;
use criterion::{Criterion, criterion_group, criterion_main};
use pactum::access::{Principal, Role};
use pactum::catalogue::Catalogue;
use pactum::catalogue::params;
use pactum::catalogue::shipped::shipped_events;
use pactum::orders::aggregate::Order;
use pactum::orders::commands::{NewOrder, OrderAction, OrderCommand};
use pactum::orders::legacy;
use pactum_events::EventPayload;
use pactum_events::order::{CommentAdded, Customer, OrderEvent, OrderSource, Visibility};
use serde_json::json;

const SEED_BOLD: &str = "SO-1-legacy : **Compute/EGI Cloud compute/General purpose**?Number of CPU Cores=4&Amount of RAM per CPU core=2&Local disk=40&Number of VM instances=2&Access type=opportunistic&**Start of service=02/12/2019&Number of days=2**";

fn parsing(c: &mut Criterion) {
    let catalogue = Catalogue::from_events(&shipped_events());
    let service = catalogue.service("cloud-compute").unwrap().clone();
    let input = json!({
        "cpu_cores": 4, "ram_per_core_gb": 2.5, "local_disk_gb": 40, "vm_instances": 2,
        "access_type": "opportunistic", "start_date": "2019-12-02", "duration_days": 2
    });
    let input = input.as_object().unwrap().clone();
    c.bench_function("legacy_parse_seed_bold", |b| {
        b.iter(|| legacy::parse(&catalogue, black_box(SEED_BOLD)).unwrap())
    });
    c.bench_function("params_from_json_cloud_compute", |b| {
        b.iter(|| params::from_json(&service, black_box(&input)).unwrap())
    });
}

fn submitted(catalogue: &Catalogue) -> NewOrder {
    let parsed = legacy::parse(catalogue, SEED_BOLD).unwrap();
    NewOrder {
        order_id: "o-1".into(),
        service: parsed.service_id,
        service_version: Some(1),
        group: "compute".into(),
        customer: Customer {
            org: "acme".into(),
            subject: "alice".into(),
        },
        parameters: parsed.parameters,
        title: None,
        note: None,
        submitted_at: "2026-03-01T09:00:00Z".parse().unwrap(),
        source: OrderSource::Legacy {
            raw: SEED_BOLD.into(),
        },
        targets: None,
    }
}

fn events(c: &mut Criterion) {
    let catalogue = Catalogue::from_events(&shipped_events());
    let alice = Principal {
        subject: "alice".into(),
        role: Role::Customer { org: "acme".into() },
        also: Vec::new(),
    };
    let sam = Principal {
        subject: "sam".into(),
        role: Role::Shifter {
            groups: BTreeSet::from(["compute".to_owned()]),
        },
        also: Vec::new(),
    };
    let first = Order::default()
        .decide(OrderCommand {
            by: alice,
            at: "2026-03-01T09:00:00Z".parse().unwrap(),
            action: OrderAction::Submit(Box::new(submitted(&catalogue))),
        })
        .unwrap()
        .remove(0);

    c.bench_function("order_submitted_encode", |b| {
        b.iter(|| black_box(&first).encode())
    });
    let (event_type, version, payload) = first.encode();
    c.bench_function("order_submitted_decode", |b| {
        b.iter(|| OrderEvent::decode(event_type, version, black_box(payload.clone())).unwrap())
    });

    // An order with a long discussion: 1 submission and 999 comments.
    let mut history = vec![first];
    history.extend((1..1000).map(|n| {
        OrderEvent::CommentAdded(CommentAdded {
            comment_id: n,
            body: format!("comment {n}"),
            visibility: Visibility::Public,
            provider: None,
        })
    }));
    c.bench_function("order_fold_1000_events", |b| {
        b.iter(|| {
            let mut order = Order::default();
            for event in black_box(&history) {
                order.apply(event.clone());
            }
            order
        })
    });
    let mut loaded = Order::default();
    for event in &history {
        loaded.apply(event.clone());
    }
    c.bench_function("order_decide_approve_on_loaded", |b| {
        b.iter(|| {
            loaded
                .decide(OrderCommand {
                    by: sam.clone(),
                    at: "2026-03-02T09:00:00Z".parse().unwrap(),
                    action: OrderAction::Approve { note: None },
                })
                .unwrap()
        })
    });
}

criterion_group!(benches, parsing, events);
criterion_main!(benches);
