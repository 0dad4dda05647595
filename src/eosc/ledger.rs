//! The `eosc` aggregate: what the adapter remembers of one OMS, as events
//! (`pactum_events::eosc`). The sync keeps it in memory, appends through it
//! and folds what it appended; [`Ledger::decide`] refuses what was done
//! already, so a repeated Marketplace event or a re-read stretch of the log
//! appends nothing.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use cqrs_es::Aggregate;
use cqrs_es::event_sink::EventSink;
use jiff::Timestamp;
use pactum_events::eosc::{
    EoscEvent, EoscFeedRead, EoscItemLinked, EoscItemUnmapped, EoscLogFollowed,
    EoscMessageImported, EoscPushed, Push,
};
use serde::{Deserialize, Serialize};

/// A project item: its project's id and its own id within the project.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ItemKey {
    pub project_id: u64,
    pub project_item_id: u64,
}

impl std::fmt::Display for ItemKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.project_id, self.project_item_id)
    }
}

/// What is known of one project item.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ItemState {
    /// The order it became.
    pub order_id: Option<String>,
    /// Why it could not, and under which mapping (its fingerprint).
    pub unmapped: Option<(Vec<String>, String)>,
    /// The newest customer message imported from the item (reading its
    /// messages resumes after it).
    pub last_imported: u64,
    /// The newest message pactum posted on the item.
    pub last_posted: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Ledger {
    /// How far the Marketplace's events feed was read.
    pub cursor: Option<Timestamp>,
    /// Following the log resumes after this position.
    pub followed: u64,
    pub items: BTreeMap<ItemKey, ItemState>,
    /// Order id → item.
    pub orders: HashMap<String, ItemKey>,
    /// Pushes done whose cause lies after `followed` (those before it need
    /// no remembering: following never reads them again).
    pub pushed: BTreeSet<(u64, String)>,
    /// Messages pactum posted: read back in the feed, they are not imported.
    pub posted: BTreeSet<u64>,
    /// Messages imported (or refused by their order).
    pub imported: BTreeSet<u64>,
}

/// What the sync records.
#[derive(Clone, Debug, PartialEq)]
pub enum LedgerCommand {
    ReadFeed(Timestamp),
    Link(EoscItemLinked),
    Unmapped(EoscItemUnmapped),
    ImportMessage(EoscMessageImported),
    Pushed(EoscPushed),
    Follow(u64),
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LedgerError {
    #[error("project item {item} is order {order_id} already")]
    AlreadyLinked { item: ItemKey, order_id: String },
    #[error("order {order_id} is linked to project item {item} already")]
    OrderLinked { item: ItemKey, order_id: String },
    #[error("message {message_id} was imported already")]
    AlreadyImported { message_id: u64 },
}

impl Ledger {
    pub fn item(&self, key: ItemKey) -> Option<&ItemState> {
        self.items.get(&key)
    }

    /// The order an item became.
    pub fn order_of(&self, key: ItemKey) -> Option<&str> {
        self.items.get(&key)?.order_id.as_deref()
    }

    /// The item an order came from.
    pub fn item_of(&self, order_id: &str) -> Option<ItemKey> {
        self.orders.get(order_id).copied()
    }

    pub fn was_pushed(&self, cause: u64, kind: &str) -> bool {
        self.pushed.contains(&(cause, kind.to_owned()))
    }

    /// Whether any item became an order: with none, there is nothing to
    /// follow the log for.
    pub fn has_orders(&self) -> bool {
        !self.orders.is_empty()
    }

    /// Whether a message on the Marketplace is one pactum posted, or imported.
    pub fn knows_message(&self, message_id: u64) -> bool {
        self.posted.contains(&message_id) || self.imported.contains(&message_id)
    }

    /// The event `command` records, `None` when it records nothing new (a
    /// repeat), or why it is refused. Pure, on the state as it is: the sync
    /// appends the event and folds it only once it is committed.
    pub fn decide(&self, command: LedgerCommand) -> Result<Option<EoscEvent>, LedgerError> {
        let event = match command {
            LedgerCommand::ReadFeed(timestamp) => {
                if self.cursor.is_some_and(|cursor| cursor >= timestamp) {
                    return Ok(None);
                }
                EoscEvent::EoscFeedRead(EoscFeedRead { timestamp })
            }
            LedgerCommand::Link(link) => {
                let item = ItemKey {
                    project_id: link.project_id,
                    project_item_id: link.project_item_id,
                };
                if let Some(order_id) = self.order_of(item) {
                    return Err(LedgerError::AlreadyLinked {
                        item,
                        order_id: order_id.to_owned(),
                    });
                }
                if let Some(item) = self.item_of(&link.order_id) {
                    return Err(LedgerError::OrderLinked {
                        item,
                        order_id: link.order_id,
                    });
                }
                EoscEvent::EoscItemLinked(link)
            }
            LedgerCommand::Unmapped(unmapped) => {
                let item = ItemKey {
                    project_id: unmapped.project_id,
                    project_item_id: unmapped.project_item_id,
                };
                if let Some(order_id) = self.order_of(item) {
                    return Err(LedgerError::AlreadyLinked {
                        item,
                        order_id: order_id.to_owned(),
                    });
                }
                let known = self.item(item).and_then(|state| state.unmapped.as_ref());
                if known.is_some_and(|(_, mapping)| *mapping == unmapped.mapping) {
                    return Ok(None);
                }
                EoscEvent::EoscItemUnmapped(unmapped)
            }
            LedgerCommand::ImportMessage(imported) => {
                if self.knows_message(imported.message_id) {
                    return Err(LedgerError::AlreadyImported {
                        message_id: imported.message_id,
                    });
                }
                EoscEvent::EoscMessageImported(imported)
            }
            LedgerCommand::Pushed(pushed) => {
                if pushed.cause <= self.followed
                    || self.was_pushed(pushed.cause, pushed.push.kind())
                {
                    return Ok(None);
                }
                EoscEvent::EoscPushed(pushed)
            }
            LedgerCommand::Follow(position) => {
                if position <= self.followed {
                    return Ok(None);
                }
                EoscEvent::EoscLogFollowed(EoscLogFollowed { position })
            }
        };
        Ok(Some(event))
    }
}

impl Aggregate for Ledger {
    const TYPE: &'static str = "eosc";
    type Command = LedgerCommand;
    type Event = EoscEvent;
    type Error = LedgerError;
    type Services = ();

    async fn handle(
        &mut self,
        command: LedgerCommand,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), LedgerError> {
        if let Some(event) = self.decide(command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: EoscEvent) {
        match event {
            EoscEvent::EoscFeedRead(read) => self.cursor = Some(read.timestamp),
            EoscEvent::EoscItemLinked(link) => {
                let key = ItemKey {
                    project_id: link.project_id,
                    project_item_id: link.project_item_id,
                };
                let item = self.items.entry(key).or_default();
                item.order_id = Some(link.order_id.clone());
                item.unmapped = None;
                self.orders.insert(link.order_id, key);
            }
            EoscEvent::EoscItemUnmapped(unmapped) => {
                let key = ItemKey {
                    project_id: unmapped.project_id,
                    project_item_id: unmapped.project_item_id,
                };
                let item = self.items.entry(key).or_default();
                item.unmapped = Some((unmapped.problems, unmapped.mapping));
                if let Some(id) = unmapped.message_id {
                    self.posted.insert(id);
                    item.last_posted = item.last_posted.max(id);
                }
            }
            EoscEvent::EoscMessageImported(imported) => {
                let key = ItemKey {
                    project_id: imported.project_id,
                    project_item_id: imported.project_item_id,
                };
                let item = self.items.entry(key).or_default();
                item.last_imported = item.last_imported.max(imported.message_id);
                self.imported.insert(imported.message_id);
            }
            EoscEvent::EoscPushed(pushed) => {
                let key = ItemKey {
                    project_id: pushed.project_id,
                    project_item_id: pushed.project_item_id,
                };
                if let Push::Message { message_id, .. } = &pushed.push {
                    self.posted.insert(*message_id);
                    let item = self.items.entry(key).or_default();
                    item.last_posted = item.last_posted.max(*message_id);
                }
                if pushed.cause > self.followed {
                    self.pushed
                        .insert((pushed.cause, pushed.push.kind().to_owned()));
                }
            }
            EoscEvent::EoscLogFollowed(followed) => {
                self.followed = self.followed.max(followed.position);
                let keep = self.pushed.split_off(&(self.followed + 1, String::new()));
                self.pushed = keep;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use cqrs_es::test::TestFramework;

    use super::*;

    fn link(item: u64, order: &str) -> EoscItemLinked {
        EoscItemLinked {
            project_id: 1,
            project_item_id: item,
            order_id: order.into(),
        }
    }

    fn pushed(cause: u64) -> EoscPushed {
        EoscPushed {
            cause,
            order_id: "o1".into(),
            project_id: 1,
            project_item_id: 1,
            push: Push::Status {
                status_type: "registered".into(),
                value: "Order registered".into(),
            },
        }
    }

    #[test]
    fn an_item_becomes_one_order_once() {
        TestFramework::<Ledger>::with(())
            .given(vec![EoscEvent::EoscItemLinked(link(1, "o1"))])
            .when(LedgerCommand::Link(link(1, "o2")))
            .then_expect_error(LedgerError::AlreadyLinked {
                item: ItemKey {
                    project_id: 1,
                    project_item_id: 1,
                },
                order_id: "o1".into(),
            });
        TestFramework::<Ledger>::with(())
            .given(vec![EoscEvent::EoscItemLinked(link(1, "o1"))])
            .when(LedgerCommand::Link(link(2, "o2")))
            .then_expect_events(vec![EoscEvent::EoscItemLinked(link(2, "o2"))]);
    }

    #[test]
    fn a_push_is_recorded_once_and_forgotten_once_followed() {
        TestFramework::<Ledger>::with(())
            .given(vec![EoscEvent::EoscPushed(pushed(5))])
            .when(LedgerCommand::Pushed(pushed(5)))
            .then_expect_events(vec![]);
        TestFramework::<Ledger>::with(())
            .given(vec![EoscEvent::EoscLogFollowed(EoscLogFollowed {
                position: 9,
            })])
            .when(LedgerCommand::Pushed(pushed(5)))
            .then_expect_events(vec![]);
        let mut ledger = Ledger::default();
        ledger.apply(EoscEvent::EoscPushed(pushed(5)));
        ledger.apply(EoscEvent::EoscPushed(pushed(12)));
        ledger.apply(EoscEvent::EoscLogFollowed(EoscLogFollowed { position: 9 }));
        assert!(!ledger.was_pushed(5, "status"));
        assert!(ledger.was_pushed(12, "status"));
    }

    #[test]
    fn the_cursor_only_moves_forward() {
        let at = |s: &str| s.parse::<Timestamp>().unwrap();
        TestFramework::<Ledger>::with(())
            .given(vec![EoscEvent::EoscFeedRead(EoscFeedRead {
                timestamp: at("2026-03-01T10:00:05Z"),
            })])
            .when(LedgerCommand::ReadFeed(at("2026-03-01T10:00:05Z")))
            .then_expect_events(vec![]);
    }

    #[test]
    fn messages_posted_or_imported_are_known() {
        let mut ledger = Ledger::default();
        ledger.apply(EoscEvent::EoscPushed(EoscPushed {
            push: Push::Message {
                message_id: 40,
                scope: "public".into(),
            },
            ..pushed(3)
        }));
        assert!(ledger.knows_message(40));
        let item = ItemKey {
            project_id: 1,
            project_item_id: 1,
        };
        assert_eq!(ledger.item(item).unwrap().last_posted, 40);
        TestFramework::<Ledger>::with(())
            .given(vec![EoscEvent::EoscMessageImported(EoscMessageImported {
                project_id: 1,
                project_item_id: 1,
                message_id: 41,
                order_id: "o1".into(),
                imported_as: "comment".into(),
            })])
            .when(LedgerCommand::ImportMessage(EoscMessageImported {
                project_id: 1,
                project_item_id: 1,
                message_id: 41,
                order_id: "o1".into(),
                imported_as: "answer".into(),
            }))
            .then_expect_error(LedgerError::AlreadyImported { message_id: 41 });
    }
}
