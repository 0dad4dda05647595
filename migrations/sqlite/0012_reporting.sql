-- Reporting views (ADR 0018): the definition each `reporting_*` view was last
-- given, so a start or a promotion repoints only what changed.
CREATE TABLE reporting_views (
    name        TEXT PRIMARY KEY,
    definition  TEXT NOT NULL
);
