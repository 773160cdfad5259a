CREATE TABLE stock (
    sku        text PRIMARY KEY,
    on_hand    integer NOT NULL,
    reserved   integer NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT stock_on_hand_not_negative CHECK (on_hand >= 0),
    CONSTRAINT stock_reserved_not_negative CHECK (reserved >= 0),
    -- The last line of defence against overselling: reserved stock never exceeds what is on hand.
    CONSTRAINT stock_reserved_within_on_hand CHECK (reserved <= on_hand)
);

CREATE TABLE reservations (
    id         uuid PRIMARY KEY,
    status     text NOT NULL CHECK (status IN ('held', 'committed', 'released')),
    expires_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX reservations_held_by_expiry ON reservations (expires_at) WHERE status = 'held';

CREATE TABLE reservation_lines (
    reservation_id uuid NOT NULL REFERENCES reservations (id) ON DELETE CASCADE,
    sku            text NOT NULL REFERENCES stock (sku),
    quantity       integer NOT NULL CHECK (quantity > 0),
    PRIMARY KEY (reservation_id, sku)
);
