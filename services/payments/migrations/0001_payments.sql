-- Card data never reaches this schema: the number and CVC are exchanged for a token at the edge
-- of the service. Only the token, brand, last four digits and expiry are kept.
CREATE TABLE payment_methods (
    token      text PRIMARY KEY,
    brand      text NOT NULL,
    last4      char(4) NOT NULL CHECK (last4 ~ '^[0-9]{4}$'),
    exp_month  smallint NOT NULL CHECK (exp_month BETWEEN 1 AND 12),
    exp_year   smallint NOT NULL,
    -- What the sandbox does with this card (decided by the test card it was made from).
    outcome    text NOT NULL CHECK (outcome IN ('approve', 'decline', 'insufficient_funds', 'requires_3ds')),
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE payments (
    id              uuid PRIMARY KEY,
    idempotency_key text NOT NULL,
    request_hash    text NOT NULL,
    token           text NOT NULL REFERENCES payment_methods (token),
    amount_minor    bigint NOT NULL CHECK (amount_minor > 0),
    currency        char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    order_ref       text,
    status          text NOT NULL CHECK (status IN ('authorized', 'declined', 'requires_action', 'captured', 'voided', 'refunded')),
    decline_code    text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT payments_idempotency_key_unique UNIQUE (idempotency_key)
);

-- Every movement, for reconciliation.
CREATE TABLE payment_events (
    id           bigserial PRIMARY KEY,
    payment_id   uuid NOT NULL REFERENCES payments (id),
    kind         text NOT NULL,
    amount_minor bigint NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);

-- Webhooks to deliver (signed with HMAC), written in the same transaction as the change.
CREATE TABLE webhook_outbox (
    id           bigserial PRIMARY KEY,
    payload      jsonb NOT NULL,
    attempts     integer NOT NULL DEFAULT 0,
    delivered_at timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_outbox_pending ON webhook_outbox (id) WHERE delivered_at IS NULL;
