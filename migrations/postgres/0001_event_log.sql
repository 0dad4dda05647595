-- The event log: one row per event, the only source of truth.
-- `position` is the global position. It is not a sequence: a sequence value can
-- become visible after a larger one when writers on several nodes commit out of
-- order. Appends take a transaction-scoped advisory lock and number their events
-- MAX(position) + 1 under it, so positions are gap-free and commit-ordered
-- (docs/adr/0008).
CREATE TABLE events (
    position        BIGINT  PRIMARY KEY,
    aggregate_type  TEXT    NOT NULL,
    aggregate_id    TEXT    NOT NULL,
    sequence        BIGINT  NOT NULL CHECK (sequence >= 1),
    event_type      TEXT    NOT NULL,
    schema_version  BIGINT  NOT NULL,
    recorded_at     BIGINT  NOT NULL, -- microseconds since the Unix epoch, UTC
    actor_subject   TEXT    NOT NULL,
    actor_role      TEXT    NOT NULL,
    actor_org       TEXT,
    correlation_id  TEXT    NOT NULL,
    causation_id    TEXT,
    idempotency_key TEXT,
    payload         TEXT    NOT NULL, -- compact JSON, keys sorted
    hash            TEXT    NOT NULL, -- hex SHA-256 chained per aggregate
    UNIQUE (aggregate_type, aggregate_id, sequence)
);

-- Responses of commands sent with an Idempotency-Key, written in the same
-- transaction as the command's events: a retry returns the stored answer.
CREATE TABLE idempotency (
    scope        TEXT    NOT NULL, -- the caller's subject
    key          TEXT    NOT NULL,
    request_hash TEXT    NOT NULL, -- SHA-256 of method, path and body
    status       BIGINT  NOT NULL,
    body         TEXT    NOT NULL,
    position     BIGINT  NOT NULL, -- global position of the command's last event
    created_at   BIGINT  NOT NULL,
    PRIMARY KEY (scope, key)
);
