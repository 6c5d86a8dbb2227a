-- Failover and reconciliation: every offer a deployment tried (the first one included), in
-- order, with how it ended there; an allocation moves to the next-ranked equivalent offer
-- only through a new row here.

CREATE TABLE allocation_attempts (
    allocation_id  TEXT NOT NULL REFERENCES allocations(id),
    seq            BIGINT NOT NULL,
    offer_id       TEXT NOT NULL,
    provider       TEXT NOT NULL,
    price_micro    BIGINT NOT NULL,
    outcome        TEXT NOT NULL CHECK (outcome IN ('no_capacity', 'no_quota', 'transient')),
    error          TEXT NOT NULL,
    at             BIGINT NOT NULL,
    PRIMARY KEY (allocation_id, seq)
);
