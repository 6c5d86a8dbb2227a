-- Failed subscription payments shown to the user (PostgreSQL).
--
-- payment_subscriptions: the invoice whose payment failed last and when Stripe tries it
-- again (its `next_payment_attempt`), next to the failure message already kept; and the
-- Stripe `created` times of that failure and of the last paid invoice, so that invoice
-- events redelivered out of order neither show (nor mail) a stale failure nor clear a
-- newer one.

ALTER TABLE payment_subscriptions ADD COLUMN failure_invoice_id TEXT;
ALTER TABLE payment_subscriptions ADD COLUMN failure_next_attempt BIGINT;
ALTER TABLE payment_subscriptions ADD COLUMN failure_event_at BIGINT;
ALTER TABLE payment_subscriptions ADD COLUMN last_paid_event_at BIGINT;
