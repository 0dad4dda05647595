-- How far each relay has published the log to NATS JetStream (`pactum relay`):
-- `name` is the stream's name, `position` the global position of the last event
-- whose publish the server acknowledged. A relay resumes after it (or earlier, when
-- the stream turns out to hold less: nats-server 2.9 acknowledges before its disk
-- does), re-publishing harmlessly thanks to Nats-Msg-Id de-duplication.
CREATE TABLE relay_checkpoints (
    name       TEXT    PRIMARY KEY,
    position   INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
