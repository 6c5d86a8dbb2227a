-- Identity and mail delivery (PostgreSQL). See the SQLite twin for the why.

ALTER TABLE users ADD COLUMN email_verified_at BIGINT;
ALTER TABLE users ADD COLUMN failed_logins BIGINT NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN locked_until BIGINT;
ALTER TABLE users ADD COLUMN idp TEXT NOT NULL DEFAULT 'local' CHECK (idp IN ('local', 'cognito'));
ALTER TABLE users ADD COLUMN external_sub TEXT;
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
UPDATE mail_outbox SET delivery = 'sent', transport = 'outbox', sent_at = created_at;

ALTER TABLE jobs DROP CONSTRAINT jobs_kind_check;
ALTER TABLE jobs ADD CONSTRAINT jobs_kind_check CHECK (kind IN ('provision', 'release', 'send_mail'));
ALTER TABLE jobs ALTER COLUMN allocation_id DROP NOT NULL;
ALTER TABLE jobs ADD COLUMN mail_id TEXT REFERENCES mail_outbox(id);
ALTER TABLE jobs ADD CONSTRAINT jobs_target_check CHECK ((kind = 'send_mail' AND mail_id IS NOT NULL AND allocation_id IS NULL)
    OR (kind <> 'send_mail' AND allocation_id IS NOT NULL AND mail_id IS NULL));
CREATE UNIQUE INDEX jobs_one_per_mail ON jobs (mail_id) WHERE mail_id IS NOT NULL;
