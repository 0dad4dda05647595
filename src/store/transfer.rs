//! The whole log as JSON lines, one [`RecordedEvent`] a line in position order:
//! `pactum export` writes it ([`export`]), `pactum import` reads it back into an
//! empty store ([`validate`], then [`insert`]).
//!
//! An export is the raw log: payloads as stored, at the schema version they were
//! written with (no upcasting), hashes included, so anyone holding one can
//! recompute the chains (`docs/adr/0003`) and an import restores the log exactly —
//! same positions, times and hashes; inline projections (the token table) are
//! rebuilt as the events go in. Both directions stream in batches: memory does
//! not grow with the log, except for one (sequence, hash) per aggregate while
//! importing.
//!
//! An import reads its input twice: [`validate`] checks all of it before
//! [`insert`] stores any of it, so a bad last line stores nothing.

use std::collections::HashMap;
use std::io::{self, BufRead, Write};

use pactum_events::RecordedEvent;

use super::{AppendError, EventStore, StoreError, recorded_hash};

/// Events per read while exporting, and per `EventStore::import` call.
pub const BATCH: usize = 1000;

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot write the export: {0}")]
    Write(#[from] io::Error),
}

/// Writes every event up to the head position at the start, in position order,
/// one JSON object a line; calls `progress` with the last position written after
/// each batch. Returns how many events were written.
#[tracing::instrument(skip_all)]
pub async fn export<W: Write>(
    store: &EventStore,
    mut out: W,
    mut progress: impl FnMut(u64),
) -> Result<u64, ExportError> {
    // Stop at the head as of now: with a single writer the positions up to it
    // are a committed, consistent prefix, and appends meanwhile cannot make the
    // export run on forever.
    let until = store.head();
    let mut after = 0;
    let mut written = 0;
    while after < until {
        let batch = store.read_after(after, BATCH as u32).await?;
        let Some(last) = batch.last() else { break };
        after = last.position;
        for event in batch.iter().filter(|e| e.position <= until) {
            serde_json::to_writer(&mut out, event).map_err(io::Error::from)?;
            out.write_all(b"\n")?;
            written += 1;
        }
        progress(after.min(until));
    }
    out.flush()?;
    Ok(written)
}

/// Why a line of an import is refused.
#[derive(Debug, thiserror::Error)]
pub enum LineProblem {
    #[error("not UTF-8 text")]
    NotText,
    #[error("not a recorded event: {0}")]
    Json(#[from] serde_json::Error),
    #[error("position {found} where {expected} was expected: positions run 1, 2, 3… without gaps")]
    Position { found: u64, expected: u64 },
    #[error(
        "position {position} ({aggregate_type} {aggregate_id}): sequence {found} where {expected} was expected"
    )]
    Sequence {
        position: u64,
        aggregate_type: String,
        aggregate_id: String,
        found: u64,
        expected: u64,
    },
    #[error(
        "position {position} ({aggregate_type} {aggregate_id} sequence {sequence}): hash does not match its contents or its predecessor"
    )]
    Hash {
        position: u64,
        aggregate_type: String,
        aggregate_id: String,
        sequence: u64,
    },
    #[error("position {position}: this build cannot read it: {reason}")]
    Unreadable { position: u64, reason: String },
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(
        "the store already holds events (head position {head}); import only into an empty store"
    )]
    NotEmpty { head: u64 },
    #[error("line {line}: {problem}")]
    Line { line: u64, problem: LineProblem },
    #[error("cannot read the input: {0}")]
    Read(io::Error),
    #[error("cannot open the store: {0}")]
    Store(#[from] sqlx::Error),
    /// The second pass stopped part way: a read failed, or the input no longer
    /// matched what the first pass validated.
    #[error(
        "{reason}; the store holds positions 1..={stored} and is incomplete: \
         remove it before importing again"
    )]
    Interrupted { reason: String, stored: u64 },
    #[error(
        "storing failed after positions 1..={stored}: {source}; the store is incomplete: \
         remove it before importing again"
    )]
    Insert { stored: u64, source: AppendError },
    /// The log is restored, but a read model could not be built from it.
    #[error(
        "the log is restored, but building its read models failed: {0}; \
         run `pactum replay` (or `pactum serve`, which builds them) once fixed"
    )]
    ReadModels(String),
}

/// Checks a log, event by event in file order: positions 1, 2, 3…, and each
/// aggregate's chain (sequence and hash) as in `docs/adr/0003`.
#[derive(Debug)]
pub struct Validator {
    next_position: u64,
    /// Per aggregate: its last sequence and hash.
    heads: HashMap<(String, String), (u64, String)>,
}

impl Default for Validator {
    fn default() -> Self {
        Self {
            next_position: 1,
            heads: HashMap::new(),
        }
    }
}

impl Validator {
    /// Checks `event` as the next one of the log, and takes it in if it fits.
    pub fn check(&mut self, event: &RecordedEvent) -> Result<(), LineProblem> {
        if event.position != self.next_position {
            return Err(LineProblem::Position {
                found: event.position,
                expected: self.next_position,
            });
        }
        let key = (event.aggregate_type.clone(), event.aggregate_id.clone());
        let (last_sequence, last_hash) = self
            .heads
            .get(&key)
            .map_or((0, ""), |(sequence, hash)| (*sequence, hash.as_str()));
        if event.sequence != last_sequence + 1 {
            return Err(LineProblem::Sequence {
                position: event.position,
                aggregate_type: event.aggregate_type.clone(),
                aggregate_id: event.aggregate_id.clone(),
                found: event.sequence,
                expected: last_sequence + 1,
            });
        }
        if recorded_hash(last_hash, event) != event.hash {
            return Err(LineProblem::Hash {
                position: event.position,
                aggregate_type: event.aggregate_type.clone(),
                aggregate_id: event.aggregate_id.clone(),
                sequence: event.sequence,
            });
        }
        self.heads.insert(key, (event.sequence, event.hash.clone()));
        self.next_position += 1;
        Ok(())
    }

    /// How many events were taken in.
    pub fn events(&self) -> u64 {
        self.next_position - 1
    }
}

/// Reads events from JSON lines, skipping blank lines, counting lines and bytes.
struct Lines<R> {
    input: R,
    line: u64,
    bytes: u64,
    buf: String,
}

impl<R: BufRead> Lines<R> {
    fn new(input: R) -> Self {
        Self {
            input,
            line: 0,
            bytes: 0,
            buf: String::new(),
        }
    }

    fn next_event(&mut self) -> Result<Option<RecordedEvent>, ImportError> {
        loop {
            self.buf.clear();
            self.line += 1;
            let read = match self.input.read_line(&mut self.buf) {
                Ok(read) => read,
                Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                    return Err(self.refuse(LineProblem::NotText));
                }
                Err(e) => return Err(ImportError::Read(e)),
            };
            if read == 0 {
                return Ok(None);
            }
            self.bytes += read as u64;
            if self.buf.trim().is_empty() {
                continue;
            }
            return serde_json::from_str(&self.buf)
                .map(Some)
                .map_err(|e| self.refuse(e.into()));
        }
    }

    fn refuse(&self, problem: LineProblem) -> ImportError {
        ImportError::Line {
            line: self.line,
            problem,
        }
    }
}

/// First pass of an import: checks every line of `input` (see [`Validator`]) and
/// that `store`'s inline projections can fold each event, storing nothing.
/// Calls `progress` with the bytes read so far. Returns the number of events.
///
/// Blocking I/O: run it off the async executor.
pub fn validate(
    store: &EventStore,
    input: impl BufRead,
    mut progress: impl FnMut(u64),
) -> Result<u64, ImportError> {
    let mut lines = Lines::new(input);
    let mut validator = Validator::default();
    while let Some(event) = lines.next_event()? {
        validator
            .check(&event)
            .and_then(|()| {
                store
                    .check_inline(&event)
                    .map_err(|reason| LineProblem::Unreadable {
                        position: event.position,
                        reason,
                    })
            })
            .map_err(|problem| lines.refuse(problem))?;
        if validator.events() % BATCH as u64 == 0 {
            progress(lines.bytes);
        }
    }
    progress(lines.bytes);
    Ok(validator.events())
}

/// Second pass of an import: stores the events of `input`, which [`validate`]
/// found to hold `expected` events, in batches through [`EventStore::import`]
/// (positions, times and hashes kept; inline projections applied). Checks each
/// event again, so a file changed between the passes is noticed. Calls `progress`
/// with the events stored so far. Returns how many were stored.
#[tracing::instrument(skip(store, input, progress))]
pub async fn insert(
    store: &EventStore,
    input: impl BufRead,
    expected: u64,
    mut progress: impl FnMut(u64),
) -> Result<u64, ImportError> {
    if !store.is_empty().await? {
        return Err(ImportError::NotEmpty { head: store.head() });
    }
    let mut lines = Lines::new(input);
    let mut validator = Validator::default();
    let mut stored = 0;
    let mut batch = Vec::with_capacity(BATCH);
    let interrupted = |error: ImportError, stored| ImportError::Interrupted {
        reason: match error {
            ImportError::Line { .. } => {
                format!("the input changed after it was validated: {error}")
            }
            other => other.to_string(),
        },
        stored,
    };
    loop {
        // Reading blocks between awaits: a file read is short, and the writer runs
        // on its own task.
        let next = lines
            .next_event()
            .map_err(|error| interrupted(error, stored))?;
        let done = next.is_none();
        if let Some(event) = next {
            validator
                .check(&event)
                .map_err(|problem| interrupted(lines.refuse(problem), stored))?;
            batch.push(event);
        }
        if batch.len() == BATCH || (done && !batch.is_empty()) {
            let count = batch.len() as u64;
            store
                .import(std::mem::replace(&mut batch, Vec::with_capacity(BATCH)))
                .await
                .map_err(|source| ImportError::Insert { stored, source })?;
            stored += count;
            progress(stored);
        }
        if done {
            break;
        }
    }
    if stored != expected {
        return Err(ImportError::Interrupted {
            reason: format!(
                "the input changed after it was validated: {stored} events now, {expected} before"
            ),
            stored,
        });
    }
    Ok(stored)
}
