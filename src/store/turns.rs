//! Turns on an aggregate: commands on one aggregate in this process take turns,
//! so that each is decided on what the one before it wrote instead of racing it
//! to the append and losing with a conflict. Commands on different aggregates
//! never wait for each other. Other processes (nodes on PostgreSQL) still race,
//! and the optimistic check on the aggregate's sequence still decides those.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, Weak};

use tokio::sync::OwnedMutexGuard;

type Key = (String, String);

/// One async lock per aggregate that some command holds or waits for.
#[derive(Debug, Default)]
pub struct AggregateTurns {
    locks: Mutex<HashMap<Key, Weak<tokio::sync::Mutex<()>>>>,
}

/// Held while a command runs; the next one's turn comes when it is dropped.
pub type Turn = OwnedMutexGuard<()>;

/// Entries kept before the dead ones are swept out.
const SWEEP_AT: usize = 1_024;

impl AggregateTurns {
    /// Waits for the turn on aggregate `id` of `kind`.
    pub async fn take(&self, kind: &str, id: &str) -> Turn {
        let lock = {
            let mut locks = self.locks.lock().unwrap_or_else(PoisonError::into_inner);
            let key = (kind.to_owned(), id.to_owned());
            match locks.get(&key).and_then(Weak::upgrade) {
                Some(lock) => lock,
                None => {
                    if locks.len() >= SWEEP_AT {
                        locks.retain(|_, lock| lock.strong_count() > 0);
                    }
                    let lock = Arc::new(tokio::sync::Mutex::new(()));
                    locks.insert(key, Arc::downgrade(&lock));
                    lock
                }
            }
        };
        lock.lock_owned().await
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.locks.lock().unwrap().len()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn one_aggregate_one_turn_at_a_time_others_never_wait() {
        let turns = Arc::new(AggregateTurns::default());
        let first = turns.take("order", "a").await;
        let waiting = tokio::spawn({
            let turns = Arc::clone(&turns);
            async move { turns.take("order", "a").await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiting.is_finished(), "the second command waits its turn");
        // Another aggregate does not wait.
        drop(turns.take("order", "b").await);
        drop(first);
        drop(waiting.await.unwrap());
    }

    #[tokio::test]
    async fn turns_nobody_holds_are_swept() {
        let turns = AggregateTurns::default();
        for n in 0..(SWEEP_AT + 10) {
            drop(turns.take("order", &n.to_string()).await);
        }
        assert!(turns.len() <= SWEEP_AT, "{}", turns.len());
    }
}
