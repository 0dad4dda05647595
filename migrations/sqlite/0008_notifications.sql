-- Notifications: the outbox (one row per mail, written by an inline projection in
-- the same transaction as the event that caused it), what the projection needs
-- to address mails (each order's customer, group and assignee), opt-outs, and
-- the e-mail address a token may carry.
CREATE TABLE outbox (
    id               TEXT PRIMARY KEY,
    position         INTEGER NOT NULL,
    kind             TEXT NOT NULL,
    order_id         TEXT,
    recipient        TEXT NOT NULL,
    subject_line     TEXT NOT NULL,
    body             TEXT NOT NULL,
    created_at       INTEGER NOT NULL,
    status           TEXT NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER,
    delivered_at     INTEGER,
    last_error       TEXT
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);

CREATE TABLE notification_orders (
    order_id          TEXT PRIMARY KEY,
    customer_subject  TEXT NOT NULL,
    group_id          TEXT NOT NULL,
    service           TEXT NOT NULL,
    title             TEXT,
    assignee          TEXT
);

CREATE TABLE notification_opt_outs (
    subject TEXT NOT NULL,
    kind    TEXT NOT NULL,
    PRIMARY KEY (subject, kind)
);

ALTER TABLE access_tokens ADD COLUMN email TEXT;
