-- Every generation of every projection: its tables are named
-- proj_<name>_g<generation>. A new projection version (or `pactum replay`) builds a
-- new generation while the live one keeps serving; when the new one has caught up
-- it becomes live in one transaction and the old one is retired.
-- `checkpoint` is the global position of the last event applied to the
-- generation's tables, written in the same transaction as their rows.
CREATE TABLE projection_generations (
    name       TEXT    NOT NULL,
    generation INTEGER NOT NULL,
    version    INTEGER NOT NULL,
    state      TEXT    NOT NULL CHECK (state IN ('building', 'live', 'retired')),
    checkpoint INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    live_at    INTEGER,
    PRIMARY KEY (name, generation)
);

CREATE UNIQUE INDEX projection_generations_one_live
    ON projection_generations (name) WHERE state = 'live';
