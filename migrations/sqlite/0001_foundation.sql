-- Foundation schema (SQLite). Timestamps are UTC unix milliseconds; money is integer
-- micro-USD; booleans are 0/1 integers (portable through sqlx's Any driver).

CREATE TABLE tenants (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE users (
    id             TEXT PRIMARY KEY,
    tenant_id      TEXT NOT NULL REFERENCES tenants(id),
    email          TEXT NOT NULL UNIQUE,
    password_hash  TEXT NOT NULL,
    role           TEXT NOT NULL CHECK (role IN ('user', 'admin')),
    lock_version   BIGINT NOT NULL DEFAULT 0,
    created_at     BIGINT NOT NULL
);

CREATE TABLE refresh_tokens (
    id          TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users(id),
    family_id   TEXT NOT NULL,
    token_hash  TEXT NOT NULL UNIQUE,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT,
    revoked_at  BIGINT,
    created_at  BIGINT NOT NULL
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);

CREATE TABLE signing_keys (
    kid          TEXT PRIMARY KEY,
    private_pem  TEXT NOT NULL,
    created_at   BIGINT NOT NULL
);

CREATE TABLE params (
    key           TEXT NOT NULL,
    scope         TEXT NOT NULL CHECK (scope IN ('global', 'tenant', 'user')),
    scope_id      TEXT NOT NULL,
    effective_at  BIGINT NOT NULL,
    value         TEXT NOT NULL,
    updated_by    TEXT NOT NULL,
    updated_at    BIGINT NOT NULL,
    PRIMARY KEY (key, scope, scope_id, effective_at)
);

CREATE TABLE audit_log (
    id         TEXT PRIMARY KEY,
    tenant_id  TEXT,
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    subject    TEXT NOT NULL,
    before     TEXT,
    after      TEXT,
    reason     TEXT,
    at         BIGINT NOT NULL
);
CREATE INDEX audit_log_at ON audit_log (at);

CREATE TABLE allocations (
    id                     TEXT PRIMARY KEY,
    tenant_id              TEXT NOT NULL REFERENCES tenants(id),
    user_id                TEXT NOT NULL REFERENCES users(id),
    offer_id               TEXT NOT NULL,
    mode                   TEXT NOT NULL CHECK (mode IN ('sandbox', 'live')),
    provider               TEXT NOT NULL,
    gpu_model              TEXT NOT NULL,
    state                  TEXT NOT NULL CHECK (state IN ('requested', 'provisioning', 'ready', 'active', 'releasing', 'released', 'failed', 'release_failed')),
    live                   BIGINT NOT NULL,
    gpu_count              BIGINT NOT NULL,
    disk_gib               BIGINT NOT NULL,
    image                  TEXT NOT NULL,
    ssh_public_key         TEXT,
    quoted_price_micro     BIGINT NOT NULL,
    instance_id            TEXT,
    connection             TEXT,
    activation_token_hash  TEXT,
    activation_expires_at  BIGINT,
    failure_reason         TEXT,
    idempotency_key        TEXT,
    request_hash           TEXT NOT NULL,
    created_at             BIGINT NOT NULL,
    updated_at             BIGINT NOT NULL
);
CREATE UNIQUE INDEX allocations_idempotency ON allocations (user_id, idempotency_key);
CREATE UNIQUE INDEX allocations_one_live_per_instance ON allocations (provider, instance_id) WHERE live = 1 AND instance_id IS NOT NULL;
CREATE INDEX allocations_user_live ON allocations (user_id, live);
CREATE INDEX allocations_offer_live ON allocations (offer_id, live);
CREATE INDEX allocations_created ON allocations (created_at, id);

CREATE TABLE offer_locks (
    offer_id  TEXT PRIMARY KEY,
    version   BIGINT NOT NULL
);

CREATE TABLE jobs (
    id             TEXT PRIMARY KEY,
    kind           TEXT NOT NULL CHECK (kind IN ('provision', 'release')),
    allocation_id  TEXT NOT NULL REFERENCES allocations(id),
    state          TEXT NOT NULL CHECK (state IN ('pending', 'done', 'dead')),
    attempts       BIGINT NOT NULL DEFAULT 0,
    run_at         BIGINT NOT NULL,
    locked_by      TEXT,
    locked_until   BIGINT,
    last_error     TEXT,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);
CREATE INDEX jobs_due ON jobs (state, run_at);
CREATE UNIQUE INDEX jobs_one_pending ON jobs (kind, allocation_id) WHERE state = 'pending';

CREATE TABLE mail_outbox (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL,
    to_addr     TEXT NOT NULL,
    kind        TEXT NOT NULL,
    subject     TEXT NOT NULL,
    body_text   TEXT NOT NULL,
    body_html   TEXT NOT NULL,
    dedupe_key  TEXT NOT NULL UNIQUE,
    created_at  BIGINT NOT NULL
);
CREATE INDEX mail_outbox_created ON mail_outbox (created_at, id);

CREATE TABLE events (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    id            TEXT NOT NULL UNIQUE,
    tenant_id     TEXT NOT NULL,
    topic         TEXT NOT NULL,
    subject_id    TEXT NOT NULL,
    user_id       TEXT,
    payload       TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    published_at  BIGINT
);
CREATE INDEX events_unpublished ON events (published_at, seq);
