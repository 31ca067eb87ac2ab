-- jitgate-approvals schema, v1. Portable SQL: the same text runs on SQLite and PostgreSQL.
-- Ids are text made by the service; times are Unix seconds (BIGINT).

-- Counters, bumped as the first statement of every state change: the row lock
-- (PostgreSQL) or the write lock (SQLite) serialises concurrent changes, so two
-- approvers clicking at once see each other's decision and exactly one token is issued.
CREATE TABLE counters (
    name  TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
INSERT INTO counters (name, value) VALUES ('events', 0);
INSERT INTO counters (name, value) VALUES ('status_idx', -1);
INSERT INTO counters (name, value) VALUES ('revocations', 0);

CREATE TABLE requests (
    id                 TEXT PRIMARY KEY,
    requester          TEXT NOT NULL,
    resource           TEXT NOT NULL,
    role               TEXT NOT NULL,
    actions            TEXT NOT NULL,          -- JSON array of strings
    duration_s         BIGINT NOT NULL,
    reason             TEXT NOT NULL,
    ticket             TEXT,
    state              TEXT NOT NULL,          -- pending | approved | denied | revoked | expired
    required_approvals BIGINT NOT NULL,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL,
    jti                TEXT UNIQUE,
    token              TEXT,
    issued_at          BIGINT,
    nbf                BIGINT,
    exp                BIGINT,
    status_idx         BIGINT UNIQUE,
    revoked_at         BIGINT,
    revoked_by         TEXT,
    revoke_reason      TEXT
);
CREATE INDEX requests_state ON requests (state, created_at);

-- One decision per approver and request: the primary key makes approvals distinct.
CREATE TABLE decisions (
    request_id TEXT NOT NULL REFERENCES requests (id),
    approver   TEXT NOT NULL,
    decision   TEXT NOT NULL,                  -- approve | deny
    comment    TEXT,
    at         BIGINT NOT NULL,
    seq        BIGINT NOT NULL,                -- the audit seq of the decision: their order
    PRIMARY KEY (request_id, approver)
);

CREATE TABLE audit (
    seq        BIGINT PRIMARY KEY,             -- from counters.events: gap-free, in commit order
    at         BIGINT NOT NULL,
    event      TEXT NOT NULL,                  -- requested | approved | denied | issued | revoked | expired
    actor      TEXT NOT NULL,
    request_id TEXT,
    jti        TEXT,
    detail     TEXT NOT NULL                   -- JSON object
);
