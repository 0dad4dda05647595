-- How far each relay has published the log to NATS JetStream (see ../sqlite/0005).
CREATE TABLE relay_checkpoints (
    name       TEXT   PRIMARY KEY,
    position   BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
