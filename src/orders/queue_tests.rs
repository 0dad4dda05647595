//! The queue's query plans: every filter combination a queue uses is one index
//! range scan with no sort (O(page)), proven on a real SQLite table with
//! EXPLAIN QUERY PLAN.

use std::collections::BTreeSet;

use crate::projector::listing::plans;
use crate::store::DbConnection;
use pactum_events::order::OrderStatus;
use pactum_projections::order_queue::OrderQueue;
use pactum_projections::projection::Projection;

use super::*;
use crate::access::{Principal, Role};

const TABLE: &str = "proj_order_queue_g1";

fn principal(role: Role) -> Principal {
    Principal {
        subject: "someone".into(),
        role,
        also: Vec::new(),
    }
}

fn shifter(groups: &[&str]) -> Principal {
    principal(Role::Shifter {
        groups: groups.iter().map(|g| g.to_string()).collect(),
    })
}

fn customer() -> Principal {
    principal(Role::Customer { org: "acme".into() })
}

async fn table() -> (tempfile::TempDir, DbConnection) {
    plans::table(OrderQueue.table(), TABLE).await
}

async fn plan(conn: &mut DbConnection, scan: &Scan, cursor: Option<&Cursor>, sort: Sort) -> String {
    plans::plan(conn, &QUEUE, TABLE, scan, cursor, sort).await
}

fn query() -> QueueQuery {
    QueueQuery {
        limit: 50,
        ..Default::default()
    }
}

#[tokio::test]
async fn every_queue_filter_is_one_index_range_without_a_sort() {
    let (_dir, mut conn) = table().await;
    let cursor = Cursor {
        sort: Sort::Newest,
        at: 1_700_000_000_000_000,
        key: "0190".into(),
    };
    let status = |s: OrderStatus| vec![s];
    let cases: Vec<(Principal, QueueQuery, &str)> = vec![
        (principal(Role::Auditor), query(), "_i0"),
        (shifter(&["compute"]), query(), "_i2"),
        (
            shifter(&["compute"]),
            QueueQuery {
                statuses: status(OrderStatus::Submitted),
                ..query()
            },
            "_i3",
        ),
        (
            shifter(&["compute"]),
            QueueQuery {
                assignee: Some("sam".into()),
                ..query()
            },
            "_i4",
        ),
        (customer(), query(), "_i5"),
        (
            customer(),
            QueueQuery {
                statuses: status(OrderStatus::Approved),
                ..query()
            },
            "_i6",
        ),
        (
            principal(Role::Admin),
            QueueQuery {
                statuses: status(OrderStatus::Rejected),
                ..query()
            },
            "_i7",
        ),
        (
            principal(Role::Auditor),
            QueueQuery {
                service: Some("b2safe".into()),
                ..query()
            },
            "_i8",
        ),
        (
            principal(Role::Auditor),
            QueueQuery {
                assignee: Some("sam".into()),
                ..query()
            },
            "_i9",
        ),
        (
            principal(Role::Auditor),
            QueueQuery {
                customer: Some("acme".into()),
                ..query()
            },
            "_i5",
        ),
        // A reference names one order or a few: its index wins over the
        // caller's scope, which is then checked on those rows.
        (
            principal(Role::Auditor),
            QueueQuery {
                reference: Some("EGISO-42".into()),
                ..query()
            },
            "_i1",
        ),
        (
            shifter(&["compute"]),
            QueueQuery {
                reference: Some("EGISO-42".into()),
                ..query()
            },
            "_i1",
        ),
        (
            customer(),
            QueueQuery {
                reference: Some("EGISO-42".into()),
                ..query()
            },
            "_i1",
        ),
    ];
    for (who, q, index) in cases {
        let scans = scans(&who, &q).unwrap();
        assert!(!scans.is_empty());
        for scan in &scans {
            for (cursor, sort) in [
                (None, Sort::Newest),
                (Some(&cursor), Sort::Newest),
                (None, Sort::Oldest),
            ] {
                let plan = plan(&mut conn, scan, cursor, sort).await;
                assert!(
                    plan.contains(&format!("USING INDEX {TABLE}{index}"))
                        || plan.contains(&format!("USING COVERING INDEX {TABLE}{index}")),
                    "{scan:?}: expected index {index}, got {plan}"
                );
                assert!(!plan.contains("TEMP B-TREE"), "{scan:?} sorts: {plan}");
                if !scan.equals.is_empty() || cursor.is_some() {
                    assert!(
                        plan.starts_with("SEARCH"),
                        "{scan:?} is not a range search: {plan}"
                    );
                }
            }
        }
    }
}

#[test]
fn a_shifter_queue_is_one_scan_per_visible_group() {
    let sam = shifter(&["compute", "storage"]);
    let groups = |scans: Vec<Scan>| {
        scans
            .into_iter()
            .map(|s| {
                s.equals
                    .into_iter()
                    .find(|(c, _)| *c == "group_id")
                    .unwrap()
                    .1
            })
            .collect::<BTreeSet<_>>()
    };
    assert_eq!(
        groups(scans(&sam, &query()).unwrap()),
        BTreeSet::from(["compute".to_owned(), "storage".to_owned()])
    );
    let only = QueueQuery {
        group: Some("storage".into()),
        ..query()
    };
    assert_eq!(
        groups(scans(&sam, &only).unwrap()),
        BTreeSet::from(["storage".to_owned()])
    );
    let outside = QueueQuery {
        group: Some("eudat".into()),
        ..query()
    };
    assert!(
        scans(&sam, &outside).unwrap().is_empty(),
        "not its group: nothing"
    );
}

#[test]
fn several_statuses_multiply_the_scans() {
    let q = QueueQuery {
        statuses: vec![OrderStatus::Submitted, OrderStatus::InReview],
        ..query()
    };
    assert_eq!(
        scans(&shifter(&["compute", "storage"]), &q).unwrap().len(),
        4
    );
}

#[test]
fn customers_are_confined_to_their_organisation() {
    let scans_for = |customer: Option<&str>| {
        scans(
            &self::customer(),
            &QueueQuery {
                customer: customer.map(str::to_owned),
                ..query()
            },
        )
        .unwrap()
    };
    assert_eq!(scans_for(None)[0].equals, vec![("org", "acme".to_owned())]);
    assert!(scans_for(Some("globex")).is_empty());
    assert!(matches!(
        scans(
            &principal(Role::Provider {
                providers: std::collections::BTreeSet::from(["surf".into()]),
            }),
            &query()
        ),
        Err(QueueError::Forbidden)
    ));
}
