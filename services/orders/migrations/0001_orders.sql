CREATE TABLE cart_items (
    user_id    text NOT NULL,
    sku        text NOT NULL,
    quantity   integer NOT NULL CHECK (quantity BETWEEN 1 AND 100),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, sku)
);

-- One row per checkout; `status` is the saga's persisted state:
--   pending -> reserved -> authorized -> confirmed
--   any failure -> compensating -> failed
CREATE TABLE orders (
    id                  uuid PRIMARY KEY,
    user_id             text NOT NULL,
    idempotency_key     text NOT NULL,
    request_hash        text NOT NULL,
    status              text NOT NULL CHECK (status IN ('pending', 'reserved', 'authorized', 'confirmed', 'compensating', 'failed')),
    payment_token       text NOT NULL,
    total_minor         bigint NOT NULL CHECK (total_minor > 0),
    currency            char(3) NOT NULL,
    authorize_attempted boolean NOT NULL DEFAULT false,
    payment_id          uuid,
    payment_status      text,
    failure_code        text,
    failure_detail      text,
    response_status     smallint,
    response_body       jsonb,
    lease_until         timestamptz NOT NULL DEFAULT now(),
    attempts            integer NOT NULL DEFAULT 0,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT orders_user_idempotency_key_unique UNIQUE (user_id, idempotency_key)
);
CREATE INDEX orders_by_user ON orders (user_id, created_at DESC);
CREATE INDEX orders_unfinished ON orders (lease_until) WHERE status NOT IN ('confirmed', 'failed');

CREATE TABLE order_lines (
    order_id         uuid NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    sku              text NOT NULL,
    name             text NOT NULL,
    quantity         integer NOT NULL CHECK (quantity > 0),
    unit_price_minor bigint NOT NULL CHECK (unit_price_minor >= 0),
    PRIMARY KEY (order_id, sku)
);

CREATE TABLE payment_webhook_events (
    event_id    uuid PRIMARY KEY,
    payment_id  uuid NOT NULL,
    type        text NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
);
