-- API tokens: an inline projection of TokenIssued / TokenRevoked, written in the
-- same transaction as those events. Only the SHA-256 of a token is kept.
CREATE TABLE access_tokens (
    token_id     TEXT PRIMARY KEY,
    token_sha256 TEXT NOT NULL UNIQUE,
    subject      TEXT NOT NULL,
    role         TEXT NOT NULL,
    org          TEXT,
    provider     TEXT,
    issued_at    BIGINT NOT NULL,
    expires_at   BIGINT,
    revoked_at   BIGINT
);

CREATE TABLE access_token_groups (
    token_id TEXT NOT NULL REFERENCES access_tokens (token_id),
    group_id TEXT NOT NULL,
    PRIMARY KEY (token_id, group_id)
);

CREATE INDEX access_tokens_subject ON access_tokens (subject, role);
