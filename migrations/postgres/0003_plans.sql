-- Plans and plan-scoped parameters (PostgreSQL).
-- A user's plan (free / pro / enterprise) decides their role unless they are an admin; the
-- `role` column keeps saying whether the user is an admin ('admin') or not ('user').
ALTER TABLE users ADD COLUMN plan TEXT NOT NULL DEFAULT 'free' CHECK (plan IN ('free', 'pro', 'enterprise'));

-- Parameters gain the `plan` scope (resolution: user → plan → tenant → global → default).
ALTER TABLE params DROP CONSTRAINT params_scope_check;
ALTER TABLE params ADD CONSTRAINT params_scope_check CHECK (scope IN ('global', 'tenant', 'plan', 'user'));

-- The paid plans' limits out of the box (operators change them like any parameter; FREE
-- users follow the tenant/global values).
INSERT INTO params (key, scope, scope_id, effective_at, value, updated_by, updated_at) VALUES
    ('allocation.max_concurrent_per_user', 'plan', 'pro', 0, '5', 'migration', 0),
    ('allocation.max_concurrent_per_user', 'plan', 'enterprise', 0, '20', 'migration', 0),
    ('rate_limit.api_requests_per_minute', 'plan', 'pro', 0, '1200', 'migration', 0),
    ('rate_limit.api_requests_per_minute', 'plan', 'enterprise', 0, '6000', 'migration', 0);
