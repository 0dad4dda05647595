//! Who may see which event. History, the order view and (later) the event feeds
//! all filter through [`Audience::sees`], so an internal comment cannot leak through
//! one door while another is shut.

use pactum_events::order::{OrderEvent, Visibility};

/// The kind of reader an order's data is shaped for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Audience {
    /// The ordering organisation: public information only.
    Customer,
    /// Shifters of the order's group, auditors, admins: everything.
    Staff,
}

impl Audience {
    /// Whether this audience may see `event` of an order it may see.
    pub fn sees(self, event: &OrderEvent) -> bool {
        match (self, event) {
            (Audience::Staff, _) => true,
            (Audience::Customer, OrderEvent::CommentAdded(comment)) => {
                comment.visibility == Visibility::Public
            }
            // Handling targets and clocks are the team's own business.
            (
                Audience::Customer,
                OrderEvent::HandlingTargetsPinned(_)
                | OrderEvent::HandlingClockStarted(_)
                | OrderEvent::HandlingClockPaused(_)
                | OrderEvent::HandlingClockResumed(_)
                | OrderEvent::HandlingClockStopped(_)
                | OrderEvent::HandlingTargetAtRisk(_)
                | OrderEvent::HandlingTargetBreached(_),
            ) => false,
            (Audience::Customer, _) => true,
        }
    }

    /// `event` as this audience may read it (of those it [`sees`](Self::sees)):
    /// a customer learns of its SLA, never of the OLAs between the operator and
    /// the providers (`docs/adr/0004`).
    pub fn redact(self, event: OrderEvent) -> OrderEvent {
        match (self, event) {
            (Audience::Customer, OrderEvent::OrderActivated(mut activated)) => {
                activated
                    .agreements
                    .retain(|agreement| agreement.kind == "sla");
                OrderEvent::OrderActivated(activated)
            }
            (_, event) => event,
        }
    }

    /// Whether this audience may see an agreement of `kind` (`sla`, `ola`) issued
    /// with an order it may see.
    pub fn sees_agreement(self, kind: &str) -> bool {
        self == Audience::Staff || kind == "sla"
    }

    /// Whether this audience may see a comment of the given visibility.
    pub fn sees_comment(self, visibility: Visibility) -> bool {
        self == Audience::Staff || visibility == Visibility::Public
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pactum_events::order::CommentAdded;

    fn comment(visibility: Visibility) -> OrderEvent {
        OrderEvent::CommentAdded(CommentAdded {
            comment_id: 1,
            body: "x".into(),
            visibility,
            provider: None,
        })
    }

    #[test]
    fn customers_learn_of_their_sla_and_of_no_ola() {
        use pactum_events::order::{AgreementRef, OrderActivated};
        let activated = OrderEvent::OrderActivated(OrderActivated {
            agreements: vec![
                AgreementRef {
                    agreement_id: "sla-1".into(),
                    kind: "sla".into(),
                    provider: None,
                },
                AgreementRef {
                    agreement_id: "ola-1".into(),
                    kind: "ola".into(),
                    provider: Some("cesnet".into()),
                },
            ],
        });
        let OrderEvent::OrderActivated(for_customer) = Audience::Customer.redact(activated.clone())
        else {
            panic!("still an activation")
        };
        let ids: Vec<_> = for_customer
            .agreements
            .iter()
            .map(|a| a.agreement_id.as_str())
            .collect();
        assert_eq!(ids, ["sla-1"]);
        assert_eq!(Audience::Staff.redact(activated.clone()), activated);
        assert!(!Audience::Customer.sees_agreement("ola"));
        assert!(Audience::Customer.sees_agreement("sla"));
        assert!(Audience::Staff.sees_agreement("ola"));
    }

    #[test]
    fn customers_never_see_internal_comments() {
        assert!(!Audience::Customer.sees(&comment(Visibility::Internal)));
        assert!(Audience::Customer.sees(&comment(Visibility::Public)));
        assert!(Audience::Staff.sees(&comment(Visibility::Internal)));
    }
}
