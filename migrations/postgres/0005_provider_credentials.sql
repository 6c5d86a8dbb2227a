-- Provider credentials (PostgreSQL): one sealed secret per (tenant, mode, provider). The secret is
-- AES-256-GCM ciphertext (base64) under the boot key named by key_id, its associated data
-- binding it to the row's tenant, mode and provider; only the masked hint is readable.

CREATE TABLE provider_credentials (
    tenant_id    TEXT NOT NULL REFERENCES tenants(id),
    mode         TEXT NOT NULL CHECK (mode IN ('sandbox', 'live')),
    provider_id  TEXT NOT NULL,
    ciphertext   TEXT NOT NULL,
    nonce        TEXT NOT NULL,
    key_id       TEXT NOT NULL,
    hint         TEXT NOT NULL,
    settings     TEXT NOT NULL,
    updated_at   BIGINT NOT NULL,
    updated_by   TEXT NOT NULL,
    UNIQUE (tenant_id, mode, provider_id)
);
