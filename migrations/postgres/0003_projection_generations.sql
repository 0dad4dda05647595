-- Every generation of every projection (see ../sqlite/0003 for the life cycle).
CREATE TABLE projection_generations (
    name       TEXT    NOT NULL,
    generation BIGINT  NOT NULL,
    version    BIGINT  NOT NULL,
    state      TEXT    NOT NULL CHECK (state IN ('building', 'live', 'retired')),
    checkpoint BIGINT  NOT NULL DEFAULT 0,
    created_at BIGINT  NOT NULL,
    live_at    BIGINT,
    PRIMARY KEY (name, generation)
);

CREATE UNIQUE INDEX projection_generations_one_live
    ON projection_generations (name) WHERE state = 'live';
