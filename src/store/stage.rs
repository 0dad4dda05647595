//! The check-and-stage step of a batch: for each command the writer takes from its
//! queue, whether it may be appended — its idempotency key first, then the sequence
//! each of its requests was decided at against the aggregate's head — and if so
//! the rows to insert: events numbered and hash-chained, stored responses,
//! attachments.
//!
//! Nothing here writes. What the batch does not know yet (a response stored before
//! it, the head of an aggregate no earlier command of the batch touched) is read
//! through [`Lookup`]: the writer's connection inside the batch's transaction, a
//! map in the tests below. Each command is checked against what the commands
//! before it in the batch staged, so two commands on one aggregate in one batch
//! chain, or conflict, exactly as if each had committed alone. A refused command
//! stages nothing and takes no position, so the log stays gap-free; the rest of
//! the batch goes on.

use std::collections::HashMap;

use pactum_events::RecordedEvent;

use super::{
    AppendError, AppendOutcome, AppendRequest, Attachment, IdempotentResponse, StoredResponse,
    recorded_hash,
};

/// An aggregate: (type, id).
pub(super) type AggregateKey = (String, String);

/// An idempotency key in its scope: (scope, key).
pub(super) type ResponseKey = (String, String);

/// The newest event of an aggregate: its sequence and hash (0 and "" when it has
/// none).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Head {
    pub(super) sequence: u64,
    pub(super) hash: String,
}

/// Rows to insert, in order.
#[derive(Debug, Default)]
pub(super) struct Staged {
    pub(super) events: Vec<RecordedEvent>,
    /// Whether each of `events` is history ([`AppendRequest::history`]).
    pub(super) history: Vec<bool>,
    /// Responses to store under (scope, key), with the instant (µs) they were recorded.
    pub(super) responses: Vec<(String, String, StoredResponse, i64)>,
    /// Documents to store, with the instant (µs) they were recorded.
    pub(super) attachments: Vec<(Attachment, i64)>,
}

impl Staged {
    fn take_from(&mut self, other: &mut Staged) {
        self.events.append(&mut other.events);
        self.history.append(&mut other.history);
        self.responses.append(&mut other.responses);
        self.attachments.append(&mut other.attachments);
    }
}

/// What the commands of one batch staged so far.
#[derive(Debug)]
pub(super) struct Batch {
    /// The position the next staged event gets. Positions are given here, in
    /// commit order; a refused command takes none.
    pub(super) next: u64,
    /// Heads of the aggregates the batch appended to.
    pub(super) heads: HashMap<AggregateKey, Head>,
    /// Responses the batch stores, by (scope, key).
    pub(super) responses: HashMap<ResponseKey, StoredResponse>,
    /// The rows not yet written.
    pub(super) staged: Staged,
}

impl Batch {
    /// An empty batch whose first event gets position `next`.
    pub(super) fn starting_at(next: u64) -> Self {
        Self {
            next,
            heads: HashMap::new(),
            responses: HashMap::new(),
            staged: Staged::default(),
        }
    }
}

/// What the check reads from the log when the batch does not know it.
pub(super) trait Lookup {
    /// The response stored under `key` in `scope` before this batch, if any.
    async fn stored_response(
        &mut self,
        scope: &str,
        key: &str,
    ) -> Result<Option<StoredResponse>, sqlx::Error>;

    /// The newest event of `aggregate` before this batch.
    async fn head(&mut self, aggregate: &AggregateKey) -> Result<Head, sqlx::Error>;
}

/// Checks one command (its requests, in order) against `batch` and, if none is
/// refused, stages it into `batch`. `known` holds heads the writer remembers from
/// earlier batches; heads read through `lookup` are added to it, even for a
/// command then refused. The inner error is the refusal of the command (the first
/// request refused), the outer one a failed lookup.
pub(super) async fn stage_command<L: Lookup>(
    lookup: &mut L,
    requests: &[AppendRequest],
    batch: &mut Batch,
    known: &mut HashMap<AggregateKey, Head>,
) -> Result<Result<Vec<AppendOutcome>, AppendError>, sqlx::Error> {
    let mut command = Command {
        next: batch.next,
        heads: HashMap::new(),
        responses: HashMap::new(),
        staged: Staged::default(),
    };
    let mut outcomes = Vec::with_capacity(requests.len());
    for request in requests {
        match check_and_stage(lookup, request, batch, known, &mut command).await? {
            Ok(outcome) => outcomes.push(outcome),
            Err(refused) => return Ok(Err(refused)),
        }
    }
    batch.next = command.next;
    batch.heads.extend(command.heads);
    batch.responses.extend(command.responses);
    batch.staged.take_from(&mut command.staged);
    Ok(Ok(outcomes))
}

/// One command's staging, kept apart until all its requests passed.
struct Command {
    next: u64,
    /// Heads moved by the command's earlier requests.
    heads: HashMap<AggregateKey, Head>,
    responses: HashMap<ResponseKey, StoredResponse>,
    staged: Staged,
}

/// Checks one request's idempotency key and expected sequence, and stages its
/// rows into `command`.
async fn check_and_stage<L: Lookup>(
    lookup: &mut L,
    request: &AppendRequest,
    batch: &Batch,
    known: &mut HashMap<AggregateKey, Head>,
    command: &mut Command,
) -> Result<Result<AppendOutcome, AppendError>, sqlx::Error> {
    if let Some(response) = &request.response {
        let scoped = (response.scope.clone(), response.key.clone());
        let stored = match command
            .responses
            .get(&scoped)
            .or_else(|| batch.responses.get(&scoped))
        {
            Some(stored) => Some(stored.clone()),
            None => {
                lookup
                    .stored_response(&response.scope, &response.key)
                    .await?
            }
        };
        if let Some(stored) = stored {
            return Ok(replay(response, stored));
        }
    }

    let key = (request.aggregate_type.clone(), request.aggregate_id.clone());
    let head = match command
        .heads
        .get(&key)
        .or_else(|| batch.heads.get(&key))
        .or_else(|| known.get(&key))
    {
        Some(head) => head.clone(),
        None => {
            let head = lookup.head(&key).await?;
            known.insert(key.clone(), head.clone());
            head
        }
    };
    let recorded = match record(request, &head, command.next) {
        Ok(recorded) => recorded,
        Err(conflict) => return Ok(Err(conflict)),
    };
    command.next += recorded.len() as u64;

    let recorded_at_us = request.meta.recorded_at.as_microsecond();
    command.staged.events.extend(recorded.iter().cloned());
    command
        .staged
        .history
        .extend(std::iter::repeat_n(request.history, recorded.len()));
    command.staged.attachments.extend(
        request
            .attachments
            .iter()
            .map(|attachment| (attachment.clone(), recorded_at_us)),
    );
    // A request that appends nothing stores no response: there is no position
    // to name.
    if let (Some(response), Some(last)) = (&request.response, recorded.last()) {
        let stored = StoredResponse {
            request_hash: response.request_hash.clone(),
            status: response.status,
            body: response.body.clone(),
            position: last.position,
        };
        let scoped = (response.scope.clone(), response.key.clone());
        command.responses.insert(scoped.clone(), stored.clone());
        command
            .staged
            .responses
            .push((scoped.0, scoped.1, stored, recorded_at_us));
    }
    let moved = match recorded.last() {
        Some(last) => Head {
            sequence: last.sequence,
            hash: last.hash.clone(),
        },
        None => head,
    };
    command.heads.insert(key, moved);
    Ok(Ok(AppendOutcome::Committed(recorded)))
}

/// The answer to a request whose key already has a stored response: that
/// response if the request is the same, a refusal if the key is reused for
/// another request.
fn replay(
    response: &IdempotentResponse,
    stored: StoredResponse,
) -> Result<AppendOutcome, AppendError> {
    if stored.request_hash != response.request_hash {
        return Err(AppendError::IdempotencyKeyReused {
            key: response.key.clone(),
        });
    }
    Ok(AppendOutcome::Replayed(stored))
}

/// The request's events as they will be recorded on an aggregate at `head`:
/// sequences after the head, positions from `first_position`, each hash chained
/// to the one before. A conflict if the request was decided at another sequence.
fn record(
    request: &AppendRequest,
    head: &Head,
    first_position: u64,
) -> Result<Vec<RecordedEvent>, AppendError> {
    if head.sequence != request.expected_sequence {
        return Err(AppendError::Conflict {
            aggregate_type: request.aggregate_type.clone(),
            aggregate_id: request.aggregate_id.clone(),
            expected: request.expected_sequence,
            actual: head.sequence,
        });
    }
    let meta = &request.meta;
    let mut prev_hash = head.hash.clone();
    let mut recorded = Vec::with_capacity(request.events.len());
    for (offset, event) in request.events.iter().enumerate() {
        let mut event = RecordedEvent {
            position: first_position + offset as u64,
            aggregate_type: request.aggregate_type.clone(),
            aggregate_id: request.aggregate_id.clone(),
            sequence: request.expected_sequence + 1 + offset as u64,
            event_type: event.event_type.clone(),
            schema_version: event.schema_version,
            recorded_at: meta.recorded_at,
            actor: meta.actor.clone(),
            correlation_id: meta.correlation_id.clone(),
            causation_id: meta.causation_id.clone(),
            idempotency_key: meta.idempotency_key.clone(),
            payload: event.payload.clone(),
            hash: String::new(),
        };
        event.hash = recorded_hash(&prev_hash, &event);
        prev_hash.clone_from(&event.hash);
        recorded.push(event);
    }
    Ok(recorded)
}

#[cfg(test)]
mod tests {
    use jiff::Timestamp;
    use pactum_events::Actor;
    use serde_json::json;

    use super::*;
    use crate::store::{EventMeta, NewEvent};

    /// The log before the batch: heads and stored responses, counting reads.
    #[derive(Default)]
    struct Log {
        heads: HashMap<AggregateKey, Head>,
        responses: HashMap<ResponseKey, StoredResponse>,
        head_reads: Vec<AggregateKey>,
        response_reads: Vec<ResponseKey>,
        broken: bool,
    }

    impl Lookup for Log {
        async fn stored_response(
            &mut self,
            scope: &str,
            key: &str,
        ) -> Result<Option<StoredResponse>, sqlx::Error> {
            let scoped = (scope.to_owned(), key.to_owned());
            self.response_reads.push(scoped.clone());
            if self.broken {
                return Err(sqlx::Error::Protocol("the database went away".into()));
            }
            Ok(self.responses.get(&scoped).cloned())
        }

        async fn head(&mut self, aggregate: &AggregateKey) -> Result<Head, sqlx::Error> {
            self.head_reads.push(aggregate.clone());
            if self.broken {
                return Err(sqlx::Error::Protocol("the database went away".into()));
            }
            Ok(self.heads.get(aggregate).cloned().unwrap_or_default())
        }
    }

    fn key(id: &str) -> AggregateKey {
        ("probe".to_owned(), id.to_owned())
    }

    /// `events` events for probe `id`, decided at `expected`.
    fn request(id: &str, expected: u64, events: usize) -> AppendRequest {
        AppendRequest {
            aggregate_type: "probe".into(),
            aggregate_id: id.into(),
            expected_sequence: expected,
            events: (0..events)
                .map(|n| NewEvent {
                    event_type: "Probed".into(),
                    schema_version: 1,
                    payload: json!({ "n": n }),
                })
                .collect(),
            meta: EventMeta {
                recorded_at: Timestamp::from_second(1_700_000_000).unwrap(),
                actor: Actor {
                    subject: "test".into(),
                    role: "system".into(),
                    org: None,
                },
                correlation_id: format!("{id}-{expected}"),
                causation_id: None,
                idempotency_key: None,
            },
            response: None,
            attachments: Vec::new(),
            history: false,
        }
    }

    /// `request` remembering a response under `key`, for a request hashed `hash`.
    fn keyed(mut request: AppendRequest, key: &str, hash: &str) -> AppendRequest {
        request.meta.idempotency_key = Some(key.into());
        request.response = Some(IdempotentResponse {
            scope: "tests".into(),
            key: key.into(),
            request_hash: hash.into(),
            status: 201,
            body: format!("{{\"for\":\"{hash}\"}}"),
        });
        request
    }

    async fn stage(
        log: &mut Log,
        batch: &mut Batch,
        known: &mut HashMap<AggregateKey, Head>,
        requests: &[AppendRequest],
    ) -> Result<Vec<AppendOutcome>, AppendError> {
        stage_command(log, requests, batch, known)
            .await
            .expect("the lookups work")
    }

    fn committed(outcome: &AppendOutcome) -> &[RecordedEvent] {
        match outcome {
            AppendOutcome::Committed(events) => events,
            AppendOutcome::Replayed(stored) => panic!("replayed {stored:?}"),
        }
    }

    fn positions_and_sequences(events: &[RecordedEvent]) -> Vec<(u64, u64)> {
        events.iter().map(|e| (e.position, e.sequence)).collect()
    }

    /// Asserts that each event's hash chains to `from`, then to the one before it.
    fn assert_chained(from: &str, events: &[RecordedEvent]) {
        let mut prev = from.to_owned();
        for event in events {
            assert_eq!(event.hash, recorded_hash(&prev, event), "{event:?}");
            prev.clone_from(&event.hash);
        }
    }

    #[tokio::test]
    async fn events_continue_the_log_at_the_aggregates_head() {
        let mut log = Log::default();
        let head = Head {
            sequence: 3,
            hash: "h3".into(),
        };
        log.heads.insert(key("a"), head.clone());
        let mut batch = Batch::starting_at(41);
        let mut known = HashMap::new();

        let outcomes = stage(&mut log, &mut batch, &mut known, &[request("a", 3, 2)])
            .await
            .unwrap();

        let events = committed(&outcomes[0]);
        assert_eq!(positions_and_sequences(events), [(41, 4), (42, 5)]);
        assert_chained("h3", events);
        assert_eq!(batch.next, 43);
        assert_eq!(batch.staged.events, events);
        assert_eq!(
            batch.heads[&key("a")],
            Head {
                sequence: 5,
                hash: events[1].hash.clone()
            }
        );
        assert_eq!(known[&key("a")], head, "the head read is remembered");
    }

    #[tokio::test]
    async fn requests_on_one_aggregate_in_one_command_chain_their_sequences() {
        let mut log = Log::default();
        let mut batch = Batch::starting_at(1);
        let mut known = HashMap::new();

        let outcomes = stage(
            &mut log,
            &mut batch,
            &mut known,
            &[request("a", 0, 2), request("b", 0, 1), request("a", 2, 1)],
        )
        .await
        .unwrap();

        let first = committed(&outcomes[0]);
        let third = committed(&outcomes[2]);
        assert_eq!(positions_and_sequences(first), [(1, 1), (2, 2)]);
        assert_eq!(positions_and_sequences(committed(&outcomes[1])), [(3, 1)]);
        assert_eq!(positions_and_sequences(third), [(4, 3)]);
        assert_chained(&first[1].hash, third);
        assert_eq!(log.head_reads, [key("a"), key("b")], "each head read once");
        assert_eq!(batch.staged.events.len(), 4);
        assert_eq!(batch.next, 5);
    }

    #[tokio::test]
    async fn a_later_command_in_the_batch_is_checked_against_what_earlier_ones_staged() {
        let mut log = Log::default();
        let mut batch = Batch::starting_at(1);
        let mut known = HashMap::new();
        stage(&mut log, &mut batch, &mut known, &[request("a", 0, 2)])
            .await
            .unwrap();

        // Decided on the aggregate as it was before the batch: lost the race.
        let refused = stage(&mut log, &mut batch, &mut known, &[request("a", 0, 1)]).await;
        assert!(
            matches!(
                refused,
                Err(AppendError::Conflict { expected: 0, actual: 2, ref aggregate_id, .. })
                    if aggregate_id == "a"
            ),
            "{refused:?}"
        );
        // Decided on the aggregate as the first command left it: follows it.
        let outcomes = stage(&mut log, &mut batch, &mut known, &[request("a", 2, 1)])
            .await
            .unwrap();
        let events = committed(&outcomes[0]);
        assert_eq!(positions_and_sequences(events), [(3, 3)]);
        assert_chained(&batch.staged.events[1].hash, events);
        assert_eq!(log.head_reads, [key("a")]);
    }

    #[tokio::test]
    async fn a_refused_command_stages_nothing_and_takes_no_position() {
        let mut log = Log::default();
        log.heads.insert(
            key("b"),
            Head {
                sequence: 7,
                hash: "h7".into(),
            },
        );
        let mut batch = Batch::starting_at(10);
        let mut known = HashMap::new();
        let mut first = request("a", 0, 1);
        first.attachments.push(Attachment {
            sha256: "d".into(),
            media_type: "application/pdf".into(),
            bytes: vec![1],
        });
        let refused = stage(
            &mut log,
            &mut batch,
            &mut known,
            &[
                keyed(first, "k", "h"),
                request("b", 6, 1),
                request("c", 0, 1),
            ],
        )
        .await;

        assert!(
            matches!(
                refused,
                Err(AppendError::Conflict {
                    expected: 6,
                    actual: 7,
                    ..
                })
            ),
            "{refused:?}"
        );
        assert_eq!(log.head_reads, [key("a"), key("b")], "stops at the refusal");
        assert_eq!(batch.next, 10);
        assert!(batch.staged.events.is_empty());
        assert!(batch.staged.responses.is_empty());
        assert!(batch.staged.attachments.is_empty());
        assert!(batch.heads.is_empty() && batch.responses.is_empty());
        assert_eq!(known.len(), 2, "heads read for it are still remembered");

        // The next command gets the positions the refused one did not take.
        let outcomes = stage(&mut log, &mut batch, &mut known, &[request("a", 0, 1)])
            .await
            .unwrap();
        assert_eq!(positions_and_sequences(committed(&outcomes[0])), [(10, 1)]);
    }

    #[tokio::test]
    async fn a_key_used_earlier_in_the_batch_replays_or_is_refused_for_another_request() {
        let mut log = Log::default();
        let mut batch = Batch::starting_at(1);
        let mut known = HashMap::new();
        let first = stage(
            &mut log,
            &mut batch,
            &mut known,
            &[keyed(request("a", 0, 2), "k", "same")],
        )
        .await
        .unwrap();
        assert_eq!(committed(&first[0]).len(), 2);
        let stored = StoredResponse {
            request_hash: "same".into(),
            status: 201,
            body: "{\"for\":\"same\"}".into(),
            position: 2,
        };
        assert_eq!(
            batch.staged.responses,
            [(
                "tests".to_owned(),
                "k".to_owned(),
                stored.clone(),
                1_700_000_000_000_000
            )]
        );

        // The same request again (a client retrying): the first answer, nothing
        // staged, not even a conflict on the aggregate that moved.
        let again = stage(
            &mut log,
            &mut batch,
            &mut known,
            &[keyed(request("a", 0, 2), "k", "same")],
        )
        .await
        .unwrap();
        assert!(matches!(&again[0], AppendOutcome::Replayed(s) if *s == stored));
        // The key reused for another request.
        let reused = stage(
            &mut log,
            &mut batch,
            &mut known,
            &[keyed(request("b", 0, 1), "k", "other")],
        )
        .await;
        assert!(
            matches!(&reused, Err(AppendError::IdempotencyKeyReused { key }) if key == "k"),
            "{reused:?}"
        );
        assert_eq!(batch.next, 3);
        assert_eq!(batch.staged.events.len(), 2);
        assert_eq!(batch.staged.responses.len(), 1);
        assert_eq!(log.response_reads.len(), 1, "the batch knew the key");
    }

    #[tokio::test]
    async fn a_key_reused_within_one_command_is_refused_as_a_whole() {
        let mut log = Log::default();
        let mut batch = Batch::starting_at(1);
        let mut known = HashMap::new();
        let refused = stage(
            &mut log,
            &mut batch,
            &mut known,
            &[
                keyed(request("a", 0, 1), "k", "one"),
                keyed(request("b", 0, 1), "k", "two"),
            ],
        )
        .await;
        assert!(
            matches!(&refused, Err(AppendError::IdempotencyKeyReused { .. })),
            "{refused:?}"
        );
        assert!(batch.staged.events.is_empty() && batch.responses.is_empty());
        assert_eq!(batch.next, 1);
    }

    #[tokio::test]
    async fn a_key_stored_before_the_batch_replays_without_reading_the_head() {
        let stored = StoredResponse {
            request_hash: "same".into(),
            status: 200,
            body: "{}".into(),
            position: 9,
        };
        let mut log = Log::default();
        log.responses
            .insert(("tests".into(), "k".into()), stored.clone());
        let mut batch = Batch::starting_at(12);
        let mut known = HashMap::new();

        let outcomes = stage(
            &mut log,
            &mut batch,
            &mut known,
            &[keyed(request("a", 0, 1), "k", "same")],
        )
        .await
        .unwrap();
        assert!(matches!(&outcomes[0], AppendOutcome::Replayed(s) if *s == stored));
        assert!(log.head_reads.is_empty());
        assert_eq!(batch.next, 12);

        let reused = stage(
            &mut log,
            &mut batch,
            &mut known,
            &[keyed(request("a", 0, 1), "k", "other")],
        )
        .await;
        assert!(matches!(
            reused,
            Err(AppendError::IdempotencyKeyReused { .. })
        ));
    }

    #[tokio::test]
    async fn a_request_appending_nothing_stores_no_response() {
        let mut log = Log::default();
        let mut batch = Batch::starting_at(1);
        let mut known = HashMap::new();
        let outcomes = stage(
            &mut log,
            &mut batch,
            &mut known,
            &[keyed(request("a", 0, 0), "k", "h")],
        )
        .await
        .unwrap();
        assert!(committed(&outcomes[0]).is_empty());
        assert!(batch.staged.responses.is_empty() && batch.responses.is_empty());
        assert_eq!(batch.next, 1);
        assert_eq!(batch.heads[&key("a")], Head::default());
    }

    #[tokio::test]
    async fn heads_the_writer_remembers_are_trusted_before_the_log() {
        let mut log = Log::default();
        log.heads.insert(
            key("a"),
            Head {
                sequence: 1,
                hash: "stale".into(),
            },
        );
        let mut known = HashMap::from([(
            key("a"),
            Head {
                sequence: 4,
                hash: "h4".into(),
            },
        )]);
        let mut batch = Batch::starting_at(20);
        let outcomes = stage(&mut log, &mut batch, &mut known, &[request("a", 4, 1)])
            .await
            .unwrap();
        let events = committed(&outcomes[0]);
        assert_eq!(positions_and_sequences(events), [(20, 5)]);
        assert_chained("h4", events);
        assert!(log.head_reads.is_empty());
    }

    #[tokio::test]
    async fn a_failed_lookup_is_a_storage_error_not_a_refusal() {
        let mut log = Log {
            broken: true,
            ..Log::default()
        };
        let mut batch = Batch::starting_at(1);
        let mut known = HashMap::new();
        let failed = stage_command(&mut log, &[request("a", 0, 1)], &mut batch, &mut known).await;
        assert!(
            matches!(failed, Err(sqlx::Error::Protocol(_))),
            "{failed:?}"
        );
        assert!(batch.staged.events.is_empty() && known.is_empty());
    }

    #[tokio::test]
    async fn attachments_and_responses_carry_the_commands_instant() {
        let mut log = Log::default();
        let mut batch = Batch::starting_at(1);
        let mut known = HashMap::new();
        let mut with_document = keyed(request("a", 0, 1), "k", "h");
        with_document.attachments.push(Attachment {
            sha256: "d".into(),
            media_type: "application/pdf".into(),
            bytes: vec![1, 2],
        });
        stage(&mut log, &mut batch, &mut known, &[with_document])
            .await
            .unwrap();
        let at = 1_700_000_000_000_000;
        assert_eq!(batch.staged.attachments.len(), 1);
        assert_eq!(batch.staged.attachments[0].0.sha256, "d");
        assert_eq!(batch.staged.attachments[0].1, at);
        assert_eq!(batch.staged.responses[0].3, at);
    }
}
