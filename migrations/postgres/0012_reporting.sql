-- Reporting views (ADR 0018): the schema dashboards read, the definition each
-- view was last given (so a start or a promotion repoints only what changed),
-- and the organisations an organisation-scoped reporting role may see.
CREATE SCHEMA IF NOT EXISTS reporting;

CREATE TABLE reporting_views (
    name        TEXT PRIMARY KEY,
    definition  TEXT NOT NULL
);

CREATE TABLE reporting_scopes (
    role  TEXT NOT NULL,
    org   TEXT NOT NULL,
    PRIMARY KEY (role, org)
);
