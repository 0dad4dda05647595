//! A realistic agreement to render: for tests, benchmarks, and for looking at a
//! template while changing it (`cargo run --example render_agreement`).
//!
//! An EGI Cloud Compute order of the catalogue pactum ships: 4 cores, 2 GB of RAM
//! per core, 40 GB of local disk, 2 VMs, opportunistic access, from 2027-01-04 for
//! 90 days; availability 80 % and reliability 85 %, monthly.

use super::model::*;

/// The cloud-compute agreement, as an SLA (customer) or an OLA (first provider).
pub fn cloud_compute(kind: AgreementKind) -> DocumentData {
    let prefix = match kind {
        AgreementKind::Sla => "SLA",
        AgreementKind::Ola => "OLA",
    };
    let issuer = Party {
        name: "EGI Foundation".into(),
        contact: Some("sla-office@egi.example.org".into()),
    };
    let customer = Party {
        name: "Helmholtz Centre for Ocean Research (GEOMAR)".into(),
        contact: Some("m.keller@geomar.example.org".into()),
    };
    let provider = ProviderParty {
        id: "cesnet-mcc".into(),
        name: "CESNET MetaCentrum Cloud (CESNET-MCC)".into(),
        country: "CZ".into(),
        contact: Some("cesnet-mcc@example.org".into()),
    };
    let line = |key: &str, label: &str, value: &str, unit: Option<&str>| ParameterLine {
        key: key.into(),
        label: label.into(),
        value: value.into(),
        unit: unit.map(Into::into),
    };
    let signatories = match kind {
        AgreementKind::Sla => vec![
            Signatory {
                role: "For the provider of the service".into(),
                party: issuer.name.clone(),
            },
            Signatory {
                role: "For the customer".into(),
                party: customer.name.clone(),
            },
        ],
        AgreementKind::Ola => vec![
            Signatory {
                role: "For the infrastructure".into(),
                party: issuer.name.clone(),
            },
            Signatory {
                role: "For the resource provider".into(),
                party: provider.name.clone(),
            },
        ],
    };
    DocumentData {
        kind,
        reference: format!("{prefix}-01J9Z3-1"),
        agreement_id: format!("{}-0195f2a4-7c1e-7b3a-9d2e-4f6a8b0c1d2e", kind.as_str()),
        version: 1,
        issued_at: "2026-12-14T09:30:00Z".into(),
        issued_on: "2026-12-14".into(),
        order_id: "0195f2a4-61b0-7c55-8e1f-2a3b4c5d6e7f".into(),
        title: Some("Ocean model ensemble runs 2027".into()),
        service: ServiceInfo {
            id: "cloud-compute".into(),
            name: "EGI Cloud Compute".into(),
            group: "Compute".into(),
            description: Some(
                "Virtual machines on the EGI Federated Cloud (OpenStack sites), for \
                 long-running services and interactive work."
                    .into(),
            ),
        },
        customer,
        provider: match kind {
            AgreementKind::Sla => None,
            AgreementKind::Ola => Some(provider),
        },
        issuer,
        parameters: vec![
            line("cpu_cores", "Number of CPU Cores", "4", Some("cores")),
            line(
                "ram_per_core_gb",
                "Amount of RAM per CPU core",
                "2",
                Some("GB"),
            ),
            line("local_disk_gb", "Local disk", "40", Some("GB")),
            line("vm_instances", "Number of VM instances", "2", None),
            line("access_type", "Access type", "opportunistic", None),
            line("start_date", "Start of service", "2027-01-04", None),
            line("duration_days", "Number of days", "90", Some("days")),
        ],
        validity: Validity {
            start: "2027-01-04".into(),
            end: "2027-04-03".into(),
            days: 90,
        },
        targets: Targets {
            availability_pct: "80".into(),
            reliability_pct: "85".into(),
            period: "monthly".into(),
        },
        support: Support {
            level: "Standard".into(),
            response_time: "8 hours (working hours)".into(),
            contacts: vec![
                "support@egi.example.org".into(),
                "EGI Helpdesk, https://helpdesk.egi.example.org".into(),
            ],
        },
        amendment: None,
        brand: Brand {
            name: "EGI Foundation".into(),
            colour: "#0a559c".into(),
            footer: "EGI Foundation · Science Park 140, 1098 XG Amsterdam, The Netherlands \
                     · www.egi.example.org"
                .into(),
            has_logo: false,
        },
        signatories,
    }
}

/// The same agreement amended to version 2 (availability raised, more cores).
pub fn cloud_compute_amended(kind: AgreementKind) -> DocumentData {
    let mut data = cloud_compute(kind);
    data.version = 2;
    data.reference = data.reference.replace("-1", "-2");
    data.issued_at = "2027-02-01T14:05:00Z".into();
    data.issued_on = "2027-02-01".into();
    data.parameters[0].value = "8".into();
    data.targets.availability_pct = "90".into();
    data.amendment = Some(Amendment {
        previous_version: 1,
        note: "The customer asked for more cores for the February ensemble; the \
               provider confirmed the capacity."
            .into(),
        changes: vec![
            "Number of CPU Cores: 4 cores → 8 cores".into(),
            "Availability: 80 % → 90 %".into(),
        ],
    });
    data
}
