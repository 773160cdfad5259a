-- Storefront sessions. The cookie carries a random 32-byte id; only its SHA-256 is stored,
-- so a copy of this table does not let anyone take over a session.
CREATE TABLE sessions (
    id_hash           bytea PRIMARY KEY,
    user_id           text,
    email             text,
    access_token      text,
    refresh_token     text,
    access_expires_at timestamptz,
    -- The anonymous visitor's cart ([{"sku": ..., "quantity": ...}]); a signed-in visitor's cart
    -- lives in orders.
    cart              jsonb NOT NULL DEFAULT '[]',
    cart_count        integer NOT NULL DEFAULT 0 CHECK (cart_count >= 0),
    created_at        timestamptz NOT NULL DEFAULT now(),
    expires_at        timestamptz NOT NULL
);

CREATE INDEX sessions_expires_at ON sessions (expires_at);
