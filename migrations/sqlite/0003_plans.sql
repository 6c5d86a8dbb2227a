-- Plans and plan-scoped parameters (SQLite).
-- A user's plan (free / pro / enterprise) decides their role unless they are an admin; the
-- `role` column keeps saying whether the user is an admin ('admin') or not ('user').
ALTER TABLE users ADD COLUMN plan TEXT NOT NULL DEFAULT 'free' CHECK (plan IN ('free', 'pro', 'enterprise'));

-- Parameters gain the `plan` scope (resolution: user → plan → tenant → global → default).
-- SQLite cannot alter a CHECK constraint; `params` has no foreign keys pointing at it, so it
-- is rebuilt.
CREATE TABLE params_v3 (
    key           TEXT NOT NULL,
    scope         TEXT NOT NULL CHECK (scope IN ('global', 'tenant', 'plan', 'user')),
    scope_id      TEXT NOT NULL,
    effective_at  BIGINT NOT NULL,
    value         TEXT NOT NULL,
    updated_by    TEXT NOT NULL,
    updated_at    BIGINT NOT NULL,
    PRIMARY KEY (key, scope, scope_id, effective_at)
);
INSERT INTO params_v3 (key, scope, scope_id, effective_at, value, updated_by, updated_at)
    SELECT key, scope, scope_id, effective_at, value, updated_by, updated_at FROM params;
DROP TABLE params;
ALTER TABLE params_v3 RENAME TO params;

-- The paid plans' limits out of the box (operators change them like any parameter; FREE
-- users follow the tenant/global values).
INSERT INTO params (key, scope, scope_id, effective_at, value, updated_by, updated_at) VALUES
    ('allocation.max_concurrent_per_user', 'plan', 'pro', 0, '5', 'migration', 0),
    ('allocation.max_concurrent_per_user', 'plan', 'enterprise', 0, '20', 'migration', 0),
    ('rate_limit.api_requests_per_minute', 'plan', 'pro', 0, '1200', 'migration', 0),
    ('rate_limit.api_requests_per_minute', 'plan', 'enterprise', 0, '6000', 'migration', 0);
