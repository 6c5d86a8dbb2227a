-- Subscriptions and gateway refunds (PostgreSQL).
--
-- payment_subscriptions is rebuilt (nothing wrote it before): a CHECK on Stripe's status
-- words, the customer, the `created` time of the last event applied (out-of-order events
-- older than it change nothing) and the last failed invoice shown to the user.
-- payment_refunds keeps each refund made at the gateway against a top-up intent.

DROP TABLE payment_subscriptions;

CREATE TABLE payment_subscriptions (
    id                  TEXT PRIMARY KEY,
    user_id             TEXT NOT NULL REFERENCES users(id),
    gateway             TEXT NOT NULL CHECK (gateway IN ('stripe', 'sandbox')),
    customer_id         TEXT NOT NULL,
    plan                TEXT NOT NULL CHECK (plan IN ('pro', 'enterprise')),
    billing_interval    TEXT NOT NULL CHECK (billing_interval IN ('month', 'year')),
    price_id            TEXT NOT NULL,
    amount_minor        BIGINT NOT NULL CHECK (amount_minor >= 0),
    status              TEXT NOT NULL CHECK (status IN ('incomplete', 'incomplete_expired', 'trialing', 'active',
                                                       'past_due', 'canceled', 'unpaid', 'paused')),
    current_period_end  BIGINT,
    last_event_at       BIGINT NOT NULL DEFAULT 0,
    failure_message     TEXT,
    failure_at          BIGINT,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL
);
CREATE INDEX payment_subscriptions_user ON payment_subscriptions (user_id, status);

CREATE TABLE payment_refunds (
    id            TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES users(id),
    gateway       TEXT NOT NULL CHECK (gateway IN ('stripe', 'sandbox')),
    intent_id     TEXT NOT NULL REFERENCES payment_intents(id),
    amount_minor  BIGINT NOT NULL CHECK (amount_minor > 0),
    request_key   TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('succeeded', 'pending', 'failed', 'canceled')),
    created_at    BIGINT NOT NULL,
    UNIQUE (intent_id, request_key)
);
CREATE INDEX payment_refunds_user ON payment_refunds (user_id, request_key);
