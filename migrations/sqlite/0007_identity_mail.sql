-- Identity and mail delivery (SQLite).
-- Users gain email verification, login-failure counters and lockout, and the identity
-- provider that owns them (local, or cognito with the pool's `sub`). Single-use expiring
-- tokens (email verification links, the MFA step of a login) share one table. TOTP MFA keeps
-- its secret and the last accepted time step (no replay); recovery codes are stored hashed.
-- Mail rows gain a delivery state; delivery is a durable job (`send_mail`), so the jobs table
-- is rebuilt with a nullable allocation and a mail reference.

ALTER TABLE users ADD COLUMN email_verified_at BIGINT;
ALTER TABLE users ADD COLUMN failed_logins BIGINT NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN locked_until BIGINT;
ALTER TABLE users ADD COLUMN idp TEXT NOT NULL DEFAULT 'local' CHECK (idp IN ('local', 'cognito'));
ALTER TABLE users ADD COLUMN external_sub TEXT;
-- Accounts that existed before verification are treated as verified.
UPDATE users SET email_verified_at = created_at;
CREATE UNIQUE INDEX users_external_sub ON users (idp, external_sub) WHERE external_sub IS NOT NULL;

CREATE TABLE auth_tokens (
    token_hash  TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users(id),
    purpose     TEXT NOT NULL CHECK (purpose IN ('email_verify', 'mfa_login')),
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT,
    created_at  BIGINT NOT NULL
);
CREATE INDEX auth_tokens_user ON auth_tokens (user_id, purpose);

CREATE TABLE user_totp (
    user_id     TEXT PRIMARY KEY REFERENCES users(id),
    secret_b32  TEXT NOT NULL,
    enabled_at  BIGINT,
    last_step   BIGINT,
    created_at  BIGINT NOT NULL
);

CREATE TABLE recovery_codes (
    code_hash   TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users(id),
    used_at     BIGINT,
    created_at  BIGINT NOT NULL
);
CREATE INDEX recovery_codes_user ON recovery_codes (user_id);

CREATE TABLE login_failures (
    id     TEXT PRIMARY KEY,
    email  TEXT NOT NULL,
    at     BIGINT NOT NULL
);
CREATE INDEX login_failures_email ON login_failures (email, at);

ALTER TABLE mail_outbox ADD COLUMN delivery TEXT NOT NULL DEFAULT 'queued' CHECK (delivery IN ('queued', 'sent', 'failed'));
ALTER TABLE mail_outbox ADD COLUMN transport TEXT;
ALTER TABLE mail_outbox ADD COLUMN provider_message_id TEXT;
ALTER TABLE mail_outbox ADD COLUMN sent_at BIGINT;
-- Mail queued before delivery existed stays in the outbox only.
UPDATE mail_outbox SET delivery = 'sent', transport = 'outbox', sent_at = created_at;

CREATE TABLE jobs_v2 (
    id             TEXT PRIMARY KEY,
    kind           TEXT NOT NULL CHECK (kind IN ('provision', 'release', 'send_mail')),
    allocation_id  TEXT REFERENCES allocations(id),
    mail_id        TEXT REFERENCES mail_outbox(id),
    state          TEXT NOT NULL CHECK (state IN ('pending', 'done', 'dead')),
    attempts       BIGINT NOT NULL DEFAULT 0,
    run_at         BIGINT NOT NULL,
    locked_by      TEXT,
    locked_until   BIGINT,
    last_error     TEXT,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    CHECK ((kind = 'send_mail' AND mail_id IS NOT NULL AND allocation_id IS NULL)
        OR (kind <> 'send_mail' AND allocation_id IS NOT NULL AND mail_id IS NULL))
);
INSERT INTO jobs_v2 (id, kind, allocation_id, mail_id, state, attempts, run_at, locked_by, locked_until, last_error, created_at, updated_at)
    SELECT id, kind, allocation_id, NULL, state, attempts, run_at, locked_by, locked_until, last_error, created_at, updated_at FROM jobs;
DROP TABLE jobs;
ALTER TABLE jobs_v2 RENAME TO jobs;
CREATE INDEX jobs_due ON jobs (state, run_at);
CREATE UNIQUE INDEX jobs_one_pending ON jobs (kind, allocation_id) WHERE state = 'pending';
CREATE UNIQUE INDEX jobs_one_per_mail ON jobs (mail_id) WHERE mail_id IS NOT NULL;
