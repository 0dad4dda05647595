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
        })
    }

    #[test]
    fn customers_never_see_internal_comments() {
        assert!(!Audience::Customer.sees(&comment(Visibility::Internal)));
        assert!(Audience::Customer.sees(&comment(Visibility::Public)));
        assert!(Audience::Staff.sees(&comment(Visibility::Internal)));
    }
}
