//! Who may see and do what. Pure functions of the principal and the order's scope;
//! the order aggregate calls them while deciding a command.
//!
//! Seeing comes first: a caller that may not see an order gets "not found", never
//! "forbidden", so another organisation's orders do not even leak their existence.
//!
//! A person may hold several roles (a customer of `vo.alpha` who is also a
//! shifter of `compute`): every answer here is the union of what each role
//! allows ([`Principal::roles`]). A command on one order or agreement is then
//! decided as one role, the most privileged that allows it ([`acting`]), and
//! recorded as that role.

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
    /// A message between staff and one provider of the order's provisioning.
    CommentProvider,
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
            Self::CommentProvider => "write to a provider on",
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

/// The role `principal` acts as on an order for `action`: the most
/// privileged of its roles that sees the order and may do it, as a principal
/// of that one role. `None` if no role may.
pub fn acting(
    principal: &Principal,
    scope: OrderScope<'_>,
    action: OrderAction,
) -> Option<Principal> {
    principal
        .by_privilege()
        .find(|one| sees_order(&one.role, scope) && may_as(&one.role, scope, action))
}

/// The role `principal` sees an order as (staff before providers before
/// customers), which shapes what it is shown. `None` if it does not see it.
pub fn viewing(principal: &Principal, scope: OrderScope<'_>) -> Option<Principal> {
    principal
        .by_privilege()
        .find(|one| sees_order(&one.role, scope))
}

pub fn can_see_order(principal: &Principal, scope: OrderScope<'_>) -> bool {
    principal.roles().any(|role| sees_order(role, scope))
}

fn sees_order(role: &Role, scope: OrderScope<'_>) -> bool {
    match role {
        Role::Customer { org } => org == scope.org,
        Role::Shifter { groups } => groups.contains(scope.group),
        Role::Auditor | Role::Admin | Role::System => true,
        Role::Monitoring => false,
        // Providers see an order only through the steps addressed to them.
        Role::Provider { providers } => scope.providers.iter().any(|p| providers.contains(p)),
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
    principal.roles().any(|role| sees_agreement(role, scope))
}

fn sees_agreement(role: &Role, scope: AgreementScope<'_>) -> bool {
    match role {
        Role::Customer { org } => scope.kind == "sla" && org == scope.org,
        Role::Provider { providers } => {
            scope.kind == "ola" && scope.provider.is_some_and(|p| providers.contains(p))
        }
        Role::Shifter { groups } => groups.contains(scope.group),
        Role::Auditor | Role::Admin | Role::System => true,
        Role::Monitoring => false,
    }
}

/// The role `principal` sees an agreement as (staff first), as a principal of
/// that one role. `None` if it does not see it.
pub fn viewing_agreement(principal: &Principal, scope: AgreementScope<'_>) -> Option<Principal> {
    principal
        .by_privilege()
        .find(|one| sees_agreement(&one.role, scope))
}

/// Shifters of the group amend and terminate agreements; pactum itself issues
/// and expires them.
pub fn may_manage_agreement(principal: &Principal, scope: AgreementScope<'_>) -> bool {
    principal.roles().any(|role| match role {
        Role::Shifter { groups } => groups.contains(scope.group),
        Role::System => true,
        _ => false,
    })
}

/// Whether `principal` may read the global log (`GET /v1/events`, the SSE stream):
/// auditors and admins only. It holds every organisation's orders and every
/// internal comment; customers and shifters read their orders' histories instead.
pub fn can_read_log(principal: &Principal) -> bool {
    may_do(principal, Capability::ReadLog)
}

/// Whether `principal` may read `org`'s brand (`GET /v1/brands/{org}`): staff
/// (shifters, auditors, admins) read every brand, customers their own
/// organisation's; providers none (a brand is how a customer's SLAs look, and
/// providers never see SLAs).
pub fn can_read_brand(principal: &Principal, org: &str) -> bool {
    principal.roles().any(|role| match role {
        Role::Customer { org: own } => own == org,
        Role::Shifter { .. } | Role::Auditor | Role::Admin | Role::System => true,
        Role::Provider { .. } | Role::Monitoring => false,
    })
}

/// Whether `principal` may push probe results and heartbeats for an endpoint
/// of `provider` (none: nobody's yet): a monitoring system, admins and
/// pactum for any endpoint; a provider's operators for their own only.
pub fn may_push_monitoring(principal: &Principal, provider: Option<&str>) -> bool {
    principal.roles().any(|role| match role {
        Role::Monitoring | Role::Admin | Role::System => true,
        Role::Provider { providers } => provider.is_some_and(|p| providers.contains(p)),
        Role::Customer { .. } | Role::Shifter { .. } | Role::Auditor => false,
    })
}

/// Whether `principal` may declare monitored endpoints and import accounting
/// and ARGO's figures: admins and pactum.
pub fn may_manage_monitoring(principal: &Principal) -> bool {
    principal
        .roles()
        .any(|role| matches!(role, Role::Admin | Role::System))
}

/// Whether `principal` may push accounting records: admins, pactum and a
/// monitoring system (the accounting portal's feed).
pub fn may_record_usage(principal: &Principal) -> bool {
    principal
        .roles()
        .any(|role| matches!(role, Role::Admin | Role::System | Role::Monitoring))
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
    // A shifter's groups, once any role is a shifter's.
    let mut groups: Option<std::collections::BTreeSet<String>> = None;
    for role in principal.roles() {
        match role {
            Role::Auditor | Role::Admin | Role::System => return ReportScope::All,
            Role::Shifter { groups: own } => {
                groups.get_or_insert_default().extend(own.iter().cloned())
            }
            Role::Customer { .. } | Role::Provider { .. } | Role::Monitoring => {}
        }
    }
    groups.map_or(ReportScope::None, |g| {
        ReportScope::Groups(g.into_iter().collect())
    })
}

/// What a principal may do beyond one order or agreement: reading the log or
/// the metrics, administering targets and brands, moving the manual clock,
/// keeping mail preferences.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Capability {
    /// `GET /v1/events`, the SSE stream ([`can_read_log`]).
    ReadLog,
    /// `GET /metrics`.
    ReadMetrics,
    /// `GET /v1/handling-targets...`
    ReadHandlingTargets,
    /// `PUT /v1/handling-targets/...`
    DefineHandlingTargets,
    /// `pactum brand set`, `PUT`/`DELETE /v1/brands/{org}`: a brand's events.
    DefineBrand,
    /// `POST /v1/admin/clock` under `serve --manual-clock`.
    MoveClock,
    /// `GET/PUT /v1/me/notifications`: only those who are mailed have them.
    KeepNotificationPreferences,
    /// Issue and revoke anyone's API tokens, list them all ([`may_issue_token`],
    /// [`may_hold_token`]: anyone else manages only its own).
    ManageTokens,
    /// Change the catalogue (services, groups, providers).
    ChangeCatalogue,
    /// Add and remove the members of groups (shifters) and providers (operators).
    ManageMembers,
    /// Read an order's history (`GET /v1/orders/{id}/history`) of an order it
    /// sees: providers see an order's steps, not its history.
    ReadOrderHistory,
}

impl Capability {
    pub const ALL: [Capability; 11] = [
        Self::ReadLog,
        Self::ReadMetrics,
        Self::ReadHandlingTargets,
        Self::DefineHandlingTargets,
        Self::DefineBrand,
        Self::MoveClock,
        Self::KeepNotificationPreferences,
        Self::ManageTokens,
        Self::ChangeCatalogue,
        Self::ManageMembers,
        Self::ReadOrderHistory,
    ];

    /// Who has it, for the refusal's text.
    pub fn holders(self) -> &'static str {
        match self {
            Self::ReadLog | Self::ReadMetrics => "auditors and admins",
            Self::ReadHandlingTargets => "shifters, auditors and admins",
            Self::DefineHandlingTargets
            | Self::DefineBrand
            | Self::MoveClock
            | Self::ManageTokens
            | Self::ChangeCatalogue
            | Self::ManageMembers => "admins",
            Self::KeepNotificationPreferences => "customers and shifters",
            Self::ReadOrderHistory => "customers, shifters, auditors and admins",
        }
    }
}

/// Whether `principal` has `capability` (through any of its roles).
pub fn may_do(principal: &Principal, capability: Capability) -> bool {
    principal.roles().any(|role| role_may_do(role, capability))
}

fn role_may_do(role: &Role, capability: Capability) -> bool {
    use Capability::*;
    match (role, capability) {
        (Role::Auditor | Role::Admin, ReadLog | ReadMetrics) => true,
        (
            Role::Shifter { .. } | Role::Auditor | Role::Admin | Role::System,
            ReadHandlingTargets,
        ) => true,
        // pactum itself seeds the catalogue and imports targets, brands, tokens.
        (
            Role::Admin | Role::System,
            DefineHandlingTargets | DefineBrand | ManageTokens | ChangeCatalogue | ManageMembers,
        ) => true,
        (Role::Provider { .. }, ReadOrderHistory) => false,
        (_, ReadOrderHistory) => true,
        (Role::Admin, MoveClock) => true,
        (Role::Customer { .. } | Role::Shifter { .. }, KeepNotificationPreferences) => true,
        _ => false,
    }
}

/// Whether `by` may issue a token that authenticates as `grant`: admins (and
/// pactum itself) for anyone; anyone else only for their own subject, with
/// one role it holds and at most that role's scope — a customer its
/// organisation, a shifter a subset of its groups, a provider's operator a
/// subset of its providers, an auditor an auditor's token. Never a role one
/// does not hold, so never an escalation.
pub fn may_issue_token(by: &Principal, grant: &Principal) -> bool {
    if by
        .roles()
        .any(|role| matches!(role, Role::Admin | Role::System))
    {
        return true;
    }
    if by.subject != grant.subject {
        return false;
    }
    by.roles().any(|own| match (own, &grant.role) {
        (Role::Customer { org }, Role::Customer { org: wanted }) => org == wanted,
        (Role::Shifter { groups }, Role::Shifter { groups: wanted }) => wanted.is_subset(groups),
        (Role::Provider { providers }, Role::Provider { providers: wanted }) => {
            !wanted.is_empty() && wanted.is_subset(providers)
        }
        (Role::Auditor, Role::Auditor) => true,
        _ => false,
    })
}

/// The expiry of a token `by` issues, whose own token expires at `own` (if it
/// does), when it asks for `requested`: admins (and pactum) choose freely;
/// anyone else issues no token that outlives its own (no expiry asked for
/// means its own), so an expiring token cannot mint a lasting one. `Err`
/// carries the latest expiry allowed.
pub fn token_expiry(
    by: &Principal,
    own: Option<jiff::Timestamp>,
    requested: Option<jiff::Timestamp>,
) -> Result<Option<jiff::Timestamp>, jiff::Timestamp> {
    if by
        .roles()
        .any(|role| matches!(role, Role::Admin | Role::System))
    {
        return Ok(requested);
    }
    match (own, requested) {
        (None, requested) => Ok(requested),
        (Some(own), None) => Ok(Some(own)),
        (Some(own), Some(requested)) if requested <= own => Ok(Some(requested)),
        (Some(own), Some(_)) => Err(own),
    }
}

/// Whether `by` may see and revoke a token issued to `owner`: admins (and
/// pactum itself) every token, anyone else the tokens of its own subject. To
/// anyone else a token does not exist.
pub fn may_hold_token(by: &Principal, owner: &str) -> bool {
    may_do(by, Capability::ManageTokens) || by.subject == owner
}

/// The rows of a list (the order queue, the agreement list) that one role
/// pins, whatever the request asks for. A principal with several roles sees
/// the union of its roles' scopes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListScope {
    /// Only this organisation's rows.
    pub org: Option<String>,
    /// Only rows addressed to these providers.
    pub providers: Option<Vec<String>>,
    /// Only rows of these groups; `None`: every group.
    pub groups: Option<Vec<String>>,
    /// Only agreements of this kind (`sla`, `ola`).
    pub kind: Option<&'static str>,
}

/// The order queue (`GET /v1/orders`), one scope per role that has one:
/// customers their organisation's orders, shifters their groups', auditors and
/// admins all; providers have no queue (they see orders through their steps).
/// Empty: the queue is forbidden.
pub fn order_queue_scopes(principal: &Principal) -> Vec<ListScope> {
    principal
        .roles()
        .filter_map(|role| match role {
            Role::Customer { org } => Some(ListScope {
                org: Some(org.clone()),
                ..ListScope::default()
            }),
            Role::Shifter { groups } => Some(ListScope {
                groups: Some(groups.iter().cloned().collect()),
                ..ListScope::default()
            }),
            Role::Auditor | Role::Admin | Role::System => Some(ListScope::default()),
            Role::Provider { .. } | Role::Monitoring => None,
        })
        .collect()
}

/// The agreement list (`GET /v1/agreements`), one scope per role: as
/// [`can_see_agreement`] decides for one agreement.
pub fn agreement_list_scopes(principal: &Principal) -> Vec<ListScope> {
    principal
        .roles()
        .filter_map(|role| match role {
            Role::Customer { org } => Some(ListScope {
                org: Some(org.clone()),
                kind: Some("sla"),
                ..ListScope::default()
            }),
            Role::Provider { providers } => Some(ListScope {
                providers: Some(providers.iter().cloned().collect()),
                kind: Some("ola"),
                ..ListScope::default()
            }),
            Role::Shifter { groups } => Some(ListScope {
                groups: Some(groups.iter().cloned().collect()),
                ..ListScope::default()
            }),
            Role::Auditor | Role::Admin | Role::System => Some(ListScope::default()),
            Role::Monitoring => None,
        })
        .collect()
}

/// Whether `principal`, who can see the order, may perform `action` on it
/// (through any of its roles that sees it).
pub fn may(principal: &Principal, scope: OrderScope<'_>, action: OrderAction) -> bool {
    acting(principal, scope, action).is_some()
}

fn may_as(role: &Role, scope: OrderScope<'_>, action: OrderAction) -> bool {
    use OrderAction::*;
    match role {
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
                        | CommentProvider
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
        // Which steps a provider may report on, and that its messages are its
        // own, is the aggregate's call.
        Role::Provider { providers } => {
            scope.providers.iter().any(|p| providers.contains(p))
                && matches!(action, ReportStep | CommentProvider)
        }
        // Imports submit on a customer's behalf; expiry closes orders.
        // The handling timer records warnings and breaches.
        Role::System => matches!(action, Submit | Close | CheckClocks),
        Role::Auditor | Role::Admin | Role::Monitoring => false,
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
            also: Vec::new(),
        }
    }

    fn shifter(group: &str) -> Principal {
        Principal {
            subject: "sam".into(),
            role: Role::Shifter {
                groups: BTreeSet::from([group.to_owned()]),
            },
            also: Vec::new(),
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
                also: Vec::new(),
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
                providers: std::collections::BTreeSet::from([provider.into()]),
            },
            also: Vec::new(),
        };
        assert!(can_see_order(&operator("cesnet-mcc"), scope));
        assert!(!can_see_order(&operator("surf"), scope));
        assert!(may(&operator("cesnet-mcc"), scope, OrderAction::ReportStep));
        assert!(!may(&operator("cesnet-mcc"), scope, OrderAction::Activate));
        assert!(!may(&operator("surf"), scope, OrderAction::ReportStep));
    }
}

#[cfg(test)]
mod table_tests {
    //! Every role against every decision, as one table each: the policy written
    //! down once more, so a change to a rule shows up here as a change of a cell.

    use std::collections::BTreeSet;

    use super::*;

    fn roles() -> Vec<(&'static str, Principal)> {
        let principal = |role| Principal {
            subject: "x".into(),
            role,
            also: Vec::new(),
        };
        let groups = |g: &str| BTreeSet::from([g.to_owned()]);
        vec![
            (
                "customer acme",
                principal(Role::Customer { org: "acme".into() }),
            ),
            (
                "customer globex",
                principal(Role::Customer {
                    org: "globex".into(),
                }),
            ),
            (
                "shifter compute",
                principal(Role::Shifter {
                    groups: groups("compute"),
                }),
            ),
            (
                "shifter storage",
                principal(Role::Shifter {
                    groups: groups("storage"),
                }),
            ),
            (
                "provider cesnet",
                principal(Role::Provider {
                    providers: std::collections::BTreeSet::from(["cesnet".into()]),
                }),
            ),
            (
                "provider surf",
                principal(Role::Provider {
                    providers: std::collections::BTreeSet::from(["surf".into()]),
                }),
            ),
            ("auditor", principal(Role::Auditor)),
            ("admin", principal(Role::Admin)),
            ("system", principal(Role::System)),
        ]
    }

    /// Checks `decide(role, column)` against `table`: one line per role (in
    /// [`roles`]' order), one character per column, `x` allowed, `.` refused.
    fn check<C: std::fmt::Debug>(
        columns: &[C],
        table: &str,
        decide: impl Fn(&Principal, &C) -> bool,
    ) {
        let lines: Vec<&str> = table
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        let roles = roles();
        assert_eq!(lines.len(), roles.len(), "one line per role");
        for ((name, principal), line) in roles.iter().zip(lines) {
            let cells: Vec<char> = line.split('|').nth(1).unwrap().trim().chars().collect();
            assert_eq!(cells.len(), columns.len(), "{name}: one cell per column");
            for (column, cell) in columns.iter().zip(cells) {
                assert_eq!(
                    decide(principal, column),
                    cell == 'x',
                    "{name} × {column:?} should be {cell}"
                );
            }
        }
    }

    #[test]
    fn capabilities() {
        // ReadLog ReadMetrics ReadHandlingTargets DefineHandlingTargets DefineBrand
        // MoveClock KeepNotificationPreferences ManageTokens ChangeCatalogue
        // ManageMembers ReadOrderHistory
        check(
            &Capability::ALL,
            "
            customer acme   | ......x...x
            customer globex | ......x...x
            shifter compute | ..x...x...x
            shifter storage | ..x...x...x
            provider cesnet | ...........
            provider surf   | ...........
            auditor         | xxx.......x
            admin           | xxxxxx.xxxx
            system          | ..xxx..xxxx
            ",
            |principal, capability| may_do(principal, *capability),
        );
    }

    #[test]
    fn tokens_issued_to_x_or_to_y() {
        // Each column asks for a token for subject "x" (the caller's, in
        // `roles`) unless it says "y": customer acme, customer globex, shifter
        // compute, shifter compute+storage, shifter storage, provider cesnet,
        // provider surf, auditor, admin, customer acme for y, shifter compute
        // for y, admin for y
        let grant = |subject: &str, role| Principal {
            subject: subject.into(),
            role,
            also: Vec::new(),
        };
        let groups = |gs: &[&str]| Role::Shifter {
            groups: gs.iter().map(|g| g.to_string()).collect::<BTreeSet<_>>(),
        };
        let customer = |org: &str| Role::Customer { org: org.into() };
        let provider = |p: &str| Role::Provider {
            providers: std::collections::BTreeSet::from([p.into()]),
        };
        let columns = [
            grant("x", customer("acme")),
            grant("x", customer("globex")),
            grant("x", groups(&["compute"])),
            grant("x", groups(&["compute", "storage"])),
            grant("x", groups(&["storage"])),
            grant("x", provider("cesnet")),
            grant("x", provider("surf")),
            grant("x", Role::Auditor),
            grant("x", Role::Admin),
            grant("y", customer("acme")),
            grant("y", groups(&["compute"])),
            grant("y", Role::Admin),
        ];
        check(
            &columns,
            "
            customer acme   | x...........
            customer globex | .x..........
            shifter compute | ..x.........
            shifter storage | ....x.......
            provider cesnet | .....x......
            provider surf   | ......x.....
            auditor         | .......x....
            admin           | xxxxxxxxxxxx
            system          | xxxxxxxxxxxx
            ",
            may_issue_token,
        );
    }

    #[test]
    fn a_token_outlives_its_issuers_only_if_an_admin_issues_it() {
        let at = |s: &str| s.parse::<jiff::Timestamp>().unwrap();
        let limit = at("2027-01-01T00:00:00Z");
        let own = Some(limit);
        let sooner = Some(at("2026-12-24T00:00:00Z"));
        let later = Some(at("2027-06-01T00:00:00Z"));
        let shifter = Principal {
            subject: "x".into(),
            role: Role::Shifter {
                groups: BTreeSet::from(["compute".to_owned()]),
            },
            also: Vec::new(),
        };
        let admin = Principal {
            subject: "x".into(),
            role: Role::Admin,
            also: Vec::new(),
        };
        assert_eq!(token_expiry(&shifter, own, None), Ok(own));
        assert_eq!(token_expiry(&shifter, own, sooner), Ok(sooner));
        assert_eq!(token_expiry(&shifter, own, later), Err(limit));
        assert_eq!(token_expiry(&shifter, None, later), Ok(later));
        assert_eq!(token_expiry(&shifter, None, None), Ok(None));
        assert_eq!(token_expiry(&admin, own, later), Ok(later));
        assert_eq!(token_expiry(&admin, own, None), Ok(None));
    }

    #[test]
    fn tokens_held_by_x_or_by_y() {
        // see and revoke a token of "x" (the caller's subject), of "y"
        check(
            &["x", "y"],
            "
            customer acme   | x.
            customer globex | x.
            shifter compute | x.
            shifter storage | x.
            provider cesnet | x.
            provider surf   | x.
            auditor         | x.
            admin           | xx
            system          | xx
            ",
            |principal, owner| may_hold_token(principal, owner),
        );
    }

    #[test]
    fn brands_of_acme_and_globex() {
        // read acme's brand, read globex's brand
        check(
            &["acme", "globex"],
            "
            customer acme   | x.
            customer globex | .x
            shifter compute | xx
            shifter storage | xx
            provider cesnet | ..
            provider surf   | ..
            auditor         | xx
            admin           | xx
            system          | xx
            ",
            |principal, org| can_read_brand(principal, org),
        );
    }

    #[test]
    fn order_actions_on_an_order_of_acme_in_compute_with_a_step_for_cesnet() {
        use OrderAction::*;
        let providers = ["cesnet".to_owned()];
        let scope = OrderScope {
            org: "acme",
            group: "compute",
            providers: &providers,
        };
        // see Submit Assign CommentPublic CommentInternal CommentProvider AskQuestion Answer Approve
        // Reject Cancel Propose AnswerProposal PlanProvisioning ReportStep RetryStep
        // Activate Close CheckClocks (the first column is "may see the order")
        let actions = [
            None,
            Some(Submit),
            Some(Assign),
            Some(CommentPublic),
            Some(CommentInternal),
            Some(CommentProvider),
            Some(AskQuestion),
            Some(Answer),
            Some(Approve),
            Some(Reject),
            Some(Cancel),
            Some(Propose),
            Some(AnswerProposal),
            Some(PlanProvisioning),
            Some(ReportStep),
            Some(RetryStep),
            Some(Activate),
            Some(Close),
            Some(CheckClocks),
        ];
        check(
            &actions,
            "
            customer acme   | xx.x...x..xxx......
            customer globex | ...................
            shifter compute | x.xxxxx.xx.xxx.xxx.
            shifter storage | ...................
            provider cesnet | x....x........x....
            provider surf   | ...................
            auditor         | x..................
            admin           | x..................
            system          | xx...............xx
            ",
            |principal, action| match action {
                None => can_see_order(principal, scope),
                Some(action) => can_see_order(principal, scope) && may(principal, scope, *action),
            },
        );
    }

    #[test]
    fn agreements_of_acme_in_compute() {
        let sla = AgreementScope {
            kind: "sla",
            org: "acme",
            group: "compute",
            provider: None,
        };
        let ola = AgreementScope {
            kind: "ola",
            org: "acme",
            group: "compute",
            provider: Some("cesnet"),
        };
        // see the SLA, see cesnet's OLA, manage the SLA, manage the OLA
        let columns = [("see", sla), ("see", ola), ("manage", sla), ("manage", ola)];
        check(
            &columns.map(|(verb, scope)| (verb, scope.kind)),
            "
            customer acme   | x...
            customer globex | ....
            shifter compute | xxxx
            shifter storage | ....
            provider cesnet | .x..
            provider surf   | ....
            auditor         | xx..
            admin           | xx..
            system          | xxxx
            ",
            |principal, (verb, kind)| {
                let scope = if *kind == "sla" { sla } else { ola };
                match *verb {
                    "see" => can_see_agreement(principal, scope),
                    _ => may_manage_agreement(principal, scope),
                }
            },
        );
    }

    #[test]
    fn lists_are_scoped_by_role() {
        let roles = roles();
        let queue: Vec<Option<ListScope>> = roles
            .iter()
            .map(|(_, p)| order_queue_scopes(p).pop())
            .collect();
        let agreements: Vec<ListScope> = roles
            .iter()
            .map(|(_, p)| {
                let mut scopes = agreement_list_scopes(p);
                assert_eq!(scopes.len(), 1, "one role, one scope");
                scopes.remove(0)
            })
            .collect();
        let reports: Vec<ReportScope> = roles.iter().map(|(_, p)| order_report_scope(p)).collect();
        let org = |org: &str| ListScope {
            org: Some(org.into()),
            ..ListScope::default()
        };
        let groups = |group: &str| ListScope {
            groups: Some(vec![group.into()]),
            ..ListScope::default()
        };
        assert_eq!(
            queue,
            [
                Some(org("acme")),
                Some(org("globex")),
                Some(groups("compute")),
                Some(groups("storage")),
                None,
                None,
                Some(ListScope::default()),
                Some(ListScope::default()),
                Some(ListScope::default()),
            ]
        );
        let sla = |o: &str| ListScope {
            kind: Some("sla"),
            ..org(o)
        };
        let ola = |provider: &str| ListScope {
            providers: Some(vec![provider.into()]),
            kind: Some("ola"),
            ..ListScope::default()
        };
        assert_eq!(
            agreements,
            [
                sla("acme"),
                sla("globex"),
                groups("compute"),
                groups("storage"),
                ola("cesnet"),
                ola("surf"),
                ListScope::default(),
                ListScope::default(),
                ListScope::default(),
            ]
        );
        let of = |g: &str| ReportScope::Groups(vec![g.into()]);
        assert_eq!(
            reports,
            [
                ReportScope::None,
                ReportScope::None,
                of("compute"),
                of("storage"),
                ReportScope::None,
                ReportScope::None,
                ReportScope::All,
                ReportScope::All,
                ReportScope::All,
            ]
        );
    }
}
