-- Payments (SQLite): a gateway customer per user, the intents we created (top-ups and saved
-- cards), every webhook event received (the event id is the dedupe key), plan
-- subscriptions, and the generated webhook secret of a deployment without one configured.

CREATE TABLE payment_customers (
    user_id      TEXT NOT NULL REFERENCES users(id),
    gateway      TEXT NOT NULL CHECK (gateway IN ('stripe', 'sandbox')),
    customer_id  TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (user_id, gateway),
    UNIQUE (gateway, customer_id)
);

CREATE TABLE payment_intents (
    id                       TEXT PRIMARY KEY,
    user_id                  TEXT NOT NULL REFERENCES users(id),
    gateway                  TEXT NOT NULL CHECK (gateway IN ('stripe', 'sandbox')),
    kind                     TEXT NOT NULL CHECK (kind IN ('payment', 'setup')),
    amount_minor             BIGINT NOT NULL CHECK (amount_minor >= 0),
    currency                 TEXT NOT NULL,
    client_secret            TEXT NOT NULL,
    status                   TEXT NOT NULL CHECK (status IN ('open', 'failed', 'succeeded', 'canceled')),
    request_key              TEXT NOT NULL,
    payment_method           TEXT,
    last_failure_code        TEXT,
    last_failure_message     TEXT,
    last_failure_at          BIGINT,
    credited_transaction_id  TEXT,
    created_at               BIGINT NOT NULL,
    updated_at               BIGINT NOT NULL,
    UNIQUE (user_id, request_key)
);
CREATE INDEX payment_intents_user ON payment_intents (user_id, status, created_at);

CREATE TABLE payment_events (
    id           TEXT PRIMARY KEY,
    event_type   TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('processing', 'processed', 'ignored', 'rejected')),
    reason       TEXT,
    flagged      BIGINT NOT NULL DEFAULT 0 CHECK (flagged IN (0, 1)),
    intent_id    TEXT,
    user_id      TEXT,
    payload      TEXT NOT NULL,
    received_at  BIGINT NOT NULL
);
CREATE INDEX payment_events_received ON payment_events (received_at, id);
CREATE INDEX payment_events_flagged ON payment_events (flagged, received_at);

CREATE TABLE payment_subscriptions (
    id                  TEXT PRIMARY KEY,
    user_id             TEXT NOT NULL REFERENCES users(id),
    gateway             TEXT NOT NULL CHECK (gateway IN ('stripe', 'sandbox')),
    plan                TEXT NOT NULL,
    billing_interval    TEXT NOT NULL CHECK (billing_interval IN ('month', 'year')),
    price_id            TEXT NOT NULL,
    amount_minor        BIGINT NOT NULL,
    status              TEXT NOT NULL,
    current_period_end  BIGINT,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL
);
CREATE INDEX payment_subscriptions_user ON payment_subscriptions (user_id, status);

CREATE TABLE payment_settings (
    key         TEXT PRIMARY KEY,
    value       TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
