-- Memberships: who belongs to which order-type group (its shifters) and which
-- resource provider (its operators). An inline projection of the `membership`
-- aggregate's events, written in their transaction, read once per request to
-- authenticate: a removal holds from the next request on every node.
CREATE TABLE memberships (
    kind     TEXT NOT NULL,
    scope    TEXT NOT NULL,
    subject  TEXT NOT NULL,
    since    BIGINT NOT NULL,
    -- recorded from a token's grant: counts for tokens of that role only
    by_token BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (kind, scope, subject)
);
CREATE INDEX memberships_by_subject ON memberships (subject);

-- A token someone issued itself (not an admin) acts with at most the groups or
-- provider it names, a subset of its holder's memberships: it is capped.
ALTER TABLE access_tokens ADD COLUMN capped BIGINT NOT NULL DEFAULT 0;
