-- Refunds of part of a capture. `refunded_minor` is what has gone back so far; a payment is
-- `partially_refunded` until it reaches the amount, then `refunded`. Each partial refund is
-- idempotent by (payment, Idempotency-Key).
ALTER TABLE payments ADD COLUMN refunded_minor bigint NOT NULL DEFAULT 0;
UPDATE payments SET refunded_minor = amount_minor WHERE status = 'refunded';
ALTER TABLE payments ADD CONSTRAINT payments_refund_within_amount
    CHECK (refunded_minor BETWEEN 0 AND amount_minor);
ALTER TABLE payments DROP CONSTRAINT payments_status_check;
ALTER TABLE payments ADD CONSTRAINT payments_status_check CHECK (status IN (
    'authorized', 'declined', 'requires_action', 'captured', 'voided', 'partially_refunded',
    'refunded'));

CREATE TABLE refunds (
    id              uuid PRIMARY KEY,
    payment_id      uuid NOT NULL REFERENCES payments (id),
    -- NULL for a refund of what was left (one per payment: nothing is left after it).
    idempotency_key text,
    amount_minor    bigint NOT NULL CHECK (amount_minor > 0),
    created_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT refunds_idempotency_key_unique UNIQUE (payment_id, idempotency_key)
);
