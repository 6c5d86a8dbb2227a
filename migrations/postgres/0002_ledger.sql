-- The ledger (PostgreSQL): append-only double-entry bookkeeping in integer cents, per-allocation
-- metering cursors with exact sub-cent carry, and each user's billing state.
-- Balances are never stored: an account's balance is the sum of its entries.

CREATE TABLE ledger_accounts (
    id          TEXT PRIMARY KEY,
    user_id     TEXT REFERENCES users(id),
    kind        TEXT NOT NULL CHECK (kind IN ('cash', 'holds', 'deposits', 'revenue', 'adjustments', 'refunds')),
    currency    TEXT NOT NULL CHECK (currency IN ('USD')),
    created_at  BIGINT NOT NULL
);

INSERT INTO ledger_accounts (id, user_id, kind, currency, created_at) VALUES
    ('system:deposits', NULL, 'deposits', 'USD', 0),
    ('system:revenue', NULL, 'revenue', 'USD', 0),
    ('system:adjustments', NULL, 'adjustments', 'USD', 0),
    ('system:refunds', NULL, 'refunds', 'USD', 0);

CREATE TABLE ledger_transactions (
    id               TEXT PRIMARY KEY,
    idempotency_key  TEXT NOT NULL UNIQUE,
    fingerprint      TEXT NOT NULL,
    kind             TEXT NOT NULL CHECK (kind IN ('topup', 'hold', 'usage', 'release_hold', 'adjustment', 'refund')),
    user_id          TEXT NOT NULL REFERENCES users(id),
    allocation_id    TEXT,
    reference        TEXT,
    actor            TEXT NOT NULL,
    memo             TEXT,
    created_at       BIGINT NOT NULL
);
CREATE INDEX ledger_transactions_user ON ledger_transactions (user_id, kind, created_at);

CREATE TABLE ledger_entries (
    seq             BIGSERIAL PRIMARY KEY,
    transaction_id  TEXT NOT NULL REFERENCES ledger_transactions(id),
    account_id      TEXT NOT NULL REFERENCES ledger_accounts(id),
    allocation_id   TEXT,
    amount_minor    BIGINT NOT NULL CHECK (amount_minor <> 0),
    created_at      BIGINT NOT NULL
);
CREATE INDEX ledger_entries_account ON ledger_entries (account_id, allocation_id);
CREATE INDEX ledger_entries_transaction ON ledger_entries (transaction_id);

CREATE FUNCTION ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END;
$$;
CREATE TRIGGER ledger_entries_append_only BEFORE UPDATE OR DELETE ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER ledger_transactions_append_only BEFORE UPDATE OR DELETE ON ledger_transactions
    FOR EACH ROW EXECUTE FUNCTION ledger_append_only();

CREATE TABLE ledger_meters (
    allocation_id   TEXT PRIMARY KEY REFERENCES allocations(id),
    user_id         TEXT NOT NULL REFERENCES users(id),
    tenant_id       TEXT NOT NULL,
    price_micro     BIGINT NOT NULL,
    markup_percent  BIGINT NOT NULL,
    started_at      BIGINT,
    cursor_ms       BIGINT,
    remainder       BIGINT NOT NULL DEFAULT 0,
    open            BIGINT NOT NULL,
    closed_at       BIGINT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX ledger_meters_open ON ledger_meters (open, user_id);

CREATE TABLE ledger_billing_states (
    user_id     TEXT PRIMARY KEY REFERENCES users(id),
    state       TEXT NOT NULL CHECK (state IN ('healthy', 'low_balance', 'auto_release_pending', 'depleted')),
    updated_at  BIGINT NOT NULL
);

-- Metering reads an allocation's state changes from the event log.
CREATE INDEX events_subject ON events (subject_id, seq);

-- Deployments that ended before the ledger existed are never billed.
INSERT INTO ledger_meters (allocation_id, user_id, tenant_id, price_micro, markup_percent, open, closed_at, created_at, updated_at)
SELECT id, user_id, tenant_id, quoted_price_micro, 0, 0, updated_at, updated_at, updated_at
FROM allocations WHERE state IN ('released', 'failed');
