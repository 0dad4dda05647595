-- Sign-in with an OpenID provider: the attempts under way (one row from the
-- redirect to the provider until its answer comes back, on whichever node),
-- and the browser sessions (server-side; the cookie holds a random id whose
-- SHA-256 is the key; `identity` says who, as the provider or a pactum token
-- told; `csrf` is the token every form of the session carries). Neither is
-- history: they are not events.
CREATE TABLE signin_attempts (
    state       TEXT PRIMARY KEY,
    verifier    TEXT NOT NULL,
    nonce       TEXT NOT NULL,
    return_to   TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE sessions (
    id_sha256   TEXT PRIMARY KEY,
    subject     TEXT NOT NULL,
    identity    TEXT NOT NULL,
    id_token    TEXT,
    csrf        TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX sessions_by_expiry ON sessions (expires_at);
