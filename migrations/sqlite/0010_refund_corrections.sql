-- Refunds the gateway reports failed or canceled after they were posted (SQLite).
--
-- payment_refunds: why a refund failed, when its status last moved, and the ledger
-- transaction that gave the credit back (set once; its ledger key is
-- `refund-reversal:{refund id}`, so the correction posts once whatever repeats it).

ALTER TABLE payment_refunds ADD COLUMN failure_reason TEXT;
ALTER TABLE payment_refunds ADD COLUMN reversal_transaction_id TEXT REFERENCES ledger_transactions(id);
ALTER TABLE payment_refunds ADD COLUMN updated_at BIGINT NOT NULL DEFAULT 0;
UPDATE payment_refunds SET updated_at = created_at;
