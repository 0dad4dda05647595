-- Rendered documents, stored once by content (SHA-256 of the bytes).
CREATE TABLE documents (
    sha256     TEXT    PRIMARY KEY,
    media_type TEXT    NOT NULL,
    size       BIGINT  NOT NULL,
    bytes      BYTEA   NOT NULL,
    created_at BIGINT  NOT NULL
);
