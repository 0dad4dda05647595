-- Rendered documents, stored once by content (SHA-256 of the bytes). Written in
-- the same transaction as the event that records the hash. A cache of what the
-- log can re-render: `pactum import` leaves it empty and downloads fill it again.
CREATE TABLE documents (
    sha256     TEXT    PRIMARY KEY,
    media_type TEXT    NOT NULL,
    size       INTEGER NOT NULL,
    bytes      BLOB    NOT NULL,
    created_at INTEGER NOT NULL
);
