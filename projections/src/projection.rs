//! What a projection is: a name, a version, the event types it reads, its table, and
//! a fold from one event and the row it touches to that row's next state.
//!
//! Projections here are storage-agnostic: a table is described by a [`TableSpec`]
//! and rows travel as [`Column`] values, so the server can keep them in SQLite
//! today and PostgreSQL later, build a fresh copy of the tables for a new version,
//! and apply a batch of events with every touched row read once and written once.

use jiff::Timestamp;
use pactum_events::Actor;

/// One value of a row, as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Column {
    Null,
    Int(i64),
    Text(String),
}

impl Column {
    pub fn text(value: impl Into<String>) -> Self {
        Self::Text(value.into())
    }

    pub fn opt_text(value: Option<impl Into<String>>) -> Self {
        value.map_or(Self::Null, |v| Self::Text(v.into()))
    }

    pub fn opt_int(value: Option<i64>) -> Self {
        value.map_or(Self::Null, Self::Int)
    }

    /// The text, if this is text (for `row_from_columns`).
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Self::Text(v) => Some(v),
            _ => None,
        }
    }

    /// The integer, if this is one (for `row_from_columns`).
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Self::Int(v) => Some(*v),
            _ => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColumnKind {
    Text,
    Integer,
}

#[derive(Clone, Copy, Debug)]
pub struct ColumnSpec {
    pub name: &'static str,
    pub kind: ColumnKind,
    pub nullable: bool,
}

/// A column of a [`TableSpec`], for the tables' `static` declarations.
pub const fn column(name: &'static str, kind: ColumnKind, nullable: bool) -> ColumnSpec {
    ColumnSpec {
        name,
        kind,
        nullable,
    }
}

/// A projection's table: a text primary key, its other columns (in the order of
/// [`Projection::row_to_columns`]) and the indexes its queries need.
#[derive(Clone, Copy, Debug)]
pub struct TableSpec {
    pub key: &'static str,
    pub columns: &'static [ColumnSpec],
    /// Each index is a list of column names (the key may be last, for keysets).
    pub indexes: &'static [&'static [&'static str]],
}

/// Why a projection could not apply an event. The batch is rolled back and
/// retried; an event that never applies stalls the projection (and says so in
/// the logs and in `pactum projections`) rather than being skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplyError(pub String);

impl std::fmt::Display for ApplyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ApplyError {}

/// The usual [`Projection::decode`]: the stored payload of `envelope`'s event
/// type and schema version, upcast to the current version.
pub fn decode_stored<E: pactum_events::EventPayload>(
    envelope: &Envelope,
    payload: &str,
) -> Result<E, ApplyError> {
    Ok(E::decode_str(
        &envelope.event_type,
        envelope.schema_version,
        payload,
    )?)
}

impl From<pactum_events::DecodeError> for ApplyError {
    fn from(error: pactum_events::DecodeError) -> Self {
        Self(error.to_string())
    }
}

/// A stored event's envelope as a projection sees it: everything the log records
/// about the event but its payload (decoded into [`Projection::Event`]) and its
/// hash (the store's business).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope {
    /// Global position: gap-free, in commit order, starting at 1.
    pub position: u64,
    pub aggregate_type: String,
    pub aggregate_id: String,
    /// The aggregate's sequence number, starting at 1.
    pub sequence: u64,
    pub event_type: String,
    pub schema_version: u32,
    pub recorded_at: Timestamp,
    pub actor: Actor,
}

impl From<&pactum_events::RecordedEvent> for Envelope {
    fn from(event: &pactum_events::RecordedEvent) -> Self {
        Self {
            position: event.position,
            aggregate_type: event.aggregate_type.clone(),
            aggregate_id: event.aggregate_id.clone(),
            sequence: event.sequence,
            event_type: event.event_type.clone(),
            schema_version: event.schema_version,
            recorded_at: event.recorded_at,
            actor: event.actor.clone(),
        }
    }
}

/// Which events a projection reads. The projector asks the log for these only,
/// so a projection of rare events replays without reading the others' payloads.
#[derive(Clone, Copy, Debug)]
pub enum EventTypes {
    /// Every event, whatever its type.
    All,
    /// Events of these types.
    Only(&'static [&'static str]),
}

impl EventTypes {
    pub fn contains(self, event_type: &str) -> bool {
        match self {
            Self::All => true,
            Self::Only(types) => types.contains(&event_type),
        }
    }
}

/// A read model maintained from the log. Each event touches at most one row,
/// found by [`Projection::key`].
pub trait Projection: Send + Sync + 'static {
    /// The decoded events this projection reads.
    type Event: pactum_events::EventPayload + Send + Sync + 'static;
    /// One row of its table.
    type Row: Clone + std::fmt::Debug + PartialEq + Send + Sync + 'static;

    /// Stable name; tables are named after it.
    fn name(&self) -> &'static str;

    /// Bumped whenever the fold or the table changes: the server then rebuilds the
    /// projection into fresh tables and swaps them in when caught up.
    fn version(&self) -> u32;

    /// The event types it reads; every other event is skipped without being read.
    fn event_types(&self) -> EventTypes;

    fn table(&self) -> &'static TableSpec;

    /// Decodes the payload (stored JSON text) of an event of one of
    /// [`Projection::event_types`], upcasting old schema versions.
    fn decode(&self, envelope: &Envelope, payload: &str) -> Result<Self::Event, ApplyError> {
        decode_stored(envelope, payload)
    }

    /// The key of the row `event` touches: by default the aggregate's id (one
    /// row per aggregate).
    fn key(&self, envelope: &Envelope, _event: &Self::Event) -> String {
        envelope.aggregate_id.clone()
    }

    /// The row after `event`: `None` deletes it.
    fn apply(
        &self,
        row: Option<Self::Row>,
        envelope: &Envelope,
        event: &Self::Event,
    ) -> Result<Option<Self::Row>, ApplyError>;

    /// The row's columns, in [`TableSpec::columns`] order (without the key).
    fn row_to_columns(&self, row: &Self::Row) -> Vec<Column>;

    /// Rebuilds a row from its key and columns as [`Projection::row_to_columns`] wrote them.
    fn row_from_columns(&self, key: String, columns: Vec<Column>) -> Result<Self::Row, ApplyError>;
}
