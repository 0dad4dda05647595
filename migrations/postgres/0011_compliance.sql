-- Service-level compliance (ADR 0016): inline projections of the `endpoint`
-- and `compliance` aggregates' events, written in their transaction, for the
-- timers to find what falls due without scanning the log: endpoints that send
-- heartbeats (and when silence turns each CRITICAL), and bound agreements
-- (their time zone, the months measured, and the endpoints that deliver them).
CREATE TABLE monitoring_heartbeats (
    endpoint    TEXT PRIMARY KEY,
    period_s    BIGINT NOT NULL,
    deadline    BIGINT
);
CREATE INDEX monitoring_heartbeats_by_deadline ON monitoring_heartbeats (deadline);

CREATE TABLE compliance_bindings (
    agreement_id     TEXT PRIMARY KEY,
    time_zone        TEXT NOT NULL,
    first_day        TEXT NOT NULL,
    last_day         TEXT NOT NULL,
    measured_through TEXT
);

CREATE TABLE compliance_endpoints (
    endpoint     TEXT NOT NULL,
    agreement_id TEXT NOT NULL,
    PRIMARY KEY (endpoint, agreement_id)
);
