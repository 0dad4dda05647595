-- API tokens: an inline projection of TokenIssued / TokenRevoked, written in the
-- same transaction as those events so that a token minted by `pactum token create`
-- works at once in a running server. Only the SHA-256 of a token is kept.
CREATE TABLE access_tokens (
    token_id     TEXT PRIMARY KEY,
    token_sha256 TEXT NOT NULL UNIQUE,
    subject      TEXT NOT NULL,
    role         TEXT NOT NULL,
    org          TEXT,
    provider     TEXT,
    issued_at    INTEGER NOT NULL,
    expires_at   INTEGER,
    revoked_at   INTEGER
);

CREATE TABLE access_token_groups (
    token_id TEXT NOT NULL REFERENCES access_tokens (token_id),
    group_id TEXT NOT NULL,
    PRIMARY KEY (token_id, group_id)
);

CREATE INDEX access_tokens_subject ON access_tokens (subject, role);
