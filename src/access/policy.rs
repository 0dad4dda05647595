//! Who may see and do what. Pure functions of the principal and the order's scope;
//! the order aggregate calls them while deciding a command.
//!
//! Seeing comes first: a caller that may not see an order gets "not found", never
//! "forbidden", so another organisation's orders do not even leak their existence.

use crate::access::{Principal, Role};

/// What an order's access depends on.
#[derive(Clone, Copy, Debug)]
pub struct OrderScope<'a> {
    pub org: &'a str,
    pub group: &'a str,
    /// Providers that provisioning steps of the order are addressed to.
    pub providers: &'a [String],
}

/// The things one can do to an order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderAction {
    Submit,
    Assign,
    CommentPublic,
    CommentInternal,
    AskQuestion,
    Answer,
    Approve,
    Reject,
    Cancel,
    Propose,
    AnswerProposal,
    PlanProvisioning,
    ReportStep,
    RetryStep,
    Activate,
    Close,
    CheckClocks,
}

impl OrderAction {
    pub fn verb(self) -> &'static str {
        match self {
            Self::Submit => "submit",
            Self::Assign => "assign",
            Self::CommentPublic => "comment on",
            Self::CommentInternal => "comment internally on",
            Self::AskQuestion => "ask a question on",
            Self::Answer => "answer a question on",
            Self::Approve => "approve",
            Self::Reject => "reject",
            Self::Cancel => "cancel",
            Self::Propose => "make a proposal on",
            Self::AnswerProposal => "answer a proposal on",
            Self::PlanProvisioning => "plan provisioning of",
            Self::ReportStep => "report on a provisioning step of",
            Self::RetryStep => "retry a provisioning step of",
            Self::Activate => "activate",
            Self::Close => "close",
            Self::CheckClocks => "check the handling clocks of",
        }
    }
}

pub fn can_see_order(principal: &Principal, scope: OrderScope<'_>) -> bool {
    match &principal.role {
        Role::Customer { org } => org == scope.org,
        Role::Shifter { groups } => groups.contains(scope.group),
        Role::Auditor | Role::Admin | Role::System => true,
        // Providers see an order only through the steps addressed to them.
        Role::Provider { provider } => scope.providers.contains(provider),
    }
}

/// What an agreement's access depends on.
#[derive(Clone, Copy, Debug)]
pub struct AgreementScope<'a> {
    /// `sla` or `ola`.
    pub kind: &'a str,
    pub org: &'a str,
    pub group: &'a str,
    pub provider: Option<&'a str>,
}

/// A customer sees its organisation's SLAs, a provider its own OLAs, a shifter
/// every agreement of its groups, auditors and admins all.
pub fn can_see_agreement(principal: &Principal, scope: AgreementScope<'_>) -> bool {
    match &principal.role {
        Role::Customer { org } => scope.kind == "sla" && org == scope.org,
        Role::Provider { provider } => {
            scope.kind == "ola" && scope.provider == Some(provider.as_str())
        }
        Role::Shifter { groups } => groups.contains(scope.group),
        Role::Auditor | Role::Admin | Role::System => true,
    }
}

/// Shifters of the group amend and terminate agreements; pactum itself issues
/// and expires them.
pub fn may_manage_agreement(principal: &Principal, scope: AgreementScope<'_>) -> bool {
    match &principal.role {
        Role::Shifter { groups } => groups.contains(scope.group),
        Role::System => true,
        _ => false,
    }
}

/// Whether `principal` may read the global log (`GET /v1/events`, the SSE stream):
/// auditors and admins only. It holds every organisation's orders and every
/// internal comment; customers and shifters read their orders' histories instead.
pub fn can_read_log(principal: &Principal) -> bool {
    matches!(principal.role, Role::Auditor | Role::Admin)
}

/// Which groups' rows of the order reports a principal may read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReportScope {
    All,
    Groups(Vec<String>),
    None,
}

/// Order reports: auditors and admins read every group, shifters their own;
/// customers and providers none (they would learn about other organisations).
pub fn order_report_scope(principal: &Principal) -> ReportScope {
    match &principal.role {
        Role::Auditor | Role::Admin | Role::System => ReportScope::All,
        Role::Shifter { groups } => ReportScope::Groups(groups.iter().cloned().collect()),
        Role::Customer { .. } | Role::Provider { .. } => ReportScope::None,
    }
}

/// Whether `principal`, who can see the order, may perform `action` on it.
pub fn may(principal: &Principal, scope: OrderScope<'_>, action: OrderAction) -> bool {
    use OrderAction::*;
    match &principal.role {
        Role::Customer { org } => {
            org == scope.org
                && matches!(
                    action,
                    Submit | CommentPublic | Answer | Cancel | Propose | AnswerProposal
                )
        }
        Role::Shifter { groups } => {
            groups.contains(scope.group)
                && matches!(
                    action,
                    Assign
                        | CommentPublic
                        | CommentInternal
                        | AskQuestion
                        | Approve
                        | Reject
                        | Propose
                        | AnswerProposal
                        | PlanProvisioning
                        | RetryStep
                        | Activate
                        | Close
                )
        }
        // Which steps a provider may report on is the aggregate's call.
        Role::Provider { provider } => scope.providers.contains(provider) && action == ReportStep,
        // Imports submit on a customer's behalf; expiry closes orders.
        // The handling timer records warnings and breaches.
        Role::System => matches!(action, Submit | Close | CheckClocks),
        Role::Auditor | Role::Admin => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    const SCOPE: OrderScope<'static> = OrderScope {
        org: "acme",
        group: "compute",
        providers: &[],
    };

    fn customer(org: &str) -> Principal {
        Principal {
            subject: "alice".into(),
            role: Role::Customer { org: org.into() },
        }
    }

    fn shifter(group: &str) -> Principal {
        Principal {
            subject: "sam".into(),
            role: Role::Shifter {
                groups: BTreeSet::from([group.to_owned()]),
            },
        }
    }

    #[test]
    fn customers_see_their_organisation_only() {
        assert!(can_see_order(&customer("acme"), SCOPE));
        assert!(!can_see_order(&customer("globex"), SCOPE));
    }

    #[test]
    fn shifters_see_their_groups_only() {
        assert!(can_see_order(&shifter("compute"), SCOPE));
        assert!(!can_see_order(&shifter("storage"), SCOPE));
    }

    #[test]
    fn customers_cannot_decide_or_comment_internally() {
        let alice = customer("acme");
        for action in [
            OrderAction::Approve,
            OrderAction::Reject,
            OrderAction::Assign,
            OrderAction::CommentInternal,
            OrderAction::AskQuestion,
        ] {
            assert!(!may(&alice, SCOPE, action), "{action:?}");
        }
        assert!(may(&alice, SCOPE, OrderAction::Cancel));
        assert!(may(&alice, SCOPE, OrderAction::Answer));
    }

    #[test]
    fn auditors_and_admins_read_but_never_act() {
        for role in [Role::Auditor, Role::Admin] {
            let p = Principal {
                subject: "x".into(),
                role,
            };
            assert!(can_see_order(&p, SCOPE));
            assert!(!may(&p, SCOPE, OrderAction::Approve));
            assert!(!may(&p, SCOPE, OrderAction::CommentPublic));
        }
    }

    #[test]
    fn shifters_decide_but_do_not_answer_for_the_customer() {
        let sam = shifter("compute");
        assert!(may(&sam, SCOPE, OrderAction::Approve));
        assert!(!may(&sam, SCOPE, OrderAction::Answer));
        assert!(!may(&sam, SCOPE, OrderAction::Cancel));
        assert!(!may(&shifter("storage"), SCOPE, OrderAction::Approve));
    }
}

#[cfg(test)]
mod provider_tests {
    use super::*;

    #[test]
    fn providers_see_orders_with_steps_addressed_to_them_and_only_report() {
        let providers = ["cesnet-mcc".to_owned()];
        let scope = OrderScope {
            org: "acme",
            group: "compute",
            providers: &providers,
        };
        let operator = |provider: &str| Principal {
            subject: "op".into(),
            role: Role::Provider {
                provider: provider.into(),
            },
        };
        assert!(can_see_order(&operator("cesnet-mcc"), scope));
        assert!(!can_see_order(&operator("surf"), scope));
        assert!(may(&operator("cesnet-mcc"), scope, OrderAction::ReportStep));
        assert!(!may(&operator("cesnet-mcc"), scope, OrderAction::Activate));
        assert!(!may(&operator("surf"), scope, OrderAction::ReportStep));
    }
}
