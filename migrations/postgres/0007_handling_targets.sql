-- Handling targets: an inline projection of HandlingTargetsDefined, every version
-- (orders are pinned to the version in force at submission; the queue shows
-- remaining business time with the pinned version's calendar).
CREATE TABLE handling_targets (
    target_key TEXT NOT NULL,
    version    INTEGER NOT NULL,
    definition TEXT NOT NULL,
    PRIMARY KEY (target_key, version)
);
