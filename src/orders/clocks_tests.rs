//! The handling clocks through the order aggregate: commands decided at given
//! instants, in a Paris office working 09:00–12:00 and 13:00–18:00 on weekdays.

use cqrs_es::Aggregate;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use pactum_calendar::BusinessCalendar;
use pactum_events::order::*;
use serde_json::json;

use crate::access::{Principal, Role};
use crate::orders::aggregate::Order;
use crate::orders::commands::{OrderAction, OrderCommand};

fn calendar() -> BusinessCalendar {
    let day = json!(["09:00-12:00", "13:00-18:00"]);
    serde_json::from_value(json!({
        "time_zone": "Europe/Paris",
        "hours": {"monday": day, "tuesday": day, "wednesday": day, "thursday": day, "friday": day},
        "holidays": ["2026-12-25"]
    }))
    .unwrap()
}

/// Paris wall-clock time.
fn paris(local: &str) -> Timestamp {
    local
        .parse::<jiff::civil::DateTime>()
        .unwrap()
        .to_zoned(TimeZone::get("Europe/Paris").unwrap())
        .unwrap()
        .timestamp()
}

fn pinned() -> HandlingTargetsPinned {
    HandlingTargetsPinned {
        key: "compute".into(),
        version: 1,
        first_response_seconds: Some(4 * 3600),
        decision_seconds: Some(8 * 3600),
        warning_percent: 75,
        calendar: calendar(),
    }
}

fn alice() -> Principal {
    Principal {
        subject: "alice".into(),
        role: Role::Customer { org: "acme".into() },
        also: Vec::new(),
    }
}

fn sam() -> Principal {
    Principal {
        subject: "sam".into(),
        role: Role::Shifter {
            groups: ["compute".to_owned()].into(),
        },
        also: Vec::new(),
    }
}

/// An order and everything it recorded, command by command.
struct Run {
    order: Order,
    log: Vec<OrderEvent>,
}

impl Run {
    /// Submitted Friday 2026-11-27 17:30 in Paris with the targets pinned.
    fn submitted() -> Self {
        let mut new = crate::orders::aggregate::tests::new_order();
        new.submitted_at = paris("2026-11-27T17:30");
        new.targets = Some(pinned());
        let mut run = Self {
            order: Order::default(),
            log: Vec::new(),
        };
        run.ok(
            alice(),
            new.submitted_at,
            OrderAction::Submit(Box::new(new)),
        );
        run
    }

    fn ok(&mut self, by: Principal, at: Timestamp, action: OrderAction) -> Vec<OrderEvent> {
        let events = self
            .order
            .decide(OrderCommand { by, at, action })
            .expect("the command is accepted");
        for event in &events {
            self.order.apply(event.clone());
        }
        self.log.extend(events.clone());
        events
    }
}

fn started(events: &[OrderEvent], clock: HandlingClock) -> &HandlingClockStarted {
    events
        .iter()
        .find_map(|e| match e {
            OrderEvent::HandlingClockStarted(s) if s.clock == clock => Some(s),
            _ => None,
        })
        .expect("the clock started")
}

fn types(events: &[OrderEvent]) -> Vec<&'static str> {
    use pactum_events::EventPayload;
    events.iter().map(|e| e.event_type()).collect()
}

#[test]
fn friday_evening_plus_eight_business_hours_is_monday_evening() {
    let run = Run::submitted();
    assert_eq!(
        types(&run.log),
        [
            "OrderSubmitted",
            "HandlingTargetsPinned",
            "HandlingClockStarted",
            "HandlingClockStarted"
        ]
    );
    let decision = started(&run.log, HandlingClock::Decision);
    // Friday 17:30–18:00 is 30 min; Monday 09:00–12:00 and 13:00–17:30 the
    // other 7 h 30 min.
    assert_eq!(decision.due_at, paris("2026-11-30T17:30"));
    // 75 % of 8 h = 6 h: 30 min Friday, then Monday 09:00–12:00, 13:00–15:30.
    assert_eq!(decision.warn_at, paris("2026-11-30T15:30"));
    let first = started(&run.log, HandlingClock::FirstResponse);
    // 4 h: 30 min Friday, Monday 09:00–12:00 and 13:00–13:30.
    assert_eq!(first.due_at, paris("2026-11-30T13:30"));
}

#[test]
fn a_question_pauses_and_the_answer_moves_the_deadline_by_the_paused_business_time() {
    let mut run = Run::submitted();
    // Monday 10:00: one and a half business hours counted.
    let asked = run.ok(
        sam(),
        paris("2026-11-30T10:00"),
        OrderAction::AskQuestion {
            body: "Which region?".into(),
        },
    );
    assert_eq!(
        types(&asked),
        [
            "QuestionAsked",
            "HandlingClockStopped",
            "HandlingClockPaused"
        ]
    );
    let OrderEvent::HandlingClockStopped(stopped) = &asked[1] else {
        unreachable!()
    };
    assert_eq!(stopped.clock, HandlingClock::FirstResponse);
    assert_eq!(stopped.elapsed_seconds, 90 * 60);
    assert!(stopped.reached && stopped.within_target);
    let OrderEvent::HandlingClockPaused(paused) = &asked[2] else {
        unreachable!()
    };
    assert_eq!(paused.elapsed_seconds, 90 * 60);

    // Answered Tuesday 10:00: paused for 8 business hours (Monday 10:00–12:00,
    // 13:00–18:00, Tuesday 09:00–10:00).
    let answered = run.ok(
        alice(),
        paris("2026-12-01T10:00"),
        OrderAction::Answer {
            body: "Amsterdam".into(),
        },
    );
    let OrderEvent::HandlingClockResumed(resumed) = &answered[1] else {
        panic!("expected a resumption, got {:?}", types(&answered))
    };
    assert_eq!(resumed.paused_seconds, 8 * 3600);
    // The deadline moved from Monday 17:30 by 8 business hours: Tuesday 17:30.
    assert_eq!(resumed.due_at, paris("2026-12-01T17:30"));
    // And 6 h 30 min remain from Tuesday 10:00: the same instant.
    assert_eq!(
        resumed.due_at,
        calendar().add(
            paris("2026-12-01T10:00"),
            jiff::SignedDuration::from_secs(6 * 3600 + 1800)
        )
    );

    // Nothing falls due while paused; approving in time stops the clock within target.
    let approved = run.ok(
        sam(),
        paris("2026-12-01T11:00"),
        OrderAction::Approve { note: None },
    );
    let OrderEvent::HandlingClockStopped(stopped) = approved.last().unwrap() else {
        panic!("expected a stop, got {:?}", types(&approved))
    };
    assert_eq!(stopped.elapsed_seconds, 90 * 60 + 3600);
    assert!(stopped.within_target);
}

#[test]
fn warning_and_breach_are_recorded_once_dated_when_they_fell_due() {
    let mut run = Run::submitted();
    run.ok(
        sam(),
        paris("2026-11-27T17:45"),
        OrderAction::Assign {
            assignee: "sam".into(),
            assignee_is_group_shifter: true,
        },
    );
    let check = |run: &mut Run, at: &str| {
        run.ok(
            Principal::system("timer"),
            paris(at),
            OrderAction::CheckClocks,
        )
    };
    assert!(check(&mut run, "2026-11-30T15:29").is_empty());
    let warned = check(&mut run, "2026-11-30T15:30");
    assert_eq!(types(&warned), ["HandlingTargetAtRisk"]);
    assert!(check(&mut run, "2026-11-30T16:00").is_empty());
    // The timer was down past the deadline: the breach is dated at it.
    let breached = check(&mut run, "2026-12-01T09:10");
    let [OrderEvent::HandlingTargetBreached(breach)] = breached.as_slice() else {
        panic!("expected one breach, got {:?}", types(&breached))
    };
    assert_eq!(breach.at, paris("2026-11-30T17:30"));
    assert_eq!(breach.clock, HandlingClock::Decision);
    assert!(breach.cause.contains("decision"), "{}", breach.cause);
    assert!(check(&mut run, "2026-12-02T09:00").is_empty());
    // Deciding late: no second breach; the stop says it missed the target.
    let approved = run.ok(
        sam(),
        paris("2026-12-02T10:00"),
        OrderAction::Approve { note: None },
    );
    assert_eq!(types(&approved), ["OrderApproved", "HandlingClockStopped"]);
    let OrderEvent::HandlingClockStopped(stopped) = &approved[1] else {
        unreachable!()
    };
    assert!(stopped.reached && !stopped.within_target);
}

#[test]
fn a_late_decision_records_the_breach_first() {
    let mut run = Run::submitted();
    let rejected = run.ok(
        sam(),
        paris("2026-12-01T09:30"),
        OrderAction::Reject {
            reason: "no capacity".into(),
        },
    );
    assert_eq!(
        types(&rejected),
        [
            "HandlingTargetAtRisk",
            "HandlingTargetBreached",
            "HandlingTargetAtRisk",
            "HandlingTargetBreached",
            "OrderRejected",
            "HandlingClockStopped",
            "HandlingClockStopped"
        ]
    );
}

#[test]
fn cancelling_stops_every_clock_without_reaching_it() {
    let mut run = Run::submitted();
    let cancelled = run.ok(
        alice(),
        paris("2026-11-30T09:15"),
        OrderAction::Cancel { reason: None },
    );
    let stops: Vec<&HandlingClockStopped> = cancelled
        .iter()
        .filter_map(|e| match e {
            OrderEvent::HandlingClockStopped(s) => Some(s),
            _ => None,
        })
        .collect();
    assert_eq!(stops.len(), 2);
    assert!(stops.iter().all(|s| !s.reached && !s.within_target));
    assert!(stops.iter().all(|s| s.elapsed_seconds == 45 * 60));
}

#[test]
fn orders_without_targets_have_no_clocks() {
    let mut new = crate::orders::aggregate::tests::new_order();
    new.targets = None;
    let order = Order::default();
    let events = order
        .decide(OrderCommand {
            by: alice(),
            at: new.submitted_at,
            action: OrderAction::Submit(Box::new(new)),
        })
        .unwrap();
    assert_eq!(types(&events), ["OrderSubmitted"]);
}

#[test]
fn the_deadline_itself_is_the_first_instant_of_the_breach() {
    let mut on_time = Run::submitted();
    let approved = on_time.ok(
        sam(),
        paris("2026-11-30T17:29:59"),
        OrderAction::Approve { note: None },
    );
    assert!(!breached(&approved, HandlingClock::Decision));
    let OrderEvent::HandlingClockStopped(stopped) = approved.last().unwrap() else {
        unreachable!()
    };
    assert!(stopped.within_target);

    let mut at_deadline = Run::submitted();
    let approved = at_deadline.ok(
        sam(),
        paris("2026-11-30T17:30"),
        OrderAction::Approve { note: None },
    );
    assert!(breached(&approved, HandlingClock::Decision));
    let OrderEvent::HandlingClockStopped(stopped) = approved.last().unwrap() else {
        unreachable!()
    };
    assert_eq!(stopped.elapsed_seconds, stopped.target_seconds);
    assert!(!stopped.within_target);
}

fn breached(events: &[OrderEvent], clock: HandlingClock) -> bool {
    events
        .iter()
        .any(|e| matches!(e, OrderEvent::HandlingTargetBreached(b) if b.clock == clock))
}
