//! Given/when/then tests of the agreement aggregate.

use std::collections::{BTreeMap, BTreeSet};

use cqrs_es::test::TestFramework;
use jiff::civil::Date;
use pactum_events::agreement::*;
use serde_json::json;

use super::*;
use crate::access::{Principal, Role};

type Given = TestFramework<Agreement>;

fn date(s: &str) -> Date {
    s.parse().unwrap()
}

fn sam() -> Principal {
    Principal {
        subject: "sam".into(),
        role: Role::Shifter {
            groups: BTreeSet::from(["compute".to_owned()]),
        },
        also: Vec::new(),
    }
}

fn stella() -> Principal {
    Principal {
        subject: "stella".into(),
        role: Role::Shifter {
            groups: BTreeSet::from(["storage".to_owned()]),
        },
        also: Vec::new(),
    }
}

fn alice() -> Principal {
    Principal {
        subject: "alice".into(),
        role: Role::Customer { org: "acme".into() },
        also: Vec::new(),
    }
}

fn operator() -> Principal {
    Principal {
        subject: "op".into(),
        role: Role::Provider {
            providers: std::collections::BTreeSet::from(["cesnet-mcc".into()]),
        },
        also: Vec::new(),
    }
}

fn targets(availability: u64) -> Targets {
    Targets {
        availability_pct: availability.into(),
        reliability_pct: 85.into(),
        period: "monthly".into(),
    }
}

fn document(version: u32) -> DocumentRef {
    DocumentRef {
        template_id: "sla".into(),
        template_version: 1,
        sha256: format!("{version:064}"),
        size: 1000,
    }
}

fn content(kind: &str) -> AgreementContent {
    AgreementContent {
        kind: kind.into(),
        reference: "SLA-X".into(),
        order_id: "o-1".into(),
        title: None,
        service: ServiceSnapshot {
            id: "cloud-compute".into(),
            name: "EGI Cloud Compute".into(),
            group: "compute".into(),
            description: None,
        },
        customer: CustomerParty {
            org: "acme".into(),
            subject: "alice".into(),
            name: "acme".into(),
        },
        provider: (kind == "ola").then(|| ProviderParty {
            id: "cesnet-mcc".into(),
            name: "CESNET".into(),
            country: "CZ".into(),
            contact: None,
        }),
        issuer: Issuer {
            name: "EGI Foundation".into(),
            contact: None,
        },
        parameters: BTreeMap::from([("cpu_cores".into(), json!(4))]),
        lines: vec![],
        validity: Validity {
            start: date("2027-01-04"),
            end: date("2027-04-03"),
        },
        targets: targets(80),
        support: Support {
            level: "standard".into(),
            response_hours: 8,
            contacts: vec![],
        },
        brand: BrandSnapshot {
            name: "EGI Foundation".into(),
            colour: "#004a87".into(),
            footer: "".into(),
            logo: None,
        },
    }
}

fn issue(by: Principal, kind: &str) -> AgreementCommand {
    AgreementCommand {
        by,
        action: AgreementAction::Issue {
            agreement_id: "a-1".into(),
            content: Box::new(content(kind)),
            document: document(1),
        },
    }
}

fn issued(kind: &str) -> AgreementEvent {
    AgreementEvent::AgreementIssued(AgreementIssued {
        agreement_id: "a-1".into(),
        content: content(kind),
        document: document(1),
    })
}

fn amend(targets: Option<Targets>, end: Option<Date>) -> AgreementAction {
    AgreementAction::Amend {
        targets,
        end,
        note: "more".into(),
        changes: vec!["x".into()],
        document: document(2),
    }
}

fn cmd(by: Principal, action: AgreementAction) -> AgreementCommand {
    AgreementCommand { by, action }
}

#[test]
fn pactum_or_a_shifter_of_the_group_issues_an_agreement() {
    Given::with(())
        .given_no_previous_events()
        .when(issue(Principal::system("pactum"), "sla"))
        .then_expect_events(vec![issued("sla")]);
    Given::with(())
        .given_no_previous_events()
        .when(issue(alice(), "sla"))
        .then_expect_error(AgreementError::Forbidden { role: "customer" });
    Given::with(())
        .given(vec![issued("sla")])
        .when(issue(sam(), "sla"))
        .then_expect_error(AgreementError::AlreadyIssued);
}

#[test]
fn an_amendment_is_a_new_version_with_new_targets_or_a_later_end() {
    Given::with(())
        .given(vec![issued("sla")])
        .when(cmd(
            sam(),
            amend(Some(targets(90)), Some(date("2027-06-30"))),
        ))
        .then_expect_events(vec![AgreementEvent::AgreementAmended(AgreementAmended {
            version: 2,
            targets: Some(targets(90)),
            end: Some(date("2027-06-30")),
            note: "more".into(),
            changes: vec!["x".into()],
            document: document(2),
        })]);
    Given::with(())
        .given(vec![issued("sla")])
        .when(cmd(sam(), amend(None, Some(date("2027-04-03")))))
        .then_expect_error(AgreementError::EndNotLater {
            current: date("2027-04-03"),
            requested: date("2027-04-03"),
        });
    Given::with(())
        .given(vec![issued("sla")])
        .when(cmd(sam(), amend(None, None)))
        .then_expect_error(AgreementError::NothingToAmend);
}

#[test]
fn who_may_see_and_change_an_agreement() {
    Given::with(())
        .given(vec![issued("sla")])
        .when(cmd(stella(), amend(Some(targets(90)), None)))
        .then_expect_error(AgreementError::NotFound);
    Given::with(())
        .given(vec![issued("sla")])
        .when(cmd(alice(), amend(Some(targets(90)), None)))
        .then_expect_error(AgreementError::Forbidden { role: "customer" });
    Given::with(())
        .given(vec![issued("sla")])
        .when(cmd(
            operator(),
            AgreementAction::Terminate { reason: "x".into() },
        ))
        .then_expect_error(AgreementError::NotFound);
    Given::with(())
        .given(vec![issued("ola")])
        .when(cmd(
            operator(),
            AgreementAction::Terminate { reason: "x".into() },
        ))
        .then_expect_error(AgreementError::Forbidden { role: "provider" });
}

#[test]
fn a_terminated_agreement_accepts_nothing_more() {
    let terminated = vec![
        issued("sla"),
        AgreementEvent::AgreementTerminated(AgreementTerminated {
            reason: "ended".into(),
        }),
    ];
    Given::with(())
        .given(vec![issued("sla")])
        .when(cmd(
            sam(),
            AgreementAction::Terminate {
                reason: "ended".into(),
            },
        ))
        .then_expect_events(vec![terminated[1].clone()]);
    Given::with(())
        .given(terminated)
        .when(cmd(sam(), amend(Some(targets(90)), None)))
        .then_expect_error(AgreementError::NotActive {
            status: AgreementStatus::Terminated,
        });
}

#[test]
fn an_agreement_expires_after_its_last_day_and_an_amended_end_counts() {
    let expire = |today: &str| {
        cmd(
            Principal::system("expiry"),
            AgreementAction::Expire { today: date(today) },
        )
    };
    Given::with(())
        .given(vec![issued("sla")])
        .when(expire("2027-04-03"))
        .then_expect_error(AgreementError::NotYetEnded {
            end: date("2027-04-03"),
        });
    Given::with(())
        .given(vec![issued("sla")])
        .when(expire("2027-04-04"))
        .then_expect_events(vec![AgreementEvent::AgreementExpired(AgreementExpired {
            end: date("2027-04-03"),
        })]);
    Given::with(())
        .given(vec![
            issued("sla"),
            AgreementEvent::AgreementAmended(AgreementAmended {
                version: 2,
                targets: None,
                end: Some(date("2027-06-30")),
                note: "longer".into(),
                changes: vec![],
                document: document(2),
            }),
        ])
        .when(expire("2027-04-04"))
        .then_expect_error(AgreementError::NotYetEnded {
            end: date("2027-06-30"),
        });
}
